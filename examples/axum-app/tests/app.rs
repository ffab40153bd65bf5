//! Every route of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) (`/admin`, hybrid mode, is in tests/admin.rs) and every rejection, in process
//! (`tower::ServiceExt::oneshot`), against the test kit's mock Clerk (JWKS + Backend API) and a
//! temporary SQLite file, with webhooks signed by the test kit's sender.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use axum_app::{app, AppConfig, AppState, DEFAULT_BIND, DEFAULT_DATABASE_URL};
use clerk_core::model::ClerkUserData;
use clerk_core::store::UserStore;
use clerk_core::time::UnixTime;
use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::webhooks::{bodies, Signature, WebhookSender, TEST_SECRET};
use clerk_testkit::{Fault, MockClerk, OrgV2, TestKeyPair};
use clerk_webhooks::MAX_BODY_BYTES;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// A temporary SQLite file, removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "axum-app-test-{}-{n}-{}.db",
            std::process::id(),
            clerk_testkit::webhooks::random_msg_id()
        ));
        TempDb(path)
    }

    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

struct Harness {
    clerk: MockClerk,
    app: Router,
    state: AppState,
    _db: TempDb,
}

fn settings(clerk: &MockClerk, db: &TempDb) -> HashMap<&'static str, String> {
    HashMap::from([
        ("CLERK_SECRET_KEY", clerk.secret_key().to_owned()),
        ("CLERK_PUBLISHABLE_KEY", clerk.publishable_key()),
        ("CLERK_API_URL", clerk.url()),
        ("CLERK_FRONTEND_HOSTS", DEFAULT_AUTHORIZED_PARTY.to_owned()),
        ("CLERK_WEBHOOK_SIGNING_KEY", TEST_SECRET.to_owned()),
        ("DATABASE_URL", db.url()),
    ])
}

async fn harness_with(edit: impl FnOnce(&mut HashMap<&'static str, String>)) -> Harness {
    let clerk = MockClerk::builder().start().await;
    let db = TempDb::new();
    let mut env = settings(&clerk, &db);
    edit(&mut env);
    let config = AppConfig::from_lookup(|name| env.get(name).cloned()).unwrap();
    let state = AppState::connect(&config).await.unwrap();
    Harness {
        clerk,
        app: app(state.clone()),
        state,
        _db: db,
    }
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    fn sender(&self) -> WebhookSender {
        WebhookSender::new("http://app.test/webhooks/clerk", TEST_SECRET)
    }

    async fn webhook(&self, event: &Value) -> Answer {
        let sender = self.sender();
        let request = sender.delivery(bodies::to_bytes(event)).to_request();
        self.send(request.map(Body::from)).await
    }

    /// A session token for `sub` with session `sess_1`, no organization.
    fn token(&self, sub: &str) -> String {
        self.clerk
            .token_v2()
            .subject(sub)
            .session_id("sess_1")
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .sign()
    }

    /// A token in organization `org_1` (`acme`) with `role`, granted `permissions` of the
    /// `reports` feature.
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

fn assert_unauthenticated(answer: &Answer, reason: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let challenge = answer.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert_eq!(
        answer.body,
        json!({ "error": "unauthenticated", "reason": reason })
    );
}

#[tokio::test]
async fn healthz_is_200() {
    let h = harness().await;
    let answer = h.get("/healthz", None).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn public_reports_who_is_signed_in() {
    let h = harness().await;
    let answer = h.get("/api/public", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({ "signed_in": false, "user_id": null }));

    let answer = h.get("/api/public", Some(&h.token("user_1"))).await;
    assert_eq!(answer.status, 200);
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
    let answer = h.get("/api/public", Some(&forged)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({ "signed_in": false, "user_id": null }));
}

#[tokio::test]
async fn me_serves_a_user_a_webhook_created() {
    let h = harness().await;
    let event = bodies::UserBody::new("user_ada", "ada@example.com")
        .first_name("Ada")
        .last_name("Lovelace")
        .username("ada")
        .event("user.created");
    let answer = h.webhook(&event).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let answer = h.get("/api/me", Some(&h.token("user_ada"))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.body.as_object().unwrap();
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "clerk_id",
            "email",
            "first_name",
            "full_name",
            "image_url",
            "last_name",
            "org_id",
            "org_permissions",
            "org_role",
            "org_slug",
            "session_id",
            "username"
        ]
    );
    assert_eq!(answer.body["clerk_id"], "user_ada");
    assert_eq!(answer.body["email"], "ada@example.com");
    assert_eq!(answer.body["first_name"], "Ada");
    assert_eq!(answer.body["last_name"], "Lovelace");
    assert_eq!(answer.body["full_name"], "Ada Lovelace");
    assert_eq!(answer.body["username"], "ada");
    assert!(answer.body["image_url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert_eq!(answer.body["session_id"], "sess_1");
    assert_eq!(answer.body["org_id"], Value::Null);
    assert_eq!(answer.body["org_slug"], Value::Null);
    assert_eq!(answer.body["org_role"], Value::Null);
    assert_eq!(answer.body["org_permissions"], json!([]));
    assert_eq!(h.clerk.backend_requests().len(), 0, "no Backend API call");
}

#[tokio::test]
async fn me_fetches_a_missing_user_from_the_backend_api_and_stores_it() {
    let h = harness().await;
    let at = UnixTime::from_secs(1_700_000_000);
    let mut seeded = ClerkUserData::new("user_jit", at, at).with_email("grace@example.com", true);
    seeded.first_name = Some("Grace".into());
    seeded.last_name = Some("Hopper".into());
    h.clerk.seed_users(vec![seeded]);
    assert!(h
        .state
        .store()
        .user_by_clerk_id("user_jit")
        .await
        .unwrap()
        .is_none());

    let token = h.org_token("user_jit", "admin", vec!["read"]);
    let answer = h.get("/api/me", Some(&token)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["email"], "grace@example.com");
    assert_eq!(answer.body["full_name"], "Grace Hopper");
    assert_eq!(answer.body["session_id"], "sess_2");
    assert_eq!(answer.body["org_id"], "org_1");
    assert_eq!(answer.body["org_slug"], "acme");
    assert_eq!(answer.body["org_role"], "org:admin");
    assert_eq!(answer.body["org_permissions"], json!(["org:reports:read"]));
    let stored = h.state.store().user_by_clerk_id("user_jit").await.unwrap();
    assert_eq!(stored.unwrap().email.as_deref(), Some("grace@example.com"));

    // Served from the store from now on.
    let before = h.clerk.backend_requests().len();
    let answer = h.get("/api/me", Some(&token)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(h.clerk.backend_requests().len(), before);
}

#[tokio::test]
async fn me_rejects_unknown_users_and_bad_tokens_with_401() {
    let h = harness().await;
    assert_unauthenticated(
        &h.get("/api/me", Some(&h.token("user_nobody"))).await,
        "user-not-found",
    );
    assert_unauthenticated(&h.get("/api/me", None).await, "session-token-missing");
    let forged = h
        .clerk
        .token_v2()
        .subject("user_1")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign_with(&TestKeyPair::fixed(2));
    assert_unauthenticated(
        &h.get("/api/me", Some(&forged)).await,
        "token-invalid-signature",
    );
    let expired = h
        .clerk
        .token_v2()
        .subject("user_1")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .issued_at(UnixTime::from_secs(1_600_000_000))
        .sign();
    assert_unauthenticated(&h.get("/api/me", Some(&expired)).await, "token-expired");
    let answer = h.get("/api/me", Some("not-a-jwt")).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["error"], "unauthenticated");
}

#[tokio::test]
async fn me_is_503_when_no_key_can_be_had() {
    let h = harness().await;
    h.clerk.set_fault(Fault::Status(503));
    let answer = h.get("/api/me", Some(&h.token("user_1"))).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"], "service_unavailable");
    assert_eq!(answer.body["reason"], "jwk-failed-to-load");
}

#[tokio::test]
async fn org_routes_follow_the_active_organization_role_and_permissions() {
    let h = harness().await;
    let admin = h.org_token("user_1", "admin", vec!["read"]);
    let member = h.org_token("user_2", "member", vec![]);
    let no_org = h.token("user_3");

    let answer = h.get("/api/org", Some(&admin)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({
            "org_id": "org_1",
            "org_slug": "acme",
            "org_role": "org:admin",
            "org_permissions": ["org:reports:read"],
        })
    );
    let answer = h.get("/api/org", Some(&member)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["org_role"], "org:member");
    assert_eq!(answer.body["org_permissions"], json!([]));
    let answer = h.get("/api/org", Some(&no_org)).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body, json!({ "error": "no_active_organization" }));
    assert_unauthenticated(&h.get("/api/org", None).await, "session-token-missing");

    assert_eq!(h.get("/api/org/admin", Some(&admin)).await.status, 200);
    for token in [&member, &no_org] {
        let answer = h.get("/api/org/admin", Some(token)).await;
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert_eq!(answer.body["required"], "org:admin");
    }
    assert_unauthenticated(
        &h.get("/api/org/admin", None).await,
        "session-token-missing",
    );

    assert_eq!(h.get("/api/org/reports", Some(&admin)).await.status, 200);
    let reader = h.org_token("user_4", "member", vec!["read"]);
    assert_eq!(h.get("/api/org/reports", Some(&reader)).await.status, 200);
    for token in [&member, &no_org] {
        let answer = h.get("/api/org/reports", Some(token)).await;
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert_eq!(answer.body["required"], "org:reports:read");
    }
    assert_unauthenticated(
        &h.get("/api/org/reports", None).await,
        "session-token-missing",
    );
}

#[tokio::test]
async fn webhooks_answer_per_design_section_6() {
    let h = harness().await;
    let sender = h.sender();
    let event = bodies::user_created("user_w", "w@example.com");
    let delivery = sender.delivery(bodies::to_bytes(&event));
    let answer = h.send(delivery.to_request().map(Body::from)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let stored = h.state.store().user_by_clerk_id("user_w").await.unwrap();
    assert!(stored.is_some());
    // The same svix id again: 2xx, applied once.
    let answer = h.send(delivery.to_request().map(Body::from)).await;
    assert_eq!(answer.status, 200);
    // An event type without a store effect.
    let answer = h
        .webhook(&bodies::email_created("ema_1", "w@example.com"))
        .await;
    assert_eq!(answer.status, 200);

    let tampered = sender
        .delivery(bodies::to_bytes(&event))
        .signature(Signature::Tampered);
    let answer = h.send(tampered.to_request().map(Body::from)).await;
    assert_eq!(answer.status, 400);
    let unparseable = sender.delivery(b"[1,2,3]".to_vec());
    assert_eq!(
        h.send(unparseable.to_request().map(Body::from))
            .await
            .status,
        400
    );

    let get = Request::get("/webhooks/clerk").body(Body::empty()).unwrap();
    let answer = h.send(get).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "POST");

    let big = sender.delivery(vec![b' '; MAX_BODY_BYTES + 1]);
    let answer = h.send(big.to_request().map(Body::from)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn webhooks_without_a_signing_key_are_503() {
    let h = harness_with(|env| {
        env.remove("CLERK_WEBHOOK_SIGNING_KEY");
    })
    .await;
    let answer = h
        .webhook(&bodies::user_created("user_w", "w@example.com"))
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body["error"], "webhooks_not_configured");
}

#[tokio::test]
async fn a_clerk_token_never_opens_admin_and_unknown_paths_are_404() {
    // The rest of /admin is in tests/admin.rs.
    let h = harness().await;
    let answer = h.get("/admin", Some(&h.token("user_1"))).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.headers["location"], "/admin/login");
    assert_eq!(h.get("/nope", None).await.status, 404);
}

#[tokio::test]
async fn the_app_serves_over_real_http_too() {
    let h = harness().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum_app::serve(listener, h.state.clone()));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let answer = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let sender = WebhookSender::new(format!("http://{addr}/webhooks/clerk"), TEST_SECRET);
    let sent = sender
        .send_json(&bodies::user_created("user_http", "h@example.com"))
        .await
        .unwrap();
    assert_eq!(sent.status, 200);
    let me = client
        .get(format!("http://{addr}/api/me"))
        .bearer_auth(h.token("user_http"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let me: Value = serde_json::from_slice(&me).unwrap();
    assert_eq!(me["email"], "h@example.com");
    server.abort();
}

#[test]
fn debug_of_the_config_hides_secrets_and_url_passwords() {
    use clerk_testkit::contract::redaction::{assert_hides_secrets, settings_with_secrets};
    let settings = settings_with_secrets();
    let config = AppConfig::from_lookup(|name| settings.get(name).cloned()).unwrap();
    assert_hides_secrets(&format!("{config:?} {config:#?}"));
}

#[test]
fn configuration_defaults_and_errors_name_the_setting() {
    let base = HashMap::from([
        ("CLERK_SECRET_KEY", "sk_test_x".to_owned()),
        (
            "CLERK_PUBLISHABLE_KEY",
            clerk_testkit::mint::publishable_key_for("clerk.example.test", false),
        ),
        ("CLERK_FRONTEND_HOSTS", "http://localhost:3000".to_owned()),
    ]);
    let config = AppConfig::from_lookup(|name| base.get(name).cloned()).unwrap();
    assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
    assert_eq!(config.database_url, "sqlite://clerk-app.db?mode=rwc");
    assert_eq!(config.bind.to_string(), DEFAULT_BIND);
    assert_eq!(config.bind.to_string(), "127.0.0.1:3000");

    let mut bad = base.clone();
    bad.insert("BIND", "localhost".to_owned());
    let error = AppConfig::from_lookup(|name| bad.get(name).cloned()).unwrap_err();
    assert!(error.to_string().starts_with("BIND"), "{error}");

    let mut no_hosts = base;
    no_hosts.remove("CLERK_FRONTEND_HOSTS");
    let error = AppConfig::from_lookup(|name| no_hosts.get(name).cloned()).unwrap_err();
    assert!(
        error.to_string().contains("CLERK_FRONTEND_HOSTS"),
        "{error}"
    );
}

/// Session mode as wired in the app: a browser (Clerk's `__session` cookie) gets a session
/// served without a token, which a `user.updated` ban (through the cached store the webhook
/// processor writes through) ends at the next request; a bearer client gets none.
#[tokio::test]
async fn browser_sessions_are_served_and_end_when_the_user_is_banned() {
    let h = harness().await;
    assert_eq!(
        h.webhook(&bodies::user_created("user_s", "s@example.com"))
            .await
            .status,
        200
    );
    let token = h.token("user_s");
    let bearer = h.get("/api/me", Some(&token)).await;
    assert_eq!(bearer.status, 200);
    assert!(
        bearer.headers.get("set-cookie").is_none(),
        "API clients stay stateless"
    );

    let browser = h
        .send(
            Request::get("/api/me")
                .header("cookie", format!("__session={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(browser.status, 200);
    let cookie = browser.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let with_session = |cookie: &str| {
        Request::get("/api/me")
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap()
    };
    let served = h.send(with_session(&cookie)).await;
    assert_eq!(served.status, 200, "served from the session, no token");
    assert_eq!(served.body["email"], "s@example.com");

    let banned = bodies::UserBody::new("user_s", "s@example.com")
        .banned(true)
        .updated_at(UnixTime::from_secs(2_000_000_000).as_millis())
        .event("user.updated");
    assert_eq!(h.webhook(&banned).await.status, 200);
    let after = h.send(with_session(&cookie)).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.body);
}

/// Design §10: a session established on one instance is served by another sharing the
/// database (or Redis) (its own pool, caches and session manager), without a token.
async fn served_across_instances(edit: impl Fn(&mut HashMap<&'static str, String>)) {
    let h = harness_with(&edit).await;
    assert_eq!(
        h.webhook(&bodies::user_created("user_i", "i@example.com"))
            .await
            .status,
        200
    );
    let mut env = settings(&h.clerk, &h._db);
    edit(&mut env);
    let config = AppConfig::from_lookup(|name| env.get(name).cloned()).unwrap();
    let other = app(AppState::connect(&config).await.unwrap());

    let token = h.token("user_i");
    let browser = h
        .send(
            Request::get("/api/me")
                .header("cookie", format!("__session={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(browser.status, 200);
    let cookie = browser.headers["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();

    let response = other
        .oneshot(
            Request::get("/api/me")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "served by the other instance");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["email"], "i@example.com");
}

#[tokio::test]
async fn a_session_established_on_one_instance_is_served_by_another() {
    served_across_instances(|_| {}).await;
}

/// The same with `REDIS_URL`: the session records live in Redis.
#[tokio::test]
async fn with_redis_a_session_is_served_by_another_instance() {
    let Ok(url) = std::env::var("CLERK_TEST_REDIS_URL") else {
        eprintln!("skipped: CLERK_TEST_REDIS_URL is not set");
        return;
    };
    served_across_instances(|env| {
        env.insert("REDIS_URL", url.clone());
    })
    .await;
}
