//! A WebSocket service that authenticates Clerk session tokens with `clerk-core` alone.
//!
//! No web framework: tokio, `tokio-tungstenite` and the [`Authenticator`]. WebSocket is the
//! common non-framework Rust service browsers talk to with their Clerk session: the
//! `__session` cookie (same site) or an `Authorization: Bearer` header (non-browser clients)
//! arrives on the HTTP upgrade request, exactly where an HTTP API would see it. What is new is
//! that a connection lives far longer than a Clerk session token (about 60 s): the server has
//! to decide what happens when the token that opened the connection expires. Here the
//! connection lives exactly as long as its newest accepted token, and the client extends it by
//! sending a fresh token.
//!
//! # The handshake
//!
//! [`tokio_tungstenite::accept_hdr_async`] asks for a *synchronous* callback, but verifying
//! a token is asynchronous (the JWKS may have to be fetched). So the server reads and parses
//! the HTTP request head itself (bounded in size and time), checks that it is a valid
//! WebSocket upgrade, and authenticates with [`Authenticator::authenticate`] on its headers
//! before anything is answered. Then it writes either the `101 Switching Protocols` response
//! built by tungstenite (`create_response`) and hands the socket to
//! [`WebSocketStream::from_partially_read`](tokio_tungstenite::WebSocketStream::from_partially_read),
//! or an ordinary HTTP error response and closes:
//!
//! | outcome | status | body |
//! |---------|--------|------|
//! | not a WebSocket upgrade, malformed head | 400 | `{"error":"bad_request","reason":…}` |
//! | no token | 401 | `{"error":"unauthenticated","reason":"session-token-missing"}` |
//! | token rejected | 401 | `{"error":"unauthenticated","reason":<Clerk reason, e.g. "token-expired">}` |
//! | cookie token, `Origin` not the token's `azp` | 403 | `{"error":"forbidden","reason":"origin-mismatch"}` |
//! | no signing key can be had | 503 | `{"error":"unavailable","reason":"jwk-failed-to-load"}` |
//!
//! 401 responses carry `WWW-Authenticate: Bearer`. No WebSocket is ever opened for a client that
//! is not signed in, so no application code runs for it.
//!
//! Cross-site WebSocket hijacking: browsers attach cookies to WebSocket upgrades and let any
//! page open one, so a token taken from the `__session` cookie is only accepted when the
//! request's `Origin` (when sent) is the token's authorized party (`azp`, the origin of the
//! front end the token was issued to). Bearer tokens need no such check: a page cannot make a
//! browser send someone's bearer token.
//!
//! # The protocol
//!
//! All server messages are JSON text messages with a `type` (see [`protocol`]):
//!
//! - on connect: `{"type":"welcome","user_id","session_id","org_id","expires_at"}`
//!   (`expires_at`: the token's `exp`, Unix seconds);
//! - each text message is echoed as `{"type":"echo","user_id","text"}`;
//! - `{"type":"reauth","token":"<fresh session token>"}` extends the connection to the new
//!   token's `exp`, answered with `{"type":"reauthenticated","session_id","org_id","expires_at"}`.
//!   A token that fails verification is answered with `{"type":"error","reason":<Clerk reason>}`
//!   and changes nothing (the connection still ends at the old `exp`). A valid token for another
//!   user or another session closes the connection with 1008 `identity-mismatch`: one connection
//!   never carries two identities.
//!
//! Once the newest accepted token's `exp` has passed, the server closes the connection with
//! code 4001 and reason `token-expired` ([`protocol::CLOSE_TOKEN_EXPIRED`]). It checks before
//! handling every incoming message (a message arriving after `exp` is not processed, even a
//! reauth) and on a one-second tick, always with the authenticator's clock
//! ([`Authenticator::clock`]), so tests can drive it with a manual clock. Clients should send a
//! reauth whenever their Clerk SDK refreshes the session token (Clerk's front-end SDKs do so
//! well before `exp`).
//!
//! # Layout
//!
//! [`serve`] accepts connections; `head` reads and answers raw HTTP; `handshake` decides the
//! upgrade; `connection` runs one authenticated connection; [`protocol`] holds the messages and
//! close codes.
#![forbid(unsafe_code)]

mod connection;
mod handshake;
mod head;
pub mod protocol;

use std::io;
use std::time::Duration;

use clerk_core::Authenticator;
use tokio::net::TcpListener;
use tracing::Instrument as _;

/// How long [`serve`] pauses after an accept error that is not about one connection (such as
/// running out of file descriptors), so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Accepts WebSocket connections on `listener` and serves each on a task of its own, with
/// `authenticator` deciding who is signed in.
///
/// Runs until the returned future is dropped. Accept errors are logged and the loop goes on
/// (pausing briefly when the error is not about a single connection).
///
/// # Errors
///
/// Only when the listener's local address cannot be read at start.
pub async fn serve(listener: TcpListener, authenticator: Authenticator) -> io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "accepting WebSocket connections");
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let authenticator = authenticator.clone();
                let span = tracing::info_span!("connection", %peer);
                tokio::spawn(connection::handle(stream, authenticator).instrument(span));
            }
            Err(error) if is_connection_error(&error) => {
                tracing::debug!(%error, "a connection failed before it was accepted");
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed; pausing");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Errors that concern one incoming connection, not the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}
