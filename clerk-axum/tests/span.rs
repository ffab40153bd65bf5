//! Handlers run inside clerk-core's `clerk` span: a log line of the handler names the user,
//! session, organization and impersonating actor, and never the token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use clerk_axum::{ClerkAuth, ClerkLayer};
use clerk_core::{Authenticator, ClerkConfig};
use clerk_testkit::{mint, offline, OrgV2, TestKeyPair, TokenBuilder};
use serde_json::json;
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn handler_logs_carry_the_session_ids_and_the_actor_not_the_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let key = TestKeyPair::fixed(0);
    let config = ClerkConfig::builder()
        .secret_key("sk_test_span")
        .publishable_key(mint::publishable_key_for(
            mint::DEFAULT_FRONTEND_HOST,
            false,
        ))
        .frontend_host(mint::DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(offline::jwks_client(&[&key]))
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|_: ClerkAuth| async {
                tracing::info!("handler ran");
                "ok"
            }),
        )
        .layer(ClerkLayer::new(authenticator));
    let token = TokenBuilder::v2(&key)
        .subject("user_span")
        .session_id("sess_span")
        .org_v2(OrgV2 {
            id: "org_span",
            slug: "span",
            role: "admin",
            permissions: vec!["read"],
            feature_permission_masks: vec!["1"],
        })
        .features("o:reports")
        .actor(json!({ "sub": "user_support" }))
        .sign();
    let request = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);

    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = logged
        .lines()
        .find(|line| line.contains("handler ran"))
        .unwrap_or_else(|| panic!("no handler line in {logged:?}"));
    for field in [
        "user_id=\"user_span\"",
        "session_id=\"sess_span\"",
        "org_id=\"org_span\"",
        "actor=\"user_support\"",
    ] {
        assert!(
            line.contains(field) || line.contains(&field.replace('"', "")),
            "{field} missing from {line:?}"
        );
    }
    assert!(!logged.contains(&token), "the token was logged");
}
