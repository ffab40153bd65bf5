//! End to end: the built `rocket-app` binary as a process, driven over real HTTP by the test
//! kit's black-box contract suite (`clerk_testkit::contract`, the same suite that drives
//! `axum-app`), against a mock Clerk, on a SQLite file and on PostgreSQL (a schema of its own;
//! skipped with a message when `CLERK_TEST_POSTGRES_URL` is unset).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use clerk_testkit::contract::{run_admin_suite, run_contract_suite, AppUnderTest};
use clerk_testkit::postgres::{test_url, TestSchema};

const BINARY: &str = env!("CARGO_BIN_EXE_rocket-app");

/// A temporary directory for the SQLite file, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "rocket-app-e2e-{test}-{}-{}",
            std::process::id(),
            clerk_testkit::webhooks::random_msg_id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("app.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_on_sqlite() {
    let dir = TempDir::new("contract");
    let app = AppUnderTest::new("rocket-app on SQLite", BINARY, dir.sqlite_url());
    run_contract_suite(&app).await.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_on_postgres() {
    let Some(url) = test_url("contract_on_postgres") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let app = AppUnderTest::new("rocket-app on PostgreSQL", BINARY, schema.database_url());
    let report = run_contract_suite(&app).await;
    // The app processes are gone; the schema can be dropped.
    drop(schema);
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_on_sqlite() {
    let dir = TempDir::new("admin");
    let app = AppUnderTest::new("rocket-app /admin on SQLite", BINARY, dir.sqlite_url());
    run_admin_suite(&app).await.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_on_postgres() {
    let Some(url) = test_url("admin_on_postgres") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let app = AppUnderTest::new(
        "rocket-app /admin on PostgreSQL",
        BINARY,
        schema.database_url(),
    );
    let report = run_admin_suite(&app).await;
    drop(schema);
    report.assert_passed();
}
