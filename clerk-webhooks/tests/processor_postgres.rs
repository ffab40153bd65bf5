//! The webhook processor over [`PostgresStore`], each test in its own fresh schema:
//!
//! - the same svix id delivered at once to two processors with separate pools (what two
//!   processes sharing one database have) is applied exactly once;
//! - 50 different `user.updated` events for one user from 8 tasks leave the newest version;
//! - an unreachable database answers the retryable outcome (503) with nothing written, and
//!   the redelivery to a processor that reaches the database applies;
//! - the convergence property of `processor_convergence.rs` (shared generator in
//!   `common/convergence.rs`), with fewer cases.
//!
//! Needs `CLERK_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`); without
//! it each test prints a "skipping" line and passes (the unreachable-database half that
//! needs no server still runs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod processor_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_core::store::{Effect, LedgerStore, UserStore};
use clerk_store::sqlx::postgres::PgPoolOptions;
use clerk_store::PostgresStore;
use clerk_testkit::webhooks::bodies::{self, UserBody, BASE_TIME_MS};
use clerk_webhooks::processor::{Committed, Listener, ListenerError};
use clerk_webhooks::ProcessOutcome;
use common::convergence::{cases, converges};
use common::postgres::{migrated, store, store_with, test_url, TestSchema, CLOSED_URL};
use processor_support::*;
use proptest::test_runner::{Config, TestRunner};

/// Counts listener calls (listeners run once per committed delivery).
#[derive(Clone, Default)]
struct Count(Arc<AtomicUsize>);

impl Count {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Listener for Count {
    async fn on_event(&self, _: &Committed<'_>) -> Result<(), ListenerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_svix_id_to_two_processors_applies_once() {
    let Some(url) = test_url("same_svix_id_to_two_processors_applies_once") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let first = migrated(&schema).await;
    let second = store(&schema).await;
    let clock = clock();
    let sender = sender(&clock);
    let calls = Count::default();
    let a = Arc::new(processor(first.clone(), &clock).with_listener(calls.clone()));
    let b = Arc::new(processor(second.clone(), &clock).with_listener(calls.clone()));

    const ROUNDS: i64 = 30;
    for round in 0..ROUNDS {
        let body = UserBody::new("user_twice", "twice@example.com")
            .first_name(&format!("r{round}"))
            .updated_at(BASE_TIME_MS + 1_000 + round)
            .event(if round == 0 {
                "user.created"
            } else {
                "user.updated"
            });
        let (id, h, bytes) = signed(&sender, &body);
        let (h2, bytes2) = (h.clone(), bytes.clone());
        let (pa, pb) = (a.clone(), b.clone());
        let ta = tokio::spawn(async move { pa.process(&h, &bytes).await });
        let tb = tokio::spawn(async move { pb.process(&h2, &bytes2).await });
        let outcomes = [ta.await.unwrap(), tb.await.unwrap()];
        for o in &outcomes {
            assert_eq!(o.status_code(), 200, "round {round}: {o:?}");
            assert_eq!(o.svix_id(), Some(id.as_str()));
        }
        let applied: Vec<&ProcessOutcome> = outcomes
            .iter()
            .filter(|o| matches!(o, ProcessOutcome::Applied { .. }))
            .collect();
        let already = outcomes
            .iter()
            .filter(|o| matches!(o, ProcessOutcome::AlreadyProcessed { .. }))
            .count();
        assert_eq!(
            (applied.len(), already),
            (1, 1),
            "round {round}: {outcomes:?}"
        );
        // The one that applied did change the row (each round is a newer version).
        let expected = if round == 0 {
            Effect::Created
        } else {
            Effect::Updated
        };
        assert_eq!(
            applied[0].effects().collect::<Vec<_>>(),
            vec![expected],
            "round {round}"
        );
        // Both pools see the one receipt.
        assert!(first.webhook_event(&id).await.unwrap().is_some());
        assert!(second.webhook_event(&id).await.unwrap().is_some());
    }
    // Listeners ran once per delivery, not once per processor.
    assert_eq!(calls.get(), usize::try_from(ROUNDS).unwrap());
    let user = second
        .user_by_clerk_id("user_twice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.first_name.as_deref(), Some("r29"));
    assert_eq!(first.list_users(None, 10).await.unwrap().len(), 1);
    drop((a, b));
    first.pool().close().await;
    second.pool().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_updates_for_one_user_from_eight_tasks_newest_wins() {
    let Some(url) = test_url("fifty_updates_for_one_user_from_eight_tasks_newest_wins") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let store = store_with(&schema, 8).await;
    store.migrate().await.unwrap();
    let clock = clock();
    let sender = sender(&clock);
    let p = Arc::new(processor(store.clone(), &clock));

    const EVENTS: i64 = 50;
    const TASKS: i64 = 8;
    let deliveries: Vec<_> = (0..EVENTS)
        .map(|k| {
            let body = UserBody::new("user_busy", &format!("v{k}@busy.example"))
                .first_name(&format!("v{k}"))
                .updated_at(BASE_TIME_MS + 1_000 + k)
                .event("user.updated");
            signed(&sender, &body)
        })
        .collect();
    let ids: Vec<String> = deliveries.iter().map(|d| d.0.clone()).collect();
    // Task t sends events t, t+8, t+16, … — odd tasks newest first, so old and new versions
    // interleave in every order.
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let mine: Vec<_> = deliveries
            .iter()
            .enumerate()
            .filter(|(k, _)| i64::try_from(*k).unwrap() % TASKS == t)
            .map(|(_, d)| d.clone())
            .collect();
        let mine: Vec<_> = if t % 2 == 1 {
            mine.into_iter().rev().collect()
        } else {
            mine
        };
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for (_, h, b) in mine {
                outcomes.push(p.process(&h, &b).await);
            }
            outcomes
        }));
    }
    let mut changed = 0;
    for task in tasks {
        for outcome in task.await.unwrap() {
            assert!(
                matches!(outcome, ProcessOutcome::Applied { .. }),
                "{outcome:?}"
            );
            changed += usize::from(outcome.effects().any(|e| e.changed()));
        }
    }
    // The first to commit created the row; at least that one changed it.
    assert!(changed >= 1);

    let users = store.list_users(None, 10).await.unwrap();
    assert_eq!(users.len(), 1, "{users:?}");
    let user = &users[0];
    assert_eq!(user.clerk_id.as_deref(), Some("user_busy"));
    assert_eq!(user.first_name.as_deref(), Some("v49"));
    assert_eq!(user.email.as_deref(), Some("v49@busy.example"));
    assert_eq!(
        user.clerk_updated_at.map(|t| t.as_millis()),
        Some(BASE_TIME_MS + 1_000 + EVENTS - 1)
    );
    assert!(user.is_active);
    for id in &ids {
        assert!(store.webhook_event(id).await.unwrap().is_some(), "{id}");
    }
    drop(p);
    store.pool().close().await;
}

/// The database cannot be reached: the retryable outcome (503), listeners not called, and
/// (with a real database) neither the receipt nor the effect written; the redelivery to a
/// processor that reaches the database applies.
#[tokio::test]
async fn unreachable_database_answers_retry_and_the_redelivery_applies() {
    let clock = clock();
    let sender = sender(&clock);
    let calls = Count::default();
    let lazy = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(CLOSED_URL)
        .unwrap();
    let down = processor(PostgresStore::from_pool(lazy), &clock).with_listener(calls.clone());
    let (id, h, b) = signed(&sender, &bodies::user_created("user_ur", "ur@example.com"));
    let outcome = down.process(&h, &b).await;
    assert!(
        matches!(&outcome, ProcessOutcome::Retry(e) if e.is_retryable()),
        "{outcome:?}"
    );
    assert_eq!(outcome.status_code(), 503);
    assert!(!outcome.is_success());
    assert_eq!(calls.get(), 0);

    let Some(url) = test_url("unreachable_database_answers_retry_and_the_redelivery_applies")
    else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let store = migrated(&schema).await;
    assert!(store.webhook_event(&id).await.unwrap().is_none());
    assert!(store.user_by_clerk_id("user_ur").await.unwrap().is_none());
    let up = processor(store.clone(), &clock).with_listener(calls.clone());
    let outcome = up.process(&h, &b).await;
    assert!(
        matches!(outcome, ProcessOutcome::Applied { .. }),
        "{outcome:?}"
    );
    assert_eq!(calls.get(), 1);
    assert!(store.webhook_event(&id).await.unwrap().is_some());
    assert!(
        store
            .user_by_clerk_id("user_ur")
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    // And once more: answered 2xx, not applied again.
    let again = up.process(&h, &b).await;
    assert!(
        matches!(again, ProcessOutcome::AlreadyProcessed { .. }),
        "{again:?}"
    );
    assert_eq!(calls.get(), 1);
    drop(up);
    store.pool().close().await;
}

/// `processor_convergence.rs`'s property on PostgreSQL: two fresh schemas per case, so few
/// cases.
#[test]
fn any_delivery_order_converges_on_postgres() {
    let Some(url) = test_url("any_delivery_order_converges_on_postgres") else {
        return;
    };
    let schemas = Mutex::new(Vec::new());
    let (url, kept) = (&url, &schemas);
    let make = move || async move {
        let schema = TestSchema::create(url).await;
        let store = migrated(&schema).await;
        kept.lock().unwrap().push(schema);
        store
    };
    let mut runner = TestRunner::new(Config {
        // A hand-driven runner has no source file to persist failures next to; a failure
        // prints the minimal case instead.
        failure_persistence: None,
        ..Config::with_cases(8)
    });
    let result = runner.run(&cases(), |(plan, order, replays)| {
        let result = converges(make, &plan, &order, &replays);
        // Each case's stores are gone (their runtime ended): drop its schemas now.
        kept.lock().unwrap().clear();
        result
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
