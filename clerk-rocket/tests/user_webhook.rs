//! `ClerkUser` (just-in-time provisioning through clerk-core's lookup) and the webhook routes,
//! through `rocket::local::asynchronous::Client` against the mock Clerk and a memory store.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use clerk_core::model::ClerkUserData;
use clerk_core::store::{Store, UserStore};
use clerk_core::time::UnixTime;
use clerk_rocket::{ClerkAuth, ClerkFairing, ClerkUser};
use clerk_store::MemoryStore;
use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::webhooks::{bodies, WebhookSender, TEST_SECRET};
use clerk_testkit::MockClerk;
use clerk_webhooks::MAX_BODY_BYTES;
use rocket::figment::Figment;
use rocket::http::{Header, Method, Status};
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
use serde_json::{json, Value};

#[get("/user")]
fn user(user: ClerkUser) -> String {
    user.email.clone().unwrap_or_default()
}

/// The stored user twice and the session: one lookup.
#[get("/twice")]
fn twice(a: ClerkUser, b: ClerkUser, auth: ClerkAuth) -> String {
    assert_eq!(a.id, b.id);
    auth.user_id.clone()
}

fn figment(clerk: &MockClerk, signing_key: bool) -> Figment {
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("clerk.secret_key", clerk.secret_key()))
        .merge(("clerk.publishable_key", clerk.publishable_key()))
        .merge(("clerk.api_url", clerk.url()))
        .merge(("clerk.frontend_hosts", DEFAULT_AUTHORIZED_PARTY));
    if signing_key {
        figment.merge(("clerk.webhook_signing_key", TEST_SECRET))
    } else {
        figment
    }
}

struct Harness {
    clerk: MockClerk,
    client: Client,
    store: Arc<dyn Store>,
}

async fn harness(signing_key: bool) -> Harness {
    let clerk = MockClerk::builder().start().await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let rocket = rocket::custom(figment(&clerk, signing_key))
        .attach(
            ClerkFairing::new()
                .ignore_environment()
                .store(Arc::clone(&store)),
        )
        .register("/", clerk_rocket::catchers())
        .mount("/", routes![user, twice])
        .mount("/hooks", clerk_rocket::webhook::routes());
    Harness {
        client: Client::tracked(rocket).await.unwrap(),
        clerk,
        store,
    }
}

impl Harness {
    fn token(&self, sub: &str) -> String {
        self.clerk
            .token_v2()
            .subject(sub)
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .sign()
    }

    async fn get(&self, path: &str, sub: &str) -> (Status, String) {
        let response = self
            .client
            .get(path.to_owned())
            .header(Header::new(
                "Authorization",
                format!("Bearer {}", self.token(sub)),
            ))
            .dispatch()
            .await;
        (
            response.status(),
            response.into_string().await.unwrap_or_default(),
        )
    }

    async fn deliver(&self, request: http::Request<Vec<u8>>) -> (Status, Value) {
        let (parts, body) = request.into_parts();
        let mut local = self.client.post("/hooks").body(body);
        for (name, value) in &parts.headers {
            local = local.header(Header::new(
                name.as_str().to_owned(),
                value.to_str().unwrap().to_owned(),
            ));
        }
        let response = local.dispatch().await;
        let status = response.status();
        let body = response
            .into_string()
            .await
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        (status, body)
    }

    fn sender(&self) -> WebhookSender {
        WebhookSender::new("http://app.test/hooks", TEST_SECRET)
    }
}

#[tokio::test]
async fn the_stored_user_is_provisioned_just_in_time_and_looked_up_once_per_request() {
    let h = harness(true).await;
    let at = UnixTime::from_secs(1_700_000_000);
    h.clerk.seed_users(vec![
        ClerkUserData::new("user_jit", at, at).with_email("jit@example.com", true)
    ]);
    assert_eq!(
        h.get("/user", "user_jit").await,
        (Status::Ok, "jit@example.com".to_owned())
    );
    assert!(h
        .store
        .user_by_clerk_id("user_jit")
        .await
        .unwrap()
        .is_some());
    let before = h.clerk.backend_requests().len();
    assert_eq!(
        h.get("/twice", "user_jit").await,
        (Status::Ok, "user_jit".to_owned())
    );
    assert_eq!(
        h.clerk.backend_requests().len(),
        before,
        "served from the store"
    );

    // A user Clerk does not know: 401 user-not-found, looked up once for two guards.
    let before = h.clerk.backend_requests().len();
    let (status, body) = h.get("/twice", "user_ghost").await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "error": "unauthenticated", "reason": "user-not-found" })
    );
    assert_eq!(h.clerk.backend_requests().len(), before + 1);
}

#[tokio::test]
async fn a_deleted_user_is_401_user_deleted() {
    let h = harness(true).await;
    let (status, _) = h
        .deliver(
            h.sender()
                .delivery(bodies::to_bytes(&bodies::user_created(
                    "user_gone",
                    "gone@example.com",
                )))
                .to_request(),
        )
        .await;
    assert_eq!(status, Status::Ok);
    assert_eq!(h.get("/user", "user_gone").await.0, Status::Ok);
    let (status, body) = h
        .deliver(
            h.sender()
                .delivery(bodies::to_bytes(&bodies::user_deleted("user_gone")))
                .to_request(),
        )
        .await;
    assert_eq!(status, Status::Ok, "{body}");
    let (status, body) = h.get("/user", "user_gone").await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "error": "unauthenticated", "reason": "user-deleted" })
    );
}

#[tokio::test]
async fn webhook_routes_answer_per_design_section_6() {
    let h = harness(true).await;
    let sender = h.sender();

    let event = bodies::user_created("user_w", "w@example.com");
    let delivery = sender.delivery(bodies::to_bytes(&event));
    assert_eq!(
        h.deliver(delivery.to_request()).await,
        (Status::Ok, json!({ "ok": true, "outcome": "applied" }))
    );
    assert_eq!(
        h.deliver(delivery.to_request()).await,
        (
            Status::Ok,
            json!({ "ok": true, "outcome": "already_processed" })
        )
    );
    let unsigned = h.client.post("/hooks").body(bodies::to_bytes(&event));
    let response = unsigned.dispatch().await;
    assert_eq!(response.status(), Status::BadRequest);

    for method in [
        Method::Get,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ] {
        let response = h.client.req(method, "/hooks").dispatch().await;
        assert_eq!(response.status(), Status::MethodNotAllowed, "{method}");
        assert_eq!(response.headers().get_one("Allow"), Some("POST"));
    }

    // Over the limit by its Content-Length: refused before reading.
    let response = h
        .client
        .post("/hooks")
        .header(Header::new(
            "Content-Length",
            (MAX_BODY_BYTES + 1).to_string(),
        ))
        .body(b"{}")
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::PayloadTooLarge);
    // Over the limit by its bytes.
    let big = sender.delivery(vec![b' '; MAX_BODY_BYTES + 1]);
    assert_eq!(
        h.deliver(big.to_request()).await,
        (
            Status::PayloadTooLarge,
            json!({ "error": "payload_too_large" })
        )
    );
    // Exactly at the limit: read and verified (whitespace is not an event: 400).
    let at_limit = sender.delivery(vec![b' '; MAX_BODY_BYTES]);
    assert_eq!(h.deliver(at_limit.to_request()).await.0, Status::BadRequest);
    // Nothing was lost: the next delivery applies.
    let next = sender.delivery(bodies::to_bytes(&bodies::user_created(
        "user_n",
        "n@example.com",
    )));
    assert_eq!(h.deliver(next.to_request()).await.0, Status::Ok);
    assert!(h.store.user_by_clerk_id("user_n").await.unwrap().is_some());
}

#[tokio::test]
async fn webhooks_without_a_signing_key_are_503_and_without_the_fairing_500() {
    let h = harness(false).await;
    let sender = h.sender();

    let delivery = sender.delivery(bodies::to_bytes(&bodies::user_created(
        "user_w",
        "w@example.com",
    )));
    assert_eq!(
        h.deliver(delivery.to_request()).await,
        (
            Status::ServiceUnavailable,
            json!({ "error": "webhooks_not_configured" })
        )
    );

    let rocket = rocket::custom(rocket::Config::figment().merge(("log_level", "off")))
        .register("/", clerk_rocket::catchers())
        .mount("/hooks", clerk_rocket::webhook::routes());
    let client = Client::tracked(rocket).await.unwrap();
    let response = client.post("/hooks").body("{}").dispatch().await;
    assert_eq!(response.status(), Status::InternalServerError);
    let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(body["reason"], "clerk-fairing-missing");
}

#[tokio::test]
async fn clerk_throttling_a_new_users_lookup_is_503_with_its_retry_after_within_the_budget() {
    let h = harness(false).await;
    let at = UnixTime::from_secs(1_700_000_000);
    h.clerk.seed_users(vec![
        ClerkUserData::new("user_known", at, at).with_email("known@example.com", true)
    ]);
    // Keys and a stored user first, then Clerk throttles.
    assert_eq!(h.get("/user", "user_known").await.0, Status::Ok);
    h.clerk.set_fault(clerk_testkit::mock::Fault::RateLimited {
        retry_after_secs: 30,
    });
    let started = std::time::Instant::now();
    let response = h
        .client
        .get("/user")
        .header(Header::new(
            "Authorization",
            format!("Bearer {}", h.token("user_new")),
        ))
        .dispatch()
        .await;
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), Status::ServiceUnavailable);
    assert_eq!(response.headers().get_one("Retry-After"), Some("30"));
    let body: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"error": "service_unavailable", "reason": "clerk-unavailable"})
    );
}
