//! Tests of `clerk_testkit::clock::ManualClock`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use clerk_core::time::{Clock, UnixTime};
use clerk_testkit::ManualClock;

#[test]
fn stands_still_until_moved() {
    let clock = ManualClock::at(UnixTime::from_secs(1_700_000_000));
    assert_eq!(clock.now(), UnixTime::from_secs(1_700_000_000));
    assert_eq!(clock.now(), UnixTime::from_secs(1_700_000_000));
}

#[test]
fn advance_rewind_and_set() {
    let clock = ManualClock::at(UnixTime::from_millis(1_000));
    assert_eq!(
        clock.advance(Duration::from_millis(1_500)),
        UnixTime::from_millis(2_500)
    );
    assert_eq!(clock.now(), UnixTime::from_millis(2_500));
    assert_eq!(
        clock.rewind(Duration::from_secs(1)),
        UnixTime::from_millis(1_500)
    );
    clock.set(UnixTime::from_secs(5));
    assert_eq!(clock.now(), UnixTime::from_secs(5));
    clock.set(UnixTime::EPOCH);
    assert_eq!(clock.now(), UnixTime::EPOCH);
}

#[test]
fn advance_saturates() {
    let clock = ManualClock::at(UnixTime::from_millis(i64::MAX - 10));
    clock.advance(Duration::from_secs(u64::MAX));
    assert_eq!(clock.now(), UnixTime::from_millis(i64::MAX));
}

#[test]
fn clones_share_the_instant_across_threads() {
    let clock = ManualClock::at(UnixTime::EPOCH);
    let handle = clock.clone();
    std::thread::spawn(move || {
        handle.advance(Duration::from_secs(3));
    })
    .join()
    .unwrap();
    assert_eq!(clock.now(), UnixTime::from_secs(3));
}

#[test]
fn usable_as_a_shared_clock_trait_object() {
    let clock = ManualClock::at(UnixTime::from_secs(10));
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    clock.advance(Duration::from_secs(5));
    assert_eq!(shared.now(), UnixTime::from_secs(15));
}

#[test]
fn at_system_now_is_recent() {
    let clock = ManualClock::at_system_now();
    // 2023-01-01 as a sanity floor; no upper bound needed.
    assert!(clock.now() > UnixTime::from_secs(1_672_531_200));
}
