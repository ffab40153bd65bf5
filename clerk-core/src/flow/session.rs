//! Session mode's request flow ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)),
//! written once for both adapters: [`SessionFlow::run`] over a [`SessionBackend`], the small
//! trait each adapter implements for its session mechanism (tower-sessions' `Session` in
//! clerk-axum; a cookie naming a server-side record in clerk-rocket).
//!
//! Per request the flow:
//!
//! 1. loads the [`SessionData`]; unreadable data ends the session;
//! 2. a local (hybrid-mode) login is left to its own rules ([`StaffLifetime`], the staff user
//!    read again); Clerk tokens on such a session are verified per request and never
//!    establish a Clerk record there;
//! 3. with a Clerk [`SessionRecord`], looks up its [`Standing`] (revoked `sid`, banned,
//!    locked, inactive or deleted user) and runs [`RevalidationPolicy::evaluate`] with the
//!    identity the request's token claims:
//!    - serve: the record's [`Auth`](crate::Auth), no signature check;
//!    - revalidate: the token is verified; the same identity refreshes the record, another
//!      one ends the session and starts a new one under a fresh id; no token → signed out
//!      with `session-revalidation-required` (the record stays for the next token);
//!    - end: the session is deleted, then the request is handled as if it had none;
//! 4. without a record, a token that verifies establishes one under a fresh id (no
//!    fixation) — unless its standing refuses it: **revocation is final**, the `__session`
//!    cookie a browser sends on every request does not sign an ended session in again.
//!
//! A session store or mirror failure answers 503, never "signed in" and never "signed out".

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::config::ClerkConfig;
use crate::extract::{find_token, TokenSource};
use crate::model::{User, UserId};
use crate::rejection::SessionDependency;
use crate::session::{
    may_hold_staff_session, AfterRevalidation, EndReason, RevalidationPolicy, SessionDecision,
    SessionRecord, StaffDecision, StaffLifetime, Standing, TokenIdentity,
};
use crate::store::{Store, StoreError};
use crate::time::{Clock, UnixTime};
use crate::{AuthDecision, Authenticator};

use super::{Refusal, RequestAuth, SessionNote};

/// A local (hybrid-mode) login: the local user and when the session was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalLogin {
    /// The local user's id (`clerk_users.id`).
    pub user_id: UserId,
    /// When they logged in.
    pub at: UnixTime,
    /// When the session last served a request (rewritten at most every
    /// [`StaffLifetime::TOUCH_EVERY`]); `None` until then.
    #[serde(default)]
    pub last_seen: Option<UnixTime>,
}

/// What a session holds for the flow: a Clerk record (the "Clerk marker") or a local login.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    /// The Clerk session.
    pub clerk: Option<SessionRecord>,
    /// A local (password) login of hybrid mode.
    pub local: Option<LocalLogin>,
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionData")
            .field("clerk", &self.clerk)
            .field("local", &self.local)
            .finish()
    }
}

impl SessionData {
    /// A session holding a Clerk record only.
    #[must_use]
    pub fn clerk(record: SessionRecord) -> Self {
        SessionData {
            clerk: Some(record),
            local: None,
        }
    }
}

/// How long session records live ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)):
/// what a session store evicts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// A Clerk-mode record's life without a request (`CLERK_SESSION_IDLE_SECONDS`).
    pub idle: std::time::Duration,
    /// A local staff session's idle and absolute lifetimes.
    pub staff: StaffLifetime,
}

impl SessionLifetimes {
    /// The lifetimes the settings give.
    #[must_use]
    pub fn from_config(config: &ClerkConfig) -> Self {
        SessionLifetimes {
            idle: config.session_idle,
            staff: StaffLifetime::from_config(config),
        }
    }

    /// When `data` expires unless a request comes first: a local login after the staff idle
    /// time or its absolute lifetime, whichever is first; a Clerk record after the idle time
    /// since its last activity; anything else after the idle time from `now`.
    #[must_use]
    pub fn expires_at(&self, data: &SessionData, now: UnixTime) -> UnixTime {
        let local = data.local.map(|login| {
            let idle = login
                .last_seen
                .unwrap_or(login.at)
                .saturating_add(self.staff.idle);
            idle.min(login.at.saturating_add(self.staff.max))
        });
        let clerk = data
            .clerk
            .as_ref()
            .map(|record| record.last_active().saturating_add(self.idle));
        match (local, clerk) {
            (Some(local), Some(clerk)) => local.max(clerk),
            (Some(at), None) | (None, Some(at)) => at,
            (None, None) => now.saturating_add(self.idle),
        }
    }
}

/// A [`SessionBackend`] could not do its part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The session's data does not read back (a foreign or tampered record): the flow ends
    /// the session.
    #[error("the session's data does not read back")]
    Corrupt,
    /// The session store failed: the request is answered 503.
    #[error("session store: {0}")]
    Failed(String),
}

/// The request's session, as an adapter's session mechanism holds it. One value per request;
/// the adapter maps it onto its framework (a cookie and a store, tower-sessions' `Session`).
#[async_trait]
pub trait SessionBackend: Send + Sync {
    /// The request's session data, if it names a session that exists.
    async fn load(&self) -> Result<Option<SessionData>, BackendError>;
    /// Stores `data` in the request's session, under its current id (a new session when the
    /// request had none).
    async fn save(&self, data: &SessionData) -> Result<(), BackendError>;
    /// Stores `data` under a fresh session id: an identity was established, and an id an
    /// attacker may have planted must not carry it (no fixation).
    async fn renew(&self, data: &SessionData) -> Result<(), BackendError>;
    /// Ends the session: its data deleted, its id forgotten, its cookie removed.
    async fn end(&self) -> Result<(), BackendError>;
}

/// The local-login side of a request under session mode.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StaffState {
    /// No local login.
    None,
    /// A staff user, read again for this request.
    Staff(Arc<User>),
    /// The session store or user store failed.
    Unavailable(SessionDependency),
}

impl StaffState {
    /// The staff user, `None` without a login.
    ///
    /// # Errors
    /// [`Refusal::SessionUnavailable`] when a store failed.
    pub fn staff(&self) -> Result<Option<Arc<User>>, Refusal> {
        match self {
            StaffState::None => Ok(None),
            StaffState::Staff(user) => Ok(Some(Arc::clone(user))),
            StaffState::Unavailable(which) => Err(Refusal::SessionUnavailable(*which)),
        }
    }
}

/// What [`SessionFlow::run`] concluded for a request.
#[derive(Debug, Clone)]
pub struct FlowOutcome {
    /// The request's authentication, as every extractor reads it.
    pub auth: RequestAuth,
    /// The local staff login, if any.
    pub staff: StaffState,
}

impl FlowOutcome {
    fn unavailable(which: SessionDependency) -> Self {
        FlowOutcome {
            auth: RequestAuth::noted(SessionNote::Unavailable(which)),
            staff: StaffState::Unavailable(which),
        }
    }

    fn clerk(auth: RequestAuth) -> Self {
        FlowOutcome {
            auth,
            staff: StaffState::None,
        }
    }
}

/// Session mode's settings and its flow: the mirror where standing and staff users are read,
/// the revalidation policy, the staff session lifetime and the staff login gate. Cheap to
/// clone.
#[derive(Clone)]
pub struct SessionFlow {
    store: Arc<dyn Store>,
    policy: RevalidationPolicy,
    from_header: bool,
    clock: Option<Arc<dyn Clock>>,
    staff_lifetime: StaffLifetime,
    #[cfg(feature = "password")]
    pub(super) login_gate: crate::login_gate::LoginGate,
}

impl fmt::Debug for SessionFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionFlow")
            .field("policy", &self.policy)
            .field("from_header", &self.from_header)
            .field("staff_lifetime", &self.staff_lifetime)
            .finish_non_exhaustive()
    }
}

fn store_failed(error: &StoreError) -> SessionDependency {
    tracing::warn!(%error, "user store failed: request refused with 503");
    SessionDependency::UserStore
}

fn session_failed(error: &BackendError) -> SessionDependency {
    tracing::warn!(%error, "session store failed: request refused with 503");
    SessionDependency::SessionStore
}

impl SessionFlow {
    /// Sessions whose standing is read from `store` (revoked `sid`s, users by Clerk id, local
    /// staff by id), revalidated per `policy`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, policy: RevalidationPolicy) -> Self {
        SessionFlow {
            store,
            policy,
            from_header: true,
            clock: None,
            staff_lifetime: StaffLifetime::DEFAULT,
            #[cfg(feature = "password")]
            login_gate: crate::login_gate::LoginGate::from_setting(None),
        }
    }

    /// Session mode as the settings say: `CLERK_SESSION_REVALIDATION_SECONDS`, the staff
    /// session lifetimes and `CLERK_STAFF_LOGIN_CONCURRENCY`.
    #[must_use]
    pub fn from_config(store: Arc<dyn Store>, config: &ClerkConfig) -> Self {
        let flow = SessionFlow::new(store, RevalidationPolicy::from_config(config))
            .staff_session_lifetime(StaffLifetime::from_config(config));
        #[cfg(feature = "password")]
        let flow = flow.staff_login_concurrency(config.staff_login_concurrency);
        flow
    }

    /// How long a local staff session lasts: idle and in all (`CLERK_STAFF_SESSION_IDLE_SECONDS`,
    /// `CLERK_STAFF_SESSION_MAX_SECONDS`). Default: an hour idle, twelve hours in all.
    #[must_use]
    pub fn staff_session_lifetime(mut self, lifetime: StaffLifetime) -> Self {
        self.staff_lifetime = lifetime;
        self
    }

    /// How many staff password checks may run at once (`CLERK_STAFF_LOGIN_CONCURRENCY`;
    /// `None`: the number of CPUs), with a queue of twice that; beyond it a login is refused
    /// at once (503 with `Retry-After`), so a flood of logins cannot exhaust memory (each
    /// argon2 check takes ~19 MiB).
    #[cfg(feature = "password")]
    #[must_use]
    pub fn staff_login_concurrency(mut self, checks: Option<std::num::NonZeroUsize>) -> Self {
        self.login_gate = crate::login_gate::LoginGate::from_setting(checks);
        self
    }

    /// The bound on concurrent staff password checks.
    #[cfg(feature = "password")]
    #[must_use]
    pub fn login_gate(&self) -> &crate::login_gate::LoginGate {
        &self.login_gate
    }

    /// Whether a token in the `Authorization` header establishes a session (default: on).
    ///
    /// Turn it off when the app serves both browsers and API clients: browsers send Clerk's
    /// `__session` cookie and keep the session cookie, while API clients send a bearer header
    /// on every request and never return the cookie — a session each would only fill the
    /// session store. With it off such requests are verified statelessly; an existing session
    /// still follows every rule (a bearer token for another identity ends it).
    #[must_use]
    pub fn establish_from_header(mut self, enabled: bool) -> Self {
        self.from_header = enabled;
        self
    }

    /// The clock for `last_clerk_check` and logins; by default the authenticator's.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The clock, unless one was set: the adapters pass the authenticator's.
    #[must_use]
    pub fn with_default_clock(mut self, clock: &Arc<dyn Clock>) -> Self {
        if self.clock.is_none() {
            self.clock = Some(Arc::clone(clock));
        }
        self
    }

    /// The revalidation policy.
    #[must_use]
    pub fn policy(&self) -> &RevalidationPolicy {
        &self.policy
    }

    /// The store standing and staff users are read from.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The staff session lifetime.
    #[must_use]
    pub fn staff_lifetime(&self) -> StaffLifetime {
        self.staff_lifetime
    }

    /// When `data` expires unless a request comes first ([`SessionLifetimes::expires_at`]).
    #[must_use]
    pub fn expires_at(&self, data: &SessionData) -> UnixTime {
        self.lifetimes().expires_at(data, self.now())
    }

    /// The lifetimes this flow's records have.
    #[must_use]
    pub fn lifetimes(&self) -> SessionLifetimes {
        SessionLifetimes {
            idle: self.policy.idle(),
            staff: self.staff_lifetime,
        }
    }

    /// Now, by the flow's clock (the system's when none was set).
    #[must_use]
    pub fn now(&self) -> UnixTime {
        self.clock
            .as_ref()
            .map_or_else(|| crate::time::SystemClock.now(), |clock| clock.now())
    }

    /// Runs session mode for one request (see the [module docs](self)). `headers` carry the
    /// request's `Authorization` header and cookies; whether Clerk's `__session` cookie counts
    /// is the authenticator's `CLERK_COOKIE_AUTH`.
    pub async fn run(
        &self,
        authenticator: &Authenticator,
        backend: &dyn SessionBackend,
        headers: &http::HeaderMap,
    ) -> FlowOutcome {
        let data = match backend.load().await {
            Ok(data) => data,
            Err(BackendError::Corrupt) => {
                tracing::warn!("unreadable session data: session ended");
                return self
                    .end_then_establish(authenticator, backend, headers)
                    .await;
            }
            Err(error) => return FlowOutcome::unavailable(session_failed(&error)),
        };
        let Some(data) = data else {
            return self.establish(authenticator, backend, headers).await;
        };
        if let Some(login) = data.local {
            return match self.local_staff(backend, &data, login).await {
                Ok(Some(user)) => FlowOutcome {
                    // A local login's session: Clerk tokens count per request only.
                    auth: RequestAuth::new(Arc::new(authenticator.authenticate(headers).await)),
                    staff: StaffState::Staff(user),
                },
                Ok(None) => self.establish(authenticator, backend, headers).await,
                Err(which) => FlowOutcome::unavailable(which),
            };
        }
        let Some(record) = data.clerk else {
            return self.establish(authenticator, backend, headers).await;
        };
        self.clerk_session(authenticator, backend, headers, record)
            .await
    }

    /// The staff user of a local login, read again; a login that expired, or whose user may
    /// no longer be staff (or is gone), ends the session (`Ok(None)`).
    async fn local_staff(
        &self,
        backend: &dyn SessionBackend,
        data: &SessionData,
        login: LocalLogin,
    ) -> Result<Option<Arc<User>>, SessionDependency> {
        let now = self.now();
        let decision = self
            .staff_lifetime
            .decide(Some(login.at), login.last_seen, now);
        if decision == StaffDecision::Expired {
            tracing::info!(user_id = %login.user_id, "staff session expired: ended");
            backend.end().await.map_err(|e| session_failed(&e))?;
            return Ok(None);
        }
        let user = self
            .store
            .user(login.user_id)
            .await
            .map_err(|e| store_failed(&e))?;
        match user {
            Some(user) if may_hold_staff_session(&user) => {
                if decision == StaffDecision::ServeAndTouch {
                    let touched = SessionData {
                        local: Some(LocalLogin {
                            last_seen: Some(now),
                            ..login
                        }),
                        ..data.clone()
                    };
                    backend
                        .save(&touched)
                        .await
                        .map_err(|e| session_failed(&e))?;
                }
                Ok(Some(Arc::new(user)))
            }
            _ => {
                tracing::info!(user_id = %login.user_id, "local login no longer staff: session ended");
                backend.end().await.map_err(|e| session_failed(&e))?;
                Ok(None)
            }
        }
    }

    /// The Clerk side: the policy over the stored record.
    async fn clerk_session(
        &self,
        authenticator: &Authenticator,
        backend: &dyn SessionBackend,
        headers: &http::HeaderMap,
        record: SessionRecord,
    ) -> FlowOutcome {
        let standing = match Standing::of_record(self.store.as_ref(), &record).await {
            Ok(standing) => standing,
            Err(error) => return FlowOutcome::unavailable(store_failed(&error)),
        };
        let found = find_token(headers, authenticator.cookie_auth());
        let presented = found
            .as_ref()
            .ok()
            .and_then(Option::as_ref)
            .and_then(|found| TokenIdentity::peek(found.token));
        let reason = match self
            .policy
            .evaluate(&record, presented.as_ref(), standing, self.now())
        {
            SessionDecision::Serve => match record.auth() {
                Ok(auth) => {
                    // Keep the idle lifetime running: one write a minute at most.
                    if let Some(touched) = record.touched(self.now()) {
                        if let Err(error) = backend.save(&SessionData::clerk(touched)).await {
                            return FlowOutcome::unavailable(session_failed(&error));
                        }
                    }
                    let decision = AuthDecision::SignedIn(Arc::new(auth));
                    return FlowOutcome::clerk(RequestAuth::new(Arc::new(decision)));
                }
                Err(_) => EndReason::Corrupt,
            },
            SessionDecision::Revalidate => {
                if matches!(found, Ok(None)) {
                    // Signed out until a token comes; the record stays for it.
                    return FlowOutcome::clerk(RequestAuth::noted(
                        SessionNote::RevalidationRequired,
                    ));
                }
                return self
                    .revalidate(authenticator, backend, headers, &record)
                    .await;
            }
            SessionDecision::End(reason) => reason,
        };
        tracing::info!(user_id = %record.user_id, %reason, "session ended");
        self.end_then_establish(authenticator, backend, headers)
            .await
    }

    async fn revalidate(
        &self,
        authenticator: &Authenticator,
        backend: &dyn SessionBackend,
        headers: &http::HeaderMap,
        record: &SessionRecord,
    ) -> FlowOutcome {
        let decision = authenticator.authenticate(headers).await;
        let AuthDecision::SignedIn(auth) = &decision else {
            // A rejected token is answered as such; an outage as 503. The record stays.
            return FlowOutcome::clerk(RequestAuth::new(Arc::new(decision)));
        };
        match self.policy.after_revalidation(record, auth, self.now()) {
            AfterRevalidation::Refresh(fresh) => {
                if let Err(error) = backend.save(&SessionData::clerk(fresh)).await {
                    return FlowOutcome::unavailable(session_failed(&error));
                }
                tracing::debug!(user_id = %auth.user_id, "session revalidated");
                FlowOutcome::clerk(RequestAuth::new(Arc::new(decision)))
            }
            // Another identity (or an outcome this flow does not know yet): two identities
            // never share a session; the old one goes and the token starts afresh, its own
            // standing checked.
            _ => {
                tracing::info!(old_user_id = %record.user_id, user_id = %auth.user_id, "session replaced");
                self.end_then_establish(authenticator, backend, headers)
                    .await
            }
        }
    }

    /// Ends the session, then handles the request as if it had none.
    async fn end_then_establish(
        &self,
        authenticator: &Authenticator,
        backend: &dyn SessionBackend,
        headers: &http::HeaderMap,
    ) -> FlowOutcome {
        if let Err(error) = backend.end().await {
            return FlowOutcome::unavailable(session_failed(&error));
        }
        self.establish(authenticator, backend, headers).await
    }

    /// No usable session: verify the request's token; one that verifies, and whose standing
    /// allows it, establishes a session under a fresh id.
    async fn establish(
        &self,
        authenticator: &Authenticator,
        backend: &dyn SessionBackend,
        headers: &http::HeaderMap,
    ) -> FlowOutcome {
        let decision = authenticator.authenticate(headers).await;
        let AuthDecision::SignedIn(auth) = &decision else {
            return FlowOutcome::clerk(RequestAuth::new(Arc::new(decision)));
        };
        // Revocation is final: a revoked sid or a banned user is not signed in again by the
        // `__session` cookie every browser request carries.
        match Standing::refusal(self.store.as_ref(), auth).await {
            Ok(None) => {}
            Ok(Some(reason)) => {
                tracing::info!(user_id = %auth.user_id, %reason, "signed-in token refused");
                return FlowOutcome::clerk(RequestAuth::noted(SessionNote::Ended(reason)));
            }
            Err(error) => return FlowOutcome::unavailable(store_failed(&error)),
        }
        let from_header = matches!(
            find_token(headers, authenticator.cookie_auth()),
            Ok(Some(found)) if found.source == TokenSource::AuthorizationHeader
        );
        if self.from_header || !from_header {
            let record = SessionRecord::establish(auth, self.now());
            if let Err(error) = backend.renew(&SessionData::clerk(record)).await {
                return FlowOutcome::unavailable(session_failed(&error));
            }
            tracing::debug!(user_id = %auth.user_id, "session established");
        }
        FlowOutcome::clerk(RequestAuth::new(Arc::new(decision)))
    }
}
