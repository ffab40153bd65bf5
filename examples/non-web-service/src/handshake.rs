//! The opening handshake: authenticate the upgrade request before answering it.
//!
//! See the crate docs for why the head is read here rather than in tungstenite's (synchronous)
//! handshake callback, and for the table of responses.

use std::io;
use std::time::Duration;

use clerk_core::machine::{token_type_of, Accepts as _, Credential, M2mTokens, TokenType};
use clerk_core::{Auth, AuthDecision};
use http::header::{AUTHORIZATION, ORIGIN, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::create_response;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use crate::head::{error_response, read_head, write_response, HeadError};
use crate::peer::{MachinePeer, Peer};
use crate::protocol::{ORIGIN_MISMATCH, SESSION_TOKEN_MISSING};
use crate::Verifiers;

/// A client gets this long to send its complete request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// An authenticated WebSocket and who opened it.
pub(crate) type Accepted = (WebSocketStream<TcpStream>, Peer);

/// Reads the upgrade request, authenticates it and answers it. `Ok(None)` when the request
/// was refused (the error response has been sent) or the client went away.
pub(crate) async fn accept(
    mut stream: TcpStream,
    verifiers: &Verifiers,
) -> io::Result<Option<Accepted>> {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(HeadError::Io(error))) => return Err(error),
        Ok(Err(HeadError::Closed)) => return Ok(None),
        Ok(Err(HeadError::TooLarge)) => {
            let status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
            return refuse(
                stream,
                error_response(status, "bad_request", "head-too-large"),
            )
            .await;
        }
        Ok(Err(HeadError::Malformed)) => {
            let response = error_response(StatusCode::BAD_REQUEST, "bad_request", "malformed-head");
            return refuse(stream, response).await;
        }
        Err(_elapsed) => {
            let response = error_response(StatusCode::REQUEST_TIMEOUT, "bad_request", "timeout");
            return refuse(stream, response).await;
        }
    };
    let switching = match create_response(&head.request) {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%error, "not a WebSocket upgrade");
            let response = error_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "not-a-websocket-upgrade",
            );
            return refuse(stream, response).await;
        }
    };
    let headers = head.request.headers();
    if let Some(machines) = &verifiers.machines {
        if let Some(credential) = machine_credential(headers) {
            let authorization = headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
            return match machines
                .authenticate(M2mTokens::ACCEPTED, authorization, None)
                .await
            {
                Ok(Credential::Machine(auth)) => {
                    write_response(&mut stream, &switching.map(|()| String::new())).await?;
                    let ws =
                        WebSocketStream::from_partially_read(stream, head.rest, Role::Server, None)
                            .await;
                    tracing::info!(machine_id = %auth.subject, credential_id = %auth.id, "machine connected");
                    let peer = MachinePeer {
                        auth,
                        credential,
                        verifier: machines.clone(),
                    };
                    Ok(Some((ws, Peer::Machine(peer))))
                }
                // M2M tokens only: a session is never what this call returns.
                Ok(Credential::Session(_)) => {
                    refuse(stream, unauthenticated("token-type-mismatch")).await
                }
                Err(refusal) => {
                    let reason = refusal.reason().unwrap_or("token-invalid");
                    tracing::info!(reason, "machine upgrade refused");
                    let status =
                        StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::UNAUTHORIZED);
                    let response = if status == StatusCode::UNAUTHORIZED {
                        unauthenticated(reason)
                    } else {
                        error_response(status, "unavailable", reason)
                    };
                    refuse(stream, response).await
                }
            };
        }
    }
    let authenticator = &verifiers.sessions;
    let auth = match authenticator.authenticate(headers).await {
        AuthDecision::SignedIn(auth) => auth,
        AuthDecision::NoToken => {
            return refuse(stream, unauthenticated(SESSION_TOKEN_MISSING)).await
        }
        AuthDecision::Rejected(rejection) => {
            tracing::info!(reason = %rejection.reason(), "upgrade refused");
            return refuse(stream, unauthenticated(rejection.reason().as_str())).await;
        }
        AuthDecision::Unavailable(error) => {
            tracing::warn!(%error, "no signing keys: upgrade refused with 503");
            let response = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                clerk_core::Reason::JwkFailedToLoad.as_str(),
            );
            return refuse(stream, response).await;
        }
    };
    if !origin_allowed(headers, &auth) {
        tracing::info!(user_id = %auth.user_id, "cookie token from a foreign origin: upgrade refused");
        let response = error_response(StatusCode::FORBIDDEN, "forbidden", ORIGIN_MISMATCH);
        return refuse(stream, response).await;
    }
    write_response(&mut stream, &switching.map(|()| String::new())).await?;
    let ws = WebSocketStream::from_partially_read(stream, head.rest, Role::Server, None).await;
    tracing::info!(user_id = %auth.user_id, session_id = auth.session_id.as_deref(), "connected");
    Ok(Some((ws, Peer::User(auth))))
}

/// The bearer token when it is a machine credential (`mt_…`, `ak_…`, `oat_…`, or a machine
/// JWT), decided as Clerk's SDK decides it: those go to the machine path, which accepts M2M
/// tokens only (an API key or OAuth token there is `token-type-mismatch`). Never from a cookie.
fn machine_credential(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (token_type_of(token) != TokenType::SessionToken).then(|| token.to_owned())
}

/// A token from the `__session` cookie (there is no `Authorization` header, yet the request is
/// signed in) is only accepted from the origin it was issued to: browsers attach cookies to
/// upgrades that any site may start. Requests without `Origin` are not from a browser page.
/// A token without `azp` (the lenient opt-in) cannot be tied to an origin and is let through.
fn origin_allowed(headers: &HeaderMap, auth: &Auth) -> bool {
    if headers.contains_key(AUTHORIZATION) {
        return true;
    }
    let (Some(origin), Some(party)) = (headers.get(ORIGIN), auth.authorized_party.as_deref())
    else {
        return true;
    };
    let trim = |s: &str| s.trim().trim_end_matches('/').to_ascii_lowercase();
    origin
        .to_str()
        .is_ok_and(|origin| trim(origin) == trim(party))
}

/// 401 with `WWW-Authenticate: Bearer` and Clerk's reason.
fn unauthenticated(reason: &str) -> Response<String> {
    let mut response = error_response(StatusCode::UNAUTHORIZED, "unauthenticated", reason);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Sends `response` and closes the connection.
async fn refuse(mut stream: TcpStream, response: Response<String>) -> io::Result<Option<Accepted>> {
    write_response(&mut stream, &response).await?;
    tokio::io::AsyncWriteExt::shutdown(&mut stream).await?;
    Ok(None)
}
