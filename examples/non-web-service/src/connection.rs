//! One authenticated connection: welcome, echo, reauth, and closing once the token expires.

use std::sync::Arc;
use std::time::Duration;

use clerk_core::{Auth, Authenticator};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::handshake;
use crate::peer::{MachinePeer, Peer};
use crate::protocol::{
    ClientMessage, ServerMessage, BINARY_NOT_SUPPORTED, CLOSE_CREDENTIAL_REFUSED,
    CLOSE_POLICY_VIOLATION, CLOSE_TOKEN_EXPIRED, IDENTITY_MISMATCH, MACHINE_REAUTH_UNSUPPORTED,
    REAUTH_WITHOUT_TOKEN, TOKEN_EXPIRED,
};
use crate::Verifiers;

/// How often an idle connection checks whether its token has expired.
const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long the server waits for the client's answer to its close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

type Ws = WebSocketStream<TcpStream>;

/// Serves one TCP connection from the upgrade request to the close.
pub(crate) async fn handle(stream: TcpStream, verifiers: Verifiers) {
    // Small interactive messages: do not wait to coalesce them.
    let _ = stream.set_nodelay(true);
    match handshake::accept(stream, &verifiers).await {
        Ok(Some((ws, Peer::User(auth)))) => run(ws, auth, &verifiers.sessions).await,
        Ok(Some((ws, Peer::Machine(machine)))) => {
            run_machine(ws, machine, &verifiers.sessions).await;
        }
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "handshake failed"),
    }
}

/// What to do after a message.
enum Step {
    Reply(String),
    Nothing,
    Close(CloseFrame),
}

async fn run(mut ws: Ws, mut auth: Arc<Auth>, authenticator: &Authenticator) {
    let welcome = ServerMessage::welcome(&auth).to_json();
    if ws.send(Message::text(welcome)).await.is_err() {
        return;
    }
    let mut tick = tokio::time::interval(EXPIRY_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let close = loop {
        let message = tokio::select! {
            _ = tick.tick() => None,
            message = ws.next() => Some(message),
        };
        // Before anything the client sent is handled: nothing is served on an expired token.
        if expired(&auth, authenticator) {
            tracing::info!(user_id = %auth.user_id, "token expired without a reauth: closing");
            break frame(CloseCode::from(CLOSE_TOKEN_EXPIRED), TOKEN_EXPIRED);
        }
        let step = match message {
            None => Step::Nothing,
            Some(None) => return,
            Some(Some(Err(error))) => {
                tracing::debug!(%error, "connection failed");
                return;
            }
            Some(Some(Ok(Message::Text(text)))) => on_text(&text, &mut auth, authenticator).await,
            Some(Some(Ok(Message::Binary(_)))) => Step::Reply(error(BINARY_NOT_SUPPORTED)),
            // Pings are answered and closes acknowledged by tungstenite itself.
            Some(Some(Ok(_))) => Step::Nothing,
        };
        match step {
            Step::Reply(json) => {
                if ws.send(Message::text(json)).await.is_err() {
                    return;
                }
            }
            Step::Nothing => {}
            Step::Close(frame) => break frame,
        }
    };
    close_with(ws, close).await;
}

/// A machine connection: welcome, echo; it ends at the M2M token's expiry, and when the
/// token no longer verifies. The token is verified again every cache bound of the verifier
/// (`CLERK_MACHINE_CACHE_SECONDS`, 60 s by default): Clerk sends no webhook when an M2M
/// token is revoked, so asking again is how a long-lived connection learns of it. An outage
/// of Clerk's API does not end connections (only a definitive answer does).
async fn run_machine(mut ws: Ws, machine: MachinePeer, authenticator: &Authenticator) {
    let welcome = ServerMessage::machine_welcome(&machine.auth).to_json();
    if ws.send(Message::text(welcome)).await.is_err() {
        return;
    }
    let peer = Peer::Machine(machine.clone());
    let mut tick = tokio::time::interval(EXPIRY_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let reverify_every = machine.verifier.policy().ttl.max(EXPIRY_CHECK_INTERVAL);
    let mut reverify =
        tokio::time::interval_at(tokio::time::Instant::now() + reverify_every, reverify_every);
    reverify.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let close = loop {
        let message = tokio::select! {
            _ = tick.tick() => None,
            _ = reverify.tick() => {
                match machine.verifier.verify(&machine.credential).await {
                    Err(refused) if refused.is_definitive() => {
                        tracing::info!(machine_id = %machine.auth.subject, reason = refused.reason(), "M2M token no longer verifies: closing");
                        break frame(CloseCode::from(CLOSE_CREDENTIAL_REFUSED), refused.reason());
                    }
                    Err(outage) => {
                        tracing::warn!(reason = outage.reason(), "re-verifying an M2M token failed; the connection stays");
                    }
                    Ok(_) => {}
                }
                None
            }
            message = ws.next() => Some(message),
        };
        if peer
            .expires_at()
            .is_some_and(|at| authenticator.clock().now() >= at)
        {
            tracing::info!(machine_id = %peer.subject(), "M2M token expired: closing");
            break frame(CloseCode::from(CLOSE_TOKEN_EXPIRED), TOKEN_EXPIRED);
        }
        let reply = match message {
            None => None,
            Some(None) => return,
            Some(Some(Err(error))) => {
                tracing::debug!(%error, "connection failed");
                return;
            }
            Some(Some(Ok(Message::Text(text)))) => Some(match ClientMessage::parse(&text) {
                ClientMessage::Text => ServerMessage::MachineEcho {
                    machine_id: &machine.auth.subject,
                    text: &text,
                }
                .to_json(),
                ClientMessage::Reauth(_) | ClientMessage::MalformedReauth => {
                    error(MACHINE_REAUTH_UNSUPPORTED)
                }
            }),
            Some(Some(Ok(Message::Binary(_)))) => Some(error(BINARY_NOT_SUPPORTED)),
            Some(Some(Ok(_))) => None,
        };
        if let Some(json) = reply {
            if ws.send(Message::text(json)).await.is_err() {
                return;
            }
        }
    };
    close_with(ws, close).await;
}

fn expired(auth: &Auth, authenticator: &Authenticator) -> bool {
    authenticator.clock().now() >= auth.expires_at
}

async fn on_text(text: &str, auth: &mut Arc<Auth>, authenticator: &Authenticator) -> Step {
    match ClientMessage::parse(text) {
        ClientMessage::Text => Step::Reply(
            ServerMessage::Echo {
                user_id: &auth.user_id,
                text,
            }
            .to_json(),
        ),
        ClientMessage::MalformedReauth => Step::Reply(error(REAUTH_WITHOUT_TOKEN)),
        ClientMessage::Reauth(token) => reauth(&token, auth, authenticator).await,
    }
}

/// Verifies a fresh token for the same user and session and, if it is one, makes it the
/// connection's token. A bad token changes nothing; another identity ends the connection.
async fn reauth(token: &str, auth: &mut Arc<Auth>, authenticator: &Authenticator) -> Step {
    let fresh = match authenticator.verify(token).await {
        Ok(fresh) => fresh,
        Err(rejected) => {
            tracing::info!(reason = %rejected.reason(), "reauth refused");
            return Step::Reply(error(rejected.reason().as_str()));
        }
    };
    if fresh.user_id != auth.user_id || fresh.session_id != auth.session_id {
        tracing::warn!(
            user_id = %auth.user_id,
            presented_user_id = %fresh.user_id,
            "reauth with another identity: closing"
        );
        let code = CloseCode::from(CLOSE_POLICY_VIOLATION);
        return Step::Close(frame(code, IDENTITY_MISMATCH));
    }
    *auth = fresh;
    tracing::debug!(user_id = %auth.user_id, expires_at = %auth.expires_at, "reauthenticated");
    Step::Reply(ServerMessage::reauthenticated(auth).to_json())
}

fn error(reason: &str) -> String {
    ServerMessage::Error { reason }.to_json()
}

fn frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

/// The closing handshake: send our close frame, then read (and drop) whatever the client
/// still sends until its close frame arrives, so the client reads ours before the socket goes.
async fn close_with(mut ws: Ws, frame: CloseFrame) {
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
}
