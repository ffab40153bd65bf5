//! Hybrid mode: local staff sign in with a username and password into a session without the
//! Clerk marker ([`StaffSession::login`]); [`LocalStaff`] is such a signed-in staff user.
//!
//! A Clerk token or Clerk session never satisfies [`LocalStaff`], and a local login never
//! satisfies [`ClerkAuth`](crate::ClerkAuth). The staff user is read again on every request,
//! so one who lost `is_staff`, was deactivated, banned, locked or deleted is out at once.
//! Logging in rotates the session id (no fixation) and records `last_login`; logging out
//! deletes the session and records `last_logout`, so the old cookie opens nothing.

use std::fmt;
use std::sync::Arc;

use clerk_core::flow::session::SessionFlow;
use clerk_core::flow::Refusal;
use clerk_core::model::User;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};

pub use clerk_core::flow::staff::StaffLoginError;

use super::RocketBackend;
use crate::guard::{fairing_missing, outcome};
use crate::rejection::{fail, FAIRING_MISSING, SESSION_MODE_MISSING};
use crate::{ClerkRejection, ClerkState};

clerk_core::__staff_type!();

fn mode<'r>(request: &'r Request<'_>) -> Result<(&'r ClerkState, &'r SessionFlow), Refusal> {
    let state = request
        .rocket()
        .state::<ClerkState>()
        .ok_or(Refusal::Misconfigured(FAIRING_MISSING))?;
    let flow = state
        .sessions()
        .ok_or(Refusal::Misconfigured(SESSION_MODE_MISSING))?;
    Ok((state, flow))
}

async fn staff(request: &Request<'_>) -> Result<Arc<User>, ClerkRejection> {
    mode(request)?;
    let (_, staff) = outcome(request).await?;
    staff
        .staff()?
        .ok_or(ClerkRejection(Refusal::StaffLoginRequired))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LocalStaff {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match staff(request).await {
            Ok(user) => Outcome::Success(LocalStaff(user)),
            Err(rejection) => fail(request, rejection),
        }
    }
}

impl Sentinel for LocalStaff {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        sessions_missing(rocket, "LocalStaff")
    }
}

impl Sentinel for StaffSession<'_> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        sessions_missing(rocket, "StaffSession")
    }
}

fn sessions_missing(rocket: &Rocket<Ignite>, guard: &str) -> bool {
    if fairing_missing(rocket, guard) {
        return true;
    }
    let missing = rocket
        .state::<ClerkState>()
        .is_some_and(|state| state.sessions().is_none());
    if missing {
        tracing::error!(
            "a route uses the `{guard}` guard but session mode is off: use `ClerkFairing::sessions(..)`"
        );
    }
    missing
}

/// The request's session, for logging local staff in and out. Take it as a guard in the login
/// and logout handlers; it needs session mode (500 otherwise).
pub struct StaffSession<'r> {
    backend: RocketBackend<'r>,
    flow: SessionFlow,
    client: Option<std::net::IpAddr>,
}

impl fmt::Debug for StaffSession<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffSession").finish_non_exhaustive()
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for StaffSession<'r> {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        match mode(request) {
            Ok((state, flow)) => Outcome::Success(StaffSession {
                backend: RocketBackend::new(request, Arc::clone(state.session_store()), flow),
                flow: flow.clone(),
                client: request.remote().map(|peer| peer.ip()),
            }),
            Err(refusal) => fail(request, ClerkRejection(refusal)),
        }
    }
}

impl StaffSession<'_> {
    /// Logs a local staff user in ([`SessionFlow::staff_login`]): the password check runs on
    /// tokio's blocking pool, at most the login gate's number at once; the session id is
    /// rotated and whatever the session held ends. Failed logins are throttled per username
    /// and per peer address ([`Request::remote`], not [`Request::client_ip`], which believes
    /// an `X-Real-IP` header any client can send).
    ///
    /// # Errors
    /// [`StaffLoginError::Refused`] for bad credentials, [`StaffLoginError::Throttled`] after
    /// too many failures, [`StaffLoginError::Busy`] when too many checks run,
    /// [`StaffLoginError::Unavailable`] when a store failed.
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
                |job| async move { rocket::tokio::task::spawn_blocking(job).await.ok() },
            )
            .await
    }

    /// Ends the session whatever it holds ([`SessionFlow::staff_logout`]): the old cookie
    /// opens nothing.
    ///
    /// # Errors
    /// [`StaffLoginError::Unavailable`] when the session store failed.
    pub async fn logout(&self) -> Result<(), StaffLoginError> {
        self.flow.staff_logout(&self.backend).await
    }
}
