//! Tests of `clerk_testkit::mock::MockClerk`: the JWKS endpoint, authentication, counters,
//! fault injection, key rotation and shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use clerk_testkit::keys::{jwks, TestKeyPair};
use clerk_testkit::mint::{decode_unverified, publishable_key_for};
use clerk_testkit::mock::{Fault, MockClerk, DEFAULT_SECRET_KEY};
use common::{get, get_jwks};
use serde_json::json;

const SECRET: &str = "sk_test_mock_tests";

async fn mock() -> MockClerk {
    MockClerk::builder()
        .secret_key(SECRET)
        .keys(vec![TestKeyPair::fixed(0), TestKeyPair::fixed(1)])
        .frontend_host("clerk.mock-tests.test")
        .start()
        .await
}

fn assert_clerk_error(response: &common::Response, status: u16, code: &str) {
    assert_eq!(response.status, status);
    let body = response.json();
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["code"], code);
    assert!(errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(errors[0]["long_message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn accessors_describe_the_instance() {
    let clerk = mock().await;
    assert_eq!(clerk.url(), format!("http://{}", clerk.addr()));
    assert!(clerk.url().starts_with("http://127.0.0.1:"));
    assert_ne!(clerk.addr().port(), 0);
    assert_eq!(clerk.jwks_url(), format!("{}/v1/jwks", clerk.url()));
    assert_eq!(clerk.secret_key(), SECRET);
    assert_eq!(clerk.frontend_host(), "clerk.mock-tests.test");
    assert_eq!(clerk.issuer(), "https://clerk.mock-tests.test");
    assert_eq!(
        clerk.publishable_key(),
        publishable_key_for("clerk.mock-tests.test", false)
    );
    assert_eq!(
        clerk.keys(),
        vec![TestKeyPair::fixed(0), TestKeyPair::fixed(1)]
    );
    assert_eq!(clerk.signing_key(), TestKeyPair::fixed(0));
}

#[tokio::test]
async fn defaults_and_live_keys() {
    let clerk = MockClerk::start().await;
    assert_eq!(clerk.secret_key(), DEFAULT_SECRET_KEY);
    assert_eq!(clerk.keys(), vec![TestKeyPair::fixed(0)]);
    assert_eq!(clerk.issuer(), clerk_testkit::mint::DEFAULT_ISSUER);

    let live = MockClerk::builder().secret_key("sk_live_abc").start().await;
    assert!(live.publishable_key().starts_with("pk_live_"));
}

#[tokio::test]
async fn serves_the_jwks_with_the_right_bearer_key() {
    let clerk = mock().await;
    let response = get_jwks(clerk.addr(), SECRET).await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        response.json(),
        jwks(&[&TestKeyPair::fixed(0), &TestKeyPair::fixed(1)])
    );
    // The scheme is case-insensitive, as in HTTP.
    let lower = get(
        clerk.addr(),
        "/v1/jwks",
        &[("authorization", &format!("bearer {SECRET}"))],
    )
    .await;
    assert_eq!(lower.status, 200);
}

#[tokio::test]
async fn rejects_missing_wrong_or_malformed_credentials_with_clerk_errors() {
    let clerk = mock().await;
    let missing = get(clerk.addr(), "/v1/jwks", &[]).await;
    assert_clerk_error(&missing, 401, "authentication_invalid");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));

    // Clerk's code for a key it does not know, which @clerk/backend reports as
    // `secret-key-invalid` (docs/design.md §12).
    let wrong = get_jwks(clerk.addr(), "sk_test_someone_else").await;
    assert_clerk_error(&wrong, 401, "clerk_key_invalid");

    let basic = get(
        clerk.addr(),
        "/v1/jwks",
        &[("Authorization", &format!("Basic {SECRET}"))],
    )
    .await;
    assert_clerk_error(&basic, 401, "authorization_header_format_invalid");

    let bare = get(clerk.addr(), "/v1/jwks", &[("Authorization", SECRET)]).await;
    assert_clerk_error(&bare, 401, "authorization_header_format_invalid");

    assert_eq!(clerk.jwks_requests(), 4);
    assert_eq!(clerk.jwks_requests_ok(), 0);
}

#[tokio::test]
async fn an_unknown_secret_key_gets_clerk_s_clerk_key_invalid_body() {
    let clerk = mock().await;
    let message =
        "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.";
    for path in [
        "/v1/jwks",
        "/v1/users",
        "/v1/users/count",
        "/v1/organizations",
    ] {
        let response = get(
            clerk.addr(),
            path,
            &[("Authorization", "Bearer sk_test_not_this_instance")],
        )
        .await;
        assert_eq!(response.status, 401, "{path}");
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        assert_eq!(
            response.json(),
            json!({
                "errors": [{
                    "message": message,
                    "long_message": message,
                    "code": "clerk_key_invalid",
                }],
                "clerk_trace_id": "mock_trace",
            }),
            "{path}"
        );
    }
}

#[tokio::test]
async fn unknown_paths_are_clerk_404s() {
    let clerk = mock().await;
    let response = get(clerk.addr(), "/v1/nothing", &[]).await;
    assert_clerk_error(&response, 404, "resource_not_found");
    assert_eq!(clerk.jwks_requests(), 0);
}

#[tokio::test]
async fn counts_requests_and_resets() {
    let clerk = mock().await;
    assert_eq!((clerk.jwks_requests(), clerk.jwks_requests_ok()), (0, 0));
    get_jwks(clerk.addr(), SECRET).await;
    get_jwks(clerk.addr(), SECRET).await;
    get_jwks(clerk.addr(), "wrong").await;
    assert_eq!((clerk.jwks_requests(), clerk.jwks_requests_ok()), (3, 2));

    // Counters are shared by every handle.
    let other = clerk.clone();
    other.reset_counters();
    assert_eq!((clerk.jwks_requests(), clerk.jwks_requests_ok()), (0, 0));
    get_jwks(clerk.addr(), SECRET).await;
    assert_eq!((other.jwks_requests(), other.jwks_requests_ok()), (1, 1));
}

#[tokio::test]
async fn status_fault_answers_with_that_status_and_a_clerk_error() {
    let clerk = mock().await;
    clerk.set_fault(Fault::Status(503));
    assert_eq!(clerk.fault(), Fault::Status(503));
    let response = get_jwks(clerk.addr(), SECRET).await;
    assert_clerk_error(&response, 503, "internal_clerk_error");
    // Applies before authentication: an outage hits everyone.
    let unauthenticated = get(clerk.addr(), "/v1/jwks", &[]).await;
    assert_eq!(unauthenticated.status, 503);

    clerk.set_fault(Fault::Status(500));
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 500);
    clerk.set_fault(Fault::Status(401));
    assert_clerk_error(
        &get_jwks(clerk.addr(), SECRET).await,
        401,
        "authentication_invalid",
    );
    clerk.set_fault(Fault::Status(42));
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 500);

    clerk.set_fault(Fault::None);
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 200);
    assert_eq!(clerk.jwks_requests(), 6);
    assert_eq!(clerk.jwks_requests_ok(), 1);
}

#[tokio::test]
async fn rate_limited_fault_sends_retry_after() {
    let clerk = mock().await;
    clerk.set_fault(Fault::RateLimited {
        retry_after_secs: 7,
    });
    let response = get_jwks(clerk.addr(), SECRET).await;
    assert_clerk_error(&response, 429, "too_many_requests");
    assert_eq!(response.header("retry-after"), Some("7"));
}

#[tokio::test]
async fn garbage_fault_is_a_200_that_is_not_json() {
    let clerk = mock().await;
    clerk.set_fault(Fault::Garbage);
    let response = get_jwks(clerk.addr(), SECRET).await;
    assert_eq!(response.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&response.body).is_err());
    assert_eq!(clerk.jwks_requests(), 1);
    assert_eq!(clerk.jwks_requests_ok(), 0);
}

#[tokio::test]
async fn wrong_shape_fault_is_json_but_not_a_key_set() {
    let clerk = mock().await;
    clerk.set_fault(Fault::WrongShape);
    let response = get_jwks(clerk.addr(), SECRET).await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert!(body.is_object());
    assert!(!body["keys"].is_array(), "must not be a JWKS: {body}");
    assert_eq!(clerk.jwks_requests_ok(), 0);
}

#[tokio::test]
async fn delay_fault_really_delays_then_answers_normally() {
    let clerk = mock().await;
    let delay = Duration::from_millis(300);
    clerk.set_fault(Fault::Delay(delay));
    let started = tokio::time::Instant::now();
    let response = get_jwks(clerk.addr(), SECRET).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= delay,
        "answered after {elapsed:?}, before {delay:?}"
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["keys"].as_array().unwrap().len(), 2);
    assert_eq!(clerk.jwks_requests_ok(), 1);
}

#[tokio::test]
async fn request_is_counted_on_arrival_even_while_delayed() {
    let clerk = mock().await;
    clerk.set_fault(Fault::Delay(Duration::from_secs(30)));
    let addr = clerk.addr();
    let pending = tokio::spawn(async move { get_jwks(addr, SECRET).await });
    // Wait (bounded) for the request to arrive.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while clerk.jwks_requests() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(clerk.jwks_requests_ok(), 0);
    // Shutdown cuts the delay short instead of waiting 30 s.
    let started = tokio::time::Instant::now();
    clerk.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(30));
    let response = pending.await.unwrap();
    assert_eq!(response.status, 503);
}

#[tokio::test]
async fn fail_next_is_a_burst_then_back_to_normal() {
    let clerk = mock().await;
    clerk.fail_next(2, Fault::Status(502));
    clerk.fail_next(1, Fault::Garbage);
    assert_eq!(clerk.pending_failures(), 3);
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 502);
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 502);
    let garbage = get_jwks(clerk.addr(), SECRET).await;
    assert_eq!(garbage.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&garbage.body).is_err());
    assert_eq!(clerk.pending_failures(), 0);
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 200);
    assert_eq!((clerk.jwks_requests(), clerk.jwks_requests_ok()), (4, 1));
}

#[tokio::test]
async fn burst_goes_before_the_steady_fault_and_clear_faults_resets_both() {
    let clerk = mock().await;
    clerk.set_fault(Fault::Status(500));
    clerk.fail_next(1, Fault::Status(429));
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 429);
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 500);
    clerk.fail_next(5, Fault::Status(503));
    clerk.clear_faults();
    assert_eq!(clerk.fault(), Fault::None);
    assert_eq!(clerk.pending_failures(), 0);
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 200);
}

#[tokio::test]
async fn rotates_and_edits_keys_at_runtime() {
    let clerk = mock().await;
    let kids = |body: serde_json::Value| -> Vec<String> {
        body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let fresh = TestKeyPair::fixed(2).with_kid("ins_rotated");
    let previous = clerk.rotate_keys(vec![fresh.clone()]);
    assert_eq!(previous, vec![TestKeyPair::fixed(0), TestKeyPair::fixed(1)]);
    let body = get_jwks(clerk.addr(), SECRET).await.json();
    assert_eq!(kids(body.clone()), ["ins_rotated"]);
    assert_eq!(body, json!({"keys": [fresh.public_jwk()]}));
    assert_eq!(clerk.signing_key(), fresh);

    clerk.add_key(TestKeyPair::fixed(0));
    assert_eq!(
        kids(get_jwks(clerk.addr(), SECRET).await.json()),
        ["ins_rotated", "ins_testkit_fixed_0"]
    );
    assert_eq!(clerk.remove_key("ins_rotated"), Some(fresh));
    assert_eq!(clerk.remove_key("ins_rotated"), None);
    assert_eq!(
        kids(get_jwks(clerk.addr(), SECRET).await.json()),
        ["ins_testkit_fixed_0"]
    );

    clerk.set_keys(Vec::new());
    let empty = get_jwks(clerk.addr(), SECRET).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json(), json!({"keys": []}));
}

#[tokio::test]
async fn minted_tokens_carry_the_instance_issuer_and_current_key() {
    let clerk = mock().await;
    let token = clerk.token_v2().subject("user_9").sign();
    let decoded = decode_unverified(&token).unwrap();
    assert_eq!(decoded.claims["iss"], clerk.issuer());
    assert_eq!(decoded.claims["v"], 2);
    assert_eq!(decoded.header["kid"], "ins_testkit_fixed_0");
    // The signing key's JWK is in what the mock serves.
    let served = get_jwks(clerk.addr(), SECRET).await.json();
    assert!(served["keys"]
        .as_array()
        .unwrap()
        .contains(&clerk.signing_key().public_jwk()));

    let v1 = decode_unverified(&clerk.token_v1().sign()).unwrap();
    assert!(v1.claims.get("v").is_none());
    assert_eq!(v1.claims["iss"], clerk.issuer());
}

#[tokio::test]
async fn shutdown_stops_serving_and_is_idempotent() {
    let clerk = mock().await;
    let addr = clerk.addr();
    assert_eq!(get_jwks(addr, SECRET).await.status, 200);
    clerk.shutdown().await;
    clerk.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let clerk = mock().await;
    let addr = clerk.addr();
    let clone = clerk.clone();
    drop(clerk);
    // A clone keeps it alive.
    assert_eq!(get_jwks(addr, SECRET).await.status, 200);
    drop(clone);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still listening after the last handle was dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_flip_from_another_task_while_serving() {
    let clerk = mock().await;
    let flipper = clerk.clone();
    tokio::spawn(async move { flipper.set_fault(Fault::Status(503)) })
        .await
        .unwrap();
    assert_eq!(get_jwks(clerk.addr(), SECRET).await.status, 503);
}

#[test]
fn start_blocking_serves_from_its_own_thread() {
    let clerk = MockClerk::builder().secret_key(SECRET).start_blocking();
    // A fresh runtime for the client: the server does not depend on it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let response = runtime.block_on(get_jwks(clerk.addr(), SECRET));
    assert_eq!(response.status, 200);
    assert_eq!(clerk.jwks_requests_ok(), 1);
    let addr = clerk.addr();
    runtime.block_on(clerk.shutdown());
    assert!(std::net::TcpStream::connect(addr).is_err());
}
