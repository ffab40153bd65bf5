//! Sessions: list a user's (paged), revoke one.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{check_id, path, request, PathPart};
use crate::backend_api::error::{ApiError, Endpoint};
use crate::backend_api::request::PageParams;
use crate::backend_api::types::Page;
use crate::secret::SecretKey;
use crate::time::UnixTime;

/// The `status` filter of `GET /v1/sessions` (Clerk's session statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionStatus {
    /// `active`: signed in.
    Active,
    /// `pending`: signed in with tasks left.
    Pending,
    /// `ended`: signed out.
    Ended,
    /// `expired`.
    Expired,
    /// `removed`: removed by the user.
    Removed,
    /// `replaced`.
    Replaced,
    /// `revoked`: revoked from the Dashboard or the Backend API.
    Revoked,
    /// `abandoned`: idle past the inactivity timeout.
    Abandoned,
}

impl SessionStatus {
    /// The wire value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Pending => "pending",
            SessionStatus::Ended => "ended",
            SessionStatus::Expired => "expired",
            SessionStatus::Removed => "removed",
            SessionStatus::Replaced => "replaced",
            SessionStatus::Revoked => "revoked",
            SessionStatus::Abandoned => "abandoned",
        }
    }
}

/// A Clerk session (`"object": "session"`), lean; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiSession {
    /// Clerk id (`sess_…`).
    pub id: String,
    /// The user's Clerk id.
    #[serde(default)]
    pub user_id: String,
    /// The client (browser, device) id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `active`, `revoked`, … (unknown statuses kept verbatim).
    #[serde(default)]
    pub status: String,
    /// The organization last active in the session.
    #[serde(default)]
    pub last_active_organization_id: Option<String>,
    /// Last activity.
    #[serde(default)]
    pub last_active_at: Option<UnixTime>,
    /// When it expires.
    #[serde(default)]
    pub expire_at: Option<UnixTime>,
    /// When an idle session is abandoned.
    #[serde(default)]
    pub abandon_at: Option<UnixTime>,
    /// Creation time.
    #[serde(default)]
    pub created_at: UnixTime,
    /// Last update.
    #[serde(default)]
    pub updated_at: UnixTime,
}

impl ApiSession {
    /// Whether the status is `active`.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.status == SessionStatus::Active.as_str()
    }
}

/// `GET {api_url}/v1/sessions?user_id&status&limit&offset&paginated=true`: one page of a
/// user's sessions, `{data, total_count}` (as `@clerk/backend` asks, with `paginated=true`).
/// Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad user id.
pub fn list_sessions_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
    status: Option<SessionStatus>,
    page: PageParams,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::ListSessions;
    check_id(endpoint, "user_id", user_id)?;
    let mut pq = format!("/v1/sessions?user_id={user_id}");
    if let Some(status) = status {
        let _ = write!(pq, "&status={}", status.as_str());
    }
    let _ = write!(
        pq,
        "&limit={}&offset={}&paginated=true",
        page.limit(),
        page.offset()
    );
    request(http::Method::GET, endpoint, api_url, secret_key, &pq, None)
}

/// `POST {api_url}/v1/sessions/{session_id}/revoke`: answers the session, `revoked`.
/// Idempotent (revoking a revoked session changes nothing).
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn revoke_session_request(
    api_url: &str,
    secret_key: &SecretKey,
    session_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::RevokeSession;
    let path = path(
        endpoint,
        &[
            PathPart::Lit("/v1/sessions/"),
            PathPart::Id("session_id", session_id),
            PathPart::Lit("/revoke"),
        ],
    )?;
    request(
        http::Method::POST,
        endpoint,
        api_url,
        secret_key,
        &path,
        None,
    )
}

/// A listing answered either as a page or (without `paginated=true`) as a bare array.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum PageOrArray<T> {
    Page(Page<T>),
    Array(Vec<T>),
}

impl<T> PageOrArray<T> {
    pub(crate) fn into_page(self) -> Page<T> {
        match self {
            PageOrArray::Page(p) => p,
            PageOrArray::Array(data) => Page {
                total_count: data.len() as u64,
                data,
            },
        }
    }
}

/// Parses `GET /v1/sessions`: `{data, total_count}`, or the bare array Clerk answers
/// without `paginated=true`.
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for another shape.
pub fn parse_sessions_page(
    response: &http::Response<Vec<u8>>,
) -> Result<Page<ApiSession>, ApiError> {
    let page: PageOrArray<ApiSession> = crate::backend_api::response::parse_json(
        Endpoint::ListSessions,
        "page of sessions ({\"data\": [...], \"total_count\": n})",
        response,
    )?;
    Ok(page.into_page())
}

/// Parses the answer of `POST /v1/sessions/{id}/revoke`: the session.
///
/// # Errors
/// The status classes of [`ApiError`] (404 for an unknown session);
/// [`ApiError::Malformed`] for a body that is not a session.
pub fn parse_session_response(response: &http::Response<Vec<u8>>) -> Result<ApiSession, ApiError> {
    crate::backend_api::response::parse_json(Endpoint::RevokeSession, "session object", response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::new("sk_test_x")
    }

    fn respond(body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn a_user_s_sessions_are_listed_by_page_with_a_status() {
        let page = PageParams::new(100, 200).unwrap();
        let r = list_sessions_request(
            "http://h/",
            &key(),
            "user_1",
            Some(SessionStatus::Active),
            page,
        )
        .unwrap();
        assert_eq!(r.method(), http::Method::GET);
        assert_eq!(
            r.uri(),
            "http://h/v1/sessions?user_id=user_1&status=active&limit=100&offset=200&paginated=true"
        );
        let r = list_sessions_request("http://h", &key(), "user_1", None, page).unwrap();
        assert!(!r.uri().to_string().contains("status"));
        // A crafted id cannot add parameters.
        assert!(list_sessions_request("http://h", &key(), "user_1&status=x", None, page).is_err());
        assert!(list_sessions_request("http://h", &key(), "", None, page).is_err());
    }

    #[test]
    fn revoke_is_a_bodiless_post() {
        let r = revoke_session_request("http://h", &key(), "sess_1").unwrap();
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(r.uri(), "http://h/v1/sessions/sess_1/revoke");
        assert!(r.body().is_empty());
        assert!(matches!(
            revoke_session_request("http://h", &key(), "sess_1/../x"),
            Err(ApiError::InvalidParam {
                param: "session_id",
                ..
            })
        ));
    }

    #[test]
    fn sessions_parse_as_pages_or_arrays() {
        let one = r#"{"object":"session","id":"sess_1","user_id":"user_1","client_id":"client_1","status":"active","last_active_at":5,"expire_at":9,"abandon_at":10,"created_at":1,"updated_at":2,"latest_activity":{"id":"x"},"actor":null}"#;
        let page = parse_sessions_page(&respond(&format!(r#"{{"data":[{one}],"total_count":7}}"#)))
            .unwrap();
        assert_eq!(page.total_count, 7);
        assert!(page.data[0].is_active());
        assert_eq!(page.data[0].updated_at, UnixTime::from_millis(2));
        let bare = parse_sessions_page(&respond(&format!("[{one}, {one}]"))).unwrap();
        assert_eq!((bare.data.len(), bare.total_count), (2, 2));
        assert!(matches!(
            parse_sessions_page(&respond(r#"{"nope":1}"#)),
            Err(ApiError::Malformed {
                endpoint: Endpoint::ListSessions,
                ..
            })
        ));
        let s = parse_session_response(&respond(&one.replace("active", "revoked"))).unwrap();
        assert!(!s.is_active());
        assert_eq!(s.status, "revoked");
    }
}
