//! End to end: the mock Clerk serves the JWKS, the server runs on loopback, and a
//! tokio-tungstenite client connects the way a browser or a service would.
#![allow(clippy::unwrap_used)]

mod common;

use common::{refused, Ws, WAIT};

use std::net::SocketAddr;
use std::time::Duration;

use clerk_core::time::{Clock as _, UnixTime};
use clerk_core::{Authenticator, ClerkConfig};
use clerk_testkit::{Fault, ManualClock, MockClerk, TestKeyPair, TokenBuilder};
use futures_util::{SinkExt as _, StreamExt as _};
use http::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);
const FRONT_END: &str = "http://localhost:3000";

struct Server {
    clerk: MockClerk,
    clock: ManualClock,
    addr: SocketAddr,
}

impl Server {
    /// The mock Clerk and the server on free loopback ports, sharing a manual clock at `NOW`.
    async fn start() -> Self {
        let clerk = MockClerk::builder().start().await;
        let config = ClerkConfig::builder()
            .secret_key(clerk.secret_key())
            .publishable_key(clerk.publishable_key())
            .api_url(clerk.url())
            .frontend_host(FRONT_END)
            .build()
            .unwrap();
        let clock = ManualClock::at(NOW);
        let authenticator = Authenticator::builder(config)
            .clock(clock.clone())
            .build()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(non_web_service::serve(listener, authenticator));
        Server { clerk, clock, addr }
    }

    /// A 60-second session token for `user`, issued at the clock's current time.
    fn token(&self, user: &str) -> TokenBuilder {
        self.clerk
            .token_v2()
            .subject(user)
            .session_id("sess_ws_1")
            .authorized_party(FRONT_END)
            .issued_at(self.clock.now())
    }

    async fn connect(&self, headers: &[(&'static str, String)]) -> Result<Ws, WsError> {
        common::connect(self.addr, headers).await
    }

    async fn connect_bearer_result(&self, token: &str) -> Result<Ws, WsError> {
        self.connect(&[("authorization", format!("Bearer {token}"))])
            .await
    }

    async fn connect_bearer(&self, token: &str) -> Ws {
        self.connect_bearer_result(token).await.unwrap()
    }
}

/// The next data message, as JSON.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads until the server's close frame; returns its code and reason.
async fn close_frame(ws: &mut Ws) -> (u16, String) {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a close frame in time")
            .expect("a close frame before the end of the stream")
            .unwrap();
        match message {
            Message::Close(Some(frame)) => return (frame.code.into(), frame.reason.to_string()),
            Message::Close(None) => panic!("a close frame without a code"),
            Message::Text(text) => panic!("expected the close frame, got the message {text}"),
            _ => {}
        }
    }
}

async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

#[tokio::test]
async fn bearer_token_gets_a_welcome_and_an_echo() {
    let server = Server::start().await;
    let token = server.token("user_ws_1").sign();
    let mut ws = server.connect_bearer(&token).await;

    assert_eq!(
        next_json(&mut ws).await,
        json!({
            "type": "welcome",
            "user_id": "user_ws_1",
            "session_id": "sess_ws_1",
            "org_id": null,
            "expires_at": NOW.as_secs() + 60,
        })
    );
    send_text(&mut ws, "hello").await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "echo", "user_id": "user_ws_1", "text": "hello"})
    );
    // JSON that is not a control message is echoed as text too.
    send_text(&mut ws, r#"{"type":"chat"}"#).await;
    assert_eq!(next_json(&mut ws).await["text"], r#"{"type":"chat"}"#);
    assert_eq!(server.clerk.jwks_requests(), 1);
}

#[tokio::test]
async fn no_token_is_refused_with_401() {
    let server = Server::start().await;
    let (status, body) = refused(server.connect(&[]).await);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "unauthenticated", "reason": "session-token-missing"})
    );
}

#[tokio::test]
async fn bad_signature_is_refused_with_clerks_reason() {
    let server = Server::start().await;
    // Signed by another key under the mock key's kid.
    let forged = server.token("user_ws_1").sign_with(&TestKeyPair::fixed(1));
    let (status, body) = refused(server.connect_bearer_result(&forged).await);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["reason"], "token-invalid-signature");
}

#[tokio::test]
async fn expired_token_is_refused_with_token_expired() {
    let server = Server::start().await;
    let token = server.token("user_ws_1").sign();
    server.clock.advance(Duration::from_secs(120));
    let (status, body) = refused(server.connect_bearer_result(&token).await);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["reason"], "token-expired");
}

#[tokio::test]
async fn session_cookie_works_from_the_front_end_origin() {
    let server = Server::start().await;
    let token = server.token("user_cookie").sign();
    let mut ws = server
        .connect(&[
            ("cookie", format!("theme=dark; __session={token}")),
            ("origin", FRONT_END.to_owned()),
        ])
        .await
        .unwrap();
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["user_id"], "user_cookie");
}

#[tokio::test]
async fn session_cookie_from_a_foreign_origin_is_refused() {
    let server = Server::start().await;
    let token = server.token("user_cookie").sign();
    let result = server
        .connect(&[
            ("cookie", format!("__session={token}")),
            ("origin", "https://evil.example".to_owned()),
        ])
        .await;
    let (status, body) = refused(result);
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["reason"], "origin-mismatch");
}

#[tokio::test]
async fn connection_closes_with_4001_once_the_token_expires() {
    let server = Server::start().await;
    let mut ws = server
        .connect_bearer(&server.token("user_ws_1").sign())
        .await;
    assert_eq!(next_json(&mut ws).await["type"], "welcome");

    server.clock.advance(Duration::from_secs(61));
    // Whether this message or the periodic check notices first, the message is not served.
    let _ = ws.send(Message::text("too late")).await;
    assert_eq!(
        close_frame(&mut ws).await,
        (4001, "token-expired".to_owned())
    );
}

#[tokio::test]
async fn reauth_with_a_fresh_token_keeps_the_connection_open() {
    let server = Server::start().await;
    let mut ws = server
        .connect_bearer(&server.token("user_ws_1").sign())
        .await;
    assert_eq!(next_json(&mut ws).await["expires_at"], NOW.as_secs() + 60);

    server.clock.advance(Duration::from_secs(50));
    // A bad token is refused and changes nothing.
    let forged = server.token("user_ws_1").sign_with(&TestKeyPair::fixed(1));
    send_text(
        &mut ws,
        &json!({"type": "reauth", "token": forged}).to_string(),
    )
    .await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "error", "reason": "token-invalid-signature"})
    );
    // A fresh token for the same session extends the connection to its exp.
    let fresh = server.token("user_ws_1").sign();
    send_text(
        &mut ws,
        &json!({"type": "reauth", "token": fresh}).to_string(),
    )
    .await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({
            "type": "reauthenticated",
            "session_id": "sess_ws_1",
            "org_id": null,
            "expires_at": NOW.as_secs() + 110,
        })
    );

    server.clock.advance(Duration::from_secs(20)); // past the first token's exp
    send_text(&mut ws, "still here").await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "echo", "user_id": "user_ws_1", "text": "still here"})
    );

    server.clock.advance(Duration::from_secs(41)); // past the fresh token's exp
    let _ = ws.send(Message::text("too late")).await;
    assert_eq!(
        close_frame(&mut ws).await,
        (4001, "token-expired".to_owned())
    );
}

#[tokio::test]
async fn reauth_as_another_user_closes_the_connection() {
    let server = Server::start().await;
    let mut ws = server
        .connect_bearer(&server.token("user_ws_1").sign())
        .await;
    assert_eq!(next_json(&mut ws).await["user_id"], "user_ws_1");

    let other = server.token("user_ws_2").sign();
    send_text(
        &mut ws,
        &json!({"type": "reauth", "token": other}).to_string(),
    )
    .await;
    assert_eq!(
        close_frame(&mut ws).await,
        (1008, "identity-mismatch".to_owned())
    );
}

#[tokio::test]
async fn no_signing_keys_is_503() {
    let server = Server::start().await;
    server.clerk.set_fault(Fault::Status(500));
    let token = server.token("user_ws_1").sign();
    let (status, body) = refused(server.connect_bearer_result(&token).await);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"error": "unavailable", "reason": "jwk-failed-to-load"})
    );
    assert!(server.clerk.jwks_requests() >= 1);
}

#[tokio::test]
async fn plain_http_request_is_a_bad_request() {
    let server = Server::start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert!(response.ends_with(r#""reason":"not-a-websocket-upgrade"}"#));
}
