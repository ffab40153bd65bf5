//! Offline helpers for tests and benchmarks that need no server and no runtime.
//!
//! - [`jwks_client`]: an [`HttpClient`] that answers every request with a fixed JWKS, so an
//!   `Authenticator` in JWKS mode works without the mock server.
//! - [`run_ready`]: drives a future that never waits (warm keys, cache hits) to completion
//!   without an executor, so a benchmark measures the verifier and not a runtime.

use crate::keys::{jwks, TestKeyPair};
use clerk_core::HttpClient;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// An [`HttpClient`] answering every request with `200 OK` and the JWKS of `keys`.
pub fn jwks_client(keys: &[&TestKeyPair]) -> impl HttpClient {
    let body: Arc<[u8]> = serde_json::to_vec(&jwks(keys))
        .expect("a JWKS serializes")
        .into();
    move |_request: http::Request<Vec<u8>>| {
        let body = body.to_vec();
        async move {
            Ok(http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(body)
                .expect("a static response is valid"))
        }
    }
}

/// Polls `future` until it is ready, with a no-op waker.
///
/// # Panics
///
/// If the future is still pending after a million polls: it is waiting for something that
/// only a runtime could deliver, so it does not belong here.
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("run_ready: the future kept waiting; drive it with a runtime instead");
}
