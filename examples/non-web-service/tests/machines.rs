//! Service to service, end to end: another service connects with a Clerk M2M token issued by
//! the mock Clerk (opaque `mt_…`, verified through the mock's `POST /v1/m2m_tokens/verify`, or
//! a JWT verified against its JWKS without a call), and the connection ends when the token is
//! revoked. The server is `serve_with_machines`, as the binary runs it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{refused, Ws, WAIT};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clerk_core::machine::{MachineCachePolicy, MachineVerifier};
use clerk_core::{Authenticator, ClerkConfig, HttpClient};
use clerk_testkit::mock::MachineGrant;
use clerk_testkit::MockClerk;
use futures_util::{SinkExt as _, StreamExt as _};
use http::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const FRONT_END: &str = "http://localhost:3000";
const MACHINE: &str = "mch_billing";

struct Server {
    clerk: MockClerk,
    addr: SocketAddr,
}

impl Server {
    /// The mock Clerk and the server; the verifier keeps answers `reverify` at most (the
    /// server re-verifies machine connections that often).
    async fn start(reverify: Duration) -> Self {
        let clerk = MockClerk::builder().start().await;
        let config = ClerkConfig::builder()
            .secret_key(clerk.secret_key())
            .publishable_key(clerk.publishable_key())
            .api_url(clerk.url())
            .frontend_host(FRONT_END)
            .build()
            .unwrap();
        let http: Arc<dyn HttpClient> =
            Arc::new(clerk_core::reqwest_client::ReqwestClient::new(WAIT).unwrap());
        let authenticator = Authenticator::builder(config.clone())
            .shared_http_client(Arc::clone(&http))
            .build()
            .unwrap();
        let machines = MachineVerifier::new(authenticator.clone(), &config, Some(http))
            .with_policy(MachineCachePolicy {
                ttl: reverify,
                ..MachineCachePolicy::default()
            });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(non_web_service::serve_with_machines(
            listener,
            authenticator,
            machines,
        ));
        Server { clerk, addr }
    }

    async fn connect(&self, headers: &[(&'static str, String)]) -> Result<Ws, WsError> {
        common::connect(self.addr, headers).await
    }

    async fn bearer(&self, token: &str) -> Result<Ws, WsError> {
        self.connect(&[("authorization", format!("Bearer {token}"))])
            .await
    }
}

async fn next_message(ws: &mut Ws) -> Message {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .unwrap();
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    match next_message(ws).await {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

fn grant() -> MachineGrant {
    MachineGrant::new(MACHINE, ["invoices:read"])
}

#[tokio::test]
async fn an_opaque_m2m_token_opens_a_machine_connection() {
    let server = Server::start(Duration::from_secs(60)).await;
    let issued = server.clerk.issue_m2m_token(grant());
    let mut ws = server.bearer(&issued.token).await.unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "welcome", "machine_id": MACHINE, "token_type": "m2m_token",
               "scopes": ["invoices:read"], "expires_at": null})
    );
    ws.send(Message::text("ping")).await.unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "echo", "machine_id": MACHINE, "text": "ping"})
    );
    ws.send(Message::text(r#"{"type":"reauth","token":"x"}"#))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "error", "reason": "machine-reauth-unsupported"})
    );
    assert_eq!(server.clerk.machine_verify_requests(), 1);
}

#[tokio::test]
async fn an_m2m_jwt_is_verified_without_calling_clerk() {
    let server = Server::start(Duration::from_secs(60)).await;
    let issued = server
        .clerk
        .issue_m2m_token(grant().ttl(Duration::from_secs(600)).jwt());
    let mut ws = server.bearer(&issued.token).await.unwrap();
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["machine_id"], MACHINE, "{welcome}");
    assert!(welcome["expires_at"].as_i64().is_some(), "{welcome}");
    assert_eq!(server.clerk.machine_verify_requests(), 0);
}

#[tokio::test]
async fn other_credentials_are_refused_with_clerks_reasons() {
    let server = Server::start(Duration::from_secs(60)).await;
    let api_key = server
        .clerk
        .issue_api_key(MachineGrant::new("user_1", ["x"]));
    let oauth = server
        .clerk
        .issue_oauth_token(MachineGrant::new("user_1", ["x"]));
    let revoked = server.clerk.issue_m2m_token(grant());
    assert!(server.clerk.revoke_machine_credential(&revoked.id));
    let expired = server.clerk.issue_m2m_token(grant().expired().jwt());
    for (token, reason) in [
        (api_key.token.as_str(), "token-type-mismatch"),
        (oauth.token.as_str(), "token-type-mismatch"),
        (revoked.token.as_str(), "token-invalid"),
        ("mt_unknown0000000000000000", "token-invalid"),
        (expired.token.as_str(), "token-verification-failed"),
    ] {
        let (status, body) = refused(server.bearer(token).await);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}: {body}");
        assert_eq!(body["reason"], reason, "{token}: {body}");
    }
    // Never from a cookie: an M2M token in `__session` is no machine connection.
    let good = server.clerk.issue_m2m_token(grant());
    let (status, body) = refused(
        server
            .connect(&[("cookie", format!("__session={}", good.token))])
            .await,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_revoked_m2m_token_ends_its_connection() {
    let server = Server::start(Duration::from_secs(1)).await;
    let issued = server.clerk.issue_m2m_token(grant());
    let mut ws = server.bearer(&issued.token).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
    assert!(server.clerk.revoke_machine_credential(&issued.id));
    match next_message(&mut ws).await {
        Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 4003);
            assert_eq!(frame.reason.as_str(), "token-invalid");
        }
        other => panic!("expected the close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn session_tokens_still_open_user_connections() {
    let server = Server::start(Duration::from_secs(60)).await;
    let token = server
        .clerk
        .token_v2()
        .subject("user_1")
        .session_id("sess_1")
        .authorized_party(FRONT_END)
        .sign();
    let mut ws = server.bearer(&token).await.unwrap();
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["user_id"], "user_1", "{welcome}");
}
