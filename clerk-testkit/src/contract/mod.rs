//! The black-box contract suite of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) (feature `contract`): one set of checks that
//! drives an example application's **binary** over real HTTP, so `examples/axum-app` and
//! `examples/rocket-app` are held to the same statuses, headers and bodies.
//!
//! - [`AppProcess`] runs a binary on a free loopback port (`BIND`), waits for `GET /healthz`,
//!   kills it on drop and keeps its stderr for failure messages.
//! - [`RunningApp`] is one app process wired to its own [`MockClerk`] (JWKS + Backend API) and
//!   `CLERK_WEBHOOK_SIGNING_KEY` = [`TEST_SECRET`], with helpers to mint tokens and send
//!   signed webhooks.
//! - [`run_contract_suite`] runs every API check ([`checks`]); [`run_admin_suite`] runs the
//!   `/admin` (hybrid mode) checks ([`admin`]) separately, so the two are reported apart. Both
//!   run every check and return a [`ContractReport`]; [`ContractReport::assert_passed`] panics
//!   with every failure and the app's stderr.
//!
//! A check never depends on another check's leftovers: each uses its own user ids. One
//! leaves some: `admin_address_throttle` locks the suite's client address out of
//! `/admin/login` for 15 minutes, so it runs last.
//!
//! ```no_run
//! use clerk_testkit::contract::{run_contract_suite, AppUnderTest};
//!
//! # async fn demo() {
//! let dir = std::env::temp_dir();
//! let app = AppUnderTest::new(
//!     "axum-app on SQLite",
//!     "target/debug/axum-app", // in a test: env!("CARGO_BIN_EXE_axum-app")
//!     format!("sqlite://{}/contract.db?mode=rwc", dir.display()),
//! );
//! run_contract_suite(&app).await.assert_passed();
//! # }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::mint::DEFAULT_AUTHORIZED_PARTY;
use crate::webhooks::{bodies, WebhookSender, TEST_SECRET};
use crate::{MockClerk, OrgV2};

pub mod admin;
pub mod admin_actions;
pub mod bounds;
pub mod checks;
pub mod e2e;
mod http;
pub mod instances;
pub mod machine;
mod process;
pub mod redaction;
pub mod revocation;

pub use http::Answer;
pub use process::AppProcess;

/// Why a check failed: what was asked, what was expected, what came back (and the app's
/// stderr when the process itself misbehaved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    message: String,
}

impl Failure {
    /// A failure with this message.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
        }
    }

    /// Appends the tail of the app's stderr.
    #[must_use]
    pub fn with_stderr(mut self, stderr: String) -> Self {
        self.message.push_str("\n--- app stderr (tail) ---\n");
        self.message.push_str(&tail(&stderr, 60));
        self
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What a check returns.
pub type CheckResult = Result<(), Failure>;

/// Fails with `format!(...)` unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::contract::Failure::new(format!($($fmt)+)));
        }
    };
}
pub(crate) use ensure;

/// The application under test: its binary, its database, and any extra environment.
#[derive(Debug, Clone)]
pub struct AppUnderTest {
    name: String,
    binary: PathBuf,
    database_url: String,
    env: Vec<(String, String)>,
}

impl AppUnderTest {
    /// `binary` (e.g. `env!("CARGO_BIN_EXE_axum-app")`) on `database_url` (`sqlite:…` or
    /// `postgres://…`); `name` labels reports.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        binary: impl Into<PathBuf>,
        database_url: impl Into<String>,
    ) -> Self {
        AppUnderTest {
            name: name.into(),
            binary: binary.into(),
            database_url: database_url.into(),
            env: Vec::new(),
        }
    }

    /// Sets an extra environment variable for the process (after the suite's own, so it can
    /// override them, e.g. `RUST_LOG`).
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The label.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The binary.
    #[must_use]
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// `DATABASE_URL`.
    #[must_use]
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The process environment for a mock Clerk: `DATABASE_URL`, the `CLERK_*` settings,
    /// `CLERK_WEBHOOK_SIGNING_KEY`, `RUST_LOG` (the test's own, else `info`), then the extras.
    #[must_use]
    pub fn environment(&self, clerk: &MockClerk) -> Vec<(String, String)> {
        let rust_log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
        let mut env: Vec<(String, String)> = [
            ("DATABASE_URL", self.database_url.clone()),
            ("CLERK_SECRET_KEY", clerk.secret_key().to_owned()),
            ("CLERK_PUBLISHABLE_KEY", clerk.publishable_key()),
            ("CLERK_API_URL", clerk.url()),
            ("CLERK_FRONTEND_HOSTS", DEFAULT_AUTHORIZED_PARTY.to_owned()),
            ("CLERK_WEBHOOK_SIGNING_KEY", TEST_SECRET.to_owned()),
            ("RUST_LOG", rust_log),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(self.env.iter().cloned());
        env
    }
}

/// One app process wired to its own mock Clerk.
#[derive(Debug)]
pub struct RunningApp {
    /// The mock Clerk the app's `CLERK_API_URL` points at.
    pub clerk: MockClerk,
    /// The app process.
    pub process: AppProcess,
    client: reqwest::Client,
}

impl RunningApp {
    /// Starts `app` against `clerk`.
    ///
    /// # Errors
    /// The process did not start (see [`AppProcess::spawn`]).
    pub async fn start(app: &AppUnderTest, clerk: MockClerk) -> Result<Self, Failure> {
        let process = AppProcess::spawn(&app.binary, &app.environment(&clerk)).await?;
        let client = reqwest::Client::builder()
            .no_proxy()
            // The admin contract is about 303s themselves.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::new(format!("HTTP client: {e}")))?;
        Ok(RunningApp {
            clerk,
            process,
            client,
        })
    }

    /// `http://<app><path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    /// Sends `request` and reads the answer; `label` describes it in failures.
    ///
    /// # Errors
    /// Transport failures, with the app's stderr.
    pub async fn send(
        &self,
        label: impl Into<String>,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, Failure> {
        let label = label.into();
        match request.send().await {
            Ok(response) => Ok(Answer::read(label, response).await),
            Err(e) => {
                Err(Failure::new(format!("{label}: no answer: {e}"))
                    .with_stderr(self.process.stderr()))
            }
        }
    }

    /// A request builder for `method path` on this app (no redirects followed).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// `GET path`, with `Authorization: Bearer <token>` when given.
    ///
    /// # Errors
    /// Transport failures.
    pub async fn get(
        &self,
        path: &str,
        token: Option<&str>,
        what: &str,
    ) -> Result<Answer, Failure> {
        let mut request = self.request(reqwest::Method::GET, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(format!("GET {path} ({what})"), request).await
    }

    /// A webhook sender to this app's `POST /webhooks/clerk`, signing with [`TEST_SECRET`].
    #[must_use]
    pub fn sender(&self) -> WebhookSender {
        WebhookSender::new(self.url("/webhooks/clerk"), TEST_SECRET)
    }

    /// Signs and sends `event`; expects 200.
    ///
    /// # Errors
    /// Transport failures or another status.
    pub async fn deliver(&self, event: &Value) -> CheckResult {
        let sent = self
            .sender()
            .send_json(event)
            .await
            .map_err(|e| Failure::new(format!("webhook: no answer: {e}")))?;
        ensure!(
            sent.status == 200,
            "POST /webhooks/clerk ({}): expected 200, got {} {}",
            event["type"],
            sent.status,
            sent.text()
        );
        Ok(())
    }

    /// A session token for `sub` with session `sess_<sub>`, no organization.
    #[must_use]
    pub fn token(&self, sub: &str) -> String {
        self.clerk
            .token_v2()
            .subject(sub)
            .session_id(&format!("sess_{sub}"))
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .sign()
    }

    /// A token for `sub` in organization `org_contract` (slug `acme`) with `role` (without the
    /// `org:` prefix) and the given permissions of feature `reports` (e.g. `["read"]` grants
    /// `org:reports:read`).
    #[must_use]
    pub fn org_token(&self, sub: &str, role: &str, permissions: Vec<&str>) -> String {
        let mask = (0..permissions.len())
            .fold(0u64, |m, i| m | 1 << i)
            .to_string();
        self.clerk
            .token_v2()
            .subject(sub)
            .session_id(&format!("sess_{sub}"))
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .org_v2(OrgV2 {
                id: ORG_ID,
                slug: ORG_SLUG,
                role,
                permissions,
                feature_permission_masks: vec![mask.as_str()],
            })
            .features("o:reports")
            .sign()
    }

    /// A webhook body for a user with every §8 field set.
    #[must_use]
    pub fn full_user(clerk_id: &str, email: &str, first: &str, last: &str) -> Value {
        bodies::UserBody::new(clerk_id, email)
            .first_name(first)
            .last_name(last)
            .username(&clerk_id.replace("user_", ""))
            .image_url(&format!("https://img.example.test/{clerk_id}.png"))
            .event("user.created")
    }
}

/// The organization of [`RunningApp::org_token`].
pub const ORG_ID: &str = "org_contract";
/// Its slug.
pub const ORG_SLUG: &str = "acme";

/// The outcome of a suite: each check by name, passed or failed.
#[derive(Debug)]
#[must_use = "call assert_passed() or look at the failures"]
pub struct ContractReport {
    app: String,
    results: Vec<(&'static str, CheckResult)>,
    pub(crate) stderr: String,
}

impl ContractReport {
    fn new(app: &AppUnderTest) -> Self {
        ContractReport {
            app: app.name.clone(),
            results: Vec::new(),
            stderr: String::new(),
        }
    }

    fn record(&mut self, name: &'static str, result: CheckResult) {
        self.results.push((name, result));
    }

    /// Names of the checks that ran.
    #[must_use]
    pub fn checks(&self) -> Vec<&'static str> {
        self.results.iter().map(|(name, _)| *name).collect()
    }

    /// The failed checks.
    #[must_use]
    pub fn failures(&self) -> Vec<(&'static str, &Failure)> {
        self.results
            .iter()
            .filter_map(|(name, r)| r.as_ref().err().map(|f| (*name, f)))
            .collect()
    }

    /// Whether every check passed (and at least one ran).
    #[must_use]
    pub fn passed(&self) -> bool {
        !self.results.is_empty() && self.failures().is_empty()
    }

    /// Panics with every failure and the app's stderr unless [`Self::passed`].
    ///
    /// # Panics
    /// When a check failed.
    pub fn assert_passed(&self) {
        if self.passed() {
            println!(
                "{}: {} contract checks passed",
                self.app,
                self.results.len()
            );
            return;
        }
        panic!("{self}");
    }
}

impl fmt::Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failures = self.failures();
        writeln!(
            f,
            "{}: {} of {} contract checks failed",
            self.app,
            failures.len(),
            self.results.len()
        )?;
        for (name, result) in &self.results {
            match result {
                Ok(()) => writeln!(f, "  ok    {name}")?,
                Err(_) => writeln!(f, "  FAIL  {name}")?,
            }
        }
        for (name, failure) in failures {
            writeln!(f, "\n--- {name} ---\n{failure}")?;
        }
        if !self.stderr.is_empty() {
            writeln!(f, "\n--- app stderr (tail) ---\n{}", tail(&self.stderr, 80))?;
        }
        Ok(())
    }
}

/// Runs every API check of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) (all but `/admin`) against `app`: one process for most
/// checks, and one more, against a mock Clerk that is down from the start, for the 503 check.
pub async fn run_contract_suite(app: &AppUnderTest) -> ContractReport {
    let mut report = ContractReport::new(app);
    let running = match RunningApp::start(app, MockClerk::start().await).await {
        Ok(running) => running,
        Err(failure) => {
            report.record("start", Err(failure));
            return report;
        }
    };
    let r = &running;
    report.record("healthz", checks::healthz(r).await);
    report.record("public", checks::public(r).await);
    report.record("me_unauthenticated", checks::me_unauthenticated(r).await);
    report.record("me_from_webhook", checks::me_from_webhook(r).await);
    report.record("me_just_in_time", checks::me_just_in_time(r).await);
    report.record("org", checks::org(r).await);
    report.record("org_admin", checks::org_admin(r).await);
    report.record("org_reports", checks::org_reports(r).await);
    report.record(
        "org_permissions_as_clerk_expands_them",
        checks::org_permissions_as_clerk_expands_them(r).await,
    );
    report.record("webhooks", checks::webhooks(r).await);
    report.record("webhook_limits", checks::webhook_limits(r).await);
    report.record("webhook_conflicts", checks::webhook_conflicts(r).await);
    report.record(
        "revocation_is_final",
        revocation::revocation_is_final(r).await,
    );
    report.record(
        "session_follows_the_token",
        revocation::session_follows_the_token(r).await,
    );
    report.record(
        "session_replay_is_bounded",
        bounds::session_replay_is_bounded(r).await,
    );
    report.record("machine_credentials", machine::machine_credentials(r).await);
    report.record(
        "machine_single_flight",
        machine::machine_single_flight(r).await,
    );
    report.record("cookie_auth_off", bounds::cookie_auth_off(app).await);
    report.record("unavailable", checks::unavailable(app).await);
    let mut running = running;
    report.record(
        "graceful_shutdown",
        checks::graceful_shutdown(&mut running).await,
    );
    report.stderr = running.process.stderr();
    report
}

/// Runs the `/admin` (hybrid mode) checks against `app`; see [`admin`].
pub async fn run_admin_suite(app: &AppUnderTest) -> ContractReport {
    let mut report = ContractReport::new(app);
    let staff = admin::Staff::random();
    // A second staff member, whose username `admin_login_throttle` locks.
    let locked = admin::Staff::random();
    for seeded in [&staff, &locked] {
        if let Err(failure) = admin::seed(app.database_url(), seeded).await {
            report.record("seed", Err(failure));
            return report;
        }
    }
    let gated = app.clone().env(
        "CLERK_STAFF_LOGIN_CONCURRENCY",
        admin::FLOOD_CONCURRENCY.to_string(),
    );
    let running = match RunningApp::start(&gated, MockClerk::start().await).await {
        Ok(running) => running,
        Err(failure) => {
            report.record("start", Err(failure));
            return report;
        }
    };
    let r = &running;
    report.record("admin_requires_login", admin::requires_login(r).await);
    report.record("admin_login_form", admin::login_form(r).await);
    report.record(
        "admin_bad_credentials",
        admin::bad_credentials(r, &staff).await,
    );
    report.record("admin_session", admin::session(r, &staff).await);
    report.record(
        "admin_cross_site_posts",
        admin::cross_site_posts(r, &staff).await,
    );
    report.record(
        "admin_security_headers",
        admin::security_headers(r, &staff).await,
    );
    report.record("admin_login_flood", admin::login_flood(r, &staff).await);
    report.record(
        "admin_shows_held_webhooks",
        admin::shows_held_webhooks(r, &staff).await,
    );
    report.record(
        "admin_user_actions",
        admin_actions::user_actions(r, &staff).await,
    );
    report.record(
        "admin_login_throttle",
        admin::login_throttle(r, &staff, &locked).await,
    );
    report.record(
        "admin_throttle_is_shared",
        admin::throttle_is_shared(&gated, &locked).await,
    );
    // Last: it locks the suite's client address (every later login would be a 429).
    report.record(
        "admin_address_throttle",
        admin::address_throttle(r, &staff).await,
    );
    report.stderr = running.process.stderr();
    report
}
