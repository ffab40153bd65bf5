//! Clerk's JSON Web Key Set: types, the pure request builder and the pure response parser.
//!
//! `GET {CLERK_API_URL}/v1/jwks` with `Authorization: Bearer <secret key>`. The async caller
//! lives in the [`Authenticator`](crate::Authenticator); everything here is pure.

use crate::http::ClerkErrorBody;
use crate::keys::VerifyingKey;
use crate::secret::SecretKey;
use std::collections::HashMap;
use std::sync::Arc;

/// One JSON Web Key as Clerk publishes it. Unknown members are ignored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Jwk {
    /// Key type; Clerk publishes `RSA`.
    pub kty: String,
    /// Key id, matched against the token header's `kid`.
    #[serde(default)]
    pub kid: Option<String>,
    /// Intended algorithm, e.g. `RS256`.
    #[serde(default)]
    pub alg: Option<String>,
    /// Intended use; `sig` for signing keys.
    #[serde(default, rename = "use")]
    pub key_use: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA public exponent, base64url.
    #[serde(default)]
    pub e: Option<String>,
}

/// A JWKS document: `{"keys": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// The usable keys of a JWKS, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
}

impl KeySet {
    /// Keeps every RSA signing key that has a `kid`; unusable entries are skipped (and counted
    /// in the second element) so one odd key never takes the others down.
    #[must_use]
    pub fn from_jwks(jwks: &Jwks) -> (KeySet, usize) {
        let mut by_kid = HashMap::new();
        let mut skipped = 0;
        for jwk in &jwks.keys {
            match (jwk.kid.as_ref(), VerifyingKey::from_jwk(jwk)) {
                (Some(kid), Ok(key)) => {
                    by_kid.insert(kid.clone(), Arc::new(key));
                }
                _ => skipped += 1,
            }
        }
        (KeySet { by_kid }, skipped)
    }

    /// The key published under `kid`.
    #[must_use]
    pub fn get(&self, kid: &str) -> Option<&Arc<VerifyingKey>> {
        self.by_kid.get(kid)
    }

    /// Whether a key with this `kid` is present.
    #[must_use]
    pub fn contains(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// Number of usable keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_kid.len()
    }

    /// Whether there are no usable keys.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// The key ids.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.by_kid.keys().map(String::as_str)
    }
}

/// Why the JWKS could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Clerk refused the secret key (401/403).
    #[error("Clerk rejected the secret key at GET /v1/jwks (HTTP {status}){}; check CLERK_SECRET_KEY", clerk.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// Clerk's error body, when it sent one.
        clerk: Option<ClerkErrorBody>,
    },
    /// Any other non-2xx status.
    #[error("GET /v1/jwks answered HTTP {status}{}", clerk.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
    Status {
        /// HTTP status.
        status: u16,
        /// Clerk's error body, when it sent one.
        clerk: Option<ClerkErrorBody>,
    },
    /// The body is not a JWKS document.
    #[error("GET /v1/jwks returned a body that is not a JWKS: {0}")]
    Malformed(String),
    /// The document holds no usable RSA signing key.
    #[error("the JWKS holds no usable RSA signing key ({skipped} skipped)")]
    NoUsableKeys {
        /// Entries that were present but unusable.
        skipped: usize,
    },
    /// The request never got a response.
    #[error("GET /v1/jwks failed: {0}")]
    Transport(#[from] crate::http::HttpError),
    /// The request could not be built (an invalid `CLERK_API_URL`).
    #[error("cannot build the JWKS request: {0}")]
    Request(String),
    /// The fetch panicked (in the [`HttpClient`](crate::HttpClient), most likely). The panic
    /// is contained: its waiters get this error and the next refresh starts afresh.
    #[error("the JWKS fetch panicked (a bug in the HttpClient?)")]
    FetchPanicked,
    /// Networkless mode has no key source other than `CLERK_JWT_KEY`.
    #[error("no JWKS source: neither CLERK_SECRET_KEY nor CLERK_JWT_KEY is configured")]
    NoSource,
}

/// Builds `GET {api_url}/v1/jwks` with the Bearer secret key.
pub fn jwks_request(
    api_url: &str,
    secret_key: &SecretKey,
) -> Result<http::Request<Vec<u8>>, JwksError> {
    let uri = format!("{}/v1/jwks", api_url.trim_end_matches('/'));
    http::Request::get(uri)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", secret_key.expose_secret()),
        )
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("clerk-rs/", env!("CARGO_PKG_VERSION")),
        )
        .body(Vec::new())
        .map_err(|e| JwksError::Request(e.to_string()))
}

/// Parses the JWKS response into the usable keys.
pub fn parse_jwks_response(response: &http::Response<Vec<u8>>) -> Result<KeySet, JwksError> {
    let status = response.status();
    if !status.is_success() {
        let clerk = ClerkErrorBody::parse(response.body());
        let status = status.as_u16();
        return Err(if status == 401 || status == 403 {
            JwksError::Unauthorized { status, clerk }
        } else {
            JwksError::Status { status, clerk }
        });
    }
    let jwks: Jwks =
        serde_json::from_slice(response.body()).map_err(|e| JwksError::Malformed(e.to_string()))?;
    let (keys, skipped) = KeySet::from_jwks(&jwks);
    if keys.is_empty() {
        return Err(JwksError::NoUsableKeys { skipped });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_jwks() -> serde_json::Value {
        serde_json::json!({"keys": [{
            "use": "sig", "kty": "RSA", "kid": "ins_2GIoQhbUpy0hX7B2cVkuTMinXoD", "alg": "RS256",
            "n": "qYy3MY8fOneEyzNDu9lp6iGXKkNUF-u_dUnrlkadZYyB35efzKFJEr9fftmWv5PUj1uRHTQ3bh6X1cceOYsIjy008dHWZJsKhGOxgdTjeK91rjaklxt7tyFXEiKHIOr1LSgKzopClOfCIjxK_oPUOf38pVh7WnekcSBQmU5fqA-EzKMi6k9VwvbzqKlZM4XQsiFyn28d9VubJWjTU8nNot0n1NE-9k6TxM8nglM4RwkBH4Ni4B0LhKKOOV-AG8tBNiZVil415dpBldmJ_j0wk7Ad4VFi9en3Z17oCKr-K-zuT7vKMKSb1548dk0vnmi0vj2QGXSo-61wM5yQWpk6sQ",
            "e": "AQAB"
        }, {"kty": "EC", "kid": "ec1", "crv": "P-256"}]})
    }

    fn response(status: u16, body: &[u8]) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .body(body.to_vec())
            .unwrap()
    }

    #[test]
    fn request_carries_the_bearer_secret_and_no_double_slash() {
        let req = jwks_request("https://api.clerk.com/", &SecretKey::new("sk_test_x")).unwrap();
        assert_eq!(req.uri(), "https://api.clerk.com/v1/jwks");
        assert_eq!(req.headers()["authorization"], "Bearer sk_test_x");
    }

    #[test]
    fn parser_keeps_rsa_keys_and_skips_the_rest() {
        let body = serde_json::to_vec(&fixture_jwks()).unwrap();
        let keys = parse_jwks_response(&response(200, &body)).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.contains("ins_2GIoQhbUpy0hX7B2cVkuTMinXoD"));
    }

    #[test]
    fn an_empty_modulus_skips_that_key_and_keeps_the_others() {
        let mut jwks = fixture_jwks();
        let keys = jwks["keys"].as_array_mut().unwrap();
        keys.push(serde_json::json!({"kty": "RSA", "kid": "empty_aa", "n": "AA", "e": "AQAB"}));
        keys.push(serde_json::json!({"kty": "RSA", "kid": "empty", "n": "", "e": "AQAB"}));
        let body = serde_json::to_vec(&jwks).unwrap();
        let keys = parse_jwks_response(&response(200, &body)).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.contains("ins_2GIoQhbUpy0hX7B2cVkuTMinXoD"));
        let only_bad = br#"{"keys":[{"kty":"RSA","kid":"k","n":"AA","e":"AQAB"}]}"#;
        assert!(matches!(
            parse_jwks_response(&response(200, only_bad)),
            Err(JwksError::NoUsableKeys { skipped: 1 })
        ));
    }

    #[test]
    fn parser_errors_are_specific() {
        let unauthorized =
            br#"{"errors":[{"code":"authentication_invalid","message":"Unauthorized"}]}"#;
        let err = parse_jwks_response(&response(401, unauthorized)).unwrap_err();
        assert!(matches!(
            err,
            JwksError::Unauthorized {
                status: 401,
                clerk: Some(_)
            }
        ));
        assert!(err.to_string().contains("CLERK_SECRET_KEY"));
        assert!(matches!(
            parse_jwks_response(&response(500, b"oops")),
            Err(JwksError::Status {
                status: 500,
                clerk: None
            })
        ));
        assert!(matches!(
            parse_jwks_response(&response(200, b"<html>")),
            Err(JwksError::Malformed(_))
        ));
        assert!(matches!(
            parse_jwks_response(&response(200, br#"{"keys":[]}"#)),
            Err(JwksError::NoUsableKeys { skipped: 0 })
        ));
    }
}
