//! Several instances, one database ([design §10](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#10-several-instances)):
//! three processes of the app on one PostgreSQL (and, in a second run, one Redis), driven from
//! outside as a load balancer would.
//!
//! | check | expected |
//! |---|---|
//! | `duplicate_deliveries_across_instances` | 20 webhooks, each delivered to all three at once: exactly 20 applied, the other 40 acknowledged as `already_processed` |
//! | `sessions_on_every_instance` | a browser session started on one instance (Clerk's `__session` once, then the app's cookie only) is served by the other two |
//! | `staff_sessions_on_every_instance` | a staff login on one instance opens `/admin` on the others |
//! | `ban_everywhere_within_a_second` | a `user.updated` ban delivered to one instance is refused (401 `user-banned`) by every instance within [`PROPAGATION_LIMIT`]; the measured times are reported |
//! | `revocation_everywhere_within_a_second` | a `session.revoked` delivered to one instance: the same, 401 `session-revoked` |
//! | `rolling_restart` | each instance in turn stopped (SIGTERM) and started again while a browser's requests go round all three: no 5xx, no lost session; only connections to the restarting instance may fail |

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::admin::{self, Staff};
use super::revocation::CookieJar;
use super::{ensure, Answer, AppUnderTest, CheckResult, ContractReport, Failure, RunningApp};
use crate::mock::MockClerk;
use crate::webhooks::{bodies, random_msg_id, WebhookSender};

/// How soon every instance must refuse a ban or a revocation delivered to one of them.
pub const PROPAGATION_LIMIT: Duration = Duration::from_secs(1);

/// How many instances the suite runs.
pub const INSTANCES: usize = 3;

fn tag() -> String {
    random_msg_id()
        .trim_start_matches("msg_")
        .to_ascii_lowercase()
}

async fn start_all(app: &AppUnderTest, clerk: &MockClerk) -> Result<Vec<RunningApp>, Failure> {
    let mut running = Vec::new();
    for _ in 0..INSTANCES {
        running.push(RunningApp::start(app, clerk.clone()).await?);
    }
    Ok(running)
}

/// Runs the checks against [`INSTANCES`] processes of `app` (its `DATABASE_URL` must be a
/// server database all of them share). `measured` collects the propagation times.
pub async fn run_instances_suite(app: &AppUnderTest) -> ContractReport {
    let mut report = ContractReport::new(app);
    let staff = Staff::random();
    if let Err(failure) = admin::seed(app.database_url(), &staff).await {
        report.record("seed", Err(failure));
        return report;
    }
    let clerk = MockClerk::start().await;
    let mut apps = match start_all(app, &clerk).await {
        Ok(apps) => apps,
        Err(failure) => {
            report.record("start", Err(failure));
            return report;
        }
    };
    report.record(
        "duplicate_deliveries_across_instances",
        duplicate_deliveries(&apps).await,
    );
    report.record(
        "sessions_on_every_instance",
        sessions_everywhere(&apps).await,
    );
    report.record(
        "staff_sessions_on_every_instance",
        staff_everywhere(&apps, &staff).await,
    );
    let mut measured = String::new();
    report.record(
        "ban_everywhere_within_a_second",
        ended_everywhere(&apps, Ending::Ban, &mut measured).await,
    );
    report.record(
        "revocation_everywhere_within_a_second",
        ended_everywhere(&apps, Ending::Revocation, &mut measured).await,
    );
    report.record(
        "rolling_restart",
        rolling_restart(app, &clerk, &mut apps).await,
    );
    eprintln!("{}: {measured}", app.name());
    report.stderr = apps
        .iter()
        .map(|running| running.process.stderr())
        .collect::<Vec<_>>()
        .join("\n---\n");
    report
}

async fn duplicate_deliveries(apps: &[RunningApp]) -> CheckResult {
    let senders: Vec<WebhookSender> = apps.iter().map(RunningApp::sender).collect();
    let mut applied = 0;
    let mut duplicates = 0;
    for n in 0..20 {
        let user = format!("user_dup_{}_{n}", tag());
        let body = bodies::to_bytes(&RunningApp::full_user(
            &user,
            &format!("{user}@example.com"),
            "Dup",
            "Licate",
        ));
        let msg_id = random_msg_id();
        let sends = senders
            .iter()
            .map(|sender| sender.delivery(body.clone()).msg_id(&msg_id).send());
        for sent in join_all(sends).await {
            let sent = sent.map_err(|e| Failure::new(format!("webhook {n}: no answer: {e}")))?;
            ensure!(
                sent.status == 200,
                "webhook {n} delivered to every instance at once: {} {}",
                sent.status,
                sent.text()
            );
            let body: serde_json::Value = serde_json::from_str(&sent.text()).unwrap_or_default();
            match body["outcome"].as_str() {
                Some("applied") => applied += 1,
                Some("already_processed") => duplicates += 1,
                other => return Err(Failure::new(format!("webhook {n}: outcome {other:?}"))),
            }
        }
    }
    ensure!(
        applied == 20 && duplicates == 40,
        "20 webhooks × {INSTANCES} instances: {applied} applied, {duplicates} duplicates (expected 20 and 40)"
    );
    Ok(())
}

async fn browse(
    app: &RunningApp,
    jar: &mut CookieJar,
    path: &str,
    what: &str,
) -> Result<Answer, Failure> {
    let request = app
        .request(reqwest::Method::GET, path)
        .header("cookie", jar.header());
    let answer = app.send(format!("GET {path} ({what})"), request).await?;
    jar.update(&answer);
    Ok(answer)
}

/// A signed-in browser of a new user, its session started on `apps[0]`, holding only the
/// app's cookie afterwards.
async fn signed_in_browser(apps: &[RunningApp]) -> Result<(String, CookieJar), Failure> {
    let user = format!("user_everywhere_{}", tag());
    apps[0]
        .deliver(&RunningApp::full_user(
            &user,
            &format!("{user}@example.com"),
            "Every",
            "Where",
        ))
        .await?;
    let mut jar = CookieJar::with_clerk_session(&apps[0].token(&user));
    browse(&apps[0], &mut jar, "/api/me", "signing in on instance 0")
        .await?
        .status(200)?;
    // The app's session from now on: Clerk's cookie is gone (its token may have expired).
    jar.remove("__session");
    Ok((user, jar))
}

async fn sessions_everywhere(apps: &[RunningApp]) -> CheckResult {
    let (user, mut jar) = signed_in_browser(apps).await?;
    for (n, app) in apps.iter().enumerate() {
        let answer = browse(
            app,
            &mut jar,
            "/api/me",
            &format!("instance {n}, app cookie only"),
        )
        .await?;
        let body = answer.status(200)?.json().unwrap_or_default();
        ensure!(
            body["clerk_id"] == user.as_str(),
            "instance {n} served another identity: {body}"
        );
    }
    Ok(())
}

async fn staff_everywhere(apps: &[RunningApp], staff: &Staff) -> CheckResult {
    let login = apps[0]
        .request(reqwest::Method::POST, "/admin/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(super::http::form_encode(&[
            ("username", staff.username.as_str()),
            ("password", staff.password.as_str()),
        ]));
    let answer = apps[0]
        .send("POST /admin/login on instance 0", login)
        .await?;
    answer.status(303)?;
    let mut jar = CookieJar::default();
    jar.update(&answer);
    for (n, app) in apps.iter().enumerate() {
        browse(
            app,
            &mut jar,
            "/admin",
            &format!("staff session on instance {n}"),
        )
        .await?
        .status(200)?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Ending {
    Ban,
    Revocation,
}

async fn ended_everywhere(
    apps: &[RunningApp],
    ending: Ending,
    measured: &mut String,
) -> CheckResult {
    let user = format!("user_end_{}", tag());
    let email = format!("{user}@example.com");
    apps[0]
        .deliver(&RunningApp::full_user(&user, &email, "End", "Ed"))
        .await?;
    let token = apps[0].token(&user);
    // Warm every instance's caches with the user and the session.
    for (n, app) in apps.iter().enumerate() {
        app.get("/api/me", Some(&token), &format!("instance {n} before"))
            .await?
            .status(200)?;
    }
    let (event, reason) = match ending {
        Ending::Ban => (
            bodies::UserBody::new(&user, &email)
                .banned(true)
                .updated_at(bodies::BASE_TIME_MS + 60_000)
                .event("user.updated"),
            "user-banned",
        ),
        Ending::Revocation => (
            bodies::session_revoked(&format!("sess_{user}"), &user),
            "session-revoked",
        ),
    };
    apps[1].deliver(&event).await?;
    let delivered = Instant::now();
    let mut times = Vec::new();
    for (n, app) in apps.iter().enumerate() {
        loop {
            let answer = app
                .get("/api/me", Some(&token), &format!("instance {n} after"))
                .await?;
            let body = answer.json().unwrap_or_default();
            if answer.status == 401 && body["reason"] == reason {
                times.push(delivered.elapsed());
                break;
            }
            ensure!(
                delivered.elapsed() < PROPAGATION_LIMIT,
                "instance {n} still answers {} {body} {:?} after {reason} was delivered to instance 1",
                answer.status,
                delivered.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let _ = write!(
        measured,
        "{reason} refused by every instance after {:?} (per instance {times:?}); ",
        times.iter().max().copied().unwrap_or_default()
    );
    Ok(())
}

async fn rolling_restart(
    app: &AppUnderTest,
    clerk: &MockClerk,
    apps: &mut [RunningApp],
) -> CheckResult {
    let (user, mut jar) = signed_in_browser(apps).await?;
    for restarting in 0..apps.len() {
        // Stop one instance; the browser keeps going round the others.
        apps[restarting]
            .process
            .terminate(Duration::from_secs(10))
            .await?;
        for (n, other) in apps.iter().enumerate().filter(|(n, _)| *n != restarting) {
            let answer = browse(
                other,
                &mut jar,
                "/api/me",
                &format!("instance {n} while {restarting} restarts"),
            )
            .await?;
            ensure!(
                answer.status < 500,
                "instance {n} answered {} while instance {restarting} restarted",
                answer.status
            );
            let body = answer.status(200)?.json().unwrap_or_default();
            ensure!(body["clerk_id"] == user.as_str(), "session lost: {body}");
        }
        apps[restarting] = RunningApp::start(app, clerk.clone()).await?;
        let answer = browse(
            &apps[restarting],
            &mut jar,
            "/api/me",
            &format!("instance {restarting} after its restart"),
        )
        .await?;
        let body = answer.status(200)?.json().unwrap_or_default();
        ensure!(
            body["clerk_id"] == user.as_str(),
            "the restarted instance lost the session: {body}"
        );
    }
    Ok(())
}
