//! `MachineAuth<A>` and `RequireScope<A, S>` in process: the wiring (a 500 without the
//! verifier), the accepted set, the scope guard, and `AnyToken` with a session.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use clerk_axum::machine::{AnyToken, ApiKeys, ApiKeysOrM2m, MachineAuth, RequireScope};
use clerk_axum::{Clerk, ClerkLayer};
use clerk_core::store::Store;
use clerk_core::{Authenticator, ClerkConfig, HttpClient};
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};
use clerk_testkit::{ManualClock, TestKeyPair, TokenBuilder};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

clerk_axum::machine::scope!(WriteReports = "write:reports");

/// A Backend API that knows one API key (scopes `read:reports`) and serves `key`'s JWKS.
fn backend(key: &TestKeyPair) -> Arc<dyn HttpClient> {
    let jwks = serde_json::to_vec(&clerk_testkit::keys::jwks(&[key])).unwrap();
    Arc::new(move |request: axum::http::Request<Vec<u8>>| {
        let jwks = jwks.clone();
        async move {
            let (status, body) = match request.uri().path() {
                "/v1/jwks" => (200, jwks),
                "/v1/api_keys/verify" if request.body() == br#"{"secret":"ak_good"}"# => (
                    200,
                    br#"{"object":"api_key","id":"ak_1","type":"api_key","name":"ci","subject":"user_1",
                      "claims":null,"scopes":["read:reports"],"revoked":false,"revocation_reason":null,
                      "expired":false,"expiration":null,"created_by":null,"last_used_at":null,
                      "created_at":1,"updated_at":1}"#
                        .to_vec(),
                ),
                _ => (
                    404,
                    br#"{"errors":[{"message":"not found","long_message":"not found","code":"resource_not_found"}]}"#
                        .to_vec(),
                ),
            };
            Ok(axum::http::Response::builder()
                .status(status)
                .body(body)
                .unwrap())
        }
    })
}

fn config() -> ClerkConfig {
    ClerkConfig::builder()
        .secret_key("sk_test_machine")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap()
}

async fn machine(auth: MachineAuth<ApiKeysOrM2m>) -> Json<Value> {
    Json(
        json!({ "token_type": auth.token_type().as_str(), "subject": auth.subject(), "scopes": auth.scopes() }),
    )
}

async fn any(auth: MachineAuth<AnyToken>) -> Json<Value> {
    Json(json!({ "token_type": auth.token_type().as_str(), "subject": auth.subject() }))
}

async fn write(auth: RequireScope<ApiKeys, WriteReports>) -> Json<Value> {
    Json(json!({ "subject": auth.subject() }))
}

fn routes() -> Router {
    Router::new()
        .route("/machine", get(machine))
        .route("/any", get(any))
        .route("/write", get(write))
}

async fn call(app: &Router, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(path);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn installed(key: &TestKeyPair, clock: &ManualClock) -> Router {
    let store: Arc<dyn Store> = Arc::new(clerk_store::MemoryStore::new());
    let clerk = Clerk::builder(config(), store)
        .http_client(backend(key))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    clerk.install(routes())
}

#[tokio::test]
async fn machine_routes_accept_what_they_declare() {
    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let app = installed(&key, &clock);
    let (status, body) = call(&app, "/machine", Some("ak_good")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"token_type": "api_key", "subject": "user_1", "scopes": ["read:reports"]})
    );
    let (status, body) = call(&app, "/machine", Some("ak_bad")).await;
    assert_eq!(
        (status, body["reason"].clone()),
        (StatusCode::UNAUTHORIZED, json!("token-invalid"))
    );
    let (status, body) = call(&app, "/machine", Some("oat_1")).await;
    assert_eq!(
        (status, body["reason"].clone()),
        (StatusCode::UNAUTHORIZED, json!("token-type-mismatch"))
    );

    let session = TokenBuilder::v2(&key)
        .issuer(&format!("https://{DEFAULT_FRONTEND_HOST}"))
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .subject("user_session")
        .issued_now_by(&clock)
        .sign();
    let (status, body) = call(&app, "/machine", Some(&session)).await;
    assert_eq!(
        (status, body["reason"].clone()),
        (StatusCode::UNAUTHORIZED, json!("token-type-mismatch"))
    );
    // AnyToken takes the session (verified by the layer) and machine credentials alike.
    let (status, body) = call(&app, "/any", Some(&session)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"token_type": "session_token", "subject": "user_session"})
    );
    let (_, body) = call(&app, "/any", Some("ak_good")).await;
    assert_eq!(body["token_type"], "api_key");

    // The scope guard.
    let (status, body) = call(&app, "/write", Some("ak_good")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"error": "forbidden", "reason": "missing_scope", "required": "write:reports"})
    );
}

#[tokio::test]
async fn a_machine_route_without_the_verifier_is_a_500_naming_the_fix() {
    let key = TestKeyPair::fixed(0);
    let authenticator = Authenticator::builder(config())
        .shared_http_client(backend(&key))
        .build()
        .unwrap();
    let app = routes().layer(ClerkLayer::new(authenticator));
    let (status, body) = call(&app, "/machine", Some("ak_good")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["reason"], "clerk-machine-verifier-missing");
}

/// A hand-built layer hands its verifier to every request (no `Extension` layer needed); an
/// app's own `Extension` verifier is the one asked when it adds one.
#[tokio::test]
async fn a_hand_built_layer_hands_its_verifier_to_machine_routes() {
    let key = TestKeyPair::fixed(0);
    let authenticator = Authenticator::builder(config())
        .shared_http_client(backend(&key))
        .build()
        .unwrap();
    let verifier = clerk_core::machine::MachineVerifier::new(
        authenticator.clone(),
        &config(),
        Some(backend(&key)),
    );
    let app = routes().layer(ClerkLayer::new(authenticator.clone()).with_machine(verifier));
    let (status, body) = call(&app, "/machine", Some("ak_good")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], "user_1");

    // The app's own verifier (here one without a Backend API) wins over the layer's.
    let own = clerk_core::machine::MachineVerifier::new(authenticator.clone(), &config(), None);
    let layered = clerk_core::machine::MachineVerifier::new(
        authenticator.clone(),
        &config(),
        Some(backend(&key)),
    );
    let app = routes()
        .layer(axum::Extension(own))
        .layer(ClerkLayer::new(authenticator).with_machine(layered));
    let (status, body) = call(&app, "/machine", Some("ak_good")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["reason"], "machine-secret-key-missing");
}
