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
