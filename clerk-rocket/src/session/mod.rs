//! Session mode: "validate once, cache in session" ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)) under clerk-core's pure
//! [`RevalidationPolicy`](clerk_core::session::RevalidationPolicy), with a server-side session store behind an opaque cookie; and the
//! local staff sessions of hybrid mode (feature `hybrid`, the `staff` module).
//!
//! Turn it on with [`ClerkFairing::sessions`](crate::ClerkFairing::sessions). The first guard
//! of a request then, instead of verifying the token alone:
//!
//! 1. loads the session named by the [`COOKIE_NAME`] cookie from the [`SessionStore`];
//! 2. with a Clerk [`SessionRecord`](clerk_core::session::SessionRecord) in it, looks up the session's [`Standing`](clerk_core::session::Standing) in the mirror
//!    (the `sid` in the revoked set, the user by Clerk id) and runs
//!    [`RevalidationPolicy::evaluate`](clerk_core::session::RevalidationPolicy::evaluate) with the identity the request's token claims;
//! 3. carries out the decision:
//!    - serve: the record's [`Auth`](clerk_core::Auth) is the request's session, no signature check;
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
//! The flow is clerk-core's [`SessionFlow::run`], shared with clerk-axum; this module maps
//! it onto Rocket (the cookie, the store, the error path's cookie replay).
//!
//! Sessions live in a [`SessionStore`]: [`MemorySessionStore`] in one process (bounded: each
//! record expires after `CLERK_SESSION_IDLE_SECONDS` without a request, staff sessions after
//! their idle and absolute lifetimes, expired records are evicted, and at most
//! [`MAX_SESSIONS_PER_SID`] exist per Clerk session, so replaying one token without the app's
//! cookie cannot grow memory).
//!
//! Why a server-side store rather than Rocket's private cookies: an ended session (a logout,
//! a `session.revoked` webhook) must not come back when an old cookie is replayed, and a
//! cookie that only names the session cannot be replayed into anything. The cookie is
//! HttpOnly, SameSite=Lax, `Path=/`, ends with the browser session, and is `Secure` with the
//! `__Host-` prefix ([`COOKIE_NAME`]) unless `CLERK_COOKIE_SECURE=false` (then
//! `clerk_session`) — never decided from the request's `Host`, which behind a proxy says
//! nothing about the browser's scheme.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use clerk_core::flow::session::{BackendError, FlowOutcome, SessionBackend};
pub use clerk_core::flow::session::{LocalLogin, SessionData, SessionFlow};
use clerk_core::session::session_cookie_name;
use rocket::http::{Cookie, SameSite};
use rocket::Request;

use crate::guard::credential_headers;
use crate::ClerkState;

#[cfg(feature = "hybrid")]
pub mod staff;

/// The session cookie's name with `Secure` on (the default): `__Host-clerk_session`, the same
/// as clerk-axum's; `clerk_session` with `CLERK_COOKIE_SECURE=false`.
pub const COOKIE_NAME: &str = clerk_core::session::SESSION_COOKIE_SECURE;

/// Session mode's settings and flow: clerk-core's [`SessionFlow`]; the fairing builds it from
/// the settings.
pub type SessionMode = SessionFlow;

pub use clerk_core::flow::records::{
    MemorySessionStore, SessionStore, SessionStoreError, StoredSession, MAX_SESSIONS_PER_SID,
};

pub use clerk_core::rejection::SessionDependency;

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

/// The request's session as the core's [`SessionBackend`]: the cookie names a record in the
/// [`SessionStore`]; a renewed session gets a fresh id and cookie, an ended one loses both.
pub(crate) struct RocketBackend<'r> {
    request: &'r Request<'r>,
    sessions: Arc<dyn SessionStore>,
    flow: SessionFlow,
    id: Mutex<Option<String>>,
}

impl<'r> RocketBackend<'r> {
    pub(crate) fn new(
        request: &'r Request<'_>,
        sessions: Arc<dyn SessionStore>,
        flow: &SessionFlow,
    ) -> Self {
        RocketBackend {
            request: shorten(request),
            id: Mutex::new(cookie_id(request)),
            sessions,
            flow: flow.clone(),
        }
    }

    async fn store(&self, id: &str, data: &SessionData) -> Result<(), BackendError> {
        let bytes = serde_json::to_vec(data).map_err(|e| BackendError::Failed(e.to_string()))?;
        let sid = data.clerk.as_ref().and_then(|r| r.session_id.clone());
        let session = StoredSession::new(bytes, sid, self.flow.expires_at(data));
        self.sessions
            .save(id, session, self.flow.now())
            .await
            .map_err(failed)
    }

    fn id(&self) -> Option<String> {
        self.id.lock().ok().and_then(|id| id.clone())
    }

    fn set_id(&self, id: Option<String>) {
        if let Ok(mut slot) = self.id.lock() {
            *slot = id;
        }
    }
}

/// Rocket hands guards `&'r Request<'_>`; the cookie jar lives as long.
fn shorten<'r>(request: &'r Request<'_>) -> &'r Request<'r> {
    request
}

fn failed(error: SessionStoreError) -> BackendError {
    BackendError::Failed(error.0)
}

#[async_trait]
impl SessionBackend for RocketBackend<'_> {
    async fn load(&self) -> Result<Option<SessionData>, BackendError> {
        let Some(id) = self.id() else {
            return Ok(None);
        };
        match self
            .sessions
            .load(&id, self.flow.now())
            .await
            .map_err(failed)?
        {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| BackendError::Corrupt),
            None => Ok(None),
        }
    }

    async fn save(&self, data: &SessionData) -> Result<(), BackendError> {
        match self.id() {
            Some(id) => self.store(&id, data).await,
            None => self.renew(data).await,
        }
    }

    async fn renew(&self, data: &SessionData) -> Result<(), BackendError> {
        if let Some(old) = self.id() {
            self.sessions.delete(&old).await.map_err(failed)?;
        }
        let id = new_session_id();
        self.store(&id, data).await?;
        set_cookie(self.request, id.clone());
        self.set_id(Some(id));
        Ok(())
    }

    async fn end(&self) -> Result<(), BackendError> {
        if let Some(id) = self.id() {
            self.sessions.delete(&id).await.map_err(failed)?;
            remove_cookie(self.request);
            self.set_id(None);
        }
        Ok(())
    }
}

/// The request's flow outcome under session mode (see the [module docs](self)).
pub(crate) async fn authenticate(
    request: &Request<'_>,
    state: &ClerkState,
    flow: &SessionFlow,
) -> FlowOutcome {
    let backend = RocketBackend::new(request, Arc::clone(state.session_store()), flow);
    let headers = credential_headers(request);
    flow.run(state.authenticator(), &backend, &headers).await
}
