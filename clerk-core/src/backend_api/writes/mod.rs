//! Writes to the Backend API: users, sessions, application invitations, organizations and
//! memberships — builders, parsers, the retry class of every call, and the
//! [`BackendApi`](super::BackendApi) methods (in `caller.rs`).
//!
//! Every builder validates its inputs first and refuses a bad one with
//! [`ApiError::InvalidParam`] without building anything: ids must be Clerk-shaped (ASCII
//! letters, digits, `_` and `-`, at most 128 bytes), so no id can add a path segment, a query,
//! or a `..` that a client would normalize away.

mod caller;
mod invitations;
mod organizations;
mod sessions;
mod users;

use serde::{Deserialize, Serialize};

use super::error::{ApiError, Endpoint};
use super::request::USER_AGENT;
use crate::http::HttpError;
use crate::secret::SecretKey;

pub use caller::SessionRevocations;
pub use invitations::{
    create_invitation_request, list_app_invitations_request, parse_app_invitation_response,
    parse_app_invitations_page, revoke_invitation_request, ApiAppInvitation, NewInvitation,
};
pub use organizations::{
    create_membership_request, create_organization_request, delete_membership_request,
    delete_organization_request, parse_membership_response, parse_organization_response,
    update_membership_request, update_organization_request, NewOrganization, OrganizationUpdate,
};
pub use sessions::{
    list_sessions_request, parse_session_response, parse_sessions_page, revoke_session_request,
    ApiSession, SessionStatus,
};
pub use users::{
    ban_user_request, delete_user_request, lock_user_request, merge_metadata, parse_user_write,
    unban_user_request, unlock_user_request, update_user_metadata_request, update_user_request,
    MetadataPatch, UserUpdate,
};

/// The longest id accepted in a path (Clerk's ids are about 30 bytes).
pub const MAX_ID_LEN: usize = 128;

/// Whether a call may be sent again after a failure: what decides its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryClass {
    /// Sending it twice has the effect of sending it once (every `GET`, `PATCH`, ban/unban,
    /// lock/unlock, revoke and `DELETE`): retried on 429 (after `Retry-After`), 5xx and
    /// every transport failure.
    Idempotent,
    /// A create (`POST /v1/invitations`, `/v1/organizations`, `…/memberships`): a second
    /// send may create a second object (a duplicate invitation email, a duplicate
    /// organization), so it is retried **only** when Clerk provably did not process the
    /// first: a 429 (refused by the rate limiter before any processing) or a connection that
    /// was never established ([`HttpError::Connect`]). Never after a timeout, a reset
    /// connection or a 5xx: the object may exist.
    CreateOnce,
}

impl Endpoint {
    /// The [`RetryClass`] of this endpoint.
    #[must_use]
    pub const fn retry_class(self) -> RetryClass {
        match self {
            Endpoint::CreateInvitation
            | Endpoint::CreateOrganization
            | Endpoint::CreateMembership => RetryClass::CreateOnce,
            _ => RetryClass::Idempotent,
        }
    }
}

/// Whether a call of `class` that failed with `error` may be sent again (how long to wait,
/// and how many attempts, is the [`RetryPolicy`](super::RetryPolicy)'s decision). Pure.
#[must_use]
pub fn may_retry(class: RetryClass, error: &ApiError) -> bool {
    match class {
        RetryClass::Idempotent => matches!(
            error,
            ApiError::RateLimited { .. } | ApiError::Server { .. } | ApiError::Transport { .. }
        ),
        RetryClass::CreateOnce => matches!(
            error,
            ApiError::RateLimited { .. }
                | ApiError::Transport {
                    source: HttpError::Connect(_),
                    ..
                }
        ),
    }
}

/// What Clerk answers for a deleted object: `{"object":"user","id":"user_…","deleted":true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeletedObject {
    /// The deleted object's type (`user`, `organization`, …).
    #[serde(default)]
    pub object: String,
    /// Its id.
    #[serde(default)]
    pub id: Option<String>,
    /// Its slug (organizations).
    #[serde(default)]
    pub slug: Option<String>,
    /// Always `true` on success.
    #[serde(default)]
    pub deleted: bool,
}

/// Parses a `DELETE` answer: a [`DeletedObject`].
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for another shape or
/// `deleted` not `true`.
pub fn parse_deleted(
    endpoint: Endpoint,
    response: &http::Response<Vec<u8>>,
) -> Result<DeletedObject, ApiError> {
    let deleted: DeletedObject = super::response::parse_json(
        endpoint,
        "deleted object ({\"object\", \"id\", \"deleted\": true})",
        response,
    )?;
    if !deleted.deleted {
        return Err(ApiError::Malformed {
            endpoint,
            expected: "deleted object ({\"object\", \"id\", \"deleted\": true})",
            detail: "`deleted` is not true".to_owned(),
        });
    }
    Ok(deleted)
}

/// Checks an id put in a path (or a query): non-empty, at most [`MAX_ID_LEN`] bytes of
/// ASCII letters, digits, `_` and `-`.
pub(crate) fn check_id(endpoint: Endpoint, param: &'static str, id: &str) -> Result<(), ApiError> {
    let detail = if id.is_empty() {
        "it is empty".to_owned()
    } else if id.len() > MAX_ID_LEN {
        format!("it is longer than {MAX_ID_LEN} bytes")
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        "a Clerk id has only ASCII letters, digits, `_` and `-`".to_owned()
    } else {
        return Ok(());
    };
    Err(ApiError::InvalidParam {
        endpoint,
        param,
        detail,
    })
}

/// `/prefix/{id}/suffix…` from checked ids: `segments` alternates literal parts and ids.
pub(crate) fn path(endpoint: Endpoint, parts: &[PathPart<'_>]) -> Result<String, ApiError> {
    let mut out = String::new();
    for part in parts {
        match part {
            PathPart::Lit(s) => out.push_str(s),
            PathPart::Id(param, id) => {
                check_id(endpoint, param, id)?;
                out.push_str(id);
            }
        }
    }
    Ok(out)
}

/// A part of a path built by [`path`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum PathPart<'a> {
    /// Literal text.
    Lit(&'a str),
    /// A checked id, named by its parameter.
    Id(&'static str, &'a str),
}

/// A request with the Bearer key, `Accept`, `User-Agent`, and a JSON body when given.
pub(crate) fn request(
    method: http::Method,
    endpoint: Endpoint,
    api_url: &str,
    secret_key: &SecretKey,
    path_and_query: &str,
    body: Option<&serde_json::Value>,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let uri = format!("{}{path_and_query}", api_url.trim_end_matches('/'));
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", secret_key.expose_secret()),
        )
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, USER_AGENT);
    let bytes = match body {
        Some(body) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            serde_json::to_vec(body).map_err(|e| ApiError::Request {
                endpoint,
                detail: e.to_string(),
            })?
        }
        None => Vec::new(),
    };
    builder.body(bytes).map_err(|e| ApiError::Request {
        endpoint,
        detail: e.to_string(),
    })
}

/// Requires `value` to be a JSON object (Clerk's metadata always is).
pub(crate) fn check_object(
    endpoint: Endpoint,
    param: &'static str,
    value: &serde_json::Value,
) -> Result<(), ApiError> {
    if value.is_object() {
        Ok(())
    } else {
        Err(ApiError::InvalidParam {
            endpoint,
            param,
            detail: "metadata must be a JSON object".to_owned(),
        })
    }
}

/// Requires a non-empty text without control characters.
pub(crate) fn check_text(
    endpoint: Endpoint,
    param: &'static str,
    value: &str,
) -> Result<(), ApiError> {
    let detail = if value.trim().is_empty() {
        "it is empty"
    } else if value.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(ApiError::InvalidParam {
        endpoint,
        param,
        detail: detail.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpError;

    fn all_write_endpoints() -> [Endpoint; 18] {
        [
            Endpoint::UpdateUser,
            Endpoint::UpdateUserMetadata,
            Endpoint::BanUser,
            Endpoint::UnbanUser,
            Endpoint::LockUser,
            Endpoint::UnlockUser,
            Endpoint::DeleteUser,
            Endpoint::ListSessions,
            Endpoint::RevokeSession,
            Endpoint::ListAppInvitations,
            Endpoint::CreateInvitation,
            Endpoint::RevokeInvitation,
            Endpoint::CreateOrganization,
            Endpoint::UpdateOrganization,
            Endpoint::DeleteOrganization,
            Endpoint::CreateMembership,
            Endpoint::UpdateMembership,
            Endpoint::DeleteMembership,
        ]
    }

    #[test]
    fn only_creates_are_create_once() {
        for e in all_write_endpoints() {
            let create = e.as_str().starts_with("POST ") && !e.as_str().contains("/{");
            let create = create || e == Endpoint::CreateMembership;
            let expected = if create {
                RetryClass::CreateOnce
            } else {
                RetryClass::Idempotent
            };
            assert_eq!(e.retry_class(), expected, "{e}");
        }
        assert_eq!(Endpoint::GetUser.retry_class(), RetryClass::Idempotent);
    }

    #[test]
    fn creates_retry_only_when_clerk_provably_did_not_process_them() {
        let e = Endpoint::CreateInvitation;
        let limited = ApiError::RateLimited {
            endpoint: e,
            retry_after: Some(std::time::Duration::from_secs(1)),
            clerk: None,
        };
        let refused = ApiError::Transport {
            endpoint: e,
            source: HttpError::Connect("connection refused".into()),
        };
        let timeout = ApiError::Transport {
            endpoint: e,
            source: HttpError::Timeout,
        };
        let reset = ApiError::Transport {
            endpoint: e,
            source: HttpError::Other("connection reset".into()),
        };
        let server = ApiError::Server {
            endpoint: e,
            status: 502,
            clerk: None,
        };
        let invalid = ApiError::Status {
            endpoint: e,
            status: 422,
            clerk: None,
        };
        let once = RetryClass::CreateOnce;
        assert!(may_retry(once, &limited));
        assert!(may_retry(once, &refused));
        assert!(!may_retry(once, &timeout));
        assert!(!may_retry(once, &reset));
        assert!(!may_retry(once, &server));
        assert!(!may_retry(once, &invalid));
        let idem = RetryClass::Idempotent;
        for retried in [&limited, &refused, &timeout, &reset, &server] {
            assert!(may_retry(idem, retried), "{retried:?}");
        }
        assert!(!may_retry(idem, &invalid));
        let not_found = ApiError::NotFound {
            endpoint: e,
            clerk: None,
        };
        assert!(!may_retry(idem, &not_found));
    }

    #[test]
    fn ids_cannot_change_the_path() {
        let e = Endpoint::BanUser;
        assert!(check_id(e, "user_id", "user_2abcDEF-9").is_ok());
        for bad in [
            "",
            "..",
            ".",
            "user/1",
            "user_1?x=1",
            "user 1",
            "user_1#",
            "ü",
            "a%2F",
        ] {
            let err = check_id(e, "user_id", bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    ApiError::InvalidParam {
                        param: "user_id",
                        ..
                    }
                ),
                "{bad:?}: {err:?}"
            );
        }
        assert!(check_id(e, "user_id", &"a".repeat(MAX_ID_LEN + 1)).is_err());
        let err = check_id(e, "user_id", "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "POST /v1/users/{user_id}/ban: invalid user_id: it is empty"
        );
    }

    #[test]
    fn deleted_objects_parse_and_must_say_deleted() {
        let ok = http::Response::builder()
            .status(200)
            .body(br#"{"object":"user","id":"user_1","deleted":true,"extra":1}"#.to_vec())
            .unwrap();
        let d = parse_deleted(Endpoint::DeleteUser, &ok).unwrap();
        assert_eq!(
            (d.object.as_str(), d.id.as_deref()),
            ("user", Some("user_1"))
        );
        let not = http::Response::builder()
            .status(200)
            .body(br#"{"object":"user","id":"user_1","deleted":false}"#.to_vec())
            .unwrap();
        assert!(matches!(
            parse_deleted(Endpoint::DeleteUser, &not),
            Err(ApiError::Malformed { .. })
        ));
        let missing = http::Response::builder()
            .status(404)
            .body(br#"{"errors":[{"code":"resource_not_found","message":"not found"}]}"#.to_vec())
            .unwrap();
        assert!(matches!(
            parse_deleted(Endpoint::DeleteUser, &missing),
            Err(ApiError::NotFound { .. })
        ));
    }
}
