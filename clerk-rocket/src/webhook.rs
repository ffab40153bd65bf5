//! The webhook route: `POST` for the [`WebhookProcessor`](clerk_webhooks::WebhookProcessor)
//! the fairing builds, with the status codes of [design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks) and `clerk-axum`'s bodies.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn store() -> Arc<dyn clerk_core::store::Store> { unimplemented!() }
//! use clerk_rocket::ClerkFairing;
//!
//! let rocket = rocket::build()
//!     .attach(ClerkFairing::new().store(store())) // + CLERK_WEBHOOK_SIGNING_KEY
//!     .mount("/webhooks/clerk", clerk_rocket::webhook::routes());
//! # let _ = rocket;
//! ```
//!
//! | situation | status | JSON body |
//! |-----------|--------|-----------|
//! | applied | 200 | `{"ok":true,"outcome":"applied"}` |
//! | same svix id again | 200 | `{"ok":true,"outcome":"already_processed"}` |
//! | event type without a store effect | 200 | `{"ok":true,"outcome":"ignored"}` |
//! | bad signature, stale timestamp, missing headers | 400 | `{"error":"invalid_webhook","reason":"verification_failed"}` |
//! | unparseable verified body | 400 | `{"error":"invalid_webhook","reason":"unparseable_body"}` |
//! | any method but `POST` | 405, `Allow: POST` | (empty) |
//! | body over [`MAX_BODY_BYTES`] (1 MiB) | 413 | `{"error":"payload_too_large"}` (not read past the limit; a larger `Content-Length` is refused before reading) |
//! | the store failed (nothing recorded: Svix delivers again) | 503 | `{"error":"store_unavailable"}` |
//! | no store or no `CLERK_WEBHOOK_SIGNING_KEY` | 503 | `{"error":"webhooks_not_configured"}` (Svix keeps retrying) |
//!
//! The raw body bytes reach the verifier unchanged. Rocket has no 405 of its own, so the
//! route set includes `GET`, `PUT`, `PATCH`, `DELETE` and `OPTIONS` handlers that answer it
//! (`HEAD` follows `GET`).

use clerk_webhooks::{ProcessOutcome, MAX_BODY_BYTES};
use rocket::data::{Data, ToByteUnit};
use rocket::http::{Header, Method, Status};
use rocket::request::Request;
use rocket::response::Response;
use rocket::route::{self, Route};
use serde_json::{json, Value};

use crate::guard::all_headers;
use crate::rejection::json_response;
use crate::{ClerkRejection, ClerkState};

/// The webhook routes, to mount at the path configured in the Clerk dashboard:
/// `rocket.mount("/webhooks/clerk", clerk_rocket::webhook::routes())`.
#[must_use]
pub fn routes() -> Vec<Route> {
    let mut routes = vec![Route::new(Method::Post, "/", WebhookHandler)];
    for method in [
        Method::Get,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ] {
        routes.push(Route::new(method, "/", MethodNotAllowed));
    }
    for route in &mut routes {
        route.name = Some("clerk_rocket::webhook".into());
    }
    routes
}

/// The JSON body for a [`ProcessOutcome`] (the status is [`ProcessOutcome::status_code`]):
/// [`ProcessOutcome::response_body`], the same as `clerk-axum`'s.
#[must_use]
pub fn outcome_body(outcome: &ProcessOutcome) -> Value {
    outcome.response_body()
}

fn outcome_response(outcome: &ProcessOutcome) -> Response<'static> {
    let status = Status::new(outcome.status_code().as_u16());
    json_response(status, &outcome_body(outcome), None)
}

fn too_large() -> Response<'static> {
    json_response(
        Status::PayloadTooLarge,
        &json!({ "error": "payload_too_large" }),
        None,
    )
}

#[derive(Clone)]
struct WebhookHandler;

#[rocket::async_trait]
impl route::Handler for WebhookHandler {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> route::Outcome<'r> {
        let Some(state) = request.rocket().state::<ClerkState>() else {
            return route::Outcome::from(
                request,
                ClerkRejection(clerk_core::flow::Refusal::Misconfigured(
                    crate::rejection::FAIRING_MISSING,
                )),
            );
        };
        let Some(processor) = state.webhooks() else {
            let body = json!({ "error": "webhooks_not_configured" });
            return route::Outcome::Success(json_response(Status::ServiceUnavailable, &body, None));
        };
        let declared = request
            .headers()
            .get_one("Content-Length")
            .and_then(|len| len.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            return route::Outcome::Success(too_large());
        }
        // One byte past the limit tells "exactly at the limit" from "over it".
        let body = match data.open((MAX_BODY_BYTES + 1).bytes()).into_bytes().await {
            Ok(body) if body.is_complete() && body.len() <= MAX_BODY_BYTES => body.into_inner(),
            Ok(_) => return route::Outcome::Success(too_large()),
            Err(error) => {
                tracing::debug!(%error, "webhook body could not be read");
                let body = json!({ "error": "invalid_webhook", "reason": "unreadable_body" });
                return route::Outcome::Success(json_response(Status::BadRequest, &body, None));
            }
        };
        let outcome = processor.process(&all_headers(request), &body).await;
        route::Outcome::Success(outcome_response(&outcome))
    }
}

#[derive(Clone)]
struct MethodNotAllowed;

#[rocket::async_trait]
impl route::Handler for MethodNotAllowed {
    async fn handle<'r>(&self, _request: &'r Request<'_>, _data: Data<'r>) -> route::Outcome<'r> {
        let response = Response::build()
            .status(Status::MethodNotAllowed)
            .header(Header::new("Allow", "POST"))
            .finalize();
        route::Outcome::Success(response)
    }
}
