//! End to end: the built `axum-app` binary as a process, driven over real HTTP by the test
//! kit's black-box contract suite (`clerk_testkit::contract`, the same suite that drives
//! `rocket-app`), against a mock Clerk, on a SQLite file and on PostgreSQL (a schema of its own;
//! skipped with a message when `CLERK_TEST_POSTGRES_URL` is unset).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use clerk_testkit::contract::{run_admin_suite, run_contract_suite, AppUnderTest};
use clerk_testkit::postgres::{test_url, TestSchema};

const BINARY: &str = env!("CARGO_BIN_EXE_axum-app");

/// A temporary directory for the SQLite file, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "axum-app-e2e-{test}-{}-{}",
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
    let app = AppUnderTest::new("axum-app on SQLite", BINARY, dir.sqlite_url());
    run_contract_suite(&app).await.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_on_postgres() {
    let Some(url) = test_url("contract_on_postgres") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let app = AppUnderTest::new("axum-app on PostgreSQL", BINARY, schema.database_url());
    let report = run_contract_suite(&app).await;
    // The app processes are gone; the schema can be dropped.
    drop(schema);
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_on_sqlite() {
    let dir = TempDir::new("admin");
    let app = AppUnderTest::new("axum-app /admin on SQLite", BINARY, dir.sqlite_url());
    run_admin_suite(&app).await.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_on_postgres() {
    let Some(url) = test_url("admin_on_postgres") else {
        return;
    };
    let schema = TestSchema::create(&url).await;
    let app = AppUnderTest::new(
        "axum-app /admin on PostgreSQL",
        BINARY,
        schema.database_url(),
    );
    let report = run_admin_suite(&app).await;
    drop(schema);
    report.assert_passed();
}

/// The suite can fail: the same binary told to accept another frontend host refuses the
/// suite's tokens, and the report names the checks that caught it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_catches_a_deviating_app() {
    let dir = TempDir::new("deviating");
    let app = AppUnderTest::new("misconfigured axum-app", BINARY, dir.sqlite_url()).env(
        "CLERK_FRONTEND_HOSTS",
        "https://not-the-suites-host.example",
    );
    let report = run_contract_suite(&app).await;
    assert!(!report.passed());
    let failed: Vec<&str> = report.failures().iter().map(|(name, _)| *name).collect();
    for check in [
        "public",
        "me_from_webhook",
        "me_just_in_time",
        "org",
        "org_admin",
    ] {
        assert!(failed.contains(&check), "{check} should fail:\n{report}");
    }
    // A check that needs no accepted token still passes.
    assert!(
        !failed.contains(&"healthz"),
        "healthz should pass:\n{report}"
    );
    let message = report.to_string();
    assert!(message.contains("FAIL  public"), "{message}");
    assert!(
        message.contains("token-invalid-authorized-parties"),
        "{message}"
    );
}
