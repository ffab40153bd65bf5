//! The whole conformance suite against [`MySqlStore`] (MySQL or MariaDB), each test in its own
//! database (`clerk_test_<random>`, dropped afterwards), plus the public column contract.
//!
//! Needs `CLERK_TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306/test`); without it every
//! test prints a "skipping" line and passes.
#![cfg(feature = "mysql")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_store::sqlx::{self, Connection, MySqlConnection};
use clerk_store::MySqlStore;

/// The server URL, or `None` (printed) without `CLERK_TEST_MYSQL_URL`.
fn test_url(case: &str) -> Option<String> {
    match std::env::var("CLERK_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("{case}: skipping: CLERK_TEST_MYSQL_URL not set");
            None
        }
    }
}

/// A migrated store on a database of its own.
struct Fixture {
    store: MySqlStore,
    server: String,
    database: String,
}

impl Fixture {
    async fn create(url: &str) -> Fixture {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let database = format!("clerk_test_{}_{n}_{nanos}", std::process::id());
        let mut admin = MySqlConnection::connect(url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
        let store = MySqlStore::connect(&format!("{base}/{database}"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        Fixture {
            store,
            server: url.to_owned(),
            database,
        }
    }
}

impl clerk_core::store::conformance::Fixture for Fixture {
    type Store = MySqlStore;

    fn store(&self) -> &MySqlStore {
        &self.store
    }

    async fn close(self) {
        self.store.pool().close().await;
        let mut admin = MySqlConnection::connect(&self.server).await.unwrap();
        sqlx::query(&format!("DROP DATABASE {}", self.database))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
    }
}

async fn gated(case: &'static str) -> Option<Fixture> {
    Some(Fixture::create(&test_url(case)?).await)
}

clerk_core::store_conformance_tests!(gated gated);

/// The [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage) column names exist exactly (they are a public contract).
#[tokio::test]
async fn tables_have_the_contract_columns() {
    use clerk_core::store::conformance::Fixture as _;
    let Some(fixture) = gated("tables_have_the_contract_columns").await else {
        return;
    };
    for (table, columns) in clerk_core::store::conformance::CONTRACT_COLUMNS {
        let have: Vec<(String,)> = sqlx::query_as(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ?",
        )
        .bind(table)
        .fetch_all(fixture.store().pool())
        .await
        .unwrap();
        let have: Vec<String> = have.into_iter().map(|(n,)| n).collect();
        for column in *columns {
            assert!(
                have.iter().any(|c| c.eq_ignore_ascii_case(column)),
                "{table}.{column} missing: {have:?}"
            );
        }
    }
    fixture.close().await;
}

/// Migrating twice is harmless.
#[tokio::test]
async fn migrate_is_idempotent() {
    use clerk_core::store::conformance::Fixture as _;
    let Some(fixture) = gated("migrate_is_idempotent").await else {
        return;
    };
    fixture.store().migrate().await.unwrap();
    fixture.close().await;
}

/// `DATABASE_URL=mysql://…` (and `mariadb://…`) opens this backend wherever the other URLs work.
#[tokio::test]
async fn any_store_opens_mysql_urls() {
    use clerk_core::store::conformance::Fixture as _;
    let Some(fixture) = gated("any_store_opens_mysql_urls").await else {
        return;
    };
    let base = fixture.server.rsplit_once('/').map_or("", |(base, _)| base);
    let url = format!("{base}/{}", fixture.database);
    assert!(clerk_store::is_mysql_url(&url));
    let store = clerk_store::AnyStore::connect(&url).await.unwrap();
    assert_eq!(store.backend_name(), "MySQL");
    store.migrate().await.unwrap();
    store.close().await;
    let dyn_store = clerk_store::open_database_url(&url.replacen("mysql://", "mariadb://", 1))
        .await
        .unwrap();
    assert!(
        clerk_core::store::UserStore::user_by_clerk_id(&*dyn_store, "user_none")
            .await
            .unwrap()
            .is_none()
    );
    drop(dyn_store);
    fixture.close().await;
}
