//! The Backend API's session and application-invitation endpoints of the mock (the table is
//! in `writes.rs`), and the test API that signs users in ([`MockClerk::create_session`],
//! `POST /__mock/sessions`).

// As in `writes.rs`: the helpers fail with the response to send.
#![allow(clippy::result_large_err)]
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use clerk_core::backend_api::Endpoint;
use serde_json::{json, Value};

use super::backend::{json_bytes, not_found, serve};
use super::dataset::writes::{MockAppInvitation, MockSession};
use super::dataset::Dataset;
use super::error::clerk_error;
use super::state::MockState;
use super::writes::{
    body_object, emit_all, invalid, listing, missing, now_ms, opt_bool, opt_object, opt_str,
    opt_u64, param_error, session_value,
};
use super::MockClerk;

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/{session_id}/revoke", post(revoke_session))
        .route(
            "/v1/invitations",
            get(list_invitations).post(create_invitation),
        )
        .route(
            "/v1/invitations/{invitation_id}/revoke",
            post(revoke_invitation),
        )
        .route(SESSIONS_PATH, post(mint_session))
}

/// `POST /__mock/sessions` with `{"user_id"}`: signs the user in ([`MockClerk::create_session`])
/// and answers the session, for tools outside the process (the SDK oracle); like
/// [`TOKENS_PATH`](super::TOKENS_PATH), no key check and no faults. 404 for an unknown user.
pub const SESSIONS_PATH: &str = "/__mock/sessions";

async fn mint_session(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let map = match body_object(&body) {
        Ok(map) => map,
        Err(response) => return response,
    };
    let user_id = match opt_str(&map, "user_id") {
        Ok(Some(id)) => id,
        Ok(None) => return missing("user_id"),
        Err(response) => return response,
    };
    match create_session(&state, &user_id) {
        Some(session) => json_bytes(&session_value(&session)),
        None => not_found("user", &user_id),
    }
}

fn create_session(state: &MockState, user_id: &str) -> Option<MockSession> {
    let mut dataset = state.backend.dataset();
    dataset.find_user(user_id)?;
    let at = dataset.write_time(now_ms());
    let session = MockSession {
        id: dataset.new_id("sess"),
        user_id: user_id.to_owned(),
        client_id: dataset.new_id("client"),
        status: "active".to_owned(),
        created_at: at.as_millis(),
        updated_at: at.as_millis(),
    };
    let value = session_value(&session);
    dataset.written.sessions.push(session.clone());
    drop(dataset);
    emit_all(state, vec![("session.created", value)], at);
    Some(session)
}

fn invitation_value(inv: &MockAppInvitation) -> Value {
    json!({
        "object": "invitation",
        "id": inv.id,
        "email_address": inv.email_address,
        "public_metadata": inv.public_metadata,
        "revoked": inv.status == "revoked",
        "status": inv.status,
        "url": format!("https://accounts.mock.clerk.test/sign-up?__clerk_ticket={}", inv.id),
        "expires_at": inv.expires_at,
        "created_at": inv.created_at,
        "updated_at": inv.updated_at,
    })
}

// ---- sessions -------------------------------------------------------------------------------

const SESSION_STATUSES: &[&str] = &[
    "active",
    "pending",
    "ended",
    "expired",
    "removed",
    "replaced",
    "revoked",
    "abandoned",
];

async fn list_sessions(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    serve(&state, Endpoint::ListSessions, &uri, &headers, |st| {
        let user_id = params.get("user_id").filter(|s| !s.is_empty());
        let client_id = params.get("client_id").filter(|s| !s.is_empty());
        if user_id.is_none() && client_id.is_none() {
            return clerk_error(
                StatusCode::BAD_REQUEST,
                "Missing query parameter",
                "Either user_id or client_id is required.",
                "missing_query_parameter",
            );
        }
        let status = params.get("status").filter(|s| !s.is_empty());
        if let Some(status) = status {
            if !SESSION_STATUSES.contains(&status.as_str()) {
                return invalid("status", &format!("{status} is not a session status."));
            }
        }
        let dataset = st.backend.dataset();
        let mut sessions: Vec<&MockSession> = dataset
            .written
            .sessions
            .iter()
            .filter(|s| {
                user_id.is_none_or(|u| s.user_id == *u)
                    && client_id.is_none_or(|c| s.client_id == *c)
                    && status.is_none_or(|st| s.status == *st)
            })
            .collect();
        // Newest first, unless `order_by=created_at`.
        sessions.reverse();
        if params
            .get("order_by")
            .is_some_and(|o| o.trim_start_matches('+') == "created_at")
        {
            sessions.reverse();
        }
        let values: Vec<Value> = sessions.into_iter().map(session_value).collect();
        let mut params = params.clone();
        params.remove("order_by");
        listing(values, &params)
    })
    .await
}

async fn revoke_session(
    State(state): State<Arc<MockState>>,
    Path(session_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve(&state, Endpoint::RevokeSession, &uri, &headers, |st| {
        let mut dataset = st.backend.dataset();
        let at = dataset.write_time(now_ms());
        let Some(session) = dataset
            .written
            .sessions
            .iter_mut()
            .find(|s| s.id == session_id)
        else {
            return not_found("session", &session_id);
        };
        let changed = matches!(session.status.as_str(), "active" | "pending");
        if changed {
            session.status = "revoked".to_owned();
            session.updated_at = at.as_millis();
        }
        let value = session_value(session);
        drop(dataset);
        if changed {
            emit_all(st, vec![("session.revoked", value.clone())], at);
        }
        json_bytes(&value)
    })
    .await
}

// ---- application invitations ----------------------------------------------------------------

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

async fn create_invitation(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, Endpoint::CreateInvitation, &uri, &headers, |st| {
        let map = match body_object(&body) {
            Ok(map) => map,
            Err(response) => return response,
        };
        let fields = (|| {
            let email = opt_str(&map, "email_address")?.ok_or_else(|| missing("email_address"))?;
            if !is_email(&email) {
                return Err(invalid(
                    "email_address",
                    "email_address must be a valid email address.",
                ));
            }
            let metadata = opt_object(&map, "public_metadata")?;
            let redirect_url = opt_str(&map, "redirect_url")?;
            opt_bool(&map, "notify")?;
            let ignore_existing = opt_bool(&map, "ignore_existing")?.unwrap_or(false);
            let days = opt_u64(&map, "expires_in_days")?.unwrap_or(30);
            if days == 0 {
                return Err(invalid(
                    "expires_in_days",
                    "expires_in_days must be at least 1.",
                ));
            }
            Ok((email, metadata, redirect_url, ignore_existing, days))
        })();
        let (email, metadata, redirect_url, ignore_existing, days) = match fields {
            Ok(fields) => fields,
            Err(response) => return response,
        };
        let mut dataset = st.backend.dataset();
        if !ignore_existing {
            let invited = dataset
                .written
                .app_invitations
                .iter()
                .any(|i| i.status == "pending" && i.email_address.eq_ignore_ascii_case(&email));
            let is_user = user_with_email(&mut dataset, &email);
            if invited || is_user {
                return param_error(
                    "duplicate_record",
                    "duplicate record",
                    "email_address",
                    "There is already a pending invitation or a user with this email address.",
                );
            }
        }
        let at = dataset.write_time(now_ms()).as_millis();
        let id = dataset.new_id("inv");
        let days = i64::try_from(days.min(3650)).unwrap_or(3650);
        let invitation = MockAppInvitation {
            id,
            email_address: email,
            public_metadata: metadata.unwrap_or_else(|| json!({})),
            status: "pending".to_owned(),
            redirect_url,
            expires_at: at + days * 86_400_000,
            created_at: at,
            updated_at: at,
        };
        let value = invitation_value(&invitation);
        dataset.written.app_invitations.push(invitation);
        json_bytes(&value)
    })
    .await
}

/// Whether a user of the data set has `email` (seeded users are searched; generated users'
/// addresses are `user{n}@example.test`).
fn user_with_email(dataset: &mut Dataset, email: &str) -> bool {
    let lower = email.to_ascii_lowercase();
    if let Some(n) = lower
        .strip_prefix("user")
        .and_then(|r| r.strip_suffix("@example.test"))
        .and_then(|n| n.parse::<u32>().ok())
    {
        if dataset
            .find_user(&super::dataset::generated_user_id(n))
            .is_some()
        {
            return true;
        }
    }
    let n = dataset.user_count();
    dataset.users_page(0, n, false).into_iter().any(|r| {
        dataset
            .user(r)
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    })
}

async fn revoke_invitation(
    State(state): State<Arc<MockState>>,
    Path(invitation_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve(&state, Endpoint::RevokeInvitation, &uri, &headers, |st| {
        let mut dataset = st.backend.dataset();
        let at = dataset.write_time(now_ms()).as_millis();
        let Some(inv) = dataset
            .written
            .app_invitations
            .iter_mut()
            .find(|i| i.id == invitation_id)
        else {
            return not_found("invitation", &invitation_id);
        };
        if inv.status == "pending" {
            inv.status = "revoked".to_owned();
            inv.updated_at = at;
        }
        json_bytes(&invitation_value(inv))
    })
    .await
}

async fn list_invitations(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    serve(&state, Endpoint::ListAppInvitations, &uri, &headers, |st| {
        let status = params.get("status").filter(|s| !s.is_empty());
        let dataset = st.backend.dataset();
        let mut values: Vec<Value> = dataset
            .written
            .app_invitations
            .iter()
            .filter(|i| status.is_none_or(|s| i.status == *s))
            .map(invitation_value)
            .collect();
        values.reverse();
        let mut params = params.clone();
        params.remove("order_by");
        listing(values, &params)
    })
    .await
}

// ---- the handle's test API ------------------------------------------------------------------

impl MockClerk {
    /// Signs `user_id` in: a new `active` session (`sess_mock…`) on a new client, as Clerk
    /// would create on a sign-in, with its `session.created` webhook. `None` for an unknown
    /// user.
    pub fn create_session(&self, user_id: &str) -> Option<String> {
        create_session(self.state(), user_id).map(|s| s.id)
    }

    /// The sessions of `user_id`, oldest first, as `(session id, status)`.
    #[must_use]
    pub fn sessions_of(&self, user_id: &str) -> Vec<(String, String)> {
        self.state()
            .backend
            .dataset()
            .written
            .sessions
            .iter()
            .filter(|s| s.user_id == user_id)
            .map(|s| (s.id.clone(), s.status.clone()))
            .collect()
    }

    /// The application invitations, oldest first, as `(invitation id, email, status)`.
    #[must_use]
    pub fn app_invitations(&self) -> Vec<(String, String, String)> {
        self.state()
            .backend
            .dataset()
            .written
            .app_invitations
            .iter()
            .map(|i| (i.id.clone(), i.email_address.clone(), i.status.clone()))
            .collect()
    }
}
