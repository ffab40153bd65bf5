//! Runs one verification path N times, for instruction counting under callgrind, which is
//! repeatable on a shared, noisy machine where wall-clock benchmarks are not:
//!
//! ```sh
//! cargo build --release -p clerk-core --example verify_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/verify_cost bare 1000
//! ```
//!
//! Modes: `setup` (everything but the loop, to subtract), `bare` (aws-lc-rs RSA verify with a
//! pre-parsed key: our backend), `ring` (ring's RSA verify, which parses the key each call),
//! `full` (the authenticator with warm keys, token cache off), `hit` (a verified-token cache hit).
#![allow(clippy::unwrap_used, missing_docs)]

use base64::Engine as _;
use clerk_core::time::UnixTime;
use clerk_core::{Authenticator, ClerkConfig};
use clerk_testkit::keys::TestKeyPair;
use clerk_testkit::mint::{publishable_key_for, TokenBuilder, DEFAULT_AUTHORIZED_PARTY};
use clerk_testkit::offline::{jwks_client, run_ready};
use clerk_testkit::ManualClock;
use std::hint::black_box;

const NOW: i64 = 1_750_000_000;

fn authenticator(key: &TestKeyPair, cache: usize) -> Authenticator {
    let config = ClerkConfig::builder()
        .secret_key("sk_test_bench")
        .publishable_key(publishable_key_for("clerk.mock.test", false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    Authenticator::builder(config)
        .clock(ManualClock::at(UnixTime::from_secs(NOW)))
        .token_cache_capacity(cache)
        .http_client(jwks_client(&[key]))
        .build()
        .unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "full".into());
    let iterations: usize = args.next().map_or(1000, |n| n.parse().unwrap());
    let key = TestKeyPair::fixed(0);
    let token = TokenBuilder::realistic_v2(&key)
        .issued_at(UnixTime::from_secs(NOW))
        .sign();
    let (input, sig_b64) = token.rsplit_once('.').unwrap();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig_b64)
        .unwrap();
    let jwk = key.public_jwk();
    let decode = |f: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[f].as_str().unwrap())
            .unwrap()
    };
    let (n, e) = (decode("n"), decode("e"));
    let parsed = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        key.public_key_der(),
    )
    .unwrap();
    let uncached = authenticator(&key, 0);
    let cached = authenticator(&key, 64);
    run_ready(uncached.verify(&token)).unwrap();
    run_ready(cached.verify(&token)).unwrap();

    for _ in 0..iterations {
        match mode.as_str() {
            "setup" => {}
            "bare" => parsed
                .verify_sig(black_box(input.as_bytes()), black_box(&signature))
                .unwrap(),
            "ring" => ring::signature::RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                black_box(input.as_bytes()),
                black_box(&signature),
            )
            .unwrap(),
            "full" => drop(black_box(
                run_ready(uncached.verify(black_box(&token))).unwrap(),
            )),
            "hit" => drop(black_box(
                run_ready(cached.verify(black_box(&token))).unwrap(),
            )),
            other => panic!("unknown mode {other}"),
        }
    }
}
