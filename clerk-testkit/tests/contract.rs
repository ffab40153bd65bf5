//! The contract suite's process handling on binaries that are not healthy apps: every failure
//! to start is a clear error carrying what the process wrote to stderr, and a suite run
//! against such a binary reports it instead of passing.
#![cfg(feature = "contract")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use clerk_testkit::contract::{run_admin_suite, run_contract_suite, AppProcess, AppUnderTest};

/// An executable shell script in a fresh temporary directory (removed on drop).
struct Script(PathBuf);

impl Script {
    fn new(body: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "clerk-contract-{}-{}",
            std::process::id(),
            clerk_testkit::webhooks::random_msg_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Script(path)
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::test]
async fn a_missing_binary_is_named() {
    let error = AppProcess::spawn("/nonexistent/axum-app".as_ref(), &[])
        .await
        .unwrap_err();
    assert!(
        error
            .message()
            .contains("cannot spawn /nonexistent/axum-app"),
        "{error}"
    );
}

#[tokio::test]
async fn an_app_that_exits_at_start_is_reported_with_its_stderr_and_environment() {
    // Prints the setting it was given and one the suite must not leak from the test's own
    // environment, then fails like an app with a bad setting.
    let script = Script::new(
        r#"echo "app: CLERK_FRONTEND_HOSTS=$CLERK_FRONTEND_HOSTS leaked=${CARGO_MANIFEST_DIR:-none} bind=$BIND" >&2; exit 3"#,
    );
    let env = vec![(
        "CLERK_FRONTEND_HOSTS".to_owned(),
        "http://localhost:3000".to_owned(),
    )];
    let error = AppProcess::spawn(&script.0, &env).await.unwrap_err();
    let message = error.message();
    assert!(
        message.contains("exited with exit status: 3 before answering GET /healthz"),
        "{message}"
    );
    assert!(
        message.contains(
            "app: CLERK_FRONTEND_HOSTS=http://localhost:3000 leaked=none bind=127.0.0.1:"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn suites_against_a_broken_binary_fail_and_say_why() {
    let script = Script::new(r#"echo "app: DATABASE_URL=$DATABASE_URL refused" >&2; exit 1"#);
    let app = AppUnderTest::new("broken", &script.0, "sqlite::memory:");
    let report = run_contract_suite(&app).await;
    assert!(!report.passed());
    assert_eq!(report.checks(), ["start"]);
    let text = report.to_string();
    assert!(
        text.contains("broken: 1 of 1 contract checks failed"),
        "{text}"
    );
    assert!(
        text.contains("app: DATABASE_URL=sqlite::memory: refused"),
        "{text}"
    );

    // The admin suite seeds the database first; the app then fails to start the same way.
    let report = run_admin_suite(&app).await;
    assert!(!report.passed());
    assert_eq!(report.checks(), ["start"]);
}
