//! [`ClerkRejection`]: why an extractor refused a request, and the response it becomes.

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clerk_core::jwks::JwksError;
use clerk_core::rejection::Failure;
use clerk_core::Rejection;

pub use clerk_core::rejection::SESSION_TOKEN_MISSING;

/// The message of the 500 answered when an extractor runs on a route without [`ClerkLayer`].
///
/// [`ClerkLayer`]: crate::ClerkLayer
pub const LAYER_MISSING_MESSAGE: &str = "ClerkLayer is not installed on this route";

/// The message of the 500 answered when [`ClerkUser`](crate::ClerkUser) runs on a route
/// without a [`UserProvisioning`](crate::UserProvisioning) extension.
pub const USER_PROVISIONING_MISSING_MESSAGE: &str =
    "UserProvisioning is not installed on this route (add .layer(Extension(UserProvisioning::new(..))))";

pub use clerk_core::rejection::{SessionDependency, UserDependency};

/// The message of the 500 answered when session mode is on but tower-sessions'
/// `SessionManagerLayer` does not wrap the route.
pub const SESSION_LAYER_MISSING_MESSAGE: &str =
    "session mode is on but no tower-sessions SessionManagerLayer wraps this route (add it outside ClerkLayer)";

/// Why a `clerk-axum` extractor refused a request. Every variant is an [`IntoResponse`]:
///
/// | variant | status | headers | JSON body |
/// |---------|--------|---------|-----------|
/// | [`MissingToken`](Self::MissingToken) | 401 | `WWW-Authenticate: Bearer` | `{"error":"unauthenticated","reason":"session-token-missing"}` |
/// | [`InvalidToken`](Self::InvalidToken) | 401 | `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":<Clerk's reason>}` (`token-expired`, `token-invalid-signature`, `token-invalid` for a malformed `Authorization` header, …) |
/// | [`Unavailable`](Self::Unavailable) | 503 | | `{"error":"service_unavailable","reason":"jwk-failed-to-load"}` |
/// | [`NoActiveOrganization`](Self::NoActiveOrganization) | 403 | | `{"error":"no_active_organization"}` |
/// | [`MissingRole`](Self::MissingRole) | 403 | | `{"error":"forbidden","reason":"missing_role","required":<role>}` |
/// | [`MissingPermission`](Self::MissingPermission) | 403 | | `{"error":"forbidden","reason":"missing_permission","required":<permission>}` |
/// | [`LayerMissing`](Self::LayerMissing) | 500 | | `{"error":"internal_error","reason":"clerk-layer-missing","message":"ClerkLayer is not installed on this route"}` |
/// | [`UserNotFound`](Self::UserNotFound) | 401 | `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":"user-not-found"}` |
/// | [`UserDeleted`](Self::UserDeleted) | 401 | `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":"user-deleted"}` |
/// | [`UserUnavailable`](Self::UserUnavailable) | 503 | | `{"error":"service_unavailable","reason":"user-store-unavailable"}` or `"backend-api-unavailable"` |
/// | [`SessionEnded`](Self::SessionEnded) | 401 | `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":"session-revoked"}` or `"user-banned"`, `"user-inactive"`, `"user-deleted"` |
/// | [`UserConflict`](Self::UserConflict) | 409 | | `{"error":"conflict","reason":"user-conflict"}` (the user's email is held by another row that may not be linked) |
/// | [`ClerkUnavailable`](Self::ClerkUnavailable) | 503 | `Retry-After: <seconds>` | `{"error":"service_unavailable","reason":"clerk-unavailable"}` |
/// | [`UserProvisioningMissing`](Self::UserProvisioningMissing) | 500 | | `{"error":"internal_error","reason":"user-provisioning-missing","message":…}` |
/// | [`SessionRevalidationRequired`](Self::SessionRevalidationRequired) | 401 | `WWW-Authenticate: Bearer` | `{"error":"unauthenticated","reason":"session-revalidation-required"}` |
/// | [`SessionUnavailable`](Self::SessionUnavailable) | 503 | | `{"error":"service_unavailable","reason":"session-store-unavailable"}` or `"user-store-unavailable"` |
/// | [`SessionLayerMissing`](Self::SessionLayerMissing) | 500 | | `{"error":"internal_error","reason":"session-layer-missing","message":…}` |
/// | [`StaffLoginRequired`](Self::StaffLoginRequired) | 401 | | `{"error":"unauthenticated","reason":"staff-login-required"}` |
///
/// The 401 headers follow RFC 6750: a request without credentials gets the bare challenge,
/// one with rejected credentials gets `error="invalid_token"`. Both start with `Bearer`, the
/// challenge [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) requires. Bodies never contain the token.
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
    /// The active organization role is not the one required (or there is no active
    /// organization at all).
    #[error("the organization role {required:?} is required")]
    MissingRole {
        /// The role the route requires.
        required: &'static str,
    },
    /// The active organization does not grant the permission required (or there is no active
    /// organization at all).
    #[error("the organization permission {required:?} is required")]
    MissingPermission {
        /// The permission the route requires.
        required: &'static str,
    },
    /// A [`Require`](crate::Require) requirement (feature, plan, reverification, no
    /// impersonation) refused the session: clerk-core's 403.
    #[error("the route's requirement is not met: {0:?}")]
    Forbidden(Failure),
    /// An extractor ran on a route that [`ClerkLayer`](crate::ClerkLayer) does not cover: a
    /// programming error, answered with 500.
    #[error("ClerkLayer is not installed on this route")]
    LayerMissing,
    /// The token verified but its user does not exist (Clerk answered 404, or the store lacks
    /// it and no Backend API is configured): answered like a bad token (401).
    #[error("the token's user does not exist")]
    UserNotFound,
    /// The token's user was deleted in Clerk (a tombstone in the store): 401.
    #[error("the token's user was deleted")]
    UserDeleted,
    /// The stored user could not be had: the store or the Backend API failed (503).
    #[error("user lookup unavailable: {0:?}")]
    UserUnavailable(UserDependency),
    /// The token's session was revoked, or its user is banned, locked, deactivated or
    /// deleted: 401 with that reason (`session-revoked`, `user-banned`, …), like a bad token.
    /// Session mode does not establish a session for it either.
    #[error("session ended: {0}")]
    SessionEnded(clerk_core::session::EndReason),
    /// The token's user could not be stored for good: its email is held by another row that
    /// may not be linked (409 `user-conflict`).
    #[error("the token's user conflicts with a stored user")]
    UserConflict,
    /// The stored user had to be fetched from Clerk, and Clerk is down, throttling or slow
    /// (just-in-time provisioning ran out of its budget): 503 with `Retry-After`.
    #[error("Clerk unavailable; retry after {retry_after_secs} s")]
    ClerkUnavailable {
        /// The `Retry-After` seconds.
        retry_after_secs: u32,
    },
    /// [`ClerkUser`](crate::ClerkUser) ran without a
    /// [`UserProvisioning`](crate::UserProvisioning) extension: a programming error (500).
    #[error("UserProvisioning is not installed on this route")]
    UserProvisioningMissing,
    /// Session mode: the session's revalidation interval passed and the request carries no
    /// token to revalidate it with (401, reason
    /// [`REVALIDATION_REQUIRED`](clerk_core::session::REVALIDATION_REQUIRED)).
    #[error("the session must be revalidated with a fresh token")]
    SessionRevalidationRequired,
    /// Session mode: the session store or the user store failed (503): never "signed in",
    /// never "signed out".
    #[error("session unavailable: {0:?}")]
    SessionUnavailable(SessionDependency),
    /// Session mode is on but no tower-sessions `SessionManagerLayer` wraps the route: a
    /// programming error (500).
    #[error("no SessionManagerLayer wraps this route")]
    SessionLayerMissing,
    /// Hybrid mode: the route needs a local staff login and the request has none (a Clerk
    /// token or Clerk session never counts).
    #[error("a local staff login is required")]
    StaffLoginRequired,
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
            ClerkRejection::LayerMissing => Failure::Misconfigured {
                reason: "clerk-layer-missing",
                message: LAYER_MISSING_MESSAGE,
            },
            ClerkRejection::UserNotFound => Failure::UserNotFound,
            ClerkRejection::UserDeleted => Failure::UserDeleted,
            ClerkRejection::UserConflict => Failure::UserConflict,
            ClerkRejection::SessionEnded(reason) => Failure::SessionEnded(*reason),
            ClerkRejection::UserUnavailable(which) => Failure::UserUnavailable {
                reason: which.reason(),
            },
            ClerkRejection::ClerkUnavailable { retry_after_secs } => Failure::ClerkUnavailable {
                retry_after_secs: *retry_after_secs,
            },
            ClerkRejection::UserProvisioningMissing => Failure::Misconfigured {
                reason: "user-provisioning-missing",
                message: USER_PROVISIONING_MISSING_MESSAGE,
            },
            ClerkRejection::SessionRevalidationRequired => Failure::SessionRevalidationRequired,
            ClerkRejection::SessionUnavailable(which) => Failure::SessionUnavailable(*which),
            ClerkRejection::SessionLayerMissing => Failure::Misconfigured {
                reason: "session-layer-missing",
                message: SESSION_LAYER_MISSING_MESSAGE,
            },
            ClerkRejection::StaffLoginRequired => Failure::StaffLoginRequired,
        }
    }

    /// The HTTP status this rejection answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.failure().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `reason` of the JSON body, if it has one.
    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        self.failure().reason()
    }
}

impl IntoResponse for ClerkRejection {
    fn into_response(self) -> Response {
        match &self {
            ClerkRejection::Unavailable(error) => {
                tracing::warn!(%error, "no signing keys: request refused with 503");
            }
            ClerkRejection::UserProvisioningMissing => {
                tracing::error!("{USER_PROVISIONING_MISSING_MESSAGE}");
            }
            ClerkRejection::SessionLayerMissing => {
                tracing::error!("{SESSION_LAYER_MISSING_MESSAGE}");
            }
            ClerkRejection::LayerMissing => tracing::error!(
                "{LAYER_MISSING_MESSAGE}: add `.layer(ClerkLayer::new(..))` to the router"
            ),
            _ => {}
        }
        let failure = self.failure();
        let mut response = (self.status(), Json(failure.body())).into_response();
        if let Some(challenge) = failure.challenge() {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = failure.retry_after() {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
