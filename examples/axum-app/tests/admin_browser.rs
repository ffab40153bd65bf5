//! `/admin` in a real browser: headless Chromium (Debian's `chromium` + `chromium-driver`,
//! driven over WebDriver with fantoccini) against the built `axum-app` binary, a mock Clerk
//! and a SQLite file. A staff user is written into the database first and a `user.created`
//! webhook is signed in; then, in the browser: `/admin` lands on the login form, a wrong
//! password shows the error, logging in shows the webhook's user in the users table, logging
//! out returns to the form and `/admin` redirects again. Assertions are on element text.
//!
//! Skipped with a message when `/usr/bin/chromium` or `/usr/bin/chromedriver` is missing;
//! `.ci/run` installs both, so CI always runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clerk_testkit::contract::admin::{seed, Staff};
use clerk_testkit::contract::e2e::ScratchDir;
use clerk_testkit::contract::{AppUnderTest, RunningApp};
use clerk_testkit::MockClerk;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the browser waits for an element to appear before the test fails (a bound on a
/// hung page, not a measurement).
const WAIT: Duration = Duration::from_secs(30);

/// chromedriver, killed on drop (with the browser it started).
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver(log: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, port };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    // Ready when /status answers; bounded so a broken install fails instead of hanging.
    for _ in 0..300 {
        let status = client
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await;
        if status.is_ok_and(|r| r.status().is_success()) {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on port {port}");
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// Polls until the text of `css` satisfies `want`, and returns it. After a click the old page
/// may still be showing, or be replaced between finding an element and reading it (a stale
/// element): both are "not yet", never a failure, until [`WAIT`] runs out.
async fn text_when(client: &Client, css: &str, want: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            match element.text().await {
                Ok(text) if want(&text) => return text,
                Ok(text) => last = Some(text),
                Err(_) => {}
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css}: last text {last:?} after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`text_when`] the text is exactly `expected`.
async fn expect_text(client: &Client, css: &str, expected: &str) {
    text_when(client, css, |text| text == expected).await;
}

/// Polls until the page's path is `expected` (navigation finishes after the click returns).
async fn expect_path(client: &Client, expected: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let path = client.current_url().await.unwrap().path().to_owned();
        if path == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still at {path}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn log_in(client: &Client, username: &str, password: &str) {
    let form = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("form[action='/admin/login']"))
        .await
        .unwrap();
    for (name, value) in [("username", username), ("password", password)] {
        let field = form
            .find(Locator::Css(&format!("input[name='{name}']")))
            .await
            .unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }
    form.find(Locator::Css("button[type='submit']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_log_in_see_a_webhook_user_and_log_out_in_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        println!(
            "skipped: {CHROMIUM} or {CHROMEDRIVER} is missing \
             (apt-get install chromium chromium-driver; .ci/run does)"
        );
        return;
    }
    let dir = ScratchDir::new("axum-app-browser-run");
    let database_url = dir.sqlite_url();
    let app = AppUnderTest::new("axum-app", env!("CARGO_BIN_EXE_axum-app"), &database_url);
    let staff = Staff::random();
    seed(&database_url, &staff).await.unwrap();
    let running = RunningApp::start(&app, MockClerk::builder().start().await)
        .await
        .unwrap();
    running
        .deliver(&RunningApp::full_user(
            "user_browser",
            "seen.in.chromium@example.com",
            "Seen",
            "InChromium",
        ))
        .await
        .unwrap();

    let profile = ScratchDir::new("axum-app-browser-profile");
    let driver = start_driver(&dir.path().join("chromedriver.log")).await;
    let client = browser(&driver, profile.path()).await;
    let admin_url = running.url("/admin");
    let (c, staff) = (client.clone(), staff.clone());
    let steps = async move {
        let client = c;
        client.goto(&admin_url).await.unwrap();
        // Redirected to the form.
        expect_path(&client, "/admin/login").await;
        expect_text(&client, "h1", "Staff login").await;

        log_in(&client, &staff.username, "not the password").await;
        expect_text(&client, "#error", "Invalid username or password.").await;
        expect_path(&client, "/admin/login").await;

        log_in(&client, &staff.username, &staff.password).await;
        expect_path(&client, "/admin").await;
        let users = text_when(&client, "table#users", |_| true).await;
        assert!(users.contains("seen.in.chromium@example.com"), "{users}");
        assert!(users.contains("user_browser"), "{users}");
        expect_text(&client, "#staff", &staff.username).await;

        client
            .find(Locator::Css("#logout"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        expect_path(&client, "/admin/login").await;
        expect_text(&client, "h1", "Staff login").await;
        // Logged out for good: /admin redirects again.
        client.goto(&admin_url).await.unwrap();
        expect_path(&client, "/admin/login").await;
        expect_text(&client, "h1", "Staff login").await;
    };
    // Close the browser whatever happened, then report.
    let outcome = tokio::spawn(steps).await;
    let _ = client.close().await;
    drop(driver);
    if let Err(panic) = outcome {
        panic!("{panic}\napp stderr:\n{}", running.process.stderr());
    }
}
