//! The whole conformance suite against [`SqliteStore`] on a fresh database file per test,
//! plus SQLite-specific checks (migrations, the public table contract).
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use clerk_store::{sqlx, SqliteStore};

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn fresh_path() -> std::path::PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("clerk-store-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("test-{n}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

async fn fresh_store() -> SqliteStore {
    let url = format!("sqlite://{}", fresh_path().display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

clerk_core::store_conformance_tests!(fresh_store);

/// Migrating twice, and from two stores at once, is harmless.
#[tokio::test]
async fn migrate_is_idempotent_and_concurrent_safe() {
    let url = format!("sqlite://{}", fresh_path().display());
    let a = SqliteStore::connect(&url).await.unwrap();
    let b = SqliteStore::connect(&url).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    a.migrate().await.unwrap();
}

/// The [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage) column names exist exactly (they are a public contract).
#[tokio::test]
async fn tables_have_the_contract_columns() {
    let store = fresh_store().await;
    let expect = clerk_core::store::conformance::CONTRACT_COLUMNS;
    for (table, columns) in expect {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(store.pool())
                .await
                .unwrap();
        let have: Vec<String> = rows.into_iter().map(|(n,)| n).collect();
        for column in *columns {
            assert!(
                have.iter().any(|c| c == column),
                "{table}.{column} missing: {have:?}"
            );
        }
    }
}

/// A database that cannot be opened is a retryable (unavailable) error.
#[tokio::test]
async fn unreachable_database_is_retryable() {
    let err = SqliteStore::connect("sqlite:///nonexistent-dir/for/sure/clerk.db")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

/// `sqlite::memory:` works as a whole store (one connection, kept).
#[tokio::test]
async fn in_memory_url_is_one_database() {
    clerk_core::store::conformance::run_all(|| async {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store
    })
    .await;
}

/// A store that cannot get the write lock in time reports a retryable error and writes
/// nothing — the receipt included — so Svix's redelivery applies the event later.
#[tokio::test]
async fn locked_database_is_retryable_and_writes_nothing() {
    use clerk_core::model::ClerkUserData;
    use clerk_core::store::{
        BatchOutcome, Change, LedgerStore, LinkPolicy, StoreWriter, UserStore, WriteBatch,
    };
    use clerk_core::time::UnixTime;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    use sqlx::{ConnectOptions, Connection};
    use std::str::FromStr;
    use std::time::Duration;

    let url = format!("sqlite://{}", fresh_path().display());
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_millis(100));
    let pool = SqlitePoolOptions::new()
        .connect_with(options.clone())
        .await
        .unwrap();
    let store = SqliteStore::from_pool(pool);
    store.migrate().await.unwrap();

    // Another process holds the write lock.
    let mut other = options.connect().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();

    let now = UnixTime::from_secs(1_700_000_000);
    let batch = WriteBatch::new(now)
        .with_receipt("msg_locked", "user.created")
        .with(Change::UpsertUser {
            data: ClerkUserData::new("user_locked", now, now),
            link: LinkPolicy::Never,
        });
    let err = store.apply(batch.clone()).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    assert!(store.webhook_event("msg_locked").await.unwrap().is_none());
    assert!(store
        .user_by_clerk_id("user_locked")
        .await
        .unwrap()
        .is_none());

    // The redelivery succeeds once the lock is gone.
    let outcome = store.apply(batch).await.unwrap();
    assert!(matches!(outcome, BatchOutcome::Applied(_)), "{outcome:?}");
    assert!(store.webhook_event("msg_locked").await.unwrap().is_some());
}
