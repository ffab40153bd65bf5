//! The Backend API's writes on users, sessions and application invitations, over the
//! [`Dataset`](super::dataset::Dataset), with the webhooks Clerk sends after them
//! (the handlers of organizations and memberships are in `writes_orgs.rs`, of sessions and
//! invitations in `writes_sessions.rs`; the shared helpers are here):
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
//! | `POST /__mock/sessions` | signs `{"user_id"}` in (`SESSIONS_PATH`; no key check) | `session.created` |
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
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::{Json, Router};
use clerk_core::backend_api::{merge_metadata, Endpoint};
use clerk_core::model::ClerkUserData;
use clerk_core::time::UnixTime;
use serde_json::{json, Map, Value};

use super::backend::{json_bytes, not_found, paging, serve, user_json, window, PageJson};
use super::dataset::writes::{MockSession, UserExtra};
use super::dataset::Dataset;
use super::error::clerk_error;
use super::state::MockState;

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

pub(super) fn wrong_type(param: &str, expected: &str) -> Response {
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

pub(super) fn session_value(s: &MockSession) -> Value {
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

/// Sends the `events` (type, data) at `at`, in order.
pub(super) fn emit_all(state: &MockState, events: Vec<(&'static str, Value)>, at: UnixTime) {
    for (event_type, data) in events {
        state.webhooks.emit(event_type, data, at.as_millis());
    }
}

/// A `{data, total_count}` page, or the bare array Clerk answers without `paginated=true`.
pub(super) fn listing(values: Vec<Value>, params: &HashMap<String, String>) -> Response {
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
