//! Machine credentials: Clerk's three verify endpoints over credentials the test issues.
//!
//! | route | body | answer |
//! |-------|------|--------|
//! | `POST /v1/api_keys/verify` | `{"secret"}` | 200 Clerk's `api_key` object |
//! | `POST /v1/m2m_tokens/verify` | `{"token"}` | 200 Clerk's `machine_to_machine_token` object |
//! | `POST /v1/oauth_applications/access_tokens/verify` | `{"access_token"}` | 200 Clerk's `clerk_idp_oauth_access_token` object |
//!
//! Each is served at its OpenAPI path (`/v1/…`, where clerk-core and the Python
//! `clerk-backend-api` call it) and without the `/v1` prefix, where `@clerk/backend` calls it
//! (`skipApiVersionInUrl`).
//!
//! The secret key is checked as on every Backend API route (401 `clerk_key_invalid`, …), then
//! faults apply. An unknown credential is a 404 with Clerk's error body
//! (`resource_not_found`, "API key not found" / "Machine token not found" / "OAuth token not
//! found", the messages `@clerk/backend` reports); so are a revoked and an expired one, which
//! Clerk's verify refuses ("If the API key is invalid, revoked, or expired, the method will
//! throw an error", `@clerk/backend`'s `apiKeys.verify`). A body without the field is a 400
//! `form_param_missing`.
//!
//! Tests issue credentials with [`MockClerk::issue_api_key`](super::MockClerk::issue_api_key),
//! [`issue_m2m_token`](super::MockClerk::issue_m2m_token) and
//! [`issue_oauth_token`](super::MockClerk::issue_oauth_token) (opaque, or JWTs signed with the
//! mock's first key, as Clerk signs them with the instance's keys), and revoke them with
//! [`revoke_machine_credential`](super::MockClerk::revoke_machine_credential); black-box tests
//! and `clerk mock` users do the same over HTTP (no key check, like `POST /__mock/tokens`):
//!
//! - `POST /__mock/machine` `{"type": "api_key"|"m2m_token"|"oauth_token", "subject",
//!   "scopes"?, "claims"?, "ttl_seconds"?, "expired"?, "jwt"?}` → `{"id", "token"}`;
//! - `POST /__mock/machine/revoke` `{"id"}` → 200 `{"revoked": true}`, or 404.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use clerk_core::machine::TokenType;
use clerk_core::time::{Clock, SystemClock, UnixTime};
use serde_json::{json, Value};

use super::error::{clerk_error, reject_unless_secret_key};
use super::state::MockState;
use crate::mint::TokenBuilder;

/// What a test asks the mock to issue.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineGrant {
    /// Who it acts for (`user_…` for an API key or OAuth token, `mch_…` for an M2M token).
    pub subject: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Custom claims (API keys and M2M tokens).
    pub claims: Option<Value>,
    /// Lifetime from now; `None`: does not expire (opaque forms; JWTs get an hour).
    pub ttl: Option<Duration>,
    /// Issue it already expired (a minute ago).
    pub expired: bool,
    /// A JWT rather than an opaque token (M2M and OAuth tokens).
    pub jwt: bool,
}

impl MachineGrant {
    /// An opaque, non-expiring grant for `subject` with `scopes`.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(
        subject: impl Into<String>,
        scopes: I,
    ) -> Self {
        MachineGrant {
            subject: subject.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            claims: None,
            ttl: None,
            expired: false,
            jwt: false,
        }
    }

    /// As a JWT.
    #[must_use]
    pub fn jwt(mut self) -> Self {
        self.jwt = true;
        self
    }

    /// Already expired.
    #[must_use]
    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    /// With this lifetime.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// With these claims.
    #[must_use]
    pub fn claims(mut self, claims: Value) -> Self {
        self.claims = Some(claims);
        self
    }
}

/// A credential the mock issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCredential {
    /// Its object id (`ak_…`, `mt_…`, `oat_…`; a JWT's `jti`).
    pub id: String,
    /// The credential to present as `Authorization: Bearer`.
    pub token: String,
}

#[derive(Debug, Clone)]
struct Record {
    token_type: TokenType,
    id: String,
    grant: MachineGrant,
    expiration: Option<UnixTime>,
    created_at: UnixTime,
    revoked: bool,
}

/// The machine credentials the mock knows, and its verify counter.
#[derive(Debug, Default)]
pub(crate) struct MachineState {
    by_secret: Mutex<HashMap<String, Record>>,
    next: AtomicU64,
    verifies: AtomicU64,
    delay_ms: AtomicU64,
}

impl MachineState {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.by_secret
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn verify_requests(&self) -> u64 {
        self.verifies.load(Ordering::SeqCst)
    }

    pub(crate) fn reset_counters(&self) {
        self.verifies.store(0, Ordering::SeqCst);
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    fn fresh(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let random: u64 = rand::random();
        format!("{prefix}{n:04}{random:016x}")
    }

    /// Issues a credential of `token_type`; JWT forms are signed with `key`.
    pub(crate) fn issue(
        &self,
        token_type: TokenType,
        grant: MachineGrant,
        key: Option<&crate::keys::TestKeyPair>,
        issuer: &str,
    ) -> IssuedCredential {
        let now = SystemClock.now();
        let expiration = if grant.expired {
            Some(now.saturating_sub(Duration::from_secs(60)))
        } else {
            grant
                .ttl
                .or(grant.jwt.then_some(Duration::from_secs(3600)))
                .map(|ttl| now.saturating_add(ttl))
        };
        let prefix = match token_type {
            TokenType::ApiKey => "ak_",
            TokenType::M2mToken => "mt_",
            _ => "oat_",
        };
        let id = self.fresh(prefix);
        let token = match (grant.jwt, key) {
            (true, Some(key)) if token_type != TokenType::ApiKey => {
                sign_jwt(token_type, &grant, &id, key, issuer, now, expiration)
            }
            _ => self.fresh(prefix),
        };
        self.records().insert(
            token.clone(),
            Record {
                token_type,
                id: id.clone(),
                grant,
                expiration,
                created_at: now,
                revoked: false,
            },
        );
        IssuedCredential { id, token }
    }

    /// Marks the credential with object id `id` revoked; whether one was found.
    pub(crate) fn revoke(&self, id: &str) -> bool {
        let mut records = self.records();
        let mut found = false;
        for record in records.values_mut().filter(|r| r.id == id) {
            record.revoked = true;
            found = true;
        }
        found
    }
}

fn sign_jwt(
    token_type: TokenType,
    grant: &MachineGrant,
    id: &str,
    key: &crate::keys::TestKeyPair,
    issuer: &str,
    now: UnixTime,
    expiration: Option<UnixTime>,
) -> String {
    let exp = expiration.unwrap_or_else(|| now.saturating_add(Duration::from_secs(3600)));
    let builder = TokenBuilder::v2(key)
        .remove_claim("v")
        .remove_claim("sid")
        .remove_claim("azp")
        .issuer(issuer)
        .subject(&grant.subject)
        .jwt_id(id)
        .issued_at(if grant.expired {
            exp.saturating_sub(Duration::from_secs(60))
        } else {
            now
        })
        .expires_at(exp);
    let builder = match token_type {
        TokenType::M2mToken => {
            let mut builder = builder
                .header("cat", clerk_core::verify::CATEGORY_M2M_TOKEN)
                .claim("scopes", grant.scopes.join(" "));
            if let Some(Value::Object(claims)) = &grant.claims {
                for (name, value) in claims {
                    builder = builder.claim(name, value.clone());
                }
            }
            builder
        }
        _ => builder
            .header("typ", "at+jwt")
            .claim("client_id", "mock_oauth_client")
            .claim("scope", grant.scopes.join(" ")),
    };
    builder.sign()
}

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/v1/api_keys/verify", post(verify_api_key))
        .route("/v1/m2m_tokens/verify", post(verify_m2m_token))
        .route(
            "/v1/oauth_applications/access_tokens/verify",
            post(verify_oauth_token),
        )
        // `@clerk/backend` calls these three without the `/v1` prefix
        // (`skipApiVersionInUrl`); Clerk's OpenAPI spec (and the Python SDK) with it.
        .route("/api_keys/verify", post(verify_api_key))
        .route("/m2m_tokens/verify", post(verify_m2m_token))
        .route(
            "/oauth_applications/access_tokens/verify",
            post(verify_oauth_token),
        )
        .route(ISSUE_PATH, post(issue_over_http))
        .route(REVOKE_PATH, post(revoke_over_http))
}

/// The path that issues machine credentials over HTTP.
pub const ISSUE_PATH: &str = "/__mock/machine";
/// The path that revokes one.
pub const REVOKE_PATH: &str = "/__mock/machine/revoke";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    #[serde(rename = "type")]
    token_type: String,
    subject: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    claims: Option<Value>,
    #[serde(default)]
    ttl_seconds: Option<u64>,
    #[serde(default)]
    expired: bool,
    #[serde(default)]
    jwt: bool,
}

async fn issue_over_http(State(state): State<Arc<MockState>>, body: axum::body::Bytes) -> Response {
    let request = match serde_json::from_slice::<IssueRequest>(&body) {
        Ok(request) => request,
        Err(e) => {
            return clerk_error(
                StatusCode::BAD_REQUEST,
                "Invalid machine credential request",
                &e.to_string(),
                "form_param_invalid",
            )
        }
    };
    let token_type = match TokenType::from_name(&request.token_type) {
        Some(t) if t.is_machine() => t,
        _ => {
            return clerk_error(
                StatusCode::BAD_REQUEST,
                "Invalid machine credential request",
                "type must be api_key, m2m_token or oauth_token",
                "form_param_value_invalid",
            )
        }
    };
    let grant = MachineGrant {
        subject: request.subject,
        scopes: request.scopes,
        claims: request.claims,
        ttl: request.ttl_seconds.map(Duration::from_secs),
        expired: request.expired,
        jwt: request.jwt,
    };
    let key = state.keys().into_iter().next();
    let issuer = format!("https://{}", state.frontend_host);
    let issued = state
        .backend_machine
        .issue(token_type, grant, key.as_ref(), &issuer);
    (
        StatusCode::OK,
        Json(json!({ "id": issued.id, "token": issued.token })),
    )
        .into_response()
}

async fn revoke_over_http(
    State(state): State<Arc<MockState>>,
    body: axum::body::Bytes,
) -> Response {
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
    match id {
        Some(id) if state.backend_machine.revoke(&id) => {
            (StatusCode::OK, Json(json!({ "revoked": true }))).into_response()
        }
        _ => clerk_error(
            StatusCode::NOT_FOUND,
            "Not found",
            "No machine credential with that id.",
            "resource_not_found",
        ),
    }
}

async fn verify_api_key(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    verify(&state, &headers, &body, TokenType::ApiKey, "secret").await
}

async fn verify_m2m_token(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    verify(&state, &headers, &body, TokenType::M2mToken, "token").await
}

async fn verify_oauth_token(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    verify(
        &state,
        &headers,
        &body,
        TokenType::OAuthToken,
        "access_token",
    )
    .await
}

fn not_found_message(token_type: TokenType) -> &'static str {
    match token_type {
        TokenType::ApiKey => "API key not found",
        TokenType::M2mToken => "Machine token not found",
        _ => "OAuth token not found",
    }
}

async fn verify(
    state: &MockState,
    headers: &HeaderMap,
    body: &[u8],
    token_type: TokenType,
    field: &str,
) -> Response {
    let machine = &state.backend_machine;
    machine.verifies.fetch_add(1, Ordering::SeqCst);
    if let Some(rejection) = reject_unless_secret_key(state, headers) {
        return rejection;
    }
    if let Some(fault) = super::fault::apply(state).await {
        return fault;
    }
    let delay = machine.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let presented = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get(field).and_then(Value::as_str).map(str::to_owned));
    let Some(presented) = presented else {
        return clerk_error(
            StatusCode::BAD_REQUEST,
            &format!("{field} is missing"),
            &format!("{field} must be included."),
            "form_param_missing",
        );
    };
    let now = SystemClock.now();
    let record = machine
        .records()
        .get(&presented)
        .filter(|r| r.token_type == token_type)
        .cloned();
    let Some(record) = record.filter(|r| !r.revoked && r.expiration.is_none_or(|at| at > now))
    else {
        let message = not_found_message(token_type);
        return clerk_error(
            StatusCode::NOT_FOUND,
            message,
            message,
            "resource_not_found",
        );
    };
    (StatusCode::OK, Json(object(&record))).into_response()
}

fn object(record: &Record) -> Value {
    let created = record.created_at.as_millis();
    let expiration = record.expiration.map(UnixTime::as_millis);
    match record.token_type {
        TokenType::ApiKey => json!({
            "object": "api_key",
            "id": record.id,
            "type": "api_key",
            "name": format!("mock key {}", record.id),
            "subject": record.grant.subject,
            "claims": record.grant.claims,
            "scopes": record.grant.scopes,
            "revoked": false,
            "revocation_reason": null,
            "expired": false,
            "expiration": expiration,
            "created_by": null,
            "description": null,
            "last_used_at": null,
            "created_at": created,
            "updated_at": created,
        }),
        TokenType::M2mToken => json!({
            "object": "machine_to_machine_token",
            "id": record.id,
            "subject": record.grant.subject,
            "claims": record.grant.claims,
            "scopes": record.grant.scopes,
            "revoked": false,
            "revocation_reason": null,
            "expired": false,
            "expiration": expiration,
            "last_used_at": null,
            "created_at": created,
            "updated_at": created,
        }),
        _ => json!({
            "object": "clerk_idp_oauth_access_token",
            "id": record.id,
            "client_id": "mock_oauth_client",
            "subject": record.grant.subject,
            "scopes": record.grant.scopes,
            "revoked": false,
            "revocation_reason": null,
            "expired": false,
            "expiration": expiration,
            "created_at": created,
            "updated_at": created,
        }),
    }
}
