//! Networkless verification of the JWT forms, with the rules `@clerk/backend` applies
//! (`verifyMachineAuthToken` → `verifyM2MJwt` / `verifyOAuthJwt` → `verifyJwt`):
//!
//! - a JWT-shaped token that does not decode is `token-invalid`;
//! - `sub` starting with `mch_` makes it an M2M JWT, else header `typ` `at+jwt` /
//!   `application/at+jwt` an OAuth JWT, else `token-verification-failed` ("Invalid JWT
//!   type");
//! - an M2M JWT whose `cat` is present and not `cl_B7d4PD333AAA` is `token-invalid`;
//! - then `typ` (M2M: absent or `JWT`; OAuth: one of the OAuth types), `alg` (RS256, RS384,
//!   RS512 by name, RS256 in effect), the signature, `sub` a string, `exp` a number not past (5 s skew), `nbf` and
//!   `iat` when present numbers not in the future: any failure is
//!   `token-verification-failed`. No issuer or authorized-party check: Clerk's SDK makes none
//!   for machine JWTs.
//!
//! The result is what `M2MToken.fromJwtPayload` / `IdPOAuthAccessToken.fromJwtPayload` build:
//! id from `jti`, scopes from `scopes` (space-separated, M2M; else `aud`) or `scp`/`scope`
//! (OAuth), an M2M JWT's claims without the reserved `iss sub exp nbf iat jti`.

use std::time::Duration;

use serde_json::{Map, Value};

use super::kind::{decode, is_jwt_format, Decoded, OAUTH_ACCESS_TOKEN_TYPES};
use super::{MachineAuth, MachineError, TokenType};
use crate::keys::{Algorithm, VerifyingKey};
use crate::time::UnixTime;
use crate::verify::{ParsedToken, CATEGORY_M2M_TOKEN};

/// The algorithms a machine JWT verifies with: RS256. Clerk's SDK names RS384 and RS512 too,
/// but imports the instance's key (PEM or JWK) as an RS256 key, so their signatures never
/// verify there (the oracle corpus records it); neither do they here.
pub const MACHINE_JWT_ALGORITHMS: [Algorithm; 1] = [Algorithm::Rs256];

/// Which JWT form a machine JWT is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtForm {
    /// `sub` starts with `mch_`.
    M2m,
    /// `typ` `at+jwt` (and no `mch_` subject).
    OAuth,
}

impl JwtForm {
    /// The token type of the form.
    #[must_use]
    pub fn token_type(self) -> TokenType {
        match self {
            JwtForm::M2m => TokenType::M2mToken,
            JwtForm::OAuth => TokenType::OAuthToken,
        }
    }
}

/// A machine JWT decoded and routed, ready for its key.
#[derive(Debug)]
pub struct MachineJwt<'a> {
    form: JwtForm,
    decoded: Decoded,
    parsed: Result<ParsedToken<'a>, MachineError>,
}

impl<'a> MachineJwt<'a> {
    /// Decodes and routes `token`, as `verifyMachineAuthToken` does before any key: `None`
    /// when `token` is not JWT-shaped (an opaque credential).
    ///
    /// # Errors
    /// `token-invalid` (undecodable, foreign M2M `cat`) or `token-verification-failed`
    /// (neither an `mch_` subject nor an OAuth `typ`).
    pub fn route(token: &'a str) -> Result<Option<Self>, MachineError> {
        if !is_jwt_format(token) {
            return Ok(None);
        }
        let decoded = decode(token).ok_or(MachineError::InvalidJwt(
            "the header, payload, or signature could not be decoded",
        ))?;
        let form = if decoded.is_m2m() {
            match decoded.header.get("cat") {
                None => {}
                Some(Value::String(cat)) if cat == CATEGORY_M2M_TOKEN => {}
                Some(_) => return Err(MachineError::InvalidJwt("invalid M2M JWT category")),
            }
            JwtForm::M2m
        } else if decoded.is_oauth() {
            JwtForm::OAuth
        } else {
            return Err(MachineError::VerificationFailed(
                "invalid JWT type: neither an OAuth typ nor an mch_ subject",
            ));
        };
        let parsed = ParsedToken::parse(token, &MACHINE_JWT_ALGORITHMS).map_err(|_| {
            MachineError::VerificationFailed("malformed JWT or algorithm not allowed")
        });
        Ok(Some(MachineJwt {
            form,
            decoded,
            parsed,
        }))
    }

    /// The form.
    #[must_use]
    pub fn form(&self) -> JwtForm {
        self.form
    }

    /// The header's `kid`, to look the key up.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.decoded.header.get("kid").and_then(Value::as_str)
    }

    /// Checks type, algorithm, signature and times with `key`, then builds the result.
    ///
    /// # Errors
    /// `token-verification-failed` for any defect.
    pub fn verify(
        &self,
        key: &VerifyingKey,
        skew: Duration,
        now: UnixTime,
    ) -> Result<MachineAuth, MachineError> {
        let typ = self.decoded.typ();
        let typ_ok = match self.form {
            JwtForm::M2m => typ.is_none() || typ.and_then(Value::as_str) == Some("JWT"),
            JwtForm::OAuth => typ
                .and_then(Value::as_str)
                .is_some_and(|t| OAUTH_ACCESS_TOKEN_TYPES.contains(&t)),
        };
        if !typ_ok {
            return Err(MachineError::VerificationFailed("invalid JWT typ"));
        }
        let parsed = self.parsed.as_ref().map_err(Clone::clone)?;
        parsed
            .check_signature(key)
            .map_err(|_| MachineError::VerificationFailed("JWT signature is invalid"))?;
        let payload = &self.decoded.payload;
        let Some(sub) = payload.get("sub").and_then(Value::as_str) else {
            return Err(MachineError::VerificationFailed("sub is not a string"));
        };
        let exp = check_times(payload, skew, now)?;
        let id = payload
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut auth = MachineAuth::new(self.form.token_type(), id, sub).with_expiry(exp);
        match self.form {
            JwtForm::M2m => {
                auth.scopes = match (payload.get("scopes"), payload.get("aud")) {
                    (Some(Value::String(s)), _) => split_spaces(s),
                    (Some(Value::Null) | None, aud) => strings(aud),
                    (Some(_), _) => {
                        return Err(MachineError::VerificationFailed("scopes is not a string"))
                    }
                };
                auth.claims = custom_claims(payload);
            }
            JwtForm::OAuth => {
                auth.client_id = Some(
                    payload
                        .get("client_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                );
                auth.scopes = match (payload.get("scp"), payload.get("scope")) {
                    (Some(scp), _) if !scp.is_null() => strings(Some(scp)),
                    (_, Some(Value::String(s))) => split_spaces(s),
                    _ => Vec::new(),
                };
            }
        }
        Ok(auth)
    }
}

/// JavaScript's `s.split(" ")`: empty pieces kept.
fn split_spaces(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_owned).collect()
}

/// A string or an array's strings.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

const RESERVED: [&str; 6] = ["iss", "sub", "exp", "nbf", "iat", "jti"];

fn custom_claims(payload: &Value) -> Option<Value> {
    let object = payload.as_object()?;
    let claims: Map<String, Value> = object
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!claims.is_empty()).then_some(Value::Object(claims))
}

/// Seconds as JavaScript's `Date#setUTCSeconds` takes them: the integer part, in ms.
fn claim_millis(value: &Value) -> Option<i64> {
    let secs = value.as_f64()?;
    #[allow(clippy::cast_possible_truncation)]
    Some((secs.trunc() * 1000.0) as i64)
}

/// `exp` required (expired when `exp <= now - skew`); `nbf`, `iat` optional (too early when
/// `> now + skew`). Returns `exp`.
fn check_times(payload: &Value, skew: Duration, now: UnixTime) -> Result<UnixTime, MachineError> {
    let skew_ms = i64::try_from(skew.as_millis()).unwrap_or(i64::MAX);
    let now_ms = now.as_millis();
    let exp = payload
        .get("exp")
        .and_then(claim_millis)
        .ok_or(MachineError::VerificationFailed("exp is not a number"))?;
    if exp <= now_ms.saturating_sub(skew_ms) {
        return Err(MachineError::VerificationFailed("JWT is expired"));
    }
    for (claim, defect) in [
        ("nbf", "JWT is not active yet"),
        ("iat", "JWT is issued in the future"),
    ] {
        match payload.get(claim) {
            None => {}
            Some(value) => {
                let at = claim_millis(value).ok_or(MachineError::VerificationFailed(
                    "nbf or iat is not a number",
                ))?;
                if at > now_ms.saturating_add(skew_ms) {
                    return Err(MachineError::VerificationFailed(defect));
                }
            }
        }
    }
    Ok(UnixTime::from_millis(exp))
}

/// Verifies a machine JWT with `key` (networkless; `kid` is not consulted), as Clerk's SDK
/// does with `jwtKey`.
///
/// # Errors
/// [`MachineError`] with Clerk's reason; [`MachineError::TypeMismatch`] when `token` is not
/// JWT-shaped.
pub fn verify_machine_jwt(
    token: &str,
    key: &VerifyingKey,
    skew: Duration,
    now: UnixTime,
) -> Result<MachineAuth, MachineError> {
    match MachineJwt::route(token)? {
        Some(jwt) => jwt.verify(key, skew, now),
        None => Err(MachineError::TypeMismatch {
            found: super::token_type_of(token),
        }),
    }
}
