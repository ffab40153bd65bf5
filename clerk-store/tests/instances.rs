//! Several instances on one PostgreSQL (design §10): each with its own in-process cache, told
//! of the others' writes with `LISTEN`/`NOTIFY`. A ban written through one instance is seen by
//! another within a second (the test prints the measured time); while an instance's listener
//! is down its cache is bypassed, never stale, and it catches up when the listener is back.
//!
//! Needs `CLERK_TEST_POSTGRES_URL`; without it every test prints a "skipping" line and passes.
#![cfg(all(feature = "postgres", feature = "redis"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk_core::cache::CachedStore;
use clerk_core::config::ClerkConfig;
use clerk_core::model::ClerkUserData;
use clerk_core::store::{Change, LinkPolicy, Store, StoreWriter, UserStore, WriteBatch};
use clerk_core::time::{Clock, SystemClock};
use clerk_store::cache::pg_peers;
use clerk_store::sqlx::postgres::PgPoolOptions;
use clerk_store::{AnyStore, MemoryCache, PostgresStore};
use clerk_testkit::postgres::{test_url, TestSchema};

type Instance = CachedStore<PostgresStore, MemoryCache>;

async fn instance(schema: &TestSchema) -> Instance {
    let store = PostgresStore::connect_with(
        PgPoolOptions::new().max_connections(4),
        schema.connect_options(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    pg_peers::attach(CachedStore::new(store, MemoryCache::new()), pool)
}

async fn until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

fn upsert(clerk_id: &str, banned: bool, version: i64) -> WriteBatch {
    let at = clerk_core::time::UnixTime::from_secs(1_700_000_000 + version);
    let mut data =
        ClerkUserData::new(clerk_id, at, at).with_email(format!("{clerk_id}@example.com"), true);
    data.banned = banned;
    WriteBatch::single(
        SystemClock.now(),
        Change::UpsertUser {
            data,
            link: LinkPolicy::Never,
        },
    )
}

async fn banned(store: &Instance, clerk_id: &str) -> bool {
    store
        .user_by_clerk_id(clerk_id)
        .await
        .unwrap()
        .is_some_and(|user| user.banned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_written_on_one_instance_is_seen_on_another_within_a_second() {
    let Some(url) = test_url("a_ban_written_on_one_instance_is_seen_on_another_within_a_second")
    else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let a = instance(&schema).await;
    let b = instance(&schema).await;
    for (name, store) in [("a", &a), ("b", &b)] {
        until(name, Duration::from_secs(5), async || {
            store.peers().unwrap().is_live()
        })
        .await;
    }
    let _ = a.apply(upsert("user_i", false, 1)).await.unwrap();
    // B reads the user until it serves it from its cache (a read that overlapped A's
    // notification does not fill it: the race guard).
    until("B caches the user", Duration::from_secs(2), async || {
        let hits = b.stats().hits;
        assert!(!banned(&b, "user_i").await);
        b.stats().hits > hits
    })
    .await;
    let _ = a.apply(upsert("user_i", true, 2)).await.unwrap();
    let seen = until("B sees the ban", Duration::from_secs(1), async || {
        banned(&b, "user_i").await
    })
    .await;
    println!("a ban written on instance A was seen on instance B after {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_bypasses_the_cache_and_catches_up() {
    let Some(url) = test_url("a_lost_listener_bypasses_the_cache_and_catches_up") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let a = instance(&schema).await;
    let b = instance(&schema).await;
    until("b live", Duration::from_secs(5), async || {
        b.peers().unwrap().is_live()
    })
    .await;
    let _ = a.apply(upsert("user_l", false, 1)).await.unwrap();
    assert!(!banned(&b, "user_l").await); // cached in B
                                          // Cut every listener of this schema (B's and A's) from the server side.
    let killed: Vec<(bool,)> = clerk_store::sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND query LIKE $1",
    )
    .bind(format!("%{}%", schema.name()))
    .fetch_all(a.store().pool())
    .await
    .unwrap();
    assert!(!killed.is_empty(), "no listener found to cut");
    until("b notices", Duration::from_secs(5), async || {
        !b.peers().unwrap().is_live()
    })
    .await;
    // While B is deaf, a write on A must still be seen by B at once: B's cache is bypassed.
    let _ = a.apply(upsert("user_l", true, 2)).await.unwrap();
    if !b.peers().unwrap().is_live() {
        assert!(
            banned(&b, "user_l").await,
            "B served a stale user while deaf"
        );
    }
    // And B catches up: live again, reading the current row.
    until("b back", Duration::from_secs(10), async || {
        b.peers().unwrap().is_live()
    })
    .await;
    assert!(banned(&b, "user_l").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_notification_channel_entries_live_at_most_a_second() {
    // SQLite (no LISTEN/NOTIFY, no Redis): the TTL is bounded instead.
    let dir = std::env::temp_dir().join(format!("clerk-instances-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("one.db").display());
    let config = ClerkConfig::builder()
        .secret_key("sk_test_instances")
        .publishable_key(clerk_testkit::mint::publishable_key_for(
            clerk_testkit::mint::DEFAULT_FRONTEND_HOST,
            false,
        ))
        .frontend_host(clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let open = async || -> Arc<dyn Store> {
        let store = AnyStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.into_instance_cached(None, &config)
    };
    let a = open().await;
    let b = open().await;
    let _ = a.apply(upsert("user_s", false, 1)).await.unwrap();
    assert!(!b.user_by_clerk_id("user_s").await.unwrap().unwrap().banned);
    let _ = a.apply(upsert("user_s", true, 2)).await.unwrap();
    let start = Instant::now();
    while !b.user_by_clerk_id("user_s").await.unwrap().unwrap().banned {
        assert!(
            start.elapsed() < clerk_store::UNANNOUNCED_CACHE_TTL + Duration::from_millis(500),
            "B still serves the old user after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "without a channel B saw the ban after {:?}",
        start.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
