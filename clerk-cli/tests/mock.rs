//! `clerk mock` (feature `mock`): the printed settings work, its token endpoint mints tokens its
//! JWKS verifies, `--webhook-url` gets the writes' signed webhooks, and a taken port is named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::{Authenticator, ClerkConfig};
use common::{clerk, stderr_of};

/// Kills the child on drop, so a failing assertion leaves no server running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn mock_prints_usable_settings_and_mints_tokens_its_jwks_verifies() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clerk"))
        .args(["mock", "--port", "0", "--users", "25", "--seed-orgs", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut settings = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let (name, value) = line.split_once('=').unwrap();
        settings.insert(name.to_owned(), value.to_owned());
        if settings.len() == 5 {
            break;
        }
    }
    for name in [
        "CLERK_API_URL",
        "CLERK_SECRET_KEY",
        "CLERK_PUBLISHABLE_KEY",
        "CLERK_FRONTEND_HOSTS",
        "CLERK_WEBHOOK_SIGNING_KEY",
    ] {
        assert!(
            settings.contains_key(name),
            "{name} not printed: {settings:?}"
        );
    }
    assert!(settings["CLERK_WEBHOOK_SIGNING_KEY"].starts_with("whsec_"));

    common::block_on(async {
        let url = &settings["CLERK_API_URL"];
        let client = reqwest::Client::new();
        // The Backend API serves the generated users with the printed key.
        let count = client
            .get(format!("{url}/v1/users/count"))
            .bearer_auth(&settings["CLERK_SECRET_KEY"])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(count.contains("25"), "{count}");

        let body = serde_json::json!({
            "sub": "user_gen_00000003", "org_id": "org_gen_000001", "org_slug": "org-1",
            "org_role": "org:admin", "org_permissions": ["org:reports:read"],
        });
        let answer: serde_json::Value = serde_json::from_str(
            &client
                .post(format!("{url}/__mock/tokens"))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        let token = answer["token"].as_str().expect("a token");

        // An app configured with exactly the printed settings accepts it.
        let config = ClerkConfig::from_lookup(|name| settings.get(name).cloned()).unwrap();
        let authenticator = Authenticator::builder(config)
            .http_client(ReqwestClient::new(Duration::from_secs(5)).unwrap())
            .build()
            .unwrap();
        let auth = authenticator.verify(token).await.unwrap();
        assert_eq!(auth.user_id, "user_gen_00000003");
        assert_eq!(auth.org_id(), Some("org_gen_000001"));
        assert!(auth.has_role("org:admin"));
        assert!(auth.has_permission("org:reports:read"));
    });

    // Ctrl-C (SIGINT) stops it cleanly, with exit code 0.
    let mut running = running;
    let pid = running.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = running.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn mock_on_a_taken_port_fails_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let output = clerk()
        .args(["mock", "--port", &port])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(stderr_of(&output).contains(&format!("listening on 127.0.0.1:{port}")));
}

/// Accepts one HTTP request on `listener`, answers 200, returns (head, body).
fn accept_one(listener: &std::net::TcpListener) -> (String, String) {
    use std::io::{Read, Write};
    let (mut stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the connection closed early");
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .unwrap();
                return (head.to_owned(), body.to_owned());
            }
        }
    }
}

#[test]
fn mock_delivers_the_webhooks_of_writes_to_the_webhook_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/webhooks/clerk", listener.local_addr().unwrap());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clerk"))
        .args([
            "mock",
            "--port",
            "0",
            "--users",
            "3",
            "--webhook-url",
            &hook,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut settings = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let (name, value) = line.split_once('=').unwrap();
        settings.insert(name.to_owned(), value.to_owned());
        if settings.len() == 5 {
            break;
        }
    }
    let ban = clerk()
        .env("CLERK_API_URL", &settings["CLERK_API_URL"])
        .env("CLERK_SECRET_KEY", &settings["CLERK_SECRET_KEY"])
        .args(["users", "ban", "user_gen_00000001"])
        .assert()
        .success();
    drop(ban);
    let (head, body) = accept_one(&listener);
    assert!(head.starts_with("POST /webhooks/clerk "), "{head}");
    let event: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "user.updated");
    assert_eq!(event["data"]["id"], "user_gen_00000001");
    assert_eq!(event["data"]["banned"], true);
    // Svix's headers, the signature made with the printed signing key.
    let id = header_value(&head, "svix-id");
    let ts: i64 = header_value(&head, "svix-timestamp").parse().unwrap();
    let sender = clerk_testkit::webhooks::WebhookSender::new(
        "http://127.0.0.1:9/",
        &settings["CLERK_WEBHOOK_SIGNING_KEY"],
    );
    let expected = sender.webhook().sign(&id, ts, body.as_bytes());
    assert_eq!(header_value(&head, "svix-signature"), expected);
}

/// The value of header `name` (case-insensitive) in a request head.
fn header_value(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} header in {head}"))
}
