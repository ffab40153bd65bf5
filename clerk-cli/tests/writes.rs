//! The built `clerk` binary's Backend API writes against a mock Clerk on loopback:
//! `clerk users ban|unban|lock|unlock`, `clerk sessions revoke [--user]`,
//! `clerk invitations create`, their output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use assert_cmd::Command;
use clerk_core::backend_api::Endpoint;
use clerk_testkit::mock::{generated_user_id, MockClerk};
use common::{clerk, mock_with_users, stderr_of, stdout_of};
use predicates::prelude::*;

fn clerk_at(mock: &MockClerk) -> Command {
    let mut command = clerk();
    command
        .env("CLERK_API_URL", mock.url())
        .env("CLERK_SECRET_KEY", mock.secret_key());
    command
}

/// The `data` of the last `user.updated` the mock emitted.
fn last_user_update(mock: &MockClerk) -> serde_json::Value {
    mock.webhook_events()
        .into_iter()
        .rev()
        .find(|e| e.event_type == "user.updated")
        .expect("a user.updated")
        .body["data"]
        .clone()
}

#[test]
fn users_are_banned_unbanned_locked_and_unlocked() {
    let mock = mock_with_users(2);
    let id = generated_user_id(1);
    clerk_at(&mock)
        .args(["users", "ban", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "banned {id} (banned: true"
        )));
    assert_eq!(last_user_update(&mock)["banned"], true);
    clerk_at(&mock)
        .args(["users", "lock", &id])
        .assert()
        .success();
    assert_eq!(last_user_update(&mock)["locked"], true);
    clerk_at(&mock)
        .args(["users", "unban", &id])
        .assert()
        .success();
    clerk_at(&mock)
        .args(["users", "unlock", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("banned: false, locked: false"));
    let last = last_user_update(&mock);
    assert_eq!(
        (last["banned"].clone(), last["locked"].clone()),
        (false.into(), false.into())
    );
}

#[test]
fn unknown_users_are_refused_with_3_and_bad_ids_are_usage_errors() {
    let mock = mock_with_users(1);
    let output = clerk_at(&mock)
        .args(["users", "ban", "user_nobody"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(
        stderr_of(&output).contains("not found (HTTP 404)"),
        "{}",
        stderr_of(&output)
    );
    clerk_at(&mock)
        .args(["users", "lock", "user/../x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid user_id"));
    assert_eq!(mock.backend_request_count(Endpoint::LockUser), 0);
    // No secret key: a configuration error.
    clerk()
        .env("CLERK_API_URL", mock.url())
        .args(["users", "ban", &generated_user_id(0)])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CLERK_SECRET_KEY"));
}

#[test]
fn sessions_are_revoked_one_or_all_of_a_user() {
    let mock = mock_with_users(2);
    let user = generated_user_id(0);
    let sessions: Vec<String> = (0..3)
        .map(|_| mock.create_session(&user).unwrap())
        .collect();
    let other = mock.create_session(&generated_user_id(1)).unwrap();
    clerk_at(&mock)
        .args(["sessions", "revoke", &sessions[0]])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "revoked session {} of {user}",
            sessions[0]
        )));
    let output = clerk_at(&mock)
        .args(["sessions", "revoke", "--user", &user])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout_of(&output).contains(&format!("revoked 2 of 2 active sessions of {user}")),
        "{}",
        stdout_of(&output)
    );
    assert!(mock.sessions_of(&user).iter().all(|(_, s)| s == "revoked"));
    assert_eq!(
        mock.sessions_of(&generated_user_id(1)),
        [(other, "active".to_owned())]
    );
    // Nothing left: zero of zero, still a success.
    clerk_at(&mock)
        .args(["sessions", "revoke", "--user", &user])
        .assert()
        .success()
        .stdout(predicate::str::contains("revoked 0 of 0"));
    clerk_at(&mock)
        .args(["sessions", "revoke"])
        .assert()
        .code(2);
    clerk_at(&mock)
        .args(["sessions", "revoke", "sess_1", "--user", &user])
        .assert()
        .code(2);
    clerk_at(&mock)
        .args(["sessions", "revoke", "sess_unknown"])
        .assert()
        .code(3);
}

#[test]
fn invitations_are_created_and_duplicates_refused() {
    let mock = mock_with_users(1);
    clerk_at(&mock)
        .args([
            "invitations",
            "create",
            "new@example.com",
            "--redirect-url",
            "https://app.example.com/welcome",
            "--expires-in-days",
            "7",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("created invitation inv_")
                .and(predicate::str::contains("(pending")),
        );
    let invitations = mock.app_invitations();
    assert_eq!(invitations.len(), 1);
    assert_eq!(
        (invitations[0].1.as_str(), invitations[0].2.as_str()),
        ("new@example.com", "pending")
    );
    clerk_at(&mock)
        .args(["invitations", "create", "new@example.com"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("duplicate_record"));
    // A user's address needs --ignore-existing.
    clerk_at(&mock)
        .args(["invitations", "create", "user0@example.test"])
        .assert()
        .code(3);
    clerk_at(&mock)
        .args([
            "invitations",
            "create",
            "user0@example.test",
            "--ignore-existing",
            "--no-notify",
        ])
        .assert()
        .success();
    // Not an address, or zero days: refused before anything is sent.
    let before = mock.backend_request_count(Endpoint::CreateInvitation);
    clerk_at(&mock)
        .args(["invitations", "create", "not-an-address"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid email_address"));
    clerk_at(&mock)
        .args([
            "invitations",
            "create",
            "a@example.com",
            "--expires-in-days",
            "0",
        ])
        .assert()
        .code(2);
    assert_eq!(
        mock.backend_request_count(Endpoint::CreateInvitation),
        before
    );
}
