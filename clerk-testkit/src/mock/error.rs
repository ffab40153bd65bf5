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

/// Clerk's message (and long message) for a secret key it does not know.
pub(crate) const CLERK_KEY_INVALID_MESSAGE: &str =
    "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.";

/// Checks `Authorization: Bearer <secret key>` (scheme case-insensitive, key exact).
///
/// Returns the 401 response to send instead, with Clerk's codes
/// (<https://clerk.com/docs/errors/authentication>): `authentication_invalid` when the header is
/// missing, `authorization_header_format_invalid` when it is not `Bearer <key>`, and
/// `clerk_key_invalid` when it carries another key (the code `@clerk/backend` turns into
/// `secret-key-invalid`). `None` when the request may proceed.
pub(crate) fn reject_unless_secret_key(state: &MockState, headers: &HeaderMap) -> Option<Response> {
    let unauthorized = |message: &str, long_message: &str, code: &str| {
        let mut response = clerk_error(StatusCode::UNAUTHORIZED, message, long_message, code);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Some(unauthorized(
            "Invalid authentication",
            "Unable to authenticate the request, you need to supply an active session",
            "authentication_invalid",
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
            CLERK_KEY_INVALID_MESSAGE,
            CLERK_KEY_INVALID_MESSAGE,
            "clerk_key_invalid",
        )),
        None => Some(unauthorized(
            "Invalid Authorization header format",
            "Invalid Authorization header format. Must be 'Bearer <YOUR_API_KEY>'",
            "authorization_header_format_invalid",
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
