//! `MemoryCache` against the cache conformance cases, and `CachedStore` over a `MemoryStore`
//! (with a counting wrapper, so a test can tell whether the store was asked).
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_core::cache::{conformance, Cache, CacheError, CachedStore};
use clerk_core::model::{
    ClerkOrganizationData, ClerkUserData, Invitation, LocalUserPatch, Membership, NewLocalUser,
    Organization, RevokedSession, User, UserId, WebhookEvent,
};
use clerk_core::store::{
    BatchOutcome, Change, LedgerStore, LinkPolicy, LoginAttemptStore, OrganizationStore,
    StoreError, StoreWriter, UserRef, UserStore, WriteBatch,
};
use clerk_core::time::{Clock, UnixTime};
use clerk_store::{MemoryCache, MemoryStore};

// ---------------------------------------------------------------------------------------------
// Helpers

/// A clock the test moves by hand; clones share the time.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn new() -> Self {
        TestClock(Arc::new(AtomicI64::new(1_700_000_000_000)))
    }
    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_millis(self.0.load(Ordering::SeqCst))
    }
}

type Hook = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A `MemoryStore` that counts reads and can run a hook in the middle of the next user read
/// (after the row was read, before it is returned).
#[derive(Clone)]
struct CountingStore {
    inner: MemoryStore,
    reads: Arc<AtomicUsize>,
    on_user_read: Arc<Mutex<Option<Hook>>>,
}

impl CountingStore {
    fn new() -> Self {
        CountingStore {
            inner: MemoryStore::new(),
            reads: Arc::new(AtomicUsize::new(0)),
            on_user_read: Arc::new(Mutex::new(None)),
        }
    }
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
    fn count(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
    async fn hook(&self) {
        let hook = self.on_user_read.lock().unwrap().take();
        if let Some(hook) = hook {
            hook.await;
        }
    }
}

#[clerk_core::store::async_trait]
impl UserStore for CountingStore {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.count();
        let found = self.inner.user(id).await;
        self.hook().await;
        found
    }
    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        self.count();
        let found = self.inner.user_by_clerk_id(clerk_id).await;
        self.hook().await;
        found
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.count();
        self.inner.user_by_email(email).await
    }
    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.count();
        self.inner.local_user_by_username(username).await
    }
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.count();
        self.inner.list_users(after, limit).await
    }
}

#[clerk_core::store::async_trait]
impl OrganizationStore for CountingStore {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        self.count();
        self.inner.organization(clerk_id).await
    }
    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        self.count();
        self.inner.list_organizations(after, limit).await
    }
    async fn membership(&self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        self.count();
        self.inner.membership(clerk_id).await
    }
    async fn memberships_of_user(&self, user: &str) -> Result<Vec<Membership>, StoreError> {
        self.count();
        self.inner.memberships_of_user(user).await
    }
    async fn memberships_of_organization(&self, org: &str) -> Result<Vec<Membership>, StoreError> {
        self.count();
        self.inner.memberships_of_organization(org).await
    }
    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        self.count();
        self.inner.invitation(clerk_id).await
    }
}

#[clerk_core::store::async_trait]
impl LedgerStore for CountingStore {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        self.count();
        self.inner.webhook_event(svix_id).await
    }
    async fn revoked_session(&self, id: &str) -> Result<Option<RevokedSession>, StoreError> {
        self.count();
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
impl LoginAttemptStore for CountingStore {
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
impl StoreWriter for CountingStore {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        self.inner.apply(batch).await
    }
}

/// A cache whose every call fails, as a dead server's would.
#[derive(Clone, Default)]
struct DeadCache {
    calls: Arc<AtomicUsize>,
}

impl Cache for DeadCache {
    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(CacheError::unavailable("connection refused"))
    }
    async fn set(&self, _key: &str, _value: Vec<u8>, _ttl: Duration) -> Result<(), CacheError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(CacheError::unavailable("connection refused"))
    }
    async fn delete(&self, _key: &str) -> Result<(), CacheError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(CacheError::unavailable("connection refused"))
    }
}

/// Counts the cache warnings logged on the current test's thread, through a global
/// subscriber (a thread-local one races with tracing's callsite interest cache when tests run
/// in parallel). libtest names each test's thread after the test.
struct WarningCounter;

#[derive(Default)]
struct CountWarnings(Mutex<std::collections::HashMap<String, usize>>);

static WARNINGS: std::sync::OnceLock<Arc<CountWarnings>> = std::sync::OnceLock::new();

struct Shared(Arc<CountWarnings>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Shared {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        if *meta.level() == tracing::Level::WARN && meta.target().starts_with("clerk_core::cache") {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            *self.0 .0.lock().unwrap().entry(thread).or_default() += 1;
        }
    }
}

impl WarningCounter {
    fn install() -> Self {
        WARNINGS.get_or_init(|| {
            use tracing_subscriber::layer::SubscriberExt;
            let counts = Arc::new(CountWarnings::default());
            let subscriber = tracing_subscriber::registry().with(Shared(Arc::clone(&counts)));
            tracing::subscriber::set_global_default(subscriber).unwrap();
            counts
        });
        WarningCounter
    }
    fn get(&self) -> usize {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        let counts = WARNINGS.get().unwrap();
        let n = counts.0.lock().unwrap().get(&thread).copied().unwrap_or(0);
        n
    }
}

fn t(secs: i64) -> UnixTime {
    UnixTime::from_secs(1_700_000_000 + secs)
}

fn upsert(clerk_id: &str, updated: i64, first_name: &str) -> Change {
    let mut data = ClerkUserData::new(clerk_id, t(0), t(updated));
    data.first_name = Some(first_name.to_owned());
    Change::UpsertUser {
        data,
        link: LinkPolicy::Never,
    }
}

async fn write<S: StoreWriter>(store: &S, change: Change) -> Option<UserId> {
    let outcome = store.apply(WriteBatch::single(t(0), change)).await.unwrap();
    outcome.applied()[0].user_id
}

type Cached = CachedStore<CountingStore, MemoryCache>;

fn cached_store() -> (Cached, CountingStore, TestClock) {
    let clock = TestClock::new();
    let store = CountingStore::new();
    let cache = MemoryCache::with_capacity_and_clock(1000, clock.clone());
    let cached = CachedStore::new(store.clone(), cache)
        .with_user_ttl(Duration::from_secs(300))
        .with_org_ttl(Duration::from_secs(900))
        .with_clock(clock.clone());
    (cached, store, clock)
}

fn first_name(user: Option<User>) -> Option<String> {
    user.and_then(|u| u.first_name)
}

// ---------------------------------------------------------------------------------------------
// MemoryCache conformance

#[tokio::test]
async fn memory_cache_passes_the_basic_cases() {
    conformance::run_basic(&MemoryCache::new()).await;
}

#[tokio::test]
async fn memory_cache_expires_entries_after_their_ttl() {
    let clock = TestClock::new();
    let cache = MemoryCache::with_capacity_and_clock(100, clock.clone());
    conformance::ttl_expiry(&cache, Duration::from_secs(5), |d| {
        clock.advance(d);
        std::future::ready(())
    })
    .await;
}

#[tokio::test]
async fn memory_cache_prefixes_isolate() {
    let cache = MemoryCache::new();
    conformance::prefix_isolation(&cache.with_prefix("a:"), &cache.with_prefix("b:")).await;
}

// ---------------------------------------------------------------------------------------------
// CachedStore

#[tokio::test]
async fn cached_lookups_are_served_without_the_store() {
    let (cached, store, _) = cached_store();
    let id = write(&cached, upsert("user_1", 1, "Ada")).await.unwrap();
    let org = ClerkOrganizationData::new("org_1", "Acme", t(0), t(1));
    write(&cached, Change::UpsertOrganization(org)).await;
    assert_eq!(store.reads(), 0);

    for _ in 0..3 {
        let user = cached.user_by_clerk_id("user_1").await.unwrap();
        assert_eq!(first_name(user).as_deref(), Some("Ada"));
    }
    assert_eq!(
        store.reads(),
        1,
        "one read fills the cache, the others are hits"
    );
    for _ in 0..3 {
        assert_eq!(cached.user(id).await.unwrap().unwrap().id, id);
    }
    assert_eq!(store.reads(), 2, "lookups by local id have their own entry");
    for _ in 0..3 {
        assert_eq!(
            cached.organization("org_1").await.unwrap().unwrap().name,
            "Acme"
        );
    }
    assert_eq!(store.reads(), 3);
    let stats = cached.stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (6, 3, 0));

    // Other reads pass through.
    assert!(cached
        .user_by_email("nobody@example.com")
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.reads(), 4);
}

#[tokio::test]
async fn writes_invalidate_what_they_touched() {
    let (cached, store, _) = cached_store();
    let id = write(&cached, upsert("user_1", 1, "Ada")).await.unwrap();
    let warm = |cached: Cached| async move {
        let by_clerk = cached.user_by_clerk_id("user_1").await.unwrap().unwrap();
        let by_id = cached.user(by_clerk.id).await.unwrap().unwrap();
        assert_eq!(by_clerk, by_id);
        by_clerk
    };
    warm(cached.clone()).await;

    // A Clerk update (named by Clerk id): both entries go.
    write(&cached, upsert("user_1", 2, "Grace")).await;
    let before = store.reads();
    assert_eq!(
        warm(cached.clone()).await.first_name.as_deref(),
        Some("Grace")
    );
    assert_eq!(
        store.reads(),
        before + 2,
        "both entries were refilled from the store"
    );

    // An application change named by local id: the Clerk-id entry goes too.
    let patch = LocalUserPatch::default().staff(true);
    write(&cached, Change::UpdateLocalFields { id, patch }).await;
    assert!(
        cached
            .user_by_clerk_id("user_1")
            .await
            .unwrap()
            .unwrap()
            .is_staff
    );
    assert!(cached.user(id).await.unwrap().unwrap().is_staff);

    // A login by local id, a logout by Clerk id.
    warm(cached.clone()).await;
    write(
        &cached,
        Change::RecordLogin {
            user: UserRef::Id(id),
            at: t(50),
        },
    )
    .await;
    assert_eq!(
        cached
            .user_by_clerk_id("user_1")
            .await
            .unwrap()
            .unwrap()
            .last_login,
        Some(t(50))
    );
    warm(cached.clone()).await;
    let user = UserRef::ClerkId("user_1".into());
    write(&cached, Change::RecordLogout { user, at: t(60) }).await;
    assert_eq!(
        cached.user(id).await.unwrap().unwrap().last_logout,
        Some(t(60))
    );

    // Deletion.
    warm(cached.clone()).await;
    let delete = Change::DeleteUser {
        clerk_id: "user_1".into(),
        at: t(70),
    };
    write(&cached, delete).await;
    assert!(cached
        .user_by_clerk_id("user_1")
        .await
        .unwrap()
        .unwrap()
        .is_deleted());
    assert!(cached.user(id).await.unwrap().unwrap().is_deleted());

    // Organizations.
    let org = ClerkOrganizationData::new("org_1", "Acme", t(0), t(1));
    write(&cached, Change::UpsertOrganization(org)).await;
    assert!(cached.organization("org_1").await.unwrap().is_some());
    let org = ClerkOrganizationData::new("org_1", "Acme 2", t(0), t(2));
    write(&cached, Change::UpsertOrganization(org)).await;
    let name = cached.organization("org_1").await.unwrap().unwrap().name;
    assert_eq!(name, "Acme 2");
    let delete = Change::DeleteOrganization {
        clerk_id: "org_1".into(),
        at: t(3),
    };
    write(&cached, delete).await;
    assert!(cached
        .organization("org_1")
        .await
        .unwrap()
        .unwrap()
        .is_deleted());
}

#[tokio::test]
async fn an_unchanged_write_keeps_the_entries() {
    let (cached, store, _) = cached_store();
    write(&cached, upsert("user_1", 5, "Ada")).await;
    cached.user_by_clerk_id("user_1").await.unwrap();
    write(&cached, upsert("user_1", 4, "Older")).await; // older data: Effect::Unchanged
    let before = store.reads();
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Ada")
    );
    assert_eq!(store.reads(), before, "still a hit");
}

#[tokio::test]
async fn a_miss_is_never_cached() {
    let (cached, store, _) = cached_store();
    assert!(cached.user_by_clerk_id("user_new").await.unwrap().is_none());
    assert!(cached.user_by_clerk_id("user_new").await.unwrap().is_none());
    assert!(cached.organization("org_new").await.unwrap().is_none());
    assert_eq!(store.reads(), 3, "every miss asks the store");

    // Created behind the cache's back (another process writing to the same database).
    let id = write(&store.inner, upsert("user_new", 1, "Ada"))
        .await
        .unwrap();
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_new").await.unwrap()).as_deref(),
        Some("Ada")
    );
    assert!(cached.user(id).await.unwrap().is_some());
    let org = ClerkOrganizationData::new("org_new", "New", t(0), t(1));
    write(&store.inner, Change::UpsertOrganization(org)).await;
    assert!(cached.organization("org_new").await.unwrap().is_some());
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    let (cached, store, clock) = cached_store();
    write(&cached, upsert("user_1", 1, "Ada")).await;
    let org = ClerkOrganizationData::new("org_1", "Acme", t(0), t(1));
    write(&cached, Change::UpsertOrganization(org)).await;
    cached.user_by_clerk_id("user_1").await.unwrap();
    cached.organization("org_1").await.unwrap();
    assert_eq!(store.reads(), 2);

    // Changed behind the cache's back: the entry is stale until its TTL.
    write(&store.inner, upsert("user_1", 2, "Grace")).await;
    clock.advance(Duration::from_secs(299));
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Ada")
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Grace")
    );
    assert_eq!(store.reads(), 3, "the user entry expired at 300 s");
    cached.organization("org_1").await.unwrap();
    assert_eq!(store.reads(), 3, "organizations live 900 s");
    clock.advance(Duration::from_secs(600));
    cached.organization("org_1").await.unwrap();
    assert_eq!(store.reads(), 4);
}

#[tokio::test]
async fn ttls_come_from_the_config() {
    let config = clerk_core::ClerkConfig::builder()
        .secret_key("sk_test_cache")
        .publishable_key("pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA")
        .frontend_host("https://app.example.com")
        .cache_timeout(Duration::from_secs(10))
        .org_cache_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let clock = TestClock::new();
    let store = CountingStore::new();
    let cache = MemoryCache::with_capacity_and_clock(100, clock.clone());
    let cached = CachedStore::new(store.clone(), cache).with_config(&config);
    write(&cached, upsert("user_1", 1, "Ada")).await;
    let org = ClerkOrganizationData::new("org_1", "Acme", t(0), t(1));
    write(&cached, Change::UpsertOrganization(org)).await;
    cached.user_by_clerk_id("user_1").await.unwrap().unwrap();
    cached.organization("org_1").await.unwrap().unwrap();
    clock.advance(Duration::from_secs(10));
    cached.user_by_clerk_id("user_1").await.unwrap().unwrap();
    cached.organization("org_1").await.unwrap().unwrap();
    assert_eq!(
        store.reads(),
        3,
        "the user expired after 10 s, the organization did not"
    );
    clock.advance(Duration::from_secs(50));
    cached.organization("org_1").await.unwrap().unwrap();
    assert_eq!(store.reads(), 4, "the organization expired after 60 s");
}

#[tokio::test]
async fn a_zero_ttl_turns_caching_off() {
    let store = CountingStore::new();
    let cached = CachedStore::new(store.clone(), MemoryCache::new())
        .with_user_ttl(Duration::ZERO)
        .with_org_ttl(Duration::from_secs(60));
    write(&cached, upsert("user_1", 1, "Ada")).await;
    let org = ClerkOrganizationData::new("org_1", "Acme", t(0), t(1));
    write(&cached, Change::UpsertOrganization(org)).await;
    for _ in 0..2 {
        cached.user_by_clerk_id("user_1").await.unwrap().unwrap();
        cached.organization("org_1").await.unwrap().unwrap();
    }
    assert_eq!(
        store.reads(),
        3,
        "users uncached (TTL 0), the organization cached"
    );
    assert_eq!(cached.cache().len(), 1, "only the organization entry");
}

#[tokio::test]
async fn users_with_a_password_hash_are_not_cached() {
    let (cached, store, _) = cached_store();
    let mut admin = NewLocalUser::new("admin");
    admin.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let id = write(&cached, Change::CreateLocalUser(admin))
        .await
        .unwrap();
    cached.user(id).await.unwrap().unwrap();
    cached.user(id).await.unwrap().unwrap();
    assert_eq!(store.reads(), 2);
    assert!(
        cached.cache().is_empty(),
        "the hash never reached the cache"
    );
}

/// The race: a read misses, reads the old row, a write commits and invalidates, then the read
/// would store the old row. It must not.
#[tokio::test]
async fn a_read_overlapping_a_write_does_not_fill_the_cache() {
    let (cached, store, _) = cached_store();
    write(&cached, upsert("user_1", 1, "Ada")).await;

    let writer = cached.clone();
    let hook: Hook = Box::pin(async move {
        write(&writer, upsert("user_1", 2, "Grace")).await;
    });
    *store.on_user_read.lock().unwrap() = Some(hook);
    // This read sees "Ada", then the write lands, then the read returns.
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Ada")
    );
    // Had "Ada" been cached, this would be stale for 300 s.
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Grace")
    );
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Grace")
    );
}

#[tokio::test]
async fn a_corrupt_entry_is_answered_from_the_store_and_replaced() {
    let (cached, store, _) = cached_store();
    write(&cached, upsert("user_1", 1, "Ada")).await;
    let key = clerk_core::cache::user_clerk_key("user_1");
    cached
        .cache()
        .set(&key, b"{not json".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Ada")
    );
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Ada")
    );
    assert_eq!(store.reads(), 1, "the corrupt entry was overwritten");
    assert_eq!(cached.stats().errors, 1);
}

#[tokio::test]
async fn a_dead_cache_fails_open_and_warns_once_per_interval() {
    let warnings = WarningCounter::install();
    let clock = TestClock::new();
    let store = CountingStore::new();
    let cache = DeadCache::default();
    let cached = CachedStore::new(store.clone(), cache.clone())
        .with_clock(clock.clone())
        .with_warn_interval(Duration::from_secs(30));

    // Writes succeed (the invalidation error is logged, not returned).
    write(&cached, upsert("user_1", 1, "Ada")).await.unwrap();
    for _ in 0..10 {
        let user = cached.user_by_clerk_id("user_1").await.unwrap();
        assert_eq!(first_name(user).as_deref(), Some("Ada"));
        assert!(cached.organization("org_none").await.unwrap().is_none());
    }
    assert_eq!(store.reads(), 20, "every lookup answered by the store");
    assert_eq!(warnings.get(), 1, "one warning per interval");
    assert_eq!(cached.stats().warnings, 1);
    assert_eq!(cached.stats().errors, 21);
    // A failed get skips the refill (no second call to a dead cache per lookup).
    assert_eq!(cache.calls.load(Ordering::SeqCst), 21);

    clock.advance(Duration::from_secs(29));
    cached.user_by_clerk_id("user_1").await.unwrap();
    assert_eq!(warnings.get(), 1);
    clock.advance(Duration::from_secs(1));
    cached.user_by_clerk_id("user_1").await.unwrap();
    assert_eq!(warnings.get(), 2, "the next interval logs again");
}

#[tokio::test]
async fn the_cached_store_passes_the_store_conformance_suite() {
    async fn fresh() -> CachedStore<MemoryStore, MemoryCache> {
        CachedStore::new(MemoryStore::new(), MemoryCache::new())
    }
    clerk_core::store::conformance::run_all(fresh).await;
}

#[tokio::test]
async fn a_failed_batch_changes_nothing_cached() {
    let (cached, _, _) = cached_store();
    write(&cached, upsert("user_1", 1, "Ada")).await;
    let mut data = ClerkUserData::new("user_2", t(0), t(1));
    data.email = Some("taken@example.com".into());
    write(
        &cached,
        Change::UpsertUser {
            data: data.clone(),
            link: LinkPolicy::Never,
        },
    )
    .await;
    cached.user_by_clerk_id("user_1").await.unwrap();
    // user_1 takes user_2's email: a conflict; the batch (with a valid first change) fails.
    let mut conflicting = ClerkUserData::new("user_1", t(0), t(5));
    conflicting.email = Some("taken@example.com".into());
    let batch = WriteBatch::new(t(0))
        .with(upsert("user_1", 4, "Grace"))
        .with(Change::UpsertUser {
            data: conflicting,
            link: LinkPolicy::Never,
        });
    assert!(cached.apply(batch).await.is_err());
    assert_eq!(
        first_name(cached.user_by_clerk_id("user_1").await.unwrap()).as_deref(),
        Some("Ada")
    );
}

// The stateless path asks for the session's revocation on every signed-in request: the answer
// is cached, "not revoked" included, and a recorded revocation ends that answer at once.
#[tokio::test]
async fn revocation_answers_are_cached_until_a_revocation_is_recorded() {
    let (cached, store, _) = cached_store();
    for _ in 0..3 {
        assert_eq!(cached.revoked_session("sess_1").await.unwrap(), None);
    }
    assert_eq!(store.reads(), 1, "one read answers every later request");

    let revoked = RevokedSession::new("sess_1", Some("user_1".to_owned()), "revoked", t(5));
    write(&cached, Change::RevokeSession(revoked.clone())).await;
    for _ in 0..3 {
        assert_eq!(
            cached.revoked_session("sess_1").await.unwrap(),
            Some(revoked.clone()),
            "the recorded revocation is seen by the next request"
        );
    }
    assert_eq!(store.reads(), 2, "the revocation is cached too");
    assert_eq!(cached.revoked_session("sess_2").await.unwrap(), None);
    assert_eq!(store.reads(), 3, "each session has its own entry");
}
