//! `RedisCache` against a real Redis (`CLERK_TEST_REDIS_URL`; skipped with a message when
//! unset), and against no Redis at all (a closed port, a server that never answers): lookups
//! through a `CachedStore` fail open, quickly, with one warning per interval.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use clerk_core::cache::{conformance, Cache, CacheError, CachedStore};
use clerk_core::model::{ClerkOrganizationData, ClerkUserData, UserId};
use clerk_core::store::{
    Change, LinkPolicy, OrganizationStore, StoreWriter, UserStore, WriteBatch,
};
use clerk_core::time::{Clock, UnixTime};
use clerk_store::{MemoryStore, RedisCache};

fn redis_url() -> Option<String> {
    match std::env::var("CLERK_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: CLERK_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379)");
            None
        }
    }
}

/// A key prefix no other test (or run) uses.
fn unique_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("clerk-test:{}:{nanos}:{n}:", std::process::id())
}

fn cache_on(url: &str, prefix: &str) -> RedisCache {
    RedisCache::builder(url)
        .prefix(prefix)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

async fn raw_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

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

/// Cache warnings per test thread (libtest names threads after tests), through one global
/// subscriber.
static WARNINGS: OnceLock<Arc<Mutex<std::collections::HashMap<String, usize>>>> = OnceLock::new();

struct CountWarnings(Arc<Mutex<std::collections::HashMap<String, usize>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountWarnings {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        if *meta.level() == tracing::Level::WARN && meta.target().starts_with("clerk_core::cache") {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            *self.0.lock().unwrap().entry(thread).or_default() += 1;
        }
    }
}

fn warnings_on_this_thread() -> usize {
    let counts = WARNINGS.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let counts = Arc::new(Mutex::new(std::collections::HashMap::new()));
        let subscriber = tracing_subscriber::registry().with(CountWarnings(Arc::clone(&counts)));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        counts
    });
    let thread = std::thread::current().name().unwrap_or("").to_owned();
    let n = counts.lock().unwrap().get(&thread).copied().unwrap_or(0);
    n
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

// ---------------------------------------------------------------------------------------------
// Conformance on a real Redis

#[tokio::test]
async fn redis_cache_passes_the_basic_cases() {
    let Some(url) = redis_url() else { return };
    conformance::run_basic(&cache_on(&url, &unique_prefix())).await;
}

#[tokio::test]
async fn redis_cache_expires_entries_server_side() {
    let Some(url) = redis_url() else { return };
    let cache = cache_on(&url, &unique_prefix());
    conformance::ttl_expiry(&cache, Duration::from_millis(300), tokio::time::sleep).await;
}

#[tokio::test]
async fn redis_cache_prefixes_isolate() {
    let Some(url) = redis_url() else { return };
    let a = cache_on(&url, &unique_prefix());
    let b = cache_on(&url, &unique_prefix());
    conformance::prefix_isolation(&a, &b).await;
}

/// The key on the server is the prefix plus the key, and its TTL is set by the server.
#[tokio::test]
async fn redis_keys_are_prefixed_and_carry_a_server_side_ttl() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix();
    let cache = cache_on(&url, &prefix);
    cache
        .set(
            "v1:user:clerk:user_1",
            b"x".to_vec(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let mut raw = raw_connection(&url).await;
    let full = format!("{prefix}v1:user:clerk:user_1");
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&full)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!((1..=10_000).contains(&pttl), "PTTL {pttl}");
    let bare: bool = redis::cmd("EXISTS")
        .arg("v1:user:clerk:user_1")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!bare, "nothing written without the prefix");
    cache.delete("v1:user:clerk:user_1").await.unwrap();
    let exists: bool = redis::cmd("EXISTS")
        .arg(&full)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!exists);
}

// ---------------------------------------------------------------------------------------------
// CachedStore on a real Redis

#[tokio::test]
async fn cached_store_on_redis_hits_invalidates_and_keeps_no_negative() {
    let Some(url) = redis_url() else { return };
    let cached = CachedStore::new(MemoryStore::new(), cache_on(&url, &unique_prefix()));

    // No stale negative.
    assert!(cached.user_by_clerk_id("user_1").await.unwrap().is_none());
    let id = write(&cached, upsert("user_1", 1, "Ada")).await.unwrap();
    let user = cached.user_by_clerk_id("user_1").await.unwrap().unwrap();
    assert_eq!(user.first_name.as_deref(), Some("Ada"));

    // Hits.
    let again = cached.user_by_clerk_id("user_1").await.unwrap().unwrap();
    assert_eq!(again, user, "a cached user round-trips exactly");
    assert_eq!(cached.user(id).await.unwrap().unwrap(), user);
    assert_eq!(cached.user(id).await.unwrap().unwrap(), user);
    let stats = cached.stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (2, 3, 0));

    // A write invalidates both entries.
    write(&cached, upsert("user_1", 2, "Grace")).await;
    let by_clerk = cached.user_by_clerk_id("user_1").await.unwrap().unwrap();
    assert_eq!(by_clerk.first_name.as_deref(), Some("Grace"));
    assert_eq!(cached.user(id).await.unwrap().unwrap(), by_clerk);

    // Organizations.
    let org = ClerkOrganizationData::new("org_1", "Acme", t(0), t(1));
    write(&cached, Change::UpsertOrganization(org)).await;
    assert_eq!(
        cached.organization("org_1").await.unwrap().unwrap().name,
        "Acme"
    );
    let org = ClerkOrganizationData::new("org_1", "Acme 2", t(0), t(2));
    write(&cached, Change::UpsertOrganization(org)).await;
    assert_eq!(
        cached.organization("org_1").await.unwrap().unwrap().name,
        "Acme 2"
    );
}

#[tokio::test]
async fn the_cached_store_on_redis_passes_the_store_conformance_suite() {
    let Some(url) = redis_url() else { return };
    let make = || {
        let cache = cache_on(&url, &unique_prefix());
        async move { CachedStore::new(MemoryStore::new(), cache) }
    };
    clerk_core::store::conformance::run_all(make).await;
}

// ---------------------------------------------------------------------------------------------
// No Redis: fail open, quickly, warning once per interval. These need no server.

async fn fails_open_quickly(cache: RedisCache, timeout: Duration) {
    let clock = TestClock::new();
    let cached = CachedStore::new(MemoryStore::new(), cache)
        .with_clock(clock.clone())
        .with_warn_interval(Duration::from_secs(30));
    let before = warnings_on_this_thread();

    let started = Instant::now();
    write(&cached, upsert("user_1", 1, "Ada")).await;
    let org = ClerkOrganizationData::new("org_1", "Acme", t(0), t(1));
    write(&cached, Change::UpsertOrganization(org)).await;
    for _ in 0..50 {
        let user = cached.user_by_clerk_id("user_1").await.unwrap().unwrap();
        assert_eq!(user.first_name.as_deref(), Some("Ada"));
        assert!(cached.organization("org_1").await.unwrap().is_some());
        assert!(cached
            .user_by_clerk_id("user_missing")
            .await
            .unwrap()
            .is_none());
    }
    let elapsed = started.elapsed();
    // One timeout at most per back-off period (1 s): the rest fail at once.
    assert!(
        elapsed < timeout * 2 + Duration::from_millis(500),
        "150 lookups took {elapsed:?}"
    );
    assert_eq!(
        cached.stats().errors,
        152,
        "every call failed and was answered from the store"
    );
    assert_eq!(
        warnings_on_this_thread() - before,
        1,
        "one warning in the interval"
    );
    assert_eq!(cached.stats().warnings, 1);

    clock.advance(Duration::from_secs(30));
    assert!(cached.user_by_clerk_id("user_1").await.unwrap().is_some());
    assert_eq!(
        warnings_on_this_thread() - before,
        2,
        "the next interval warns again"
    );
}

#[tokio::test]
async fn redis_on_a_closed_port_fails_open() {
    let timeout = Duration::from_millis(200);
    let cache = RedisCache::builder("redis://127.0.0.1:1")
        .timeout(timeout)
        .build()
        .unwrap();
    let direct = cache.get("k").await;
    assert!(
        matches!(
            direct,
            Err(CacheError::Unavailable(_) | CacheError::Timeout(_))
        ),
        "{direct:?}"
    );
    // The back-off: the next call fails at once, without connecting.
    let started = Instant::now();
    assert!(cache.get("k").await.is_err());
    assert!(started.elapsed() < Duration::from_millis(50));
    let fresh = RedisCache::builder("redis://127.0.0.1:1")
        .timeout(timeout)
        .build()
        .unwrap();
    fails_open_quickly(fresh, timeout).await;
}

/// A server that accepts connections and never answers (a hung Redis): bounded by the
/// timeout, then the back-off.
#[tokio::test]
async fn a_redis_that_never_answers_fails_open_within_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(200);
    let cache = RedisCache::builder(format!("redis://{address}"))
        .timeout(timeout)
        .build()
        .unwrap();
    let started = Instant::now();
    let direct = cache.get("k").await;
    assert!(matches!(direct, Err(CacheError::Timeout(_))), "{direct:?}");
    assert!(started.elapsed() < timeout * 2 + Duration::from_millis(300));

    let fresh = RedisCache::builder(format!("redis://{address}"))
        .timeout(timeout)
        .build()
        .unwrap();
    fails_open_quickly(fresh, timeout).await;
}

/// A TCP proxy in front of Redis whose connections the test can cut (as a Redis restart or
/// a network blip would), without touching other tests' connections.
struct Proxy {
    address: std::net::SocketAddr,
    pumps: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    _accept: tokio::task::JoinHandle<()>,
}

async fn pump(from: Arc<tokio::net::TcpStream>, to: Arc<tokio::net::TcpStream>) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if from.readable().await.is_err() {
            return;
        }
        let n = match from.try_read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        let mut written = 0;
        while written < n {
            if to.writable().await.is_err() {
                return;
            }
            match to.try_write(&buffer[written..n]) {
                Ok(k) => written += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    }
}

impl Proxy {
    async fn start(redis_url: &str) -> Proxy {
        let target = redis_url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let pumps: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let registry = Arc::clone(&pumps);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(target.as_str()).await else {
                    continue;
                };
                let (client, server) = (Arc::new(client), Arc::new(server));
                let up = tokio::spawn(pump(Arc::clone(&client), Arc::clone(&server)));
                let down = tokio::spawn(pump(server, client));
                registry.lock().unwrap().extend([up, down]);
            }
        });
        Proxy {
            address,
            pumps,
            _accept: accept,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.address)
    }

    /// Closes every proxied connection (new ones are still accepted).
    fn cut(&self) {
        for pump in self.pumps.lock().unwrap().drain(..) {
            pump.abort();
        }
    }
}

/// A broken connection is an error (answered from the store by a `CachedStore`); after the
/// back-off the cache reconnects by itself.
#[tokio::test]
async fn redis_reconnects_after_a_broken_connection() {
    let Some(url) = redis_url() else { return };
    let proxy = Proxy::start(&url).await;
    let cache = RedisCache::builder(proxy.url())
        .prefix(unique_prefix())
        .timeout(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(100))
        .build()
        .unwrap();
    cache
        .set("k", b"v".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let broken = cache.get("k").await;
    assert!(
        matches!(
            broken,
            Err(CacheError::Unavailable(_) | CacheError::Timeout(_))
        ),
        "{broken:?}"
    );
    // Within the back-off: fails at once.
    assert!(cache.get("k").await.is_err());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
}
