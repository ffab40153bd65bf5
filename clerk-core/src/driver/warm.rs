//! The warm path of a request in one step: a token verified earlier is found by its bytes,
//! before (and instead of) the header checks that a new token needs.
//!
//! Why skipping the checks is sound: the verified-token cache only ever holds tokens that
//! passed them, and a hit compares every byte, so a header `Bearer <bytes>` whose bytes equal
//! a held token carries exactly the token the checks would have found. Every other shape (two
//! `Authorization` headers, another scheme, spaces, a cookie, a token not held) goes through
//! [`find_token_from`] and [`decide_now`](Authenticator::decide_now) as before, so the
//! decisions are the same; `tests/warm_path.rs` checks that over many header shapes.

use std::sync::Arc;

use super::{AuthDecision, Authenticator, KeySource};
use crate::auth::Auth;
use crate::extract::{cookie, find_token_from, SESSION_COOKIE};
use crate::time::UnixTime;

impl Authenticator {
    /// The decision for a request's `Authorization` values and `__session` cookie when it can
    /// be had without waiting; `None` when keys must be fetched first (then
    /// [`decide`](Self::decide) over [`find_token_from`] decides).
    ///
    /// The same decision as `decide_now(find_token_from(authorization, session_cookie))`,
    /// cheaper for the usual request: one `Bearer <token>` header whose token was verified
    /// earlier is looked up by its bytes, without reading them twice first (about 800
    /// instructions of a ~950-byte token, BENCHMARKS.md). Pass the cookie only when
    /// [`cookie_auth`](Self::cookie_auth) is on.
    pub fn decide_request_now<'a>(
        &self,
        authorization: impl IntoIterator<Item = &'a [u8]>,
        session_cookie: impl FnOnce() -> Option<&'a str>,
    ) -> Option<AuthDecision> {
        let mut values = authorization.into_iter();
        let first = values.next();
        let second = first.and_then(|_| values.next());
        if let (Some(value), None) = (first, second) {
            if let Some(auth) = value
                .strip_prefix(b"Bearer ")
                .and_then(|token| self.cached(token, self.inner.clock.now()))
            {
                return Some(AuthDecision::SignedIn(auth));
            }
        }
        self.decide_now(find_token_from(
            first.into_iter().chain(second),
            session_cookie,
        ))
    }

    /// [`decide_request_now`](Self::decide_request_now) over an [`http::HeaderMap`]: the
    /// `Authorization` headers, and the `__session` cookie when cookie authentication is on.
    pub fn decide_headers_now(&self, headers: &http::HeaderMap) -> Option<AuthDecision> {
        self.decide_request_now(
            headers
                .get_all(http::header::AUTHORIZATION)
                .iter()
                .map(http::HeaderValue::as_bytes),
            || {
                self.inner
                    .cookie_auth
                    .then(|| cookie(headers, SESSION_COOKIE))
                    .flatten()
            },
        )
    }

    /// The verified-token cache's answer for `token` at `now`: the verified session while it
    /// is unexpired and its signing key is still held; an entry that may no longer be served
    /// is dropped.
    pub(crate) fn cached(&self, token: &[u8], now: UnixTime) -> Option<Arc<Auth>> {
        let inner = &*self.inner;
        inner.tokens.as_ref()?.get(token, |hit| {
            let unexpired = now < hit.auth.expires_at.saturating_add(inner.options.clock_skew);
            let key_held = match (&inner.keys, hit.kid) {
                (KeySource::Pem(_), _) => true,
                (KeySource::Jwks(jwks), Some(kid)) => jwks.holds(kid, hit.keys, now),
                (KeySource::Jwks(_), None) => false,
            };
            (unexpired && key_held).then_some(hit.auth)
        })
    }
}
