//! Clerk-style error responses and the Backend API's secret-key check.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::state::MockState;

/// A Clerk Backend API error response:
/// `{"errors":[{"message","long_message","code"}],"clerk_trace_id"}`.
pub(crate) fn clerk_error(
    status: StatusCode,
    message: &str,
    long_message: &str,
    code: &str,
) -> Response {
    (
        status,
        Json(json!({
            "errors": [{
                "message": message,
                "long_message": long_message,
                "code": code,
            }],
            "clerk_trace_id": "mock_trace",
        })),
    )
        .into_response()
}

/// Checks `Authorization: Bearer <secret key>` (scheme case-insensitive, key exact).
///
/// Returns the 401 response to send instead when the header is missing, malformed or carries
/// another key; `None` when the request may proceed.
pub(crate) fn reject_unless_secret_key(state: &MockState, headers: &HeaderMap) -> Option<Response> {
    let unauthorized = |long_message: &str| {
        let mut response = clerk_error(
            StatusCode::UNAUTHORIZED,
            "Invalid authentication",
            long_message,
            "authentication_invalid",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Some(unauthorized(
            "The Authorization header is missing: send `Authorization: Bearer <secret key>`.",
        ));
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
    match presented {
        Some(key) if key == state.secret_key => None,
        Some(_) => Some(unauthorized(
            "Unable to authenticate the request: the secret key is not valid for this instance.",
        )),
        None => Some(unauthorized(
            "The Authorization header must have the form `Bearer <secret key>`.",
        )),
    }
}

/// The answer to any path the mock does not serve.
pub(crate) async fn not_found() -> Response {
    clerk_error(
        StatusCode::NOT_FOUND,
        "Not Found",
        "The mock Clerk does not serve this path.",
        "resource_not_found",
    )
}
