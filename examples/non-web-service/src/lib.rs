//! A WebSocket service that authenticates Clerk session tokens — and other services' Clerk
//! machine-to-machine tokens — with `clerk-core` alone.
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
//! # Machines: service-to-service connections
//!
//! [`serve_with_machines`] (what the binary runs) also lets other services connect with a
//! Clerk machine-to-machine token in `Authorization: Bearer` — never from a cookie. The core's
//! [`MachineVerifier`] decides, exactly as Clerk's SDK does for a route that accepts M2M
//! tokens: an opaque `mt_…` token is verified through Clerk's `POST /v1/m2m_tokens/verify`
//! (one call per token however many connections present it at once, cached), a JWT whose
//! `sub` is the machine (`mch_…`) against the JWKS without a call; an API key or an OAuth
//! token is refused with 401 `token-type-mismatch`, an unknown, revoked or expired token with
//! Clerk's reason. A machine connection gets
//! `{"type":"welcome","machine_id","token_type":"m2m_token","scopes":[…],"expires_at"}`
//! (`expires_at` `null` for a token that does not expire), its text messages are echoed as
//! `{"type":"echo","machine_id","text"}`, and a `reauth` is answered with the error
//! [`protocol::MACHINE_REAUTH_UNSUPPORTED`] (a machine reconnects with a fresh token). It ends
//! with 4001 `token-expired` at the token's expiry, and — since Clerk sends no webhook when an
//! M2M token is revoked — the token is verified again every cache bound of the verifier
//! (`CLERK_MACHINE_CACHE_SECONDS`, 60 s by default): once Clerk refuses it, the connection
//! closes with 4003 ([`protocol::CLOSE_CREDENTIAL_REFUSED`]) and Clerk's reason. An outage of
//! Clerk's API ends no connection.
//!
//! # Layout
//!
//! [`serve`] accepts connections; `head` reads and answers raw HTTP; `handshake` decides the
//! upgrade; `peer` says who opened a connection (a user or a machine); `connection` runs one
//! authenticated connection; [`protocol`] holds the messages and close codes.
#![forbid(unsafe_code)]

mod connection;
mod handshake;
mod head;
mod peer;
pub mod protocol;

use std::io;
use std::time::Duration;

use clerk_core::machine::MachineVerifier;
use clerk_core::Authenticator;
use tokio::net::TcpListener;
use tracing::Instrument as _;

/// How long [`serve`] pauses after an accept error that is not about one connection (such as
/// running out of file descriptors), so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// What authenticates a connection: session tokens always, M2M tokens when a machine
/// verifier is given.
#[derive(Clone)]
pub(crate) struct Verifiers {
    pub(crate) sessions: Authenticator,
    pub(crate) machines: Option<MachineVerifier>,
}

/// Accepts WebSocket connections on `listener` and serves each on a task of its own, with
/// `authenticator` deciding who is signed in (Clerk session tokens only; a machine credential
/// is refused as a session token would be).
///
/// Runs until the returned future is dropped. Accept errors are logged and the loop goes on
/// (pausing briefly when the error is not about a single connection).
///
/// # Errors
///
/// Only when the listener's local address cannot be read at start.
pub async fn serve(listener: TcpListener, authenticator: Authenticator) -> io::Result<()> {
    serve_verified(
        listener,
        Verifiers {
            sessions: authenticator,
            machines: None,
        },
    )
    .await
}

/// As [`serve`], and other services connect with Clerk machine-to-machine tokens: an
/// `Authorization: Bearer` M2M token (opaque `mt_…`, verified through Clerk's
/// `POST /v1/m2m_tokens/verify`, or a JWT whose `sub` is the machine, verified against the
/// JWKS without a call) opens a machine connection (see the crate docs). Other machine
/// credentials (API keys, OAuth tokens) are refused with `token-type-mismatch`; machine
/// credentials are never read from cookies.
///
/// # Errors
///
/// Only when the listener's local address cannot be read at start.
pub async fn serve_with_machines(
    listener: TcpListener,
    authenticator: Authenticator,
    machines: MachineVerifier,
) -> io::Result<()> {
    serve_verified(
        listener,
        Verifiers {
            sessions: authenticator,
            machines: Some(machines),
        },
    )
    .await
}

async fn serve_verified(listener: TcpListener, verifiers: Verifiers) -> io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, machines = verifiers.machines.is_some(), "accepting WebSocket connections");
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let verifiers = verifiers.clone();
                let span = tracing::info_span!("connection", %peer);
                tokio::spawn(connection::handle(stream, verifiers).instrument(span));
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
