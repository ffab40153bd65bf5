//! The Backend API's three verify endpoints, sans-IO: request builders and response parsers
//! with Clerk's exact bodies (`@clerk/backend`'s `APIKeysAPI.verify`, `M2MTokenApi.verify`,
//! `IdPOAuthAccessTokenApi.verify`; the shapes of Clerk's OpenAPI spec as the Python
//! `clerk-backend-api` models them).
//!
//! | type | request | 200 body `object` |
//! |------|---------|-------------------|
//! | API key | `POST /v1/api_keys/verify` `{"secret": …}` | `api_key` |
//! | M2M token | `POST /v1/m2m_tokens/verify` `{"token": …}` | `machine_to_machine_token` |
//! | OAuth token | `POST /v1/oauth_applications/access_tokens/verify` `{"access_token": …}` | `clerk_idp_oauth_access_token`, or `{"active": false}` for an expired JWT |
//!
//! The paths are those of Clerk's OpenAPI spec (`/v1/…`, as the Python `clerk-backend-api`
//! calls them); `@clerk/backend` sends the same requests without the `/v1` prefix
//! (`skipApiVersionInUrl`), which Clerk serves too.
//!
//! Failures map as Clerk's SDK maps them (`handleClerkAPIError`): 404 → `token-invalid`, 401 →
//! `secret-key-invalid`, anything else → `unexpected-error`. A 200 that says `revoked` or
//! `expired` (or whose `expiration` has passed) is refused as `token-invalid` too.

use serde::Deserialize;
use serde_json::Value;

use super::{MachineAuth, MachineError, TokenType};
use crate::backend_api::{pin_api_version, USER_AGENT};
use crate::http::ClerkErrorBody;
use crate::secret::SecretKey;
use crate::time::UnixTime;

/// The verify endpoint's path for an opaque credential of `token_type` (`None` for a session
/// token, which has none).
#[must_use]
pub fn verify_path(token_type: TokenType) -> Option<&'static str> {
    match token_type {
        TokenType::ApiKey => Some("/v1/api_keys/verify"),
        TokenType::M2mToken => Some("/v1/m2m_tokens/verify"),
        TokenType::OAuthToken => Some("/v1/oauth_applications/access_tokens/verify"),
        TokenType::SessionToken => None,
    }
}

/// The JSON field the credential goes in.
fn body_field(token_type: TokenType) -> &'static str {
    match token_type {
        TokenType::ApiKey => "secret",
        TokenType::OAuthToken => "access_token",
        TokenType::M2mToken | TokenType::SessionToken => "token",
    }
}

/// `POST {api_url}{verify_path}` with the credential in Clerk's body field, the secret key as
/// Bearer, JSON, our `User-Agent` and `Clerk-API-Version: api_version`.
///
/// ```
/// use clerk_core::machine::{verify_request, TokenType};
/// use clerk_core::secret::SecretKey;
///
/// let request = verify_request(
///     TokenType::ApiKey,
///     "https://api.clerk.com",
///     &SecretKey::new("sk_test_x"),
///     "2026-05-12",
///     "ak_123",
/// )?;
/// assert_eq!(request.uri(), "https://api.clerk.com/v1/api_keys/verify");
/// assert_eq!(request.body(), br#"{"secret":"ak_123"}"#);
/// assert_eq!(request.headers()["clerk-api-version"], "2026-05-12");
/// # Ok::<(), clerk_core::machine::MachineError>(())
/// ```
///
/// # Errors
/// [`MachineError::TypeMismatch`] for a session token; [`MachineError::Unexpected`] for an
/// `api_url` that makes no URI.
pub fn verify_request(
    token_type: TokenType,
    api_url: &str,
    secret_key: &SecretKey,
    api_version: &str,
    credential: &str,
) -> Result<http::Request<Vec<u8>>, MachineError> {
    let path = verify_path(token_type).ok_or(MachineError::TypeMismatch { found: token_type })?;
    let mut body = serde_json::Map::new();
    body.insert(
        body_field(token_type).to_owned(),
        Value::String(credential.to_owned()),
    );
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("{}{path}", api_url.trim_end_matches('/')))
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", secret_key.expose_secret()),
        )
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, USER_AGENT)
        .body(body)
        .map_err(|e| MachineError::Unexpected {
            status: None,
            detail: format!("cannot build the verify request: {e}"),
        })?;
    pin_api_version(&mut request, api_version);
    Ok(request)
}

#[derive(Deserialize)]
struct ApiKeyBody {
    object: String,
    id: String,
    #[serde(default)]
    name: Option<String>,
    subject: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    claims: Option<Value>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    expired: bool,
    #[serde(default)]
    expiration: Option<f64>,
}

#[derive(Deserialize)]
struct M2mBody {
    object: String,
    id: String,
    subject: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    claims: Option<Value>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    expired: bool,
    #[serde(default)]
    expiration: Option<f64>,
}

#[derive(Deserialize)]
struct OAuthBody {
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    expired: bool,
    #[serde(default)]
    expiration: Option<f64>,
}

fn millis(value: Option<f64>) -> Option<UnixTime> {
    #[allow(clippy::cast_possible_truncation)]
    value
        .filter(|v| v.is_finite())
        .map(|v| UnixTime::from_millis(v as i64))
}

fn wrong_shape(token_type: TokenType, detail: impl std::fmt::Display) -> MachineError {
    MachineError::Unexpected {
        status: Some(200),
        detail: format!("the {token_type} verify answer is not Clerk's shape: {detail}"),
    }
}

/// Parses a verify endpoint's answer for a credential of `token_type` at `now`.
///
/// ```
/// use clerk_core::machine::{parse_verify_response, MachineError, TokenType};
/// use clerk_core::time::UnixTime;
///
/// let body = br#"{"object":"machine_to_machine_token","id":"mt_1","subject":"mch_1",
///   "scopes":["mch_2"],"claims":null,"revoked":false,"revocation_reason":null,"expired":false,
///   "expiration":1767225600000,"last_used_at":null,"created_at":1,"updated_at":1}"#;
/// let response = http::Response::builder().status(200).body(body.to_vec())?;
/// let now = UnixTime::from_secs(1_767_000_000);
/// let auth = parse_verify_response(TokenType::M2mToken, &response, now)?;
/// assert_eq!(auth.subject, "mch_1");
/// assert_eq!(auth.expires_at, Some(UnixTime::from_secs(1_767_225_600)));
///
/// let missing = http::Response::builder().status(404).body(
///     br#"{"errors":[{"message":"not found","long_message":"not found","code":"resource_not_found"}]}"#.to_vec())?;
/// let error = parse_verify_response(TokenType::M2mToken, &missing, now).unwrap_err();
/// assert_eq!(error, MachineError::NotFound(TokenType::M2mToken));
/// assert_eq!(error.reason(), "token-invalid");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`MachineError`] with Clerk's mapping of statuses; revoked or expired credentials.
pub fn parse_verify_response(
    token_type: TokenType,
    response: &http::Response<Vec<u8>>,
    now: UnixTime,
) -> Result<MachineAuth, MachineError> {
    let status = response.status().as_u16();
    match status {
        200..=299 => {}
        404 => return Err(MachineError::NotFound(token_type)),
        401 => return Err(MachineError::SecretKeyInvalid { status }),
        _ => {
            let clerk = ClerkErrorBody::parse(response.body())
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            return Err(MachineError::Unexpected {
                status: Some(status),
                detail: format!("HTTP {status}{clerk}"),
            });
        }
    }
    let body = response.body();
    let (auth, revoked, expired, expiration) = match token_type {
        TokenType::ApiKey => {
            let b: ApiKeyBody =
                serde_json::from_slice(body).map_err(|e| wrong_shape(token_type, e))?;
            if b.object != "api_key" {
                return Err(wrong_shape(token_type, "object is not api_key"));
            }
            let expiration = millis(b.expiration);
            let mut auth = MachineAuth::new(token_type, b.id, b.subject)
                .with_scopes(b.scopes.unwrap_or_default());
            auth.claims = b.claims.filter(|c| !c.is_null());
            auth.name = b.name;
            auth.expires_at = expiration;
            (auth, b.revoked, b.expired, expiration)
        }
        TokenType::M2mToken => {
            let b: M2mBody =
                serde_json::from_slice(body).map_err(|e| wrong_shape(token_type, e))?;
            if b.object != "machine_to_machine_token" {
                return Err(wrong_shape(
                    token_type,
                    "object is not machine_to_machine_token",
                ));
            }
            let expiration = millis(b.expiration);
            let mut auth = MachineAuth::new(token_type, b.id, b.subject)
                .with_scopes(b.scopes.unwrap_or_default());
            auth.claims = b.claims.filter(|c| !c.is_null());
            auth.expires_at = expiration;
            (auth, b.revoked, b.expired, expiration)
        }
        TokenType::OAuthToken => {
            let b: OAuthBody =
                serde_json::from_slice(body).map_err(|e| wrong_shape(token_type, e))?;
            if b.active == Some(false) && b.object.is_none() {
                return Err(MachineError::Expired(token_type));
            }
            if b.object.as_deref() != Some("clerk_idp_oauth_access_token") {
                return Err(wrong_shape(
                    token_type,
                    "object is not clerk_idp_oauth_access_token",
                ));
            }
            let (Some(id), Some(subject)) = (b.id, b.subject) else {
                return Err(wrong_shape(token_type, "id or subject missing"));
            };
            let expiration = millis(b.expiration);
            let mut auth =
                MachineAuth::new(token_type, id, subject).with_scopes(b.scopes.unwrap_or_default());
            auth.client_id = b.client_id;
            auth.expires_at = expiration;
            (auth, b.revoked, b.expired, expiration)
        }
        TokenType::SessionToken => return Err(MachineError::TypeMismatch { found: token_type }),
    };
    if revoked {
        return Err(MachineError::Revoked(token_type));
    }
    if expired || expiration.is_some_and(|at| at <= now) {
        return Err(MachineError::Expired(token_type));
    }
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    const NOW: UnixTime = UnixTime::from_secs(1_745_000_000);

    /// The 200 body of Clerk's `POST /v1/api_keys/verify` (every field of the OpenAPI shape).
    const API_KEY: &str = r#"{"object":"api_key","id":"ak_2y1","type":"api_key","name":"ci",
        "subject":"user_2vY","claims":{"foo":"bar"},"scopes":["read:users","write:users"],
        "revoked":false,"revocation_reason":null,"expired":false,"expiration":null,
        "created_by":"user_2vY","description":null,"last_used_at":null,
        "created_at":1745185445567,"updated_at":1745185445567}"#;

    #[test]
    fn requests_carry_clerks_bodies_and_the_pinned_version() {
        let key = SecretKey::new("sk_test_x");
        for (t, path, body) in [
            (
                TokenType::ApiKey,
                "/v1/api_keys/verify",
                r#"{"secret":"c"}"#,
            ),
            (
                TokenType::M2mToken,
                "/v1/m2m_tokens/verify",
                r#"{"token":"c"}"#,
            ),
            (
                TokenType::OAuthToken,
                "/v1/oauth_applications/access_tokens/verify",
                r#"{"access_token":"c"}"#,
            ),
        ] {
            let r = verify_request(t, "https://api.clerk.com/", &key, "2026-05-12", "c").unwrap();
            assert_eq!(r.method(), http::Method::POST);
            assert_eq!(r.uri().path(), path);
            assert_eq!(std::str::from_utf8(r.body()).unwrap(), body);
            assert_eq!(r.headers()["authorization"], "Bearer sk_test_x");
            assert_eq!(r.headers()["content-type"], "application/json");
            assert_eq!(r.headers()["clerk-api-version"], "2026-05-12");
        }
        assert!(verify_request(TokenType::SessionToken, "https://a", &key, "v", "c").is_err());
    }

    #[test]
    fn an_api_key_answer_parses_with_its_name_claims_and_scopes() {
        let auth = parse_verify_response(TokenType::ApiKey, &response(200, API_KEY), NOW).unwrap();
        assert_eq!(auth.id, "ak_2y1");
        assert_eq!(auth.subject, "user_2vY");
        assert_eq!(auth.name.as_deref(), Some("ci"));
        assert!(auth.has_scope("write:users") && !auth.has_scope("write"));
        assert_eq!(auth.claims, Some(serde_json::json!({"foo":"bar"})));
        assert_eq!(auth.expires_at, None);
    }

    #[test]
    fn revoked_expired_and_past_expirations_are_refused() {
        let revoked = API_KEY.replace(r#""revoked":false"#, r#""revoked":true"#);
        assert_eq!(
            parse_verify_response(TokenType::ApiKey, &response(200, &revoked), NOW),
            Err(MachineError::Revoked(TokenType::ApiKey))
        );
        let expired = API_KEY.replace(r#""expired":false"#, r#""expired":true"#);
        assert_eq!(
            parse_verify_response(TokenType::ApiKey, &response(200, &expired), NOW),
            Err(MachineError::Expired(TokenType::ApiKey))
        );
        let past = API_KEY.replace(
            r#""expiration":null"#,
            &format!(r#""expiration":{}"#, NOW.as_millis()),
        );
        assert_eq!(
            parse_verify_response(TokenType::ApiKey, &response(200, &past), NOW),
            Err(MachineError::Expired(TokenType::ApiKey))
        );
        let future = API_KEY.replace(
            r#""expiration":null"#,
            &format!(r#""expiration":{}"#, NOW.as_millis() + 1),
        );
        assert!(parse_verify_response(TokenType::ApiKey, &response(200, &future), NOW).is_ok());
    }

    #[test]
    fn oauth_answers_and_the_inactive_form() {
        let body = r#"{"object":"clerk_idp_oauth_access_token","id":"oat_1","client_id":"cl_1",
            "subject":"user_1","scopes":["profile"],"revoked":false,"revocation_reason":null,
            "expired":false,"expiration":1745185445567,"created_at":1,"updated_at":1}"#;
        let auth = parse_verify_response(TokenType::OAuthToken, &response(200, body), NOW).unwrap();
        assert_eq!(auth.client_id.as_deref(), Some("cl_1"));
        assert_eq!(auth.scopes, ["profile"]);
        assert_eq!(
            parse_verify_response(
                TokenType::OAuthToken,
                &response(200, r#"{"active":false}"#),
                NOW
            ),
            Err(MachineError::Expired(TokenType::OAuthToken))
        );
    }

    #[test]
    fn statuses_map_as_clerks_sdk_maps_them() {
        let err = r#"{"errors":[{"message":"m","long_message":"l","code":"c"}]}"#;
        let reason = |status| {
            parse_verify_response(TokenType::ApiKey, &response(status, err), NOW)
                .unwrap_err()
                .reason()
        };
        assert_eq!(reason(404), "token-invalid");
        assert_eq!(reason(401), "secret-key-invalid");
        assert_eq!(reason(400), "unexpected-error");
        assert_eq!(reason(500), "unexpected-error");
        assert_eq!(reason(429), "unexpected-error");
        // A 200 of another object is not taken for a verified credential.
        let m2m = API_KEY.replace(
            r#""object":"api_key""#,
            r#""object":"machine_to_machine_token""#,
        );
        assert_eq!(
            parse_verify_response(TokenType::ApiKey, &response(200, &m2m), NOW)
                .unwrap_err()
                .reason(),
            "unexpected-error"
        );
    }
}
