//! Driver scenarios against the test kit's mock Clerk, on a manual clock, through the real
//! reqwest client (so run with `--all-features`, as `.ci/run` and the README do).
#![cfg(feature = "reqwest")]
#![allow(clippy::unwrap_used)]

use clerk_core::jwks::JwksError;
use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::time::UnixTime;
use clerk_core::{AuthDecision, AuthError, Authenticator, ClerkConfig, JwksPolicy, Reason};
use clerk_testkit::clock::ManualClock;
use clerk_testkit::keys::TestKeyPair;
use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::mock::{Fault, MockClerk};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_750_000_000;

fn policy() -> JwksPolicy {
    JwksPolicy {
        ttl: Duration::from_secs(300),
        min_refresh_interval: Duration::from_secs(10),
        max_stale: Duration::from_secs(600),
    }
}

fn authenticator_for(mock: &MockClerk, clock: &ManualClock, timeout: Duration) -> Authenticator {
    let config = ClerkConfig::builder()
        .secret_key(mock.secret_key())
        .publishable_key(mock.publishable_key())
        .api_url(mock.url())
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    Authenticator::builder(config)
        .http_client(ReqwestClient::new(timeout).unwrap())
        .clock(clock.clone())
        .jwks_policy(policy())
        .build()
        .unwrap()
}

async fn setup() -> (MockClerk, ManualClock, Authenticator) {
    let mock = MockClerk::builder()
        .keys(vec![TestKeyPair::fixed(0)])
        .start()
        .await;
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let auth = authenticator_for(&mock, &clock, Duration::from_secs(5));
    (mock, clock, auth)
}

fn fresh_token(mock: &MockClerk, clock: &ManualClock, sub: &str) -> String {
    mock.token_v2().issued_now_by(clock).subject(sub).sign()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_first_requests_cause_exactly_one_fetch() {
    let (mock, clock, auth) = setup().await;
    // Hold the fetch open long enough that every request arrives while it is in flight.
    mock.set_fault(Fault::Delay(Duration::from_millis(200)));
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let auth = auth.clone();
            let token = fresh_token(&mock, &clock, &format!("user_{i}"));
            tokio::spawn(async move { auth.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(mock.jwks_requests(), 1);
}

#[tokio::test]
async fn random_unknown_kids_cause_at_most_one_fetch_per_window() {
    let (mock, clock, auth) = setup().await;
    auth.verify(&fresh_token(&mock, &clock, "user_warm"))
        .await
        .unwrap();
    assert_eq!(mock.jwks_requests(), 1);
    for window in 0..3u64 {
        for i in 0..1000 {
            let token = mock
                .token_v2()
                .issued_now_by(&clock)
                .kid(&format!("kid_{window}_{i}"))
                .sign();
            let err = auth.verify(&token).await.unwrap_err();
            assert_eq!(err.reason(), Reason::JwkKidMismatch);
        }
        assert!(
            mock.jwks_requests() <= 2 + window,
            "window {window}: {} fetches",
            mock.jwks_requests()
        );
        clock.advance(Duration::from_secs(10));
    }
    // Known keys kept working throughout.
    auth.verify(&fresh_token(&mock, &clock, "user_still"))
        .await
        .unwrap();
}

#[tokio::test]
async fn key_rotation_is_picked_up() {
    let (mock, clock, auth) = setup().await;
    auth.verify(&fresh_token(&mock, &clock, "user_a"))
        .await
        .unwrap();
    let new_key = TestKeyPair::fixed(1);
    mock.rotate_keys(vec![new_key.clone()]);
    clock.advance(Duration::from_secs(11));
    let token = clerk_testkit::mint::TokenBuilder::v2(&new_key)
        .issuer(&mock.issuer())
        .issued_now_by(&clock)
        .sign();
    let verified = auth.verify(&token).await.unwrap();
    assert_eq!(verified.user_id, clerk_testkit::mint::DEFAULT_USER_ID);
    assert_eq!(mock.jwks_requests(), 2);
}

async fn stale_keys_scenario(fault: Fault) {
    let (mock, clock, auth) = setup().await;
    auth.verify(&fresh_token(&mock, &clock, "user_warm"))
        .await
        .unwrap();
    mock.set_fault(fault.clone());
    // Past the TTL: held keys keep working within the stale bound while the background
    // refresh fails.
    clock.advance(Duration::from_secs(301));
    auth.verify(&fresh_token(&mock, &clock, "user_1"))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(500));
    auth.verify(&fresh_token(&mock, &clock, "user_2"))
        .await
        .unwrap();
    // The refreshes run in the background (stale-while-revalidate): give them a moment.
    for _ in 0..200 {
        if mock.jwks_requests() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(mock.jwks_requests() >= 2, "refreshes were attempted");
    // Past ttl + max_stale: an infrastructure failure, not a 401 reason.
    clock.advance(Duration::from_secs(200));
    let err = auth
        .verify(&fresh_token(&mock, &clock, "user_3"))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?} under {fault:?}");
    assert_eq!(err.reason(), Reason::JwkFailedToLoad);
    // And recovery once Clerk answers again.
    mock.set_fault(Fault::None);
    clock.advance(Duration::from_secs(11));
    auth.verify(&fresh_token(&mock, &clock, "user_4"))
        .await
        .unwrap();
}

#[tokio::test]
async fn jwks_down_serves_held_keys_within_the_stale_bound() {
    stale_keys_scenario(Fault::Status(500)).await;
}

#[tokio::test]
async fn jwks_garbage_serves_held_keys_within_the_stale_bound() {
    stale_keys_scenario(Fault::Garbage).await;
}

#[tokio::test]
async fn no_keys_at_all_is_unavailable_not_unauthorized() {
    let (mock, clock, auth) = setup().await;
    mock.set_fault(Fault::Status(503));
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {}", fresh_token(&mock, &clock, "u"))
            .parse()
            .unwrap(),
    );
    match auth.authenticate(&headers).await {
        AuthDecision::Unavailable(JwksError::Status { status: 503, .. }) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stalled_endpoint_does_not_hang_requests_past_the_timeout() {
    let mock = MockClerk::builder()
        .keys(vec![TestKeyPair::fixed(0)])
        .start()
        .await;
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let auth = authenticator_for(&mock, &clock, Duration::from_millis(300));
    mock.set_fault(Fault::Delay(Duration::from_secs(30)));
    #[allow(clippy::disallowed_methods)] // wall time is the point: the request must not hang
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        auth.verify(&fresh_token(&mock, &clock, "u")),
    )
    .await;
    let err = outcome
        .expect("the request hung past the client timeout")
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::KeysUnavailable(JwksError::Transport(clerk_core::HttpError::Timeout))
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn two_instances_never_accept_each_others_tokens() {
    let mock_a = MockClerk::builder()
        .secret_key("sk_test_instance_a")
        .keys(vec![TestKeyPair::fixed(0)])
        .start()
        .await;
    let mock_b = MockClerk::builder()
        .secret_key("sk_test_instance_b")
        .keys(vec![TestKeyPair::fixed(1)])
        .start()
        .await;
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let auth_a = authenticator_for(&mock_a, &clock, Duration::from_secs(5));
    let auth_b = authenticator_for(&mock_b, &clock, Duration::from_secs(5));
    let token_a = fresh_token(&mock_a, &clock, "user_a");
    let token_b = fresh_token(&mock_b, &clock, "user_b");
    // Each verifies its own (and caches it)...
    assert_eq!(auth_a.verify(&token_a).await.unwrap().user_id, "user_a");
    assert_eq!(auth_b.verify(&token_b).await.unwrap().user_id, "user_b");
    // ...and refuses the other's, cached or not.
    assert!(auth_a.verify(&token_b).await.is_err());
    assert!(auth_b.verify(&token_a).await.is_err());
    // Even a token with the other instance's kid but signed by a foreign key is refused.
    let forged = mock_b
        .token_v2()
        .issued_now_by(&clock)
        .sign_with(&TestKeyPair::fixed(0));
    assert_eq!(
        auth_b.verify(&forged).await.unwrap_err().reason(),
        Reason::TokenInvalidSignature
    );
}

#[tokio::test]
async fn a_wrong_secret_key_is_a_clear_error() {
    let mock = MockClerk::builder()
        .secret_key("sk_test_right")
        .keys(vec![TestKeyPair::fixed(0)])
        .start()
        .await;
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let config = ClerkConfig::builder()
        .secret_key("sk_test_wrong")
        .publishable_key(mock.publishable_key())
        .api_url(mock.url())
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let auth = Authenticator::builder(config)
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = auth
        .verify(&fresh_token(&mock, &clock, "u"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::KeysUnavailable(JwksError::Unauthorized { status: 401, .. })
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("CLERK_SECRET_KEY"), "{message}");
    assert!(
        !message.contains("sk_test_wrong"),
        "the secret must not be echoed: {message}"
    );
}

#[tokio::test]
async fn cached_tokens_are_served_and_rechecked() {
    let (mock, clock, auth) = setup().await;
    let token = fresh_token(&mock, &clock, "user_cached");
    let first = auth.verify(&token).await.unwrap();
    let second = auth.verify(&token).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "the second verify is a cache hit"
    );
    // exp is re-checked on a hit: 60 s lifetime + 5 s skew.
    clock.advance(Duration::from_secs(66));
    assert_eq!(
        auth.verify(&token).await.unwrap_err().reason(),
        Reason::TokenExpired
    );
}

#[tokio::test]
async fn a_cached_token_stops_working_when_its_key_is_withdrawn() {
    let (mock, clock, auth) = setup().await;
    let token = fresh_token(&mock, &clock, "user_cached");
    auth.verify(&token).await.unwrap();
    // Clerk withdraws the key; a refresh (triggered by a token with the new kid) drops it.
    let new_key = TestKeyPair::fixed(2);
    mock.rotate_keys(vec![new_key.clone()]);
    clock.advance(Duration::from_secs(11));
    let new_token = clerk_testkit::mint::TokenBuilder::v2(&new_key)
        .issuer(&mock.issuer())
        .issued_now_by(&clock)
        .sign();
    auth.verify(&new_token).await.unwrap();
    let err = auth.verify(&token).await.unwrap_err();
    assert_eq!(err.reason(), Reason::JwkKidMismatch);
}

#[tokio::test]
async fn header_and_cookie_extraction_through_authenticate() {
    let (mock, clock, auth) = setup().await;
    let token = fresh_token(&mock, &clock, "user_cookie");
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("theme=dark; __session={token}").parse().unwrap(),
    );
    assert_eq!(
        auth.authenticate(&headers).await.auth().unwrap().user_id,
        "user_cookie"
    );
    headers.insert("authorization", "Basic Zm9vOmJhcg==".parse().unwrap());
    match auth.authenticate(&headers).await {
        AuthDecision::Rejected(r) => assert_eq!(r.reason(), Reason::TokenInvalid),
        other => panic!("a malformed header must not fall through to the cookie: {other:?}"),
    }
    assert!(matches!(
        auth.authenticate(&http::HeaderMap::new()).await,
        AuthDecision::NoToken
    ));
}
