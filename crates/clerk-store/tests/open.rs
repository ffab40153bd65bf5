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
