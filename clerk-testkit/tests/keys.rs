//! Tests of `clerk_testkit::keys`: fixed and generated RSA key pairs, JWKs, PEM/DER, signatures.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clerk_testkit::keys::{jwks, jwks_of, Alg, TestKeyPair, FIXED_KEY_COUNT};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

#[test]
fn fixed_keys_are_stable_across_calls() {
    for i in 0..FIXED_KEY_COUNT {
        let a = TestKeyPair::fixed(i);
        let b = TestKeyPair::fixed(i);
        assert_eq!(a.kid(), format!("ins_testkit_fixed_{i}"));
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.public_jwk(), b.public_jwk());
        assert_eq!(a.public_key_pem(), b.public_key_pem());
        assert_eq!(a, b);
    }
}

#[test]
fn fixed_keys_match_the_committed_pem_files() {
    for i in 0..FIXED_KEY_COUNT {
        let path = format!("{}/keys/fixed-{i}.pem", env!("CARGO_MANIFEST_DIR"));
        let pem = std::fs::read_to_string(path).unwrap();
        let loaded = TestKeyPair::from_pkcs8_pem(&pem, "x").unwrap();
        assert_eq!(loaded.modulus_b64(), TestKeyPair::fixed(i).modulus_b64());
    }
}

#[test]
fn fixed_keys_are_distinct() {
    let all = TestKeyPair::all_fixed();
    assert_eq!(all.len(), FIXED_KEY_COUNT);
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a.kid(), b.kid());
            assert_ne!(a.modulus_b64(), b.modulus_b64());
        }
    }
}

#[test]
#[should_panic(expected = "fixed keys exist")]
fn fixed_key_out_of_range_panics_with_a_message() {
    let _ = TestKeyPair::fixed(FIXED_KEY_COUNT);
}

#[test]
fn public_jwk_has_the_clerk_shape() {
    let key = TestKeyPair::fixed(0);
    let jwk = key.public_jwk();
    let obj = jwk.as_object().unwrap();
    let mut fields: Vec<&str> = obj.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["kid"], key.kid());
    assert_eq!(jwk["e"], "AQAB");
    let n = jwk["n"].as_str().unwrap();
    assert!(!n.contains('=') && !n.contains('+') && !n.contains('/'));
    let n_bytes = URL_SAFE_NO_PAD.decode(n).unwrap();
    assert_eq!(n_bytes.len(), 256, "RSA-2048 modulus");
    assert_eq!(n_bytes, key.rsa_public_key().n().to_bytes_be());
}

#[test]
fn jwks_helpers_list_keys_in_order() {
    let (a, b) = (TestKeyPair::fixed(0), TestKeyPair::fixed(1));
    let doc = jwks(&[&a, &b]);
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], a.kid());
    assert_eq!(keys[1]["kid"], b.kid());
    assert_eq!(doc, jwks_of(&[a, b]));
    assert_eq!(jwks(&[]), serde_json::json!({"keys": []}));
}

#[test]
fn pem_and_der_encode_the_same_public_key() {
    let key = TestKeyPair::fixed(1);
    let pem = key.public_key_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(pem.trim_end().ends_with("-----END PUBLIC KEY-----"));
    let from_pem = RsaPublicKey::from_public_key_pem(&pem).unwrap();
    let from_der = RsaPublicKey::from_public_key_der(&key.public_key_der()).unwrap();
    assert_eq!(from_pem, from_der);
    assert_eq!(&from_pem, key.rsa_public_key());
    assert_eq!(
        from_der.to_public_key_der().unwrap().as_bytes(),
        key.public_key_der()
    );
}

#[test]
fn private_key_pem_round_trips() {
    let key = TestKeyPair::fixed(2);
    let pem = key.private_key_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let again = TestKeyPair::from_pkcs8_pem(&pem, key.kid()).unwrap();
    assert_eq!(again, key);
}

#[test]
fn from_pkcs8_pem_rejects_garbage() {
    let err = TestKeyPair::from_pkcs8_pem("not a key", "k").unwrap_err();
    assert!(err.contains("PKCS#8"), "{err}");
}

fn verify(key: &RsaPublicKey, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
    let result = match alg {
        Alg::Rs256 => key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg), sig),
        Alg::Rs384 => key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(msg), sig),
        Alg::Rs512 => key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(msg), sig),
    };
    result.is_ok()
}

#[test]
fn signatures_verify_for_each_algorithm_and_only_with_the_right_key_and_hash() {
    let key = TestKeyPair::fixed(0);
    let other = TestKeyPair::fixed(1);
    let public = RsaPublicKey::from_public_key_pem(&key.public_key_pem()).unwrap();
    for alg in [Alg::Rs256, Alg::Rs384, Alg::Rs512] {
        let sig = key.sign(alg, b"header.payload");
        assert_eq!(sig.len(), 256);
        assert!(verify(&public, alg, b"header.payload", &sig), "{alg}");
        assert!(!verify(&public, alg, b"header.payloaD", &sig), "{alg}");
        assert!(!verify(
            other.rsa_public_key(),
            alg,
            b"header.payload",
            &sig
        ));
        // Deterministic (PKCS#1 v1.5).
        assert_eq!(sig, key.sign(alg, b"header.payload"));
    }
    let rs256 = key.sign(Alg::Rs256, b"m");
    assert!(!verify(&public, Alg::Rs512, b"m", &rs256));
    assert_eq!(Alg::Rs384.as_str(), "RS384");
    assert_eq!(Alg::default(), Alg::Rs256);
}

#[test]
fn with_kid_shares_the_key_under_another_id() {
    let key = TestKeyPair::fixed(0);
    let renamed = key.with_kid("ins_custom");
    assert_eq!(renamed.kid(), "ins_custom");
    assert_eq!(key.kid(), "ins_testkit_fixed_0");
    assert_eq!(renamed.modulus_b64(), key.modulus_b64());
    assert_eq!(renamed.public_jwk()["kid"], "ins_custom");
    assert_ne!(renamed, key);
}

#[test]
fn debug_does_not_print_key_material() {
    let key = TestKeyPair::fixed(0);
    let debug = format!("{key:?}");
    assert!(debug.contains("ins_testkit_fixed_0"));
    assert!(!debug.contains(&key.modulus_b64()[..20]));
    assert!(debug.len() < 120, "{debug}");
}

#[test]
fn generated_keys_are_fresh_rsa_2048_with_derived_kids() {
    let a = TestKeyPair::generate();
    let b = TestKeyPair::generate();
    assert_ne!(a.modulus_b64(), b.modulus_b64());
    assert_ne!(a.kid(), b.kid());
    assert!(a.kid().starts_with("ins_testkit_"));
    assert_eq!(a.rsa_public_key().size(), 256);
    let clone = a.clone();
    assert_eq!(clone.kid(), a.kid());
    let sig = a.sign(Alg::Rs256, b"m");
    assert!(verify(clone.rsa_public_key(), Alg::Rs256, b"m", &sig));
}
