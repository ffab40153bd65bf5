//! Cached vs uncached user lookups (`user_by_clerk_id`), all in one run so ratios are fair on
//! a noisy machine:
//!
//! - `user_lookup/memory_cache_hit` — `CachedStore<SqliteStore, MemoryCache>`, warm entry
//!   (key, map lookup, copy, JSON decode of the full `User`);
//! - `user_lookup/redis_cache_hit` — the same with `RedisCache` (when `CLERK_TEST_REDIS_URL`
//!   is set and the `redis` feature is on);
//! - `user_lookup/sqlite_uncached` — `SqliteStore` on a file database of 1,000 users;
//! - `user_lookup/postgres_uncached` — `PostgresStore` (feature `postgres`, when
//!   `CLERK_TEST_POSTGRES_URL` is set), the same 1,000 users in a schema of its own (dropped
//!   afterwards);
//! - `user_lookup/memory_store_uncached` — `MemoryStore` (no I/O; a floor for reference).
//!
//! Run: `cargo bench -p clerk-store --all-features --bench cached_lookup`.
//! Figures go to `BENCHMARKS.md`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use clerk_core::cache::CachedStore;
use clerk_core::model::ClerkUserData;
use clerk_core::store::{Change, LinkPolicy, Store, StoreWriter, WriteBatch};
use clerk_core::time::UnixTime;
use clerk_store::{MemoryCache, MemoryStore, SqliteStore};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tokio::runtime::Runtime;

const USERS: usize = 1_000;
const PROBE: &str = "user_2NNEqL2nrIRdJ194ndJqAH0500";

fn realistic_user(i: usize) -> ClerkUserData {
    let now = UnixTime::from_secs(1_750_000_000);
    let mut data = ClerkUserData::new(format!("user_2NNEqL2nrIRdJ194ndJqAH{i:04}"), now, now)
        .with_email(format!("person{i}@example.com"), true);
    data.username = Some(format!("person{i}"));
    data.first_name = Some("Ada".into());
    data.last_name = Some("Lovelace".into());
    data.image_url = Some(format!(
        "https://img.clerk.com/eyJ0eXBlIjoicHJveHkiLCJzcmMiOi{i:04}"
    ));
    data.public_metadata = serde_json::json!({"plan": "pro", "team": "research", "seats": 5});
    data.external_id = Some(format!("ext-{i}"));
    data.last_sign_in_at = Some(now);
    data
}

async fn fill<S: StoreWriter>(store: &S) {
    let now = UnixTime::from_secs(1_750_000_000);
    let mut batch = WriteBatch::new(now);
    for i in 0..USERS {
        batch.push(Change::UpsertUser {
            data: realistic_user(i),
            link: LinkPolicy::Never,
        });
    }
    let _ = store.apply(batch).await.unwrap();
}

fn bench_lookup<S: Store>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    name: &str,
    store: &S,
) {
    assert!(rt
        .block_on(store.user_by_clerk_id(PROBE))
        .unwrap()
        .is_some());
    c.bench_function(name, |b| {
        b.iter(|| {
            rt.block_on(store.user_by_clerk_id(black_box(PROBE)))
                .unwrap()
        })
    });
}

fn lookups(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("clerk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let sqlite = rt.block_on(async {
        let store = SqliteStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        fill(&store).await;
        store
    });
    let memory = MemoryStore::new();
    rt.block_on(fill(&memory));

    let mut group = c.benchmark_group("user_lookup");
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(60);

    let cached = CachedStore::new(sqlite.clone(), MemoryCache::new());
    bench_lookup(&mut group, &rt, "memory_cache_hit", &cached);
    assert!(cached.stats().hits > 0);

    #[cfg(feature = "redis")]
    if let Ok(redis_url) = std::env::var("CLERK_TEST_REDIS_URL") {
        let cache = clerk_store::RedisCache::builder(redis_url)
            .prefix(format!("clerk-bench:{}:", std::process::id()))
            .build()
            .unwrap();
        let cached = CachedStore::new(sqlite.clone(), cache);
        bench_lookup(&mut group, &rt, "redis_cache_hit", &cached);
        assert!(cached.stats().hits > 0 && cached.stats().errors == 0);
    }

    bench_lookup(&mut group, &rt, "sqlite_uncached", &sqlite);
    #[cfg(feature = "postgres")]
    if let Ok(pg_url) = std::env::var("CLERK_TEST_POSTGRES_URL") {
        postgres_case(&mut group, &rt, &pg_url);
    }
    bench_lookup(&mut group, &rt, "memory_store_uncached", &memory);
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "postgres")]
fn postgres_case(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    url: &str,
) {
    use std::str::FromStr;

    use clerk_store::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use clerk_store::sqlx::{Connection, PgConnection};
    use clerk_store::PostgresStore;

    let schema = format!("clerk_bench_{}", std::process::id());
    let run_sql = |sql: String| {
        rt.block_on(async {
            let mut conn = PgConnection::connect(url).await.unwrap();
            clerk_store::sqlx::query(&sql)
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        });
    };
    run_sql(format!("CREATE SCHEMA {schema}"));
    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let store = rt.block_on(async {
        let store = PostgresStore::connect_with(PgPoolOptions::new().max_connections(2), options)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        fill(&store).await;
        store
    });
    bench_lookup(group, rt, "postgres_uncached", &store);
    let cached = CachedStore::new(store.clone(), MemoryCache::new());
    bench_lookup(group, rt, "memory_cache_hit_over_postgres", &cached);
    rt.block_on(store.pool().close());
    run_sql(format!("DROP SCHEMA {schema} CASCADE"));
}

criterion_group!(benches, lookups);
criterion_main!(benches);
