//! The end-to-end tests every example app runs against its own binary, written once:
//! [`contract_e2e_tests!`](crate::contract_e2e_tests) declares them in an app's
//! `tests/e2e.rs`; the bodies are the functions here.

use std::path::PathBuf;

use super::{run_admin_suite, run_contract_suite, AppUnderTest, ContractReport};
use crate::postgres::{test_url, TestSchema};

/// A scratch directory under the system's temp dir, removed on drop (also when a test panics).
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `<tmp>/<prefix>-<pid>-<random>`.
    ///
    /// # Panics
    /// When the directory cannot be created.
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            crate::webhooks::random_msg_id()
        ));
        #[allow(clippy::expect_used)]
        std::fs::create_dir_all(&path).expect("a scratch directory in the temp dir");
        ScratchDir(path)
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A `DATABASE_URL` for a SQLite file `app.db` in this directory (created on first use).
    #[must_use]
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("app.db").display())
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Which suite an end-to-end test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// [`run_contract_suite`]: every API route of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications).
    Contract,
    /// [`run_admin_suite`]: `/admin` in hybrid mode.
    Admin,
}

async fn run(suite: Suite, app: &AppUnderTest) -> ContractReport {
    match suite {
        Suite::Contract => run_contract_suite(app).await,
        Suite::Admin => run_admin_suite(app).await,
    }
}

/// Runs `suite` against the binary `app` (named `name` in reports) on a fresh SQLite file and
/// panics with the report unless every check passed.
pub async fn on_sqlite(name: &str, binary: &str, suite: Suite) {
    let dir = ScratchDir::new(&format!("{name}-e2e"));
    let app = AppUnderTest::new(
        format!("{name} ({suite:?}) on SQLite"),
        binary,
        dir.sqlite_url(),
    );
    run(suite, &app).await.assert_passed();
}

/// As [`on_sqlite`] on a PostgreSQL schema of its own (`CLERK_TEST_POSTGRES_URL`; skipped with
/// a message when unset).
pub async fn on_postgres(name: &str, binary: &str, suite: Suite) {
    let Some(url) = test_url(&format!("{name} {suite:?} on PostgreSQL")) else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let app = AppUnderTest::new(
        format!("{name} ({suite:?}) on PostgreSQL"),
        binary,
        schema.database_url(),
    );
    let report = run(suite, &app).await;
    // The app processes are gone; the schema can be dropped before the verdict.
    drop(schema);
    report.assert_passed();
}

/// Runs the multi-instance suite ([`run_instances_suite`](super::instances::run_instances_suite))
/// against three processes of `binary` on one PostgreSQL schema (`CLERK_TEST_POSTGRES_URL`),
/// with Redis as the cache when `redis` (`CLERK_TEST_REDIS_URL`); skipped with a message when
/// a URL is unset.
pub async fn instances_on_postgres(name: &str, binary: &str, redis: bool) {
    let label = if redis {
        "PostgreSQL + Redis"
    } else {
        "PostgreSQL"
    };
    let Some(url) = test_url(&format!("{name} instances on {label}")) else {
        return;
    };
    let redis_url = if redis {
        match std::env::var("CLERK_TEST_REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => Some(url),
            _ => {
                println!("{name} instances on {label}: skipping: CLERK_TEST_REDIS_URL not set");
                return;
            }
        }
    } else {
        None
    };
    let schema = TestSchema::create(&url).await;
    let mut app = AppUnderTest::new(
        format!("{name} (3 instances) on {label}"),
        binary,
        schema.database_url(),
    );
    if let Some(redis_url) = redis_url {
        app = app.env("REDIS_URL", redis_url);
    }
    let report = super::instances::run_instances_suite(&app).await;
    drop(schema);
    report.assert_passed();
}

/// Declares the end-to-end tests of an example app's binary: the contract suite and the
/// `/admin` suite, each on SQLite and on PostgreSQL, and the multi-instance suite on
/// PostgreSQL with and without Redis. Both example apps' `tests/e2e.rs` call
/// it, so the two are held to one suite by construction. Needs `tokio` (with `macros` and
/// `rt-multi-thread`) among the caller's dev-dependencies.
///
/// ```ignore
/// clerk_testkit::contract_e2e_tests!("axum-app", env!("CARGO_BIN_EXE_axum-app"));
/// ```
#[macro_export]
macro_rules! contract_e2e_tests {
    ($name:literal, $binary:expr) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_on_sqlite() {
            use $crate::contract::e2e::{on_sqlite, Suite};
            on_sqlite($name, $binary, Suite::Contract).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn contract_on_postgres() {
            use $crate::contract::e2e::{on_postgres, Suite};
            on_postgres($name, $binary, Suite::Contract).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn admin_on_sqlite() {
            use $crate::contract::e2e::{on_sqlite, Suite};
            on_sqlite($name, $binary, Suite::Admin).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn admin_on_postgres() {
            use $crate::contract::e2e::{on_postgres, Suite};
            on_postgres($name, $binary, Suite::Admin).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn instances_on_postgres() {
            $crate::contract::e2e::instances_on_postgres($name, $binary, false).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn instances_on_postgres_with_redis() {
            $crate::contract::e2e::instances_on_postgres($name, $binary, true).await;
        }
    };
}
