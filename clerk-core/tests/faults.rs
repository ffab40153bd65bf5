//! Faults of Clerk and of the caller's `HttpClient`: panics, hangs and brown-outs must never
//! wedge shared state or make a request wait for what it does not need.
#![allow(clippy::unwrap_used, clippy::panic)]

use clerk_core::time::UnixTime;
use clerk_core::{AuthError, Authenticator, ClerkConfig, HttpError, JwksPolicy};
use clerk_testkit::keys::{jwks, TestKeyPair};
use clerk_testkit::mint::{publishable_key_for, TokenBuilder, DEFAULT_AUTHORIZED_PARTY};
use clerk_testkit::ManualClock;
use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use std::sync::atomic::{AtomicUsize, Ordering};
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

type Respond =
    dyn Fn(usize) -> BoxFuture<'static, Result<http::Response<Vec<u8>>, HttpError>> + Send + Sync;

/// An `HttpClient` whose `n`-th call (from 0) answers `respond(n)`; counts the calls.
fn scripted(respond: Arc<Respond>) -> (Arc<AtomicUsize>, impl clerk_core::HttpClient) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let client = move |_request: http::Request<Vec<u8>>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        respond(n)
    };
    (calls, client)
}

fn jwks_ok(key: &TestKeyPair) -> BoxFuture<'static, Result<http::Response<Vec<u8>>, HttpError>> {
    let body = serde_json::to_vec(&jwks(&[key])).unwrap();
    async move { Ok(http::Response::builder().status(200).body(body).unwrap()) }.boxed()
}

fn authenticator(client: impl clerk_core::HttpClient, clock: &ManualClock) -> Authenticator {
    let config = ClerkConfig::builder()
        .secret_key("sk_test_faults")
        .publishable_key(publishable_key_for("clerk.mock.test", false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    Authenticator::builder(config)
        .clock(clock.clone())
        .http_client(client)
        .jwks_policy(policy())
        .build()
        .unwrap()
}

fn token(key: &TestKeyPair, clock: &ManualClock, sub: &str) -> String {
    TokenBuilder::v2(key)
        .issuer("https://clerk.mock.test")
        .subject(sub)
        .issued_now_by(clock)
        .sign()
}

#[tokio::test]
async fn a_panicking_http_client_fails_its_waiters_and_the_next_refresh_starts_clean() {
    let key = TestKeyPair::fixed(0);
    let for_client = key.clone();
    let (calls, client) = scripted(Arc::new(move |n| {
        if n == 0 {
            async { panic!("the HttpClient blew up") }.boxed()
        } else {
            jwks_ok(&for_client)
        }
    }));
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let auth = authenticator(client, &clock);

    let first = std::panic::AssertUnwindSafe(auth.verify(&token(&key, &clock, "user_a")))
        .catch_unwind()
        .await;
    let first = first.expect("a panicking HttpClient is an error for its waiters, not a panic");
    assert!(
        matches!(first, Err(AuthError::KeysUnavailable(_))),
        "{first:?}"
    );

    // Past the refresh rate limit, the next verification starts a fresh fetch that works.
    clock.advance(policy().min_refresh_interval + Duration::from_secs(1));
    let next = std::panic::AssertUnwindSafe(auth.verify(&token(&key, &clock, "user_b")))
        .catch_unwind()
        .await
        .expect("the refresh slot is not poisoned by the earlier panic");
    assert_eq!(next.unwrap().user_id, "user_b");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_client_panicking_before_returning_a_future_is_contained_too() {
    let key = TestKeyPair::fixed(0);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let body = serde_json::to_vec(&jwks(&[&key])).unwrap();
    let client = move |_request: http::Request<Vec<u8>>| {
        assert!(
            counter.fetch_add(1, Ordering::SeqCst) > 0,
            "send() itself panics"
        );
        let body = body.clone();
        async move { Ok(http::Response::builder().status(200).body(body).unwrap()) }
    };
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let auth = authenticator(client, &clock);
    let first = std::panic::AssertUnwindSafe(auth.verify(&token(&key, &clock, "user_a")))
        .catch_unwind()
        .await
        .expect("contained");
    assert!(first.is_err());
    clock.advance(Duration::from_secs(11));
    let next = std::panic::AssertUnwindSafe(auth.verify(&token(&key, &clock, "user_b")))
        .catch_unwind()
        .await
        .expect("not poisoned");
    assert_eq!(next.unwrap().user_id, "user_b");
}

async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after 5 s"))
}

/// Answers the first JWKS request, then hangs forever on every later one (Clerk brown-out).
fn hangs_after_first(key: &TestKeyPair) -> (Arc<AtomicUsize>, impl clerk_core::HttpClient) {
    let key = key.clone();
    scripted(Arc::new(move |n| {
        if n == 0 {
            jwks_ok(&key)
        } else {
            futures_util::future::pending().boxed()
        }
    }))
}

async fn stale_keys_are_served_while_clerk_hangs(
    auth: Authenticator,
    clock: &ManualClock,
    calls: &AtomicUsize,
) {
    let key = TestKeyPair::fixed(0);
    auth.verify(&token(&key, clock, "user_warm")).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Past the TTL: a new token with a known kid verifies at once on the held keys while one
    // background refresh (hanging) runs.
    clock.advance(policy().ttl + Duration::from_secs(1));
    for i in 0..5 {
        let verified = within(
            "a known kid after the TTL",
            auth.verify(&token(&key, clock, &format!("user_{i}"))),
        )
        .await
        .unwrap();
        assert_eq!(verified.user_id, format!("user_{i}"));
    }
    tokio::task::yield_now().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one background refresh");

    // An unknown kid waits for the (hanging) refresh: bounded by the HttpClient's timeout.
    let other = TestKeyPair::fixed(1);
    let unknown = tokio::time::timeout(
        Duration::from_millis(200),
        auth.verify(&token(&other, clock, "user_unknown")),
    )
    .await;
    assert!(unknown.is_err(), "an unknown kid waits for the refresh");

    // Past the stale bound the held keys are not served any more.
    clock.advance(policy().max_stale);
    let past = tokio::time::timeout(
        Duration::from_millis(200),
        auth.verify(&token(&key, clock, "user_late")),
    )
    .await;
    assert!(past.is_err(), "past the stale bound, keys are not served");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "still the one refresh");
}

#[tokio::test]
async fn after_the_ttl_a_known_kid_verifies_at_once_while_clerk_hangs_spawned() {
    let key = TestKeyPair::fixed(0);
    let (calls, client) = hangs_after_first(&key);
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    // The default spawner (tokio, with the `reqwest` feature) drives the background refresh.
    stale_keys_are_served_while_clerk_hangs(authenticator(client, &clock), &clock, &calls).await;
}

#[tokio::test]
async fn after_the_ttl_a_known_kid_verifies_at_once_while_clerk_hangs_without_a_spawner() {
    let key = TestKeyPair::fixed(0);
    let (calls, client) = hangs_after_first(&key);
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let config = ClerkConfig::builder()
        .secret_key("sk_test_faults")
        .publishable_key(publishable_key_for("clerk.mock.test", false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let auth = Authenticator::builder(config)
        .clock(clock.clone())
        .http_client(client)
        .jwks_policy(policy())
        .without_spawner()
        .build()
        .unwrap();
    stale_keys_are_served_while_clerk_hangs(auth, &clock, &calls).await;
}

#[tokio::test]
async fn the_background_refresh_replaces_the_keys_once_clerk_answers() {
    let old = TestKeyPair::fixed(0);
    let new = TestKeyPair::fixed(1);
    let for_client = (old.clone(), new.clone());
    let (calls, client) = scripted(Arc::new(move |n| {
        if n == 0 {
            jwks_ok(&for_client.0)
        } else {
            jwks_ok(&for_client.1)
        }
    }));
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let auth = Authenticator::builder(
        ClerkConfig::builder()
            .secret_key("sk_test_faults")
            .publishable_key(publishable_key_for("clerk.mock.test", false))
            .frontend_host(DEFAULT_AUTHORIZED_PARTY)
            .build()
            .unwrap(),
    )
    .clock(clock.clone())
    .http_client(client)
    .jwks_policy(policy())
    .without_spawner()
    .build()
    .unwrap();
    auth.verify(&token(&old, &clock, "user_a")).await.unwrap();
    clock.advance(policy().ttl + Duration::from_secs(1));
    // Served from the held keys; the refresh completes in the same poll (it never waits).
    auth.verify(&token(&old, &clock, "user_b")).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The new key set is in place: the new kid verifies without another fetch.
    auth.verify(&token(&new, &clock, "user_c")).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Answers the first JWKS request with `key`, every later one 500 until `healthy` is set,
/// then `both` keys.
fn fails_after_first(
    key: &TestKeyPair,
    both: [&TestKeyPair; 2],
    healthy: Arc<std::sync::atomic::AtomicBool>,
) -> (Arc<AtomicUsize>, impl clerk_core::HttpClient) {
    let key = key.clone();
    let body = serde_json::to_vec(&jwks(&both)).unwrap();
    scripted(Arc::new(move |n| {
        if n == 0 {
            jwks_ok(&key)
        } else if healthy.load(Ordering::SeqCst) {
            let body = body.clone();
            async move { Ok(http::Response::builder().status(200).body(body).unwrap()) }.boxed()
        } else {
            async {
                Ok(http::Response::builder()
                    .status(500)
                    .body(b"{}".to_vec())
                    .unwrap())
            }
            .boxed()
        }
    }))
}

// Found by the fault campaign (bench/faults, jwks-500): Clerk rotates keys while its JWKS
// endpoint fails. A token signed with the new key is not a bad token: the key set that would
// hold its kid could not be loaded. It must be an infrastructure failure (503
// `jwk-failed-to-load`, retry later), not 401 `jwk-kid-mismatch` (which tells the client its
// token is invalid), both on the refresh that failed and within the refresh interval after it.
#[tokio::test]
async fn an_unknown_kid_while_the_jwks_fails_is_unavailable_not_a_bad_token() {
    let (old, new) = (TestKeyPair::fixed(0), TestKeyPair::fixed(1));
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (calls, client) = fails_after_first(&old, [&old, &new], Arc::clone(&healthy));
    let clock = ManualClock::at(UnixTime::from_secs(T0));
    let auth = authenticator(client, &clock);
    auth.verify(&token(&old, &clock, "user_warm"))
        .await
        .unwrap();
    clock.advance(policy().min_refresh_interval);

    // The refresh this kid triggers fails.
    let err = auth
        .verify(&token(&new, &clock, "user_new"))
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(err.is_unavailable(), "refresh failed: {err:?}");
    assert_eq!(err.reason(), clerk_core::Reason::JwkFailedToLoad);
    // Within the refresh interval (no new fetch), still unavailable, not a kid mismatch.
    clock.advance(Duration::from_secs(1));
    let err = auth
        .verify(&token(&new, &clock, "user_new2"))
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "rate-limited: no fetch");
    assert!(err.is_unavailable(), "last refresh failed: {err:?}");
    // Known keys keep working meanwhile.
    auth.verify(&token(&old, &clock, "user_old")).await.unwrap();

    // Clerk recovers: after the interval the new kid verifies.
    healthy.store(true, Ordering::SeqCst);
    clock.advance(policy().min_refresh_interval);
    let ok = auth
        .verify(&token(&new, &clock, "user_new3"))
        .await
        .unwrap();
    assert_eq!(ok.user_id, "user_new3");
    // A kid Clerk's (healthy) key set really lacks is still a mismatch (401).
    clock.advance(policy().min_refresh_interval);
    let stranger = TestKeyPair::fixed(2);
    let err = auth
        .verify(&token(&stranger, &clock, "user_x"))
        .await
        .unwrap_err();
    assert!(!err.is_unavailable());
    assert_eq!(err.reason(), clerk_core::Reason::JwkKidMismatch);
}
