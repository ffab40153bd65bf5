//! The built `clerk` binary against a mock Clerk on loopback and a temp SQLite file: help and
//! exit codes, migrate, sync (re-run, dry run, deactivate-missing, a failing page, bad
//! settings), createsuperuser, and `clerk mock`'s help (its server: `tests/mock.rs`, feature `mock`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clerk_testkit::mock::Fault;
use common::scenarios;
use common::{block_on, clerk, clerk_for, mock_with_users, Db};
use predicates::prelude::*;

#[test]
fn help_describes_every_command_and_the_exit_codes() {
    let top = clerk()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&top.stdout).into_owned();
    for needle in [
        "migrate",
        "sync",
        "createsuperuser",
        "webhooks",
        "users",
        "sessions",
        "invitations",
        "mock",
        "Exit codes:",
        "3  refused",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
    clerk()
        .args(["sync", "users", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--dry-run"))
        .stdout(predicate::str::contains("--deactivate-missing"))
        .stdout(predicate::str::contains("--page-size"))
        .stdout(predicate::str::contains("[env: DATABASE_URL"))
        .stdout(predicate::str::contains("Exit codes:"));
    clerk()
        .args(["sync", "organizations", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--memberships"));
    clerk()
        .args(["createsuperuser", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("CLERK_SUPERUSER_PASSWORD"))
        .stdout(predicate::str::contains("--password-stdin"));
    clerk()
        .args(["mock", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("/__mock/tokens"));
}

#[cfg(not(feature = "mock"))]
#[test]
fn mock_without_the_feature_says_how_to_get_it() {
    let output = clerk().arg("mock").assert().code(2).get_output().clone();
    assert!(
        common::stderr_of(&output).contains("--features mock"),
        "{}",
        common::stderr_of(&output)
    );
}

#[test]
fn usage_errors_exit_2() {
    clerk().assert().code(2);
    clerk().arg("frobnicate").assert().code(2);
    clerk()
        .args(["sync", "users", "--page-size", "501"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("501"));
    clerk()
        .args(["sync", "users", "--page-size", "0"])
        .assert()
        .code(2);
}

#[test]
fn migrate_on_sqlite() {
    scenarios::migrate_twice(&Db::sqlite("migrate"));
}

#[test]
fn migrate_defaults_to_the_shared_sqlite_file_in_the_working_directory() {
    let db = Db::sqlite("default_url");
    let Db::Sqlite { dir, .. } = &db else {
        unreachable!()
    };
    clerk().current_dir(dir).arg("migrate").assert().success();
    assert!(dir.join("clerk-app.db").exists());
}

#[test]
fn migrate_reports_an_unusable_database_url() {
    clerk()
        .args([
            "migrate",
            "--database-url",
            "postgres://u@127.0.0.1:notaport/db",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("postgres url"));
    // Nothing listens on port 1: a runtime failure.
    clerk()
        .args([
            "migrate",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/test",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: database"));
}

#[test]
fn sync_users_on_sqlite_then_rerun_changes_nothing() {
    scenarios::sync_users_then_rerun_changes_nothing(&Db::sqlite("rerun"));
}

#[test]
fn dry_run_on_sqlite_writes_nothing() {
    scenarios::dry_run_writes_nothing(&Db::sqlite("dry_run"));
}

#[test]
fn deactivate_missing_on_sqlite() {
    scenarios::deactivate_missing(&Db::sqlite("deactivate"));
}

#[test]
fn server_error_on_a_page_on_sqlite() {
    scenarios::server_error_on_a_page(&Db::sqlite("server_error"));
}

#[test]
fn malformed_page_fails_naming_the_request() {
    let db = Db::sqlite("malformed");
    let mock = mock_with_users(1_000);
    db.migrate();
    mock.fail_next(1, Fault::None);
    mock.fail_next(1, Fault::Garbage);
    clerk_for(&mock, &db)
        .args(["sync", "users"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("listing users at offset 500"))
        .stderr(predicate::str::contains("GET /v1/users"));
    assert_eq!(db.users(), 500);
}

#[test]
fn sync_organizations_with_memberships() {
    let db = Db::sqlite("orgs");
    let mock = mock_with_users(30);
    mock.generate_organizations(12, 3);
    db.migrate();
    clerk_for(&mock, &db)
        .args(["sync", "users"])
        .assert()
        .success();
    clerk_for(&mock, &db)
        .args(["sync", "organizations", "--memberships", "--page-size", "5"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "organizations: fetched 12, created 12",
        ))
        .stdout(predicate::str::contains(
            "memberships: fetched 36, created 36",
        ));
    assert_eq!(db.scalar("SELECT count(*) FROM clerk_organizations"), 12);
    assert_eq!(
        db.scalar("SELECT count(*) FROM clerk_organization_memberships"),
        36
    );
    clerk_for(&mock, &db)
        .args(["sync", "organizations", "--memberships"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(nothing changed)"));
}

#[test]
fn missing_or_invalid_settings_exit_2_naming_them() {
    let db = Db::sqlite("settings");
    db.migrate();
    let mock = mock_with_users(10);
    let without_key = || {
        let mut command = clerk();
        command
            .env("DATABASE_URL", db.url())
            .env("CLERK_API_URL", mock.url())
            .args(["sync", "users"]);
        command
    };
    without_key()
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "CLERK_SECRET_KEY: required but not set",
        ));
    // A placeholder counts as unset.
    without_key()
        .env("CLERK_SECRET_KEY", "sk_live_...")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CLERK_SECRET_KEY"));
    // A JWT key satisfies token verification, not the Backend API.
    without_key()
        .env(
            "CLERK_JWT_KEY",
            clerk_testkit::TestKeyPair::fixed(0).public_key_pem(),
        )
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CLERK_SECRET_KEY"));
    clerk_for(&mock, &db)
        .env("CLERK_API_TIMEOUT_MS", "soon")
        .args(["sync", "users"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CLERK_API_TIMEOUT_MS"));
    clerk_for(&mock, &db)
        .env("CLERK_API_URL", "http://clerk.example.com")
        .args(["sync", "users"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CLERK_API_URL"));
    // A wrong key is a runtime failure naming the request (401).
    clerk_for(&mock, &db)
        .env("CLERK_SECRET_KEY", "sk_test_not_the_mock_s_key")
        .args(["sync", "users"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("GET /v1/users"))
        .stderr(predicate::str::contains("401"));
    assert_eq!(db.users(), 0);
}

#[test]
fn sync_before_migrate_suggests_migrating() {
    let db = Db::sqlite("unmigrated");
    let mock = mock_with_users(10);
    clerk_for(&mock, &db)
        .args(["sync", "users"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("clerk migrate"));
}

#[test]
fn createsuperuser_on_sqlite() {
    scenarios::createsuperuser(&Db::sqlite("superuser"));
}

#[test]
fn createsuperuser_without_input_needs_username_and_password() {
    let db = Db::sqlite("superuser_usage");
    db.migrate();
    clerk()
        .env("DATABASE_URL", db.url())
        .env("CLERK_SUPERUSER_PASSWORD", "plum-orbit-lantern-42")
        .args(["createsuperuser", "--no-input"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--username is required"));
    clerk()
        .env("DATABASE_URL", db.url())
        .args(["createsuperuser", "--no-input", "--username", "admin"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CLERK_SUPERUSER_PASSWORD"));
    clerk()
        .env("DATABASE_URL", db.url())
        .env("CLERK_SUPERUSER_PASSWORD", "plum-orbit-lantern-42")
        .args(["createsuperuser", "--no-input", "--username", "has space"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("username may hold"));
    clerk()
        .env("DATABASE_URL", db.url())
        .env("CLERK_SUPERUSER_PASSWORD", "plum-orbit-lantern-42")
        .args([
            "createsuperuser",
            "--no-input",
            "--username",
            "a",
            "--email",
            "nope",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an email address"));
    // Empty password from stdin: refused.
    clerk()
        .env("DATABASE_URL", db.url())
        .args(["createsuperuser", "--password-stdin", "--username", "admin"])
        .write_stdin("\n")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("the password is empty"));
    // Interactive mode needs a terminal; the test's stdin is not one.
    clerk()
        .env("DATABASE_URL", db.url())
        .args(["createsuperuser", "--username", "admin"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a terminal"));
    assert_eq!(db.users(), 0);
}

/// `clerk webhooks failed` lists a held delivery (ids, never the email); `retry` refuses while
/// the email is still taken (exit 3, nothing changed), applies it once freed, and refuses a
/// second time.
#[test]
fn webhooks_failed_and_retry_on_sqlite() {
    use clerk_core::model::{ClerkUserData, HoldReason};
    use clerk_core::store::{Change, LinkPolicy, StoreWriter, UserStore, WriteBatch};
    use clerk_core::time::UnixTime;

    let db = Db::sqlite("webhooks_retry");
    clerk()
        .args(["webhooks", "failed", "--database-url", &db.url()])
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("clerk migrate"));
    db.migrate();
    let url = db.url();
    let run = |args: &[&str]| {
        clerk()
            .args(["webhooks"])
            .args(args)
            .args(["--database-url", &url])
            .assert()
    };
    run(&["failed"])
        .success()
        .stdout(predicate::str::contains("no webhook deliveries are held"));

    let store = db.store().into_dyn();
    let at = UnixTime::from_secs(1_700_000_000);
    let upsert = |data: ClerkUserData| Change::UpsertUser {
        data,
        link: LinkPolicy::Never,
    };
    let holder = ClerkUserData::new("user_holder", at, at).with_email("held@example.com", true);
    let full = ClerkUserData::new("user_held", at, at).with_email("held@example.com", true);
    let mut withheld = full.clone();
    withheld.email = None;
    block_on(async {
        let _applied = store
            .apply(WriteBatch::single(at, upsert(holder)))
            .await
            .unwrap();
        let _applied = store
            .apply(
                WriteBatch::new(at)
                    .with_receipt("msg_cli_held", "user.created")
                    .with_hold(HoldReason::EmailConflict, full)
                    .with(upsert(withheld)),
            )
            .await
            .unwrap();
    });

    let listed = run(&["failed"]).success().get_output().clone();
    let text = common::stdout_of(&listed);
    for needle in [
        "msg_cli_held",
        "user.created",
        "email_conflict",
        "user_held",
        "1 held",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(!text.contains("@example.com"), "an email leaked:\n{text}");

    run(&["retry", "msg_cli_held"])
        .failure()
        .code(3)
        .stderr(predicate::str::contains("still conflicting"));
    run(&["retry", "msg_unknown"])
        .failure()
        .code(3)
        .stderr(predicate::str::contains("no held delivery"));

    // The holder is deleted in Clerk: the address is free.
    block_on(async {
        let _applied = store
            .apply(WriteBatch::single(
                at,
                Change::DeleteUser {
                    clerk_id: "user_holder".into(),
                    at,
                },
            ))
            .await
            .unwrap();
    });
    run(&["retry", "msg_cli_held"])
        .success()
        .stdout(predicate::str::contains("no longer held"));
    let user = block_on(store.user_by_clerk_id("user_held"))
        .unwrap()
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("held@example.com"));
    run(&["retry", "msg_cli_held"])
        .failure()
        .code(3)
        .stderr(predicate::str::contains("already resolved"));
    run(&["failed"])
        .success()
        .stdout(predicate::str::contains("no webhook deliveries are held"));
}
