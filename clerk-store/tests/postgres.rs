//! The whole conformance suite against [`PostgresStore`], each test in its own fresh schema
//! (so tests run in parallel), plus PostgreSQL-specific checks: the public column contract,
//! concurrent migrations, one svix id delivered to two "processes" (two stores with separate
//! pools) at once, and unreachable or failing databases leaving nothing written.
//!
//! Needs `CLERK_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`); without
//! it every test prints a "skipping" line and passes.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;
use std::time::Duration;

use clerk_core::model::{ClerkUserData, RevokedSession};
use clerk_core::store::{
    BatchOutcome, Change, LedgerStore, LinkPolicy, StoreWriter, UserStore, WriteBatch,
};
use clerk_core::time::UnixTime;
use clerk_store::sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use clerk_store::sqlx::{self, Connection};
use clerk_store::PostgresStore;
use clerk_testkit::postgres::{test_url, TestSchema, CLOSED_URL};

/// A new store (its own pool: another "process") on `schema`, not migrated.
async fn store_on(schema: &TestSchema) -> PostgresStore {
    PostgresStore::connect_with(
        PgPoolOptions::new().max_connections(5),
        schema.connect_options(),
    )
    .await
    .unwrap()
}

/// A migrated store in a fresh schema. Field order = drop order: the store, then the schema.
struct Fixture {
    store: PostgresStore,
    schema: TestSchema,
}

impl Fixture {
    /// Closes the pool (waiting for its connections), then drops the schema.
    async fn close(self) {
        self.store.pool().close().await;
    }
}

async fn fixture(url: &str) -> Fixture {
    let schema = TestSchema::create(url).await;
    let store = store_on(&schema).await;
    store.migrate().await.unwrap();
    Fixture { store, schema }
}

impl clerk_core::store::conformance::Fixture for Fixture {
    type Store = PostgresStore;

    fn store(&self) -> &PostgresStore {
        &self.store
    }

    async fn close(self) {
        Fixture::close(self).await;
    }
}

/// A fresh migrated schema for conformance case `case`, or `None` (printed) without
/// `CLERK_TEST_POSTGRES_URL`.
async fn gated(case: &'static str) -> Option<Fixture> {
    Some(fixture(&test_url(case)?).await)
}

// One `#[tokio::test]` per conformance case, each in a fresh schema.
clerk_core::store_conformance_tests!(gated gated);

fn now() -> UnixTime {
    UnixTime::from_secs(1_700_000_000)
}

fn user_batch(svix_id: &str, clerk_id: &str, version: i64) -> WriteBatch {
    let at = UnixTime::from_millis(now().as_millis() + version);
    let data =
        ClerkUserData::new(clerk_id, now(), at).with_email(format!("{clerk_id}@example.com"), true);
    WriteBatch::new(at)
        .with_receipt(svix_id, "user.updated")
        .with(Change::UpsertUser {
            data,
            link: LinkPolicy::Never,
        })
}

/// The [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage) column names exist exactly (they are a public contract).
#[tokio::test]
async fn tables_have_the_contract_columns() {
    let Some(url) = test_url("tables_have_the_contract_columns") else {
        return;
    };
    let fixture = fixture(&url).await;
    let expect = clerk_core::store::conformance::CONTRACT_COLUMNS;
    for (table, columns) in expect {
        let have: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::TEXT FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(table)
        .fetch_all(fixture.store.pool())
        .await
        .unwrap();
        assert!(
            !have.is_empty(),
            "{table} missing in {}",
            fixture.schema.name()
        );
        for column in *columns {
            assert!(
                have.iter().any(|c| c == column),
                "{table}.{column} missing: {have:?}"
            );
        }
    }
    fixture.close().await;
}

/// `migrate()` from several stores (separate pools) at once, then again: all succeed, each
/// migration is recorded once, and the tables work.
#[tokio::test]
async fn migrate_is_idempotent_and_concurrent_safe() {
    let Some(url) = test_url("migrate_is_idempotent_and_concurrent_safe") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(store_on(&schema).await);
    }
    let results = futures_join_all(stores.iter().map(PostgresStore::migrate)).await;
    for result in results {
        result.unwrap();
    }
    stores[0].migrate().await.unwrap();
    let recorded: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(stores[1].pool())
            .await
            .unwrap();
    assert_eq!(recorded, [1, 2, 3, 4]);
    let outcome = stores[2]
        .apply(user_batch("msg_m", "user_m", 1))
        .await
        .unwrap();
    assert!(matches!(outcome, BatchOutcome::Applied(_)), "{outcome:?}");
    assert!(stores[3]
        .user_by_clerk_id("user_m")
        .await
        .unwrap()
        .is_some());
    for store in &stores {
        store.pool().close().await;
    }
}

/// Polls the futures together (a tiny `join_all`, to need no extra dev-dependency).
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut handles: Vec<Option<_>> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, output) in handles.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *output = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.unwrap()).collect()
}

/// The same svix id delivered at the same moment to two processors (two stores with separate
/// pools) sharing one database is applied exactly once: one `Applied`, one
/// `AlreadyProcessed`, and the effect — each delivery revokes a session of its own — present
/// once. Repeated for many ids, so the deliveries really overlap.
#[tokio::test]
async fn same_svix_id_from_two_processes_applies_once() {
    let Some(url) = test_url("same_svix_id_from_two_processes_applies_once") else {
        return;
    };
    let fixture = fixture(&url).await;
    let a = fixture.store.clone();
    let b = store_on(&fixture.schema).await;
    let delivery = |process: &'static str, i: usize| {
        WriteBatch::new(now())
            .with_receipt(format!("msg_two_{i}"), "session.revoked")
            .with(Change::RevokeSession(RevokedSession::new(
                format!("sess_{process}_{i}"),
                None,
                "revoked",
                now(),
            )))
            .with(Change::UpsertUser {
                data: ClerkUserData::new(format!("user_two_{i}"), now(), now()),
                link: LinkPolicy::Never,
            })
    };
    const ROUNDS: usize = 40;
    for i in 0..ROUNDS {
        let (batch_a, batch_b) = (delivery("a", i), delivery("b", i));
        let (ta, tb) = (a.clone(), b.clone());
        let from_a = tokio::spawn(async move { ta.apply(batch_a).await });
        let from_b = tokio::spawn(async move { tb.apply(batch_b).await });
        let outcomes = [
            from_a.await.unwrap().unwrap(),
            from_b.await.unwrap().unwrap(),
        ];
        let applied = outcomes
            .iter()
            .filter(|o| matches!(o, BatchOutcome::Applied(_)))
            .count();
        let duplicate = outcomes
            .iter()
            .filter(|o| matches!(o, BatchOutcome::AlreadyProcessed(_)))
            .count();
        assert_eq!((applied, duplicate), (1, 1), "round {i}: {outcomes:?}");
        let sessions = [format!("sess_a_{i}"), format!("sess_b_{i}")];
        let mut present = 0;
        for session in &sessions {
            if a.revoked_session(session).await.unwrap().is_some() {
                present += 1;
            }
        }
        assert_eq!(present, 1, "round {i}: the effect is present once");
        let winner = usize::from(matches!(outcomes[1], BatchOutcome::Applied(_)));
        assert!(a
            .revoked_session(&sessions[winner])
            .await
            .unwrap()
            .is_some());
        assert!(b
            .webhook_event(&format!("msg_two_{i}"))
            .await
            .unwrap()
            .is_some());
    }
    let users = b.list_users(None, 1000).await.unwrap();
    assert_eq!(users.len(), ROUNDS, "one user per delivery, none twice");
    b.pool().close().await;
    fixture.close().await;
}

/// A delivery whose svix id another process is recording right now waits for that
/// transaction: it answers `AlreadyProcessed` once the other commits, and applies the event
/// itself if the other rolls back.
#[tokio::test]
async fn receipt_in_flight_elsewhere_serializes() {
    let Some(url) = test_url("receipt_in_flight_elsewhere_serializes") else {
        return;
    };
    let fixture = fixture(&url).await;
    for commit in [true, false] {
        let svix_id = format!("msg_in_flight_{commit}");
        let clerk_id = format!("user_in_flight_{commit}");
        let mut other = PgConnection::connect_with(&fixture.schema.connect_options())
            .await
            .unwrap();
        sqlx::query("BEGIN").execute(&mut other).await.unwrap();
        sqlx::query(
            "INSERT INTO clerk_webhook_events (svix_id, event_type, processed_at) \
             VALUES ($1, 'user.updated', 0)",
        )
        .bind(&svix_id)
        .execute(&mut other)
        .await
        .unwrap();

        let store = fixture.store.clone();
        let batch = user_batch(&svix_id, &clerk_id, 1);
        let mut delivery = tokio::spawn(async move { store.apply(batch).await });
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut delivery).await;
        assert!(
            waited.is_err(),
            "the delivery must wait for the other transaction"
        );

        let end = if commit { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(end).execute(&mut other).await.unwrap();
        other.close().await.unwrap();
        let outcome = delivery.await.unwrap().unwrap();
        let user = fixture.store.user_by_clerk_id(&clerk_id).await.unwrap();
        if commit {
            assert!(
                matches!(outcome, BatchOutcome::AlreadyProcessed(_)),
                "{outcome:?}"
            );
            assert!(user.is_none(), "nothing applied for a recorded svix id");
        } else {
            assert!(matches!(outcome, BatchOutcome::Applied(_)), "{outcome:?}");
            assert!(user.is_some());
        }
    }
    fixture.close().await;
}

/// A closed port: connecting, reading and applying all fail with a retryable error.
#[tokio::test]
async fn unreachable_database_is_retryable() {
    // Needs no database: nothing listens on port 1.
    let err = PostgresStore::connect_with(
        PgPoolOptions::new().acquire_timeout(Duration::from_millis(500)),
        PgConnectOptions::from_str(CLOSED_URL).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");

    let lazy = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(CLOSED_URL)
        .unwrap();
    let store = PostgresStore::from_pool(lazy);
    let err = store
        .apply(user_batch("msg_closed", "user_closed", 1))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    let err = store.user_by_clerk_id("user_closed").await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    let err = store.migrate().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

/// The connection dies in the middle of a batch (after the receipt was inserted, while a
/// change waits for a row lock): the error is retryable, nothing is written — neither the
/// receipt nor the effect — and the redelivery applies the event.
#[tokio::test]
async fn connection_lost_mid_batch_is_retryable_and_writes_nothing() {
    let Some(url) = test_url("connection_lost_mid_batch_is_retryable_and_writes_nothing") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let app = format!("{}_app", schema.name());
    let store = PostgresStore::connect_with(
        PgPoolOptions::new().max_connections(2),
        schema.connect_options().application_name(&app),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let first = store
        .apply(user_batch("msg_v1", "user_k", 1))
        .await
        .unwrap();
    assert!(matches!(first, BatchOutcome::Applied(_)), "{first:?}");

    // Another session holds the user's row lock.
    let mut other = PgConnection::connect_with(&schema.connect_options())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT id FROM clerk_users WHERE clerk_id = 'user_k' FOR UPDATE")
        .execute(&mut other)
        .await
        .unwrap();

    let writer = store.clone();
    let delivery =
        tokio::spawn(async move { writer.apply(user_batch("msg_v2", "user_k", 2)).await });
    // Find the store's session blocked on the lock, and kill it.
    let mut killed = false;
    for _ in 0..100 {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
             AND wait_event_type = 'Lock' LIMIT 1",
        )
        .bind(&app)
        .fetch_optional(&mut other)
        .await
        .unwrap();
        if let Some(pid) = pid {
            let done: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&mut other)
                .await
                .unwrap();
            killed = done;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(killed, "the batch never waited on the row lock");
    let err = delivery.await.unwrap().unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    assert!(
        store.webhook_event("msg_v2").await.unwrap().is_none(),
        "receipt rolled back"
    );
    let user = store.user_by_clerk_id("user_k").await.unwrap().unwrap();
    assert_eq!(
        user.clerk_updated_at,
        Some(UnixTime::from_millis(now().as_millis() + 1))
    );

    let again = store
        .apply(user_batch("msg_v2", "user_k", 2))
        .await
        .unwrap();
    assert!(matches!(again, BatchOutcome::Applied(_)), "{again:?}");
    let user = store.user_by_clerk_id("user_k").await.unwrap().unwrap();
    assert_eq!(
        user.clerk_updated_at,
        Some(UnixTime::from_millis(now().as_millis() + 2))
    );
    store.pool().close().await;
    drop(schema);
}

/// A batch that PostgreSQL picks as a deadlock victim is run again and applies: the batch
/// holds user A's row and waits for B's, held by another session that then waits for A's.
#[tokio::test]
async fn deadlocked_batch_is_rerun() {
    let Some(url) = test_url("deadlocked_batch_is_rerun") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let app = format!("{}_app", schema.name());
    let store = PostgresStore::connect_with(
        PgPoolOptions::new().max_connections(2),
        schema.connect_options().application_name(&app),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    for clerk_id in ["user_da", "user_db"] {
        let created = store
            .apply(user_batch(&format!("msg_{clerk_id}"), clerk_id, 1))
            .await
            .unwrap();
        assert!(matches!(created, BatchOutcome::Applied(_)), "{created:?}");
    }

    let mut other = PgConnection::connect_with(&schema.connect_options())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("SELECT id FROM clerk_users WHERE clerk_id = 'user_db' FOR UPDATE")
        .execute(&mut other)
        .await
        .unwrap();

    let at = UnixTime::from_millis(now().as_millis() + 2);
    let batch = WriteBatch::new(at)
        .with_receipt("msg_deadlock", "user.updated")
        .with(Change::UpsertUser {
            data: ClerkUserData::new("user_da", now(), at),
            link: LinkPolicy::Never,
        })
        .with(Change::UpsertUser {
            data: ClerkUserData::new("user_db", now(), at),
            link: LinkPolicy::Never,
        });
    let writer = store.clone();
    let delivery = tokio::spawn(async move { writer.apply(batch).await });
    let mut waiting = false;
    for _ in 0..100 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
             AND wait_event_type = 'Lock'",
        )
        .bind(&app)
        .fetch_one(&mut other)
        .await
        .unwrap();
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(waiting, "the batch never waited for user B's row");
    // Closes the cycle. The batch has waited longer, so its deadlock check fires first and
    // it is the victim: this lock is granted once its transaction is gone.
    sqlx::query("SELECT id FROM clerk_users WHERE clerk_id = 'user_da' FOR UPDATE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    let outcome = delivery.await.unwrap().unwrap();
    assert!(matches!(outcome, BatchOutcome::Applied(_)), "{outcome:?}");
    for clerk_id in ["user_da", "user_db"] {
        let user = store.user_by_clerk_id(clerk_id).await.unwrap().unwrap();
        assert_eq!(user.clerk_updated_at, Some(at), "{clerk_id}");
    }
    store.pool().close().await;
    drop(schema);
}
