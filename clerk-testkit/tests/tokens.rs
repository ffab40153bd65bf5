//! `POST /__mock/tokens`: minted tokens verify against the mock's own JWKS through
//! clerk-core's `Authenticator` (secret key, publishable key, frontend host as an app would
//! configure them), with the organization claims an app reads; bad requests get a 400 naming
//! the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::{Authenticator, ClerkConfig};
use clerk_testkit::mint::{decode_unverified, DEFAULT_AUTHORIZED_PARTY};
use clerk_testkit::mock::{MockClerk, TOKENS_PATH};
use serde_json::{json, Value};

async fn post(clerk: &MockClerk, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{TOKENS_PATH}", clerk.url()))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

fn authenticator(clerk: &MockClerk) -> Authenticator {
    let config = ClerkConfig::builder()
        .secret_key(clerk.secret_key())
        .publishable_key(clerk.publishable_key())
        .api_url(clerk.url())
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    Authenticator::builder(config)
        .http_client(ReqwestClient::new(Duration::from_secs(5)).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn minted_token_verifies_with_its_organization() {
    let clerk = MockClerk::start().await;
    let body = json!({
        "sub": "user_42", "sid": "sess_42",
        "org_id": "org_1", "org_slug": "acme", "org_role": "org:admin",
        "org_permissions": ["org:reports:read", "org:billing:manage"],
        "ttl_seconds": 120,
    });
    let (status, answer) = post(&clerk, &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let token = answer["token"].as_str().unwrap();

    let auth = authenticator(&clerk).verify(token).await.unwrap();
    assert_eq!(auth.user_id, "user_42");
    assert_eq!(auth.session_id.as_deref(), Some("sess_42"));
    assert_eq!(auth.org_id(), Some("org_1"));
    assert!(auth.has_role("org:admin"));
    assert!(auth.has_permission("org:reports:read"));
    assert!(auth.has_permission("org:billing:manage"));
    assert!(!auth.has_permission("org:reports:manage"));
    assert!(!auth.has_permission("org:billing:read"));

    let claims = decode_unverified(token).unwrap().claims;
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 120);
    clerk.shutdown().await;
}

#[tokio::test]
async fn defaults_give_an_hour_long_session_without_organization() {
    let clerk = MockClerk::start().await;
    let (status, answer) = post(&clerk, r#"{"sub":"user_7"}"#).await;
    assert_eq!(status, 200, "{answer}");
    let token = answer["token"].as_str().unwrap();
    let auth = authenticator(&clerk).verify(token).await.unwrap();
    assert_eq!(auth.user_id, "user_7");
    assert_eq!(auth.session_id.as_deref(), Some("sess_7"));
    assert_eq!(auth.org_id(), None);
    let claims = decode_unverified(token).unwrap().claims;
    assert_eq!(claims["azp"], DEFAULT_AUTHORIZED_PARTY);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    clerk.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field() {
    let clerk = MockClerk::start().await;
    let cases: &[(&str, &str)] = &[
        ("not json", ""),
        (r#"{"sid":"sess_1"}"#, "sub"),
        (r#"{"sub":""}"#, "sub"),
        (r#"{"sub":"user_1","ttl_seconds":0}"#, "ttl_seconds"),
        (r#"{"sub":"user_1","ttl_seconds":86401}"#, "ttl_seconds"),
        (r#"{"sub":"user_1","org_id":"org_1"}"#, "org_slug"),
        (
            r#"{"sub":"user_1","org_permissions":["org:a:b"]}"#,
            "org_permissions",
        ),
        (
            r#"{"sub":"user_1","org_id":"o","org_slug":"s","org_role":"admin","org_permissions":["read"]}"#,
            "org:<feature>:<permission>",
        ),
        (r#"{"sub":"user_1","surprise":true}"#, "surprise"),
    ];
    for (body, named) in cases {
        let (status, answer) = post(&clerk, body).await;
        assert_eq!(status, 400, "{body} → {answer}");
        let message = answer["errors"][0]["long_message"].as_str().unwrap();
        assert!(
            message.contains(named),
            "{body}: {message:?} does not name {named:?}"
        );
    }
    clerk.shutdown().await;
}

#[tokio::test]
async fn a_token_from_a_key_no_longer_served_is_refused() {
    // The endpoint signs with the first served key: after a rotation, old tokens fail.
    let clerk = MockClerk::start().await;
    let (_, answer) = post(&clerk, r#"{"sub":"user_1"}"#).await;
    let old = answer["token"].as_str().unwrap().to_owned();
    clerk.rotate_keys(vec![clerk_testkit::TestKeyPair::fixed(1)]);
    let (_, answer) = post(&clerk, r#"{"sub":"user_1"}"#).await;
    let new = answer["token"].as_str().unwrap().to_owned();
    let authenticator = authenticator(&clerk);
    assert!(authenticator.verify(&new).await.is_ok());
    assert!(authenticator.verify(&old).await.is_err());
    clerk.shutdown().await;
}
