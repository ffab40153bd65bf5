//! A PostgreSQL schema of its own per test (feature `postgres`), from `CLERK_TEST_POSTGRES_URL`:
//! tests run in parallel without seeing each other's rows, and the schema is dropped afterwards.
//!
//! ```no_run
//! # async fn demo() {
//! use clerk_testkit::postgres::{test_url, TestSchema};
//!
//! // Prints "my_test: skipping: CLERK_TEST_POSTGRES_URL not set" and returns when unset.
//! let Some(url) = test_url("my_test") else { return };
//! let schema = TestSchema::create(&url).await;
//! // For sqlx pools in-process:
//! let _options = schema.connect_options();
//! // For anything that takes a URL (a binary's DATABASE_URL, tokio-postgres, psql):
//! let _database_url = schema.database_url();
//! // Dropping `schema` drops it on the server (close the pools on it first).
//! # }
//! ```
//!
//! It depends on sqlx only (not on clerk-store, which dev-depends on this crate): building a
//! store on the schema stays in each test.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;

/// The variable naming the test database, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const URL_VAR: &str = "CLERK_TEST_POSTGRES_URL";

/// A URL where nothing listens (port 1): connecting fails at once.
pub const CLOSED_URL: &str = "postgres://postgres@127.0.0.1:1/test";

/// The test database URL from [`URL_VAR`], or `None` after printing why `test` is skipped.
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
/// panics. Drop it after the pools using it are closed or dropped, or the drop waits on their
/// locks (for at most 5 s).
#[derive(Debug)]
pub struct TestSchema {
    url: String,
    name: String,
}

impl TestSchema {
    /// Creates `clerk_test_<pid>_<n>_<nanos>` on the server at `url` (which must not select a
    /// schema itself).
    ///
    /// # Panics
    ///
    /// If the server cannot be reached or the schema cannot be created: a test cannot go on.
    pub async fn create(url: &str) -> TestSchema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "clerk_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e}"));
        let _ = conn.close().await;
        TestSchema {
            url: url.to_owned(),
            name,
        }
    }

    /// The schema's name (letters, digits and `_` only: no quoting needed).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server URL the schema was created from (its sessions use `public`).
    pub fn server_url(&self) -> &str {
        &self.url
    }

    /// Connect options whose sessions use this schema (`-c search_path=<schema>`).
    ///
    /// # Panics
    ///
    /// If the server URL does not parse (it connected in [`TestSchema::create`], so it does).
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url)
            .unwrap_or_else(|e| panic!("test database URL does not parse: {e}"))
            .options([("search_path", self.name.as_str())])
    }

    /// A URL whose sessions use this schema, for anything configured by URL (a binary's
    /// `DATABASE_URL`, sqlx, tokio-postgres, libpq): the server URL plus
    /// `options=-c%20search_path%3D<schema>`, appended to any query the URL already has.
    pub fn database_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.url, self.name
        )
    }
}

impl Drop for TestSchema {
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
