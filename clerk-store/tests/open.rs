//! `AnyStore` / `open_database_url`: the URL picks the backend, migrations run and are
//! idempotent, bad URLs are clear errors, and a PostgreSQL URL selecting a schema through
//! `options=-c search_path=…` (the form `clerk_testkit::postgres::TestSchema::database_url`
//! produces) puts the tables in that schema.
#![cfg(all(feature = "sqlite", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_core::model::NewLocalUser;
use clerk_core::store::{Change, StoreError, StoreWriter, UserStore, WriteBatch};
use clerk_core::time::UnixTime;
use clerk_store::sqlx::{self, Connection};
use clerk_store::{is_postgres_url, open_database_url, AnyStore, DEFAULT_DATABASE_URL};
use clerk_testkit::postgres::{test_url, TestSchema};

fn temp_sqlite_url(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("clerk-open-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("app.db").display());
    (dir, url)
}

#[test]
fn urls_are_told_apart_by_scheme() {
    assert!(is_postgres_url("postgres://u@h/db"));
    assert!(is_postgres_url(" postgresql://u@h/db"));
    assert!(!is_postgres_url(DEFAULT_DATABASE_URL));
    assert!(!is_postgres_url("sqlite::memory:"));
    assert!(!is_postgres_url("app.db"));
}

#[tokio::test]
async fn sqlite_url_opens_migrates_and_keeps_rows() {
    let (dir, url) = temp_sqlite_url("keeps");
    let store = AnyStore::connect(&url).await.unwrap();
    assert_eq!(store.backend_name(), "SQLite");
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent
    let dyn_store = store.clone().into_dyn();
    let now = UnixTime::from_secs(1_700_000_000);
    let _ = dyn_store
        .apply(WriteBatch::single(
            now,
            Change::CreateLocalUser(NewLocalUser::new("ada")),
        ))
        .await
        .unwrap();
    store.close().await;

    // Opening again (and migrating again) finds the row.
    let again = open_database_url(&url).await.unwrap();
    assert!(again.local_user_by_username("ada").await.unwrap().is_some());
    drop(again);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_urls_are_clear_errors() {
    let err = AnyStore::connect("postgres://u@h:notaport/db")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("postgres url"), "{err}");
    // A SQLite file in a directory that does not exist cannot be opened.
    let err = AnyStore::connect("sqlite:///nonexistent-dir-for-clerk/app.db")
        .await
        .unwrap_err();
    assert!(!matches!(err, StoreError::Conflict(_)), "{err:?}");
}

#[tokio::test]
async fn postgres_url_with_search_path_migrates_into_that_schema() {
    let Some(url) = test_url("postgres_url_with_search_path_migrates_into_that_schema") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let store = AnyStore::connect(&schema.database_url()).await.unwrap();
    assert_eq!(store.backend_name(), "PostgreSQL");
    store.migrate().await.unwrap();
    store.close().await;

    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_schema = $1 AND table_name = 'clerk_users'",
    )
    .bind(schema.name())
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    assert_eq!(tables, 1);
}

/// `into_cached_dyn` puts the cache in front: a read is served from it until a write through
/// the cached store invalidates it (a write behind its back is not seen, which shows the
/// cache is really there).
#[tokio::test]
async fn into_cached_dyn_serves_reads_from_the_cache_and_invalidates_on_writes() {
    use clerk_core::model::LocalUserPatch;
    use clerk_core::ClerkConfig;
    use clerk_store::MemoryCache;

    let (dir, url) = temp_sqlite_url("cached");
    let config = ClerkConfig::builder()
        .secret_key("sk_test_cached")
        .publishable_key(clerk_testkit::mint::publishable_key_for(
            "clerk.example.test",
            false,
        ))
        .insecure_allow_any_authorized_party()
        .build()
        .unwrap();
    let store = AnyStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let raw = store.clone().into_dyn();
    let cached = store.clone().into_cached_dyn(MemoryCache::new(), &config);
    let now = UnixTime::from_secs(1_700_000_000);
    let created = cached
        .apply(WriteBatch::single(
            now,
            Change::CreateLocalUser(NewLocalUser::new("grace")),
        ))
        .await
        .unwrap();
    let id = created.applied()[0].user_id.unwrap();
    assert!(cached.user(id).await.unwrap().unwrap().is_active);

    let set_active = |active| {
        WriteBatch::single(
            now,
            Change::UpdateLocalFields {
                id,
                patch: LocalUserPatch::default().active(active),
            },
        )
    };
    let _ = raw.apply(set_active(false)).await.unwrap();
    assert!(
        cached.user(id).await.unwrap().unwrap().is_active,
        "a write behind the cache's back is not seen: the read came from the cache"
    );
    // Through the cached store: reactivate (the row changes), read (cached again), deactivate.
    let _ = cached.apply(set_active(true)).await.unwrap();
    assert!(cached.user(id).await.unwrap().unwrap().is_active);
    let _ = cached.apply(set_active(false)).await.unwrap();
    assert!(
        !cached.user(id).await.unwrap().unwrap().is_active,
        "a write through the cached store invalidates the entry"
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
