//! `RequireFeature`, `RequirePlan`, `RequireReverification` and `NotImpersonated` answer the
//! shared cases of `clerk_testkit::requirements` (the same table clerk-rocket's guards answer).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use clerk_axum::{
    ClerkLayer, NotImpersonated, RequireFeature, RequirePlan, RequireReverification, Strict,
};
use clerk_core::{Authenticator, ClerkConfig};
use clerk_testkit::requirements::{cases, ROUTES};
use clerk_testkit::{mint, offline, TestKeyPair};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

clerk_axum::feature!(Dashboard = "u:dashboard");
clerk_axum::plan!(Pro = "u:pro");
clerk_axum::reverification!(Within30 = SecondFactor, 30);

fn app(key: &TestKeyPair) -> Router {
    let config = ClerkConfig::builder()
        .secret_key("sk_test_requirements")
        .publishable_key(mint::publishable_key_for(
            mint::DEFAULT_FRONTEND_HOST,
            false,
        ))
        .frontend_host(mint::DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(offline::jwks_client(&[key]))
        .build()
        .unwrap();
    let paths: Vec<&str> = ROUTES.iter().map(|route| route.path).collect();
    assert_eq!(
        paths,
        [
            "/require/feature",
            "/require/plan",
            "/require/strict",
            "/require/within-30",
            "/require/not-impersonated"
        ],
        "the shared routes changed: mount them here"
    );
    Router::new()
        .route(
            "/require/feature",
            get(|_: RequireFeature<Dashboard>| async { "ok" }),
        )
        .route("/require/plan", get(|_: RequirePlan<Pro>| async { "ok" }))
        .route(
            "/require/strict",
            get(|_: RequireReverification<Strict>| async { "ok" }),
        )
        .route(
            "/require/within-30",
            get(|_: RequireReverification<Within30>| async { "ok" }),
        )
        .route(
            "/require/not-impersonated",
            get(|_: NotImpersonated| async { "ok" }),
        )
        .layer(ClerkLayer::new(authenticator))
}

#[tokio::test]
async fn requirement_guards_answer_the_shared_cases() {
    let key = TestKeyPair::fixed(0);
    let app = app(&key);
    let mut failures = Vec::new();
    for case in cases(&key) {
        let mut request = Request::get(case.path);
        if let Some(token) = &case.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Option<Value> = match &case.body {
            Some(_) => serde_json::from_slice(&bytes).ok(),
            None => None,
        };
        let text_ok = case.body.is_some() || bytes.as_ref() == b"ok";
        if status != case.status || body != case.body || !text_ok {
            failures.push(format!(
                "{}: {} {:?}, expected {} {:?}",
                case.name,
                status,
                String::from_utf8_lossy(&bytes),
                case.status,
                case.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
