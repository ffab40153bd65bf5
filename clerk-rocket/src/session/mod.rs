//! Session mode: "validate once, cache in session" ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)) under clerk-core's pure
//! [`RevalidationPolicy`], with a server-side session store behind an opaque cookie; and the
//! local staff sessions of hybrid mode (feature `hybrid`, the `staff` module).
//!
//! Turn it on with [`ClerkFairing::sessions`](crate::ClerkFairing::sessions). The first guard
//! of a request then, instead of verifying the token alone:
//!
//! 1. loads the session named by the [`COOKIE_NAME`] cookie from the [`SessionStore`];
//! 2. with a Clerk [`SessionRecord`] in it, looks up the session's [`Standing`] in the mirror
//!    (the `sid` in the revoked set, the user by Clerk id) and runs
//!    [`RevalidationPolicy::evaluate`] with the identity the request's token claims;
//! 3. carries out the decision:
//!    - serve: the record's [`Auth`] is the request's session, no signature check;
//!    - revalidate: the token is verified; the same identity refreshes the record, another
//!      replaces the session under a new id; no token → signed out with reason
//!      `session-revalidation-required` (the record is kept for the next token);
//!    - end: the session is deleted and its cookie removed, then the request is handled as if
//!      it had none — a token that verifies establishes a new one;
//! 4. without a record, a token that verifies establishes one under a fresh id (no fixation).
//!
//! A session store or mirror failure answers 503 through the guards, never "signed in" and
//! never "signed out". Sessions holding a local (staff) login are left to their own rules:
//! Clerk tokens are verified per request, statelessly, and never establish a Clerk record
//! there.
//!
//! Why a server-side store rather than Rocket's private cookies: an ended session (a logout,
//! a `session.revoked` webhook) must not come back when an old cookie is replayed, and a
//! cookie that only names the session cannot be replayed into anything. The cookie is
//! HttpOnly, SameSite=Lax, `Path=/`, ends with the browser session, and is `Secure` with the
//! `__Host-` prefix ([`COOKIE_NAME`]) unless `CLERK_COOKIE_SECURE=false` (then
//! `clerk_session`) — never decided from the request's `Host`, which behind a proxy says
//! nothing about the browser's scheme.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use clerk_core::extract::{find_token, FoundToken, TokenSource};
use clerk_core::session::{
    session_cookie_name, AfterRevalidation, EndReason, RevalidationPolicy, SessionDecision,
    SessionRecord, Standing, TokenIdentity,
};
use clerk_core::store::Store;
use clerk_core::time::UnixTime;
use clerk_core::{Auth, AuthDecision, Authenticator};
use futures_util::future::BoxFuture;
use rocket::http::{Cookie, SameSite};
use rocket::Request;

use crate::guard::{credential_headers, AuthState, SessionNote};
use crate::ClerkState;

#[cfg(feature = "hybrid")]
pub mod staff;

/// The session cookie's name with `Secure` on (the default): `__Host-clerk_session`, the same
/// as clerk-axum's; `clerk_session` with `CLERK_COOKIE_SECURE=false`.
pub const COOKIE_NAME: &str = clerk_core::session::SESSION_COOKIE_SECURE;

/// What a session holds.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionData {
    /// The Clerk session (the "Clerk marker").
    pub clerk: Option<SessionRecord>,
    /// A local (password) login of hybrid mode: `clerk_users.id`.
    pub local_user: Option<i64>,
    /// When the local login happened.
    pub local_login_at: Option<UnixTime>,
    /// When the local login's session last served a request (rewritten at most every
    /// [`StaffLifetime::TOUCH_EVERY`](clerk_core::session::StaffLifetime::TOUCH_EVERY)).
    pub local_last_seen: Option<UnixTime>,
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionData")
            .field("clerk", &self.clerk)
            .field("local_user", &self.local_user)
            .field("local_login_at", &self.local_login_at)
            .field("local_last_seen", &self.local_last_seen)
            .finish()
    }
}

/// The session store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionStoreError(pub String);

/// Where sessions live, by id. Implement it over a shared database or cache to run several
/// processes; [`MemorySessionStore`] keeps them in this process.
pub trait SessionStore: Send + Sync + 'static {
    /// The session `id`, if it exists.
    fn load<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionData>, SessionStoreError>>;
    /// Stores `data` under `id`.
    fn save<'a>(
        &'a self,
        id: &'a str,
        data: SessionData,
    ) -> BoxFuture<'a, Result<(), SessionStoreError>>;
    /// Forgets `id`.
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SessionStoreError>>;
}

/// Sessions in this process's memory (a restart signs everyone out).
#[derive(Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<String, SessionData>>,
}

impl fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySessionStore").finish_non_exhaustive()
    }
}

impl MemorySessionStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, SessionData>) -> T,
    ) -> Result<T, SessionStoreError> {
        self.sessions
            .lock()
            .map(|mut sessions| f(&mut sessions))
            .map_err(|_| SessionStoreError("poisoned".into()))
    }
}

impl SessionStore for MemorySessionStore {
    fn load<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionData>, SessionStoreError>> {
        Box::pin(async move { self.with(|s| s.get(id).cloned()) })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        data: SessionData,
    ) -> BoxFuture<'a, Result<(), SessionStoreError>> {
        Box::pin(async move {
            self.with(|s| {
                s.insert(id.to_owned(), data);
            })
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SessionStoreError>> {
        Box::pin(async move {
            self.with(|s| {
                s.remove(id);
            })
        })
    }
}

pub use clerk_core::rejection::SessionDependency;

/// Session mode's parts: the mirror (standing, staff users), the session store and the
/// policy. Cheap to clone.
#[derive(Clone)]
pub struct SessionMode {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) policy: RevalidationPolicy,
    pub(crate) from_header: bool,
    pub(crate) staff_lifetime: clerk_core::session::StaffLifetime,
    #[cfg(feature = "hybrid")]
    pub(crate) login_gate: clerk_core::login_gate::LoginGate,
}

impl fmt::Debug for SessionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMode")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SessionMode {
    /// Session mode over the mirror `store` (where revocations, bans and staff users are
    /// read), keeping sessions in `sessions`, revalidating per `policy`
    /// ([`RevalidationPolicy::from_config`] for `CLERK_SESSION_REVALIDATION_SECONDS`).
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        sessions: Arc<dyn SessionStore>,
        policy: RevalidationPolicy,
    ) -> Self {
        SessionMode {
            store,
            sessions,
            policy,
            from_header: true,
            staff_lifetime: clerk_core::session::StaffLifetime::DEFAULT,
            #[cfg(feature = "hybrid")]
            login_gate: clerk_core::login_gate::LoginGate::from_setting(None),
        }
    }

    /// How long a local staff session lasts: idle and in all (`CLERK_STAFF_SESSION_IDLE_SECONDS`,
    /// `CLERK_STAFF_SESSION_MAX_SECONDS`); the fairing sets it from the settings. Default: an
    /// hour idle, twelve hours in all.
    #[must_use]
    pub fn staff_session_lifetime(mut self, lifetime: clerk_core::session::StaffLifetime) -> Self {
        self.staff_lifetime = lifetime;
        self
    }

    /// How many staff password checks may run at once (`CLERK_STAFF_LOGIN_CONCURRENCY`;
    /// `None`: the number of CPUs), with a queue of twice that; beyond it a login answers
    /// [`StaffLoginError::Busy`](staff::StaffLoginError::Busy) (503 with `Retry-After`) at
    /// once, so a flood of logins cannot exhaust memory (each argon2 check takes ~19 MiB). The
    /// fairing sets it from the settings.
    #[cfg(feature = "hybrid")]
    #[must_use]
    pub fn staff_login_concurrency(mut self, checks: Option<std::num::NonZeroUsize>) -> Self {
        self.login_gate = clerk_core::login_gate::LoginGate::from_setting(checks);
        self
    }

    /// Whether a verified `Authorization: Bearer` token establishes a session (default: yes).
    /// Off, only Clerk's `__session` cookie (browsers) does, and API clients that never return
    /// the session cookie stay stateless instead of filling the session store; an existing
    /// session still follows every rule.
    #[must_use]
    pub fn establish_from_header(mut self, enabled: bool) -> Self {
        self.from_header = enabled;
        self
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> RevalidationPolicy {
        self.policy
    }
}

/// A fresh, unguessable session id (256 random bits, base64url).
pub(crate) fn new_session_id() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The session cookie change of this request, kept so that [`replay_cookie`] can repeat it
/// on Rocket's error path: Rocket drops cookie changes made before a catcher runs, and a
/// guard that ended or established a session may still fail the request.
struct PendingCookie(Mutex<Option<CookieChange>>);

#[derive(Clone)]
enum CookieChange {
    Set(String),
    Remove,
}

fn pending<'r>(request: &'r Request<'_>) -> &'r PendingCookie {
    request.local_cache(|| PendingCookie(Mutex::new(None)))
}

fn apply(request: &Request<'_>, change: &CookieChange) {
    match change {
        CookieChange::Set(id) => {
            let secure = cookie_secure(request);
            let cookie = Cookie::build((session_cookie_name(secure), id.clone()))
                .http_only(true)
                .same_site(SameSite::Lax)
                .path("/")
                .secure(secure);
            request.cookies().add(cookie);
        }
        CookieChange::Remove => {
            let secure = cookie_secure(request);
            request.cookies().remove(
                Cookie::build(session_cookie_name(secure))
                    .path("/")
                    .secure(secure),
            );
        }
    }
}

fn record(request: &Request<'_>, change: CookieChange) {
    apply(request, &change);
    if let Ok(mut slot) = pending(request).0.lock() {
        *slot = Some(change);
    }
}

/// Sets the session cookie to `id` with [design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)'s attributes.
pub(crate) fn set_cookie(request: &Request<'_>, id: String) {
    record(request, CookieChange::Set(id));
}

pub(crate) fn remove_cookie(request: &Request<'_>) {
    record(request, CookieChange::Remove);
}

/// Repeats this request's session cookie change (the [`catchers`](crate::catchers) call it).
pub(crate) fn replay_cookie(request: &Request<'_>) {
    let change = pending(request).0.lock().ok().and_then(|slot| slot.clone());
    if let Some(change) = change {
        apply(request, &change);
    }
}

/// `CLERK_COOKIE_SECURE` of the fairing's settings (on without a fairing: the safe reading),
/// never the request's `Host`.
fn cookie_secure(request: &Request<'_>) -> bool {
    request
        .rocket()
        .state::<ClerkState>()
        .is_none_or(|state| state.config().cookie_secure)
}

pub(crate) fn cookie_id(request: &Request<'_>) -> Option<String> {
    request
        .cookies()
        .get(session_cookie_name(cookie_secure(request)))
        .map(|cookie| cookie.value().to_owned())
        .filter(|id| !id.is_empty())
}

fn unavailable(which: SessionDependency) -> AuthState {
    AuthState::with_note(AuthDecision::NoToken, SessionNote::Unavailable(which))
}

fn store_failed(error: impl fmt::Display) -> AuthState {
    tracing::warn!(%error, "session store failed: request refused with 503");
    unavailable(SessionDependency::SessionStore)
}

/// The request's [`AuthState`] under session mode (see the [module docs](self)).
pub(crate) async fn authenticate(
    request: &Request<'_>,
    authenticator: &Authenticator,
    cookie_auth: bool,
    mode: &SessionMode,
) -> AuthState {
    let now = authenticator.clock().now();
    let headers = credential_headers(request);
    let id = cookie_id(request);
    let data = match &id {
        Some(id) => match mode.sessions.load(id).await {
            Ok(data) => data,
            Err(error) => return store_failed(error),
        },
        None => None,
    };
    if data.as_ref().is_some_and(|d| d.local_user.is_some()) {
        // A local login's session: Clerk tokens count per request only.
        return AuthState::new(Arc::new(authenticator.authenticate(&headers).await));
    }
    let Some((id, record)) = id.zip(data.and_then(|d| d.clerk)) else {
        return establish(request, authenticator, mode, &headers, now).await;
    };
    let token = find_token(&headers, cookie_auth).ok().flatten();
    let presented = token.and_then(|found| TokenIdentity::peek(found.token));
    let standing = match standing(mode, &record).await {
        Ok(standing) => standing,
        Err(which) => return unavailable(which),
    };
    match mode
        .policy
        .evaluate(&record, presented.as_ref(), standing, now)
    {
        SessionDecision::Serve => match record.auth() {
            Ok(auth) => AuthState::new(Arc::new(AuthDecision::SignedIn(Arc::new(auth)))),
            Err(_) => {
                end(request, mode, &id, EndReason::Corrupt, &record).await;
                establish(request, authenticator, mode, &headers, now).await
            }
        },
        SessionDecision::Revalidate => {
            if token.is_none() {
                return AuthState::with_note(
                    AuthDecision::NoToken,
                    SessionNote::RevalidationRequired,
                );
            }
            let decision = authenticator.authenticate(&headers).await;
            let AuthDecision::SignedIn(auth) = &decision else {
                // A rejected token or an outage: the record stays for the next good token.
                return AuthState::new(Arc::new(decision));
            };
            let saved = match mode.policy.after_revalidation(&record, auth, now) {
                AfterRevalidation::Refresh(fresh) => save(mode, &id, fresh).await.map(|()| {
                    tracing::debug!(
                        user_id = %auth.user_id,
                        "session revalidated"
                    )
                }),
                AfterRevalidation::Replace(fresh) => replace(request, mode, &id, fresh).await,
                // An outcome this adapter does not know yet: start over under a new id.
                _ => replace(request, mode, &id, SessionRecord::establish(auth, now)).await,
            };
            match saved {
                Ok(()) => AuthState::new(Arc::new(decision)),
                Err(error) => store_failed(error),
            }
        }
        SessionDecision::End(reason) => {
            end(request, mode, &id, reason, &record).await;
            establish(request, authenticator, mode, &headers, now).await
        }
        // A decision this adapter does not know yet: the safe reading is the end.
        _ => {
            end(request, mode, &id, EndReason::Corrupt, &record).await;
            establish(request, authenticator, mode, &headers, now).await
        }
    }
}

async fn save(
    mode: &SessionMode,
    id: &str,
    record: SessionRecord,
) -> Result<(), SessionStoreError> {
    let data = SessionData {
        clerk: Some(record),
        ..SessionData::default()
    };
    mode.sessions.save(id, data).await
}

/// A new identity: the old session goes, the new one gets a fresh id.
async fn replace(
    request: &Request<'_>,
    mode: &SessionMode,
    old: &str,
    record: SessionRecord,
) -> Result<(), SessionStoreError> {
    mode.sessions.delete(old).await?;
    let id = new_session_id();
    save(mode, &id, record).await?;
    set_cookie(request, id);
    Ok(())
}

async fn end(
    request: &Request<'_>,
    mode: &SessionMode,
    id: &str,
    reason: EndReason,
    record: &SessionRecord,
) {
    tracing::info!(user_id = %record.user_id, %reason, "session ended");
    if let Err(error) = mode.sessions.delete(id).await {
        // The cookie goes anyway; a leftover record is ended again if it is ever presented.
        tracing::warn!(%error, "session store failed to delete an ended session");
    }
    remove_cookie(request);
}

/// No usable session: verify the token; one that verifies establishes a session under a fresh
/// id.
async fn establish(
    request: &Request<'_>,
    authenticator: &Authenticator,
    mode: &SessionMode,
    headers: &http::HeaderMap,
    now: UnixTime,
) -> AuthState {
    let decision = authenticator.authenticate(headers).await;
    if let AuthDecision::SignedIn(auth) = &decision {
        // Revocation is final: a revoked sid or a banned user is not signed in again by the
        // `__session` cookie every browser request carries, nor served statelessly.
        match Standing::refusal(mode.store.as_ref(), auth).await {
            Ok(None) => {}
            Ok(Some(reason)) => {
                tracing::info!(user_id = %auth.user_id, %reason, "signed-in token refused");
                return AuthState::with_note(AuthDecision::NoToken, SessionNote::Ended(reason));
            }
            Err(error) => {
                tracing::warn!(%error, "user store failed: request refused with 503");
                return unavailable(SessionDependency::UserStore);
            }
        }
    }
    let from_cookie = matches!(
        find_token(headers, true),
        Ok(Some(FoundToken {
            source: TokenSource::SessionCookie,
            ..
        }))
    );
    if let (AuthDecision::SignedIn(auth), true) = (&decision, mode.from_header || from_cookie) {
        let id = new_session_id();
        if let Err(error) = save(mode, &id, SessionRecord::establish(auth, now)).await {
            return store_failed(error);
        }
        set_cookie(request, id);
        log_established(auth);
    }
    AuthState::new(Arc::new(decision))
}

fn log_established(auth: &Auth) {
    tracing::debug!(user_id = %auth.user_id, "session established");
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
