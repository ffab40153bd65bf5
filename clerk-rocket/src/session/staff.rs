//! Hybrid mode: local staff sign in with a username and password into a session without the
//! Clerk marker ([`StaffSession::login`]); [`LocalStaff`] is such a signed-in staff user.
//!
//! A Clerk token or Clerk session never satisfies [`LocalStaff`], and a local login never
//! satisfies [`ClerkAuth`](crate::ClerkAuth). The staff user is read again on every request,
//! so one who lost `is_staff`, was deactivated, banned, locked or deleted is out at once.
//! Logging in rotates the session id (no fixation) and records `last_login`; logging out
//! deletes the session and records `last_logout`, so the old cookie opens nothing.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use clerk_core::login_gate::{gated_staff_login, GatedLoginError};
use clerk_core::model::{User, UserId};
use clerk_core::password::LocalLoginError;
use clerk_core::session::{may_hold_staff_session, StaffDecision};
use clerk_core::store::{Change, UserRef, WriteBatch};
use clerk_core::time::{Clock, SystemClock};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};

use super::{
    cookie_id, new_session_id, remove_cookie, set_cookie, SessionData, SessionDependency,
    SessionMode,
};
use crate::guard::fairing_missing;
use crate::rejection::fail;
use crate::{ClerkRejection, ClerkState};

/// A signed-in local staff user (hybrid mode). Fails with 401 `staff-login-required` when the
/// request has no staff login, 503 when the session or user store failed, 500 without session
/// mode. Use `Result<LocalStaff, ClerkRejection>` in routes that redirect to a login page.
#[derive(Clone)]
pub struct LocalStaff(pub Arc<User>);

impl fmt::Debug for LocalStaff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStaff")
            .field("user_id", &self.0.id)
            .finish_non_exhaustive()
    }
}

impl Deref for LocalStaff {
    type Target = User;

    fn deref(&self) -> &User {
        &self.0
    }
}

fn mode<'r>(request: &'r Request<'_>) -> Result<&'r SessionMode, ClerkRejection> {
    request
        .rocket()
        .state::<ClerkState>()
        .ok_or(ClerkRejection::FairingMissing)?
        .sessions()
        .ok_or(ClerkRejection::SessionModeMissing)
}

fn clock(request: &Request<'_>) -> Arc<dyn Clock> {
    match request.rocket().state::<ClerkState>() {
        Some(state) => Arc::clone(state.authenticator().clock()),
        None => Arc::new(SystemClock),
    }
}

struct CachedStaff(Result<Arc<User>, ClerkRejection>);

async fn staff(request: &Request<'_>) -> Result<Arc<User>, ClerkRejection> {
    let mode = mode(request)?;
    let Some(id) = cookie_id(request) else {
        return Err(ClerkRejection::StaffLoginRequired);
    };
    let data = mode.sessions.load(&id).await.map_err(|error| {
        tracing::warn!(%error, "session store failed: request refused with 503");
        ClerkRejection::SessionUnavailable(SessionDependency::SessionStore)
    })?;
    let Some((data, user_id)) = data.and_then(|d| d.local_user.map(|user_id| (d, user_id))) else {
        return Err(ClerkRejection::StaffLoginRequired);
    };
    let id = id.as_str();
    let end = |why: &'static str| async move {
        tracing::info!(user_id, "{why}: staff session ended");
        let _ = mode.sessions.delete(id).await;
        remove_cookie(request);
        Err(ClerkRejection::StaffLoginRequired)
    };
    let now = clock(request).now();
    let decision = mode
        .staff_lifetime
        .decide(data.local_login_at, data.local_last_seen, now);
    if decision == StaffDecision::Expired {
        return end("expired").await;
    }
    let user = mode.store.user(UserId(user_id)).await.map_err(|error| {
        tracing::warn!(%error, "user store failed: request refused with 503");
        ClerkRejection::SessionUnavailable(SessionDependency::UserStore)
    })?;
    match user {
        Some(user) if may_hold_staff_session(&user) => {
            if decision == StaffDecision::ServeAndTouch {
                let touched = SessionData {
                    local_last_seen: Some(now),
                    ..data
                };
                mode.sessions.save(id, touched).await.map_err(|error| {
                    tracing::warn!(%error, "session store failed: request refused with 503");
                    ClerkRejection::SessionUnavailable(SessionDependency::SessionStore)
                })?;
            }
            Ok(Arc::new(user))
        }
        _ => end("the user is no longer staff").await,
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LocalStaff {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        let cached = request
            .local_cache_async(async { CachedStaff(staff(request).await) })
            .await;
        match &cached.0 {
            Ok(user) => Outcome::Success(LocalStaff(Arc::clone(user))),
            Err(rejection) => fail(request, rejection.clone()),
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

/// The request's session, for logging local staff in and out.
pub struct StaffSession<'r> {
    request: &'r Request<'r>,
    mode: SessionMode,
    clock: Arc<dyn Clock>,
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
            Ok(mode) => Outcome::Success(StaffSession {
                // Rocket hands guards `&'r Request<'_>`; the cookie jar lives as long.
                request: shorten(request),
                mode: mode.clone(),
                clock: clock(request),
            }),
            Err(rejection) => fail(request, rejection),
        }
    }
}

fn shorten<'r>(request: &'r Request<'_>) -> &'r Request<'r> {
    request
}

/// A staff login failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StaffLoginError {
    /// Unknown user, wrong password, not staff, or inactive: show one message for all of
    /// them; the inner error is for logs and tests.
    #[error("login refused: {0}")]
    Refused(LocalLoginError),
    /// The session store or the user store failed: answer 503.
    #[error("unavailable: {}", .0.reason())]
    Unavailable(SessionDependency),
    /// Too many password checks at once ([`SessionMode::staff_login_concurrency`](super::SessionMode::staff_login_concurrency)):
    /// answer 503 with `Retry-After`; nothing was checked.
    #[error("too many logins at once; retry after {retry_after:?}")]
    Busy {
        /// The `Retry-After` to answer with.
        retry_after: std::time::Duration,
    },
    /// Too many failed logins for the username or from the client address
    /// ([`clerk_core::login_throttle`]): answer 429 with `Retry-After`, whatever the
    /// password; nothing was checked.
    #[error("too many failed logins; retry after {retry_after:?}")]
    Throttled {
        /// The `Retry-After` to answer with (whole seconds).
        retry_after: std::time::Duration,
    },
}

impl StaffLoginError {
    /// Whether this is an infrastructure failure (503) rather than refused credentials.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StaffLoginError::Unavailable(_) | StaffLoginError::Busy { .. }
        )
    }
}

impl StaffSession<'_> {
    /// Checks `username` and `password` against the mirror's local staff users
    /// ([`clerk_core::password::authenticate_staff`]'s rules, the argon2 check on tokio's
    /// blocking pool); on success records the login, ends whatever session the
    /// request had (a Clerk one included) and starts a staff session under a fresh id. On
    /// failure nothing changes.
    ///
    /// Failed logins are throttled per username and per client address
    /// ([`gated_staff_login`]). The address is the connection's peer
    /// ([`Request::remote`]), not [`Request::client_ip`], which believes an `X-Real-IP`
    /// header any client can send. Behind a reverse proxy the peer is the proxy, so the
    /// address limit counts every client of the proxy together; the username limit works
    /// either way.
    ///
    /// # Errors
    /// [`StaffLoginError::Refused`] for bad credentials, [`StaffLoginError::Throttled`] after
    /// too many failures, [`StaffLoginError::Busy`] when too many checks run at once,
    /// [`StaffLoginError::Unavailable`] when a store failed.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Arc<User>, StaffLoginError> {
        let checked = gated_staff_login(
            &self.mode.login_gate,
            self.mode.store.as_ref(),
            username,
            password,
            self.request.remote().map(|peer| peer.ip()),
            self.clock.now(),
            |job| async move { rocket::tokio::task::spawn_blocking(job).await.ok() },
        )
        .await;
        let user = match checked {
            Ok(user) => user,
            Err(GatedLoginError::Throttled { retry_after, scope }) => {
                tracing::warn!(?scope, "staff login refused: too many failed logins (429)");
                return Err(StaffLoginError::Throttled { retry_after });
            }
            Err(GatedLoginError::Busy(full)) => {
                tracing::warn!("staff login refused: too many password checks at once (503)");
                return Err(StaffLoginError::Busy {
                    retry_after: full.retry_after,
                });
            }
            Err(GatedLoginError::Login(LocalLoginError::Store(error))) => {
                tracing::warn!(%error, "staff login: user store failed");
                return Err(StaffLoginError::Unavailable(SessionDependency::UserStore));
            }
            Err(GatedLoginError::Login(error)) => {
                tracing::info!(%error, "staff login refused");
                return Err(StaffLoginError::Refused(error));
            }
            Err(other) => {
                // The blocking task panicked or the runtime is shutting down.
                tracing::error!(error = %other, "staff login: the password check did not complete");
                return Err(StaffLoginError::Unavailable(SessionDependency::UserStore));
            }
        };
        let now = self.clock.now();
        let change = Change::RecordLogin {
            user: UserRef::Id(user.id),
            at: now,
        };
        if let Err(error) = self.mode.store.apply(WriteBatch::single(now, change)).await {
            tracing::warn!(%error, "staff login: recording the login failed");
            return Err(StaffLoginError::Unavailable(SessionDependency::UserStore));
        }
        let sessions = &self.mode.sessions;
        if let Some(old) = cookie_id(self.request) {
            sessions
                .delete(&old)
                .await
                .map_err(|_| StaffLoginError::Unavailable(SessionDependency::SessionStore))?;
        }
        let id = new_session_id();
        let data = SessionData {
            clerk: None,
            local_user: Some(user.id.0),
            local_login_at: Some(now),
            local_last_seen: None,
        };
        sessions
            .save(&id, data)
            .await
            .map_err(|_| StaffLoginError::Unavailable(SessionDependency::SessionStore))?;
        set_cookie(self.request, id);
        tracing::info!(user_id = user.id.0, "staff logged in");
        Ok(Arc::new(user))
    }

    /// Ends the request's session (whatever it held) and records the staff user's logout.
    ///
    /// # Errors
    /// [`StaffLoginError::Unavailable`] when the session store failed.
    pub async fn logout(&self) -> Result<(), StaffLoginError> {
        let Some(id) = cookie_id(self.request) else {
            return Ok(());
        };
        let sessions = &self.mode.sessions;
        let data = sessions
            .load(&id)
            .await
            .map_err(|_| StaffLoginError::Unavailable(SessionDependency::SessionStore))?;
        sessions
            .delete(&id)
            .await
            .map_err(|_| StaffLoginError::Unavailable(SessionDependency::SessionStore))?;
        remove_cookie(self.request);
        if let Some(user_id) = data.and_then(|d| d.local_user) {
            let now = self.clock.now();
            let change = Change::RecordLogout {
                user: UserRef::Id(UserId(user_id)),
                at: now,
            };
            // The session is over either way; a missed last_logout is only bookkeeping.
            if let Err(error) = self.mode.store.apply(WriteBatch::single(now, change)).await {
                tracing::warn!(%error, "staff logout: recording the logout failed");
            }
            tracing::info!(user_id, "staff logged out");
        }
        Ok(())
    }
}
