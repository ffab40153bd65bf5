//! Hybrid mode's staff login and logout, over the request's [`SessionBackend`]: once for both
//! adapters.
//!
//! A login passes the [`LoginGate`](crate::login_gate::LoginGate) (a bounded number of
//! argon2 checks at once; beyond its queue a 503 with `Retry-After`), checks the password of
//! a local staff user off the async executor (the adapter passes its runtime's
//! `spawn_blocking`), records `last_login`, ends whatever the session held (a Clerk session
//! included: identities never mix) and stores the [`LocalLogin`] under a fresh session id (no
//! fixation). A logout ends the session and records `last_logout`.

#[cfg(feature = "password")]
use std::sync::Arc;

#[cfg(feature = "password")]
use crate::login_gate::{gated_staff_login, BlockingCheck, GatedLoginError};
#[cfg(feature = "password")]
use crate::model::User;
#[cfg(feature = "password")]
use crate::password::LocalLoginError;
use crate::rejection::SessionDependency;
use crate::store::{Change, UserRef, WriteBatch};

#[cfg(feature = "password")]
use super::session::{LocalLogin, SessionData};
use super::session::{SessionBackend, SessionFlow};

/// A staff login or logout failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StaffLoginError {
    /// Unknown user, wrong password, not staff, or inactive: show one message for all of
    /// them ("Invalid username or password."); the inner error is for logs and tests.
    #[cfg(feature = "password")]
    #[error("login refused: {0}")]
    Refused(LocalLoginError),
    /// The session store or the user store failed: answer 503.
    #[error("unavailable: {}", .0.reason())]
    Unavailable(SessionDependency),
    /// Too many password checks at once
    /// ([`SessionFlow::staff_login_concurrency`]): answer 503 with `Retry-After`; nothing
    /// was checked.
    #[cfg(feature = "password")]
    #[error("too many logins at once; retry after {retry_after:?}")]
    Busy {
        /// The `Retry-After` to answer with.
        retry_after: std::time::Duration,
    },
    /// Too many failed logins for the username or from the client address
    /// ([`login_throttle`](crate::login_throttle)): answer 429 with `Retry-After`, whatever
    /// the password; nothing was checked.
    #[cfg(feature = "password")]
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
        #[cfg(feature = "password")]
        if matches!(self, StaffLoginError::Busy { .. }) {
            return true;
        }
        matches!(self, StaffLoginError::Unavailable(_))
    }
}

#[cfg(feature = "password")]
fn user_store_failed(error: &dyn std::fmt::Display, what: &str) -> StaffLoginError {
    tracing::warn!(%error, "user store failed {what}: 503");
    StaffLoginError::Unavailable(SessionDependency::UserStore)
}

fn session_store_failed(error: &dyn std::fmt::Display) -> StaffLoginError {
    tracing::warn!(%error, "session store failed during a staff login or logout: 503");
    StaffLoginError::Unavailable(SessionDependency::SessionStore)
}

impl SessionFlow {
    /// Logs a local staff user in (see the [module docs](self)); `run_blocking` runs the
    /// argon2 check off the executor (`None` when the task did not complete). On failure the
    /// session is left as it was.
    ///
    /// Failed logins are throttled per username and per `client` address
    /// ([`gated_staff_login`]): the connection's peer, never a header a client can set.
    /// Behind a reverse proxy the peer is the proxy, so the address limit counts every
    /// client of the proxy together; the username limit works either way.
    ///
    /// # Errors
    /// [`StaffLoginError`].
    #[cfg(feature = "password")]
    pub async fn staff_login<F, Fut>(
        &self,
        backend: &dyn SessionBackend,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
        run_blocking: F,
    ) -> Result<Arc<User>, StaffLoginError>
    where
        F: FnOnce(BlockingCheck) -> Fut,
        Fut: std::future::Future<Output = Option<Result<User, LocalLoginError>>>,
    {
        let store = self.store();
        let checked = gated_staff_login(
            &self.login_gate,
            &**store,
            username,
            password,
            client,
            self.now(),
            run_blocking,
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
                return Err(user_store_failed(&error, "during a staff login"));
            }
            Err(GatedLoginError::Login(refused)) => {
                if let LocalLoginError::Password(error) = &refused {
                    tracing::error!(%error, "a local user's stored password hash is unusable");
                }
                tracing::info!(reason = %refused, "staff login refused");
                return Err(StaffLoginError::Refused(refused));
            }
            Err(other) => {
                // The blocking task panicked or the runtime is shutting down.
                tracing::error!(error = %other, "the staff password check did not complete: 503");
                return Err(StaffLoginError::Unavailable(SessionDependency::UserStore));
            }
        };
        let now = self.now();
        // Effect::NotFound/Gone would mean the row vanished since the check: still logged in,
        // the next request reads the user again and decides.
        let recorded = Change::RecordLogin {
            user: UserRef::Id(user.id),
            at: now,
        };
        let _recorded = store
            .apply(WriteBatch::single(now, recorded))
            .await
            .map_err(|e| user_store_failed(&e, "recording a staff login"))?;
        backend.end().await.map_err(|e| session_store_failed(&e))?;
        let data = SessionData {
            clerk: None,
            local: Some(LocalLogin {
                user_id: user.id,
                at: now,
                last_seen: None,
            }),
        };
        backend
            .renew(&data)
            .await
            .map_err(|e| session_store_failed(&e))?;
        tracing::info!(user_id = %user.id, "staff login");
        Ok(Arc::new(user))
    }

    /// Ends the session whatever it holds and records the logout of a local login
    /// (`Change::RecordLogout`; a store failure there is logged, not fatal: the session is
    /// gone either way).
    ///
    /// # Errors
    /// [`StaffLoginError::Unavailable`] when the session store failed.
    pub async fn staff_logout(&self, backend: &dyn SessionBackend) -> Result<(), StaffLoginError> {
        // Unreadable data is ended all the same.
        let login = backend.load().await.ok().flatten().and_then(|d| d.local);
        backend.end().await.map_err(|e| session_store_failed(&e))?;
        if let Some(login) = login {
            let now = self.now();
            let batch = WriteBatch::single(
                now,
                Change::RecordLogout {
                    user: UserRef::Id(login.user_id),
                    at: now,
                },
            );
            if let Err(error) = self.store().apply(batch).await {
                tracing::warn!(%error, user_id = %login.user_id, "could not record a staff logout");
            }
            tracing::info!(user_id = %login.user_id, "staff logout");
        }
        Ok(())
    }
}
