//! `POST /__mock/tokens`: mints a session token this mock's JWKS verifies, for local
//! development (`clerk mock`) and black-box tests that cannot link the test kit.
//!
//! Request (JSON; only `sub` is required, unknown fields are refused):
//!
//! ```json
//! { "sub": "user_1", "sid": "sess_1", "azp": "http://localhost:3000",
//!   "org_id": "org_1", "org_slug": "acme", "org_role": "org:admin",
//!   "org_permissions": ["org:reports:read"], "ttl_seconds": 3600 }
//! ```
//!
//! Answer: `200 {"token": "<JWS>"}`, a v2 session token signed by the first served key,
//! issued now (the system clock), with this instance's issuer. Defaults: `sid` `sess_` +
//! `sub`, `azp` [`DEFAULT_AUTHORIZED_PARTY`], `ttl_seconds` 3600 (1 to 86,400). The
//! organization (all of `org_id`, `org_slug`, `org_role`, or none) goes into the v2 `o` claim:
//! `org_role` with or without its `org:` prefix; `org_permissions` as full keys
//! `org:<feature>:<permission>`, encoded as Clerk does (`fea`, `per`, `fpm`).
//!
//! Errors are Clerk-style bodies: 400 for JSON that does not parse or a field out of range,
//! 503 when the mock serves no key. No secret key is asked for: the mock is a development
//! tool on loopback.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::error::clerk_error;
use super::state::MockState;
use crate::mint::{OrgV2, TokenBuilder, DEFAULT_AUTHORIZED_PARTY};

/// The path of the token-minting endpoint.
pub const TOKENS_PATH: &str = "/__mock/tokens";

/// Longest lifetime a minted token may ask for.
const MAX_TTL_SECONDS: u64 = 86_400;
/// Lifetime when the request names none: an hour of local development.
const DEFAULT_TTL_SECONDS: u64 = 3_600;

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<MockState>> {
    Router::new().route(TOKENS_PATH, post(mint))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    sub: String,
    sid: Option<String>,
    azp: Option<String>,
    org_id: Option<String>,
    org_slug: Option<String>,
    org_role: Option<String>,
    #[serde(default)]
    org_permissions: Vec<String>,
    ttl_seconds: Option<u64>,
}

fn bad_request(long_message: &str) -> Response {
    clerk_error(
        StatusCode::BAD_REQUEST,
        "Invalid token request",
        long_message,
        "form_param_invalid",
    )
}

async fn mint(
    State(state): State<Arc<MockState>>,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    let Some(key) = state.keys().into_iter().next() else {
        return clerk_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "No signing key",
            "The mock Clerk serves no keys, so it cannot sign a token.",
            "no_signing_key",
        );
    };
    match build(request, TokenBuilder::v2(&key)) {
        Ok(builder) => {
            let token = builder
                .issuer(&format!("https://{}", state.frontend_host))
                .sign();
            Json(json!({ "token": token })).into_response()
        }
        Err(message) => bad_request(&message),
    }
}

/// Applies the request to `builder`, or says which field is wrong.
fn build(request: TokenRequest, builder: TokenBuilder) -> Result<TokenBuilder, String> {
    if request.sub.trim().is_empty() {
        return Err("`sub` must not be empty".into());
    }
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(format!(
            "`ttl_seconds` must be 1 to {MAX_TTL_SECONDS}, got {ttl}"
        ));
    }
    let sid = request
        .sid
        .unwrap_or_else(|| format!("sess_{}", request.sub.trim_start_matches("user_")));
    let mut builder = builder
        .subject(&request.sub)
        .session_id(&sid)
        .authorized_party(request.azp.as_deref().unwrap_or(DEFAULT_AUTHORIZED_PARTY))
        .session_status("active")
        .expires_in(Duration::from_secs(ttl));
    match (request.org_id, request.org_slug, request.org_role) {
        (None, None, None) => {
            if !request.org_permissions.is_empty() {
                return Err(
                    "`org_permissions` needs an organization (`org_id`, `org_slug`, `org_role`)"
                        .into(),
                );
            }
        }
        (Some(id), Some(slug), Some(role)) => {
            let role = role.strip_prefix("org:").unwrap_or(&role).to_owned();
            let (features, permissions, masks) = encode_permissions(&request.org_permissions)?;
            builder = builder.org_v2(OrgV2 {
                id,
                slug,
                role,
                permissions,
                feature_permission_masks: masks,
            });
            if !features.is_empty() {
                let fea: Vec<String> = features.iter().map(|f| format!("o:{f}")).collect();
                builder = builder.features(&fea.join(","));
            }
        }
        _ => return Err("an organization needs all of `org_id`, `org_slug` and `org_role`".into()),
    }
    Ok(builder)
}

/// `fea` features, `per` names and `fpm` masks, in that order.
type EncodedPermissions = (Vec<String>, Vec<String>, Vec<String>);

/// Clerk's v2 encoding of full permission keys `org:<feature>:<permission>`: the features (for
/// `fea`, in first-seen order), the permission names (`per`, first-seen order) and one decimal
/// mask per feature (`fpm`) in which bit `j`, counted from the least significant, grants the
/// `j`-th name (Clerk's order: the first name is bit 0).
fn encode_permissions(keys: &[String]) -> Result<EncodedPermissions, String> {
    let mut features: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut pairs = Vec::new();
    for key in keys {
        let parts: Vec<&str> = key.split(':').collect();
        let ["org", feature, name] = parts.as_slice() else {
            return Err(format!(
                "`org_permissions` entries must look like org:<feature>:<permission>, got {key:?}"
            ));
        };
        if feature.is_empty() || name.is_empty() {
            return Err(format!(
                "`org_permissions` entries must look like org:<feature>:<permission>, got {key:?}"
            ));
        }
        if !features.iter().any(|f| f == feature) {
            features.push((*feature).to_owned());
        }
        if !names.iter().any(|n| n == name) {
            names.push((*name).to_owned());
        }
        pairs.push((*feature, *name));
    }
    if names.len() > 127 {
        return Err("`org_permissions` names more than 127 distinct permissions".into());
    }
    let masks = features
        .iter()
        .map(|feature| {
            let mask = pairs
                .iter()
                .filter(|(f, _)| f == feature)
                .filter_map(|(_, n)| names.iter().position(|x| x == n))
                .fold(0u128, |mask, i| mask | 1 << i);
            mask.to_string()
        })
        .collect();
    Ok((features, names, masks))
}

#[cfg(test)]
mod tests {
    use super::encode_permissions;

    #[test]
    fn permissions_encode_as_clerk_does() {
        let keys = vec![
            "org:reports:read".to_owned(),
            "org:reports:manage".to_owned(),
            "org:billing:read".to_owned(),
        ];
        let (fea, per, fpm) = encode_permissions(&keys).unwrap_or_default();
        assert_eq!(fea, ["reports", "billing"]);
        assert_eq!(per, ["read", "manage"]);
        // reports: read (bit 0) + manage (bit 1) = 0b11; billing: read = 0b01.
        assert_eq!(fpm, ["3", "1"]);
        // Clerk's docs example, the other way round: fea=o:dashboard,o:teams,
        // per=manage,read, fpm=3,2.
        let docs = [
            "org:dashboard:manage",
            "org:dashboard:read",
            "org:teams:read",
        ];
        let docs: Vec<String> = docs.iter().map(|k| (*k).to_owned()).collect();
        let (fea, per, fpm) = encode_permissions(&docs).unwrap_or_default();
        assert_eq!(
            (fea, per, fpm),
            (
                vec!["dashboard".to_owned(), "teams".to_owned()],
                vec!["manage".to_owned(), "read".to_owned()],
                vec!["3".to_owned(), "2".to_owned()],
            )
        );
        assert!(encode_permissions(&["reports:read".to_owned()]).is_err());
        assert!(encode_permissions(&["org::read".to_owned()]).is_err());
    }
}
