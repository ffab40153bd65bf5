//! Session mode (feature `sessions`): "validate once, cache in session" with
//! [tower-sessions](https://docs.rs/tower-sessions), under clerk-core's pure
//! [`RevalidationPolicy`](clerk_core::session::RevalidationPolicy) ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)), and the local staff sessions of hybrid mode.
//!
//! Turn it on with [`ClerkBuilder::sessions`](crate::ClerkBuilder::sessions) (or by hand:
//! [`ClerkLayer::with_sessions`](crate::ClerkLayer::with_sessions) and tower-sessions'
//! `SessionManagerLayer` *outside* the Clerk layer, [`cookie_layer`]). The flow is
//! clerk-core's [`SessionFlow::run`], over the request's tower-sessions `Session` (the Clerk
//! record under [`SESSION_KEY`], a local login under [`LOCAL_USER_KEY`]): serve from the
//! record, revalidate with a fresh token, or end the session; a token that verifies and whose
//! standing allows it establishes a session under a rotated id; a revoked `sid` or banned
//! user is never signed in again by the `__session` cookie of the same or a later request.
//! Infrastructure failures — the session store or the user store down — answer 503 through
//! the extractors, never "signed in" and never "signed out".
//!
//! # Bounded
//!
//! Keep the records in a [`ClerkSessionStore`]: a tower-sessions store over clerk-core's
//! [`SessionStore`] ([`MemorySessionStore`] in one process), so each record expires after
//! `CLERK_SESSION_IDLE_SECONDS` without a request (staff sessions after their idle and
//! absolute lifetimes), expired records are evicted, and at most [`MAX_SESSIONS_PER_SID`]
//! exist per Clerk session — a client replaying one token without the app's cookie cannot
//! grow memory. tower-sessions' own `MemoryStore` never evicts: use it for tests only.
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
//! use clerk_axum::session::{ClerkSessionStore, MemorySessionStore};
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
//! # let authenticator = Authenticator::builder(config.clone()).http_client(offline::jwks_client(&[&key])).build()?;
//! // The local mirror (webhooks keep it current): where revocations and bans are looked up.
//! let store: Arc<dyn Store> = Arc::new(clerk_store::MemoryStore::new());
//! let policy = RevalidationPolicy::new(Duration::from_secs(300));
//! let app: Router = Router::new()
//!     .route("/api/me", get(me))
//!     .layer(ClerkLayer::new(authenticator).with_sessions(SessionMode::new(store, policy)))
//!     // Outside the Clerk layer: tower-sessions loads and saves the session around it.
//!     .layer(cookie_layer(ClerkSessionStore::new(Arc::new(MemorySessionStore::new()), &config)));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

mod cookie;
mod staff;
mod store;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::Request;
use clerk_core::flow::session::{BackendError, SessionBackend, StaffState};
use clerk_core::flow::{RequestAuth, SessionNote};
use clerk_core::session::{SessionRecord, SESSION_KEY};
use clerk_core::Authenticator;
use tower_sessions::session::Error as SessionError;
use tower_sessions::Session;

pub use clerk_core::flow::records::{MemorySessionStore, SessionStore, MAX_SESSIONS_PER_SID};
pub use clerk_core::flow::session::{LocalLogin, SessionData, SessionFlow};
pub use cookie::{cookie_layer, cookie_layer_with, CookieLayer};
pub use staff::{LocalStaff, StaffLoginError, StaffSession};
pub use store::ClerkSessionStore;

use crate::rejection::SESSION_LAYER_MISSING;
use crate::AuthState;

/// Session mode's settings and flow: clerk-core's [`SessionFlow`] (the store where a
/// session's standing is looked up, the revalidation policy, the staff session lifetime and
/// login gate). Given to [`ClerkLayer::with_sessions`](crate::ClerkLayer::with_sessions).
pub type SessionMode = SessionFlow;

/// The key under which a local (hybrid-mode) login is stored: a [`LocalLogin`]. A session
/// holding it has no Clerk marker ([`SESSION_KEY`]).
pub const LOCAL_USER_KEY: &str = "clerk.local_user";

/// The session cookie's name as [`cookie_layer`] sets it (`Secure` on):
/// `__Host-clerk_session`, the same as clerk-rocket's.
pub const COOKIE_NAME: &str = clerk_core::session::SESSION_COOKIE_SECURE;

/// The request's tower-sessions `Session` as the core's [`SessionBackend`]: the Clerk record
/// under [`SESSION_KEY`], a local login under [`LOCAL_USER_KEY`]; the application's own keys
/// in the same session are kept when an identity is established, deleted when it ends.
#[derive(Clone)]
pub(crate) struct TowerBackend(pub(crate) Session);

fn backend_error(error: SessionError) -> BackendError {
    match error {
        SessionError::SerdeJson(_) => BackendError::Corrupt,
        other => BackendError::Failed(other.to_string()),
    }
}

#[async_trait]
impl SessionBackend for TowerBackend {
    async fn load(&self) -> Result<Option<SessionData>, BackendError> {
        let clerk = self
            .0
            .get::<SessionRecord>(SESSION_KEY)
            .await
            .map_err(backend_error)?;
        let local = self
            .0
            .get::<LocalLogin>(LOCAL_USER_KEY)
            .await
            .map_err(backend_error)?;
        Ok((clerk.is_some() || local.is_some()).then_some(SessionData { clerk, local }))
    }

    async fn save(&self, data: &SessionData) -> Result<(), BackendError> {
        match &data.clerk {
            Some(record) => self.0.insert(SESSION_KEY, record).await,
            None => self.0.remove_value(SESSION_KEY).await.map(drop),
        }
        .map_err(backend_error)?;
        match &data.local {
            Some(login) => self.0.insert(LOCAL_USER_KEY, login).await,
            None => self.0.remove_value(LOCAL_USER_KEY).await.map(drop),
        }
        .map_err(backend_error)
    }

    async fn renew(&self, data: &SessionData) -> Result<(), BackendError> {
        self.0.cycle_id().await.map_err(backend_error)?;
        self.save(data).await
    }

    async fn end(&self) -> Result<(), BackendError> {
        self.0.flush().await.map_err(backend_error)
    }
}

/// Runs session mode for one request: inserts the [`AuthState`], the local-login state and
/// the [`StaffSession`] handle.
pub(crate) async fn authenticate<B>(
    authenticator: &Authenticator,
    flow: &Arc<SessionFlow>,
    request: &mut Request<B>,
) {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        let missing = RequestAuth::noted(SessionNote::Misconfigured(SESSION_LAYER_MISSING));
        request.extensions_mut().insert(AuthState(missing));
        return;
    };
    let backend = TowerBackend(session);
    let outcome = flow.run(authenticator, &backend, request.headers()).await;
    // The peer address, when the app serves with `into_make_service_with_connect_info`.
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let extensions = request.extensions_mut();
    extensions.insert(StaffSession {
        backend,
        flow: Arc::clone(flow),
        client,
    });
    extensions.insert::<StaffState>(outcome.staff);
    extensions.insert(AuthState(outcome.auth));
}
