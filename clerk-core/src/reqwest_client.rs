//! [`ReqwestClient`]: the default [`HttpClient`], behind the `reqwest` feature.

use crate::http::{HttpClient, HttpError};
use futures_util::future::BoxFuture;
use std::time::Duration;

/// A reqwest client with a whole-request timeout (`CLERK_API_TIMEOUT_MS`), rustls for TLS.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    /// A client whose every request fails with [`HttpError::Timeout`] after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| HttpError::Other(e.to_string()))?;
        Ok(ReqwestClient { client })
    }

    /// Wraps an existing reqwest client (its own timeout settings apply).
    #[must_use]
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestClient { client }
    }
}

fn map_error(error: &reqwest::Error) -> HttpError {
    // reqwest's Display can include the URL; it never includes headers, so no secret leaks.
    if error.is_timeout() {
        HttpError::Timeout
    } else if error.is_connect() {
        HttpError::Connect(error.to_string())
    } else {
        HttpError::Other(error.to_string())
    }
}

impl HttpClient for ReqwestClient {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'static, Result<http::Response<Vec<u8>>, HttpError>> {
        let client = self.client.clone();
        Box::pin(async move {
            let request =
                reqwest::Request::try_from(request).map_err(|e| HttpError::Other(e.to_string()))?;
            let response = client.execute(request).await.map_err(|e| map_error(&e))?;
            let mut builder = http::Response::builder().status(response.status());
            if let Some(headers) = builder.headers_mut() {
                headers.extend(
                    response
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            let body = response.bytes().await.map_err(|e| map_error(&e))?;
            builder
                .body(body.to_vec())
                .map_err(|e| HttpError::Other(e.to_string()))
        })
    }
}
