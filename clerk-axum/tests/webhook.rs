//! The webhook route: every [design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks) status, in process (`tower::ServiceExt::oneshot`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use clerk_core::model::WebhookEvent;
use clerk_core::model::{Invitation, Membership, Organization, RevokedSession, User, UserId};
use clerk_core::store::{
    BatchOutcome, LedgerStore, LoginAttemptStore, OrganizationStore, StoreError, StoreWriter,
    UserStore, WriteBatch,
};
use clerk_core::time::UnixTime;
use clerk_store::MemoryStore;
use clerk_testkit::webhooks::{bodies, Signature, WebhookSender, TEST_SECRET};
use clerk_webhooks::{Webhook, WebhookProcessor, MAX_BODY_BYTES};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const PATH: &str = "http://app.test/webhooks/clerk";

fn app<S: clerk_core::store::Store + 'static>(store: S) -> Router {
    let processor = Arc::new(WebhookProcessor::new(
        Webhook::new(TEST_SECRET).unwrap(),
        store,
    ));
    Router::new().route("/webhooks/clerk", clerk_axum::webhook::route(processor))
}

fn sender() -> WebhookSender {
    WebhookSender::new(PATH, TEST_SECRET)
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn to_axum(request: Request<Vec<u8>>) -> Request<Body> {
    request.map(Body::from)
}

#[tokio::test]
async fn applied_replayed_and_ignored_deliveries_are_2xx() {
    let store = MemoryStore::new();
    let app = app(store.clone());
    let sender = sender();
    let delivery = sender.delivery(bodies::to_bytes(&bodies::user_created(
        "user_1",
        "ada@example.com",
    )));
    let (status, _, body) = call(&app, to_axum(delivery.to_request())).await;
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "applied");
    assert!(store.user_by_clerk_id("user_1").await.unwrap().is_some());

    let (status, _, body) = call(&app, to_axum(delivery.to_request())).await;
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "already_processed");

    let ignored = sender.delivery(bodies::to_bytes(&bodies::email_created(
        "ema_1",
        "ada@example.com",
    )));
    let (status, _, body) = call(&app, to_axum(ignored.to_request())).await;
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "ignored");
}

#[tokio::test]
async fn verification_failures_and_unparseable_bodies_are_400_and_record_nothing() {
    let store = MemoryStore::new();
    let app = app(store.clone());
    let sender = sender();
    let body = bodies::to_bytes(&bodies::user_created("user_1", "ada@example.com"));
    for delivery in [
        sender.delivery(body.clone()).signature(Signature::Tampered),
        sender.delivery(body.clone()).tamper_body(),
        sender.delivery(body.clone()).timestamp_offset(-3600),
    ] {
        let (status, _, json) = call(&app, to_axum(delivery.to_request())).await;
        assert_eq!(status, 400, "{json}");
        assert_eq!(json["error"], "invalid_webhook");
    }
    // Signed, but not a Clerk event.
    let garbage = sender.delivery(b"not json".to_vec());
    let (status, _, json) = call(&app, to_axum(garbage.to_request())).await;
    assert_eq!(status, 400);
    assert_eq!(json["reason"], "unparseable_body");
    assert!(store.user_by_clerk_id("user_1").await.unwrap().is_none());
}

#[tokio::test]
async fn the_raw_body_reaches_the_verifier_byte_for_byte() {
    // Whitespace and key order that a JSON round trip would change.
    let raw =
        b"{ \"type\" : \"user.deleted\",\n \"object\":\"event\", \"timestamp\":1700000000000,\
                \"data\":{\"id\":\"user_9\",\"deleted\":true,\"object\":\"user\"}  }\n"
            .to_vec();
    let store = MemoryStore::new();
    let app = app(store.clone());
    let (status, _, body) = call(&app, to_axum(sender().delivery(raw).to_request())).await;
    assert_eq!(status, 200, "{body}");
    assert!(store
        .user_by_clerk_id("user_9")
        .await
        .unwrap()
        .unwrap()
        .is_deleted());
}

#[tokio::test]
async fn other_methods_are_405_with_allow_post() {
    let app = app(MemoryStore::new());
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let request = Request::builder()
            .method(method)
            .uri("/webhooks/clerk")
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = call(&app, request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(headers["allow"], "POST", "{method}");
    }
}

#[tokio::test]
async fn bodies_over_one_mib_are_413() {
    let app = app(MemoryStore::new());
    let sender = sender();
    // Signed properly, one byte over the limit: refused before verification.
    let mut big = vec![b' '; MAX_BODY_BYTES + 1];
    big[0] = b'{';
    big[MAX_BODY_BYTES] = b'}';
    let (status, _, _) = call(&app, to_axum(sender.delivery(big.clone()).to_request())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Without a Content-Length (a stream): still 413.
    let request = sender.delivery(big).to_request();
    let (parts, body) = request.into_parts();
    let stream = futures_util::stream::iter(
        body.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let request = Request::from_parts(parts, Body::from_stream(stream));
    let (status, _, _) = call(&app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Exactly at the limit is read (and then judged on its signature: valid here, but not an
    // event, so 400 rather than 413).
    let mut at_limit = vec![b' '; MAX_BODY_BYTES];
    at_limit[0] = b'{';
    at_limit[MAX_BODY_BYTES - 1] = b'}';
    let (status, _, _) = call(&app, to_axum(sender.delivery(at_limit).to_request())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A memory store whose writes fail (retryably) while `down` is set.
#[derive(Clone, Default)]
struct FlakyStore {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
}

#[clerk_core::store::async_trait]
impl UserStore for FlakyStore {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.inner.user(id).await
    }
    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_clerk_id(clerk_id).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_email(email).await
    }
    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.inner.local_user_by_username(username).await
    }
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.inner.list_users(after, limit).await
    }
}

#[clerk_core::store::async_trait]
impl OrganizationStore for FlakyStore {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        self.inner.organization(clerk_id).await
    }
    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        self.inner.list_organizations(after, limit).await
    }
    async fn membership(&self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        self.inner.membership(clerk_id).await
    }
    async fn memberships_of_user(&self, user: &str) -> Result<Vec<Membership>, StoreError> {
        self.inner.memberships_of_user(user).await
    }
    async fn memberships_of_organization(
        &self,
        organization: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        self.inner.memberships_of_organization(organization).await
    }
    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        self.inner.invitation(clerk_id).await
    }
}

#[clerk_core::store::async_trait]
impl LedgerStore for FlakyStore {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        self.inner.webhook_event(svix_id).await
    }
    async fn revoked_session(&self, id: &str) -> Result<Option<RevokedSession>, StoreError> {
        self.inner.revoked_session(id).await
    }
    async fn held_event(
        &self,
        svix_id: &str,
    ) -> Result<Option<clerk_core::model::HeldEvent>, StoreError> {
        self.inner.held_event(svix_id).await
    }
    async fn held_events(
        &self,
        limit: usize,
    ) -> Result<Vec<clerk_core::model::HeldEvent>, StoreError> {
        self.inner.held_events(limit).await
    }
    async fn count_held_events(&self) -> Result<u64, StoreError> {
        self.inner.count_held_events().await
    }
}

#[clerk_core::store::async_trait]
impl LoginAttemptStore for FlakyStore {
    async fn record_login_failure(
        &self,
        keys: &[&str],
        at: UnixTime,
        forget_before: UnixTime,
    ) -> Result<(), StoreError> {
        self.inner
            .record_login_failure(keys, at, forget_before)
            .await
    }

    async fn recent_login_failures(
        &self,
        key: &str,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<UnixTime>, StoreError> {
        self.inner.recent_login_failures(key, since, limit).await
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.inner.clear_login_failures(key).await
    }
}

#[clerk_core::store::async_trait]
impl StoreWriter for FlakyStore {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("database is locked"));
        }
        self.inner.apply(batch).await
    }
}

#[tokio::test]
async fn a_store_outage_is_503_with_nothing_recorded_and_the_redelivery_applies() {
    let store = FlakyStore::default();
    let app = app(store.clone());
    let sender = sender();
    let delivery = sender.delivery(bodies::to_bytes(&bodies::user_created(
        "user_1",
        "ada@example.com",
    )));
    store.down.store(true, Ordering::SeqCst);
    let (status, _, body) = call(&app, to_axum(delivery.to_request())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "store_unavailable");
    assert!(store
        .inner
        .user_by_clerk_id("user_1")
        .await
        .unwrap()
        .is_none());

    store.down.store(false, Ordering::SeqCst);
    let (status, _, body) = call(&app, to_axum(delivery.to_request())).await;
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "applied");
    assert!(store
        .inner
        .user_by_clerk_id("user_1")
        .await
        .unwrap()
        .is_some());
}
