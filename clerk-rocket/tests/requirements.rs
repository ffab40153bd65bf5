//! `RequireFeature`, `RequirePlan`, `RequireReverification` and `NotImpersonated` answer the
//! shared cases of `clerk_testkit::requirements` (the same table clerk-axum's extractors answer).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use clerk_rocket::{
    ClerkFairing, NotImpersonated, RequireFeature, RequirePlan, RequireReverification, Strict,
};
use clerk_testkit::requirements::{cases, ROUTES};
use clerk_testkit::{mint, offline, TestKeyPair};
use rocket::http::Header;
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
use serde_json::Value;

clerk_rocket::feature!(Dashboard = "u:dashboard");
clerk_rocket::plan!(Pro = "u:pro");
clerk_rocket::reverification!(Within30 = SecondFactor, 30);

#[get("/require/feature")]
fn feature(_guard: RequireFeature<Dashboard>) -> &'static str {
    "ok"
}

#[get("/require/plan")]
fn plan(_guard: RequirePlan<Pro>) -> &'static str {
    "ok"
}

#[get("/require/strict")]
fn strict(_guard: RequireReverification<Strict>) -> &'static str {
    "ok"
}

#[get("/require/within-30")]
fn within_30(_guard: RequireReverification<Within30>) -> &'static str {
    "ok"
}

#[get("/require/not-impersonated")]
fn not_impersonated(_guard: NotImpersonated) -> &'static str {
    "ok"
}

async fn client(key: &TestKeyPair) -> Client {
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
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("clerk.secret_key", "sk_test_requirements"))
        .merge((
            "clerk.publishable_key",
            mint::publishable_key_for(mint::DEFAULT_FRONTEND_HOST, false),
        ))
        .merge(("clerk.frontend_hosts", [mint::DEFAULT_AUTHORIZED_PARTY]));
    let rocket = rocket::custom(figment)
        .attach(
            ClerkFairing::new()
                .ignore_environment()
                .http_client(Arc::new(offline::jwks_client(&[key]))),
        )
        .register("/", clerk_rocket::catchers())
        .mount(
            "/",
            routes![feature, plan, strict, within_30, not_impersonated],
        );
    Client::tracked(rocket).await.expect("valid settings")
}

#[rocket::async_test]
async fn requirement_guards_answer_the_shared_cases() {
    let key = TestKeyPair::fixed(0);
    let client = client(&key).await;
    let mut failures = Vec::new();
    for case in cases(&key) {
        let mut request = client.get(case.path);
        if let Some(token) = &case.token {
            request = request.header(Header::new("Authorization", format!("Bearer {token}")));
        }
        let response = request.dispatch().await;
        let status = response.status().code;
        let text = response.into_string().await.unwrap_or_default();
        let body: Option<Value> = match &case.body {
            Some(_) => serde_json::from_str(&text).ok(),
            None => None,
        };
        let text_ok = case.body.is_some() || text == "ok";
        if status != case.status || body != case.body || !text_ok {
            failures.push(format!(
                "{}: {status} {text:?}, expected {} {:?}",
                case.name, case.status, case.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
