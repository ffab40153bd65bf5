//! Shared helpers for the processor tests: signed deliveries, fresh stores, a failing store.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use clerk_core::model::{
    Invitation, Membership, Organization, RevokedSession, User, UserId, WebhookEvent,
};
use clerk_core::store::{
    BatchOutcome, LedgerStore, LoginAttemptStore, OrganizationStore, StoreError, StoreWriter,
    UserStore, WriteBatch,
};
use clerk_core::time::UnixTime;
use clerk_store::{MemoryStore, SqliteStore};
use clerk_testkit::webhooks::{bodies, WebhookSender, TEST_SECRET};
use clerk_testkit::ManualClock;
use clerk_webhooks::processor::WebhookProcessor;
use clerk_webhooks::Webhook;
use http::HeaderMap;
use serde_json::Value;

/// The instant the processor and the sender agree on (the test bodies' base time + 1 min).
pub fn base_now() -> UnixTime {
    UnixTime::from_millis(bodies::BASE_TIME_MS + 60_000)
}

pub fn clock() -> ManualClock {
    ManualClock::at(base_now())
}

pub fn sender(clock: &ManualClock) -> WebhookSender {
    WebhookSender::new("http://127.0.0.1:9/webhooks", TEST_SECRET).clock(clock.clone())
}

pub fn processor<S: clerk_core::store::Store>(
    store: S,
    clock: &ManualClock,
) -> WebhookProcessor<S> {
    WebhookProcessor::new(Webhook::new(TEST_SECRET).unwrap(), store).with_clock(clock.clone())
}

/// A signed delivery of `body` as (svix id, headers, bytes).
pub fn signed(sender: &WebhookSender, body: &Value) -> (String, HeaderMap, Vec<u8>) {
    let id = clerk_testkit::webhooks::random_msg_id();
    signed_as(sender, &id, body)
}

pub fn signed_as(sender: &WebhookSender, id: &str, body: &Value) -> (String, HeaderMap, Vec<u8>) {
    let d = sender.delivery(bodies::to_bytes(body)).msg_id(id);
    (id.to_owned(), d.headers(), d.body())
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub async fn sqlite_store() -> SqliteStore {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("clerk-webhooks-processor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("p{}.db", NEXT.fetch_add(1, Ordering::Relaxed)));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

pub async fn memory_store() -> MemoryStore {
    MemoryStore::new()
}

/// A store whose writes fail with `StoreError::Unavailable` while `failing` is set; reads go
/// to the inner store.
#[derive(Clone)]
pub struct FlakyStore<S> {
    pub inner: S,
    pub failing: Arc<AtomicBool>,
}

impl<S> FlakyStore<S> {
    pub fn new(inner: S) -> Self {
        FlakyStore {
            inner,
            failing: Arc::new(AtomicBool::new(true)),
        }
    }
    pub fn set_failing(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }
}

#[clerk_core::store::async_trait]
impl<S: LoginAttemptStore> LoginAttemptStore for FlakyStore<S> {
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
impl<S: StoreWriter> StoreWriter for FlakyStore<S> {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("database unreachable (test)"));
        }
        self.inner.apply(batch).await
    }
}

#[clerk_core::store::async_trait]
impl<S: UserStore> UserStore for FlakyStore<S> {
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
impl<S: OrganizationStore> OrganizationStore for FlakyStore<S> {
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
    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        self.inner.memberships_of_user(user_clerk_id).await
    }
    async fn memberships_of_organization(
        &self,
        organization_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        self.inner
            .memberships_of_organization(organization_clerk_id)
            .await
    }
    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        self.inner.invitation(clerk_id).await
    }
}

#[clerk_core::store::async_trait]
impl<S: LedgerStore> LedgerStore for FlakyStore<S> {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        self.inner.webhook_event(svix_id).await
    }
    async fn revoked_session(
        &self,
        session_id: &str,
    ) -> Result<Option<RevokedSession>, StoreError> {
        self.inner.revoked_session(session_id).await
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
