//! `clerk_store::sync` against the test kit's mock Clerk, over clerk-core's `ReqwestClient`:
//! paging through 100,000 users (SQLite; PostgreSQL when `CLERK_TEST_POSTGRES_URL` is set;
//! 5,000 on memory), re-runs changing
//! nothing, 429 storms and 5xx bursts, a malformed page, deactivation of missing rows only
//! after a complete listing, a sync racing webhooks, dry runs, organizations and memberships.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk_core::backend_api::{ApiError, BackendApi, Endpoint, RetryPolicy, TokioSleeper};
use clerk_core::model::{ClerkMembershipData, ClerkOrganizationData, NewLocalUser, User};
use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::secret::SecretKey;
use clerk_core::store::{Change, LinkPolicy, OrganizationStore, Store, UserStore, WriteBatch};
use clerk_core::time::UnixTime;
use clerk_store::sync::{
    sync_organizations, sync_users, Phase, Progress, SyncError, SyncOptions, SyncReport,
};
use clerk_store::MemoryStore;
use clerk_testkit::mock::{generated_user, generated_user_id, Fault, MockClerk};

const SECRET: &str = "sk_test_sync_tests";

fn now() -> UnixTime {
    UnixTime::from_secs(1_800_000_000)
}

async fn mock() -> MockClerk {
    MockClerk::builder().secret_key(SECRET).start().await
}

fn api(clerk: &MockClerk) -> BackendApi {
    BackendApi::new(
        Arc::new(ReqwestClient::new(Duration::from_secs(30)).unwrap()),
        clerk.url(),
        SecretKey::new(SECRET),
        Arc::new(TokioSleeper),
    )
    .with_retry_policy(RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(5),
    })
}

fn options() -> SyncOptions {
    SyncOptions::new(now())
}

fn quiet(_: Progress) {}

/// Every user of the store, by Clerk id (local users under `local:{username}`).
async fn all_users(store: &impl Store) -> HashMap<String, User> {
    let mut users = HashMap::new();
    let mut after = None;
    loop {
        let page = store.list_users(after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for user in page {
            let key = user
                .clerk_id
                .clone()
                .unwrap_or_else(|| format!("local:{}", user.username.clone().unwrap_or_default()));
            users.insert(key, user);
        }
    }
    users
}

async fn apply(store: &impl Store, change: Change) {
    let _ = store
        .apply(WriteBatch::single(now(), change))
        .await
        .unwrap();
}

async fn local_user(store: &impl Store, username: &str, email: Option<&str>) {
    let mut new = NewLocalUser::new(username);
    new.email = email.map(str::to_owned);
    apply(store, Change::CreateLocalUser(new)).await;
}

/// Syncs `n` generated users into `store`, checks them all, then re-runs: all unchanged.
async fn sync_n_users_twice(store: &impl Store, n: u32, what: &str) {
    let clerk = mock().await;
    clerk.generate_users(n);
    let api = api(&clerk);
    let mut calls = 0u64;
    let started = Instant::now();
    let report = sync_users(&api, store, options(), |p| {
        calls += 1;
        assert!(p.fetched <= u64::from(n));
    })
    .await
    .unwrap();
    let first = started.elapsed();
    let pages = u64::from(n / 500 + 1);
    assert_eq!(report.fetched, u64::from(n));
    assert_eq!(report.created, u64::from(n));
    assert_eq!(
        (report.updated, report.unchanged, report.conflicts),
        (0, 0, 0)
    );
    assert_eq!(report.pages, pages);
    assert!(calls >= pages - 1, "progress after every page");

    let users = all_users(store).await;
    assert_eq!(users.len(), n as usize);
    for k in 0..n {
        let user = &users[&generated_user_id(k)];
        assert!(user.is_active && !user.is_deleted());
        if k % 997 == 0 {
            let want = generated_user(k);
            assert_eq!(user.email, want.email);
            assert_eq!(user.clerk_updated_at, Some(want.updated_at));
            assert_eq!(user.last_name, want.last_name);
        }
    }

    let started = Instant::now();
    let again = sync_users(&api, store, options(), quiet).await.unwrap();
    assert_eq!(again.fetched, u64::from(n));
    assert_eq!(again.unchanged, u64::from(n));
    assert!(!again.changed(), "{again}");
    assert_eq!(all_users(store).await, users, "a re-run changes nothing");
    println!(
        "{what}: {n} users synced in {first:?}, re-run in {:?}",
        started.elapsed()
    );
    // 2 × (pages + the empty last page).
    assert_eq!(
        clerk.backend_request_count(Endpoint::ListUsers) as u64,
        2 * pages
    );
}

/// 5,000 on `MemoryStore`: its email lookups scan every row (fine for tests and demos, but
/// quadratic over a sync), so 100,000 runs on SQLite and PostgreSQL, which index emails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_5_000_users_into_memory_and_again_changes_nothing() {
    sync_n_users_twice(&MemoryStore::new(), 5_000, "memory").await;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use clerk_store::SqliteStore;

    pub(super) async fn fresh_store() -> SqliteStore {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("clerk-store-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("sync-{n}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paging_through_100_000_users_into_sqlite_and_again_changes_nothing() {
        sync_n_users_twice(&fresh_store().await, 100_000, "sqlite").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_malformed_page_on_sqlite_leaves_that_batch_unwritten() {
        malformed_third_page(&fresh_store().await).await;
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use clerk_store::sqlx::postgres::PgPoolOptions;
    use clerk_store::PostgresStore;
    use clerk_testkit::postgres::{test_url, TestSchema};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn paging_through_100_000_users_into_postgres_and_again_changes_nothing() {
        let Some(url) = test_url("postgres sync") else {
            return;
        };
        let schema = TestSchema::create(&url).await;
        let store = PostgresStore::connect_with(
            PgPoolOptions::new().max_connections(5),
            schema.connect_options(),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        sync_n_users_twice(&store, 100_000, "postgres").await;
        // Close the pool first: dropping the schema waits on its connections' locks.
        store.pool().close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_honoured_and_a_5xx_burst_survived() {
    let clerk = mock().await;
    clerk.generate_users(2_000);
    let store = MemoryStore::new();
    // Two requests a second, a 429 burst, then a 5xx burst.
    clerk.set_rate_limit(2, Duration::from_secs(1));
    clerk.fail_next(
        2,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    clerk.fail_next(2, Fault::Status(503));
    clerk.fail_next(1, Fault::Status(500));
    let report = sync_users(&api(&clerk), &store, options(), quiet)
        .await
        .unwrap();
    assert_eq!((report.fetched, report.created), (2_000, 2_000));
    assert_eq!(all_users(&store).await.len(), 2_000);

    let mut log = clerk.backend_requests();
    log.sort_by_key(|r| r.at);
    assert!(
        log.iter().filter(|r| r.status == 429).count() >= 3,
        "{log:#?}"
    );
    assert_eq!(log.iter().filter(|r| r.status >= 500).count(), 3);
    for pair in log.windows(2) {
        if pair[0].status == 429 {
            let retry_after = pair[0].retry_after.expect("a 429 carries Retry-After");
            let waited = pair[1].at.duration_since(pair[0].at);
            assert!(
                waited >= retry_after,
                "a request {waited:?} after a 429 asking for {retry_after:?}"
            );
        }
    }
}

/// 1,200 users, the third page request answered with garbage: the first two pages are
/// written, none of the third, the error names the endpoint and the offset; a re-run resumes.
async fn malformed_third_page(store: &impl Store) {
    let clerk = mock().await;
    clerk.generate_users(1_200);
    let api = api(&clerk);
    // A local Clerk user deleted upstream, and a local password user.
    apply(
        store,
        Change::UpsertUser {
            data: clerk_core::model::ClerkUserData::new(
                "user_gone",
                UnixTime::from_secs(1),
                UnixTime::from_secs(2),
            )
            .with_email("gone@example.test", true),
            link: LinkPolicy::Never,
        },
    )
    .await;
    local_user(store, "admin", Some("admin@example.test")).await;

    clerk.fail_next(2, Fault::None);
    clerk.fail_next(1, Fault::Garbage);
    let err = sync_users(&api, store, options().deactivate_missing(true), quiet)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            &err,
            SyncError::Api {
                offset: 1000,
                error: ApiError::Malformed {
                    endpoint: Endpoint::ListUsers,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(message.contains("GET /v1/users"), "{message}");
    assert!(message.contains("offset 1000"), "{message}");
    assert_eq!(err.offset(), 1000);

    let users = all_users(store).await;
    for k in 0..1_000 {
        assert!(users.contains_key(&generated_user_id(k)), "user {k}");
    }
    for k in 1_000..1_200 {
        assert!(!users.contains_key(&generated_user_id(k)), "user {k}");
    }
    // A partial listing deactivates nothing.
    assert!(users["user_gone"].is_active && !users["user_gone"].is_deleted());
    assert!(users["local:admin"].is_active);

    // Re-running resumes: the first two pages are unchanged, the third is written, and now
    // the listing is complete, the missing user is deactivated (the local one is not).
    let report = sync_users(&api, store, options().deactivate_missing(true), quiet)
        .await
        .unwrap();
    assert_eq!(
        (report.created, report.unchanged, report.deactivated),
        (200, 1_000, 1),
        "{report}"
    );
    let users = all_users(store).await;
    assert_eq!(users.len(), 1_202);
    let gone = &users["user_gone"];
    assert!(!gone.is_active && gone.is_deleted() && gone.email.is_none());
    assert!(users["local:admin"].is_active && !users["local:admin"].is_deleted());
    assert!(users
        .iter()
        .filter(|(k, _)| k.starts_with("user_gen_"))
        .all(|(_, u)| u.is_active));
    // The candidate was confirmed gone with one direct request.
    assert_eq!(clerk.backend_request_count(Endpoint::GetUser), 1);
}

#[tokio::test]
async fn a_malformed_page_fails_the_sync_and_leaves_that_batch_unwritten() {
    malformed_third_page(&MemoryStore::new()).await;
}

#[tokio::test]
async fn a_5xx_that_outlasts_the_retries_deactivates_nothing() {
    let clerk = mock().await;
    clerk.generate_users(600);
    let store = MemoryStore::new();
    apply(
        &store,
        Change::UpsertUser {
            data: clerk_core::model::ClerkUserData::new(
                "user_gone",
                UnixTime::from_secs(1),
                UnixTime::from_secs(2),
            ),
            link: LinkPolicy::Never,
        },
    )
    .await;
    clerk.fail_next(1, Fault::None);
    clerk.fail_next(10, Fault::Status(502));
    let err = sync_users(
        &api(&clerk),
        &store,
        options().deactivate_missing(true),
        quiet,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.api_error(), Some(ApiError::Server { status: 502, .. })),
        "{err:?}"
    );
    assert_eq!(err.offset(), 500);
    let users = all_users(&store).await;
    assert_eq!(users.len(), 501);
    assert!(users["user_gone"].is_active);
    assert_eq!(clerk.backend_request_count(Endpoint::GetUser), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_racing_webhooks_ends_in_the_newest_state() {
    let clerk = mock().await;
    let n = 3_000;
    clerk.generate_users(n);
    let store = Arc::new(MemoryStore::new());
    let newer = |k: u32| {
        let mut data = generated_user(k);
        data.updated_at = UnixTime::from_millis(data.updated_at.as_millis() + 3_600_000);
        data.first_name = Some(format!("Webhook {k}"));
        Change::UpsertUser {
            data,
            link: LinkPolicy::Never,
        }
    };
    // Before the sync: a newer `user.updated` already applied.
    apply(&*store, newer(1)).await;
    // During the sync: newer versions of every 7th user, interleaved with the pages.
    let webhooks = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for k in (0..n).step_by(7) {
                apply(&*store, newer(k)).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let report = sync_users(&api(&clerk), &*store, options(), quiet)
        .await
        .unwrap();
    webhooks.await.unwrap();
    assert_eq!(report.fetched, u64::from(n));
    let users = all_users(&*store).await;
    assert_eq!(users.len(), n as usize);
    for k in 0..n {
        let user = &users[&generated_user_id(k)];
        let want = if k == 1 || k % 7 == 0 {
            format!("Webhook {k}")
        } else {
            "Gen".to_owned()
        };
        assert_eq!(user.first_name.as_deref(), Some(want.as_str()), "user {k}");
    }
    // And a second sync does not roll the newer ones back.
    let again = sync_users(&api(&clerk), &*store, options(), quiet)
        .await
        .unwrap();
    assert!(!again.changed(), "{again}");
    assert_eq!(all_users(&*store).await, users);
}

#[tokio::test]
async fn a_dry_run_reports_what_would_change_and_writes_nothing() {
    let clerk = mock().await;
    clerk.generate_users(1_000);
    let store = MemoryStore::new();
    // 0..100 stored with older data (would update), 100..300 current (unchanged).
    for k in 0..300 {
        let mut data = generated_user(k);
        if k < 100 {
            data.updated_at = UnixTime::from_millis(data.updated_at.as_millis() - 1);
        }
        apply(
            &store,
            Change::UpsertUser {
                data,
                link: LinkPolicy::Never,
            },
        )
        .await;
    }
    apply(
        &store,
        Change::UpsertUser {
            data: clerk_core::model::ClerkUserData::new(
                "user_gone",
                UnixTime::from_secs(1),
                UnixTime::from_secs(2),
            ),
            link: LinkPolicy::Never,
        },
    )
    .await;
    // Holds user 500's email: a conflict.
    local_user(&store, "holder", Some("user500@example.test")).await;
    let before = all_users(&store).await;

    let mut phases = Vec::new();
    let report = sync_users(
        &api(&clerk),
        &store,
        options().dry_run(true).deactivate_missing(true),
        |p| phases.push(p.phase),
    )
    .await
    .unwrap();
    let mut want = SyncReport::default();
    want.fetched = 1_000;
    want.created = 699;
    want.updated = 100;
    want.unchanged = 200;
    want.conflicts = 1;
    want.conflicted_ids = vec![generated_user_id(500)];
    want.deactivated = 1;
    want.pages = 3;
    assert_eq!(report, want);
    assert_eq!(all_users(&store).await, before, "a dry run writes nothing");
    assert_eq!(phases.last(), Some(&Phase::Finished));
    assert!(phases.contains(&Phase::Deactivating));

    // The real run does what the dry run said.
    let real = sync_users(
        &api(&clerk),
        &store,
        options().deactivate_missing(true),
        quiet,
    )
    .await
    .unwrap();
    assert_eq!(real, want);
    let users = all_users(&store).await;
    assert!(!users.contains_key(&generated_user_id(500)));
    assert!(users["user_gone"].is_deleted());
    assert!(users["local:holder"].is_active);
}

#[tokio::test]
async fn organizations_and_memberships_sync_rerun_and_deactivate() {
    let clerk = mock().await;
    clerk.generate_users(20);
    clerk.generate_organizations(7, 3);
    let store = MemoryStore::new();
    // Upstream no more: an organization with a membership, and a membership of org 0.
    let t = UnixTime::from_secs(5);
    apply(
        &store,
        Change::UpsertOrganization(ClerkOrganizationData::new("org_gone", "Gone", t, t)),
    )
    .await;
    for (id, org) in [
        ("orgmem_gone", "org_gone"),
        ("orgmem_old", "org_gen_000000"),
    ] {
        apply(
            &store,
            Change::UpsertMembership(ClerkMembershipData::new(
                id,
                org,
                generated_user_id(0),
                "org:member",
                t,
                t,
            )),
        )
        .await;
    }
    let api = api(&clerk);
    let options = || options().page_size(5).deactivate_missing(true);

    let dry = sync_organizations(&api, &store, options().dry_run(true), true, quiet)
        .await
        .unwrap();
    assert_eq!(
        (
            dry.organizations.created,
            dry.organizations.deactivated,
            dry.memberships.created,
            dry.memberships.deactivated
        ),
        (7, 1, 21, 1),
        "{dry}"
    );
    assert!(store
        .organization("org_gen_000000")
        .await
        .unwrap()
        .is_none());

    let report = sync_organizations(&api, &store, options(), true, quiet)
        .await
        .unwrap();
    assert_eq!(
        (
            report.organizations.fetched,
            report.organizations.created,
            report.organizations.pages,
            report.organizations.deactivated
        ),
        (7, 7, 2, 1),
        "{report}"
    );
    assert_eq!(
        (
            report.memberships.fetched,
            report.memberships.created,
            report.memberships.deactivated
        ),
        (21, 21, 1),
        "{report}"
    );
    assert_eq!(
        store
            .memberships_of_organization("org_gen_000003")
            .await
            .unwrap()
            .len(),
        3
    );
    let gone = store.organization("org_gone").await.unwrap().unwrap();
    assert!(gone.is_deleted());
    assert!(store
        .membership("orgmem_gone")
        .await
        .unwrap()
        .unwrap()
        .is_deleted());
    assert!(store
        .membership("orgmem_old")
        .await
        .unwrap()
        .unwrap()
        .is_deleted());

    let again = sync_organizations(&api, &store, options(), true, quiet)
        .await
        .unwrap();
    assert!(
        !again.organizations.changed() && !again.memberships.changed(),
        "{again}"
    );
    assert_eq!(
        (again.organizations.unchanged, again.memberships.unchanged),
        (7, 21)
    );

    // Without memberships, only organizations are listed.
    let orgs_only = sync_organizations(&api, &store, options(), false, quiet)
        .await
        .unwrap();
    assert_eq!(orgs_only.memberships, SyncReport::default());
}

#[tokio::test]
async fn a_conflicting_email_is_reported_and_does_not_block_the_page() {
    let clerk = mock().await;
    clerk.generate_users(10);
    let store = MemoryStore::new();
    local_user(&store, "holder", Some("USER3@example.test")).await;
    let report = sync_users(&api(&clerk), &store, options(), quiet)
        .await
        .unwrap();
    assert_eq!((report.created, report.conflicts), (9, 1), "{report}");
    assert_eq!(report.conflicted_ids, [generated_user_id(3)]);
    assert!(store
        .user_by_clerk_id(&generated_user_id(3))
        .await
        .unwrap()
        .is_none());
    // Opting into linking by verified email attaches the local row instead.
    let linked = sync_users(
        &api(&clerk),
        &store,
        options().link(LinkPolicy::VerifiedEmail),
        quiet,
    )
    .await
    .unwrap();
    assert_eq!((linked.created, linked.unchanged), (1, 9), "{linked}");
}

#[tokio::test]
async fn a_page_size_out_of_range_is_refused_before_any_request() {
    let clerk = mock().await;
    let err = sync_users(
        &api(&clerk),
        &MemoryStore::new(),
        options().page_size(501),
        quiet,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.api_error(), Some(ApiError::InvalidLimit { limit: 501 })),
        "{err:?}"
    );
    assert!(clerk.backend_requests().is_empty());
}
