//! The processor over a real SQLite database that is locked by another process or no longer
//! reachable: 503 (`Retry`, retryable), nothing half-written, and the redelivery applies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod processor_support;

use std::str::FromStr;
use std::time::Duration;

use clerk_core::store::{LedgerStore, UserStore};
use clerk_store::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use clerk_store::sqlx::{self, ConnectOptions, Connection};
use clerk_store::SqliteStore;
use clerk_testkit::webhooks::bodies;
use clerk_webhooks::ProcessOutcome;
use processor_support::*;

fn fresh_url(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("clerk-webhooks-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    format!("sqlite://{}", path.display())
}

/// Another process holds SQLite's write lock past the busy timeout.
#[tokio::test]
async fn locked_database_answers_retry_and_writes_nothing() {
    let options = SqliteConnectOptions::from_str(&fresh_url("locked"))
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
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store.clone(), &clock);

    let mut other = options.connect().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let (id, h, b) = signed(&sender, &bodies::user_created("user_lk", "lk@example.com"));
    let outcome = p.process(&h, &b).await;
    assert!(
        matches!(&outcome, ProcessOutcome::Retry(e) if e.is_retryable()),
        "{outcome:?}"
    );
    assert_eq!(outcome.status_code(), 503);
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    assert!(store.webhook_event(&id).await.unwrap().is_none());
    assert!(store.user_by_clerk_id("user_lk").await.unwrap().is_none());
    let outcome = p.process(&h, &b).await;
    assert!(
        matches!(outcome, ProcessOutcome::Applied { .. }),
        "{outcome:?}"
    );
    assert!(store.webhook_event(&id).await.unwrap().is_some());
}

/// The connection pool is gone (the database unreachable): retryable, nothing recorded; a
/// processor that can reach the same database later applies the redelivery.
#[tokio::test]
async fn unreachable_database_answers_retry_and_the_redelivery_applies() {
    let url = fresh_url("unreachable");
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store.clone(), &clock);
    store.pool().close().await;

    let (id, h, b) = signed(&sender, &bodies::user_created("user_ur", "ur@example.com"));
    let outcome = p.process(&h, &b).await;
    assert!(
        matches!(&outcome, ProcessOutcome::Retry(e) if e.is_retryable()),
        "{outcome:?}"
    );
    assert_eq!(outcome.status_code(), 503);

    let reachable = SqliteStore::connect(&url).await.unwrap();
    assert!(reachable.webhook_event(&id).await.unwrap().is_none());
    assert!(reachable
        .user_by_clerk_id("user_ur")
        .await
        .unwrap()
        .is_none());
    let p = processor(reachable.clone(), &clock);
    let outcome = p.process(&h, &b).await;
    assert!(
        matches!(outcome, ProcessOutcome::Applied { .. }),
        "{outcome:?}"
    );
    assert!(reachable.webhook_event(&id).await.unwrap().is_some());
    assert!(
        reachable
            .user_by_clerk_id("user_ur")
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
}
