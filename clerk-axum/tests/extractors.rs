//! The layer, every extractor and every rejection, in process (`tower::ServiceExt::oneshot`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::middleware::from_fn;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use clerk_axum::middleware::{require_auth, require_org, require_permission, require_role};
use clerk_axum::{
    ActiveOrg, AuthState, ClerkAuth, ClerkLayer, ClerkRejection, RequirePermission, RequireRole,
};
use clerk_core::time::{Clock, UnixTime};
use clerk_core::{AuthDecision, Authenticator, ClerkConfig, HttpClient, HttpError};
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};
use clerk_testkit::{offline, ManualClock, OrgV2, TestKeyPair, TokenBuilder};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::{Layer, Service, ServiceExt};

clerk_axum::role!(OrgAdmin = "org:admin");
clerk_axum::permission!(ReadReports = "org:reports:read");

const NOW: i64 = 1_700_000_000;

/// A clock that counts its reads: the authenticator reads it once per verification.
#[derive(Clone)]
struct CountingClock {
    clock: ManualClock,
    reads: Arc<AtomicUsize>,
}

impl Clock for CountingClock {
    fn now(&self) -> UnixTime {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.clock.now()
    }
}

struct Harness {
    app: Router,
    key: TestKeyPair,
    clock_reads: Arc<AtomicUsize>,
    jwks_fetches: Arc<AtomicUsize>,
}

fn config() -> ClerkConfig {
    ClerkConfig::builder()
        .secret_key("sk_test_clerk_axum")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .expect("a valid test configuration")
}

fn authenticator(http: impl HttpClient) -> (Authenticator, Arc<AtomicUsize>) {
    let clock_reads = Arc::new(AtomicUsize::new(0));
    let clock = CountingClock {
        clock: ManualClock::at(UnixTime::from_secs(NOW)),
        reads: Arc::clone(&clock_reads),
    };
    let authenticator = Authenticator::builder(config())
        .http_client(http)
        .clock(clock)
        .build()
        .expect("an authenticator");
    (authenticator, clock_reads)
}

/// The JWKS of `key`, counting fetches.
fn counting_jwks(key: &TestKeyPair) -> (impl HttpClient, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let inner = Arc::new(offline::jwks_client(&[key]));
    let counter = Arc::clone(&fetches);
    let client = move |request: Request<Vec<u8>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        inner.send(request)
    };
    (client, fetches)
}

async fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id, "session_id": auth.session_id }))
}

async fn public(auth: Option<ClerkAuth>) -> Json<Value> {
    let user_id = auth.map(|auth| auth.user_id.clone());
    Json(json!({ "signed_in": user_id.is_some(), "user_id": user_id }))
}

async fn org(org: ActiveOrg) -> Json<Value> {
    Json(json!({
        "org_id": org.id,
        "org_slug": org.slug,
        "org_role": org.role,
        "org_permissions": org.permissions,
        "user_id": org.auth().user_id,
    }))
}

async fn admin(auth: RequireRole<OrgAdmin>) -> String {
    format!("admin {}", auth.user_id)
}

async fn reports(auth: RequirePermission<ReadReports>) -> String {
    format!("reports {}", auth.user_id)
}

async fn state(state: AuthState) -> &'static str {
    match state.decision() {
        AuthDecision::SignedIn(_) => "signed-in",
        AuthDecision::NoToken => "no-token",
        AuthDecision::Rejected(_) => "rejected",
        AuthDecision::Unavailable(_) => "unavailable",
    }
}

#[allow(clippy::too_many_arguments)]
async fn many(
    a: ClerkAuth,
    b: Option<ClerkAuth>,
    c: ActiveOrg,
    d: RequireRole<OrgAdmin>,
    e: RequirePermission<ReadReports>,
    f: AuthState,
    g: ClerkAuth,
) -> String {
    assert!(b.is_some() && f.auth().is_some());
    assert_eq!(a.user_id, g.user_id);
    assert_eq!(c.auth().user_id, d.user_id);
    assert_eq!(d.user_id, e.user_id);
    a.user_id.clone()
}

fn routes() -> Router {
    let guarded = Router::new()
        .route("/me", get(|| async { "guarded me" }))
        .route_layer(from_fn(require_auth))
        .merge(
            Router::new()
                .route("/org", get(|| async { "guarded org" }))
                .route_layer(from_fn(require_org)),
        )
        .merge(
            Router::new()
                .route("/admin", get(|| async { "guarded admin" }))
                .route_layer(from_fn(require_role::<OrgAdmin>)),
        )
        .merge(
            Router::new()
                .route("/reports", get(|| async { "guarded reports" }))
                .route_layer(from_fn(require_permission::<ReadReports>)),
        );
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/me", get(me))
        .route("/public", get(public))
        .route("/org", get(org))
        .route("/org/admin", get(admin))
        .route("/org/reports", get(reports))
        .route("/state", get(state))
        .route("/many", get(many))
        .nest("/guarded", guarded)
}

fn harness() -> Harness {
    let key = TestKeyPair::fixed(0);
    let (http, jwks_fetches) = counting_jwks(&key);
    let (authenticator, clock_reads) = authenticator(http);
    Harness {
        app: routes().layer(ClerkLayer::new(authenticator)),
        key,
        clock_reads,
        jwks_fetches,
    }
}

/// JWKS endpoint down and no key ever loaded.
fn harness_keys_down() -> Harness {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let down = move |_request: Request<Vec<u8>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err(HttpError::Connect("connection refused".into())) }
    };
    let (authenticator, clock_reads) = authenticator(down);
    Harness {
        app: routes().layer(ClerkLayer::new(authenticator)),
        key: TestKeyPair::fixed(0),
        clock_reads,
        jwks_fetches: fetches,
    }
}

impl Harness {
    fn token(&self) -> TokenBuilder {
        TokenBuilder::v2(&self.key)
            .subject("user_1")
            .session_id("sess_1")
            .issued_at(UnixTime::from_secs(NOW))
            .expires_in(Duration::from_secs(60))
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Response) {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        (response.status(), response)
    }

    async fn bearer(&self, path: &str, token: &str) -> (StatusCode, Response) {
        self.get(path, &[("authorization", &format!("Bearer {token}"))])
            .await
    }
}

async fn body_bytes(response: Response) -> Vec<u8> {
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec()
}

async fn json_body(response: Response) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/json"));
    serde_json::from_slice(&body_bytes(response).await).unwrap()
}

async fn text_body(response: Response) -> String {
    String::from_utf8(body_bytes(response).await).unwrap()
}

fn www_authenticate(response: &Response) -> Option<&str> {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap())
}

fn org_v2_admin() -> OrgV2<&'static str> {
    OrgV2 {
        id: "org_1",
        slug: "acme",
        role: "admin",
        // One permission, one bit: independent of the mask's bit order.
        permissions: vec!["read"],
        feature_permission_masks: vec!["1"],
    }
}

// ---------------------------------------------------------------------------------------------
// ClerkAuth

#[tokio::test]
async fn valid_bearer_token_gives_the_user() {
    let h = harness();
    let (status, response) = h.bearer("/me", &h.token().sign()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({ "user_id": "user_1", "session_id": "sess_1" })
    );
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let h = harness();
    let token = h.token().sign();
    let (status, _) = h
        .get("/me", &[("authorization", &format!("bearer {token}"))])
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn no_token_is_401_with_bare_bearer_challenge() {
    let h = harness();
    let (status, response) = h.get("/me", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(www_authenticate(&response), Some("Bearer"));
    assert_eq!(
        json_body(response).await,
        json!({ "error": "unauthenticated", "reason": "session-token-missing" })
    );
}

async fn assert_invalid_token(response: Response, reason: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert_eq!(
        json_body(response).await,
        json!({ "error": "unauthenticated", "reason": reason })
    );
}

#[tokio::test]
async fn expired_token_is_401_token_expired() {
    let h = harness();
    let token = h.token().issued_at(UnixTime::from_secs(NOW - 3600)).sign();
    let (_, response) = h.bearer("/me", &token).await;
    assert_invalid_token(response, "token-expired").await;
}

#[tokio::test]
async fn bad_signature_is_401_token_invalid_signature() {
    let h = harness();
    // Signed by another key under key 0's kid.
    let token = h.token().sign_with(&TestKeyPair::fixed(1));
    let (_, response) = h.bearer("/me", &token).await;
    assert_invalid_token(response, "token-invalid-signature").await;
}

#[tokio::test]
async fn malformed_authorization_header_is_401_token_invalid() {
    let h = harness();
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc"] {
        let (_, response) = h.get("/me", &[("authorization", value)]).await;
        assert_invalid_token(response, "token-invalid").await;
    }
    let (_, response) = h.bearer("/me", "not-a-jwt").await;
    assert_invalid_token(response, "token-invalid").await;
}

#[tokio::test]
async fn malformed_header_does_not_fall_through_to_the_cookie() {
    let h = harness();
    let cookie = format!("__session={}", h.token().sign());
    let (_, response) = h
        .get(
            "/me",
            &[("authorization", "Basic abc"), ("cookie", cookie.as_str())],
        )
        .await;
    assert_invalid_token(response, "token-invalid").await;
}

#[tokio::test]
async fn session_cookie_signs_in() {
    let h = harness();
    let cookie = format!("theme=dark; __session={}; other=1", h.token().sign());
    let (status, response) = h.get("/me", &[("cookie", cookie.as_str())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_body(response).await["user_id"], "user_1");
}

#[tokio::test]
async fn expired_session_cookie_is_401() {
    let h = harness();
    let token = h.token().issued_at(UnixTime::from_secs(NOW - 3600)).sign();
    let cookie = format!("__session={token}");
    let (_, response) = h.get("/me", &[("cookie", cookie.as_str())]).await;
    assert_invalid_token(response, "token-expired").await;
}

#[tokio::test]
async fn keys_unavailable_is_503_not_401() {
    let h = harness_keys_down();
    let (status, response) = h.bearer("/me", &h.token().sign()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(www_authenticate(&response), None);
    assert_eq!(
        json_body(response).await,
        json!({ "error": "service_unavailable", "reason": "jwk-failed-to-load" })
    );
    assert!(h.jwks_fetches.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn keys_unavailable_without_a_token_is_still_401() {
    // No token means nothing to verify: no key is needed to say "signed out".
    let h = harness_keys_down();
    let (status, _) = h.get("/me", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.jwks_fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn other_clerk_reasons_pass_through() {
    let h = harness();
    let pending = h.token().session_status("pending").sign();
    let (_, response) = h.bearer("/me", &pending).await;
    assert_invalid_token(response, "session-token-pending").await;

    let foreign_party = h.token().authorized_party("https://evil.example").sign();
    let (_, response) = h.bearer("/me", &foreign_party).await;
    assert_invalid_token(response, "token-invalid-authorized-parties").await;

    let not_yet = h.token().issued_at(UnixTime::from_secs(NOW + 3600)).sign();
    let (status, _) = h.bearer("/me", &not_yet).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_is_ignored_when_cookie_auth_is_off() {
    let key = TestKeyPair::fixed(0);
    let config = ClerkConfig::builder()
        .secret_key("sk_test_clerk_axum")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .cookie_auth(false)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(offline::jwks_client(&[&key]))
        .clock(ManualClock::at(UnixTime::from_secs(NOW)))
        .build()
        .unwrap();
    let app = routes().layer(ClerkLayer::new(authenticator));
    let token = TokenBuilder::v2(&key)
        .issued_at(UnixTime::from_secs(NOW))
        .sign();
    let request = Request::get("/me")
        .header("cookie", format!("__session={token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(www_authenticate(&response), Some("Bearer"));
    assert_eq!(json_body(response).await["reason"], "session-token-missing");
}

#[tokio::test]
async fn layer_from_config_works_in_pem_mode() {
    let key = TestKeyPair::fixed(0);
    let config = ClerkConfig::builder()
        .jwt_key(key.public_key_pem())
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let layer = ClerkLayer::from_config(config).unwrap();
    let app = routes().layer(layer);
    // System clock: a token issued now.
    let token = TokenBuilder::v2(&key).subject("user_pem").sign();
    let request = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["user_id"], "user_pem");
}

// ---------------------------------------------------------------------------------------------
// Option<ClerkAuth>

#[tokio::test]
async fn optional_signed_out_is_none() {
    let h = harness();
    let (status, response) = h.get("/public", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({ "signed_in": false, "user_id": null })
    );
}

#[tokio::test]
async fn optional_signed_in_is_some() {
    let h = harness();
    let (status, response) = h.bearer("/public", &h.token().sign()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({ "signed_in": true, "user_id": "user_1" })
    );
}

#[tokio::test]
async fn optional_rejected_token_is_none() {
    let h = harness();
    let expired = h.token().issued_at(UnixTime::from_secs(NOW - 3600)).sign();
    let (status, response) = h.bearer("/public", &expired).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_body(response).await["signed_in"], false);
    let (status, _) = h.get("/public", &[("authorization", "Basic abc")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn optional_still_propagates_503() {
    let h = harness_keys_down();
    let (status, response) = h.bearer("/public", &h.token().sign()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(response).await["reason"], "jwk-failed-to-load");
    // Signed out needs no key.
    let (status, _) = h.get("/public", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// AuthState

#[tokio::test]
async fn auth_state_reports_each_decision() {
    let h = harness();
    assert_eq!(
        text_body(h.bearer("/state", &h.token().sign()).await.1).await,
        "signed-in"
    );
    assert_eq!(text_body(h.get("/state", &[]).await.1).await, "no-token");
    assert_eq!(
        text_body(h.bearer("/state", "x.y.z").await.1).await,
        "rejected"
    );
    let down = harness_keys_down();
    assert_eq!(
        text_body(down.bearer("/state", &down.token().sign()).await.1).await,
        "unavailable"
    );
}

// ---------------------------------------------------------------------------------------------
// ActiveOrg

#[tokio::test]
async fn org_v2_token_gives_the_active_org() {
    let h = harness();
    let token = h
        .token()
        .org_v2(org_v2_admin())
        .features("o:reports")
        .sign();
    let (status, response) = h.bearer("/org", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({
            "org_id": "org_1",
            "org_slug": "acme",
            "org_role": "org:admin",
            "org_permissions": ["org:reports:read"],
            "user_id": "user_1",
        })
    );
}

#[tokio::test]
async fn org_v1_token_gives_the_active_org() {
    let h = harness();
    let token = TokenBuilder::v1(&h.key)
        .subject("user_1")
        .issued_at(UnixTime::from_secs(NOW))
        .org_v1("org_2", "globex", "org:member", ["org:reports:read"])
        .sign();
    let (status, response) = h.bearer("/org", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_body(response).await,
        json!({
            "org_id": "org_2",
            "org_slug": "globex",
            "org_role": "org:member",
            "org_permissions": ["org:reports:read"],
            "user_id": "user_1",
        })
    );
}

#[tokio::test]
async fn no_active_org_is_403() {
    let h = harness();
    for token in [
        h.token().sign(),
        TokenBuilder::v1(&h.key)
            .issued_at(UnixTime::from_secs(NOW))
            .sign(),
    ] {
        let (status, response) = h.bearer("/org", &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            json_body(response).await,
            json!({ "error": "no_active_organization" })
        );
    }
}

#[tokio::test]
async fn org_when_signed_out_is_401() {
    let h = harness();
    let (status, response) = h.get("/org", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(www_authenticate(&response), Some("Bearer"));
    let down = harness_keys_down();
    let (status, _) = down.bearer("/org", &down.token().sign()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

// ---------------------------------------------------------------------------------------------
// RequireRole / RequirePermission

fn forbidden(reason: &str, required: &str) -> Value {
    json!({ "error": "forbidden", "reason": reason, "required": required })
}

#[tokio::test]
async fn role_admin_passes_member_is_403() {
    let h = harness();
    let admin_v2 = h.token().org_v2(org_v2_admin()).sign();
    let (status, response) = h.bearer("/org/admin", &admin_v2).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_body(response).await, "admin user_1");

    let admin_v1 = TokenBuilder::v1(&h.key)
        .issued_at(UnixTime::from_secs(NOW))
        .org_v1("org_1", "acme", "org:admin", Vec::<String>::new())
        .sign();
    let (status, _) = h.bearer("/org/admin", &admin_v1).await;
    assert_eq!(status, StatusCode::OK);

    let member_v2 = h
        .token()
        .org_v2(OrgV2 {
            role: "member",
            ..org_v2_admin()
        })
        .sign();
    let member_v1 = TokenBuilder::v1(&h.key)
        .issued_at(UnixTime::from_secs(NOW))
        .org_v1("org_1", "acme", "org:member", ["org:reports:read"])
        .sign();
    let no_org = h.token().sign();
    for token in [member_v2, member_v1, no_org] {
        let (status, response) = h.bearer("/org/admin", &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            json_body(response).await,
            forbidden("missing_role", "org:admin")
        );
    }
}

#[tokio::test]
async fn role_when_signed_out_or_bad_token_is_401() {
    let h = harness();
    let (status, _) = h.get("/org/admin", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let bad = h
        .token()
        .org_v2(org_v2_admin())
        .sign_with(&TestKeyPair::fixed(1));
    let (_, response) = h.bearer("/org/admin", &bad).await;
    assert_invalid_token(response, "token-invalid-signature").await;
}

#[tokio::test]
async fn permission_present_passes_absent_is_403() {
    let h = harness();
    let with_v2 = h
        .token()
        .org_v2(org_v2_admin())
        .features("o:reports")
        .sign();
    let (status, response) = h.bearer("/org/reports", &with_v2).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_body(response).await, "reports user_1");

    let with_v1 = TokenBuilder::v1(&h.key)
        .issued_at(UnixTime::from_secs(NOW))
        .org_v1("org_1", "acme", "org:member", ["org:reports:read"])
        .sign();
    let (status, _) = h.bearer("/org/reports", &with_v1).await;
    assert_eq!(status, StatusCode::OK);

    // v2: `manage` only, and `read` listed with its bit clear; v1: another permission; and
    // no organization at all.
    let manage_only = h
        .token()
        .org_v2(OrgV2 {
            permissions: vec!["manage"],
            ..org_v2_admin()
        })
        .features("o:reports")
        .sign();
    let read_bit_clear = h
        .token()
        .org_v2(OrgV2 {
            feature_permission_masks: vec!["0"],
            ..org_v2_admin()
        })
        .features("o:reports")
        .sign();
    let without_v1 = TokenBuilder::v1(&h.key)
        .issued_at(UnixTime::from_secs(NOW))
        .org_v1("org_1", "acme", "org:admin", ["org:reports:manage"])
        .sign();
    let no_org = h.token().sign();
    for token in [manage_only, read_bit_clear, without_v1, no_org] {
        let (status, response) = h.bearer("/org/reports", &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            json_body(response).await,
            forbidden("missing_permission", "org:reports:read")
        );
    }
    let (status, _) = h.get("/org/reports", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// route_layer guards

#[tokio::test]
async fn route_layer_guards_protect_their_routes() {
    let h = harness();
    let plain = h.token().sign();
    let member = h
        .token()
        .org_v2(OrgV2 {
            role: "member",
            feature_permission_masks: vec!["1"],
            ..org_v2_admin()
        })
        .features("o:reports")
        .sign();
    let admin = h.token().org_v2(org_v2_admin()).sign();

    let cases: [(&str, Option<&str>, StatusCode); 12] = [
        ("/guarded/me", None, StatusCode::UNAUTHORIZED),
        ("/guarded/me", Some(&plain), StatusCode::OK),
        ("/guarded/org", None, StatusCode::UNAUTHORIZED),
        ("/guarded/org", Some(&plain), StatusCode::FORBIDDEN),
        ("/guarded/org", Some(&member), StatusCode::OK),
        ("/guarded/admin", None, StatusCode::UNAUTHORIZED),
        ("/guarded/admin", Some(&member), StatusCode::FORBIDDEN),
        ("/guarded/admin", Some(&admin), StatusCode::OK),
        ("/guarded/reports", None, StatusCode::UNAUTHORIZED),
        ("/guarded/reports", Some(&admin), StatusCode::FORBIDDEN),
        ("/guarded/reports", Some(&member), StatusCode::OK),
        // route_layer runs only for matched routes: an unknown path stays 404.
        ("/guarded/nothing-here", None, StatusCode::NOT_FOUND),
    ];
    for (path, token, expected) in cases {
        let (status, _) = match token {
            Some(token) => h.bearer(path, token).await,
            None => h.get(path, &[]).await,
        };
        assert_eq!(status, expected, "{path} with token: {}", token.is_some());
    }
    let (_, response) = h.bearer("/guarded/admin", &member).await;
    assert_eq!(
        json_body(response).await,
        forbidden("missing_role", "org:admin")
    );
}

#[tokio::test]
async fn public_routes_stay_open() {
    let h = harness();
    let (status, _) = h.get("/healthz", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.get("/healthz", &[("authorization", "Basic abc")]).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// The layer

#[tokio::test]
async fn missing_layer_is_500_naming_the_layer() {
    let app = routes();
    for path in [
        "/me",
        "/public",
        "/org",
        "/org/admin",
        "/org/reports",
        "/state",
        "/guarded/me",
    ] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        let body = json_body(response).await;
        assert_eq!(body["error"], "internal_error");
        assert_eq!(body["message"], "ClerkLayer is not installed on this route");
    }
}

#[tokio::test]
async fn authentication_runs_once_per_request_whatever_the_extractors() {
    let h = harness();
    let token = h
        .token()
        .org_v2(org_v2_admin())
        .features("o:reports")
        .sign();
    // Warm the key cache.
    let (status, _) = h.bearer("/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.jwks_fetches.load(Ordering::SeqCst), 1);

    let reads = |h: &Harness| h.clock_reads.load(Ordering::SeqCst);
    // One extractor.
    let before = reads(&h);
    let (status, _) = h.bearer("/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    let one_extractor = reads(&h) - before;
    assert!(one_extractor >= 1, "the layer authenticated");

    // No extractor at all: the layer still authenticated, once.
    let before = reads(&h);
    let (status, _) = h.bearer("/healthz", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reads(&h) - before, one_extractor);

    // Seven extractors: the same single authentication.
    let before = reads(&h);
    let (status, response) = h.bearer("/many", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_body(response).await, "user_1");
    assert_eq!(reads(&h) - before, one_extractor);

    // Guard plus extractor: still once.
    let before = reads(&h);
    let (status, _) = h.bearer("/guarded/admin", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reads(&h) - before, one_extractor);

    assert_eq!(h.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn layer_applied_twice_authenticates_once() {
    let key = TestKeyPair::fixed(0);
    let (http, _) = counting_jwks(&key);
    let (authenticator, clock_reads) = authenticator(http);
    let layer = ClerkLayer::new(authenticator);
    let app = routes().route_layer(layer.clone()).layer(layer);
    let token = TokenBuilder::v2(&key)
        .issued_at(UnixTime::from_secs(NOW))
        .subject("user_1")
        .sign();
    let request = |token: &str| {
        Request::get("/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let response = app.clone().oneshot(request(&token)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let before = clock_reads.load(Ordering::SeqCst);
    let response = app.oneshot(request(&token)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A single layer over the warm cache reads the clock this often; twice would be double.
    let single = {
        let h = harness();
        let _ = h.bearer("/me", &token).await;
        let before = h.clock_reads.load(Ordering::SeqCst);
        let _ = h.bearer("/me", &token).await;
        h.clock_reads.load(Ordering::SeqCst) - before
    };
    assert_eq!(clock_reads.load(Ordering::SeqCst) - before, single);
}

#[tokio::test]
async fn clerk_service_is_a_plain_tower_service() {
    let key = TestKeyPair::fixed(0);
    let (http, _) = counting_jwks(&key);
    let (authenticator, _) = authenticator(http);
    let service = ClerkLayer::new(authenticator).layer(tower::service_fn(
        |request: Request<()>| async move {
            let state = request.extensions().get::<AuthState>().cloned();
            Ok::<_, Infallible>(state.and_then(|s| s.auth().map(|a| a.user_id.clone())))
        },
    ));
    let token = TokenBuilder::v2(&key)
        .issued_at(UnixTime::from_secs(NOW))
        .subject("user_9")
        .sign();
    let signed_in = Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let mut ready = service.clone();
    let ready = ready.ready().await.unwrap();
    assert_eq!(
        ready.call(signed_in).await.unwrap().as_deref(),
        Some("user_9")
    );
    let anonymous = Request::get("/").body(()).unwrap();
    assert_eq!(service.oneshot(anonymous).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// The rejection type

#[test]
fn rejections_are_errors_with_statuses() {
    use clerk_axum::Refusal;
    fn assert_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let cases = [
        (
            ClerkRejection(Refusal::MissingToken),
            StatusCode::UNAUTHORIZED,
        ),
        (
            ClerkRejection(Refusal::NoActiveOrganization),
            StatusCode::FORBIDDEN,
        ),
        (
            ClerkRejection(Refusal::MissingRole {
                required: "org:admin",
            }),
            StatusCode::FORBIDDEN,
        ),
        (
            ClerkRejection(Refusal::MissingPermission {
                required: "org:reports:read",
            }),
            StatusCode::FORBIDDEN,
        ),
        (
            ClerkRejection::LAYER_MISSING,
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    ];
    for (rejection, status) in cases {
        assert_error(&rejection);
        assert_eq!(rejection.status(), status);
        assert!(!rejection.to_string().is_empty());
    }
    assert!(ClerkRejection::LAYER_MISSING
        .to_string()
        .contains("ClerkLayer"));
}
