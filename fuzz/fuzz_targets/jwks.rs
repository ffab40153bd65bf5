//! JWKS documents (`GET /v1/jwks` bodies) and PEM keys: the JSON, each JWK's `kty`/`use`/`alg`
//! and base64url `n`/`e`, the modulus size check and the DER the key is rebuilt into.
//!
//! Input: the first byte picks the response status class (so error bodies are parsed too),
//! the rest is the body; the same bytes are also tried as a PEM key.
#![no_main]

use clerk_core::jwks::{parse_jwks_response, Jwks, JwksError, KeySet};
use clerk_core::keys::VerifyingKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let status = match selector % 8 {
        0 => 401,
        1 => 403,
        2 => 500,
        3 => 404,
        _ => 200,
    };
    let body = body.to_vec();
    let response = http::Response::builder()
        .status(status)
        .body(body.clone())
        .unwrap_or_default();
    match parse_jwks_response(&response) {
        Ok(keys) => {
            assert_eq!(status, 200);
            assert!(!keys.is_empty());
            let jwks: Jwks = serde_json::from_slice(&body).expect("a parsed JWKS is a JWKS");
            // Every usable key has a kid, came from an RSA signing JWK, is 2048–8192 bits and
            // is reachable by that kid.
            for kid in keys.kids() {
                let key = keys.get(kid).expect("listed kid");
                assert!(keys.contains(kid));
                assert!(
                    (2048..=8192).contains(&key.modulus_bits()),
                    "{} bits",
                    key.modulus_bits()
                );
                assert_eq!(key.kid(), Some(kid));
                assert!(jwks
                    .keys
                    .iter()
                    .any(|k| k.kid.as_deref() == Some(kid) && k.kty == "RSA"));
            }
            // The document round-trips through serde and gives the same key set.
            let again: Jwks =
                serde_json::from_slice(&serde_json::to_vec(&jwks).expect("serialize"))
                    .expect("reparse");
            assert_eq!(again, jwks);
            let (same, _) = KeySet::from_jwks(&again);
            assert_eq!(same.len(), keys.len());
            // A JWK rebuilt from the key gives the same key.
            for jwk in &jwks.keys {
                if let Ok(key) = VerifyingKey::from_jwk(jwk) {
                    assert_eq!(VerifyingKey::from_jwk(&jwk.clone()).as_ref(), Ok(&key));
                }
            }
        }
        Err(JwksError::Unauthorized { status: s, .. }) => assert!(s == 401 || s == 403),
        Err(JwksError::Status { status: s, .. }) => assert!(s != 200 && s != 401 && s != 403),
        Err(err) => {
            assert_eq!(status, 200, "{err}");
            let _ = err.to_string();
        }
    }
    // The same bytes as a PEM key (`CLERK_JWT_KEY`).
    if let Ok(text) = std::str::from_utf8(body.as_slice()) {
        if let Ok(key) = VerifyingKey::from_pem(text) {
            assert!((2048..=8192).contains(&key.modulus_bits()));
            let _ = format!("{key:?}");
        }
    }
});
