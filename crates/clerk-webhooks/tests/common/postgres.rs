//! A PostgreSQL schema of its own per test (or per bench configuration), from
//! `CLERK_TEST_POSTGRES_URL`, like clerk-store's `tests/postgres.rs`: tests run in parallel
//! without seeing each other's rows, and the schema is dropped afterwards.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use clerk_store::sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use clerk_store::sqlx::{self, Connection};
use clerk_store::PostgresStore;

/// The variable naming the test database, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const URL_VAR: &str = "CLERK_TEST_POSTGRES_URL";

/// A URL where nothing listens (port 1): connecting fails at once.
pub const CLOSED_URL: &str = "postgres://postgres@127.0.0.1:1/test";

/// The test database URL, or `None` after printing why `test` is skipped.
pub fn test_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!("{test}: skipping: {URL_VAR} not set");
            None
        }
    }
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh schema, dropped (best effort, `CASCADE`) when this is dropped, also when the test
/// panics. Drop it outside any pool's use: close or drop the stores first.
pub struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// Creates `clerk_wh_test_<pid>_<n>_<nanos>` on the server at `url`.
    pub async fn create(url: &str) -> Schema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "clerk_wh_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        Schema {
            url: url.to_owned(),
            name,
        }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connect options whose sessions use this schema (`-c search_path=<schema>`).
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url)
            .unwrap()
            .options([("search_path", self.name.as_str())])
    }

    /// A new store with its own pool of up to `connections` (another "process") on this
    /// schema, not migrated.
    pub async fn store_with(&self, connections: u32) -> PostgresStore {
        PostgresStore::connect_with(
            PgPoolOptions::new().max_connections(connections),
            self.options(),
        )
        .await
        .unwrap()
    }

    /// [`Schema::store_with`] 5 connections.
    pub async fn store(&self) -> PostgresStore {
        self.store_with(5).await
    }

    /// A new store on this schema, migrated.
    pub async fn migrated(&self) -> PostgresStore {
        let store = self.store().await;
        store.migrate().await.unwrap();
        store
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // A thread with its own runtime: `drop` cannot await, and may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&url).await {
                    let _ = sqlx::query("SET lock_timeout = '5s'")
                        .execute(&mut conn)
                        .await;
                    let dropped = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut conn)
                        .await;
                    if let Err(e) = dropped {
                        eprintln!("could not drop schema {name}: {e}");
                    }
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
