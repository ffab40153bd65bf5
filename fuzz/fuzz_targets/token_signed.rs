//! Tokens made from arbitrary header and claims bytes, **signed** with the fixed test key, so
//! every input gets past the signature to the token-type check and the claims normalization
//! (v1 and v2 claims, `fea` × `o.per` × `o.fpm`, time claims, `iss`/`azp`/`aud`).
//!
//! Input: `<header JSON>\0<claims JSON>`; without a NUL byte the whole input is the claims and
//! the header is the usual `{"alg":"RS256","kid":…,"typ":"JWT"}`.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clerk_core::keys::Algorithm;
use clerk_core::time::UnixTime;
use clerk_core::verify::{self, IssuerCheck, ParsedToken, PartyCheck, VerifyOptions};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let keys = clerk_fuzz::keys();
    let default_header = format!(
        r#"{{"alg":"RS256","kid":"{}","typ":"JWT"}}"#,
        clerk_fuzz::FIXED_KID
    );
    let (header, claims) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (default_header.as_bytes(), data),
    };
    // Sign with the algorithm clerk-core reads from this header (serde skips ignored members
    // without checking their UTF-8, so a `serde_json::Value` parse may disagree), else RS256.
    let all = [Algorithm::Rs256, Algorithm::Rs384, Algorithm::Rs512];
    let unsigned = format!("{}.e30.AA", URL_SAFE_NO_PAD.encode(header));
    let alg = ParsedToken::parse(&unsigned, &all).map_or(Algorithm::Rs256, |p| p.header().alg);
    let token = keys.sign(alg, header, claims);
    let claims_json: Option<Value> = serde_json::from_slice(claims).ok();
    // A `now` that passes the time checks when the claims allow it.
    let now = claims_json
        .as_ref()
        .and_then(|c| c.get("exp"))
        .and_then(Value::as_f64)
        .filter(|exp| exp.is_finite() && exp.abs() < 1e15)
        .map_or(UnixTime::from_secs(1_700_000_000), |exp| {
            UnixTime::from_millis((exp * 1000.0) as i64 - 1000)
        });

    let mut options = VerifyOptions::new("https://clerk.example.com", ["https://app.example.com"]);
    options.algorithms = vec![Algorithm::Rs256, Algorithm::Rs384, Algorithm::Rs512];
    options.issuer = IssuerCheck::Skip;
    options.parties = PartyCheck::Any;
    options.accept_pending = true;
    options.clock_skew = std::time::Duration::from_secs(5);

    let Ok(parsed) = ParsedToken::parse(&token, &options.algorithms) else {
        return;
    };
    // We signed it with this key and the header's own algorithm: it must verify.
    assert!(
        parsed.check_signature(&keys.fixed_public).is_ok(),
        "a token signed with the fixed key failed its signature"
    );
    match verify::verify_parsed(&parsed, &keys.fixed_public, &options, now) {
        Ok(auth) => check_auth(&auth, claims),
        Err(err) => {
            assert_ne!(err.reason().as_str(), "token-invalid-signature");
            let _ = err.to_string();
        }
    }
    // With strict options the verdict can only get stricter.
    let strict = VerifyOptions::new("https://clerk.example.com", ["https://app.example.com"]);
    if let Ok(auth) = verify::verify_parsed(&parsed, &keys.fixed_public, &strict, now) {
        assert_eq!(auth.issuer.as_deref(), Some("https://clerk.example.com"));
        assert_eq!(
            auth.authorized_party
                .as_deref()
                .map(|a| a.trim_end_matches('/')),
            Some("https://app.example.com")
        );
        assert!(!auth.is_pending());
    }
});

/// Invariants of a verified token's normalized claims.
fn check_auth(auth: &clerk_core::Auth, claims: &[u8]) {
    // The claims round-trip: what the application reads is exactly the signed JSON object.
    let signed: serde_json::Map<String, Value> =
        serde_json::from_slice(claims).expect("a verified token's claims are a JSON object");
    assert_eq!(
        auth.claims(),
        &signed,
        "claims() differs from the signed claims"
    );
    assert_eq!(
        signed.get("sub").and_then(Value::as_str),
        Some(auth.user_id.as_str())
    );
    assert!(!auth.user_id.is_empty());
    let text = |name: &str| signed.get(name).and_then(Value::as_str);
    assert_eq!(auth.session_id.as_deref(), text("sid"));
    assert_eq!(auth.issuer.as_deref(), text("iss"));
    assert_eq!(auth.authorized_party.as_deref(), text("azp"));
    assert!(auth.claims_version == 1 || auth.claims_version == 2);
    if let Some(org) = &auth.org {
        assert!(!org.id.is_empty());
        if let Some(role) = &org.role {
            assert!(role.starts_with("org:") && role.len() > 4, "role {role:?}");
            assert!(auth.has_role(role));
        }
        if auth.claims_version == 2 {
            // Every v2 permission is `org:<org feature>:<listed permission>`, and no more of
            // them than features × permissions.
            let per: Vec<&str> = signed["o"]
                .get("per")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            assert!(org.permissions.len() <= auth.org_features.len() * per.len());
            for permission in &org.permissions {
                let ok = auth
                    .org_features
                    .iter()
                    .any(|f| per.iter().any(|p| *permission == format!("org:{f}:{p}")));
                assert!(ok, "permission {permission:?} from no feature × permission");
                assert!(auth.has_permission(permission));
            }
        }
    }
    let _ = auth.has_role("org:admin");
    let _ = auth.has_permission("org:reports:read");
}
