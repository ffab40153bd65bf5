//! Hybrid mode: local staff sessions ([`LocalStaff`], [`StaffSession`]).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use clerk_core::model::User;
use tower_sessions::Session;

use super::{LocalState, SessionMode};
use crate::rejection::SessionDependency;
use crate::ClerkRejection;

/// A signed-in local staff user (hybrid mode): a session holding a [`LocalLogin`](super::LocalLogin)
/// whose user is, as read again for this request, staff, active, not locked, banned or
/// deleted.
///
/// Rejects with 401 `staff-login-required` otherwise — a Clerk token or a Clerk session
/// never satisfies it — with 503 when the session or user store failed, and with 500 when
/// session mode is not on. `Option<LocalStaff>` is `None` when there is no staff login
/// (routes that redirect to a login page) and still rejects on failures.
#[derive(Clone)]
pub struct LocalStaff(pub Arc<User>);

impl fmt::Debug for LocalStaff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStaff")
            .field("user_id", &self.0.id)
            .finish_non_exhaustive()
    }
}

impl LocalStaff {
    /// The staff user's row.
    #[must_use]
    pub fn user(&self) -> &Arc<User> {
        &self.0
    }
}

impl Deref for LocalStaff {
    type Target = User;

    fn deref(&self) -> &User {
        &self.0
    }
}

fn local_state(parts: &Parts) -> Result<&LocalState, ClerkRejection> {
    parts
        .extensions
        .get::<LocalState>()
        .ok_or(ClerkRejection::SessionLayerMissing)
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for LocalStaff {
    type Rejection = ClerkRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match local_state(parts)? {
            LocalState::Staff(user) => Ok(Some(LocalStaff(Arc::clone(user)))),
            LocalState::None => Ok(None),
            LocalState::Unavailable(which) => Err(ClerkRejection::SessionUnavailable(*which)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LocalStaff {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <LocalStaff as OptionalFromRequestParts<S>>::from_request_parts(parts, state)
            .await?
            .ok_or(ClerkRejection::StaffLoginRequired)
    }
}

/// The request's session, for logging local staff in and out (hybrid mode). Extract it in
/// the login and logout handlers; it needs session mode on the route (500 otherwise).
#[derive(Clone)]
pub struct StaffSession {
    pub(crate) session: Session,
    pub(crate) mode: Arc<SessionMode>,
    /// The peer's address (`ConnectInfo<SocketAddr>`), for the per-address login throttle.
    pub(crate) client: Option<std::net::IpAddr>,
}

impl fmt::Debug for StaffSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffSession")
            .field("session_id", &self.session.id().map(|_| "<set>"))
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
            .ok_or(ClerkRejection::SessionLayerMissing)
    }
}

/// A staff login or logout failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StaffLoginError {
    /// Unknown user, wrong password, not staff, or inactive: show one message for all of
    /// them ("Invalid username or password."); the inner error is for logs and tests.
    #[cfg(feature = "hybrid")]
    #[error("login refused: {0}")]
    Refused(clerk_core::password::LocalLoginError),
    /// The session store or the user store failed: answer 503.
    #[error("unavailable: {}", .0.reason())]
    Unavailable(SessionDependency),
    /// Too many password checks at once ([`SessionMode::staff_login_concurrency`](super::SessionMode::staff_login_concurrency)):
    /// answer 503 with `Retry-After`; nothing was checked.
    #[cfg(feature = "hybrid")]
    #[error("too many logins at once; retry after {retry_after:?}")]
    Busy {
        /// The `Retry-After` to answer with.
        retry_after: std::time::Duration,
    },
    /// Too many failed logins for the username or from the client address
    /// ([`clerk_core::login_throttle`]): answer 429 with `Retry-After`, whatever the
    /// password; nothing was checked.
    #[cfg(feature = "hybrid")]
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
        #[cfg(feature = "hybrid")]
        if matches!(self, StaffLoginError::Busy { .. }) {
            return true;
        }
        matches!(self, StaffLoginError::Unavailable(_))
    }
}

impl StaffSession {
    /// Checks `username` and `password` against the store's local staff users
    /// ([`authenticate_staff`](clerk_core::password::authenticate_staff)); on success records
    /// the login (`Change::RecordLogin`), ends whatever the session held (a Clerk session
    /// included: identities never mix), rotates the session id and stores the
    /// [`LocalLogin`](super::LocalLogin). On failure the session is left as it was.
    ///
    /// The password check (argon2, tens of milliseconds of CPU) runs on tokio's blocking
    /// pool, so a login never stalls the requests sharing its worker thread.
    ///
    /// Failed logins are throttled per username and per client address
    /// ([`gated_staff_login`](clerk_core::login_gate::gated_staff_login)). The address is the
    /// peer's, from `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`; without it only usernames are
    /// throttled). Behind a reverse proxy the peer is the proxy, so the address limit counts
    /// every client of the proxy together; the username limit works either way.
    ///
    /// # Errors
    /// [`StaffLoginError::Refused`] for bad credentials, [`StaffLoginError::Throttled`] after
    /// too many failures, [`StaffLoginError::Busy`] when too many checks run at once,
    /// [`StaffLoginError::Unavailable`] when a store failed.
    #[cfg(feature = "hybrid")]
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Arc<User>, StaffLoginError> {
        use clerk_core::login_gate::{gated_staff_login, GatedLoginError};
        use clerk_core::password::LocalLoginError;
        use clerk_core::store::{Change, UserRef, WriteBatch};

        let store = self.mode.store();
        let checked = gated_staff_login(
            self.mode.login_gate(),
            &**store,
            username,
            password,
            self.client,
            self.mode.now(),
            |job| async move { tokio::task::spawn_blocking(job).await.ok() },
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
            Err(GatedLoginError::NotCompleted) => {
                // The blocking task panicked or the runtime is shutting down.
                tracing::error!("the staff password check did not complete: 503");
                return Err(StaffLoginError::Unavailable(SessionDependency::UserStore));
            }
            Err(GatedLoginError::Login(LocalLoginError::Store(error))) => {
                tracing::warn!(%error, "user store failed during a staff login: 503");
                return Err(StaffLoginError::Unavailable(SessionDependency::UserStore));
            }
            Err(GatedLoginError::Login(refused)) => {
                if let LocalLoginError::Password(error) = &refused {
                    tracing::error!(%error, "a local user's stored password hash is unusable");
                }
                tracing::info!(reason = %refused, "staff login refused");
                return Err(StaffLoginError::Refused(refused));
            }
            Err(other) => {
                tracing::error!(error = %other, "staff login failed: 503");
                return Err(StaffLoginError::Unavailable(SessionDependency::UserStore));
            }
        };
        let now = self.mode.now();
        // Effect::NotFound/Gone would mean the row vanished since the check: still logged in,
        // the next request reads the user again and decides.
        let _recorded = store
            .apply(WriteBatch::single(
                now,
                Change::RecordLogin {
                    user: UserRef::Id(user.id),
                    at: now,
                },
            ))
            .await
            .map_err(|error| {
                tracing::warn!(%error, "user store failed recording a staff login: 503");
                StaffLoginError::Unavailable(SessionDependency::UserStore)
            })?;
        let session_failed = |error: tower_sessions::session::Error| {
            StaffLoginError::Unavailable(super::session_failure(&error))
        };
        self.session.flush().await.map_err(session_failed)?;
        self.session.cycle_id().await.map_err(session_failed)?;
        self.session
            .insert(
                super::LOCAL_USER_KEY,
                super::LocalLogin {
                    user_id: user.id,
                    at: now,
                    last_seen: None,
                },
            )
            .await
            .map_err(session_failed)?;
        tracing::info!(user_id = %user.id, "staff login");
        Ok(Arc::new(user))
    }

    /// Ends the session whatever it holds (data deleted, cookie removed) and records the
    /// logout of a local login (`Change::RecordLogout`; a store failure there is logged, not
    /// fatal: the session is gone either way).
    ///
    /// # Errors
    /// [`StaffLoginError::Unavailable`] when the session store failed.
    pub async fn logout(&self) -> Result<(), StaffLoginError> {
        let login = self
            .session
            .get::<super::LocalLogin>(super::LOCAL_USER_KEY)
            .await
            .ok()
            .flatten();
        self.session
            .flush()
            .await
            .map_err(|e| StaffLoginError::Unavailable(super::session_failure(&e)))?;
        if let Some(login) = login {
            let now = self.mode.now();
            let batch = clerk_core::store::WriteBatch::single(
                now,
                clerk_core::store::Change::RecordLogout {
                    user: clerk_core::store::UserRef::Id(login.user_id),
                    at: now,
                },
            );
            if let Err(error) = self.mode.store().apply(batch).await {
                tracing::warn!(%error, user_id = %login.user_id, "could not record a staff logout");
            }
            tracing::info!(user_id = %login.user_id, "staff logout");
        }
        Ok(())
    }
}
