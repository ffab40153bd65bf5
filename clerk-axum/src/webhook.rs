//! The webhook route: `POST` for a [`WebhookProcessor`], with the status codes of [design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks).
//!
//! ```
//! use std::sync::Arc;
//! use axum::Router;
//! use clerk_store::MemoryStore;
//! use clerk_webhooks::{Webhook, WebhookProcessor};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let webhook = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let processor = Arc::new(WebhookProcessor::new(webhook, MemoryStore::new()));
//! let app: Router = Router::new().route("/webhooks/clerk", clerk_axum::webhook::route(processor));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! | situation | status | JSON body |
//! |-----------|--------|-----------|
//! | applied | 200 | `{"ok":true,"outcome":"applied"}` |
//! | same svix id again | 200 | `{"ok":true,"outcome":"already_processed"}` |
//! | event type without a store effect | 200 | `{"ok":true,"outcome":"ignored"}` |
//! | bad signature, stale timestamp, missing headers, unparseable verified body | 400 | `{"error":"invalid_webhook","reason":…}` |
//! | any method but `POST` | 405, `Allow: POST` | (empty, Axum's own answer) |
//! | body over [`MAX_BODY_BYTES`] (1 MiB) | 413 | (Axum's own answer: the body is not read past the limit) |
//! | the store failed (nothing recorded: Svix delivers again) | 503 | `{"error":"store_unavailable"}` |
//!
//! The raw body bytes reach the verifier unchanged (the route takes the body as
//! [`Bytes`], never as parsed JSON). The limit is a [`DefaultBodyLimit`] on this route only,
//! so it does not change the limit of the rest of the application; a `Content-Length` over the
//! limit is refused before any byte is read. Bodies never echo the request, and logs carry the
//! svix id and event type only (the processor's).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::Json;
use clerk_core::store::Store;
use clerk_webhooks::{ProcessOutcome, WebhookProcessor, MAX_BODY_BYTES};
use serde_json::json;

/// A [`MethodRouter`] that answers `POST` with `processor` (and 405 with `Allow: POST` to any
/// other method); mount it with [`Router::route`](axum::Router::route) at the path configured
/// in the Clerk dashboard. Works with any router state.
pub fn route<S, St>(processor: Arc<WebhookProcessor<S>>) -> MethodRouter<St>
where
    S: Store + 'static,
    St: Clone + Send + Sync + 'static,
{
    post(move |headers: HeaderMap, body: Bytes| {
        let processor = Arc::clone(&processor);
        async move { outcome_response(&processor.process(&headers, &body).await) }
    })
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The response for a [`ProcessOutcome`] (status from [`ProcessOutcome::status_code`]), for
/// applications that write their own handler around [`WebhookProcessor::process`].
#[must_use]
pub fn outcome_response(outcome: &ProcessOutcome) -> Response {
    // The body is clerk-webhooks' (shared with clerk-rocket).
    (outcome.status_code(), Json(outcome.response_body())).into_response()
}

/// The status a route answers when it has no processor (for example no
/// `CLERK_WEBHOOK_SIGNING_KEY` configured): 503 with `{"error":"webhooks_not_configured"}`,
/// so Svix keeps the deliveries and retries them once the application is configured.
#[must_use]
pub fn not_configured() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": "webhooks_not_configured" })),
    )
        .into_response()
}
