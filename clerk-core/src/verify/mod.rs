//! The pure session-token verifier ([design §3](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#3-token-verification)).
//!
//! Order: size limit → structure → `alg` allow-list → key by `kid` → **signature** → token
//! type → claims in Clerk's order (`sub`, `aud`, `azp`, `iss`, `exp`, `nbf`, `iat`), then
//! `sts`. The signature comes
//! before any claim, so a forged token reports its signature, never its claims.
//!
//! ```
//! use clerk_core::verify::{VerifyOptions, ParsedToken};
//! use clerk_core::keys::Algorithm;
//!
//! let options = VerifyOptions::new("https://clerk.example.com", ["https://example.com"]);
//! // A token that is not even a JWT is rejected before any key is needed:
//! let err = ParsedToken::parse("not-a-jwt", &options.algorithms).unwrap_err();
//! assert_eq!(err.reason().as_str(), "token-invalid");
//! ```

mod error;
mod token;

pub use error::{Reason, TokenError};
pub use token::{
    Header, ParsedToken, TokenKind, CATEGORY_IGNORE, CATEGORY_JWT_TEMPLATE, CATEGORY_M2M_TOKEN,
    CATEGORY_SESSION_TOKEN, MAX_TOKEN_BYTES,
};

use crate::auth::Auth;
use crate::keys::{Algorithm, VerifyingKey};
use crate::time::UnixTime;
use serde_json::Value;
use std::time::Duration;

/// Default tolerance for `exp`, `nbf` and `iat` against the verifier's clock.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(5);

/// How the `iss` claim is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerCheck {
    /// `iss` must equal this value exactly (normally `https://<frontend API host>`).
    Exact(String),
    /// `iss` is not checked. Only reachable through an `insecure_` builder method.
    Skip,
}

/// How the `azp` claim is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartyCheck {
    /// `azp` must be one of these origins. A missing `azp` passes only if `allow_missing` is set,
    /// because Clerk omits `azp` on some cookie-borne tokens.
    OneOf {
        /// The authorized parties (origins such as `https://app.example.com`).
        parties: Vec<String>,
        /// Accept tokens without `azp`.
        allow_missing: bool,
    },
    /// Any `azp`. Only reachable through an `insecure_` builder method.
    Any,
}

/// Everything the pure verifier checks besides the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Allowed signing algorithms (default: RS256 only).
    pub algorithms: Vec<Algorithm>,
    /// Issuer check.
    pub issuer: IssuerCheck,
    /// Authorized-party check.
    pub parties: PartyCheck,
    /// When set, `aud` must contain one of these.
    pub audience: Option<Vec<String>>,
    /// Tolerance for time claims (default 5 s).
    pub clock_skew: Duration,
    /// Treat `sts: pending` sessions as signed in (default: signed out).
    pub accept_pending: bool,
}

impl VerifyOptions {
    /// Strict options: RS256, this issuer, these authorized parties, 5 s skew.
    pub fn new<I, S>(issuer: impl Into<String>, parties: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        VerifyOptions {
            algorithms: vec![Algorithm::Rs256],
            issuer: IssuerCheck::Exact(issuer.into()),
            parties: PartyCheck::OneOf {
                parties: parties
                    .into_iter()
                    .map(|p| normalize_origin(&p.into()))
                    .collect(),
                allow_missing: false,
            },
            audience: None,
            clock_skew: DEFAULT_CLOCK_SKEW,
            accept_pending: false,
        }
    }
}

/// Origins compare without a trailing slash.
pub(crate) fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_owned()
}

/// Parses, checks the signature with `key`, then the claims. For callers that hold the key
/// already (networkless PEM mode, tests); the [`Authenticator`](crate::Authenticator) picks the
/// key by `kid` between [`ParsedToken::parse`] and [`verify_parsed`].
pub fn verify(
    token: &str,
    key: &VerifyingKey,
    options: &VerifyOptions,
    now: UnixTime,
) -> Result<Auth, TokenError> {
    let parsed = ParsedToken::parse(token, &options.algorithms)?;
    verify_parsed(&parsed, key, options, now)
}

/// Signature → token type → claims, for a token whose structure already passed.
pub fn verify_parsed(
    parsed: &ParsedToken<'_>,
    key: &VerifyingKey,
    options: &VerifyOptions,
    now: UnixTime,
) -> Result<Auth, TokenError> {
    parsed.check_signature(key)?;
    check_header_type(parsed.header())?;
    let auth = crate::claims::normalize(parsed.decode_payload()?)?;
    if auth.user_id.starts_with("mch_") {
        return Err(TokenError::TypeMismatch("machine (mch_) subject"));
    }
    // Clerk's order (verifyJwt): sub, aud, azp, iss, exp, nbf, iat.
    check_audience(&auth, options.audience.as_deref())?;
    check_party(&auth, &options.parties)?;
    check_issuer(&auth, &options.issuer)?;
    check_times(&auth, options.clock_skew, now)?;
    if auth.is_pending() && !options.accept_pending {
        return Err(TokenError::SessionPending);
    }
    Ok(auth)
}

fn check_header_type(header: &Header) -> Result<(), TokenError> {
    match header.kind {
        TokenKind::Session => Ok(()),
        TokenKind::OtherType => Err(TokenError::TypeMismatch("OAuth access token (typ at+jwt)")),
        TokenKind::InvalidType => Err(TokenError::InvalidType),
        TokenKind::JwtTemplate => Err(TokenError::TypeMismatch("JWT template token")),
        TokenKind::MachineToMachine => Err(TokenError::TypeMismatch("machine-to-machine token")),
        TokenKind::UnknownCategory => Err(TokenError::TypeMismatch("unknown token category")),
    }
}

/// `exp` passes while `now < exp + skew`; `nbf`/`iat` pass while `now >= claim - skew`.
pub(crate) fn check_times(auth: &Auth, skew: Duration, now: UnixTime) -> Result<(), TokenError> {
    if now >= auth.expires_at.saturating_add(skew) {
        return Err(TokenError::Expired {
            expired_at: auth.expires_at,
            now,
        });
    }
    if let Some(nbf) = auth.not_before {
        if nbf.saturating_sub(skew) > now {
            return Err(TokenError::NotActiveYet {
                not_before: nbf,
                now,
            });
        }
    }
    if let Some(iat) = auth.issued_at {
        if iat.saturating_sub(skew) > now {
            return Err(TokenError::IssuedInTheFuture {
                issued_at: iat,
                now,
            });
        }
    }
    Ok(())
}

fn check_issuer(auth: &Auth, check: &IssuerCheck) -> Result<(), TokenError> {
    match check {
        IssuerCheck::Skip => Ok(()),
        IssuerCheck::Exact(expected) if auth.issuer.as_deref() == Some(expected.as_str()) => Ok(()),
        IssuerCheck::Exact(_) => Err(TokenError::InvalidIssuer {
            iss: auth.issuer.as_deref().map(|i| error::truncated(i, 128)),
        }),
    }
}

fn check_party(auth: &Auth, check: &PartyCheck) -> Result<(), TokenError> {
    let PartyCheck::OneOf {
        parties,
        allow_missing,
    } = check
    else {
        return Ok(());
    };
    match auth.authorized_party.as_deref() {
        None if *allow_missing => Ok(()),
        // Exact, as Clerk compares it: `https://app.example.com/` is another origin.
        Some(azp) if parties.iter().any(|p| p == azp) => Ok(()),
        azp => Err(TokenError::UnauthorizedParty {
            azp: azp.map(|a| error::truncated(a, 128)),
        }),
    }
}

fn check_audience(auth: &Auth, wanted: Option<&[String]>) -> Result<(), TokenError> {
    let Some(wanted) = wanted else {
        return Ok(());
    };
    let matches = |aud: &str| wanted.iter().any(|w| w == aud);
    let ok = match &auth.audience {
        Some(Value::String(aud)) => matches(aud),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(TokenError::InvalidAudience)
    }
}

/// A `kid` as it may appear in an error: bounded, since it comes from an unverified header.
pub(crate) fn truncated_kid(kid: &str) -> String {
    error::truncated(kid, 64)
}
