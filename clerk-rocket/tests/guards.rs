//! The guards, catchers, sentinels and the fairing's settings, through
//! `rocket::local::asynchronous::Client` against the test kit's mock Clerk (JWKS on loopback).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clerk_core::time::{Clock, SystemClock, UnixTime};
use clerk_rocket::{
    ActiveOrg, AuthState, ClerkAuth, ClerkFairing, ClerkRejection, OptionalClerkAuth,
    RequirePermission, RequireRole,
};
use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::{Fault, MockClerk, OrgV2, TestKeyPair};
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;
use rocket::serde::json::Json;
use rocket::{get, routes, Build, Rocket};
use serde_json::{json, Value};

clerk_rocket::role!(OrgAdmin = "org:admin");
clerk_rocket::permission!(ReadReports = "org:reports:read");

#[get("/me")]
fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id, "session_id": auth.session_id }))
}

#[get("/public")]
fn public(auth: OptionalClerkAuth) -> Json<Value> {
    let user_id = auth.as_ref().map(|auth| auth.user_id.clone());
    Json(json!({ "signed_in": user_id.is_some(), "user_id": user_id }))
}

#[get("/org")]
fn org(org: ActiveOrg) -> Json<Value> {
    Json(json!({ "org_id": org.id, "org_role": org.role }))
}

#[get("/admin")]
fn admin(auth: RequireRole<OrgAdmin>) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id }))
}

#[get("/reports")]
fn reports(auth: RequirePermission<ReadReports>) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id }))
}

/// Four guards on one request.
#[get("/stacked")]
fn stacked(
    _a: ClerkAuth,
    _b: ActiveOrg,
    _c: RequireRole<OrgAdmin>,
    _d: RequirePermission<ReadReports>,
) -> &'static str {
    "ok"
}

#[get("/state")]
fn state(state: AuthState) -> String {
    match state.require() {
        Ok(auth) => format!("signed in as {}", auth.user_id),
        Err(rejection) => format!("not signed in: {}", rejection.reason().unwrap_or("-")),
    }
}

/// Counts the authenticator's clock reads: one per token verification (cached or not).
#[derive(Default)]
struct CountingClock(AtomicUsize);

impl Clock for CountingClock {
    fn now(&self) -> UnixTime {
        self.0.fetch_add(1, Ordering::SeqCst);
        SystemClock.now()
    }
}

fn figment(clerk: &MockClerk) -> Figment {
    rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("clerk.secret_key", clerk.secret_key()))
        .merge(("clerk.publishable_key", clerk.publishable_key()))
        .merge(("clerk.api_url", clerk.url()))
        .merge(("clerk.frontend_hosts", [DEFAULT_AUTHORIZED_PARTY]))
}

fn rocket_with(figment: Figment, fairing: ClerkFairing) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(fairing.ignore_environment())
        .register("/", clerk_rocket::catchers())
        .mount(
            "/",
            routes![me, public, org, admin, reports, stacked, state],
        )
}

struct Harness {
    clerk: MockClerk,
    client: Client,
    clock: Arc<CountingClock>,
}

async fn harness() -> Harness {
    let clerk = MockClerk::builder().start().await;
    let clock = Arc::new(CountingClock::default());
    let fairing = ClerkFairing::new().clock(clock.clone());
    let client = Client::tracked(rocket_with(figment(&clerk), fairing))
        .await
        .unwrap();
    Harness {
        clerk,
        client,
        clock,
    }
}

struct Answer {
    status: Status,
    challenge: Option<String>,
    content_type: Option<String>,
    body: Value,
}

impl Harness {
    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(path.to_owned());
        if let Some(token) = token {
            request = request.header(Header::new("Authorization", format!("Bearer {token}")));
        }
        let response = request.dispatch().await;
        let status = response.status();
        let challenge = response
            .headers()
            .get_one("WWW-Authenticate")
            .map(str::to_owned);
        let content_type = response.content_type().map(|c| c.to_string());
        let text = response.into_string().await.unwrap_or_default();
        Answer {
            status,
            challenge,
            content_type,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    fn token(&self, sub: &str) -> String {
        self.clerk
            .token_v2()
            .subject(sub)
            .session_id("sess_1")
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .sign()
    }

    fn org_token(&self, sub: &str, role: &str, permissions: Vec<&str>) -> String {
        let mask = if permissions.is_empty() {
            "0".to_owned()
        } else {
            ((1u32 << permissions.len()) - 1).to_string()
        };
        self.clerk
            .token_v2()
            .subject(sub)
            .session_id("sess_2")
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .org_v2(OrgV2 {
                id: "org_1",
                slug: "acme",
                role,
                permissions,
                feature_permission_masks: vec![mask.as_str()],
            })
            .features("o:reports")
            .sign()
    }
}

fn assert_401(answer: &Answer, reason: &str, challenge: &str) {
    assert_eq!(answer.status, Status::Unauthorized, "{}", answer.body);
    assert_eq!(answer.challenge.as_deref(), Some(challenge));
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        answer.body,
        json!({ "error": "unauthenticated", "reason": reason })
    );
}

#[tokio::test]
async fn clerk_auth_accepts_a_valid_token_and_answers_401_otherwise() {
    let h = harness().await;
    let answer = h.get("/me", Some(&h.token("user_1"))).await;
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({ "user_id": "user_1", "session_id": "sess_1" })
    );

    assert_401(&h.get("/me", None).await, "session-token-missing", "Bearer");
    let forged = h
        .clerk
        .token_v2()
        .subject("user_1")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign_with(&TestKeyPair::fixed(2));
    assert_401(
        &h.get("/me", Some(&forged)).await,
        "token-invalid-signature",
        r#"Bearer error="invalid_token""#,
    );
    let expired = h
        .clerk
        .token_v2()
        .subject("user_1")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .issued_at(UnixTime::from_secs(1_600_000_000))
        .sign();
    assert_401(
        &h.get("/me", Some(&expired)).await,
        "token-expired",
        r#"Bearer error="invalid_token""#,
    );
    let foreign = h
        .clerk
        .token_v2()
        .subject("user_1")
        .authorized_party("https://evil.example")
        .sign();
    let answer = h.get("/me", Some(&foreign)).await;
    assert_eq!(answer.status, Status::Unauthorized);
    assert_eq!(answer.body["error"], "unauthenticated");
    // A malformed Authorization header is a bad token, never anonymous.
    let response = h
        .client
        .get("/me")
        .header(Header::new("Authorization", "Basic dXNlcjpwYXNz"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Unauthorized);
    let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(
        body,
        json!({ "error": "unauthenticated", "reason": "token-invalid" })
    );
}

#[tokio::test]
async fn the_session_cookie_is_read_when_there_is_no_header() {
    let h = harness().await;
    let response = h
        .client
        .get("/me")
        .header(Header::new(
            "Cookie",
            format!("theme=dark; __session={}", h.token("user_c")),
        ))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(body["user_id"], "user_c");
}

#[tokio::test]
async fn the_cookie_jar_counts_and_cookie_auth_off_ignores_every_cookie() {
    let h = harness().await;
    let response = h
        .client
        .get("/me")
        .cookie(rocket::http::Cookie::new("__session", h.token("user_j")))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(body["user_id"], "user_j");

    let figment = figment(&h.clerk).merge(("clerk.cookie_auth", false));
    let client = Client::tracked(rocket_with(figment, ClerkFairing::new()))
        .await
        .unwrap();
    let token = h.token("user_j");
    let from_header = client
        .get("/me")
        .header(Header::new("Cookie", format!("__session={token}")))
        .dispatch()
        .await;
    let from_jar = client
        .get("/me")
        .cookie(rocket::http::Cookie::new("__session", token.clone()))
        .dispatch()
        .await;
    for response in [from_header, from_jar] {
        assert_eq!(response.status(), Status::Unauthorized);
        let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
        assert_eq!(
            body,
            json!({ "error": "unauthenticated", "reason": "session-token-missing" })
        );
    }
}

#[tokio::test]
async fn optional_auth_is_none_when_signed_out_or_rejected_and_503_when_keys_are_down() {
    let h = harness().await;
    let answer = h.get("/public", None).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.body, json!({ "signed_in": false, "user_id": null }));
    let answer = h.get("/public", Some(&h.token("user_1"))).await;
    assert_eq!(
        answer.body,
        json!({ "signed_in": true, "user_id": "user_1" })
    );
    let forged = h
        .clerk
        .token_v2()
        .subject("user_1")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign_with(&TestKeyPair::fixed(2));
    let answer = h.get("/public", Some(&forged)).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.body, json!({ "signed_in": false, "user_id": null }));
}

#[tokio::test]
async fn no_signing_key_is_503_for_required_and_optional_guards() {
    let h = harness().await;
    h.clerk.set_fault(Fault::Status(503));
    let token = h.token("user_1");
    for path in ["/me", "/public", "/org", "/admin", "/reports"] {
        let answer = h.get(path, Some(&token)).await;
        assert_eq!(answer.status, Status::ServiceUnavailable, "{path}");
        assert_eq!(answer.challenge, None);
        assert_eq!(
            answer.body,
            json!({ "error": "service_unavailable", "reason": "jwk-failed-to-load" }),
            "{path}"
        );
    }
    // Without a token there is nothing to verify: the optional guard is signed out.
    assert_eq!(h.get("/public", None).await.status, Status::Ok);
}

#[tokio::test]
async fn organization_role_and_permission_guards() {
    let h = harness().await;
    let admin_token = h.org_token("user_1", "admin", vec!["read"]);
    let member = h.org_token("user_2", "member", vec![]);
    let reader = h.org_token("user_4", "member", vec!["read"]);
    let no_org = h.token("user_3");

    let answer = h.get("/org", Some(&admin_token)).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(
        answer.body,
        json!({ "org_id": "org_1", "org_role": "org:admin" })
    );
    let answer = h.get("/org", Some(&no_org)).await;
    assert_eq!(answer.status, Status::Forbidden);
    assert_eq!(answer.body, json!({ "error": "no_active_organization" }));
    assert_eq!(answer.challenge, None);

    assert_eq!(h.get("/admin", Some(&admin_token)).await.status, Status::Ok);
    for token in [&member, &no_org] {
        let answer = h.get("/admin", Some(token)).await;
        assert_eq!(answer.status, Status::Forbidden);
        assert_eq!(
            answer.body,
            json!({ "error": "forbidden", "reason": "missing_role", "required": "org:admin" })
        );
    }
    assert_eq!(h.get("/reports", Some(&reader)).await.status, Status::Ok);
    assert_eq!(
        h.get("/reports", Some(&admin_token)).await.status,
        Status::Ok
    );
    for token in [&member, &no_org] {
        let answer = h.get("/reports", Some(token)).await;
        assert_eq!(answer.status, Status::Forbidden);
        assert_eq!(
            answer.body,
            json!({
                "error": "forbidden",
                "reason": "missing_permission",
                "required": "org:reports:read",
            })
        );
    }
    for path in ["/org", "/admin", "/reports"] {
        assert_401(&h.get(path, None).await, "session-token-missing", "Bearer");
    }
}

#[tokio::test]
async fn stacked_guards_verify_once_per_request() {
    let h = harness().await;
    let token = h.org_token("user_1", "admin", vec!["read"]);
    // Warm the key cache so both measured requests take the same path.
    assert_eq!(h.get("/me", Some(&token)).await.status, Status::Ok);

    let before = h.clock.0.load(Ordering::SeqCst);
    assert_eq!(h.get("/me", Some(&token)).await.status, Status::Ok);
    let one_guard = h.clock.0.load(Ordering::SeqCst) - before;
    assert!(one_guard > 0, "a verification reads the clock");

    let before = h.clock.0.load(Ordering::SeqCst);
    let answer = h.get("/stacked", Some(&token)).await;
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    let four_guards = h.clock.0.load(Ordering::SeqCst) - before;
    assert_eq!(four_guards, one_guard, "four guards, one verification");

    // A later request is authenticated again (the cache is per request).
    let before = h.clock.0.load(Ordering::SeqCst);
    assert_eq!(h.get("/me", Some(&token)).await.status, Status::Ok);
    assert_eq!(h.clock.0.load(Ordering::SeqCst) - before, one_guard);
}

#[tokio::test]
async fn auth_state_is_the_raw_decision() {
    let h = harness().await;
    let answer = h.get("/state", Some(&h.token("user_9"))).await;
    assert_eq!(answer.body, Value::String("signed in as user_9".into()));
    let answer = h.get("/state", None).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(
        answer.body,
        Value::String("not signed in: session-token-missing".into())
    );
}

#[tokio::test]
async fn catchers_leave_other_errors_alone() {
    #[get("/teapot")]
    fn forbidden() -> Status {
        Status::Forbidden
    }
    let clerk = MockClerk::builder().start().await;
    let rocket = rocket_with(figment(&clerk), ClerkFairing::new()).mount("/x", routes![forbidden]);
    let client = Client::tracked(rocket).await.unwrap();
    let response = client.get("/x/teapot").dispatch().await;
    assert_eq!(response.status(), Status::Forbidden);
    let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(body, json!({ "error": "forbidden" }));
}

#[tokio::test]
async fn a_route_with_a_guard_but_no_fairing_aborts_the_launch() {
    let rocket = rocket::custom(rocket::Config::figment().merge(("log_level", "off")))
        .mount("/", routes![me]);
    let error = rocket.ignite().await.unwrap_err();
    match error.kind() {
        rocket::error::ErrorKind::SentinelAborts(sentries) => {
            assert_eq!(sentries.len(), 1);
            assert!(
                sentries[0].type_name.contains("ClerkAuth"),
                "{:?}",
                sentries[0].type_name
            );
        }
        other => panic!("expected a sentinel abort, got {other:?}"),
    }
    // With the fairing the same routes launch.
    let clerk = MockClerk::builder().start().await;
    let rocket = rocket_with(figment(&clerk), ClerkFairing::new());
    assert!(rocket.ignite().await.is_ok());
}

#[tokio::test]
async fn the_stored_user_guard_needs_a_store() {
    #[get("/user")]
    fn user(user: clerk_rocket::ClerkUser) -> String {
        user.user.clerk_id.clone().unwrap_or_default()
    }
    let clerk = MockClerk::builder().start().await;
    let rocket = rocket::custom(figment(&clerk))
        .attach(ClerkFairing::new().ignore_environment())
        .mount("/", routes![user]);
    let error = rocket.ignite().await.unwrap_err();
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::SentinelAborts(s) if s[0].type_name.contains("ClerkUser")),
        "{:?}",
        error.kind()
    );
}

async fn ignite_error(figment: Figment) -> Vec<String> {
    let rocket = rocket::custom(figment.merge(("log_level", "off")))
        .attach(ClerkFairing::new().ignore_environment())
        .mount("/", routes![me]);
    match rocket.ignite().await {
        Ok(_) => panic!("a bad setting must stop the launch"),
        Err(error) => match error.kind() {
            rocket::error::ErrorKind::FailedFairings(failures) => {
                failures.iter().map(|info| info.name.to_owned()).collect()
            }
            other => panic!("expected a failed fairing, got {other:?}"),
        },
    }
}

#[tokio::test]
async fn a_bad_setting_stops_the_launch_with_a_message_naming_it() {
    let clerk = MockClerk::builder().start().await;
    let cases: Vec<(Figment, &str)> = vec![
        (
            rocket::Config::figment()
                .merge(("clerk.secret_key", clerk.secret_key()))
                .merge(("clerk.publishable_key", clerk.publishable_key())),
            "CLERK_FRONTEND_HOSTS",
        ),
        (
            figment(&clerk).merge(("clerk.cache_timeout", "soon")),
            "CLERK_CACHE_TIMEOUT",
        ),
        (
            figment(&clerk).merge(("clerk.publishable_key", "pk_test_not-base64!")),
            "CLERK_PUBLISHABLE_KEY",
        ),
        (
            figment(&clerk).merge(("clerk.SECRET_KEY", "sk_test_other")),
            "clerk.SECRET_KEY and clerk.secret_key",
        ),
        (
            figment(&clerk).merge(("clerk.secret_kye", "sk_test_typo")),
            "clerk.secret_kye",
        ),
        (
            figment(&clerk).merge(("clerk.api_timeout_ms", json!({ "a": 1 }))),
            "clerk.api_timeout_ms",
        ),
    ];
    for (figment, setting) in cases {
        let error = clerk_rocket::settings::from_figment_only(&figment).unwrap_err();
        assert!(error.to_string().starts_with(setting), "{setting}: {error}");
        let error = ClerkFairing::new()
            .ignore_environment()
            .build_state(&figment)
            .unwrap_err();
        assert!(error.to_string().contains(setting), "{setting}: {error}");
        assert_eq!(ignite_error(figment).await, ["Clerk"], "{setting}");
    }
}

#[tokio::test]
async fn settings_take_any_key_spelling_numbers_and_lists() {
    let clerk = MockClerk::builder().start().await;
    let figment = rocket::Config::figment()
        .merge(("clerk.CLERK_SECRET_KEY", clerk.secret_key()))
        .merge(("clerk.Publishable_Key", clerk.publishable_key()))
        .merge(("clerk.clerk_api_url", clerk.url()))
        .merge((
            "clerk.frontend_hosts",
            [DEFAULT_AUTHORIZED_PARTY, "https://admin.example.com"],
        ))
        .merge(("clerk.session_revalidation_seconds", 120u64))
        .merge(("clerk.api_timeout_ms", -5i64))
        .merge(("clerk.cookie_auth", false));
    // Signed numbers reach clerk-core as written, and it names what it refuses.
    let error = clerk_rocket::settings::from_figment_only(&figment).unwrap_err();
    assert!(
        error.to_string().starts_with("CLERK_API_TIMEOUT_MS"),
        "{error}"
    );
    let figment = figment.merge(("clerk.api_timeout_ms", 2500i32));
    let config = clerk_rocket::settings::from_figment_only(&figment).unwrap();
    assert_eq!(config.api_timeout.as_millis(), 2500);
    assert_eq!(config.api_url(), clerk.url());
    assert_eq!(config.session_revalidation.as_secs(), 120);
    assert!(!config.cookie_auth);
    assert!(config.secret_key().is_some());
    let hosts = "http://localhost:3000,https://admin.example.com";
    let joined = figment.clone().merge(("clerk.frontend_hosts", hosts));
    assert!(clerk_rocket::settings::from_figment_only(&joined).is_ok());
    // The fairing built from it verifies tokens (the API URL reached the JWKS fetch).
    let client = Client::tracked(rocket_with(figment, ClerkFairing::new()))
        .await
        .unwrap();
    let token = clerk
        .token_v2()
        .subject("user_k")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign();
    let response = client
        .get("/me")
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
}

#[test]
fn rejections_read_like_clerk_axums() {
    use clerk_core::provision::ProvisionError;
    use clerk_rocket::Refusal;
    let cases = [
        (ClerkRejection(Refusal::MissingToken), 401),
        (ClerkRejection(Refusal::NoActiveOrganization), 403),
        (
            ClerkRejection(Refusal::MissingRole {
                required: "org:admin",
            }),
            403,
        ),
        (ClerkRejection::from(ProvisionError::NotFound), 401),
        (ClerkRejection::from(ProvisionError::Deleted), 401),
        (ClerkRejection::FAIRING_MISSING, 500),
        (ClerkRejection::STORE_MISSING, 500),
    ];
    for (rejection, status) in cases {
        assert_eq!(rejection.status().code, status, "{rejection:?}");
        let body = rejection.body();
        if status == 401 {
            assert_eq!(body["error"], "unauthenticated");
            assert_eq!(body["reason"], rejection.reason().unwrap());
            assert!(rejection.challenge().unwrap().starts_with("Bearer"));
        } else {
            assert!(rejection.challenge().is_none());
        }
    }
}
