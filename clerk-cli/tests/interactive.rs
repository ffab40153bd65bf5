//! `clerk createsuperuser` interactively, on a pseudo-terminal (`script` from util-linux gives
//! the binary one): prompts for username and email, asks for the password twice with the
//! terminal's echo off (rpassword), asks again after a mismatch or a weak password, then creates the user.
//! Skips with a message when `script` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};

use clerk_core::password::verify_password;
use clerk_core::store::UserStore;
use common::{block_on, Db};

/// Reads the child's terminal output until it contains `needle`; returns everything read
/// since the previous call. Panics if the output ends first.
fn expect(out: &mut ChildStdout, seen: &mut String, needle: &str) -> String {
    let mut buf = [0u8; 256];
    loop {
        if let Some(at) = seen.find(needle) {
            let upto = at + needle.len();
            let text = seen[..upto].to_owned();
            seen.drain(..upto);
            return text;
        }
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "output ended before {needle:?}; got {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

fn answer(input: &mut ChildStdin, line: &str) {
    input.write_all(format!("{line}\n").as_bytes()).unwrap();
    input.flush().unwrap();
}

#[test]
fn prompts_hide_the_password_and_ask_again_until_it_is_acceptable() {
    if Command::new("script").arg("--version").output().is_err() {
        println!("interactive createsuperuser: skipping: `script` (util-linux) not installed");
        return;
    }
    let db = Db::sqlite("interactive");
    db.migrate();
    let command = format!("{} createsuperuser", env!("CARGO_BIN_EXE_clerk"));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("DATABASE_URL", db.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();

    expect(&mut out, &mut seen, "Username: ");
    answer(&mut input, "bad name");
    expect(&mut out, &mut seen, "username may hold");
    expect(&mut out, &mut seen, "Username: ");
    answer(&mut input, "root");
    expect(&mut out, &mut seen, "Email address (optional): ");
    answer(&mut input, "root@example.test");
    expect(&mut out, &mut seen, "Password: ");
    answer(&mut input, "first-try-passphrase");
    expect(&mut out, &mut seen, "Password (again): ");
    answer(&mut input, "second-try-passphrase");
    expect(&mut out, &mut seen, "the two passwords differ");
    expect(&mut out, &mut seen, "Password: ");
    answer(&mut input, "short");
    expect(&mut out, &mut seen, "Password (again): ");
    answer(&mut input, "short");
    expect(&mut out, &mut seen, "too short");
    expect(&mut out, &mut seen, "Password: ");
    answer(&mut input, "plum-orbit-lantern-42");
    expect(&mut out, &mut seen, "Password (again): ");
    answer(&mut input, "plum-orbit-lantern-42");
    expect(&mut out, &mut seen, "created");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // Whether the password was echoed is not checked here: the prompt is printed just before
    // echo goes off, so input written the instant the prompt appears can race it (a person
    // typing cannot). A manual run with pauses shows no echo.

    let store = db.store().into_dyn();
    let root = block_on(store.local_user_by_username("root"))
        .unwrap()
        .unwrap();
    assert!(root.is_staff && root.is_superuser);
    assert_eq!(root.email.as_deref(), Some("root@example.test"));
    assert!(verify_password("plum-orbit-lantern-42", &root.password_hash.unwrap()).unwrap());
    assert_eq!(db.users(), 1);
}
