//! Session-token verification cost, all in one run so the ratios are fair on a noisy machine:
//!
//! - `rsa_bare/aws_lc_rs` — one RSA-2048 PKCS#1 v1.5 SHA-256 verification with `aws-lc-rs`
//!   and a pre-parsed key (our backend, baseline (a));
//! - `rsa_bare/ring` — the same with `ring` (its API parses the key on every call);
//! - `rsa_bare/rsa_crate` — the same with RustCrypto's pure-Rust `rsa` crate, key pre-parsed;
//! - `verify_full/warm_keys` — our whole verify of a realistic v2 token, keys held, token
//!   cache off (parse, alg, kid lookup, signature, claims, Auth);
//! - `verify_full/cache_hit` — the same token served from the verified-token cache;
//! - `verify_full/warm_request` — what an adapter runs per warm request: the `Authorization`
//!   header read (`find_token`), `Authenticator::decide_now` (a cache hit) and
//!   `RequestAuth::stateless_now`, no future.
//!
//! Figures go to `BENCHMARKS.md`.
#![allow(missing_docs, clippy::unwrap_used)]

use base64::Engine as _;
use clerk_core::time::UnixTime;
use clerk_core::{Authenticator, ClerkConfig};
use clerk_testkit::keys::TestKeyPair;
use clerk_testkit::mint::{publishable_key_for, TokenBuilder, DEFAULT_AUTHORIZED_PARTY};
use clerk_testkit::offline::{jwks_client, run_ready};
use clerk_testkit::ManualClock;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rsa::pkcs1v15::{Signature, VerifyingKey as RsaVerifyingKey};
use rsa::signature::Verifier;

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

fn bench(c: &mut Criterion) {
    let key = TestKeyPair::fixed(0);
    let token = TokenBuilder::realistic_v2(&key)
        .issued_at(UnixTime::from_secs(NOW))
        .sign();
    let (signing_input, signature_b64) = token.rsplit_once('.').unwrap();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature_b64)
        .unwrap();

    let jwk = key.public_jwk();
    let decode = |field: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[field].as_str().unwrap())
            .unwrap()
    };
    let (n, e) = (decode("n"), decode("e"));

    let mut bare = c.benchmark_group("rsa_bare");
    let spki = key.public_key_der();
    let parsed = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        &spki,
    )
    .unwrap();
    bare.bench_function("aws_lc_rs", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap()
        });
    });
    bare.bench_function("ring", |b| {
        b.iter(|| {
            let components = ring::signature::RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            };
            components
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    black_box(signing_input.as_bytes()),
                    black_box(&signature),
                )
                .unwrap();
        });
    });
    let rsa_key = RsaVerifyingKey::<rsa::sha2::Sha256>::new(key.rsa_public_key().clone());
    let rsa_signature = Signature::try_from(signature.as_slice()).unwrap();
    bare.bench_function("rsa_crate", |b| {
        b.iter(|| {
            rsa_key
                .verify(
                    black_box(signing_input.as_bytes()),
                    black_box(&rsa_signature),
                )
                .unwrap()
        });
    });
    bare.finish();

    let mut pieces = c.benchmark_group("verify_pieces");
    let vkey = clerk_core::keys::VerifyingKey::from_pem(&key.public_key_pem()).unwrap();
    let options = clerk_core::verify::VerifyOptions::new(
        "https://clerk.mock.test",
        [DEFAULT_AUTHORIZED_PARTY],
    );
    let now = UnixTime::from_secs(NOW);
    pieces.bench_function("pure_verify", |b| {
        b.iter(|| clerk_core::verify::verify(black_box(&token), &vkey, &options, now).unwrap());
    });
    pieces.bench_function("parse_only", |b| {
        b.iter(|| {
            clerk_core::verify::ParsedToken::parse(black_box(&token), &options.algorithms).unwrap()
        });
    });
    pieces.bench_function("payload_decode", |b| {
        let parsed = clerk_core::verify::ParsedToken::parse(&token, &options.algorithms).unwrap();
        b.iter(|| black_box(&parsed).decode_payload().unwrap());
    });
    pieces.finish();

    let mut full = c.benchmark_group("verify_full");
    let uncached = authenticator(&key, 0);
    // Warm the keys: the first verify fetches the JWKS through the closure client.
    run_ready(uncached.verify(&token)).unwrap();
    full.bench_function("warm_keys", |b| {
        b.iter(|| run_ready(uncached.verify(black_box(&token))).unwrap())
    });
    let cached = authenticator(&key, 1024);
    run_ready(cached.verify(&token)).unwrap();
    full.bench_function("cache_hit", |b| {
        b.iter(|| run_ready(cached.verify(black_box(&token))).unwrap())
    });
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    full.bench_function("warm_request", |b| {
        b.iter(|| {
            let found = clerk_core::extract::find_token(black_box(&headers), false);
            let decision = cached.decide_now(found).unwrap();
            clerk_core::flow::RequestAuth::stateless_now(decision, None).unwrap()
        })
    });
    full.finish();
    eprintln!("token length: {} bytes", token.len());
}

criterion_group!(benches, bench);
criterion_main!(benches);
