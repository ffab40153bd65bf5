//! The session cookie's rules: tower-sessions' manager configured HttpOnly, SameSite=Lax,
//! plus `Secure` decided per request from the `Host` ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation): Secure outside localhost).

use std::task::{Context, Poll};

use axum::http::header::{HOST, SET_COOKIE};
use axum::http::{HeaderValue, Request, Response};
use clerk_core::session::cookie_secure_for_host;
use futures_util::future::BoxFuture;
use tower_layer::{Layer, Stack};
use tower_service::Service;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

use super::COOKIE_NAME;

/// What [`cookie_layer`] returns: tower-sessions' manager inside [`SecureCookieLayer`].
pub type CookieLayer<S> = Stack<SessionManagerLayer<S>, SecureCookieLayer>;

/// tower-sessions' `SessionManagerLayer` over `store` with this crate's cookie rules: name
/// [`COOKIE_NAME`], HttpOnly, SameSite=Lax, `Path=/`, a browser-session cookie, and `Secure`
/// except for requests to a loopback host.
///
/// Put it outside [`ClerkLayer`](crate::ClerkLayer) (a later `.layer(..)` call on the
/// router). Any tower-sessions store works; `MemoryStore` keeps sessions in the process
/// (lost on restart, not shared between instances).
pub fn cookie_layer<S: SessionStore + Clone>(store: S) -> CookieLayer<S> {
    let manager = SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnSessionEnd)
        // Decided per request by the outer layer.
        .with_secure(false);
    Stack::new(manager, SecureCookieLayer::new(COOKIE_NAME))
}

/// Adds `Secure` to the `Set-Cookie` of one cookie unless the request's `Host` is loopback
/// ([`cookie_secure_for_host`]). tower-sessions can only set `Secure` for all requests.
#[derive(Debug, Clone)]
pub struct SecureCookieLayer {
    name: &'static str,
}

impl SecureCookieLayer {
    /// For the cookie `name`.
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        SecureCookieLayer { name }
    }
}

impl<S> Layer<S> for SecureCookieLayer {
    type Service = SecureCookie<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecureCookie {
            inner,
            name: self.name,
        }
    }
}

/// The service of [`SecureCookieLayer`].
#[derive(Debug, Clone)]
pub struct SecureCookie<S> {
    inner: S,
    name: &'static str,
}

impl<S, B, R> Service<Request<B>> for SecureCookie<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let host = request
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
        // No Host at all (HTTP/1.0, tests): Secure, the safe default.
        let secure = host.as_deref().is_none_or(cookie_secure_for_host);
        let name = self.name;
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            if secure {
                add_secure(response.headers_mut(), name);
            }
            Ok(response)
        })
    }
}

fn add_secure(headers: &mut axum::http::HeaderMap, name: &str) {
    let prefix = format!("{name}=");
    let values: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if !values
        .iter()
        .any(|v| v.as_bytes().starts_with(prefix.as_bytes()))
    {
        return;
    }
    headers.remove(SET_COOKIE);
    for value in values {
        let text = value.to_str().unwrap_or_default();
        let has_secure = text
            .split(';')
            .any(|attr| attr.trim().eq_ignore_ascii_case("secure"));
        let value = if text.starts_with(&prefix) && !has_secure {
            HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(value)
        } else {
            value
        };
        headers.append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_is_added_to_the_named_cookie_only_once() {
        let mut headers = axum::http::HeaderMap::new();
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static("app_session=abc; HttpOnly; SameSite=Lax; Path=/"),
        );
        headers.append(SET_COOKIE, HeaderValue::from_static("other=1; Path=/"));
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static("app_session=x; Secure"),
        );
        add_secure(&mut headers, "app_session");
        let values: Vec<&str> = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or_default())
            .collect();
        assert_eq!(
            values,
            [
                "app_session=abc; HttpOnly; SameSite=Lax; Path=/; Secure",
                "other=1; Path=/",
                "app_session=x; Secure",
            ]
        );
    }
}
