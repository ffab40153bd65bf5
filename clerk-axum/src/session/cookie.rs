//! The session cookie's rules ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)):
//! tower-sessions' manager with clerk-core's name and attributes — `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, no `Domain`, a browser-session cookie, and `Secure` with the
//! `__Host-` prefix unless `CLERK_COOKIE_SECURE=false`. Never decided from the `Host` header:
//! behind a proxy (nginx's default `proxy_set_header Host $host` or none at all) it says
//! nothing about the scheme the browser used.

use clerk_core::session::session_cookie_name;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

/// What [`cookie_layer`] returns: tower-sessions' manager.
pub type CookieLayer<S> = SessionManagerLayer<S>;

/// tower-sessions' `SessionManagerLayer` over `store` with this crate's cookie rules and
/// `Secure` on: the cookie [`COOKIE_NAME`](super::COOKIE_NAME) (`__Host-clerk_session`).
/// Browsers accept it on `http://localhost` too; for a plain-HTTP deployment elsewhere use
/// [`cookie_layer_with`].
///
/// Put it outside [`ClerkLayer`](crate::ClerkLayer) (a later `.layer(..)` call on the
/// router). Any tower-sessions store works; `MemoryStore` keeps sessions in the process
/// (lost on restart, not shared between instances).
pub fn cookie_layer<S: SessionStore + Clone>(store: S) -> CookieLayer<S> {
    cookie_layer_with(store, true)
}

/// [`cookie_layer`] with `Secure` as `secure` says (`CLERK_COOKIE_SECURE`,
/// [`ClerkConfig::cookie_secure`](clerk_core::ClerkConfig::cookie_secure)): off, the cookie
/// is `clerk_session`, without the `__Host-` prefix (which requires `Secure`).
pub fn cookie_layer_with<S: SessionStore + Clone>(store: S, secure: bool) -> CookieLayer<S> {
    SessionManagerLayer::new(store)
        .with_name(session_cookie_name(secure))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnSessionEnd)
        .with_secure(secure)
}
