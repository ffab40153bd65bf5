//! Our `Webhook::verify_at` against `svix::webhooks::Webhook::verify`, same secret, same
//! message, on 2 KiB and 64 KiB bodies.
//!
//! Run: `cargo bench -p clerk-webhooks --bench verify`. Medians land in
//! `target/criterion/verify/<impl>/<size>/new/estimates.json`.
#![allow(missing_docs)] // criterion's macros generate undocumented public items.
#![allow(clippy::disallowed_methods)] // svix verifies against the wall clock, so we sign with it.

use std::hint::black_box;

use clerk_core::time::UnixTime;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_2aBenchmarkMessageId00000";

/// A JSON body of exactly `len` bytes (svix insists on UTF-8).
fn body(len: usize) -> Vec<u8> {
    let prefix = br#"{"type":"user.updated","object":"event","data":{"pad":""#;
    let suffix = br#""}}"#;
    let mut body = prefix.to_vec();
    body.extend((0..len - prefix.len() - suffix.len()).map(|i| b'a' + (i % 26) as u8));
    body.extend_from_slice(suffix);
    assert_eq!(body.len(), len);
    body
}

fn verify(c: &mut Criterion) {
    let ours = clerk_webhooks::Webhook::new(SECRET).expect("secret");
    let theirs = svix::webhooks::Webhook::new(SECRET).expect("secret");
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let now = UnixTime::from_secs(now_secs);

    let mut group = c.benchmark_group("verify");
    for (label, len) in [("2KiB", 2 * 1024), ("64KiB", 64 * 1024)] {
        let body = body(len);
        let headers = ours.sign_headers(MSG_ID, now_secs, &body);
        // Both accept the very same delivery before anything is timed.
        assert!(ours.verify_at(&headers, &body, now).is_ok());
        assert!(theirs.verify(&body, &headers).is_ok());

        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(
            BenchmarkId::new("clerk-webhooks", label),
            &body,
            |b, body| {
                b.iter(|| {
                    ours.verify_at(black_box(&headers), black_box(body), now)
                        .is_ok()
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("svix", label), &body, |b, body| {
            b.iter(|| theirs.verify(black_box(body), black_box(&headers)).is_ok())
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
