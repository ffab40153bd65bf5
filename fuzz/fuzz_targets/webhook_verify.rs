//! Svix webhook deliveries: the `svix-*` / `webhook-*` headers, the timestamp and its
//! tolerance, the space-separated `v1,<base64>` signature list, secret rotation, then the
//! event body of a delivery that verified.
//!
//! Input: a flags byte, then `id\ntimestamp\nsignature\nbody`. Flags: bit 0 the Standard
//! Webhooks header spelling, bit 1 append a correct signature (so the body is reached),
//! bit 2 a second signature header, bit 3 use the clock of the timestamp itself.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clerk_core::time::UnixTime;
use clerk_webhooks::{SignatureHeaders, VerifyError, Webhook};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

/// The Svix docs' example secret, and a second one as during a rotation.
const SECRETS: [&str; 2] = [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
];
const NOW: i64 = 1_614_265_330;

/// The published algorithm, independently of clerk-webhooks: base64 HMAC-SHA256 over
/// `{id}.{timestamp}.{body}` keyed with the base64-decoded text after `whsec_`.
fn reference_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("test secret is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(4, |&b| b == b'\n');
    let id = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let timestamp = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let mut signature = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();

    let webhook = Webhook::from_secrets(SECRETS).expect("valid secrets");
    let parsed_ts = (!timestamp.is_empty() && timestamp.bytes().all(|b| b.is_ascii_digit()))
        .then(|| timestamp.parse::<i64>().ok())
        .flatten();
    let now = match parsed_ts {
        Some(ts) if flags & 8 != 0 => ts,
        _ => NOW,
    };
    // `UnixTime` keeps milliseconds in an `i64`: seconds beyond ±9.2e15 saturate.
    let now = UnixTime::from_secs(now).as_secs();
    if flags & 2 != 0 {
        if let Some(ts) = parsed_ts {
            let correct = reference_signature(SECRETS[1], &id, &ts.to_string(), body);
            signature.push_str(" v1,");
            signature.push_str(&correct);
        }
    }
    let (id_name, ts_name, sig_name) = if flags & 1 == 0 {
        ("svix-id", "svix-timestamp", "svix-signature")
    } else {
        ("webhook-id", "webhook-timestamp", "webhook-signature")
    };
    let mut headers = HeaderMap::new();
    let mut signatures = Vec::new();
    for (name, value) in [
        (id_name, &id),
        (ts_name, &timestamp),
        (sig_name, &signature),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.append(HeaderName::from_static(name), v);
            if name == sig_name {
                signatures.push(value.clone());
            }
        }
    }
    if flags & 4 != 0 {
        let second = "v1a,abc v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned();
        headers.append(
            HeaderName::from_static(sig_name),
            HeaderValue::from_static("v1a,abc v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        );
        signatures.push(second);
    }

    let result = webhook.verify_at(&headers, body, UnixTime::from_secs(now));
    match &result {
        Ok(verified) => {
            assert_eq!(verified.id(), id);
            assert_eq!(verified.body(), body);
            let ts = parsed_ts.expect("a verified delivery has a numeric timestamp");
            assert!(
                (ts - now).abs() <= 300,
                "timestamp {ts} outside the tolerance of {now}"
            );
            // Verified ⇒ some `v1` entry is the reference signature under some secret.
            let expected: Vec<String> = SECRETS
                .iter()
                .map(|s| reference_signature(s, &id, &ts.to_string(), body))
                .collect();
            let matched = signatures
                .iter()
                .flat_map(|s| s.split(' '))
                .filter_map(|e| e.strip_prefix("v1,"))
                .any(|sig| expected.iter().any(|e| e == sig));
            assert!(matched, "verified without a matching v1 signature");
            // Whatever the body, parsing it never panics.
            let _ = verified.event().map(|e| e.event_type().len());
            let _ = verified.json::<serde_json::Value>();
        }
        Err(err) => {
            let message = err.to_string();
            assert!(
                !message.contains("MfKQ9r8"),
                "an error shows the secret: {message}"
            );
        }
    }
    // A correct signature over well-formed headers, within the tolerance, always verifies.
    // (Values `HeaderValue::to_str` accepts: visible ASCII and tabs.)
    let visible = |v: &str| v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    let headers_ok = visible(&id) && visible(&timestamp) && visible(&signature);
    if flags & 2 != 0 && headers_ok {
        if let Some(ts) = parsed_ts {
            if (ts - now).abs() <= 300 {
                assert!(
                    result.is_ok(),
                    "a correctly signed delivery was refused: {result:?}"
                );
            }
        }
    }
    // The pre-extracted entry point agrees with the HeaderMap one for a single header.
    if flags & 4 == 0 && headers_ok {
        let parts = SignatureHeaders {
            id: &id,
            timestamp: &timestamp,
            signature: &signature,
        };
        let other = webhook.verify_headers_at(parts, body, UnixTime::from_secs(now));
        assert_eq!(
            other.as_ref().map(|v| v.id()),
            result.as_ref().map(|v| v.id())
        );
    }
    // `sign` is the published algorithm.
    if let Some(ts) = parsed_ts {
        assert_eq!(
            webhook.sign(&id, ts, body),
            format!(
                "v1,{}",
                reference_signature(SECRETS[0], &id, &ts.to_string(), body)
            )
        );
    }
    if matches!(result, Err(VerifyError::MissingHeader { .. })) {
        assert!(headers.keys_len() < 3);
    }
});
