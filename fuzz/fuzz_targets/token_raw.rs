//! Arbitrary bytes as a session token: size limit, structure, JOSE header, `alg` allow-list,
//! signature (the fixed test key and the key of Clerk's JS SDK fixtures) and, for the
//! fixtures' real tokens and their mutations, the claims.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clerk_core::keys::Algorithm;
use clerk_core::time::UnixTime;
use clerk_core::verify::{
    self, IssuerCheck, ParsedToken, PartyCheck, VerifyOptions, MAX_TOKEN_BYTES,
};
use libfuzzer_sys::fuzz_target;

/// Inside the validity window of the Clerk JS fixture tokens.
const FIXTURE_NOW: i64 = 1_666_648_260;

fuzz_target!(|data: &[u8]| {
    let keys = clerk_fuzz::keys();
    let token = String::from_utf8_lossy(data);
    let all = [Algorithm::Rs256, Algorithm::Rs384, Algorithm::Rs512];
    match ParsedToken::parse(&token, &all) {
        Ok(parsed) => {
            // The JOSE header is a JSON object (RFC 7515 §4), never an array or a scalar.
            let header_b64 = token.split('.').next().unwrap_or_default();
            let header = URL_SAFE_NO_PAD
                .decode(header_b64.trim_end_matches('='))
                .expect("a parsed header is base64url");
            let first = header.iter().find(|b| !b.is_ascii_whitespace());
            assert_eq!(first, Some(&b'{'), "a header that is not an object parsed");
            assert!(token.len() <= MAX_TOKEN_BYTES);
            assert_eq!(
                token.matches('.').count(),
                2,
                "parsed a token without three segments"
            );
            if let Some(kid) = parsed.kid() {
                assert!(kid.len() <= token.len() * 3);
            }
            // Neither key signed this (short of a fixture token): the signature must fail
            // before any claim is looked at.
            for key in [&keys.fixed_public, &keys.clerk_js_public] {
                let signed = parsed.check_signature(key).is_ok();
                let strict = VerifyOptions::new(&keys.clerk_js_issuer, [&keys.clerk_js_party]);
                let result =
                    verify::verify_parsed(&parsed, key, &strict, UnixTime::from_secs(FIXTURE_NOW));
                if !signed {
                    assert_eq!(
                        result.as_ref().map_err(|e| e.reason().as_str()),
                        Err("token-invalid-signature"),
                        "an unsigned token reported something other than its signature"
                    );
                }
                if let Ok(auth) = &result {
                    assert!(!auth.user_id.is_empty());
                    assert!(!auth.user_id.starts_with("mch_"));
                    assert_eq!(auth.issuer.as_deref(), Some(keys.clerk_js_issuer.as_str()));
                }
                // Lenient options reach the claims of every signed (fixture) token.
                let mut lenient = strict.clone();
                lenient.issuer = IssuerCheck::Skip;
                lenient.parties = PartyCheck::Any;
                lenient.accept_pending = true;
                let _ =
                    verify::verify_parsed(&parsed, key, &lenient, UnixTime::from_secs(FIXTURE_NOW));
            }
        }
        Err(err) => {
            // Every error has a reason and a message, bounded whatever the token.
            let message = err.to_string();
            assert!(
                message.len() < 1024,
                "unbounded error message: {} bytes",
                message.len()
            );
            let _ = err.reason().as_str();
        }
    }
    // RS256 only, as configured by default: never accepts another algorithm.
    if let Ok(parsed) = ParsedToken::parse(&token, &[Algorithm::Rs256]) {
        assert_eq!(parsed.header().alg, Algorithm::Rs256);
    }
});
