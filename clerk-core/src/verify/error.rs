//! Why a session token was rejected, in Clerk's vocabulary.

use crate::time::UnixTime;
use std::fmt;

/// The machine-readable reason of a rejection, with Clerk's SDK names (`token-expired`, …).
///
/// Adapters put [`Reason::as_str`] into JSON error bodies, so clients see the same strings
/// Clerk's own SDKs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// `token-expired`
    TokenExpired,
    /// `token-not-active-yet`
    TokenNotActiveYet,
    /// `token-iat-in-the-future`
    TokenIatInTheFuture,
    /// `token-invalid-signature`
    TokenInvalidSignature,
    /// `token-invalid-algorithm`
    TokenInvalidAlgorithm,
    /// `token-invalid-authorized-parties`
    TokenInvalidAuthorizedParties,
    /// `token-invalid-issuer`
    TokenInvalidIssuer,
    /// `token-invalid`
    TokenInvalid,
    /// `token-verification-failed`: Clerk's reason for a missing or mistyped `sub`, `exp`,
    /// `nbf` or `iat`.
    TokenVerificationFailed,
    /// `token-type-mismatch`
    TokenTypeMismatch,
    /// `jwk-kid-mismatch`
    JwkKidMismatch,
    /// `jwk-failed-to-load`: an infrastructure failure, not a bad token.
    JwkFailedToLoad,
    /// `session-token-pending`
    SessionTokenPending,
}

impl Reason {
    /// Clerk's name for the reason.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TokenExpired => "token-expired",
            Reason::TokenNotActiveYet => "token-not-active-yet",
            Reason::TokenIatInTheFuture => "token-iat-in-the-future",
            Reason::TokenInvalidSignature => "token-invalid-signature",
            Reason::TokenInvalidAlgorithm => "token-invalid-algorithm",
            Reason::TokenInvalidAuthorizedParties => "token-invalid-authorized-parties",
            Reason::TokenInvalidIssuer => "token-invalid-issuer",
            Reason::TokenInvalid => "token-invalid",
            Reason::TokenVerificationFailed => "token-verification-failed",
            Reason::TokenTypeMismatch => "token-type-mismatch",
            Reason::JwkKidMismatch => "jwk-kid-mismatch",
            Reason::JwkFailedToLoad => "jwk-failed-to-load",
            Reason::SessionTokenPending => "session-token-pending",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session token was rejected. Carries what was wrong, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than the size limit; rejected before any parsing or crypto.
    #[error("token of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Size of the presented token.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not three base64url segments with a JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is missing or not allowed (`none`, `HS256`, …).
    #[error("algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` the header named (empty when absent; truncated to 32 characters).
        alg: String,
    },
    /// No key is published under the token's `kid` (after one refresh).
    #[error("no signing key with kid {kid:?}")]
    UnknownKid {
        /// The token's `kid` (truncated to 64 characters).
        kid: String,
    },
    /// The signature does not verify.
    #[error("signature does not verify")]
    InvalidSignature,
    /// Not a session token: `typ`, `cat` or an `mch_` subject say it is another kind of JWT.
    #[error("not a session token: {0}")]
    TypeMismatch(&'static str),
    /// The header's `typ` is neither `JWT` nor a token type this verifier knows.
    #[error("header typ is not JWT")]
    InvalidType,
    /// A required claim is missing or has the wrong type.
    #[error("claim `{0}` is missing or invalid")]
    InvalidClaim(&'static str),
    /// `exp` (plus skew) is not after `now`.
    #[error("token expired at {expired_at} (now {now})")]
    Expired {
        /// The `exp` claim.
        expired_at: UnixTime,
        /// The verifier's clock.
        now: UnixTime,
    },
    /// `nbf` (minus skew) is after `now`.
    #[error("token not active until {not_before} (now {now})")]
    NotActiveYet {
        /// The `nbf` claim.
        not_before: UnixTime,
        /// The verifier's clock.
        now: UnixTime,
    },
    /// `iat` (minus skew) is after `now`.
    #[error("token issued in the future at {issued_at} (now {now})")]
    IssuedInTheFuture {
        /// The `iat` claim.
        issued_at: UnixTime,
        /// The verifier's clock.
        now: UnixTime,
    },
    /// `azp` is not one of the authorized parties (or missing, in strict mode).
    #[error("authorized party {azp:?} is not allowed")]
    UnauthorizedParty {
        /// The token's `azp`, if any.
        azp: Option<String>,
    },
    /// `iss` is not the instance's issuer.
    #[error("issuer {iss:?} is not the expected issuer")]
    InvalidIssuer {
        /// The token's `iss`, if any.
        iss: Option<String>,
    },
    /// `aud` does not contain a configured audience.
    #[error("audience does not match")]
    InvalidAudience,
    /// `sts` is `pending` and the application did not opt in to pending sessions.
    #[error("the session is pending (sts: pending)")]
    SessionPending,
}

impl TokenError {
    /// Clerk's reason name for this rejection.
    #[must_use]
    pub fn reason(&self) -> Reason {
        match self {
            TokenError::InvalidClaim("sub" | "exp" | "nbf" | "iat") => {
                Reason::TokenVerificationFailed
            }
            TokenError::TooLarge { .. }
            | TokenError::Malformed(_)
            | TokenError::InvalidClaim(_)
            | TokenError::InvalidType
            | TokenError::InvalidAudience => Reason::TokenInvalid,
            TokenError::AlgorithmNotAllowed { .. } => Reason::TokenInvalidAlgorithm,
            TokenError::UnknownKid { .. } => Reason::JwkKidMismatch,
            TokenError::InvalidSignature => Reason::TokenInvalidSignature,
            TokenError::TypeMismatch(_) => Reason::TokenTypeMismatch,
            TokenError::Expired { .. } => Reason::TokenExpired,
            TokenError::NotActiveYet { .. } => Reason::TokenNotActiveYet,
            TokenError::IssuedInTheFuture { .. } => Reason::TokenIatInTheFuture,
            TokenError::UnauthorizedParty { .. } => Reason::TokenInvalidAuthorizedParties,
            TokenError::InvalidIssuer { .. } => Reason::TokenInvalidIssuer,
            TokenError::SessionPending => Reason::SessionTokenPending,
        }
    }
}

pub(crate) fn truncated(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
