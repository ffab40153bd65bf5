//! Scenarios run on SQLite (`tests/cli.rs`) and on PostgreSQL (`tests/postgres.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_core::password::verify_password;
use clerk_core::store::UserStore;
use clerk_testkit::mock::Fault;
use predicates::prelude::*;

use super::{block_on, clerk, clerk_for, mock_with_users, stderr_of, stdout_of, Db};

/// `clerk migrate` creates the tables, and running it again is fine.
pub fn migrate_twice(db: &Db) {
    clerk()
        .env("DATABASE_URL", db.url())
        .arg("migrate")
        .assert()
        .success()
        .stdout(predicate::str::contains("migrated"));
    assert_eq!(db.users(), 0);
    db.migrate();
    assert_eq!(db.users(), 0);
}

/// 2,000 users synced, then the same again: the second run changes nothing and says so.
pub fn sync_users_then_rerun_changes_nothing(db: &Db) {
    let mock = mock_with_users(2_000);
    db.migrate();
    let first = clerk_for(&mock, db)
        .args(["sync", "users"])
        .assert()
        .success()
        .get_output()
        .clone();
    let out = stdout_of(&first);
    assert!(
        out.contains("fetched 2000, created 2000, updated 0"),
        "{out}"
    );
    assert!(out.contains("(changes written)"), "{out}");
    // Not a terminal: plain progress lines on stderr.
    assert!(
        stderr_of(&first).contains("users: finished: 2000 fetched"),
        "{}",
        stderr_of(&first)
    );
    assert_eq!(db.users(), 2_000);

    let again = clerk_for(&mock, db)
        .args(["sync", "users"])
        .assert()
        .success()
        .get_output()
        .clone();
    let out = stdout_of(&again);
    assert!(
        out.contains("fetched 2000, created 0, updated 0, unchanged 2000"),
        "{out}"
    );
    assert!(out.contains("(nothing changed)"), "{out}");
    assert_eq!(db.users(), 2_000);
    // A generated user arrived with its Clerk data.
    let store = db.store().into_dyn();
    let user = block_on(store.user_by_clerk_id(&clerk_testkit::mock::generated_user_id(1_999)))
        .unwrap()
        .expect("the last generated user");
    assert!(user.is_active);
    assert!(user.email.is_some());
}

/// `--dry-run` reports what would change and writes nothing.
pub fn dry_run_writes_nothing(db: &Db) {
    let mock = mock_with_users(700);
    db.migrate();
    clerk_for(&mock, db)
        .args(["sync", "users", "--dry-run", "--page-size", "100"])
        .assert()
        .success()
        .stdout(predicate::str::contains("fetched 700, created 700"))
        .stdout(predicate::str::contains("dry run: nothing written"));
    assert_eq!(db.users(), 0);
}

/// Users gone upstream are deactivated with `--deactivate-missing` (and only then).
pub fn deactivate_missing(db: &Db) {
    let mock = mock_with_users(1_000);
    db.migrate();
    clerk_for(&mock, db)
        .args(["sync", "users"])
        .assert()
        .success();
    // Upstream now holds only the first 800.
    mock.clear_backend_data();
    mock.generate_users(800);
    clerk_for(&mock, db)
        .args(["sync", "users"])
        .assert()
        .success()
        .stdout(predicate::str::contains("deactivated 0"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM clerk_users WHERE is_active = false"),
        0
    );
    clerk_for(&mock, db)
        .args(["sync", "users", "--deactivate-missing"])
        .assert()
        .success()
        .stdout(predicate::str::contains("unchanged 800"))
        .stdout(predicate::str::contains("deactivated 200"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM clerk_users WHERE is_active = false"),
        200
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM clerk_users WHERE is_active = false AND deleted_at IS NOT NULL AND email IS NULL"),
        200
    );
    assert_eq!(db.users(), 1_000, "rows are kept, as tombstones");
}

/// A 5xx on the third page (after the client's retries): exit 1, the message names the
/// request and its offset, the two pages before stay written, the failed one wrote nothing.
/// Then the re-run resumes and completes.
pub fn server_error_on_a_page(db: &Db) {
    let mock = mock_with_users(2_000);
    db.migrate();
    // Two requests pass, then enough 503s to outlast every retry.
    mock.fail_next(2, Fault::None);
    mock.fail_next(50, Fault::Status(503));
    let output = clerk_for(&mock, db)
        .args(["sync", "users"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = stderr_of(&output);
    assert!(
        err.contains("error: sync failed: listing users at offset 1000"),
        "{err}"
    );
    assert!(err.contains("GET /v1/users"), "{err}");
    assert!(err.contains("503"), "{err}");
    assert!(stdout_of(&output).is_empty(), "no summary after a failure");
    assert_eq!(db.users(), 1_000);

    mock.clear_faults();
    clerk_for(&mock, db)
        .args(["sync", "users"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "created 1000, updated 0, unchanged 1000",
        ));
    assert_eq!(db.users(), 2_000);
}

/// `createsuperuser --no-input`: a staff superuser with an argon2id hash; a weak password
/// and a taken username are refused with exit 3 and write nothing.
pub fn createsuperuser(db: &Db) {
    db.migrate();
    let password = "plum-orbit-lantern-42";
    clerk()
        .env("DATABASE_URL", db.url())
        .env("CLERK_SUPERUSER_PASSWORD", password)
        .args([
            "createsuperuser",
            "--no-input",
            "--username",
            "admin",
            "--email",
            "admin@example.test",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("superuser \"admin\" created"));
    let store = db.store().into_dyn();
    let admin = block_on(store.local_user_by_username("admin"))
        .unwrap()
        .unwrap();
    assert!(admin.is_staff && admin.is_superuser && admin.is_active);
    assert_eq!(admin.email.as_deref(), Some("admin@example.test"));
    let hash = admin.password_hash.clone().unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(verify_password(password, &hash).unwrap());
    assert!(!verify_password("wrong", &hash).unwrap());

    // Weak: refused, exit 3, nothing written.
    clerk()
        .env("DATABASE_URL", db.url())
        .env("CLERK_SUPERUSER_PASSWORD", "short")
        .args(["createsuperuser", "--no-input", "--username", "weakling"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "password refused: the password is too short",
        ));
    // Similar to the username: refused too.
    clerk()
        .env("DATABASE_URL", db.url())
        .env("CLERK_SUPERUSER_PASSWORD", "weakling-weakling")
        .args(["createsuperuser", "--no-input", "--username", "weakling"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "too similar to the account's username",
        ));
    assert!(block_on(store.local_user_by_username("weakling"))
        .unwrap()
        .is_none());

    // Taken username: refused, exit 3, the existing user unchanged.
    clerk()
        .env("DATABASE_URL", db.url())
        .env("CLERK_SUPERUSER_PASSWORD", "another-fine-passphrase")
        .args(["createsuperuser", "--no-input", "--username", "admin"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "the username \"admin\" is already taken",
        ));
    // Taken email: refused, exit 3.
    clerk()
        .env("DATABASE_URL", db.url())
        .env("CLERK_SUPERUSER_PASSWORD", "another-fine-passphrase")
        .args([
            "createsuperuser",
            "--no-input",
            "--username",
            "admin2",
            "--email",
            "admin@example.test",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("email is already used"));
    let again = block_on(store.local_user_by_username("admin"))
        .unwrap()
        .unwrap();
    assert_eq!(again.password_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(db.users(), 1);

    // --password-stdin.
    clerk()
        .env("DATABASE_URL", db.url())
        .args(["createsuperuser", "--password-stdin", "--username", "ops"])
        .write_stdin("stdin-supplied-passphrase\n")
        .assert()
        .success();
    let ops = block_on(store.local_user_by_username("ops"))
        .unwrap()
        .unwrap();
    assert!(verify_password("stdin-supplied-passphrase", &ops.password_hash.unwrap()).unwrap());
    assert_eq!(db.users(), 2);
}
