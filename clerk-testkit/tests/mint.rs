//! Tests of `clerk_testkit::mint`: minted Clerk session tokens, overrides, attack helpers, publishable keys.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use clerk_core::time::UnixTime;
use clerk_testkit::keys::{Alg, TestKeyPair};
use clerk_testkit::mint::{
    decode_unverified, encode_parts, encode_raw_parts, publishable_key_for,
    publishable_key_padded_for, ClaimsVersion, OrgV2, TokenBuilder, DEFAULT_AUTHORIZED_PARTY,
    DEFAULT_ISSUER, DEFAULT_SESSION_ID, DEFAULT_USER_ID,
};
use clerk_testkit::ManualClock;
use hmac::{Hmac, Mac};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde_json::json;
use sha2::{Digest, Sha256, Sha384};

const NOW: i64 = 1_700_000_000;

fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

fn rs256_verifies(key: &TestKeyPair, token: &str) -> bool {
    let decoded = decode_unverified(token).unwrap();
    let public = RsaPublicKey::from_public_key_der(&key.public_key_der()).unwrap();
    public
        .verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(decoded.signing_input.as_bytes()),
            &decoded.signature,
        )
        .is_ok()
}

#[test]
fn v2_token_parts_decode_to_what_was_set() {
    let key = TestKeyPair::fixed(0);
    let token = TokenBuilder::v2(&key)
        .issuer("https://clerk.example.test")
        .subject("user_1")
        .session_id("sess_1")
        .authorized_party("http://localhost:3000")
        .issued_at(now())
        .expires_in(Duration::from_secs(60))
        .org_v2(OrgV2 {
            id: "org_1",
            slug: "acme",
            role: "admin",
            permissions: vec!["read", "manage"],
            feature_permission_masks: vec!["3", "340282366920938463463374607431768211455"],
        })
        .features("o:reports,o:dashboard")
        .plan("o:pro")
        .factor_verification_age(7, -1)
        .session_status("active")
        .claim("any", json!({"nested": [1, 2]}))
        .sign();

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    for part in &parts {
        assert!(!part.contains('='), "base64url without padding");
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "JWT", "kid": "ins_testkit_fixed_0"})
    );
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims,
        json!({
            "iss": "https://clerk.example.test",
            "sub": "user_1",
            "sid": "sess_1",
            "azp": "http://localhost:3000",
            "iat": NOW,
            "nbf": NOW - 10,
            "exp": NOW + 60,
            "v": 2,
            "o": {
                "id": "org_1",
                "slg": "acme",
                "rol": "admin",
                "per": "read,manage",
                "fpm": "3,340282366920938463463374607431768211455",
            },
            "fea": "o:reports,o:dashboard",
            "pla": "o:pro",
            "fva": [7, -1],
            "sts": "active",
            "any": {"nested": [1, 2]},
        })
    );
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 256);
    assert!(rs256_verifies(&key, &token));
}

#[test]
fn defaults_follow_clerk() {
    let key = TestKeyPair::fixed(1);
    let builder = TokenBuilder::v2(&key).issued_at(now());
    let claims = builder.claims_json();
    assert_eq!(claims["iss"], DEFAULT_ISSUER);
    assert_eq!(claims["sub"], DEFAULT_USER_ID);
    assert_eq!(claims["sid"], DEFAULT_SESSION_ID);
    assert_eq!(claims["azp"], DEFAULT_AUTHORIZED_PARTY);
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["nbf"], NOW - 10);
    assert_eq!(claims["exp"], NOW + 60);
    assert_eq!(claims["v"], 2);
    assert!(claims.get("sts").is_none());
    assert!(claims.get("o").is_none());
    assert_eq!(claims.as_object().unwrap().len(), 8);
    assert_eq!(
        builder.header_json(),
        json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()})
    );
    let decoded = decode_unverified(&builder.sign()).unwrap();
    assert_eq!(decoded.claims, claims);
}

#[test]
fn v1_token_has_no_version_claim_and_flat_org_claims() {
    let key = TestKeyPair::fixed(0);
    let token = TokenBuilder::v1(&key)
        .issued_at(now())
        .org_v1(
            "org_1",
            "acme",
            "org:admin",
            ["org:reports:read", "org:sys_memberships:manage"],
        )
        .sign();
    let claims = decode_unverified(&token).unwrap().claims;
    assert!(claims.get("v").is_none());
    assert!(claims.get("o").is_none());
    assert_eq!(claims["org_id"], "org_1");
    assert_eq!(claims["org_slug"], "acme");
    assert_eq!(claims["org_role"], "org:admin");
    assert_eq!(
        claims["org_permissions"],
        json!(["org:reports:read", "org:sys_memberships:manage"])
    );
    assert_eq!(claims["exp"], NOW + 60);
    assert!(rs256_verifies(&key, &token));
    assert_eq!(
        TokenBuilder::new(&key, ClaimsVersion::V1)
            .issued_at(now())
            .claims_json(),
        TokenBuilder::v1(&key).issued_at(now()).claims_json()
    );
}

#[test]
fn org_v2_with_owned_strings_and_no_permissions_omits_per_and_fpm() {
    let org = OrgV2 {
        id: String::from("org_2"),
        slug: String::from("beta"),
        role: String::from("member"),
        permissions: Vec::new(),
        feature_permission_masks: Vec::new(),
    };
    assert_eq!(
        org.to_claim(),
        json!({"id": "org_2", "slg": "beta", "rol": "member"})
    );
}

#[test]
fn claim_overrides_and_removals_work() {
    let key = TestKeyPair::fixed(0);
    let claims = TokenBuilder::v2(&key)
        .issued_at(now())
        .claim("exp", "not-a-number")
        .claim("sub", json!(42))
        .remove_claim("azp")
        .remove_claim("nbf")
        .remove_claim("v")
        .claim("extra", true)
        .claims_json();
    assert_eq!(claims["exp"], "not-a-number");
    assert_eq!(claims["sub"], 42);
    assert_eq!(claims["extra"], true);
    for gone in ["azp", "nbf", "v"] {
        assert!(claims.get(gone).is_none(), "{gone} should be removed");
    }
    assert_eq!(claims["iat"], NOW);
}

#[test]
fn the_last_call_for_a_field_wins() {
    let key = TestKeyPair::fixed(0);
    let claims = TokenBuilder::v2(&key)
        .issued_at(now())
        .remove_claim("exp")
        .claim("exp", 5)
        .claim("sid", "sess_a")
        .remove_claim("sid")
        .claims_json();
    assert_eq!(claims["exp"], 5);
    assert!(claims.get("sid").is_none());

    let header = TokenBuilder::v2(&key)
        .remove_header("kid")
        .header("kid", "back")
        .header("typ", "at+jwt")
        .remove_header("typ")
        .header_json();
    assert_eq!(header, json!({"alg": "RS256", "kid": "back"}));
}

#[test]
fn time_helpers_set_iat_nbf_exp() {
    let key = TestKeyPair::fixed(0);
    let claims = TokenBuilder::v2(&key)
        .issued_at(now())
        .expires_in(Duration::from_secs(3600))
        .not_before_leeway(Duration::ZERO)
        .claims_json();
    assert_eq!(claims["exp"], NOW + 3600);
    assert_eq!(claims["nbf"], NOW);

    let claims = TokenBuilder::v2(&key)
        .issued_at(now())
        .expires_at(UnixTime::from_secs(NOW - 1))
        .not_before(UnixTime::from_secs(NOW + 100))
        .claims_json();
    assert_eq!(claims["exp"], NOW - 1);
    assert_eq!(claims["nbf"], NOW + 100);

    let clock = ManualClock::at(UnixTime::from_millis(NOW * 1000 + 999));
    let claims = TokenBuilder::v2(&key).issued_now_by(&clock).claims_json();
    assert_eq!(claims["iat"], NOW, "seconds, rounded down");
}

#[test]
fn header_overrides_and_removals_work() {
    let key = TestKeyPair::fixed(0);
    let token = TokenBuilder::v2(&key)
        .header("alg", json!("HS256"))
        .remove_header("kid")
        .header("cat", "cl_B7d4PD111AAA")
        .sign();
    let header = decode_unverified(&token).unwrap().header;
    assert_eq!(
        header,
        json!({"alg": "HS256", "typ": "JWT", "cat": "cl_B7d4PD111AAA"})
    );
    // Still an RS256 signature by the key: only the header lies.
    assert!(rs256_verifies(&key, &token));

    let header = TokenBuilder::v2(&key).kid("ins_other").header_json();
    assert_eq!(header["kid"], "ins_other");
}

#[test]
fn other_rsa_algorithms_set_the_header_and_the_hash() {
    let key = TestKeyPair::fixed(2);
    let token = TokenBuilder::v2(&key).alg(Alg::Rs384).sign();
    let decoded = decode_unverified(&token).unwrap();
    assert_eq!(decoded.header["alg"], "RS384");
    key.rsa_public_key()
        .verify(
            Pkcs1v15Sign::new::<Sha384>(),
            &Sha384::digest(decoded.signing_input.as_bytes()),
            &decoded.signature,
        )
        .unwrap();
    assert!(!rs256_verifies(&key, &token));
}

#[test]
fn sign_with_another_key_keeps_the_kid_and_fails_verification() {
    let trusted = TestKeyPair::fixed(0);
    let attacker = TestKeyPair::fixed(1);
    let token = TokenBuilder::v2(&trusted).sign_with(&attacker);
    let decoded = decode_unverified(&token).unwrap();
    assert_eq!(decoded.header["kid"], trusted.kid());
    assert!(!rs256_verifies(&trusted, &token));
    assert!(rs256_verifies(&attacker, &token));
}

#[test]
fn hs256_attack_token_is_an_hmac_over_header_and_payload() {
    let key = TestKeyPair::fixed(0);
    let secret = key.public_key_pem();
    let token = TokenBuilder::v2(&key)
        .issued_at(now())
        .sign_with_hs256(secret.as_bytes());
    let decoded = decode_unverified(&token).unwrap();
    assert_eq!(decoded.header["alg"], "HS256");
    assert_eq!(decoded.header["kid"], key.kid());
    assert_eq!(decoded.claims["iat"], NOW);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(decoded.signing_input.as_bytes());
    mac.verify_slice(&decoded.signature).unwrap();
    assert!(!rs256_verifies(&key, &token));

    // An explicit alg still wins (HMAC signature under an RS256 header).
    let token = TokenBuilder::v2(&key)
        .header("alg", "RS256")
        .sign_with_hs256(b"k");
    assert_eq!(decode_unverified(&token).unwrap().header["alg"], "RS256");
}

#[test]
fn unsigned_token_has_alg_none_and_an_empty_signature() {
    let key = TestKeyPair::fixed(0);
    let token = TokenBuilder::v2(&key).sign_unsigned();
    assert!(token.ends_with('.'));
    assert_eq!(token.matches('.').count(), 2);
    let decoded = decode_unverified(&token).unwrap();
    assert_eq!(decoded.header["alg"], "none");
    assert!(decoded.signature.is_empty());
}

#[test]
fn raw_signature_is_used_verbatim() {
    let key = TestKeyPair::fixed(0);
    let token = TokenBuilder::v2(&key).sign_with_raw_signature(&[0xde, 0xad, 0xbe, 0xef]);
    let decoded = decode_unverified(&token).unwrap();
    assert_eq!(decoded.signature, [0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(decoded.header["alg"], "RS256");
    // The same header and payload as a real signature would cover.
    let real = TokenBuilder::v2(&key).issued_at(now()).sign();
    let fake = TokenBuilder::v2(&key)
        .issued_at(now())
        .sign_with_raw_signature(b"x");
    assert_eq!(
        decode_unverified(&real).unwrap().signing_input,
        decode_unverified(&fake).unwrap().signing_input
    );
}

#[test]
fn encode_parts_builds_arbitrary_tokens() {
    let token = encode_parts(&json!({"alg": "none"}), &json!({"sub": "x"}), b"sig");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
        br#"{"alg":"none"}"#
    );
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[1]).unwrap(), br#"{"sub":"x"}"#);
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), b"sig");

    let raw = encode_raw_parts(b"\xff\xfe", b"not json", b"");
    assert!(raw.ends_with('.'));
    assert!(decode_unverified(&raw).is_err());
    assert!(decode_unverified("a.b").is_err());
    assert!(decode_unverified("a.b.c.d").is_err());
}

#[test]
fn publishable_keys_encode_the_frontend_host() {
    assert_eq!(
        publishable_key_for("clerk.inspired.puma-74.lcl.dev", false),
        "pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA"
    );
    assert_eq!(
        publishable_key_for("clerk.inspired.puma-74.lcl.dev", true),
        "pk_live_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA"
    );
    let padded = publishable_key_padded_for("clerk.inspired.puma-74.lcl.dev", false);
    assert_eq!(
        padded,
        "pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA=="
    );
    let decoded = STANDARD
        .decode(padded.strip_prefix("pk_test_").unwrap())
        .unwrap();
    assert_eq!(decoded, b"clerk.inspired.puma-74.lcl.dev$");
}

#[test]
fn builders_are_reusable_and_debuggable() {
    let key = TestKeyPair::fixed(0);
    let base = TokenBuilder::v2(&key).issued_at(now());
    let a = base.clone().subject("user_a").sign();
    let b = base.clone().subject("user_b").sign();
    assert_ne!(a, b);
    assert_eq!(base.sign(), base.sign(), "deterministic for a fixed iat");
    assert_eq!(base.key().kid(), key.kid());
    let debug = format!("{base:?}");
    assert!(debug.contains("TokenBuilder") && debug.contains("user_test_1"));
}
