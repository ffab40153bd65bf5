//! Real session tokens from the public test fixtures of Clerk's JavaScript backend SDK
//! (`tests/fixtures/clerk-js-tokens.json`, see `tests/fixtures/README.md`): each case must reach its `expect` at its `now`,
//! through the JWKS (served by a one-line HTTP client) and in networkless PEM mode.
#![allow(clippy::unwrap_used)]

use clerk_core::time::{Clock, UnixTime};
use clerk_core::{AuthError, Authenticator, ClerkConfig, Reason};
use serde_json::Value;
use std::sync::Arc;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/clerk-js-tokens.json"
);

struct At(UnixTime);
impl Clock for At {
    fn now(&self) -> UnixTime {
        self.0
    }
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("read {FIXTURE}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn config(fx: &Value, pem: Option<&str>) -> ClerkConfig {
    let mut builder = ClerkConfig::builder()
        .publishable_key(fx["publishable_key"].as_str().unwrap())
        .frontend_host(fx["authorized_party"].as_str().unwrap());
    builder = match pem {
        Some(pem) => builder.jwt_key(pem),
        None => builder.secret_key("sk_test_fixture"),
    };
    builder.build().unwrap()
}

fn authenticator(fx: &Value, pem: Option<&str>, now: i64) -> Authenticator {
    let jwks = serde_json::to_vec(&fx["jwks"]).unwrap();
    let jwks = Arc::new(jwks);
    Authenticator::builder(config(fx, pem))
        .clock(At(UnixTime::from_secs(now)))
        .http_client(move |req: http::Request<Vec<u8>>| {
            assert_eq!(req.uri().path(), "/v1/jwks");
            assert_eq!(req.headers()["authorization"], "Bearer sk_test_fixture");
            // Clerk's JS SDK pins the Backend API version on the JWKS fetch too.
            assert_eq!(
                req.headers()["clerk-api-version"],
                clerk_core::backend_api::DEFAULT_API_VERSION
            );
            let body = (*jwks).clone();
            async move { Ok(http::Response::builder().status(200).body(body).unwrap()) }
        })
        .build()
        .unwrap()
}

fn run(case: &Value, fx: &Value) -> Result<Arc<clerk_core::Auth>, AuthError> {
    let pem = case
        .get("key")
        .and_then(Value::as_str)
        .map(|name| fx[name].as_str().unwrap());
    let auth = authenticator(fx, pem, case["now"].as_i64().unwrap());
    let token = case["token"].as_str().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(auth.verify(token))
}

#[test]
fn publishable_key_gives_the_fixture_issuer() {
    let fx = fixture();
    for key in ["publishable_key", "publishable_key_live"] {
        let pk =
            clerk_core::publishable_key::PublishableKey::parse(fx[key].as_str().unwrap()).unwrap();
        assert_eq!(pk.issuer(), fx["expected_issuer"].as_str().unwrap());
    }
}

#[test]
fn every_case_reaches_its_expectation() {
    let fx = fixture();
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 7, "fixture has {} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let result = run(case, &fx);
        match expect {
            "valid" => {
                let auth = result.unwrap_or_else(|e| panic!("{name}: expected valid, got {e}"));
                if let Some(sub) = case.get("sub").and_then(Value::as_str) {
                    assert_eq!(auth.user_id, sub, "{name}");
                }
                if let Some(sid) = case.get("sid").and_then(Value::as_str) {
                    assert_eq!(auth.session_id.as_deref(), Some(sid), "{name}");
                }
            }
            "token-expired" => {
                assert_eq!(result.unwrap_err().reason(), Reason::TokenExpired, "{name}")
            }
            "token-invalid-signature" => {
                assert_eq!(
                    result.unwrap_err().reason(),
                    Reason::TokenInvalidSignature,
                    "{name}"
                );
            }
            other => {
                // "invalid (…)": any rejection of the token itself, never an infrastructure error.
                assert!(
                    other.starts_with("invalid"),
                    "{name}: unknown expectation {other}"
                );
                let err = result.expect_err(name);
                assert!(matches!(err, AuthError::Token(_)), "{name}: {err}");
            }
        }
    }
}

#[test]
fn the_valid_token_also_verifies_in_pem_mode_and_fails_with_the_other_pem() {
    let fx = fixture();
    let valid = fx["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "valid")
        .unwrap()
        .clone();
    let mut pem_case = valid.clone();
    pem_case["key"] = "public_key_pem".into();
    assert!(run(&pem_case, &fx).is_ok());
    pem_case["key"] = "other_public_key_pem".into();
    assert_eq!(
        run(&pem_case, &fx).unwrap_err().reason(),
        Reason::TokenInvalidSignature
    );
}
