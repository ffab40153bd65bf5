//! Publishable keys (`pk_test_…` / `pk_live_…`): prefix, base64 (standard or URL-safe, with
//! or without padding), `<host>$`. A decoded key re-encodes to a key that decodes the same.
#![no_main]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use clerk_core::publishable_key::{Environment, PublishableKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(key) = PublishableKey::parse(text) else {
        return;
    };
    let host = key.frontend_api_host();
    assert!(!host.is_empty());
    assert!(host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_')));
    assert_eq!(key.issuer(), format!("https://{host}"));
    assert_eq!(key.as_str(), text.trim());
    let prefix = match key.environment() {
        Environment::Test => "pk_test_",
        Environment::Live => "pk_live_",
    };
    assert!(key.as_str().starts_with(prefix));
    // Re-encode, padded and unpadded: both decode to the same key.
    for encoded in [
        STANDARD.encode(format!("{host}$")),
        STANDARD_NO_PAD.encode(format!("{host}$")),
    ] {
        let again = PublishableKey::parse(&format!("{prefix}{encoded}")).expect("re-encoded key");
        assert_eq!(again.environment(), key.environment());
        assert_eq!(again.frontend_api_host(), host);
    }
    // Parsing is idempotent on the kept text.
    assert_eq!(PublishableKey::parse(key.as_str()).as_ref(), Ok(&key));
    let _ = format!("{key:?}");
});
