//! Bounded sessions ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)):
//! a client that replays one valid `__session` token and never returns the app's cookie (a
//! script, a scraper, a browser with cookies blocked) makes the app establish a session on
//! every request. At most 16 records exist per Clerk session, so the app's memory stays flat.
//!
//! | what | expected |
//! |---|---|
//! | 10,000 `GET /api/public` with the same `__session` cookie and no app cookie | every answer 200 signed in; resident memory grows by less than [`REPLAY_GROWTH_LIMIT_KIB`] between the first 1,000 and the last |
//! | with `CLERK_COOKIE_AUTH=false`, `GET /api/public` with only the `__session` cookie | 200 signed out, no session cookie; the same token as a bearer header signs in ([`cookie_auth_off`]) |

use futures_util::stream::{self, StreamExt};

use super::{ensure, CheckResult, Failure, RunningApp};

/// How many requests replay the token.
pub const REPLAYS: usize = 10_000;

/// The resident-memory growth the replays may cause, in KiB. An app that keeps a record per
/// request grows by more than 10 MiB over 9,000 requests (a claims snapshot is ~1 KiB), so
/// 4 MiB leaves the allocator room and still catches it.
pub const REPLAY_GROWTH_LIMIT_KIB: u64 = 4 * 1024;

const WARM_UP: usize = 1_000;
const CONCURRENCY: usize = 8;

async fn replay(app: &RunningApp, cookie: &str, count: usize) -> CheckResult {
    let url = app.url("/api/public");
    let results: Vec<Result<(), Failure>> = stream::iter(0..count)
        .map(|n| {
            let request = app
                .request(reqwest::Method::GET, "/api/public")
                .header(reqwest::header::COOKIE, cookie);
            let url = url.clone();
            async move {
                let response = request
                    .send()
                    .await
                    .map_err(|e| Failure::new(format!("replay {n} to {url}: no answer: {e}")))?;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                ensure!(
                    status == 200 && body["signed_in"] == true,
                    "replay {n}: expected 200 signed in, got {status} {body}"
                );
                Ok(())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Replays one token [`REPLAYS`] times without the app's cookie and measures the app's
/// resident memory (skipped, with a note, where `/proc` is missing).
///
/// # Errors
/// A replay was not served, or memory grew past [`REPLAY_GROWTH_LIMIT_KIB`].
pub async fn session_replay_is_bounded(app: &RunningApp) -> CheckResult {
    // A token that outlives the run: 10,000 replays take over a minute on a loaded CI machine,
    // and a replay after a 60 s token's `exp` is signed out, which is not what this measures.
    let token = app
        .clerk
        .token_v2()
        .subject("user_replay")
        .session_id("sess_user_replay")
        .authorized_party(crate::mint::DEFAULT_AUTHORIZED_PARTY)
        .expires_in(std::time::Duration::from_secs(3600))
        .sign();
    let cookie = format!("__session={token}");
    replay(app, &cookie, WARM_UP).await?;
    let Some(before) = app.process.rss_kib() else {
        eprintln!("session_replay_is_bounded: no /proc; memory not measured");
        return replay(app, &cookie, REPLAYS - WARM_UP).await;
    };
    replay(app, &cookie, REPLAYS - WARM_UP).await?;
    let after = app.process.rss_kib().unwrap_or(before);
    let growth = after.saturating_sub(before);
    eprintln!(
        "session_replay_is_bounded: {REPLAYS} replays, resident memory {before} KiB → {after} KiB (+{growth} KiB)"
    );
    ensure!(
        growth < REPLAY_GROWTH_LIMIT_KIB,
        "{} replays of one token without the app's cookie grew resident memory by {growth} KiB ({before} → {after}); the limit is {REPLAY_GROWTH_LIMIT_KIB} KiB: are session records bounded per Clerk session?",
        REPLAYS - WARM_UP
    );
    Ok(())
}

/// With `CLERK_COOKIE_AUTH=false` Clerk's `__session` cookie is not a credential, in session
/// mode too: a request carrying only the cookie is signed out (401 `session-token-missing`)
/// and gets no session cookie, while the same token as a bearer header signs in. Runs its own
/// app process.
///
/// # Errors
/// The first expectation that failed.
pub async fn cookie_auth_off(app: &super::AppUnderTest) -> CheckResult {
    let app = app.clone().env("CLERK_COOKIE_AUTH", "false");
    let running = RunningApp::start(&app, super::MockClerk::start().await).await?;
    let token = running.token("user_cookie_off");
    let request = running
        .request(reqwest::Method::GET, "/api/public")
        .header(reqwest::header::COOKIE, format!("__session={token}"));
    let answer = running
        .send(
            "GET /api/public (__session cookie, CLERK_COOKIE_AUTH=false)",
            request,
        )
        .await?;
    let answer = answer.status(200)?;
    let body = answer.json().unwrap_or_default();
    ensure!(
        body["signed_in"] == false,
        "the __session cookie signed the request in although CLERK_COOKIE_AUTH=false: {body}"
    );
    ensure!(
        answer.set_cookies().is_empty(),
        "a session was established from the __session cookie: {:?}",
        answer.set_cookies()
    );
    let bearer = running
        .get(
            "/api/public",
            Some(&token),
            "the same token as a bearer header",
        )
        .await?;
    let body = bearer.status(200)?.json().unwrap_or_default();
    ensure!(
        body["signed_in"] == true,
        "the bearer token did not sign in: {body}"
    );
    Ok(())
}
