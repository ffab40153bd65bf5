//! [`ClerkRejection`]: why a guard refused a request, the response it becomes, and the
//! [`catchers`] that give Rocket's error path the same answers.

use std::io::Cursor;
use std::sync::Mutex;

use clerk_core::jwks::JwksError;
use clerk_core::provision::ProvisionError;
use clerk_core::rejection::Failure;
use clerk_core::Rejection;
use rocket::catcher::{self, Catcher};
use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde_json::{json, Value};

use crate::session::SessionDependency;

pub use clerk_core::rejection::SESSION_TOKEN_MISSING;

/// The message of the 500 answered when a guard runs without [`ClerkFairing`](crate::ClerkFairing)
/// (only possible when the [`Sentinel`](rocket::Sentinel) could not see the guard, for example
/// one called through `request.guard()`).
pub const FAIRING_MISSING_MESSAGE: &str = "ClerkFairing is not attached to this Rocket";

/// The message of the 500 answered when [`ClerkUser`](crate::ClerkUser) runs but the fairing
/// was given no store.
pub const STORE_MISSING_MESSAGE: &str =
    "ClerkFairing has no store (attach it with ClerkFairing::new().store(..))";

/// The message of the 500 answered when a session guard runs but session mode is off.
pub const SESSION_MODE_MISSING_MESSAGE: &str =
    "session mode is off (turn it on with ClerkFairing::sessions(..))";

/// Why a `clerk-rocket` guard refused a request. Every variant is a [`Responder`]; guards
/// fail with it and [`catchers`] render it, with the same statuses, headers and JSON bodies
/// as `clerk-axum`'s `ClerkRejection`:
///
/// | variant | status | headers | JSON body |
/// |---------|--------|---------|-----------|
/// | [`MissingToken`](Self::MissingToken) | 401 | `WWW-Authenticate: Bearer` | `{"error":"unauthenticated","reason":"session-token-missing"}` |
/// | [`InvalidToken`](Self::InvalidToken) | 401 | `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":<Clerk's reason>}` |
/// | [`Unavailable`](Self::Unavailable) | 503 | | `{"error":"service_unavailable","reason":"jwk-failed-to-load"}` |
/// | [`NoActiveOrganization`](Self::NoActiveOrganization) | 403 | | `{"error":"no_active_organization"}` |
/// | [`MissingRole`](Self::MissingRole) | 403 | | `{"error":"forbidden","reason":"missing_role","required":<role>}` |
/// | [`MissingPermission`](Self::MissingPermission) | 403 | | `{"error":"forbidden","reason":"missing_permission","required":<permission>}` |
/// | [`Forbidden`](Self::Forbidden) | 403 | | a [`Require`](crate::Require) refusal: `{"error":"forbidden","reason":"missing_feature"|"missing_plan","required":…}`, `{"error":"forbidden","reason":"impersonation_not_allowed"}`, or Clerk's `reverification-error` body |
/// | [`UserNotFound`](Self::UserNotFound) | 401 | `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":"user-not-found"}` |
/// | [`UserDeleted`](Self::UserDeleted) | 401 | `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":"user-deleted"}` |
/// | [`SessionEnded`](Self::SessionEnded) | 401 | `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":"session-revoked"}` or `"user-banned"`, `"user-inactive"`, `"user-deleted"` |
/// | [`UserUnavailable`](Self::UserUnavailable) | 503 | `Retry-After` for `clerk-unavailable` | `{"error":"service_unavailable","reason":"user-store-unavailable"}`, `"backend-api-unavailable"` or `"clerk-unavailable"` (Clerk down, throttling or slow) |
/// | [`UserUnavailable`](Self::UserUnavailable) with [`ProvisionError::Conflict`] | 409 | | `{"error":"conflict","reason":"user-conflict"}` (the user's email is held by another row that may not be linked) |
/// | [`FairingMissing`](Self::FairingMissing) | 500 | | `{"error":"internal_error","reason":"clerk-fairing-missing","message":…}` |
/// | [`StoreMissing`](Self::StoreMissing) | 500 | | `{"error":"internal_error","reason":"user-provisioning-missing","message":…}` |
/// | [`SessionRevalidationRequired`](Self::SessionRevalidationRequired) | 401 | `WWW-Authenticate: Bearer` | `{"error":"unauthenticated","reason":"session-revalidation-required"}` |
/// | [`SessionUnavailable`](Self::SessionUnavailable) | 503 | | `{"error":"service_unavailable","reason":"session-store-unavailable"}` or `"user-store-unavailable"` |
/// | [`SessionModeMissing`](Self::SessionModeMissing) | 500 | | `{"error":"internal_error","reason":"session-mode-missing","message":…}` |
/// | [`StaffLoginRequired`](Self::StaffLoginRequired) | 401 | | `{"error":"unauthenticated","reason":"staff-login-required"}` |
///
/// Bodies never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClerkRejection {
    /// The request carries no session token (no `Authorization` header, no `__session` cookie).
    #[error("no session token")]
    MissingToken,
    /// The request's token (or its `Authorization` header) was rejected.
    #[error("session token rejected: {0}")]
    InvalidToken(Rejection),
    /// No signing key could be had to check the token: an infrastructure failure.
    #[error("signing keys unavailable: {0}")]
    Unavailable(JwksError),
    /// Signed in, but the session has no active organization.
    #[error("the session has no active organization")]
    NoActiveOrganization,
    /// The active organization role is not the one required (or there is none).
    #[error("the organization role {required:?} is required")]
    MissingRole {
        /// The role the route requires.
        required: &'static str,
    },
    /// A [`Require`](crate::Require) requirement (feature, plan, reverification, no
    /// impersonation) refused the session: clerk-core's 403.
    #[error("the route's requirement is not met: {0:?}")]
    Forbidden(Failure),
    /// The active organization does not grant the permission required (or there is none).
    #[error("the organization permission {required:?} is required")]
    MissingPermission {
        /// The permission the route requires.
        required: &'static str,
    },
    /// The token verified but its user does not exist: 401.
    #[error("the token's user does not exist")]
    UserNotFound,
    /// The token's user was deleted in Clerk (a tombstone in the store): 401.
    #[error("the token's user was deleted")]
    UserDeleted,
    /// The token's session was revoked, or its user is banned, locked, deactivated or
    /// deleted: 401 with that reason (`session-revoked`, `user-banned`, …), like a bad token.
    /// Session mode does not establish a session for it either.
    #[error("session ended: {0}")]
    SessionEnded(clerk_core::session::EndReason),
    /// The stored user could not be had (503: the store or the Backend API failed), or the
    /// store refused it for good ([`ProvisionError::Conflict`]: 409 `user-conflict`); the
    /// status is [`Failure::from`] the error.
    #[error("user lookup failed: {0}")]
    UserUnavailable(ProvisionError),
    /// A guard ran without [`ClerkFairing`](crate::ClerkFairing): a programming error (500).
    #[error("ClerkFairing is not attached")]
    FairingMissing,
    /// [`ClerkUser`](crate::ClerkUser) ran but the fairing has no store: a programming error
    /// (500).
    #[error("ClerkFairing has no store")]
    StoreMissing,
    /// Session mode: the revalidation interval passed and the request carries no token to
    /// revalidate with (401, reason `session-revalidation-required`).
    #[error("the session must be revalidated with a fresh token")]
    SessionRevalidationRequired,
    /// Session mode: the session store or the mirror failed (503).
    #[error("session unavailable: {}", .0.reason())]
    SessionUnavailable(SessionDependency),
    /// A session guard ran but session mode is off: a programming error (500).
    #[error("session mode is off")]
    SessionModeMissing,
    /// Hybrid mode: the route needs a local staff login and the request has none (a Clerk
    /// token or session never counts): 401.
    #[error("a local staff login is required")]
    StaffLoginRequired,
}

impl From<ProvisionError> for ClerkRejection {
    fn from(error: ProvisionError) -> Self {
        match error {
            ProvisionError::NotFound => ClerkRejection::UserNotFound,
            ProvisionError::Deleted => ClerkRejection::UserDeleted,
            ProvisionError::Ended(reason) => ClerkRejection::SessionEnded(reason),
            other => ClerkRejection::UserUnavailable(other),
        }
    }
}

impl ClerkRejection {
    /// The framework-free failure this rejection answers as (status, challenge, body).
    fn failure(&self) -> Failure {
        match self {
            ClerkRejection::MissingToken => Failure::MissingToken,
            ClerkRejection::InvalidToken(rejection) => Failure::InvalidToken(rejection.reason()),
            ClerkRejection::Unavailable(_) => Failure::KeysUnavailable,
            ClerkRejection::NoActiveOrganization => Failure::NoActiveOrganization,
            ClerkRejection::MissingRole { required } => Failure::MissingRole { required },
            ClerkRejection::Forbidden(failure) => *failure,
            ClerkRejection::MissingPermission { required } => {
                Failure::MissingPermission { required }
            }
            ClerkRejection::UserNotFound => Failure::UserNotFound,
            ClerkRejection::UserDeleted => Failure::UserDeleted,
            ClerkRejection::SessionEnded(reason) => Failure::SessionEnded(*reason),
            ClerkRejection::UserUnavailable(error) => Failure::from(*error),
            ClerkRejection::FairingMissing => Failure::Misconfigured {
                reason: "clerk-fairing-missing",
                message: FAIRING_MISSING_MESSAGE,
            },
            ClerkRejection::StoreMissing => Failure::Misconfigured {
                reason: "user-provisioning-missing",
                message: STORE_MISSING_MESSAGE,
            },
            ClerkRejection::SessionRevalidationRequired => Failure::SessionRevalidationRequired,
            ClerkRejection::SessionUnavailable(which) => Failure::SessionUnavailable(*which),
            ClerkRejection::SessionModeMissing => Failure::Misconfigured {
                reason: "session-mode-missing",
                message: SESSION_MODE_MISSING_MESSAGE,
            },
            ClerkRejection::StaffLoginRequired => Failure::StaffLoginRequired,
        }
    }

    /// The HTTP status this rejection answers with.
    #[must_use]
    pub fn status(&self) -> Status {
        Status::new(self.failure().status())
    }

    /// The `reason` of the JSON body, if it has one.
    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        self.failure().reason()
    }

    /// The `WWW-Authenticate` challenge (RFC 6750: bare without credentials,
    /// `error="invalid_token"` for rejected ones), for the 401s.
    #[must_use]
    pub fn challenge(&self) -> Option<&'static str> {
        self.failure().challenge()
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Value {
        self.failure().body()
    }

    fn log(&self) {
        match self {
            ClerkRejection::Unavailable(error) => {
                tracing::warn!(%error, "no signing keys: request refused with 503");
            }
            ClerkRejection::FairingMissing => tracing::error!(
                "{FAIRING_MISSING_MESSAGE}: add `.attach(ClerkFairing::new())` to the Rocket"
            ),
            ClerkRejection::StoreMissing => tracing::error!("{STORE_MISSING_MESSAGE}"),
            _ => {}
        }
    }
}

/// A JSON response with `status` (and a `WWW-Authenticate` challenge).
pub(crate) fn json_response<'o>(
    status: Status,
    body: &Value,
    challenge: Option<&'static str>,
) -> Response<'o> {
    let text = body.to_string();
    let mut response = Response::build()
        .status(status)
        .header(ContentType::JSON)
        .sized_body(text.len(), Cursor::new(text))
        .finalize();
    if let Some(challenge) = challenge {
        response.set_header(Header::new("WWW-Authenticate", challenge));
    }
    response
}

impl<'r> Responder<'r, 'static> for ClerkRejection {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        self.log();
        let mut response = json_response(self.status(), &self.body(), self.challenge());
        if let Some(seconds) = self.failure().retry_after() {
            response.set_header(Header::new("Retry-After", seconds.to_string()));
        }
        Ok(response)
    }
}

/// Where a failing guard leaves its rejection for the catcher (Rocket hands catchers the
/// status only).
struct Stash(Mutex<Option<ClerkRejection>>);

/// Records `rejection` for [`catchers`] and returns the guard outcome failing with it.
pub(crate) fn fail<T>(
    request: &Request<'_>,
    rejection: ClerkRejection,
) -> rocket::request::Outcome<T, ClerkRejection> {
    let stash = request.local_cache(|| Stash(Mutex::new(None)));
    if let Ok(mut slot) = stash.0.lock() {
        *slot = Some(rejection.clone());
    }
    rocket::request::Outcome::Error((rejection.status(), rejection))
}

/// The rejection a guard of this crate failed the request with, if any.
#[must_use]
pub fn stashed_rejection(request: &Request<'_>) -> Option<ClerkRejection> {
    let stash = request.local_cache(|| Stash(Mutex::new(None)));
    stash.0.lock().ok().and_then(|slot| slot.clone())
}

#[derive(Clone)]
struct RejectionCatcher;

#[rocket::async_trait]
impl catcher::Handler for RejectionCatcher {
    async fn handle<'r>(&self, status: Status, request: &'r Request<'_>) -> catcher::Result<'r> {
        // A session ended or established before the guard failed still tells the browser.
        crate::session::replay_cookie(request);
        match stashed_rejection(request) {
            Some(rejection) if rejection.status() == status => rejection.respond_to(request),
            // Not ours (another guard or the handler failed with this status).
            _ => Ok(json_response(status, &generic_body(status), None)),
        }
    }
}

/// `{"error": "<reason phrase in snake case>"}` for errors that are not this crate's.
fn generic_body(status: Status) -> Value {
    let phrase = status
        .reason_lossy()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_");
    json!({ "error": phrase })
}

/// Catchers for 401, 403, 500 and 503 that answer a failed guard of this crate with its
/// [`ClerkRejection`] (status, `WWW-Authenticate`, JSON body), and other errors of those
/// statuses with `{"error":"<reason phrase>"}`. In session mode they also repeat the
/// request's session cookie change, which Rocket drops on its error path (an ended session's
/// cookie is removed even when the request then fails with 401). Register them at the root:
/// `rocket.register("/", clerk_rocket::catchers())`.
#[must_use]
pub fn catchers() -> Vec<Catcher> {
    [401, 403, 500, 503]
        .into_iter()
        .map(|code| {
            let mut catcher = Catcher::new(code, RejectionCatcher);
            catcher.name = Some(format!("clerk_rocket::catchers({code})").into());
            catcher
        })
        .collect()
}
