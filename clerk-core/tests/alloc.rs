//! The cached verify path allocates nothing: the hit hands out a clone of an `Arc<Auth>`; nor
//! does the adapters' whole warm step (header read, `decide_now` or `decide_headers_now`,
//! `stateless_now`).
//!
//! Counted with a global allocator wrapper, so this file holds a single test (no other test
//! thread allocating at the same time).
#![allow(clippy::unwrap_used, unsafe_code)]

use clerk_core::extract::find_token;
use clerk_core::flow::RequestAuth;
use clerk_core::time::UnixTime;
use clerk_core::{Authenticator, ClerkConfig};
use clerk_testkit::keys::TestKeyPair;
use clerk_testkit::mint::{publishable_key_for, TokenBuilder, DEFAULT_AUTHORIZED_PARTY};
use clerk_testkit::offline::{jwks_client, run_ready};
use clerk_testkit::ManualClock;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn cache_hits_allocate_nothing_while_misses_do() {
    let key = TestKeyPair::fixed(0);
    let config = ClerkConfig::builder()
        .secret_key("sk_test_alloc")
        .publishable_key(publishable_key_for("clerk.mock.test", false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .clock(ManualClock::at(UnixTime::from_secs(1_750_000_000)))
        .http_client(jwks_client(&[&key]))
        .build()
        .unwrap();
    let token = TokenBuilder::v2(&key)
        .issuer("https://clerk.mock.test")
        .issued_at(UnixTime::from_secs(1_750_000_000))
        .sign();
    run_ready(authenticator.verify(&token)).unwrap();

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..1000 {
        let auth = run_ready(authenticator.verify(&token)).unwrap();
        assert_eq!(auth.expires_at, UnixTime::from_secs(1_750_000_060));
    }
    let during_hits = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert_eq!(during_hits, 0, "cache hits allocated {during_hits} times");

    // What an adapter runs per warm request, without a future: nothing allocated either
    // (the decision is held inline in the state, not in a fresh `Arc`).
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..1000 {
        let found = find_token(&headers, false);
        let decision = authenticator.decide_now(found).expect("decided at once");
        let _ = RequestAuth::stateless_now(decision, None);
        let decision = authenticator
            .decide_headers_now(&headers)
            .expect("decided at once");
        let state = RequestAuth::stateless_now(decision, None).expect("no mirror to ask");
        assert_eq!(
            state.auth().unwrap().expires_at,
            UnixTime::from_secs(1_750_000_060)
        );
    }
    let during_warm = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert_eq!(
        during_warm, 0,
        "the warm step allocated {during_warm} times"
    );

    // The counter works: a miss (another token) does allocate.
    let other = TokenBuilder::v2(&key)
        .issuer("https://clerk.mock.test")
        .subject("user_other")
        .issued_at(UnixTime::from_secs(1_750_000_000))
        .sign();
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    run_ready(authenticator.verify(&other)).unwrap();
    assert!(ALLOCATIONS.load(Ordering::SeqCst) > before);
}
