//! Clerk's JavaScript SDK as the oracle for machine credentials ([design §11 and §12](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#12-fidelity-clerks-own-sdks-are-the-oracle)).
//!
//! `conformance/clerk-js/corpus.json`'s `machine_cases` record, for opaque credentials and
//! machine JWTs, what `@clerk/backend` decides: `isMachineToken`, `authenticateRequest` with
//! five `acceptsToken` sets (whether the type is accepted or `token-type-mismatch`), and, for
//! JWT-shaped tokens, `verifyMachineAuthToken` with the networkless key (ok with the id,
//! subject, scopes, claims, client id and expiry it builds, or the error code). This test
//! makes the same decisions with `clerk_core::machine`.
//!
//! The SDK's verify calls for opaque credentials go to a closed port in the generator, so
//! only the accepted-set decision before them is compared (an unreachable Clerk is
//! `unexpected-error` there and a 503 here, design §3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use clerk_core::keys::VerifyingKey;
use clerk_core::machine::{classify, token_type_of, verify_machine_jwt, AcceptedTokens, TokenType};
use clerk_core::time::UnixTime;
use serde_json::Value;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../conformance/clerk-js/corpus.json"
);

fn corpus() -> Value {
    serde_json::from_str(&std::fs::read_to_string(CORPUS).unwrap()).unwrap()
}

fn accepted(names: &Value) -> AcceptedTokens {
    let types: Vec<TokenType> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|n| TokenType::from_name(n.as_str().unwrap()).unwrap())
        .collect();
    AcceptedTokens::of(&types)
}

fn check(case: &Value, key: &VerifyingKey, now: UnixTime) -> Vec<String> {
    let mut failures = Vec::new();
    let name = case["name"].as_str().unwrap();
    let token = case["token"].as_str().unwrap();
    let sdk_machine = case["is_machine_token"].as_bool().unwrap();
    if classify(token).is_some() != sdk_machine {
        failures.push(format!(
            "{name}: isMachineToken {sdk_machine}, we classify {:?}",
            classify(token)
        ));
    }
    for probe in case["accepts"].as_array().unwrap() {
        let set = accepted(&probe["accepts"]);
        let sdk_mismatch = probe["reason"] == "token-type-mismatch";
        let ours_mismatch = !set.accepts(token_type_of(token));
        // A session token on a set with sessions is judged by the session path; a
        // token-type-mismatch there comes from its category (`cat`), which the session
        // verifier refuses as token-type-mismatch too (clerk_js_oracle.rs checks it).
        let session_path = !ours_mismatch && token_type_of(token) == TokenType::SessionToken;
        if sdk_mismatch != ours_mismatch && !(session_path && sdk_mismatch) {
            failures.push(format!(
                "{name}: accepts {}: SDK {}, we {}",
                probe["accepts"],
                probe["reason"],
                if ours_mismatch {
                    "token-type-mismatch"
                } else {
                    "accept the type"
                }
            ));
        }
    }
    let Some(sdk) = case.get("verify") else {
        return failures;
    };
    let ours = verify_machine_jwt(token, key, Duration::from_secs(5), now);
    match (sdk["ok"].as_bool(), ours) {
        (Some(true), Ok(auth)) => {
            let expected = |field: &str| sdk[field].clone();
            let checks = [
                ("token_type", Value::from(auth.token_type.as_str())),
                ("id", Value::from(auth.id.clone())),
                ("subject", Value::from(auth.subject.clone())),
                ("scopes", Value::from(auth.scopes.clone())),
                ("claims", auth.claims.clone().unwrap_or(Value::Null)),
                (
                    "client_id",
                    auth.client_id.clone().map_or(Value::Null, Value::from),
                ),
                (
                    "expiration",
                    auth.expires_at
                        .map_or(Value::Null, |t| Value::from(t.as_millis())),
                ),
            ];
            for (field, value) in checks {
                if expected(field) != value {
                    failures.push(format!(
                        "{name}: {field}: SDK {}, we {value}",
                        expected(field)
                    ));
                }
            }
        }
        (Some(false), Err(e)) if sdk["code"] == e.reason() => {}
        (_, ours) => failures.push(format!(
            "{name}: verifyMachineAuthToken {sdk}, we {:?}",
            ours.map(|a| a.subject.clone()).map_err(|e| e.reason())
        )),
    }
    failures
}

#[test]
fn machine_credentials_are_decided_as_clerk_js_decides() {
    let corpus = corpus();
    let key = VerifyingKey::from_pem(corpus["public_key_pem"].as_str().unwrap()).unwrap();
    let now = UnixTime::from_millis(corpus["now_ms"].as_i64().unwrap());
    let cases = corpus["machine_cases"]
        .as_array()
        .expect("machine_cases in the corpus");
    assert!(cases.len() >= 50, "the corpus lost machine cases");
    let failures: Vec<String> = cases.iter().flat_map(|c| check(c, &key, now)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} machine cases differ from @clerk/backend:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The corpus covers what it claims: both JWT forms verified, and refusals of each kind.
    let verified = |t: &str| {
        cases
            .iter()
            .filter(|c| c["verify"]["ok"] == true && c["verify"]["token_type"] == t)
            .count()
    };
    assert!(verified("m2m_token") >= 5 && verified("oauth_token") >= 4);
    for code in ["token-invalid", "token-verification-failed"] {
        assert!(cases.iter().any(|c| c["verify"]["code"] == code), "{code}");
    }
}
