//! End to end: the built `axum-app` binary as a process, driven over real HTTP by the test
//! kit's black-box contract suite (`clerk_testkit::contract`, the same suite and the same tests
//! that drive `rocket-app`), against a mock Clerk, on a SQLite file and on PostgreSQL (a schema of
//! its own; skipped with a message when `CLERK_TEST_POSTGRES_URL` is unset).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use clerk_testkit::contract::e2e::ScratchDir;
use clerk_testkit::contract::{run_contract_suite, AppUnderTest};

clerk_testkit::contract_e2e_tests!("axum-app", env!("CARGO_BIN_EXE_axum-app"));

/// The suite can fail: the same binary told to accept another frontend host refuses the
/// suite's tokens, and the report names the checks that caught it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_catches_a_deviating_app() {
    let dir = ScratchDir::new("axum-app-e2e-deviating");
    let app = AppUnderTest::new(
        "misconfigured axum-app",
        env!("CARGO_BIN_EXE_axum-app"),
        dir.sqlite_url(),
    )
    .env(
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
