//! Two processors (two pools, as two processes would have) sharing one SQLite file: the same
//! svix id delivered to both at once is applied exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod processor_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clerk_core::store::UserStore;
use clerk_store::SqliteStore;
use clerk_testkit::webhooks::bodies::{UserBody, BASE_TIME_MS};
use clerk_webhooks::processor::{Committed, Listener, ListenerError};
use clerk_webhooks::ProcessOutcome;
use processor_support::*;

#[derive(Clone, Default)]
struct Count(Arc<AtomicUsize>);

impl Listener for Count {
    async fn on_event(&self, _: &Committed<'_>) -> Result<(), ListenerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_svix_id_to_two_processors_applies_once() {
    let first = sqlite_store().await;
    let url = {
        use clerk_store::sqlx::Row as _;
        let row = clerk_store::sqlx::query("PRAGMA database_list")
            .fetch_one(first.pool())
            .await
            .unwrap();
        format!("sqlite://{}", row.get::<String, _>("file"))
    };
    let second = SqliteStore::connect(&url).await.unwrap();
    let clock = clock();
    let sender = sender(&clock);
    let calls = Count::default();
    let a = Arc::new(processor(first.clone(), &clock).with_listener(calls.clone()));
    let b = Arc::new(processor(second, &clock).with_listener(calls.clone()));

    for round in 0..20 {
        let body = UserBody::new("user_twice", "twice@example.com")
            .first_name(&format!("r{round}"))
            .updated_at(BASE_TIME_MS + 1_000 + round)
            .event(if round == 0 {
                "user.created"
            } else {
                "user.updated"
            });
        let (_, h, bytes) = signed(&sender, &body);
        let (h2, bytes2) = (h.clone(), bytes.clone());
        let (pa, pb) = (a.clone(), b.clone());
        let ta = tokio::spawn(async move { pa.process(&h, &bytes).await });
        let tb = tokio::spawn(async move { pb.process(&h2, &bytes2).await });
        let outcomes = [ta.await.unwrap(), tb.await.unwrap()];
        let applied = outcomes
            .iter()
            .filter(|o| matches!(o, ProcessOutcome::Applied { .. }))
            .count();
        let already = outcomes
            .iter()
            .filter(|o| matches!(o, ProcessOutcome::AlreadyProcessed { .. }))
            .count();
        assert_eq!((applied, already), (1, 1), "round {round}: {outcomes:?}");
    }
    assert_eq!(calls.0.load(Ordering::SeqCst), 20);
    let user = first.user_by_clerk_id("user_twice").await.unwrap().unwrap();
    assert_eq!(user.first_name.as_deref(), Some("r19"));
}
