//! Fault injection: what a request gets instead of (or before) the real answer.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::clerk_error;
use super::state::MockState;

/// A fault the mock applies to requests, set with [`MockClerk::set_fault`](super::MockClerk::set_fault)
/// (every request until changed) or [`MockClerk::fail_next`](super::MockClerk::fail_next) (a burst).
///
/// Faults apply to every endpoint of the mock, after the request is counted and before the
/// secret key is checked: an outage answers authenticated and unauthenticated requests alike.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fault {
    /// Behave normally.
    #[default]
    None,
    /// Answer with this HTTP status and a Clerk-style error body
    /// (`{"errors":[{"message","long_message","code"}]}`). A value that is not a valid status
    /// code becomes 500.
    Status(u16),
    /// 429 with a `Retry-After` header of this many seconds and a Clerk-style error body.
    RateLimited {
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u64,
    },
    /// Wait this long, then answer normally (a slow Clerk; use a delay longer than the client's
    /// timeout to simulate a hang). Cut short when the mock shuts down.
    Delay(Duration),
    /// `200 OK`, `Content-Type: application/json`, with a body that is not JSON.
    Garbage,
    /// `200 OK` with valid JSON that is not what the endpoint returns (for the JWKS:
    /// an object without a `keys` array).
    WrongShape,
}

/// The body sent for [`Fault::Garbage`].
pub(crate) const GARBAGE_BODY: &str = "<html><body>502 Bad Gateway</body></html>\u{0}{\"keys\":[";

/// Applies the next fault for this request. `Some(response)` replaces the real answer;
/// `None` means: go on (after any injected delay).
pub(crate) async fn apply(state: &MockState) -> Option<Response> {
    match state.next_fault() {
        Fault::None => None,
        Fault::Delay(delay) => {
            let mut shutting_down = state.shutting_down.clone();
            tokio::select! {
                () = tokio::time::sleep(delay) => None,
                _ = shutting_down.wait_for(|down| *down) => Some(
                    clerk_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Service unavailable",
                        "The mock Clerk is shutting down.",
                        "service_unavailable",
                    )
                ),
            }
        }
        Fault::Status(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(clerk_error(
                status,
                status.canonical_reason().unwrap_or("Injected fault"),
                "An error injected by the test kit's mock Clerk.",
                code_for(status),
            ))
        }
        Fault::RateLimited { retry_after_secs } => {
            let mut response = clerk_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "Rate limit exceeded (injected by the test kit's mock Clerk).",
                "too_many_requests",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Some(response)
        }
        Fault::Garbage => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                GARBAGE_BODY,
            )
                .into_response(),
        ),
        Fault::WrongShape => Some(
            (
                StatusCode::OK,
                axum::Json(json!({
                    "object": "unexpected",
                    "keys": {"note": "valid JSON, but not the shape this endpoint returns"},
                })),
            )
                .into_response(),
        ),
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "authentication_invalid",
        403 => "authorization_invalid",
        404 => "resource_not_found",
        422 => "form_param_invalid",
        429 => "too_many_requests",
        s if s >= 500 => "internal_clerk_error",
        _ => "injected_fault",
    }
}
