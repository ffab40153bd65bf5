//! Sign/verify round trips (property tests), rotation, header families, tolerance, secrets.

use std::time::Duration;

use clerk_core::secret::WebhookSigningKey;
use clerk_core::time::UnixTime;
use clerk_webhooks::{SecretError, SignatureHeaders, VerifyError, Webhook};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const TS: i64 = 1_700_000_000;

fn webhook(secret: &str) -> Webhook {
    Webhook::new(secret).expect("valid secret")
}

fn headers(family: &str, id: &str, ts: &str, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (part, value) in [("id", id), ("timestamp", ts), ("signature", signature)] {
        let name = http::HeaderName::try_from(format!("{family}-{part}")).expect("name");
        h.insert(name, HeaderValue::try_from(value).expect("visible ASCII"));
    }
    h
}

fn at(secs: i64) -> UnixTime {
    UnixTime::from_secs(secs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any body (binary, CRLF, empty) and any visible-ASCII id round-trips, in both families.
    #[test]
    fn sign_then_verify_round_trips(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        id in "[!-~]{0,64}",
        ts in 0i64..4_000_000_000,
        skew in -300i64..=300,
        webhook_family in any::<bool>(),
    ) {
        let wh = webhook(SECRET);
        let signature = wh.sign(&id, ts, &body);
        prop_assert!(signature.starts_with("v1,") && signature.len() == 47);
        let family = if webhook_family { "webhook" } else { "svix" };
        let h = headers(family, &id, &ts.to_string(), &signature);
        let verified = wh.verify_at(&h, &body, at(ts + skew)).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(verified.id(), id.as_str());
        prop_assert_eq!(verified.timestamp(), at(ts));
        prop_assert_eq!(verified.body(), body.as_slice());
    }

    /// Changing any one byte of the body breaks the signature.
    #[test]
    fn any_flipped_body_byte_fails(
        body in prop::collection::vec(any::<u8>(), 1..1024),
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let wh = webhook(SECRET);
        let h = headers("svix", "msg_1", &TS.to_string(), &wh.sign("msg_1", TS, &body));
        let mut tampered = body.clone();
        let i = index.index(tampered.len());
        tampered[i] ^= 1 << bit;
        prop_assert_eq!(wh.verify_at(&h, &tampered, at(TS)), Err(VerifyError::NoMatchingSignature));
    }

    /// A different id or timestamp in the headers breaks the signature.
    #[test]
    fn id_and_timestamp_are_signed(body in prop::collection::vec(any::<u8>(), 0..256), delta in 1i64..300) {
        let wh = webhook(SECRET);
        let sig = wh.sign("msg_a", TS, &body);
        let other_id = headers("svix", "msg_b", &TS.to_string(), &sig);
        prop_assert_eq!(wh.verify_at(&other_id, &body, at(TS)), Err(VerifyError::NoMatchingSignature));
        let other_ts = headers("svix", "msg_a", &(TS + delta).to_string(), &sig);
        prop_assert_eq!(wh.verify_at(&other_ts, &body, at(TS)), Err(VerifyError::NoMatchingSignature));
    }
}

#[test]
fn crlf_and_empty_bodies_are_signed_verbatim() {
    let wh = webhook(SECRET);
    for body in [
        &b""[..],
        b"\r\n",
        b"{\r\n  \"a\": 1\r\n}\r\n",
        b"\xff\xfe\x00binary",
    ] {
        let h = headers(
            "svix",
            "msg_1",
            &TS.to_string(),
            &wh.sign("msg_1", TS, body),
        );
        assert!(wh.verify_at(&h, body, at(TS)).is_ok(), "{body:?}");
        // Normalising line endings is a different body.
        let lf: Vec<u8> = body.iter().copied().filter(|b| *b != b'\r').collect();
        if lf.len() != body.len() {
            assert_eq!(
                wh.verify_at(&h, &lf, at(TS)),
                Err(VerifyError::NoMatchingSignature)
            );
        }
    }
}

#[test]
fn rotation_accepts_either_secret() {
    let both = Webhook::from_secrets([SECRET, OTHER]).expect("two secrets");
    assert_eq!(both.secret_count(), 2);
    let body = br#"{"type":"user.created"}"#;
    for signer in [SECRET, OTHER] {
        let sig = webhook(signer).sign("msg_rot", TS, body);
        let h = headers("svix", "msg_rot", &TS.to_string(), &sig);
        assert!(
            both.verify_at(&h, body, at(TS)).is_ok(),
            "signed with {signer}"
        );
    }
    // A message signed with a third secret still fails.
    let third = Webhook::new("whsec_dGVzdF9zaWduaW5nX3NlY3JldF8zMl9jaGFyc19sb25n").expect("third");
    let h = headers(
        "svix",
        "msg_rot",
        &TS.to_string(),
        &third.sign("msg_rot", TS, body),
    );
    assert_eq!(
        both.verify_at(&h, body, at(TS)),
        Err(VerifyError::NoMatchingSignature)
    );
    // The first secret signs.
    assert_eq!(
        both.sign("m", TS, body),
        webhook(SECRET).sign("m", TS, body)
    );
}

#[test]
fn rotation_from_the_configured_key() {
    let key = WebhookSigningKey::new(format!(" {SECRET},{OTHER}\n"));
    let wh = Webhook::from_signing_key(&key).expect("two secrets");
    assert_eq!(wh.secret_count(), 2);
    let sig = webhook(OTHER).sign("msg_1", TS, b"x");
    assert!(wh
        .verify_at(
            &headers("svix", "msg_1", &TS.to_string(), &sig),
            b"x",
            at(TS)
        )
        .is_ok());
    assert_eq!(
        Webhook::from_signing_key(&WebhookSigningKey::new(" , ")).err(),
        Some(SecretError::NoSecrets)
    );
}

#[test]
fn any_v1_entry_of_a_multi_signature_header_may_match() {
    let wh = webhook(SECRET);
    let body = b"{}";
    let good = wh.sign("msg_1", TS, body);
    let decoy = webhook(OTHER).sign("msg_1", TS, body);
    let mac = &good[3..];
    for header in [
        format!("{decoy} {good}"),
        format!("{good} {decoy}"),
        format!("v1a,{mac} v2,{mac} {good}"),
        format!("  {good}  "),
        format!("garbage v1 ,{mac} {good}"),
    ] {
        let h = headers("svix", "msg_1", &TS.to_string(), &header);
        assert!(wh.verify_at(&h, body, at(TS)).is_ok(), "{header}");
    }
    for header in [
        format!("v1a,{mac}"),
        format!("v2,{mac}"),
        decoy.clone(),
        format!("{decoy} v1,{}", &mac[..43]),
    ] {
        let h = headers("svix", "msg_1", &TS.to_string(), &header);
        assert_eq!(
            wh.verify_at(&h, body, at(TS)),
            Err(VerifyError::NoMatchingSignature),
            "{header}"
        );
    }
}

#[test]
fn repeated_signature_headers_all_count() {
    let wh = webhook(SECRET);
    let mut h = headers(
        "svix",
        "msg_1",
        &TS.to_string(),
        &webhook(OTHER).sign("msg_1", TS, b"{}"),
    );
    h.append(
        "svix-signature",
        HeaderValue::try_from(wh.sign("msg_1", TS, b"{}")).expect("sig"),
    );
    assert!(wh.verify_at(&h, b"{}", at(TS)).is_ok());
}

#[test]
fn svix_headers_win_over_webhook_headers() {
    let wh = webhook(SECRET);
    let mut h = headers(
        "svix",
        "msg_svix",
        &TS.to_string(),
        &wh.sign("msg_svix", TS, b"{}"),
    );
    h.extend(headers("webhook", "msg_other", "1", "v1,AAAA"));
    assert_eq!(
        wh.verify_at(&h, b"{}", at(TS)).map(|v| v.id()),
        Ok("msg_svix")
    );
}

#[test]
fn webhook_family_headers_work_and_sign_headers_helper_verifies() {
    let wh = webhook(SECRET);
    let sig = wh.sign("msg_std", TS, b"{}");
    assert!(wh
        .verify_at(
            &headers("webhook", "msg_std", &TS.to_string(), &sig),
            b"{}",
            at(TS)
        )
        .is_ok());
    let signed = wh.sign_headers("msg_std", TS, b"{}");
    assert_eq!(
        wh.verify_at(&signed, b"{}", at(TS)).map(|v| v.id()),
        Ok("msg_std")
    );
}

#[test]
fn tolerance_is_300_seconds_each_way() {
    let wh = webhook(SECRET);
    let h = headers("svix", "m", &TS.to_string(), &wh.sign("m", TS, b"{}"));
    assert!(wh.verify_at(&h, b"{}", at(TS + 300)).is_ok());
    assert!(wh.verify_at(&h, b"{}", at(TS - 300)).is_ok());
    // Sub-second parts of `now` do not push 300 s over the edge (whole seconds, like Svix).
    assert!(wh
        .verify_at(&h, b"{}", UnixTime::from_millis((TS + 300) * 1000 + 999))
        .is_ok());
    assert_eq!(
        wh.verify_at(&h, b"{}", at(TS + 301)),
        Err(VerifyError::TimestampTooOld {
            timestamp: TS,
            now: TS + 301,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        wh.verify_at(&h, b"{}", at(TS - 301)),
        Err(VerifyError::TimestampTooNew {
            timestamp: TS,
            now: TS - 301,
            tolerance_secs: 300
        })
    );
    // A stale message is rejected for its age even when the signature is bad too.
    let bad = headers("svix", "m", &TS.to_string(), "v1,AAAA");
    assert!(matches!(
        wh.verify_at(&bad, b"{}", at(TS + 10_000)),
        Err(VerifyError::TimestampTooOld { .. })
    ));
    // A custom tolerance.
    let strict = webhook(SECRET).with_tolerance(Duration::from_secs(10));
    assert_eq!(strict.tolerance(), Duration::from_secs(10));
    assert!(strict.verify_at(&h, b"{}", at(TS + 10)).is_ok());
    assert!(matches!(
        strict.verify_at(&h, b"{}", at(TS + 11)),
        Err(VerifyError::TimestampTooOld { .. })
    ));
}

#[test]
fn header_errors_name_the_header() {
    let wh = webhook(SECRET);
    let full = headers("svix", "m", &TS.to_string(), &wh.sign("m", TS, b"{}"));
    for (missing, name) in [
        ("svix-id", "svix-id"),
        ("svix-timestamp", "svix-timestamp"),
        ("svix-signature", "svix-signature"),
    ] {
        let mut h = full.clone();
        h.remove(missing);
        assert_eq!(
            wh.verify_at(&h, b"{}", at(TS)),
            Err(VerifyError::MissingHeader { name })
        );
    }
    assert_eq!(
        wh.verify_at(&HeaderMap::new(), b"{}", at(TS)),
        Err(VerifyError::MissingHeader { name: "svix-id" })
    );
    let mut h = full.clone();
    h.insert(
        "svix-id",
        HeaderValue::from_bytes(b"msg_\xff").expect("obs-text"),
    );
    assert_eq!(
        wh.verify_at(&h, b"{}", at(TS)),
        Err(VerifyError::InvalidHeader { name: "svix-id" })
    );
    for ts in [
        "hello",
        "",
        "-1",
        "+1700000000",
        "1700000000.5",
        " 1700000000",
        "99999999999999999999999",
    ] {
        let h = headers("svix", "m", ts, &wh.sign("m", TS, b"{}"));
        assert_eq!(
            wh.verify_at(&h, b"{}", at(TS)),
            Err(VerifyError::InvalidTimestamp),
            "{ts:?}"
        );
    }
}

#[test]
fn extracted_headers_verify_too() {
    let wh = webhook(SECRET);
    let sig = wh.sign("msg_x", TS, b"{}");
    let parts = SignatureHeaders {
        id: "msg_x",
        timestamp: "1700000000",
        signature: &sig,
    };
    assert_eq!(
        wh.verify_headers_at(parts, b"{}", at(TS)).map(|v| v.id()),
        Ok("msg_x")
    );
    let h = headers("webhook", "msg_x", "1700000000", &sig);
    assert_eq!(SignatureHeaders::from_header_map(&h), Ok(parts));
}

#[test]
fn secrets_are_validated_at_construction() {
    assert_eq!(
        Webhook::new("whsec_").err(),
        Some(SecretError::EmptySecret { index: 0 })
    );
    assert_eq!(
        Webhook::new("").err(),
        Some(SecretError::EmptySecret { index: 0 })
    );
    assert_eq!(
        Webhook::new("   ").err(),
        Some(SecretError::EmptySecret { index: 0 })
    );
    assert_eq!(
        Webhook::new("whsec_not*base64!").err(),
        Some(SecretError::InvalidBase64 { index: 0 })
    );
    assert_eq!(
        Webhook::from_secrets([SECRET, "whsec_%%%"]).err(),
        Some(SecretError::InvalidBase64 { index: 1 })
    );
    assert_eq!(
        Webhook::from_secrets(Vec::<&str>::new()).err(),
        Some(SecretError::NoSecrets)
    );
    // Prefix optional, padding optional, surrounding whitespace ignored: all the same key.
    let reference = webhook(SECRET).sign("m", TS, b"{}");
    for variant in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        " whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
    ] {
        assert_eq!(
            webhook(variant).sign("m", TS, b"{}"),
            reference,
            "{variant:?}"
        );
    }
    // A 4-byte key whose base64 needs padding, with and without it.
    assert_eq!(
        webhook("whsec_AQIDBA==").sign("m", TS, b"{}"),
        webhook("whsec_AQIDBA").sign("m", TS, b"{}")
    );
}

#[test]
fn secrets_never_show_in_debug_or_errors() {
    let wh = Webhook::from_secrets([SECRET, OTHER]).expect("secrets");
    let shown = format!("{wh:?}");
    assert!(
        !shown.contains("MfKQ9r8") && !shown.contains("C2FVsBQ"),
        "{shown}"
    );
    let err = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La*aSw").expect_err("invalid");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("MfKQ9r8") && !text.contains('*'), "{text}");
    let h = headers("svix", "m", &TS.to_string(), "v1,AAAA");
    let err = wh
        .verify_at(&h, b"secret body", at(TS))
        .expect_err("bad signature");
    assert!(!format!("{err} {err:?}").contains("secret body"));

    // A verified delivery's Debug shows the body's length, not its content.
    let body = br#"{"email":"ada@example.com"}"#;
    let signed = wh.sign_headers("m", TS, body);
    let verified = wh.verify_at(&signed, body, at(TS)).expect("valid");
    let shown = format!("{verified:?}");
    assert!(
        !shown.contains("ada@") && shown.contains("body_len: 27"),
        "{shown}"
    );
}
