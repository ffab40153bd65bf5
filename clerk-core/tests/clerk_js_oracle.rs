//! Clerk's JavaScript SDK is the oracle ([design §12](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#12-fidelity-clerks-own-sdks-are-the-oracle)).
//!
//! `conformance/clerk-js/corpus.json` records what `@clerk/backend` / `@clerk/shared` (versions
//! pinned in that directory's `package-lock.json`) decide on several hundred session tokens:
//! `authenticateRequest` and `verifyToken` at a fixed instant, the auth object
//! `signedInAuthObject` builds from the claims, and `has()` on a list of queries per case.
//! This test makes the same decisions with clerk-core, without Node, and lists every case
//! where they differ. Deliberate differences are in [`DIVERGENCES`], each with its reason,
//! and are checked too (our side of them must stay what the table says).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_core::auth::{Check, Reverification, VerificationLevel};
use clerk_core::keys::VerifyingKey;
use clerk_core::time::UnixTime;
use clerk_core::verify::{verify, VerifyOptions};
use clerk_core::Auth;
use serde_json::Value;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../conformance/clerk-js/corpus.json"
);

/// Cases where clerk-core decides differently from Clerk's JavaScript SDK on purpose:
/// (case name, our decision, why). Each is a rejection reason; the SDK's decision is in the
/// corpus.
const DIVERGENCES: &[(&str, &str, &str)] = &[
    (
        "token: sub empty",
        "token-verification-failed",
        "the SDK accepts `sub: \"\"` (it only checks the type) and then has() is always false; \
         we never make a session without a user id",
    ),
    (
        "token: bad signature, mch_ subject",
        "token-invalid-signature",
        "reason only: authenticateRequest classifies machine tokens from the unverified payload \
         before checking the signature (token-type-mismatch); we check the signature first \
         (design §3), so a forged token reports its signature",
    ),
    (
        "token: cat M2M and bad signature",
        "token-invalid-signature",
        "reason only: as above, for the unverified `cat` header",
    ),
    (
        "token: alg RS384",
        "token-invalid-algorithm",
        "reason only: the SDK imports a networkless PEM as an RS256 key, so RS384 fails as \
         token-verification-failed; our default allow-list is RS256 (design §3)",
    ),
    (
        "token: alg RS512",
        "token-invalid-algorithm",
        "reason only: as for RS384",
    ),
    (
        "token: header says RS512, signed RS256",
        "token-invalid-algorithm",
        "reason only: as for RS384",
    ),
];

fn corpus() -> Value {
    let text = std::fs::read_to_string(CORPUS).unwrap_or_else(|e| {
        panic!("read {CORPUS}: {e} (regenerate with conformance/clerk-js/check.sh)")
    });
    serde_json::from_str(&text).unwrap()
}

/// What the SDK decided on the request path: `Ok` (signed in) or the rejection reason.
fn sdk_decision(case: &Value) -> Result<(), String> {
    let request = &case["authenticate_request"];
    let verify_token = &case["verify_token"];
    if request["to_auth_error"].is_string() {
        // The SDK verified the token, then threw building the auth object: no session. We
        // refuse such tokens as `token-invalid`.
        return Err("token-invalid".into());
    }
    if request["reason"] == "token-type-mismatch" {
        return Err("token-type-mismatch".into());
    }
    if verify_token["ok"] != true {
        return Err(verify_token["reason"].as_str().unwrap().into());
    }
    match (
        request["status"].as_str(),
        request["is_authenticated"].as_bool(),
        request["session_status"].as_str(),
    ) {
        (Some("signed-in"), Some(true), _) => Ok(()),
        (Some("signed-in"), Some(false), Some("pending")) => Err("session-token-pending".into()),
        other => panic!("{}: unexpected SDK state {other:?}", case["name"]),
    }
}

/// Clerk's `prefixWithOrg`: `^(org:)*` becomes one `org:`.
fn prefix_with_org(value: &str) -> String {
    let mut rest = value;
    while let Some(r) = rest.strip_prefix("org:") {
        rest = r;
    }
    format!("org:{rest}")
}

fn truthy_str(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// The auth object's fields, compared with ours; returns the differences.
fn compare_auth(ours: &Auth, sdk: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |field: &str, ours: Value, theirs: Value| {
        if ours != theirs {
            diffs.push(format!("{field}: ours {ours}, sdk {theirs}"));
        }
    };
    check("userId", ours.user_id.clone().into(), sdk["userId"].clone());
    check(
        "sessionId",
        ours.session_id.clone().into(),
        sdk["sessionId"].clone(),
    );
    check(
        "sessionStatus",
        ours.session_status.clone().into(),
        sdk["sessionStatus"].clone(),
    );
    // An organization exists for has() only when orgId is truthy (checkOrgAuthorization),
    // and Clerk's resolveAuthState drops role and slug without it.
    let sdk_org = truthy_str(&sdk["orgId"]);
    check(
        "orgId",
        ours.org_id().map(str::to_owned).into(),
        sdk_org.map(str::to_owned).into(),
    );
    if let (Some(org), Some(_)) = (&ours.org, sdk_org) {
        check("orgSlug", org.slug.clone().into(), sdk["orgSlug"].clone());
        // We store the role as has() compares it: prefixWithOrg(orgRole).
        check(
            "orgRole",
            org.role.clone().into(),
            truthy_str(&sdk["orgRole"]).map(prefix_with_org).into(),
        );
        // A non-array orgPermissions grants nothing in has(); we hold an empty list.
        let sdk_permissions = match &sdk["orgPermissions"] {
            Value::Array(items) => Value::Array(items.clone()),
            _ => Value::Array(Vec::new()),
        };
        check(
            "orgPermissions",
            serde_json::to_value(&org.permissions).unwrap(),
            sdk_permissions,
        );
    }
    // factorVerificationAge is the raw `fva`; ours is typed, and set only for an array of two
    // whole numbers that are -1 or >= 0 (has() reads fractional ones as the SDK does).
    let sdk_fva = match &sdk["factorVerificationAge"] {
        Value::Array(ages)
            if ages.len() == 2
                && ages
                    .iter()
                    .all(|a| a.as_i64().is_some_and(|a| a == -1 || a >= 0)) =>
        {
            Value::Array(ages.clone())
        }
        _ => Value::Null,
    };
    let ours_fva = ours
        .factor_verification_age
        .map(|f| serde_json::json!([f.first_factor_minutes, f.second_factor_minutes]))
        .unwrap_or(Value::Null);
    check("factorVerificationAge", ours_fva, sdk_fva);
    check(
        "actor",
        ours.actor.clone().unwrap_or(Value::Null),
        sdk["actor"].clone(),
    );
    diffs
}

/// One has() query of the corpus as our checks; `None` when a part has no typed form (an
/// invalid reverification configuration), which Clerk answers `false`.
fn checks(query: &Value) -> Option<Vec<Check>> {
    let mut checks = Vec::new();
    for (key, value) in query.as_object().unwrap() {
        let text = value.as_str();
        checks.push(match key.as_str() {
            "role" => Check::role(text?),
            "permission" => Check::permission(text?),
            "feature" => Check::feature(text?),
            "plan" => Check::plan(text?),
            "reverification" => Check::reverification(match value {
                Value::String(preset) => Reverification::preset(preset)?,
                Value::Object(config) => {
                    let level = VerificationLevel::from_name(config["level"].as_str()?)?;
                    let minutes = u32::try_from(config["afterMinutes"].as_u64()?).ok()?;
                    Reverification::custom(level, minutes)?
                }
                _ => return None,
            }),
            other => panic!("unknown has() key {other}"),
        });
    }
    Some(checks)
}

#[test]
fn clerk_core_decides_as_clerks_javascript_sdk() {
    let corpus = corpus();
    let key = VerifyingKey::from_pem(corpus["public_key_pem"].as_str().unwrap()).unwrap();
    let parties: Vec<&str> = corpus["authorized_parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let options = VerifyOptions::new(corpus["issuer"].as_str().unwrap(), parties);
    let mut pending_ok = options.clone();
    pending_ok.accept_pending = true;
    let now = UnixTime::from_millis(corpus["now_ms"].as_i64().unwrap());

    let cases = corpus["cases"].as_array().unwrap();
    let (mut passed, mut has_checked, mut divergent) = (0usize, 0usize, 0usize);
    let mut mismatches = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let token = case["token"].as_str().unwrap();
        let mut problems = Vec::new();

        let ours = verify(token, &key, &options, now).map_err(|e| e.reason().as_str().to_owned());
        let divergence = DIVERGENCES.iter().find(|(n, ..)| *n == name);
        let expected = match divergence {
            Some((_, ours_reason, _)) => {
                divergent += 1;
                Err((*ours_reason).to_owned())
            }
            None => sdk_decision(case),
        };
        if ours.as_ref().map(|_| ()) != expected.as_ref().map(|_| ()) {
            problems.push(format!(
                "decision: ours {:?}, expected {:?} (sdk: authenticateRequest {}, verifyToken {})",
                ours.as_ref().map(|_| "signed-in"),
                expected,
                case["authenticate_request"],
                case["verify_token"]
            ));
        }

        // The auth object and has(), for every case whose token we accept (pending included).
        if let (Ok(auth), Some(sdk_auth)) =
            (verify(token, &key, &pending_ok, now), case.get("auth"))
        {
            problems.extend(compare_auth(&auth, sdk_auth));
            for item in case["has"].as_array().unwrap() {
                let query = &item["query"];
                let sdk = item["result"].as_bool().unwrap();
                let ours = checks(query).is_some_and(|checks| auth.has_all(&checks));
                has_checked += 1;
                if ours != sdk {
                    problems.push(format!("has({query}): ours {ours}, sdk {sdk}"));
                }
            }
        } else if ours.is_ok() {
            problems.push("accepted a token the SDK could not build an auth object for".into());
        }

        if problems.is_empty() {
            passed += 1;
        } else {
            mismatches.push(format!("- {name}:\n    {}", problems.join("\n    ")));
        }
    }
    println!(
        "clerk-js oracle (@clerk/backend {}, @clerk/shared {}): {passed}/{} cases agree \
         ({divergent} documented divergences), {has_checked} has() queries",
        corpus["sdk"]["@clerk/backend"],
        corpus["sdk"]["@clerk/shared"],
        cases.len()
    );
    assert!(
        cases.len() >= 500,
        "the corpus has only {} cases",
        cases.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Clerk's JavaScript SDK:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn the_reverification_refusal_is_the_body_clerks_sdk_builds() {
    let corpus = corpus();
    for item in corpus["reverification_bodies"].as_array().unwrap() {
        let check = match item["preset"].as_str() {
            Some(preset) => Reverification::preset(preset).unwrap(),
            None => Reverification::custom(
                VerificationLevel::from_name(item["level"].as_str().unwrap()).unwrap(),
                u32::try_from(item["afterMinutes"].as_u64().unwrap()).unwrap(),
            )
            .unwrap(),
        };
        assert_eq!(
            clerk_core::rejection::reverification_error_body(check),
            item["body"],
            "{item}"
        );
    }
}
