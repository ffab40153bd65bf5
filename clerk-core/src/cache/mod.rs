//! Caches in front of a [`Store`]: the small [`Cache`] trait and the [`CachedStore`]
//! combinator ([design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage), `CLERK_CACHE_TIMEOUT` / `CLERK_ORG_CACHE_TIMEOUT`).
//!
//! # The cache trait
//!
//! A [`Cache`] maps string keys to bytes with a per-entry time to live, and serde values
//! ([`CacheValue`]) on top: [`Cache::get_value`]/[`Cache::set_value`] store JSON through the
//! byte methods by default, and an in-process cache overrides them to keep the value itself
//! (no encoding on a hit: `MemoryCache` does). Implementations live in `clerk-store` (`MemoryCache`,
//! `RedisCache`); the `conformance` feature adds [`conformance`], the cases every
//! implementation passes. A cache is allowed to fail: [`CachedStore`] treats every
//! [`CacheError`] as "no cache" and goes to the store (fail open).
//!
//! # What `CachedStore` caches
//!
//! | lookup | key (before the cache's own prefix) | TTL |
//! |---|---|---|
//! | [`UserStore::user`] | `v1:user:id:{local id}` | user TTL (`CLERK_CACHE_TIMEOUT`) |
//! | [`UserStore::user_by_clerk_id`] | `v1:user:clerk:{clerk id}` | user TTL |
//! | [`OrganizationStore::organization`] | `v1:org:{clerk id}` | organization TTL (`CLERK_ORG_CACHE_TIMEOUT`) |
//! | [`LedgerStore::revoked_session`] | `v1:session:revoked:{session id}` | user TTL |
//!
//! Keys hold ids only, never an email or a username. Every other read passes through to the
//! store. A TTL of zero turns caching of that kind off. Values are the model types as JSON.
//!
//! Not cached, on purpose:
//! - **"not found"**: a miss is never stored, so a user created after a failed lookup is
//!   found by the next lookup, with no invalidation needed (no stale negative can exist) —
//!   except for revocations: "this session is not revoked" is the answer the stateless path
//!   needs on nearly every signed-in request, so it is cached, and recording a revocation
//!   deletes it like any other write (the same invalidation and the same bounds as a user's
//!   ban);
//! - **local users with a password hash**: the hash never leaves the database for a cache
//!   server (such users are rare — administrators — and their lookups go to the store);
//! - **failed staff logins** ([`LoginAttemptStore`]): every call goes to the store, so the
//!   login throttle's counts are the database's, shared by every instance.
//!
//! # Invalidation
//!
//! [`StoreWriter::apply`] passes the batch to the inner store and, **after** it returns
//! (committed), deletes every cached entry the batch may have changed, in one
//! [`Cache::delete_many`]:
//!
//! - user changes: the entry by Clerk id (from the change) and by local id (from the change or
//!   the [`Applied::user_id`] the store reports); for changes that name a user only by local id
//!   (`UpdateLocalFields`, `RecordLogin`/`RecordLogout` by id), the user's Clerk id is read back
//!   from the store after the commit, so the Clerk-id entry goes too;
//! - organization upserts and deletions: the organization's entry;
//! - a recorded revocation: that session's answer (memberships, invitations and the ledger are
//!   not cached, so they need nothing).
//!
//! Only changes whose [`Effect`](crate::store::Effect) changed something are considered; a batch the store reports
//! as already processed wrote nothing. A failed `apply` invalidates what it can name anyway
//! (a commit whose acknowledgement was lost looks like a failure).
//!
//! **The read/write race.** A reader that misses, reads the old row from the store, and
//! stores it in the cache *after* a writer's invalidation would leave a stale entry. Two
//! defences:
//! 1. within one process (all clones of a `CachedStore` share this state), a read only fills
//!    the cache when no `apply` was in flight when it began and none started or finished while
//!    it read the store (an in-flight counter and a write epoch); a read that overlapped a write
//!    returns its value without caching it;
//! 2. across processes (a webhook worker writing, web servers reading, one Redis), the remaining
//!    window — a read that began before another process's commit and fills the cache after
//!    that process's invalidation — is bounded by the TTL, as with any cache-aside design.
//!    Keep `CLERK_CACHE_TIMEOUT` as short as staleness matters to you.
//!
//! The same TTL bound applies when the cache itself is down during an invalidation (the
//! delete fails; a warning is logged).
//!
//! # Failing open
//!
//! Any cache error (unreachable, timeout, a corrupt entry) sends the lookup to the store; a
//! `get` that failed skips the refill. The error is logged with `tracing::warn!` at most once
//! per warning interval (30 s by default, measured with the combinator's [`Clock`]), with the
//! number of errors suppressed since the last warning. [`CachedStore::stats`] counts hits,
//! misses, errors and warnings. The cache's own timeout bounds how long a dead cache delays a
//! lookup (`RedisCache` uses a short connect/response timeout and backs off reconnecting).

mod peers;

pub use peers::{PeerBus, Peers};

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::ClerkConfig;
use crate::model::{
    HeldEvent, Invitation, Membership, Organization, RevokedSession, User, UserId, WebhookEvent,
};
use crate::store::{
    Applied, BatchOutcome, BoxError, Change, LedgerStore, LoginAttemptStore, OrganizationStore,
    Store, StoreError, StoreWriter, UserRef, UserStore, WriteBatch,
};
use crate::time::{Clock, SystemClock, UnixTime};

/// Why a cache operation failed. [`CachedStore`] answers every one of them from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The cache could not be reached (connection refused or lost, backing off after a failed
    /// connection).
    #[error("cache unavailable")]
    Unavailable(#[source] BoxError),
    /// The cache did not answer in time.
    #[error("cache timed out after {0:?}")]
    Timeout(Duration),
    /// A value could not be encoded or decoded. Carries the kind and position of the error
    /// only, never the value (which may hold personal data).
    #[error("cache value could not be (de)serialized: {0}")]
    Corrupt(String),
    /// Any other failure of the cache server or library.
    #[error("cache failure")]
    Backend(#[source] BoxError),
}

impl CacheError {
    /// A [`CacheError::Unavailable`] from any error.
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        CacheError::Unavailable(error.into())
    }

    /// A [`CacheError::Backend`] from any error.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        CacheError::Backend(error.into())
    }

    /// A [`CacheError::Corrupt`] from a serde_json error, without the offending text.
    #[must_use]
    pub fn corrupt(error: &serde_json::Error) -> Self {
        CacheError::Corrupt(format!(
            "{:?} error at line {} column {}",
            error.classify(),
            error.line(),
            error.column()
        ))
    }
}

/// What [`Cache::get_value`] and [`Cache::set_value`] store: any serde type that can be
/// shared between threads (implemented for all of them).
pub trait CacheValue: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> CacheValue for T {}

/// Decodes a JSON cache value (errors never echo the value).
///
/// # Errors
///
/// [`CacheError::Corrupt`] when `bytes` are not a JSON `T`.
pub fn decode<T: CacheValue>(bytes: &[u8]) -> Result<T, CacheError> {
    serde_json::from_slice(bytes).map_err(|e| CacheError::corrupt(&e))
}

/// Encodes a cache value as JSON.
///
/// # Errors
///
/// [`CacheError::Corrupt`] when `value` does not serialize (a map with non-string keys).
pub fn encode<T: CacheValue>(value: &T) -> Result<Vec<u8>, CacheError> {
    serde_json::to_vec(value).map_err(|e| CacheError::corrupt(&e))
}

/// A key-value cache of bytes with a time to live per entry, plus serde values.
///
/// Methods return `impl Future + Send`; implement them with plain `async fn`. An
/// implementation should bound how long each call can take (a dead server must not stall
/// requests: [`CachedStore`] answers from the store once the call fails).
///
/// The value methods and the byte methods see the same entries: a value set with
/// [`set_value`](Cache::set_value) reads back with [`get`](Cache::get) as its JSON, and JSON
/// set with [`set`](Cache::set) reads back with [`get_value`](Cache::get_value).
pub trait Cache: Send + Sync {
    /// The value under `key`, unless absent or expired.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, CacheError>> + Send;

    /// Stores `value` under `key` for `ttl` (replacing any value). A zero `ttl` stores
    /// nothing and removes any value under `key`.
    fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), CacheError>> + Send;

    /// Removes `key` (absent is fine).
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), CacheError>> + Send;

    /// Removes every key in `keys`. The default deletes them one by one; servers override it
    /// with one round trip.
    fn delete_many(&self, keys: &[String]) -> impl Future<Output = Result<(), CacheError>> + Send {
        async move {
            for key in keys {
                self.delete(key).await?;
            }
            Ok(())
        }
    }

    /// Removes every entry of this cache (its own prefix): what an instance does when it may
    /// have missed invalidations ([`Peers`]). The default cannot, and says so; a cache used
    /// with [`Peers`] must implement it.
    fn clear(&self) -> impl Future<Output = Result<(), CacheError>> + Send {
        async { Err(CacheError::backend("this cache cannot be cleared")) }
    }

    /// The value under `key`, decoded. The default decodes the JSON [`get`](Cache::get)
    /// returns; an entry that is not a JSON `T` is a [`CacheError::Corrupt`].
    fn get_value<T: CacheValue>(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<T>, CacheError>> + Send {
        async move {
            match self.get(key).await? {
                None => Ok(None),
                Some(bytes) => decode(&bytes).map(Some),
            }
        }
    }

    /// Stores `value` under `key` for `ttl`. The default stores its JSON with
    /// [`set`](Cache::set).
    fn set_value<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), CacheError>> + Send {
        async move {
            let bytes = encode(value)?;
            self.set(key, bytes, ttl).await
        }
    }
}

impl<C: Cache + ?Sized> Cache for Arc<C> {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, CacheError>> + Send {
        (**self).get(key)
    }
    fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), CacheError>> + Send {
        (**self).set(key, value, ttl)
    }
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), CacheError>> + Send {
        (**self).delete(key)
    }
    fn delete_many(&self, keys: &[String]) -> impl Future<Output = Result<(), CacheError>> + Send {
        (**self).delete_many(keys)
    }
    fn clear(&self) -> impl Future<Output = Result<(), CacheError>> + Send {
        (**self).clear()
    }
    fn get_value<T: CacheValue>(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<T>, CacheError>> + Send {
        (**self).get_value(key)
    }
    fn set_value<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), CacheError>> + Send {
        (**self).set_value(key, value, ttl)
    }
}

/// The default TTL of cached user lookups (`CLERK_CACHE_TIMEOUT`).
pub const DEFAULT_USER_TTL: Duration = Duration::from_secs(300);
/// The default TTL of cached organization lookups (`CLERK_ORG_CACHE_TIMEOUT`).
pub const DEFAULT_ORG_TTL: Duration = Duration::from_secs(900);
/// The default minimum interval between two cache warnings.
pub const DEFAULT_WARN_INTERVAL: Duration = Duration::from_secs(30);

/// The cache key of the user with local id `id`.
#[must_use]
pub fn user_id_key(id: UserId) -> String {
    format!("v1:user:id:{id}")
}

/// The cache key of the user with Clerk id `clerk_id`.
#[must_use]
pub fn user_clerk_key(clerk_id: &str) -> String {
    format!("v1:user:clerk:{clerk_id}")
}

/// The cache key of the revocation answer for Clerk session `session_id`.
#[must_use]
pub fn revoked_session_key(session_id: &str) -> String {
    format!("v1:session:revoked:{session_id}")
}

/// The cache key of the organization with Clerk id `clerk_id`.
#[must_use]
pub fn org_key(clerk_id: &str) -> String {
    format!("v1:org:{clerk_id}")
}

/// Counters of a [`CachedStore`] (shared by its clones), from [`CachedStore::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered by the cache.
    pub hits: u64,
    /// Lookups that went to the store (cache miss, cache error or caching off).
    pub misses: u64,
    /// Cache errors (each one answered from the store or ignored).
    pub errors: u64,
    /// Warnings logged (at most one per warning interval).
    pub warnings: u64,
}

#[derive(Debug)]
struct Shared {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    warnings: AtomicU64,
    /// Errors since the last warning.
    suppressed: AtomicU64,
    /// When the last warning was logged (ms), `i64::MIN` when never.
    last_warning: AtomicI64,
    /// `apply` calls in progress.
    writes_in_flight: AtomicUsize,
    /// Bumped when an `apply` finishes (after its invalidation).
    write_epoch: AtomicU64,
}

impl Shared {
    fn new() -> Self {
        Shared {
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            warnings: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            last_warning: AtomicI64::new(i64::MIN),
            writes_in_flight: AtomicUsize::new(0),
            write_epoch: AtomicU64::new(0),
        }
    }
}

/// Marks an `apply` in flight; on drop (also when the future is cancelled) bumps the epoch.
struct WriteGuard<'a>(&'a Shared);

impl<'a> WriteGuard<'a> {
    fn begin(shared: &'a Shared) -> Self {
        shared.writes_in_flight.fetch_add(1, Ordering::SeqCst);
        WriteGuard(shared)
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.0.write_epoch.fetch_add(1, Ordering::SeqCst);
        self.0.writes_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An error and its sources on one line (`a: b: c`).
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// A [`Store`] whose user and organization lookups read through a [`Cache`], and whose
/// writes invalidate what they touched. Implements the store traits itself, so it drops in
/// wherever a store is expected. See the [module docs](self) for the rules.
///
/// ```
/// # use std::time::Duration;
/// # use clerk_core::cache::{Cache, CacheError, CachedStore};
/// # fn demo<S: clerk_core::store::Store, C: Cache>(store: S, cache: C, config: &clerk_core::ClerkConfig) {
/// let cached = CachedStore::new(store, cache)
///     .with_config(config) // CLERK_CACHE_TIMEOUT, CLERK_ORG_CACHE_TIMEOUT
///     .with_warn_interval(Duration::from_secs(60));
/// # let _ = cached; }
/// ```
pub struct CachedStore<S, C> {
    store: S,
    cache: C,
    clock: Arc<dyn Clock>,
    user_ttl: Duration,
    org_ttl: Duration,
    warn_interval: Duration,
    peers: Option<Peers>,
    shared: Arc<Shared>,
}

impl<S: Clone, C: Clone> Clone for CachedStore<S, C> {
    fn clone(&self) -> Self {
        CachedStore {
            store: self.store.clone(),
            cache: self.cache.clone(),
            clock: Arc::clone(&self.clock),
            user_ttl: self.user_ttl,
            org_ttl: self.org_ttl,
            warn_interval: self.warn_interval,
            peers: self.peers.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, C> fmt::Debug for CachedStore<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("user_ttl", &self.user_ttl)
            .field("org_ttl", &self.org_ttl)
            .field("warn_interval", &self.warn_interval)
            .field("peers", &self.peers)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<S, C> CachedStore<S, C> {
    /// `store` behind `cache`, with the default TTLs (300 s users, 900 s organizations), a
    /// 30 s warning interval and the system clock.
    pub fn new(store: S, cache: C) -> Self {
        CachedStore {
            store,
            cache,
            clock: Arc::new(SystemClock),
            user_ttl: DEFAULT_USER_TTL,
            org_ttl: DEFAULT_ORG_TTL,
            warn_interval: DEFAULT_WARN_INTERVAL,
            peers: None,
            shared: Arc::new(Shared::new()),
        }
    }

    /// The TTLs of `config`: `cache_timeout` (users) and `org_cache_timeout` (organizations).
    #[must_use]
    pub fn with_config(self, config: &ClerkConfig) -> Self {
        self.with_user_ttl(config.cache_timeout)
            .with_org_ttl(config.org_cache_timeout)
    }

    /// The TTL of cached user lookups; zero turns them off.
    #[must_use]
    pub fn with_user_ttl(mut self, ttl: Duration) -> Self {
        self.user_ttl = ttl;
        self
    }

    /// The TTL of cached organization lookups; zero turns them off.
    #[must_use]
    pub fn with_org_ttl(mut self, ttl: Duration) -> Self {
        self.org_ttl = ttl;
        self
    }

    /// Other instances share the database, each with its own cache: announce every write's
    /// invalidated keys on `peers`, and bypass this cache whenever `peers`' listener is not
    /// connected ([`peers`](self::Peers) module docs).
    #[must_use]
    pub fn with_peers(mut self, peers: Peers) -> Self {
        self.peers = Some(peers);
        self
    }

    /// The link to other instances, if any.
    #[must_use]
    pub fn peers(&self) -> Option<&Peers> {
        self.peers.as_ref()
    }

    /// The minimum interval between two warnings about cache errors.
    #[must_use]
    pub fn with_warn_interval(mut self, interval: Duration) -> Self {
        self.warn_interval = interval;
        self
    }

    /// The clock that paces warnings (the system clock by default).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The inner store (reads and writes through it bypass the cache).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The cache.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// The counters so far (shared by all clones).
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.shared.hits.load(Ordering::Relaxed),
            misses: self.shared.misses.load(Ordering::Relaxed),
            errors: self.shared.errors.load(Ordering::Relaxed),
            warnings: self.shared.warnings.load(Ordering::Relaxed),
        }
    }

    /// Counts a cache error and logs it unless a warning was logged less than the warning
    /// interval ago.
    fn report(&self, operation: &'static str, error: &CacheError) {
        let shared = &self.shared;
        shared.errors.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now().as_millis();
        let interval = i64::try_from(self.warn_interval.as_millis()).unwrap_or(i64::MAX);
        let last = shared.last_warning.load(Ordering::SeqCst);
        let due = last == i64::MIN || now.saturating_sub(last) >= interval;
        if due
            && shared
                .last_warning
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            let suppressed = shared.suppressed.swap(0, Ordering::Relaxed);
            shared.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                operation,
                error = %Chain(error),
                suppressed,
                "clerk cache error: answering from the store (fail open)"
            );
        } else {
            shared.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<S: Store, C: Cache> CachedStore<S, C> {
    /// Reads `key` through the cache: a hit decodes the cached value; a miss (or any cache
    /// error) calls `load` and, when the value is found, `cacheable`, the cache was healthy and
    /// no write overlapped the read, stores it for `ttl`.
    async fn read_through<T, L, F>(
        &self,
        key: String,
        ttl: Duration,
        cacheable: fn(&T) -> bool,
        load: L,
    ) -> Result<Option<T>, StoreError>
    where
        T: CacheValue,
        L: FnOnce() -> F + Send,
        F: Future<Output = Result<Option<T>, StoreError>> + Send,
    {
        if ttl.is_zero() || self.peers.as_ref().is_some_and(|peers| !peers.is_live()) {
            // Off, or blind to other instances' writes: the store answers.
            self.shared.misses.fetch_add(1, Ordering::Relaxed);
            return load().await;
        }
        let mut cache_healthy = true;
        match self.cache.get_value::<T>(&key).await {
            Ok(Some(value)) => {
                self.shared.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(value));
            }
            Ok(None) => {}
            // A value that does not decode (another version's layout) is overwritten below.
            Err(e @ CacheError::Corrupt(_)) => self.report("decode", &e),
            Err(e) => {
                self.report("get", &e);
                cache_healthy = false;
            }
        }
        self.shared.misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.shared.write_epoch.load(Ordering::SeqCst);
        let quiet_before = self.shared.writes_in_flight.load(Ordering::SeqCst) == 0;
        let value = load().await?;
        if let Some(found) = &value {
            let quiet_after = self.shared.writes_in_flight.load(Ordering::SeqCst) == 0
                && self.shared.write_epoch.load(Ordering::SeqCst) == epoch;
            if cache_healthy && quiet_before && quiet_after && cacheable(found) {
                if let Err(e) = self.cache.set_value(&key, found, ttl).await {
                    self.report("set", &e);
                }
            }
        }
        Ok(value)
    }

    /// Deletes the entries a batch may have changed, given its plan and the per-change
    /// results (`None` when unknown: the batch failed, so every change counts as a change).
    async fn invalidate(&self, plan: &[Target], applied: Option<&[Applied]>) {
        let mut keys: Vec<String> = Vec::new();
        let mut clerk_id_unknown: Vec<UserId> = Vec::new();
        for (i, target) in plan.iter().enumerate() {
            let result = applied.and_then(|a| a.get(i));
            if result.is_some_and(|r| !r.effect.changed()) {
                continue;
            }
            let reported_id = result.and_then(|r| r.user_id);
            match target {
                Target::UserByClerkId(clerk_id) => {
                    keys.push(user_clerk_key(clerk_id));
                    keys.extend(reported_id.map(user_id_key));
                }
                Target::UserById(id) => {
                    keys.push(user_id_key(*id));
                    clerk_id_unknown.push(*id);
                }
                Target::NewUser => keys.extend(reported_id.map(user_id_key)),
                Target::Organization(clerk_id) => keys.push(org_key(clerk_id)),
                Target::RevokedSession(session_id) => keys.push(revoked_session_key(session_id)),
                Target::Uncached => {}
            }
        }
        clerk_id_unknown.sort_unstable();
        clerk_id_unknown.dedup();
        for id in clerk_id_unknown {
            // Read back after the commit: the Clerk id of a row only ever goes from none to
            // some (linking), and a linking change names the Clerk id itself.
            match self.store.user(id).await {
                Ok(Some(user)) => keys.extend(user.clerk_id.as_deref().map(user_clerk_key)),
                Ok(None) => {}
                Err(e) => self.report(
                    "invalidate (reading the Clerk id back)",
                    &CacheError::backend(e),
                ),
            }
        }
        if keys.is_empty() {
            return;
        }
        keys.sort_unstable();
        keys.dedup();
        if let Err(e) = self.cache.delete_many(&keys).await {
            self.report("invalidate", &e);
        }
        if let Some(peers) = &self.peers {
            if let Err(e) = peers.publish(&keys).await {
                self.report("announce the invalidation to other instances", &e);
            }
        }
    }

    /// Another instance changed `keys`: delete them here. Reads that overlapped it do not
    /// fill the cache (the same guard as for this instance's own writes).
    pub async fn forget(&self, keys: &[String]) {
        self.shared.write_epoch.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.cache.delete_many(keys).await {
            self.report("forget (another instance's write)", &e);
        }
        self.shared.write_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Empties the cache: what a listener does when it (re)connects, since invalidations may
    /// have been missed while it was away.
    ///
    /// # Errors
    /// The cache could not be cleared (keep it bypassed: [`Peers::set_live`] `false`).
    pub async fn forget_all(&self) -> Result<(), CacheError> {
        self.shared.write_epoch.fetch_add(1, Ordering::SeqCst);
        let cleared = self.cache.clear().await;
        self.shared.write_epoch.fetch_add(1, Ordering::SeqCst);
        cleared
    }
}

/// Which cached entries a change may touch (computed before the batch moves into the store).
enum Target {
    /// A user named by Clerk id (and, through [`Applied::user_id`], by local id).
    UserByClerkId(String),
    /// A user named by local id only: its Clerk id is read back after the commit.
    UserById(UserId),
    /// A new local user: the reported id.
    NewUser,
    /// An organization.
    Organization(String),
    /// A session's revocation answer.
    RevokedSession(String),
    /// Nothing cached.
    Uncached,
}

impl Target {
    // Exhaustive on purpose: a new `Change` variant must decide what it invalidates.
    fn of(change: &Change) -> Self {
        match change {
            Change::UpsertUser { data, .. } | Change::ReapplyUser { data, .. } => {
                Target::UserByClerkId(data.clerk_id.clone())
            }
            Change::DeleteUser { clerk_id, .. } => Target::UserByClerkId(clerk_id.clone()),
            Change::RecordLogin { user, .. } | Change::RecordLogout { user, .. } => match user {
                UserRef::ClerkId(clerk_id) => Target::UserByClerkId(clerk_id.clone()),
                UserRef::Id(id) => Target::UserById(*id),
            },
            Change::UpdateLocalFields { id, .. } => Target::UserById(*id),
            Change::CreateLocalUser(_) => Target::NewUser,
            Change::UpsertOrganization(data) => Target::Organization(data.clerk_id.clone()),
            Change::DeleteOrganization { clerk_id, .. } => Target::Organization(clerk_id.clone()),
            Change::RevokeSession(session) => Target::RevokedSession(session.session_id.clone()),
            Change::ReleaseHeld { .. }
            | Change::UpsertMembership(_)
            | Change::DeleteMembership { .. }
            | Change::UpsertInvitation(_) => Target::Uncached,
        }
    }
}

fn no_password_hash(user: &User) -> bool {
    user.password_hash.is_none()
}

fn always<T>(_: &T) -> bool {
    true
}

#[crate::store::async_trait]
impl<S: Store, C: Cache> UserStore for CachedStore<S, C> {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read_through(user_id_key(id), self.user_ttl, no_password_hash, || {
            self.store.user(id)
        })
        .await
    }

    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        self.read_through(
            user_clerk_key(clerk_id),
            self.user_ttl,
            no_password_hash,
            || self.store.user_by_clerk_id(clerk_id),
        )
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.store.user_by_email(email).await
    }

    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.store.local_user_by_username(username).await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.store.list_users(after, limit).await
    }
}

#[crate::store::async_trait]
impl<S: Store, C: Cache> OrganizationStore for CachedStore<S, C> {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        self.read_through(org_key(clerk_id), self.org_ttl, always, || {
            self.store.organization(clerk_id)
        })
        .await
    }

    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        self.store.list_organizations(after, limit).await
    }

    async fn membership(&self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        self.store.membership(clerk_id).await
    }

    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        self.store.memberships_of_user(user_clerk_id).await
    }

    async fn memberships_of_organization(
        &self,
        organization_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        self.store
            .memberships_of_organization(organization_clerk_id)
            .await
    }

    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        self.store.invitation(clerk_id).await
    }
}

#[crate::store::async_trait]
impl<S: Store, C: Cache> LedgerStore for CachedStore<S, C> {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        self.store.webhook_event(svix_id).await
    }

    async fn revoked_session(
        &self,
        session_id: &str,
    ) -> Result<Option<RevokedSession>, StoreError> {
        // The answer is cached whichever it is: "not revoked" is what nearly every signed-in
        // request asks, and a recorded revocation deletes the entry (see the module docs).
        let answer = self
            .read_through(
                revoked_session_key(session_id),
                self.user_ttl,
                always,
                || async { self.store.revoked_session(session_id).await.map(Some) },
            )
            .await?;
        Ok(answer.flatten())
    }

    async fn held_event(&self, svix_id: &str) -> Result<Option<HeldEvent>, StoreError> {
        self.store.held_event(svix_id).await
    }

    async fn held_events(&self, limit: usize) -> Result<Vec<HeldEvent>, StoreError> {
        self.store.held_events(limit).await
    }

    async fn count_held_events(&self) -> Result<u64, StoreError> {
        self.store.count_held_events().await
    }
}

#[crate::store::async_trait]
impl<S: Store, C: Cache> LoginAttemptStore for CachedStore<S, C> {
    async fn record_login_failure(
        &self,
        keys: &[&str],
        at: UnixTime,
        forget_before: UnixTime,
    ) -> Result<(), StoreError> {
        self.store
            .record_login_failure(keys, at, forget_before)
            .await
    }

    async fn recent_login_failures(
        &self,
        key: &str,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<UnixTime>, StoreError> {
        self.store.recent_login_failures(key, since, limit).await
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.store.clear_login_failures(key).await
    }
}

#[crate::store::async_trait]
impl<S: Store, C: Cache> StoreWriter for CachedStore<S, C> {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        let _write = WriteGuard::begin(&self.shared);
        let plan: Vec<Target> = batch.changes.iter().map(Target::of).collect();
        let outcome = self.store.apply(batch).await;
        match &outcome {
            Ok(BatchOutcome::Applied(applied)) => self.invalidate(&plan, Some(applied)).await,
            Ok(BatchOutcome::AlreadyProcessed(_)) => {}
            Err(_) => self.invalidate(&plan, None).await,
        }
        outcome
    }
}

/// The cases every [`Cache`] implementation passes (feature `conformance`).
///
/// Each case is an `async fn` taking a cache (empty, or at least without the keys the case
/// uses — give each test its own key prefix on a shared server) and panicking when the cache
/// breaks the contract. No runtime is needed; a backend's test runs them under its own.
#[cfg(feature = "conformance")]
pub mod conformance {
    use std::future::Future;
    use std::time::Duration;

    use super::Cache;

    const HOUR: Duration = Duration::from_secs(3600);

    async fn get<C: Cache>(cache: &C, key: &str) -> Option<Vec<u8>> {
        match cache.get(key).await {
            Ok(v) => v,
            Err(e) => panic!("get {key:?} failed: {e:?}"),
        }
    }

    async fn set<C: Cache>(cache: &C, key: &str, value: &[u8], ttl: Duration) {
        if let Err(e) = cache.set(key, value.to_vec(), ttl).await {
            panic!("set {key:?} failed: {e:?}");
        }
    }

    /// Set, get, overwrite, delete; absent keys read as `None`; deleting an absent key is fine.
    pub async fn get_set_delete<C: Cache>(cache: &C) {
        assert_eq!(get(cache, "k1").await, None, "an unknown key is absent");
        set(cache, "k1", b"one", HOUR).await;
        assert_eq!(get(cache, "k1").await.as_deref(), Some(&b"one"[..]));
        set(cache, "k1", b"uno", HOUR).await;
        assert_eq!(
            get(cache, "k1").await.as_deref(),
            Some(&b"uno"[..]),
            "set replaces"
        );
        cache.delete("k1").await.expect("delete");
        assert_eq!(get(cache, "k1").await, None, "deleted");
        cache
            .delete("k1")
            .await
            .expect("deleting an absent key is fine");
    }

    /// Values are bytes (not text): empty, binary and large values round-trip, and keys may
    /// hold `:`, spaces and non-ASCII characters.
    pub async fn values_are_bytes<C: Cache>(cache: &C) {
        let binary: Vec<u8> = (0..=255u8).collect();
        set(cache, "bin", &binary, HOUR).await;
        assert_eq!(get(cache, "bin").await, Some(binary));
        set(cache, "empty", b"", HOUR).await;
        assert_eq!(
            get(cache, "empty").await,
            Some(Vec::new()),
            "empty is not absent"
        );
        let large = vec![7u8; 256 * 1024];
        set(cache, "large", &large, HOUR).await;
        assert_eq!(get(cache, "large").await, Some(large));
        set(cache, "v1:user:clerk:a b é", b"x", HOUR).await;
        assert_eq!(
            get(cache, "v1:user:clerk:a b é").await.as_deref(),
            Some(&b"x"[..])
        );
        assert_eq!(
            get(cache, "v1:user:clerk:a b").await,
            None,
            "keys are exact"
        );
    }

    /// `delete_many` removes every listed key and nothing else.
    pub async fn delete_many<C: Cache>(cache: &C) {
        for key in ["m1", "m2", "m3"] {
            set(cache, key, key.as_bytes(), HOUR).await;
        }
        cache
            .delete_many(&["m1".to_owned(), "m3".to_owned(), "absent".to_owned()])
            .await
            .expect("delete_many");
        assert_eq!(get(cache, "m1").await, None);
        assert_eq!(get(cache, "m2").await.as_deref(), Some(&b"m2"[..]));
        assert_eq!(get(cache, "m3").await, None);
        cache
            .delete_many(&[])
            .await
            .expect("an empty delete_many is fine");
    }

    /// An entry set for `short` is gone once `wait(2 × short)` returns; one set for an hour
    /// is still there; a zero TTL stores nothing. `wait` sleeps (a server) or advances the
    /// cache's clock (an in-process cache with a manual clock).
    pub async fn ttl_expiry<C, W, F>(cache: &C, short: Duration, wait: W)
    where
        C: Cache,
        W: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        set(cache, "short", b"s", short).await;
        set(cache, "long", b"l", HOUR).await;
        set(cache, "zero", b"z", Duration::ZERO).await;
        assert_eq!(
            get(cache, "short").await.as_deref(),
            Some(&b"s"[..]),
            "not yet expired"
        );
        assert_eq!(get(cache, "zero").await, None, "a zero TTL stores nothing");
        wait(short * 2).await;
        assert_eq!(get(cache, "short").await, None, "expired after its TTL");
        assert_eq!(
            get(cache, "long").await.as_deref(),
            Some(&b"l"[..]),
            "TTLs are per entry"
        );
        // A refresh restarts the TTL.
        set(cache, "short", b"s2", HOUR).await;
        wait(short * 2).await;
        assert_eq!(get(cache, "short").await.as_deref(), Some(&b"s2"[..]));
    }

    /// Two caches with different key prefixes over the same storage do not see each other's
    /// entries, for reads, writes and deletes.
    pub async fn prefix_isolation<C: Cache>(a: &C, b: &C) {
        set(a, "shared", b"a", HOUR).await;
        assert_eq!(get(b, "shared").await, None, "b does not see a's key");
        set(b, "shared", b"b", HOUR).await;
        assert_eq!(get(a, "shared").await.as_deref(), Some(&b"a"[..]));
        assert_eq!(get(b, "shared").await.as_deref(), Some(&b"b"[..]));
        b.delete("shared").await.expect("delete");
        assert_eq!(
            get(a, "shared").await.as_deref(),
            Some(&b"a"[..]),
            "b's delete is b's"
        );
        b.delete_many(&["shared".to_owned()])
            .await
            .expect("delete_many");
        assert_eq!(get(a, "shared").await.as_deref(), Some(&b"a"[..]));
    }

    /// Serde values: they round-trip, read back as JSON bytes, JSON bytes read back as values
    /// (also as another type with the same JSON), and an entry that is not the expected JSON
    /// is [`CacheError::Corrupt`](super::CacheError::Corrupt) — not a panic, and without
    /// echoing the value.
    pub async fn values<C: Cache>(cache: &C) {
        #[derive(serde::Deserialize, serde::Serialize, Clone, Debug, PartialEq)]
        struct Named {
            id: u32,
            name: String,
        }
        let value = serde_json::json!({"id": 7, "name": "Ada"});
        cache
            .set_value("json", &value, HOUR)
            .await
            .expect("set_value");
        let back: Option<serde_json::Value> = cache.get_value("json").await.expect("get_value");
        assert_eq!(back.as_ref(), Some(&value));
        let bytes = get(cache, "json")
            .await
            .expect("a value reads back as bytes");
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).expect("as JSON");
        assert_eq!(parsed, value);
        let named: Option<Named> = cache.get_value("json").await.expect("get_value");
        let ada = Named {
            id: 7,
            name: "Ada".into(),
        };
        assert_eq!(named, Some(ada));

        set(cache, "bytes", br#"{"id":8,"name":"Grace"}"#, HOUR).await;
        let named: Option<Named> = cache.get_value("bytes").await.expect("get_value");
        let grace = Named {
            id: 8,
            name: "Grace".into(),
        };
        assert_eq!(named, Some(grace.clone()));
        let absent: Option<Named> = cache.get_value("absent").await.expect("get_value");
        assert_eq!(absent, None);

        set(cache, "garbage", b"\xff not json", HOUR).await;
        match cache.get_value::<serde_json::Value>("garbage").await {
            Err(super::CacheError::Corrupt(message)) => {
                assert!(
                    !message.contains("not json"),
                    "the value is not echoed: {message}"
                );
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        match cache.get_value::<u64>("json").await {
            Err(super::CacheError::Corrupt(_)) => {}
            other => panic!("expected Corrupt for the wrong type, got {other:?}"),
        }
        cache
            .set_value("json", &grace, Duration::ZERO)
            .await
            .expect("set_value");
        assert_eq!(get(cache, "json").await, None, "a zero TTL stores nothing");
    }

    /// Every case above but [`ttl_expiry`] and [`prefix_isolation`] (which need arguments),
    /// on one cache.
    pub async fn run_basic<C: Cache>(cache: &C) {
        get_set_delete(cache).await;
        values_are_bytes(cache).await;
        delete_many(cache).await;
        values(cache).await;
    }
}
