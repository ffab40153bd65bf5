//! Hybrid mode: local staff sessions ([`LocalStaff`], [`StaffSession`]). The login and logout
//! flows are clerk-core's ([`clerk_core::flow::staff`]); this file is the extractor glue.

use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use clerk_core::flow::session::{SessionFlow, StaffState};
use clerk_core::flow::Refusal;
#[cfg(feature = "hybrid")]
use clerk_core::model::User;

pub use clerk_core::flow::staff::StaffLoginError;

use super::TowerBackend;
use crate::rejection::SESSION_LAYER_MISSING;
use crate::ClerkRejection;

clerk_core::__staff_type!();

fn layer_missing() -> ClerkRejection {
    ClerkRejection(Refusal::Misconfigured(SESSION_LAYER_MISSING))
}

/// `Option<LocalStaff>` is `None` when there is no staff login (routes that redirect to a
/// login page) and still rejects on failures.
impl<S: Send + Sync> OptionalFromRequestParts<S> for LocalStaff {
    type Rejection = ClerkRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let state = parts
            .extensions
            .get::<StaffState>()
            .ok_or_else(layer_missing)?;
        Ok(state.staff()?.map(LocalStaff))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LocalStaff {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <LocalStaff as OptionalFromRequestParts<S>>::from_request_parts(parts, state)
            .await?
            .ok_or(ClerkRejection(Refusal::StaffLoginRequired))
    }
}

/// The request's session, for logging local staff in and out (hybrid mode). Extract it in
/// the login and logout handlers; it needs session mode on the route (500 otherwise).
#[derive(Clone)]
pub struct StaffSession {
    pub(crate) backend: TowerBackend,
    pub(crate) flow: Arc<SessionFlow>,
    /// The peer's address (`ConnectInfo<SocketAddr>`), for the per-address login throttle.
    pub(crate) client: Option<std::net::IpAddr>,
}

impl fmt::Debug for StaffSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffSession")
            .field("session_id", &self.backend.0.id().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for StaffSession {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<StaffSession>()
            .cloned()
            .ok_or_else(layer_missing)
    }
}

impl StaffSession {
    /// Logs a local staff user in ([`SessionFlow::staff_login`]): the password check runs on
    /// tokio's blocking pool, at most the login gate's number at once; the session id is
    /// rotated and whatever the session held ends. Failed logins are throttled per username
    /// and per peer address, from `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`; without it only usernames are
    /// throttled).
    ///
    /// # Errors
    /// [`StaffLoginError::Refused`] for bad credentials, [`StaffLoginError::Throttled`] after
    /// too many failures, [`StaffLoginError::Busy`] when too many checks run,
    /// [`StaffLoginError::Unavailable`] when a store failed.
    #[cfg(feature = "hybrid")]
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Arc<User>, StaffLoginError> {
        self.flow
            .staff_login(
                &self.backend,
                username,
                password,
                self.client,
                |job| async move { tokio::task::spawn_blocking(job).await.ok() },
            )
            .await
    }

    /// Ends the session whatever it holds ([`SessionFlow::staff_logout`]).
    ///
    /// # Errors
    /// [`StaffLoginError::Unavailable`] when the session store failed.
    pub async fn logout(&self) -> Result<(), StaffLoginError> {
        self.flow.staff_logout(&self.backend).await
    }
}
