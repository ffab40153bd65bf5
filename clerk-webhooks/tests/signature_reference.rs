//! The published Svix algorithm, computed here independently of the crate (the `hmac` and
//! `sha2` crates directly): for arbitrary secrets, ids, timestamps and bodies its signature
//! verifies, and any single-byte change to the body, the id, the timestamp or the signature
//! is refused.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clerk_core::time::UnixTime;
use clerk_webhooks::{SignatureHeaders, VerifyError, Webhook};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use sha2::Sha256;

/// `v1,` + base64(HMAC-SHA256(base64-decoded key after `whsec_`, `{id}.{ts}.{body}`)).
fn reference_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("prefixed"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn header_map(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("svix-id", id),
        ("svix-timestamp", timestamp),
        ("svix-signature", signature),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("visible ASCII"),
        );
    }
    headers
}

/// A tolerance wide enough that only the signature can refuse a changed timestamp.
const WIDE: Duration = Duration::from_secs(1 << 40);

/// Replaces byte `index` of visible-ASCII `text` with another visible-ASCII byte.
fn change_ascii(text: &str, index: usize, replacement: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let old = bytes[index];
    let mut new = b'!' + replacement % 94;
    if new == old {
        new = if old == b'~' { b'!' } else { old + 1 };
    }
    bytes[index] = new;
    String::from_utf8(bytes).expect("ASCII")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_published_algorithm_verifies_and_every_change_is_refused(
        key in prop::collection::vec(any::<u8>(), 1..64),
        id in "[!-~]{1,48}",
        ts in 0i64..10_000_000_000,
        body in prop::collection::vec(any::<u8>(), 0..512),
        index in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let secret = format!("whsec_{}", STANDARD.encode(&key));
        let webhook = Webhook::new(&secret).expect("valid secret").with_tolerance(WIDE);
        let timestamp = ts.to_string();
        let signature = reference_signature(&secret, &id, &timestamp, &body);
        let now = UnixTime::from_secs(ts);

        // It verifies, through the HeaderMap and the pre-extracted entry points.
        let headers = header_map(&id, &timestamp, &signature);
        let verified = webhook
            .verify_at(&headers, &body, now)
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(verified.id(), id.as_str());
        prop_assert_eq!(verified.body(), body.as_slice());
        let parts = SignatureHeaders { id: &id, timestamp: &timestamp, signature: &signature };
        prop_assert!(webhook.verify_headers_at(parts, &body, now).is_ok());
        // The crate signs the same way.
        prop_assert_eq!(webhook.sign(&id, ts, &body), signature.clone());

        let refused = |id: &str, timestamp: &str, signature: &str, body: &[u8]| {
            webhook
                .verify_at(&header_map(id, timestamp, signature), body, now)
                .map(|_| ())
        };
        // One byte of the body.
        if !body.is_empty() {
            let mut changed = body.clone();
            let i = index.index(changed.len());
            changed[i] = changed[i].wrapping_add(replacement.max(1));
            prop_assert_eq!(refused(&id, &timestamp, &signature, &changed), Err(VerifyError::NoMatchingSignature));
        }
        // One byte of the id.
        let changed_id = change_ascii(&id, index.index(id.len()), replacement);
        prop_assert_eq!(refused(&changed_id, &timestamp, &signature, &body), Err(VerifyError::NoMatchingSignature));
        // One digit of the timestamp (a different number, or not a number at all).
        let changed_ts = change_ascii(&timestamp, index.index(timestamp.len()), replacement);
        prop_assert!(refused(&id, &changed_ts, &signature, &body).is_err(), "timestamp {changed_ts}");
        // One byte of the signature header (`v1,` prefix included).
        let changed_sig = change_ascii(&signature, index.index(signature.len()), replacement);
        prop_assert_eq!(refused(&id, &timestamp, &changed_sig, &body), Err(VerifyError::NoMatchingSignature));
    }
}
