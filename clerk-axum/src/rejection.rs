//! [`ClerkRejection`]: why an extractor refused a request, and the response it becomes.
//!
//! The reasons are clerk-core's one [`Refusal`] type, shared with clerk-rocket; this crate
//! only wraps it to implement [`IntoResponse`] (status, `WWW-Authenticate`, `Retry-After`,
//! JSON body, all from [`Refusal::failure`]).

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clerk_core::flow::Misconfiguration;
pub use clerk_core::flow::Refusal;

pub use clerk_core::rejection::SESSION_TOKEN_MISSING;
pub use clerk_core::rejection::{SessionDependency, UserDependency};

/// The message of the 500 answered when an extractor runs on a route without [`ClerkLayer`].
///
/// [`ClerkLayer`]: crate::ClerkLayer
pub const LAYER_MISSING_MESSAGE: &str = "ClerkLayer is not installed on this route";

/// The message of the 500 answered when [`ClerkUser`](crate::ClerkUser) runs on a route
/// whose layer was given no store.
pub const USER_PROVISIONING_MISSING_MESSAGE: &str =
    "ClerkUser needs a store: build the layer with Clerk::builder(config, store) or ClerkLayer::with_users(..)";

/// The message of the 500 answered when session mode is on but tower-sessions'
/// `SessionManagerLayer` does not wrap the route.
pub const SESSION_LAYER_MISSING_MESSAGE: &str =
    "session mode is on but no tower-sessions SessionManagerLayer wraps this route (add it outside ClerkLayer, or build with Clerk::builder)";

pub(crate) const LAYER_MISSING: Misconfiguration = Misconfiguration {
    reason: "clerk-layer-missing",
    message: LAYER_MISSING_MESSAGE,
};

pub(crate) const USER_PROVISIONING_MISSING: Misconfiguration = Misconfiguration {
    reason: "user-provisioning-missing",
    message: USER_PROVISIONING_MISSING_MESSAGE,
};

#[cfg_attr(not(feature = "sessions"), allow(dead_code))]
pub(crate) const SESSION_LAYER_MISSING: Misconfiguration = Misconfiguration {
    reason: "session-layer-missing",
    message: SESSION_LAYER_MISSING_MESSAGE,
};

clerk_core::__adapter_types!("Why a `clerk-axum` extractor refused a request: clerk-core's one [`Refusal`] type, as an [`IntoResponse`]. The statuses, headers and bodies are [`Refusal`]'s, the same as clerk-rocket's:");

impl ClerkRejection {
    /// The 500 of an extractor on a route [`ClerkLayer`](crate::ClerkLayer) does not wrap.
    pub const LAYER_MISSING: ClerkRejection = ClerkRejection(Refusal::Misconfigured(LAYER_MISSING));
    /// The 500 of [`ClerkUser`](crate::ClerkUser) on a route whose layer has no store.
    pub const USER_PROVISIONING_MISSING: ClerkRejection =
        ClerkRejection(Refusal::Misconfigured(USER_PROVISIONING_MISSING));

    /// The HTTP status this rejection answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ClerkRejection {
    fn into_response(self) -> Response {
        self.0.log();
        let failure = self.0.failure();
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
