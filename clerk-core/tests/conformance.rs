//! The conformance cases of Clerk's own SDKs, each as its own test, against the pure verifier
//! (and, where "no key lookup" must be shown, the authenticator with a counting HTTP client).
#![allow(clippy::unwrap_used)]

use clerk_core::keys::VerifyingKey;
use clerk_core::time::UnixTime;
use clerk_core::verify::{
    self, IssuerCheck, PartyCheck, VerifyOptions, CATEGORY_JWT_TEMPLATE, CATEGORY_M2M_TOKEN,
    CATEGORY_SESSION_TOKEN,
};
use clerk_core::{Auth, AuthError, Authenticator, ClerkConfig, HttpError, Reason, TokenError};
use clerk_testkit::keys::TestKeyPair;
use clerk_testkit::mint::{
    encode_raw_parts, publishable_key_for, OrgV2, TokenBuilder, DEFAULT_AUTHORIZED_PARTY,
    DEFAULT_ISSUER,
};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const NOW: i64 = 1_750_000_000;

fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

fn key() -> TestKeyPair {
    TestKeyPair::fixed(0)
}

fn verifying_key() -> VerifyingKey {
    VerifyingKey::from_pem(&key().public_key_pem()).unwrap()
}

fn options() -> VerifyOptions {
    VerifyOptions::new(DEFAULT_ISSUER, [DEFAULT_AUTHORIZED_PARTY])
}

fn token() -> TokenBuilder {
    TokenBuilder::v2(&key()).issued_at(now())
}

fn check(token: &str) -> Result<Auth, TokenError> {
    verify::verify(token, &verifying_key(), &options(), now())
}

fn reason(token: &str) -> Reason {
    check(token).unwrap_err().reason()
}

/// An authenticator in JWKS mode whose HTTP client only counts calls.
fn counting_authenticator() -> (Authenticator, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let config = ClerkConfig::builder()
        .secret_key("sk_test_counting")
        .publishable_key(publishable_key_for("clerk.mock.test", false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(move |_req: http::Request<Vec<u8>>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                Err::<http::Response<Vec<u8>>, _>(HttpError::Other(
                    "no network in this test".into(),
                ))
            }
        })
        .build()
        .unwrap();
    (authenticator, calls)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn valid_token_is_accepted() {
    let auth = check(&token().subject("user_abc").session_id("sess_abc").sign()).unwrap();
    assert_eq!(auth.user_id, "user_abc");
    assert_eq!(auth.session_id.as_deref(), Some("sess_abc"));
}

#[test]
fn two_segments_is_token_invalid() {
    let t = token().sign();
    let two = t.rsplit_once('.').unwrap().0;
    assert_eq!(reason(two), Reason::TokenInvalid);
}

#[test]
fn four_segments_is_token_invalid() {
    let four = format!("{}.extra", token().sign());
    assert_eq!(reason(&four), Reason::TokenInvalid);
}

#[test]
fn bad_base64_is_token_invalid() {
    let t = token().sign();
    let broken = format!("!!{}", &t[2..]);
    assert_eq!(reason(&broken), Reason::TokenInvalid);
}

#[test]
fn non_json_header_is_token_invalid() {
    let t = encode_raw_parts(b"not json", br#"{"sub":"user_1","exp":1}"#, b"sig");
    assert_eq!(reason(&t), Reason::TokenInvalid);
}

#[test]
fn hs256_is_invalid_algorithm_without_any_key_lookup() {
    let (authenticator, calls) = counting_authenticator();
    let t = token().sign_with_hs256(b"secret");
    let err = block_on(authenticator.verify(&t)).unwrap_err();
    assert_eq!(err.reason(), Reason::TokenInvalidAlgorithm);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no JWKS fetch for a refused algorithm"
    );
}

#[test]
fn alg_none_is_invalid_algorithm_without_any_key_lookup() {
    let (authenticator, calls) = counting_authenticator();
    let err = block_on(authenticator.verify(&token().sign_unsigned())).unwrap_err();
    assert_eq!(err.reason(), Reason::TokenInvalidAlgorithm);
    // `none` with a non-empty signature segment too.
    let err = block_on(authenticator.verify(&token().header("alg", "none").sign())).unwrap_err();
    assert_eq!(err.reason(), Reason::TokenInvalidAlgorithm);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn alg_missing_or_not_a_string_is_invalid_algorithm() {
    assert_eq!(
        reason(&token().remove_header("alg").sign()),
        Reason::TokenInvalidAlgorithm
    );
    assert_eq!(
        reason(&token().header("alg", 256).sign()),
        Reason::TokenInvalidAlgorithm
    );
    assert_eq!(
        reason(&token().header("alg", json!(["RS256"])).sign()),
        Reason::TokenInvalidAlgorithm
    );
}

#[test]
fn hs256_signed_with_the_rsa_public_key_bytes_is_rejected() {
    let pem = key().public_key_pem();
    let confused = token().sign_with_hs256(pem.as_bytes());
    assert_eq!(reason(&confused), Reason::TokenInvalidAlgorithm);
    let der = key().public_key_der();
    assert_eq!(
        reason(&token().sign_with_hs256(&der)),
        Reason::TokenInvalidAlgorithm
    );
    // Claiming RS256 in the header while the signature is an HMAC fails the signature.
    let disguised = token()
        .header("alg", "RS256")
        .sign_with_hs256(pem.as_bytes());
    assert_eq!(reason(&disguised), Reason::TokenInvalidSignature);
}

#[test]
fn typ_at_jwt_is_a_type_mismatch() {
    assert_eq!(
        reason(&token().header("typ", "at+jwt").sign()),
        Reason::TokenTypeMismatch
    );
}

#[test]
fn template_and_m2m_categories_are_type_mismatches() {
    assert_eq!(
        reason(&token().header("cat", CATEGORY_JWT_TEMPLATE).sign()),
        Reason::TokenTypeMismatch
    );
    assert_eq!(
        reason(&token().header("cat", CATEGORY_M2M_TOKEN).sign()),
        Reason::TokenTypeMismatch
    );
}

#[test]
fn machine_subject_is_a_type_mismatch() {
    assert_eq!(
        reason(&token().subject("mch_2abc").sign()),
        Reason::TokenTypeMismatch
    );
}

#[test]
fn absent_or_session_category_is_accepted() {
    assert!(check(&token().remove_header("cat").sign()).is_ok());
    assert!(check(&token().header("cat", CATEGORY_SESSION_TOKEN).sign()).is_ok());
    assert!(check(&token().remove_header("typ").sign()).is_ok());
}

#[test]
fn missing_sub_is_rejected() {
    assert_eq!(
        check(&token().remove_claim("sub").sign()).unwrap_err(),
        TokenError::InvalidClaim("sub")
    );
}

#[test]
fn missing_exp_is_rejected() {
    assert_eq!(
        check(&token().remove_claim("exp").sign()).unwrap_err(),
        TokenError::InvalidClaim("exp")
    );
}

#[test]
fn exp_four_seconds_ago_is_within_the_default_skew() {
    assert!(check(&token().claim("exp", NOW - 4).sign()).is_ok());
}

#[test]
fn exp_five_seconds_ago_is_expired() {
    assert_eq!(
        reason(&token().claim("exp", NOW - 5).sign()),
        Reason::TokenExpired
    );
}

#[test]
fn nbf_six_seconds_ahead_is_not_active_yet() {
    assert_eq!(
        reason(&token().claim("nbf", NOW + 6).sign()),
        Reason::TokenNotActiveYet
    );
    assert!(check(&token().claim("nbf", NOW + 5).sign()).is_ok());
}

#[test]
fn iat_six_seconds_ahead_is_in_the_future() {
    let t = token().claim("iat", NOW + 6).claim("nbf", NOW).sign();
    assert_eq!(reason(&t), Reason::TokenIatInTheFuture);
}

#[test]
fn a_bad_signature_on_an_expired_token_reports_the_signature() {
    let other = TestKeyPair::fixed(1);
    let t = token().claim("exp", NOW - 3600).sign_with(&other);
    assert_eq!(reason(&t), Reason::TokenInvalidSignature);
}

#[test]
fn azp_in_the_allowed_list_is_accepted() {
    assert!(check(&token().authorized_party(DEFAULT_AUTHORIZED_PARTY).sign()).is_ok());
}

#[test]
fn azp_not_in_the_list_is_rejected() {
    let t = token().authorized_party("https://evil.example").sign();
    assert_eq!(reason(&t), Reason::TokenInvalidAuthorizedParties);
}

#[test]
fn missing_azp_is_rejected_when_strict_and_accepted_when_lenient() {
    let t = token().remove_claim("azp").sign();
    assert_eq!(reason(&t), Reason::TokenInvalidAuthorizedParties);
    let mut lenient = options();
    lenient.parties = PartyCheck::OneOf {
        parties: vec![DEFAULT_AUTHORIZED_PARTY.into()],
        allow_missing: true,
    };
    assert!(verify::verify(&t, &verifying_key(), &lenient, now()).is_ok());
    // Lenient still refuses a present, wrong azp.
    let wrong = token().authorized_party("https://evil.example").sign();
    assert_eq!(
        verify::verify(&wrong, &verifying_key(), &lenient, now())
            .unwrap_err()
            .reason(),
        Reason::TokenInvalidAuthorizedParties
    );
}

#[test]
fn issuer_from_the_publishable_key_must_match() {
    let config = ClerkConfig::builder()
        .jwt_key(key().public_key_pem())
        .publishable_key(publishable_key_for("clerk.mock.test", false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let opts = config.verify_options();
    assert_eq!(
        opts.issuer,
        IssuerCheck::Exact("https://clerk.mock.test".into())
    );
    let same = token().issuer("https://clerk.mock.test").sign();
    assert!(verify::verify(&same, &verifying_key(), opts, now()).is_ok());
    let other = token().issuer("https://clerk.other-instance.test").sign();
    assert_eq!(
        verify::verify(&other, &verifying_key(), opts, now())
            .unwrap_err()
            .reason(),
        Reason::TokenInvalidIssuer
    );
    let missing = token().remove_claim("iss").sign();
    assert_eq!(
        verify::verify(&missing, &verifying_key(), opts, now())
            .unwrap_err()
            .reason(),
        Reason::TokenInvalidIssuer
    );
}

#[test]
fn aud_is_checked_only_when_configured() {
    let with_aud = token().audience(json!(["api.example", "other"])).sign();
    let without_aud = token().sign();
    assert!(check(&with_aud).is_ok());
    assert!(check(&without_aud).is_ok());
    let mut strict = options();
    strict.audience = Some(vec!["api.example".into()]);
    assert!(verify::verify(&with_aud, &verifying_key(), &strict, now()).is_ok());
    assert_eq!(
        verify::verify(&without_aud, &verifying_key(), &strict, now()).unwrap_err(),
        TokenError::InvalidAudience
    );
    let wrong = token().audience("elsewhere").sign();
    assert_eq!(
        verify::verify(&wrong, &verifying_key(), &strict, now()).unwrap_err(),
        TokenError::InvalidAudience
    );
}

#[test]
fn pending_session_is_signed_out_by_default() {
    let t = token().session_status("pending").sign();
    assert_eq!(reason(&t), Reason::SessionTokenPending);
    let mut accepting = options();
    accepting.accept_pending = true;
    let auth = verify::verify(&t, &verifying_key(), &accepting, now()).unwrap();
    assert!(auth.is_pending());
    assert!(check(&token().session_status("active").sign()).is_ok());
}

#[test]
fn fifty_four_permission_mask_expands_every_bit() {
    let names: Vec<String> = (0..54).map(|i| format!("p{i}")).collect();
    let all = (1u64 << 54) - 1;
    // Only the first and the last permission: bits 53 and 0.
    let ends = (1u64 << 53) | 1;
    let t = token()
        .features("o:all,o:ends,u:beta")
        .org_v2(OrgV2 {
            id: "org_1".to_owned(),
            slug: "acme".to_owned(),
            role: "admin".to_owned(),
            permissions: names.clone(),
            feature_permission_masks: vec![all.to_string(), ends.to_string()],
        })
        .sign();
    let auth = check(&t).unwrap();
    let org = auth.org.unwrap();
    let mut expected: Vec<String> = names.iter().map(|n| format!("org:all:{n}")).collect();
    expected.push("org:ends:p0".into());
    expected.push("org:ends:p53".into());
    assert_eq!(org.permissions, expected);
}

#[test]
fn masks_wider_than_64_bits_work() {
    let names: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
    // Bit 69 is the first permission; 2^69 + 1 = first and last.
    let t = token()
        .features("o:wide")
        .org_v2(OrgV2 {
            id: "org_1".to_owned(),
            slug: "acme".to_owned(),
            role: "member".to_owned(),
            permissions: names,
            feature_permission_masks: vec!["590295810358705651713".to_owned()],
        })
        .sign();
    let org = check(&t).unwrap().org.unwrap();
    assert_eq!(org.permissions, ["org:wide:p0", "org:wide:p69"]);
    assert_eq!(org.role.as_deref(), Some("org:member"));
}

#[test]
fn org_without_role_or_permissions_does_not_crash_or_invent_a_role() {
    let t = token().claim("o", json!({"id": "org_1"})).sign();
    let auth = check(&t).unwrap();
    let org = auth.org.clone().unwrap();
    assert_eq!(org.id, "org_1");
    assert_eq!(org.role, None);
    assert!(org.permissions.is_empty());
    assert!(!auth.has_role("org:admin"));
}

#[test]
fn v1_and_equivalent_v2_claims_give_equal_auth() {
    let v1 = TokenBuilder::v1(&key())
        .issued_at(now())
        .org_v1(
            "org_1",
            "acme",
            "org:admin",
            ["org:reports:read", "org:reports:manage", "org:billing:read"],
        )
        .sign();
    let v2 = token()
        .features("o:reports,o:billing")
        .org_v2(OrgV2 {
            id: "org_1".to_owned(),
            slug: "acme".to_owned(),
            role: "admin".to_owned(),
            permissions: vec!["read".to_owned(), "manage".to_owned()],
            // `read` is bit 0, `manage` bit 1 (Clerk's order): reports 3 = both, billing 1 = read.
            feature_permission_masks: vec!["3".to_owned(), "1".to_owned()],
        })
        .sign();
    let (a1, a2) = (check(&v1).unwrap(), check(&v2).unwrap());
    assert_eq!(a1.claims_version, 1);
    assert_eq!(a2.claims_version, 2);
    let (mut a1, mut a2) = (a1, a2);
    // v1 has no `fea`; features are not part of the equivalence.
    a2.org_features.clear();
    a1.org_features.clear();
    assert_eq!(a1, a2);
    assert!(a1.has_permission("org:reports:manage") && a2.has_permission("org:reports:manage"));
}

#[test]
fn a_twenty_kib_token_is_rejected_before_any_crypto() {
    let (authenticator, calls) = counting_authenticator();
    let t = token().claim("padding", "x".repeat(20 * 1024)).sign();
    assert!(t.len() > 20 * 1024);
    assert!(matches!(check(&t), Err(TokenError::TooLarge { .. })));
    assert!(matches!(
        block_on(authenticator.verify(&t)),
        Err(AuthError::Token(TokenError::TooLarge { .. }))
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // The limit is on the whole token, before parsing: garbage of that size fails the same way.
    assert!(matches!(
        check(&"a".repeat(20 * 1024)),
        Err(TokenError::TooLarge { .. })
    ));
}

#[test]
fn exp_past_2038_is_fine() {
    let far = 4_102_444_800; // 2100-01-01
    let auth = check(&token().claim("exp", far).sign()).unwrap();
    assert_eq!(auth.expires_at, UnixTime::from_secs(far));
}

#[test]
fn a_token_signed_by_another_key_is_an_invalid_signature() {
    assert_eq!(
        reason(&token().sign_with(&TestKeyPair::fixed(2))),
        Reason::TokenInvalidSignature
    );
}

#[test]
fn rs512_is_refused_unless_allowed_and_then_verifies() {
    let t = token().alg(clerk_testkit::keys::Alg::Rs512).sign();
    assert_eq!(reason(&t), Reason::TokenInvalidAlgorithm);
    let mut opts = options();
    opts.algorithms.push(clerk_core::keys::Algorithm::Rs512);
    assert!(verify::verify(&t, &verifying_key(), &opts, now()).is_ok());
}

#[test]
fn errors_never_contain_the_token() {
    let t = token().claim("exp", NOW - 100).sign();
    let err = check(&t).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(&t[..20]), "{shown}");
}
