//! Every route of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) (except `/admin`, hybrid mode) and every rejection, in process
//! (`rocket::local::asynchronous::Client`), against the test kit's mock Clerk (JWKS + Backend
//! API) and a temporary SQLite file, with webhooks signed by the test kit's sender. The same
//! cases as examples/axum-app/tests/app.rs, with the same expected answers.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clerk_core::model::ClerkUserData;
use clerk_core::store::{Store, UserStore};
use clerk_core::time::UnixTime;
use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::webhooks::{bodies, Signature, WebhookSender, TEST_SECRET};
use clerk_testkit::{Fault, MockClerk, OrgV2, TestKeyPair};
use clerk_webhooks::MAX_BODY_BYTES;
use rocket::http::{Header, Method, Status};
use rocket::local::asynchronous::Client;
use rocket_app::{
    open_cached_store, open_stores, rocket, AppConfig, DEFAULT_BIND, DEFAULT_DATABASE_URL,
};
use serde_json::{json, Value};

/// A temporary SQLite file, removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "rocket-app-test-{}-{n}-{}.db",
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
    client: Client,
    store: Arc<dyn Store>,
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
    let stores = open_stores(&config).await.unwrap();
    let store = Arc::clone(&stores.store);
    let rocket = rocket(&config, stores).configure(
        rocket::Config::figment()
            .merge(config.figment())
            .merge(("log_level", "off")),
    );
    let client = Client::tracked(rocket).await.unwrap();
    Harness {
        clerk,
        client,
        store,
        _db: db,
    }
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

struct Answer {
    status: Status,
    headers: HashMap<String, String>,
    body: Value,
}

impl Harness {
    async fn send(&self, request: rocket::local::asynchronous::LocalRequest<'_>) -> Answer {
        let response = request.dispatch().await;
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|h| (h.name().as_str().to_ascii_lowercase(), h.value().to_owned()))
            .collect();
        let bytes = response.into_bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(path.to_owned());
        if let Some(token) = token {
            request = request.header(Header::new("Authorization", format!("Bearer {token}")));
        }
        self.send(request).await
    }

    fn sender(&self) -> WebhookSender {
        WebhookSender::new("http://app.test/webhooks/clerk", TEST_SECRET)
    }

    /// Sends a signed delivery as the local client's request.
    async fn deliver(&self, request: http::Request<Vec<u8>>) -> Answer {
        let (parts, body) = request.into_parts();
        let method: Method = parts.method.as_str().parse().unwrap();
        let mut local = self
            .client
            .req(method, parts.uri.path().to_owned())
            .body(body);
        for (name, value) in &parts.headers {
            local = local.header(Header::new(
                name.as_str().to_owned(),
                value.to_str().unwrap().to_owned(),
            ));
        }
        self.send(local).await
    }

    async fn webhook(&self, event: &Value) -> Answer {
        let sender = self.sender();
        self.deliver(sender.delivery(bodies::to_bytes(event)).to_request())
            .await
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
    assert_eq!(answer.status, Status::Unauthorized, "{}", answer.body);
    let challenge = &answer.headers["www-authenticate"];
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
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.body, json!({ "status": "ok" }));
}

#[tokio::test]
async fn public_reports_who_is_signed_in() {
    let h = harness().await;
    let answer = h.get("/api/public", None).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.body, json!({ "signed_in": false, "user_id": null }));

    let answer = h.get("/api/public", Some(&h.token("user_1"))).await;
    assert_eq!(answer.status, Status::Ok);
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
    assert_eq!(answer.status, Status::Ok);
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
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    assert_eq!(answer.body, json!({ "ok": true, "outcome": "applied" }));

    let answer = h.get("/api/me", Some(&h.token("user_ada"))).await;
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
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
        .store
        .user_by_clerk_id("user_jit")
        .await
        .unwrap()
        .is_none());

    let token = h.org_token("user_jit", "admin", vec!["read"]);
    let answer = h.get("/api/me", Some(&token)).await;
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    assert_eq!(answer.body["email"], "grace@example.com");
    assert_eq!(answer.body["full_name"], "Grace Hopper");
    assert_eq!(answer.body["session_id"], "sess_2");
    assert_eq!(answer.body["org_id"], "org_1");
    assert_eq!(answer.body["org_slug"], "acme");
    assert_eq!(answer.body["org_role"], "org:admin");
    assert_eq!(answer.body["org_permissions"], json!(["org:reports:read"]));
    let stored = h.store.user_by_clerk_id("user_jit").await.unwrap();
    assert_eq!(stored.unwrap().email.as_deref(), Some("grace@example.com"));

    // Served from the store from now on.
    let before = h.clerk.backend_requests().len();
    let answer = h.get("/api/me", Some(&token)).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(h.clerk.backend_requests().len(), before);
}

#[tokio::test]
async fn me_rejects_unknown_users_and_bad_tokens_with_401() {
    let h = harness().await;
    let answer = h.get("/api/me", Some(&h.token("user_nobody"))).await;
    assert_unauthenticated(&answer, "user-not-found");
    assert_eq!(
        answer.headers["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    let answer = h.get("/api/me", None).await;
    assert_unauthenticated(&answer, "session-token-missing");
    assert_eq!(answer.headers["www-authenticate"], "Bearer");
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
    assert_eq!(answer.status, Status::Unauthorized);
    assert_eq!(answer.body["error"], "unauthenticated");
}

#[tokio::test]
async fn me_is_503_when_no_key_can_be_had() {
    let h = harness().await;
    h.clerk.set_fault(Fault::Status(503));
    let answer = h.get("/api/me", Some(&h.token("user_1"))).await;
    assert_eq!(answer.status, Status::ServiceUnavailable, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({ "error": "service_unavailable", "reason": "jwk-failed-to-load" })
    );
}

#[tokio::test]
async fn me_is_503_when_the_backend_api_is_down_for_a_missing_user() {
    let h = harness().await;
    let token = h.token("user_jit_down");
    // Keys first, then the outage: only the Backend API call fails.
    assert_eq!(
        h.get("/api/public", Some(&token)).await.body["signed_in"],
        true
    );
    // 401 (a revoked secret key): not retried, so the test does not wait out back-offs.
    h.clerk.set_fault(Fault::Status(401));
    let answer = h.get("/api/me", Some(&token)).await;
    assert_eq!(answer.status, Status::ServiceUnavailable, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({ "error": "service_unavailable", "reason": "backend-api-unavailable" })
    );
}

#[tokio::test]
async fn org_routes_follow_the_active_organization_role_and_permissions() {
    let h = harness().await;
    let admin = h.org_token("user_1", "admin", vec!["read"]);
    let member = h.org_token("user_2", "member", vec![]);
    let no_org = h.token("user_3");

    let answer = h.get("/api/org", Some(&admin)).await;
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
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
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.body["org_role"], "org:member");
    assert_eq!(answer.body["org_permissions"], json!([]));
    let answer = h.get("/api/org", Some(&no_org)).await;
    assert_eq!(answer.status, Status::Forbidden);
    assert_eq!(answer.body, json!({ "error": "no_active_organization" }));
    assert_unauthenticated(&h.get("/api/org", None).await, "session-token-missing");

    let answer = h.get("/api/org/admin", Some(&admin)).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(
        answer.body,
        json!({ "ok": true, "org_id": "org_1", "required_role": "org:admin" })
    );
    for token in [&member, &no_org] {
        let answer = h.get("/api/org/admin", Some(token)).await;
        assert_eq!(answer.status, Status::Forbidden, "{}", answer.body);
        assert_eq!(
            answer.body,
            json!({ "error": "forbidden", "reason": "missing_role", "required": "org:admin" })
        );
    }
    assert_unauthenticated(
        &h.get("/api/org/admin", None).await,
        "session-token-missing",
    );

    assert_eq!(
        h.get("/api/org/reports", Some(&admin)).await.status,
        Status::Ok
    );
    let reader = h.org_token("user_4", "member", vec!["read"]);
    let answer = h.get("/api/org/reports", Some(&reader)).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(
        answer.body,
        json!({
            "ok": true,
            "org_id": "org_1",
            "required_permission": "org:reports:read",
            "reports": [],
        })
    );
    for token in [&member, &no_org] {
        let answer = h.get("/api/org/reports", Some(token)).await;
        assert_eq!(answer.status, Status::Forbidden, "{}", answer.body);
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
    let answer = h.deliver(delivery.to_request()).await;
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    assert!(h.store.user_by_clerk_id("user_w").await.unwrap().is_some());
    // The same svix id again: 2xx, applied once.
    let answer = h.deliver(delivery.to_request()).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(
        answer.body,
        json!({ "ok": true, "outcome": "already_processed" })
    );
    // An event type without a store effect.
    let answer = h
        .webhook(&bodies::email_created("ema_1", "w@example.com"))
        .await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.body, json!({ "ok": true, "outcome": "ignored" }));

    let tampered = sender
        .delivery(bodies::to_bytes(&event))
        .signature(Signature::Tampered);
    let answer = h.deliver(tampered.to_request()).await;
    assert_eq!(answer.status, Status::BadRequest);
    assert_eq!(
        answer.body,
        json!({ "error": "invalid_webhook", "reason": "verification_failed" })
    );
    let unparseable = sender.delivery(b"[1,2,3]".to_vec());
    let answer = h.deliver(unparseable.to_request()).await;
    assert_eq!(answer.status, Status::BadRequest);
    assert_eq!(answer.body["error"], "invalid_webhook");

    for method in [Method::Get, Method::Put, Method::Delete, Method::Patch] {
        let answer = h.send(h.client.req(method, "/webhooks/clerk")).await;
        assert_eq!(answer.status, Status::MethodNotAllowed, "{method}");
        assert_eq!(answer.headers["allow"], "POST");
    }

    let big = sender.delivery(vec![b' '; MAX_BODY_BYTES + 1]);
    let answer = h.deliver(big.to_request()).await;
    assert_eq!(answer.status, Status::PayloadTooLarge);
    // Nothing of it was recorded; a normal delivery still applies.
    let answer = h
        .webhook(&bodies::user_created("user_after", "after@example.com"))
        .await;
    assert_eq!(answer.status, Status::Ok);
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
    assert_eq!(answer.status, Status::ServiceUnavailable);
    assert_eq!(answer.body, json!({ "error": "webhooks_not_configured" }));
}

#[tokio::test]
async fn unknown_paths_are_an_empty_404() {
    let h = harness().await;
    let response = h.client.get("/nope").dispatch().await;
    assert_eq!(response.status(), Status::NotFound);
    assert_eq!(response.into_bytes().await.unwrap_or_default(), b"");
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
    // BIND becomes Rocket's address and port.
    let rocket_config: rocket::Config = config.figment().extract().unwrap();
    assert_eq!(rocket_config.address.to_string(), "127.0.0.1");
    assert_eq!(rocket_config.port, 3000);

    assert_eq!(config.redis_url, None);

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

#[test]
fn the_binary_refuses_a_bad_setting_naming_it() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rocket-app"))
        .env_clear()
        .env("CLERK_SECRET_KEY", "sk_test_x")
        .env(
            "CLERK_PUBLISHABLE_KEY",
            clerk_testkit::mint::publishable_key_for("clerk.example.test", false),
        )
        .env("CLERK_FRONTEND_HOSTS", "http://localhost:3000")
        .env("CLERK_CACHE_TIMEOUT", "soon")
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CLERK_CACHE_TIMEOUT"), "{stderr}");
}

#[tokio::test]
async fn with_redis_the_cache_is_invalidated_by_webhooks() {
    let Ok(url) = std::env::var("CLERK_TEST_REDIS_URL") else {
        eprintln!("skipped: CLERK_TEST_REDIS_URL is not set");
        return;
    };
    let h = harness_with(|env| {
        env.insert("REDIS_URL", url);
    })
    .await;
    // A fresh id: the Redis server is shared with other tests and runs.
    let id = format!("user_{}", clerk_testkit::webhooks::random_msg_id());
    let user = |name: &str| {
        bodies::UserBody::new(&id, &format!("{id}@example.com"))
            .first_name(name)
            .event("user.updated")
    };
    let mut first = user("First");
    first["data"]["updated_at"] = json!(1_700_000_000_000u64);
    assert_eq!(h.webhook(&first).await.status, Status::Ok);
    let token = h.token(&id);
    assert_eq!(
        h.get("/api/me", Some(&token)).await.body["first_name"],
        "First"
    );
    let mut second = user("Second");
    second["data"]["updated_at"] = json!(1_700_000_100_000u64);
    assert_eq!(h.webhook(&second).await.status, Status::Ok);
    assert_eq!(
        h.get("/api/me", Some(&token)).await.body["first_name"],
        "Second",
        "the webhook invalidated the cached user"
    );
}

#[test]
fn an_unusable_redis_url_names_the_setting() {
    let env = HashMap::from([
        ("CLERK_SECRET_KEY", "sk_test_x".to_owned()),
        (
            "CLERK_PUBLISHABLE_KEY",
            clerk_testkit::mint::publishable_key_for("clerk.example.test", false),
        ),
        ("CLERK_FRONTEND_HOSTS", "http://localhost:3000".to_owned()),
        ("REDIS_URL", "not a url".to_owned()),
        ("DATABASE_URL", "sqlite::memory:".to_owned()),
    ]);
    let config = AppConfig::from_lookup(|name| env.get(name).cloned()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let error = runtime
        .block_on(open_cached_store(&config))
        .err()
        .expect("an unusable REDIS_URL is refused");
    assert!(error.to_string().starts_with("REDIS_URL"), "{error}");
}

/// Design §10: a session established on one instance is served by another sharing the
/// database (or Redis) (its own pool, caches and fairing), without a token.
async fn served_across_instances(edit: impl Fn(&mut HashMap<&'static str, String>)) {
    let h = harness_with(&edit).await;
    assert_eq!(
        h.webhook(&bodies::user_created("user_i", "i@example.com"))
            .await
            .status,
        Status::Ok
    );
    let mut env = settings(&h.clerk, &h._db);
    edit(&mut env);
    let config = AppConfig::from_lookup(|name| env.get(name).cloned()).unwrap();
    let other = rocket(&config, open_stores(&config).await.unwrap()).configure(
        rocket::Config::figment()
            .merge(config.figment())
            .merge(("log_level", "off")),
    );
    let other = Client::untracked(other).await.unwrap();

    let token = h.token("user_i");
    let browser = h
        .send(
            h.client
                .get("/api/me")
                .header(Header::new("Cookie", format!("__session={token}"))),
        )
        .await;
    assert_eq!(browser.status, Status::Ok, "{}", browser.body);
    let cookie = browser.headers["set-cookie"]
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let (name, value) = cookie.split_once('=').unwrap();
    let response = other
        .get("/api/me")
        .cookie(rocket::http::Cookie::new(name.to_owned(), value.to_owned()))
        .dispatch()
        .await;
    let status = response.status();
    let body: Value = serde_json::from_slice(&response.into_bytes().await.unwrap()).unwrap();
    assert_eq!(status, Status::Ok, "served by the other instance: {body}");
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
