//! The Backend API's writes on users, sessions and application invitations, over the
//! [`Dataset`](super::dataset::Dataset), with the webhooks Clerk sends after them
//! (organizations and memberships are in `writes_orgs.rs`):
//!
//! | route | answer | webhooks |
//! |-------|--------|----------|
//! | `PATCH /v1/users/{user_id}` | the user (`first_name`, `last_name`, `username`, `external_id`, `primary_email_address_id`, metadata replaced, …) | `user.updated` |
//! | `PATCH /v1/users/{user_id}/metadata` | the user, each metadata object deep-merged ([`merge_metadata`]) | `user.updated` |
//! | `POST /v1/users/{user_id}/ban` | the user, `banned`; their active sessions revoked | `session.revoked` for each, then `user.updated` |
//! | `POST /v1/users/{user_id}/unban`, `/lock`, `/unlock` | the user | `user.updated` |
//! | `DELETE /v1/users/{user_id}` | `{"object":"user","id","deleted":true}`; memberships and sessions go too | `user.deleted` |
//! | `GET /v1/sessions?user_id=…&status=…` | a user's sessions, newest first: `{data, total_count}` with `paginated=true`, else a bare array | — |
//! | `POST /v1/sessions/{session_id}/revoke` | the session, `revoked` (an already revoked or ended one is answered unchanged) | `session.revoked` |
//! | `POST /v1/invitations` | the invitation (`object: invitation`, `pending`, 30 days unless `expires_in_days`) | none: Clerk sends no webhook for application invitations |
//! | `POST /v1/invitations/{invitation_id}/revoke` | the invitation, `revoked` | none |
//! | `GET /v1/invitations` | application invitations (`status` filters), paged like the sessions | — |
//! | `POST /__mock/sessions` | signs `{"user_id"}` in ([`SESSIONS_PATH`]; no key check) | `session.created` |
//!
//! Errors are Clerk's: 404 `resource_not_found` for an unknown id; 422 with
//! `meta.param_name` for a parameter that is missing (`form_param_missing`), of the wrong
//! type (`form_param_format_invalid`) or refused (`form_param_value_invalid`); 422
//! `duplicate_record` for an address already invited or a user, unless `ignore_existing`;
//! 400 `malformed_request` for a body that is not JSON.
//!
//! Every write moves the object's `updated_at` to the current time (strictly later than the
//! previous write), and the webhook envelopes carry that time as `timestamp`.

// The handlers' helpers fail with the response to send (an `axum` `Response`, 128 bytes): a
// test server's error path, where the size does not matter and boxing would only add noise.
#![allow(clippy::result_large_err)]
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use clerk_core::backend_api::{merge_metadata, Endpoint};
use clerk_core::model::ClerkUserData;
use clerk_core::time::UnixTime;
use serde_json::{json, Map, Value};

use super::backend::{json_bytes, not_found, paging, serve, user_json, window, PageJson};
use super::dataset::writes::{MockAppInvitation, MockSession, UserExtra};
use super::dataset::Dataset;
use super::error::clerk_error;
use super::state::MockState;
use super::MockClerk;

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route(
            "/v1/users/{user_id}",
            patch(update_user).delete(delete_user),
        )
        .route("/v1/users/{user_id}/metadata", patch(update_metadata))
        .route("/v1/users/{user_id}/ban", post(ban))
        .route("/v1/users/{user_id}/unban", post(unban))
        .route("/v1/users/{user_id}/lock", post(lock_user))
        .route("/v1/users/{user_id}/unlock", post(unlock_user))
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

// ---- shared by the write modules -------------------------------------------------------------

/// Now, in Unix milliseconds.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A 422 about one body parameter, the way Clerk reports them.
pub(super) fn param_error(code: &str, message: &str, param: &str, long_message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "errors": [{
                "message": message,
                "long_message": long_message,
                "code": code,
                "meta": {"param_name": param},
            }],
            "clerk_trace_id": "mock_trace",
        })),
    )
        .into_response()
}

pub(super) fn missing(param: &str) -> Response {
    param_error(
        "form_param_missing",
        "missing",
        param,
        &format!("{param} must be included."),
    )
}

fn wrong_type(param: &str, expected: &str) -> Response {
    param_error(
        "form_param_format_invalid",
        "is invalid",
        param,
        &format!("{param} must be {expected}."),
    )
}

pub(super) fn invalid(param: &str, long_message: &str) -> Response {
    param_error(
        "form_param_value_invalid",
        "is invalid",
        param,
        long_message,
    )
}

/// The JSON object of a request body (an empty body is an empty object).
pub(super) fn body_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(clerk_error(
            StatusCode::BAD_REQUEST,
            "Malformed request",
            "The request body is not a JSON object.",
            "malformed_request",
        )),
    }
}

/// An optional string parameter (`null` reads as absent).
pub(super) fn opt_str(map: &Map<String, Value>, key: &str) -> Result<Option<String>, Response> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wrong_type(key, "a string")),
    }
}

/// An optional boolean parameter.
pub(super) fn opt_bool(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, Response> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(key, "a boolean")),
    }
}

/// An optional non-negative integer parameter.
pub(super) fn opt_u64(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, Response> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong_type(key, "a non-negative integer")),
    }
}

/// An optional metadata object parameter.
pub(super) fn opt_object(map: &Map<String, Value>, key: &str) -> Result<Option<Value>, Response> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(wrong_type(key, "a JSON object")),
    }
}

/// The user as Clerk serializes it, with the private and unsafe metadata the writes hold.
pub(super) fn user_value(dataset: &Dataset, user: &ClerkUserData) -> Value {
    let mut value = serde_json::to_value(user_json(user)).unwrap_or_default();
    if let Some(extra) = dataset.written.user_extra.get(&user.clerk_id) {
        if let Some(m) = &extra.private_metadata {
            value["private_metadata"] = m.clone();
        }
        if let Some(m) = &extra.unsafe_metadata {
            value["unsafe_metadata"] = m.clone();
        }
    }
    value
}

fn session_value(s: &MockSession) -> Value {
    json!({
        "object": "session",
        "id": s.id,
        "client_id": s.client_id,
        "user_id": s.user_id,
        "status": s.status,
        "last_active_organization_id": null,
        "actor": null,
        "last_active_at": s.updated_at,
        "expire_at": s.created_at + 7 * 86_400_000,
        "abandon_at": s.created_at + 30 * 86_400_000,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    })
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

/// Sends the `events` (type, data) at `at`, in order.
pub(super) fn emit_all(state: &MockState, events: Vec<(&'static str, Value)>, at: UnixTime) {
    for (event_type, data) in events {
        state.webhooks.emit(event_type, data, at.as_millis());
    }
}

/// A `{data, total_count}` page, or the bare array Clerk answers without `paginated=true`.
fn listing(values: Vec<Value>, params: &HashMap<String, String>) -> Response {
    let paging = match paging(params) {
        Ok(p) => p,
        Err(bad) => return bad.into_response(),
    };
    let (page, total) = window(values, paging);
    if params.get("paginated").is_some_and(|v| v == "true") {
        json_bytes(&PageJson {
            data: page,
            total_count: total,
        })
    } else {
        json_bytes(&page)
    }
}

// ---- users ----------------------------------------------------------------------------------

/// Revokes `user_id`'s active sessions at `at`; their `session.revoked` events.
fn revoke_sessions_of(
    dataset: &mut Dataset,
    user_id: &str,
    at: UnixTime,
) -> Vec<(&'static str, Value)> {
    let mut events = Vec::new();
    for s in dataset
        .written
        .sessions
        .iter_mut()
        .filter(|s| s.user_id == user_id && s.status == "active")
    {
        s.status = "revoked".to_owned();
        s.updated_at = at.as_millis();
        events.push(("session.revoked", session_value(s)));
    }
    events
}

/// Applies `change` to the user, moves `updated_at`, answers the user, emits the events.
fn write_user(
    state: &MockState,
    user_id: &str,
    change: impl FnOnce(&mut Dataset, UnixTime) -> Result<Vec<(&'static str, Value)>, Response>,
) -> Response {
    let mut dataset = state.backend.dataset();
    if dataset.user_mut(user_id).is_none() {
        return not_found("user", user_id);
    }
    let at = dataset.write_time(now_ms());
    let mut events = match change(&mut dataset, at) {
        Ok(events) => events,
        Err(response) => return response,
    };
    let Some(user) = dataset.user_mut(user_id) else {
        return not_found("user", user_id);
    };
    user.updated_at = at;
    let user = user.clone();
    let value = user_value(&dataset, &user);
    drop(dataset);
    events.push(("user.updated", value.clone()));
    emit_all(state, events, at);
    json_bytes(&value)
}

fn user_of<'a>(dataset: &'a mut Dataset, user_id: &str) -> Result<&'a mut ClerkUserData, Response> {
    dataset
        .user_mut(user_id)
        .ok_or_else(|| not_found("user", user_id))
}

async fn update_user(
    State(state): State<Arc<MockState>>,
    Path(user_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, Endpoint::UpdateUser, &uri, &headers, |st| {
        let map = match body_object(&body) {
            Ok(map) => map,
            Err(response) => return response,
        };
        write_user(st, &user_id, |dataset, _| {
            let first_name = opt_str(&map, "first_name")?;
            let last_name = opt_str(&map, "last_name")?;
            let username = opt_str(&map, "username")?;
            let external_id = opt_str(&map, "external_id")?;
            let primary = opt_str(&map, "primary_email_address_id")?;
            let public = opt_object(&map, "public_metadata")?;
            let private = opt_object(&map, "private_metadata")?;
            let unsafe_ = opt_object(&map, "unsafe_metadata")?;
            opt_bool(&map, "delete_self_enabled")?;
            opt_bool(&map, "create_organization_enabled")?;
            if let Some(primary) = &primary {
                let email_id = format!("idn_{}", user_id.trim_start_matches("user_"));
                let has_email = user_of(dataset, &user_id)?.email.is_some();
                if !has_email || *primary != email_id {
                    return Err(invalid(
                        "primary_email_address_id",
                        "primary_email_address_id is not an email address of this user.",
                    ));
                }
            }
            let user = user_of(dataset, &user_id)?;
            if first_name.is_some() {
                user.first_name = first_name;
            }
            if last_name.is_some() {
                user.last_name = last_name;
            }
            if username.is_some() {
                user.username = username;
            }
            if external_id.is_some() {
                user.external_id = external_id;
            }
            if let Some(public) = public {
                user.public_metadata = public;
            }
            if private.is_some() || unsafe_.is_some() {
                let extra = dataset
                    .written
                    .user_extra
                    .entry(user_id.clone())
                    .or_default();
                if private.is_some() {
                    extra.private_metadata = private;
                }
                if unsafe_.is_some() {
                    extra.unsafe_metadata = unsafe_;
                }
            }
            Ok(Vec::new())
        })
    })
    .await
}

async fn update_metadata(
    State(state): State<Arc<MockState>>,
    Path(user_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, Endpoint::UpdateUserMetadata, &uri, &headers, |st| {
        let map = match body_object(&body) {
            Ok(map) => map,
            Err(response) => return response,
        };
        write_user(st, &user_id, |dataset, _| {
            let public = opt_object(&map, "public_metadata")?;
            let private = opt_object(&map, "private_metadata")?;
            let unsafe_ = opt_object(&map, "unsafe_metadata")?;
            if let Some(patch) = public {
                merge_metadata(&mut user_of(dataset, &user_id)?.public_metadata, &patch);
            }
            let extra: &mut UserExtra = dataset
                .written
                .user_extra
                .entry(user_id.clone())
                .or_default();
            for (slot, patch) in [
                (&mut extra.private_metadata, private),
                (&mut extra.unsafe_metadata, unsafe_),
            ] {
                if let Some(patch) = patch {
                    merge_metadata(slot.get_or_insert_with(|| json!({})), &patch);
                }
            }
            Ok(Vec::new())
        })
    })
    .await
}

/// A ban, unban, lock or unlock.
#[derive(Clone, Copy)]
enum Flag {
    Ban(bool),
    Lock(bool),
}

fn set_flag(state: &MockState, user_id: &str, flag: Flag) -> Response {
    write_user(state, user_id, |dataset, at| {
        let user = user_of(dataset, user_id)?;
        match flag {
            Flag::Ban(on) => user.banned = on,
            Flag::Lock(on) => user.locked = on,
        }
        Ok(match flag {
            Flag::Ban(true) => revoke_sessions_of(dataset, user_id, at),
            _ => Vec::new(),
        })
    })
}

macro_rules! flag_handler {
    ($name:ident, $endpoint:expr, $flag:expr) => {
        async fn $name(
            State(state): State<Arc<MockState>>,
            Path(user_id): Path<String>,
            uri: Uri,
            headers: HeaderMap,
        ) -> Response {
            serve(&state, $endpoint, &uri, &headers, |st| {
                set_flag(st, &user_id, $flag)
            })
            .await
        }
    };
}

flag_handler!(ban, Endpoint::BanUser, Flag::Ban(true));
flag_handler!(unban, Endpoint::UnbanUser, Flag::Ban(false));
flag_handler!(lock_user, Endpoint::LockUser, Flag::Lock(true));
flag_handler!(unlock_user, Endpoint::UnlockUser, Flag::Lock(false));

async fn delete_user(
    State(state): State<Arc<MockState>>,
    Path(user_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve(&state, Endpoint::DeleteUser, &uri, &headers, |st| {
        let mut dataset = st.backend.dataset();
        if !dataset.remove_user(&user_id) {
            return not_found("user", &user_id);
        }
        let at = dataset.write_time(now_ms());
        drop(dataset);
        let deleted = json!({"object": "user", "id": user_id, "deleted": true});
        emit_all(st, vec![("user.deleted", deleted.clone())], at);
        json_bytes(&deleted)
    })
    .await
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
