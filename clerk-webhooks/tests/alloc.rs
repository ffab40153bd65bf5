//! "No allocation proportional to the body": verification of a 64 KiB body, measured with a
//! counting global allocator.
//!
//! The workspace forbids `unsafe_code` everywhere (and `forbid` cannot be relaxed per file),
//! so the counting allocator is `stats_alloc`'s instrumented `System` allocator rather than
//! an `unsafe impl GlobalAlloc` of our own. This file holds a single test so that no other
//! test thread allocates while a region is measured.

use std::alloc::System;

use clerk_core::time::UnixTime;
use clerk_webhooks::{VerifyError, Webhook};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TS: i64 = 1_700_000_000;
const BODY_LEN: usize = 64 * 1024;

#[test]
fn verify_allocates_nothing_proportional_to_the_body() {
    let webhook =
        Webhook::from_secrets([SECRET, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]).expect("secrets");
    let body: Vec<u8> = (0..BODY_LEN).map(|i| b'a' + (i % 26) as u8).collect();
    let headers = webhook.sign_headers("msg_alloc", TS, &body);
    let mut bad_headers = headers.clone();
    bad_headers.insert(
        "svix-signature",
        http::HeaderValue::from_static("v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU= v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ="),
    );
    let now = UnixTime::from_secs(TS);
    // Warm up (lazy CPU feature detection and the like).
    assert!(webhook.verify_at(&headers, &body, now).is_ok());

    let region = Region::new(GLOBAL);
    let ok = webhook.verify_at(&headers, &body, now);
    let ok_stats = region.change();
    assert!(ok.is_ok());

    let region = Region::new(GLOBAL);
    // Two secrets × two candidates: the whole body hashed twice, still nothing allocated.
    let bad = webhook.verify_at(&bad_headers, &body, now);
    let bad_stats = region.change();
    assert_eq!(bad, Err(VerifyError::NoMatchingSignature));

    // The instrument works: the `svix` crate formats `{id}.{ts}.{body}` into a new String.
    let svix = svix::webhooks::Webhook::new(SECRET).expect("svix secret");
    let region = Region::new(GLOBAL);
    let _ = svix.sign("msg_alloc", TS, &body);
    let svix_stats = region.change();

    println!(
        "64 KiB verify: ok {} bytes in {} allocations; mismatch {} bytes in {} allocations; svix sign {} bytes",
        ok_stats.bytes_allocated, ok_stats.allocations, bad_stats.bytes_allocated, bad_stats.allocations, svix_stats.bytes_allocated
    );
    assert!(
        svix_stats.bytes_allocated >= BODY_LEN,
        "the counting allocator counts"
    );
    assert!(
        ok_stats.bytes_allocated < 4096,
        "verify allocated {} bytes",
        ok_stats.bytes_allocated
    );
    assert!(
        bad_stats.bytes_allocated < 4096,
        "failed verify allocated {} bytes",
        bad_stats.bytes_allocated
    );
}
