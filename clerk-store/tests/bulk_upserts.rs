//! The SQL backends apply a batch of user upserts (a sync page) through a batched path; this
//! checks it decides exactly as applying the changes one by one does, by running the same
//! batches against `MemoryStore` (change by change) and comparing effects, refusals and the
//! final rows: inserts, updates, unchanged, gone, linking, conflicts with a local user (the
//! whole batch refused, nothing written), emails moving between users of one batch (in both
//! orders), case-different emails.
#![cfg(all(feature = "sqlite", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_core::model::{ClerkUserData, NewLocalUser};
use clerk_core::store::{Change, Effect, LinkPolicy, Store, StoreError, WriteBatch};
use clerk_core::time::UnixTime;
use clerk_store::{MemoryStore, SqliteStore};

fn t(secs: i64) -> UnixTime {
    UnixTime::from_secs(1_700_000_000 + secs)
}

fn user(id: &str, email: Option<&str>, updated: i64) -> ClerkUserData {
    let mut data = ClerkUserData::new(id, t(0), t(updated));
    data.first_name = Some(format!("{id} at {updated}"));
    match email {
        Some(email) => data.with_email(email, true),
        None => data,
    }
}

fn upserts(users: Vec<ClerkUserData>, link: LinkPolicy) -> WriteBatch {
    let mut batch = WriteBatch::new(t(1000));
    batch.changes = users
        .into_iter()
        .map(|data| Change::UpsertUser { data, link })
        .collect();
    batch
}

/// The steps, each one batch.
fn steps() -> Vec<WriteBatch> {
    let never = LinkPolicy::Never;
    let mut local = NewLocalUser::new("local");
    local.email = Some("l@example.test".into());
    vec![
        upserts(
            vec![
                user("user_1", Some("a@example.test"), 1),
                user("user_2", Some("b@example.test"), 1),
                user("user_3", Some("c@example.test"), 1),
                user("user_4", None, 1),
                user("user_5", Some("e@example.test"), 1),
            ],
            never,
        ),
        WriteBatch::single(t(1000), Change::CreateLocalUser(local)),
        // Updated, unchanged (not newer), created.
        upserts(
            vec![
                user("user_1", Some("a2@example.test"), 2),
                user("user_2", Some("b@example.test"), 1),
                user("user_6", Some("f@example.test"), 1),
            ],
            never,
        ),
        // The local user's email, no linking: the whole batch refused (user_8 not written).
        upserts(
            vec![
                user("user_8", Some("h@example.test"), 1),
                user("user_7", Some("l@example.test"), 1),
            ],
            never,
        ),
        // The same with linking: linked, created.
        upserts(
            vec![
                user("user_7", Some("L@example.test"), 1),
                user("user_8", Some("h@example.test"), 1),
            ],
            LinkPolicy::VerifiedEmail,
        ),
        // user_1 takes user_2's email before user_2 gives it up: refused.
        upserts(
            vec![
                user("user_1", Some("b@example.test"), 3),
                user("user_2", Some("z@example.test"), 3),
            ],
            never,
        ),
        // In the other order it works: user_2 frees it first.
        upserts(
            vec![
                user("user_2", Some("z@example.test"), 3),
                user("user_1", Some("b@example.test"), 3),
            ],
            never,
        ),
        // A freed email taken by a new user in the same batch.
        upserts(
            vec![
                user("user_3", Some("c2@example.test"), 3),
                user("user_9", Some("c@example.test"), 1),
            ],
            never,
        ),
        WriteBatch::single(
            t(1000),
            Change::DeleteUser {
                clerk_id: "user_4".into(),
                at: t(4),
            },
        ),
        // A deleted user stays gone; a case-different email is the same email.
        upserts(
            vec![
                user("user_4", None, 5),
                user("user_10", Some("B@EXAMPLE.test"), 1),
            ],
            never,
        ),
        upserts(
            vec![
                user("user_4", None, 5),
                user("user_10", Some("j@example.test"), 1),
            ],
            never,
        ),
    ]
}

/// What a batch did, comparable across stores (local ids left out).
#[derive(Debug, PartialEq)]
enum Outcome {
    Applied(Vec<Effect>),
    Refused(String),
}

async fn run<S: Store>(store: &S) -> (Vec<Outcome>, Vec<String>) {
    let mut outcomes = Vec::new();
    for batch in steps() {
        outcomes.push(match store.apply(batch).await {
            Ok(outcome) => Outcome::Applied(outcome.applied().iter().map(|a| a.effect).collect()),
            Err(StoreError::Conflict(c)) => Outcome::Refused(format!("{c:?}")),
            Err(e) => panic!("unexpected store error: {e:?}"),
        });
    }
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_users(after, 100).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for u in page {
            rows.push(format!(
                "{:?} {:?} {:?} {:?} active={} deleted={} updated={:?}",
                u.clerk_id,
                u.username,
                u.email,
                u.first_name,
                u.is_active,
                u.deleted_at.is_some(),
                u.clerk_updated_at
            ));
        }
    }
    rows.sort();
    (outcomes, rows)
}

async fn compare_with_memory<S: Store>(store: &S) {
    let (expected_outcomes, expected_rows) = run(&MemoryStore::new()).await;
    // The scenario does what it says (guards against a vacuous comparison).
    assert_eq!(
        expected_outcomes[3],
        Outcome::Refused("Email".into()),
        "{expected_outcomes:?}"
    );
    assert_eq!(
        expected_outcomes[4],
        Outcome::Applied(vec![Effect::Linked, Effect::Created])
    );
    assert!(matches!(expected_outcomes[5], Outcome::Refused(_)));
    assert_eq!(
        expected_outcomes[6],
        Outcome::Applied(vec![Effect::Updated, Effect::Updated])
    );
    assert_eq!(
        expected_outcomes[7],
        Outcome::Applied(vec![Effect::Updated, Effect::Created])
    );
    assert!(matches!(expected_outcomes[9], Outcome::Refused(_)));
    assert_eq!(
        expected_outcomes[10],
        Outcome::Applied(vec![Effect::Gone, Effect::Created])
    );
    let (outcomes, rows) = run(store).await;
    assert_eq!(outcomes, expected_outcomes);
    assert_eq!(rows, expected_rows);
    assert!(store.user_by_clerk_id("user_10").await.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_batches_decide_as_change_by_change() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    compare_with_memory(&store).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_batches_decide_as_change_by_change() {
    use clerk_store::sqlx::postgres::PgPoolOptions;
    use clerk_store::PostgresStore;
    use clerk_testkit::postgres::{test_url, TestSchema};

    let Some(url) = test_url("postgres_batches_decide_as_change_by_change") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let store = PostgresStore::connect_with(
        PgPoolOptions::new().max_connections(2),
        schema.connect_options(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    compare_with_memory(&store).await;
    store.pool().close().await;
}
