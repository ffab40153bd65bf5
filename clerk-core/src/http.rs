//! The one small HTTP trait the driver talks through.
//!
//! Every remote call in this crate is three parts: a pure request builder returning
//! `http::Request<Vec<u8>>`, a pure response parser taking `http::Response<Vec<u8>>`, and a
//! thin async caller over [`HttpClient`]. Bring your own client by implementing the trait, or
//! pass a closure; the `reqwest` feature provides [`ReqwestClient`](crate::reqwest_client::ReqwestClient).

use futures_util::future::BoxFuture;
use std::future::Future;

/// A transport failure: no HTTP response was received.
///
/// Carries what went wrong, never request headers (they hold the secret key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request did not complete within the configured timeout.
    #[error("request timed out")]
    Timeout,
    /// The connection could not be established.
    #[error("could not connect: {0}")]
    Connect(String),
    /// Any other transport failure (TLS, protocol, body read).
    #[error("transport error: {0}")]
    Other(String),
}

/// Sends one HTTP request and returns the whole response.
///
/// Implementations should apply their own timeout; the reqwest client uses
/// `CLERK_API_TIMEOUT_MS`. Closures `Fn(Request) -> impl Future<Output = Result<Response, HttpError>>`
/// implement this trait, which keeps test doubles one line long.
pub trait HttpClient: Send + Sync + 'static {
    /// Sends `request`.
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'static, Result<http::Response<Vec<u8>>, HttpError>>;
}

impl<F, Fut> HttpClient for F
where
    F: Fn(http::Request<Vec<u8>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<Vec<u8>>, HttpError>> + Send + 'static,
{
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'static, Result<http::Response<Vec<u8>>, HttpError>> {
        Box::pin(self(request))
    }
}

/// The error body of Clerk's Backend API: `{"errors":[{"code","message","long_message"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ClerkErrorBody {
    /// The individual errors.
    #[serde(default)]
    pub errors: Vec<ClerkErrorEntry>,
}

/// One entry of a Clerk error body.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ClerkErrorEntry {
    /// Machine-readable code, e.g. `authentication_invalid`.
    #[serde(default)]
    pub code: String,
    /// Short message.
    #[serde(default)]
    pub message: String,
    /// Longer explanation, when Clerk gives one.
    #[serde(default)]
    pub long_message: Option<String>,
}

impl ClerkErrorBody {
    /// Parses a body leniently: anything that is not Clerk's error shape gives `None`.
    #[must_use]
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_json::from_slice::<ClerkErrorBody>(body)
            .ok()
            .filter(|b| !b.errors.is_empty())
    }
}

impl std::fmt::Display for ClerkErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{}: {}",
                e.code,
                e.long_message.as_deref().unwrap_or(&e.message)
            )?;
        }
        Ok(())
    }
}
