//! Session mode (feature `sessions`): "validate once, cache in session" with
//! [tower-sessions](https://docs.rs/tower-sessions), under clerk-core's pure
//! [`RevalidationPolicy`] ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)), and the local staff sessions of hybrid mode.
//!
//! Turn it on with [`ClerkLayer::with_sessions`](crate::ClerkLayer::with_sessions) and put
//! tower-sessions' `SessionManagerLayer` *outside* the Clerk layer ([`cookie_layer`] builds
//! one with this crate's cookie rules). Per request the layer:
//!
//! 1. reads the [`SessionRecord`] under [`SESSION_KEY`];
//! 2. looks up the session's standing in the store it was given (the `sid` in the revoked
//!    set, the user by Clerk id — put a `CachedStore` there to keep this cheap);
//! 3. runs [`RevalidationPolicy::evaluate`] with the identity the request's token claims;
//! 4. carries out the decision:
//!    - serve: the record's [`Auth`](clerk_core::Auth) goes into the request exactly as a
//!      verified token's would, so every extractor works unchanged; no signature check;
//!    - revalidate: the token is verified by the [`Authenticator`]; same identity refreshes
//!      the record, another one replaces the session (new id); no token → signed out with
//!      reason `session-revalidation-required` (the record is kept for the next token);
//!    - end: the session is flushed (data deleted, id dropped), then the request is handled
//!      as if it had no session — a token that verifies establishes a new one.
//!
//! Without a record, a token that verifies establishes one; the session id is rotated first
//! (no fixation). Infrastructure failures — the session store or the user store down —
//! answer 503 through the extractors, never "signed in" and never "signed out".
//!
//! # Hybrid mode: local staff
//!
//! Local staff (password users with `is_staff`) log in with [`StaffSession::login`] into a
//! session *without* the Clerk marker: [`LOCAL_USER_KEY`] holds a [`LocalLogin`]. Such a
//! session is left to its own rules: Clerk tokens never turn it into a Clerk session (they
//! are verified per request, statelessly, as without session mode) and never satisfy
//! [`LocalStaff`]; a local login never satisfies [`ClerkAuth`](crate::ClerkAuth). On every
//! request the staff user is read again, so a user who lost `is_staff`, was deactivated or
//! deleted is signed out at once.
//!
//! # Cookies
//!
//! [`cookie_layer`] sets the session cookie [`COOKIE_NAME`] (`__Host-clerk_session`)
//! HttpOnly, SameSite=Lax, `Path=/`, `Secure`, ending with the browser session — whatever the
//! request's `Host` says, which behind a proxy is no evidence of the browser's scheme.
//! Browsers accept it on `http://localhost`; a plain-HTTP deployment elsewhere turns `Secure`
//! off with [`cookie_layer_with`] (`CLERK_COOKIE_SECURE=false`; the cookie is then
//! `clerk_session`).
//!
//! # Quick start
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use axum::{routing::get, Router};
//! use clerk_axum::session::{cookie_layer, SessionMode};
//! use clerk_axum::{ClerkAuth, ClerkLayer};
//! use clerk_core::session::RevalidationPolicy;
//! use clerk_core::store::Store;
//! use clerk_core::{Authenticator, ClerkConfig};
//! use tower_sessions::MemoryStore;
//!
//! async fn me(auth: ClerkAuth) -> String {
//!     auth.user_id.clone()
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use clerk_testkit::{mint, offline, TestKeyPair};
//! # let key = TestKeyPair::fixed(0);
//! # let config = ClerkConfig::builder()
//! #     .secret_key("sk_test_sessions")
//! #     .publishable_key(mint::publishable_key_for(mint::DEFAULT_FRONTEND_HOST, false))
//! #     .frontend_host(mint::DEFAULT_AUTHORIZED_PARTY)
//! #     .build()?;
//! # let authenticator = Authenticator::builder(config).http_client(offline::jwks_client(&[&key])).build()?;
//! // The local mirror (webhooks keep it current): where revocations and bans are looked up.
//! let store: Arc<dyn Store> = Arc::new(clerk_store::MemoryStore::new());
//! let policy = RevalidationPolicy::new(Duration::from_secs(300));
//! let app: Router = Router::new()
//!     .route("/api/me", get(me))
//!     .layer(ClerkLayer::new(authenticator).with_sessions(SessionMode::new(store, policy)))
//!     // Outside the Clerk layer: tower-sessions loads and saves the session around it.
//!     .layer(cookie_layer(MemoryStore::default()));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

mod cookie;
mod staff;

use std::fmt;
use std::sync::Arc;

use axum::http::{HeaderMap, Request};
use clerk_core::extract::{find_token, TokenSource};
use clerk_core::model::{User, UserId};
use clerk_core::session::{
    may_hold_staff_session, AfterRevalidation, EndReason, RevalidationPolicy, SessionDecision,
    SessionRecord, StaffDecision, StaffLifetime, Standing, TokenIdentity, SESSION_KEY,
};
use clerk_core::store::Store;
use clerk_core::time::{Clock, UnixTime};
use clerk_core::{AuthDecision, Authenticator};
use serde::{Deserialize, Serialize};
use tower_sessions::session::Error as SessionError;
use tower_sessions::Session;

pub use cookie::{cookie_layer, cookie_layer_with, CookieLayer};
pub use staff::{LocalStaff, StaffLoginError, StaffSession};

use crate::extract::SessionNote;
use crate::rejection::SessionDependency;
use crate::AuthState;

/// The key under which a local (hybrid-mode) login is stored: a [`LocalLogin`]. A session
/// holding it has no Clerk marker ([`SESSION_KEY`]).
pub const LOCAL_USER_KEY: &str = "clerk.local_user";

/// The session cookie's name as [`cookie_layer`] sets it (`Secure` on):
/// `__Host-clerk_session`, the same as clerk-rocket's.
pub const COOKIE_NAME: &str = clerk_core::session::SESSION_COOKIE_SECURE;

/// Session mode's settings: the store where a session's standing is looked up and the
/// revalidation policy. Given to [`ClerkLayer::with_sessions`](crate::ClerkLayer::with_sessions).
#[derive(Clone)]
pub struct SessionMode {
    store: Arc<dyn Store>,
    policy: RevalidationPolicy,
    cookie_auth: bool,
    from_header: bool,
    clock: Option<Arc<dyn Clock>>,
    staff_lifetime: StaffLifetime,
    #[cfg(feature = "hybrid")]
    login_gate: clerk_core::login_gate::LoginGate,
}

impl fmt::Debug for SessionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMode")
            .field("policy", &self.policy)
            .field("cookie_auth", &self.cookie_auth)
            .field("from_header", &self.from_header)
            .finish_non_exhaustive()
    }
}

impl SessionMode {
    /// Sessions whose standing is read from `store` (revoked `sid`s, users by Clerk id, local
    /// staff by id), revalidated per `policy`.
    ///
    /// The token a request presents is looked for as the authenticator does: the bearer
    /// header, else the `__session` cookie; turn the cookie off with
    /// [`SessionMode::cookie_auth`] when `CLERK_COOKIE_AUTH` is off.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, policy: RevalidationPolicy) -> Self {
        SessionMode {
            store,
            policy,
            cookie_auth: true,
            from_header: true,
            clock: None,
            staff_lifetime: StaffLifetime::DEFAULT,
            #[cfg(feature = "hybrid")]
            login_gate: clerk_core::login_gate::LoginGate::from_setting(None),
        }
    }

    /// How long a local staff session lasts: idle and in all (`CLERK_STAFF_SESSION_IDLE_SECONDS`,
    /// `CLERK_STAFF_SESSION_MAX_SECONDS`; [`StaffLifetime::from_config`]). Default: an hour
    /// idle, twelve hours in all.
    #[must_use]
    pub fn staff_session_lifetime(mut self, lifetime: StaffLifetime) -> Self {
        self.staff_lifetime = lifetime;
        self
    }

    /// How many staff password checks may run at once (`CLERK_STAFF_LOGIN_CONCURRENCY`;
    /// `None`: the number of CPUs), with a queue of twice that; beyond it a login answers
    /// [`StaffLoginError::Busy`] (503 with `Retry-After`) at
    /// once, so a flood of logins cannot exhaust memory (each argon2 check takes ~19 MiB).
    #[cfg(feature = "hybrid")]
    #[must_use]
    pub fn staff_login_concurrency(mut self, checks: Option<std::num::NonZeroUsize>) -> Self {
        self.login_gate = clerk_core::login_gate::LoginGate::from_setting(checks);
        self
    }

    /// The bound on concurrent staff password checks.
    #[cfg(feature = "hybrid")]
    #[must_use]
    pub fn login_gate(&self) -> &clerk_core::login_gate::LoginGate {
        &self.login_gate
    }

    /// Whether a token in the `Authorization` header establishes a session (default: on).
    ///
    /// Turn it off when the app serves both browsers and API clients: browsers send Clerk's
    /// `__session` cookie and keep the session cookie, while API clients send a bearer header
    /// on every request and never return the cookie — a session each would only fill the
    /// session store. With it off such requests are verified statelessly, exactly as without
    /// session mode; an existing session still follows every rule (a bearer token for another
    /// identity ends it).
    #[must_use]
    pub fn establish_from_header(mut self, enabled: bool) -> Self {
        self.from_header = enabled;
        self
    }

    /// Whether the `__session` cookie counts as a presented token (default: on, like
    /// `CLERK_COOKIE_AUTH`).
    #[must_use]
    pub fn cookie_auth(mut self, enabled: bool) -> Self {
        self.cookie_auth = enabled;
        self
    }

    /// The clock for `last_clerk_check` and logins; by default the authenticator's.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
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

    pub(crate) fn with_default_clock(mut self, clock: &Arc<dyn Clock>) -> Self {
        if self.clock.is_none() {
            self.clock = Some(Arc::clone(clock));
        }
        self
    }

    pub(crate) fn now(&self) -> UnixTime {
        self.clock
            .as_ref()
            .map_or_else(|| clerk_core::time::SystemClock.now(), |clock| clock.now())
    }
}

/// What a local (hybrid-mode) login stores under [`LOCAL_USER_KEY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalLogin {
    /// The local user's id.
    pub user_id: UserId,
    /// When they logged in.
    pub at: UnixTime,
    /// When the session last served a request (rewritten at most every
    /// [`StaffLifetime::TOUCH_EVERY`]); `None` until then.
    #[serde(default)]
    pub last_seen: Option<UnixTime>,
}

/// The local-session side of a request, put into its extensions by the layer.
#[derive(Debug, Clone)]
pub(crate) enum LocalState {
    /// No local login.
    None,
    /// A staff user, read again for this request.
    Staff(Arc<User>),
    /// The session store or user store failed.
    Unavailable(SessionDependency),
}

pub(crate) fn session_failure(error: &SessionError) -> SessionDependency {
    tracing::warn!(%error, "session store failed: request refused with 503");
    SessionDependency::SessionStore
}

/// Runs session mode for one request: inserts the [`AuthState`], the local-login state and
/// the [`StaffSession`] handle.
pub(crate) async fn authenticate<B>(
    authenticator: &Authenticator,
    mode: &Arc<SessionMode>,
    request: &mut Request<B>,
) {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        request
            .extensions_mut()
            .insert(AuthState::session_failure(SessionNote::ManagerMissing));
        return;
    };
    // The peer address, when the app serves with `into_make_service_with_connect_info`.
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    request.extensions_mut().insert(StaffSession {
        session: session.clone(),
        mode: Arc::clone(mode),
        client,
    });
    let (state, local) = decide(authenticator, mode, &session, request.headers()).await;
    request.extensions_mut().insert(local);
    request.extensions_mut().insert(state);
}

async fn decide(
    authenticator: &Authenticator,
    mode: &SessionMode,
    session: &Session,
    headers: &HeaderMap,
) -> (AuthState, LocalState) {
    let unavailable = |which| {
        (
            AuthState::session_failure(SessionNote::Unavailable(which)),
            LocalState::Unavailable(which),
        )
    };
    // Hybrid sessions first: they are left to their own rules, and Clerk tokens on them are
    // verified per request without touching the session.
    match local_staff(mode, session).await {
        Ok(Some(user)) => {
            let decision = authenticator.authenticate(headers).await;
            return (AuthState::new(Arc::new(decision)), LocalState::Staff(user));
        }
        Ok(None) => {}
        Err(which) => return unavailable(which),
    }
    match clerk_session(authenticator, mode, session, headers).await {
        Ok(state) => (state, LocalState::None),
        Err(which) => unavailable(which),
    }
}

/// The staff user of a local login, read again; a login whose user may no longer be staff
/// (or is gone, or whose record does not read back) ends the session.
async fn local_staff(
    mode: &SessionMode,
    session: &Session,
) -> Result<Option<Arc<User>>, SessionDependency> {
    let login = match session.get::<LocalLogin>(LOCAL_USER_KEY).await {
        Ok(login) => login,
        Err(SessionError::SerdeJson(_)) => {
            tracing::warn!("unreadable local login: session ended");
            session.flush().await.map_err(|e| session_failure(&e))?;
            return Ok(None);
        }
        Err(error) => return Err(session_failure(&error)),
    };
    let Some(login) = login else {
        return Ok(None);
    };
    let now = mode.now();
    let decision = mode
        .staff_lifetime
        .decide(Some(login.at), login.last_seen, now);
    if decision == StaffDecision::Expired {
        tracing::info!(user_id = %login.user_id, "staff session expired: ended");
        session.flush().await.map_err(|e| session_failure(&e))?;
        return Ok(None);
    }
    let user = mode.store.user(login.user_id).await.map_err(|error| {
        tracing::warn!(%error, "user store failed: request refused with 503");
        SessionDependency::UserStore
    })?;
    match user {
        Some(user) if may_hold_staff_session(&user) => {
            if decision == StaffDecision::ServeAndTouch {
                let touched = LocalLogin {
                    last_seen: Some(now),
                    ..login
                };
                session
                    .insert(LOCAL_USER_KEY, touched)
                    .await
                    .map_err(|e| session_failure(&e))?;
            }
            Ok(Some(Arc::new(user)))
        }
        _ => {
            tracing::info!(user_id = %login.user_id, "local login no longer staff: session ended");
            session.flush().await.map_err(|e| session_failure(&e))?;
            Ok(None)
        }
    }
}

/// The Clerk side: the policy over the stored record, or establishing one.
async fn clerk_session(
    authenticator: &Authenticator,
    mode: &SessionMode,
    session: &Session,
    headers: &HeaderMap,
) -> Result<AuthState, SessionDependency> {
    let now = mode.now();
    let record = match session.get::<SessionRecord>(SESSION_KEY).await {
        Ok(record) => record,
        Err(SessionError::SerdeJson(_)) => {
            return end(
                authenticator,
                mode,
                session,
                headers,
                EndReason::Corrupt,
                None,
            )
            .await;
        }
        Err(error) => return Err(session_failure(&error)),
    };
    let Some(record) = record else {
        return establish(authenticator, mode, session, headers, now).await;
    };
    let standing = standing(mode, &record).await?;
    let presented = find_token(headers, mode.cookie_auth)
        .ok()
        .flatten()
        .and_then(|found| TokenIdentity::peek(found.token));
    match mode
        .policy
        .evaluate(&record, presented.as_ref(), standing, now)
    {
        SessionDecision::Serve => match record.auth() {
            Ok(auth) => Ok(AuthState::new(Arc::new(AuthDecision::SignedIn(Arc::new(
                auth,
            ))))),
            Err(_) => {
                let user = Some(record.user_id.as_str());
                end(
                    authenticator,
                    mode,
                    session,
                    headers,
                    EndReason::Corrupt,
                    user,
                )
                .await
            }
        },
        SessionDecision::Revalidate => {
            revalidate(authenticator, mode, session, headers, &record).await
        }
        SessionDecision::End(reason) => {
            end(
                authenticator,
                mode,
                session,
                headers,
                reason,
                Some(&record.user_id),
            )
            .await
        }
        // A decision this adapter does not know yet: the safe reading is the end.
        _ => {
            end(
                authenticator,
                mode,
                session,
                headers,
                EndReason::Corrupt,
                Some(&record.user_id),
            )
            .await
        }
    }
}

async fn standing(
    mode: &SessionMode,
    record: &SessionRecord,
) -> Result<Standing, SessionDependency> {
    let failed = |error: clerk_core::store::StoreError| {
        tracing::warn!(%error, "user store failed: request refused with 503");
        SessionDependency::UserStore
    };
    Standing::of_record(mode.store.as_ref(), record)
        .await
        .map_err(failed)
}

/// No session: verify the request's token; one that verifies establishes a session under a
/// fresh id.
async fn establish(
    authenticator: &Authenticator,
    mode: &SessionMode,
    session: &Session,
    headers: &HeaderMap,
    now: UnixTime,
) -> Result<AuthState, SessionDependency> {
    let decision = authenticator.authenticate(headers).await;
    let from_header = matches!(
        find_token(headers, mode.cookie_auth),
        Ok(Some(found)) if found.source == TokenSource::AuthorizationHeader
    );
    if let AuthDecision::SignedIn(auth) = &decision {
        // Revocation is final: a revoked sid or a banned user is not signed in again by the
        // `__session` cookie every browser request carries, nor served statelessly.
        let refusal = Standing::refusal(mode.store.as_ref(), auth)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "user store failed: request refused with 503");
                SessionDependency::UserStore
            })?;
        if let Some(reason) = refusal {
            tracing::info!(user_id = %auth.user_id, %reason, "signed-in token refused");
            return Ok(AuthState::session_failure(SessionNote::Ended(reason)));
        }
    }
    let remember = mode.from_header || !from_header;
    if let (AuthDecision::SignedIn(auth), true) = (&decision, remember) {
        session.cycle_id().await.map_err(|e| session_failure(&e))?;
        session
            .insert(SESSION_KEY, SessionRecord::establish(auth, now))
            .await
            .map_err(|e| session_failure(&e))?;
        tracing::debug!(user_id = %auth.user_id, "session established");
    }
    Ok(AuthState::new(Arc::new(decision)))
}

async fn revalidate(
    authenticator: &Authenticator,
    mode: &SessionMode,
    session: &Session,
    headers: &HeaderMap,
    record: &SessionRecord,
) -> Result<AuthState, SessionDependency> {
    if !matches!(find_token(headers, mode.cookie_auth), Ok(Some(_)) | Err(_)) {
        // Signed out until a token comes; the record stays for it.
        return Ok(AuthState::session_failure(
            SessionNote::RevalidationRequired,
        ));
    }
    let decision = authenticator.authenticate(headers).await;
    let AuthDecision::SignedIn(auth) = &decision else {
        // A rejected token is answered as such; an outage as 503. The record stays.
        return Ok(AuthState::new(Arc::new(decision)));
    };
    let now = mode.now();
    let (fresh, replaced) = match mode.policy.after_revalidation(record, auth, now) {
        AfterRevalidation::Refresh(fresh) => (fresh, false),
        AfterRevalidation::Replace(fresh) => (fresh, true),
        // An outcome this adapter does not know yet: never keep the old session's id.
        _ => (SessionRecord::establish(auth, now), true),
    };
    if replaced {
        // Two identities never share a session: the old one goes, with its data and id.
        session.flush().await.map_err(|e| session_failure(&e))?;
        session.cycle_id().await.map_err(|e| session_failure(&e))?;
        tracing::info!(old_user_id = %record.user_id, user_id = %auth.user_id, "session replaced");
    } else {
        tracing::debug!(user_id = %auth.user_id, "session revalidated");
    }
    session
        .insert(SESSION_KEY, fresh)
        .await
        .map_err(|e| session_failure(&e))?;
    Ok(AuthState::new(Arc::new(decision)))
}

/// Ends the session (flush: data deleted, id dropped), then handles the request as if it had
/// none.
async fn end(
    authenticator: &Authenticator,
    mode: &SessionMode,
    session: &Session,
    headers: &HeaderMap,
    reason: EndReason,
    user_id: Option<&str>,
) -> Result<AuthState, SessionDependency> {
    tracing::info!(user_id, %reason, "session ended");
    session.flush().await.map_err(|e| session_failure(&e))?;
    establish(authenticator, mode, session, headers, mode.now()).await
}
