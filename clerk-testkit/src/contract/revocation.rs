//! Revocation is final ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)),
//! checked as a browser behaves: Clerk's `__session` cookie comes with **every** request, and
//! the app's own session cookie is kept and replaced as the app says.
//!
//! | after | a browser's next requests (app cookie + `__session`) | a fresh browser (`__session` only) | a bearer token |
//! |---|---|---|---|
//! | `session.revoked` for the token's `sid` | 401 `session-revoked`, again and again | 401 `session-revoked` | 401 `session-revoked` |
//! | `user.updated` with `banned: true` | 401 `user-banned` | 401 `user-banned` | 401 `user-banned` |
//!
//! And a session never answers from a stale snapshot: when the browser's `__session` token
//! (same `sub` and `sid`) says another role or organization, the answer follows the token
//! ([`session_follows_the_token`]).

use std::collections::BTreeMap;

use super::checks::{unauthenticated, CHALLENGE_INVALID};
use super::{Answer, CheckResult, Failure, RunningApp};
use crate::webhooks::bodies;

/// The cookies a browser holds for the app: set and replaced by `Set-Cookie`, removed by an
/// expired or empty one, all sent back.
#[derive(Debug, Default, Clone)]
pub struct CookieJar {
    cookies: BTreeMap<String, String>,
}

impl CookieJar {
    /// A jar holding Clerk's `__session` cookie (the frontend SDK sets it on the app's domain).
    #[must_use]
    pub fn with_clerk_session(token: &str) -> Self {
        let mut jar = CookieJar::default();
        jar.cookies.insert("__session".to_owned(), token.to_owned());
        jar
    }

    /// Sets cookie `name` as a script or another response would.
    pub fn set(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// Forgets cookie `name` (Clerk's `__session` once its token expired, say).
    pub fn remove(&mut self, name: &str) {
        self.cookies.remove(name);
    }

    /// Takes in the answer's `Set-Cookie` headers.
    pub fn update(&mut self, answer: &Answer) {
        for set in answer.set_cookies() {
            let mut parts = set.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let expired = parts.any(|attribute| {
                let lower = attribute.to_ascii_lowercase();
                lower == "max-age=0" || lower.starts_with("expires=thu, 01 jan 1970")
            });
            if expired || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// The `Cookie` header the browser sends.
    #[must_use]
    pub fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

async fn me(app: &RunningApp, jar: &mut CookieJar, what: &str) -> Result<Answer, Failure> {
    let request = app
        .request(reqwest::Method::GET, "/api/me")
        .header("cookie", jar.header());
    let answer = app.send(format!("GET /api/me ({what})"), request).await?;
    jar.update(&answer);
    Ok(answer)
}

/// A signed-in browser, a fresh browser and a bearer client of `user` are refused with
/// `reason` once `end` (a webhook) has been delivered, and stay refused.
async fn stays_ended(
    app: &RunningApp,
    user: &str,
    end: &serde_json::Value,
    reason: &str,
) -> CheckResult {
    let token = app.token(user);
    let mut browser = CookieJar::with_clerk_session(&token);
    me(app, &mut browser, "signing in")
        .await?
        .status(200)?
        .session_cookie_is_hardened()?;
    me(app, &mut browser, "the session serves")
        .await?
        .status(200)?;
    app.deliver(end).await?;
    for attempt in ["the next request", "and the one after"] {
        let answer = me(app, &mut browser, &format!("{reason}: {attempt}")).await?;
        unauthenticated(&answer, reason, CHALLENGE_INVALID)?;
    }
    let mut fresh = CookieJar::with_clerk_session(&token);
    unauthenticated(
        &me(app, &mut fresh, &format!("{reason}: a fresh browser")).await?,
        reason,
        CHALLENGE_INVALID,
    )?;
    unauthenticated(
        &app.get("/api/me", Some(&token), &format!("{reason}: bearer"))
            .await?,
        reason,
        CHALLENGE_INVALID,
    )
}

/// See the [module docs](self).
///
/// # Errors
/// The first expectation that failed.
pub async fn revocation_is_final(app: &RunningApp) -> CheckResult {
    let tag = crate::webhooks::random_msg_id()
        .trim_start_matches("msg_")
        .to_ascii_lowercase();
    let revoked = format!("user_revoked_{tag}");
    app.deliver(&RunningApp::full_user(
        &revoked,
        &format!("{revoked}@example.com"),
        "Rev",
        "Oked",
    ))
    .await?;
    stays_ended(
        app,
        &revoked,
        &bodies::session_revoked(&format!("sess_{revoked}"), &revoked),
        "session-revoked",
    )
    .await?;

    let banned = format!("user_banned_{tag}");
    let email = format!("{banned}@example.com");
    app.deliver(&RunningApp::full_user(&banned, &email, "Ban", "Ned"))
        .await?;
    let ban = bodies::UserBody::new(&banned, &email)
        .banned(true)
        .updated_at(bodies::BASE_TIME_MS + 60_000)
        .event("user.updated");
    stays_ended(app, &banned, &ban, "user-banned").await
}

async fn get_with(
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

/// An admin's browser session on `/api/org/admin` (200); Clerk's frontend then refreshes
/// `__session` with a token of the same session in which the user is only a member (a
/// demotion, or an org switch, keeps `sub` and `sid`): the next request is 403, not the
/// session's stale 200; promoted again, 200.
///
/// # Errors
/// The first expectation that failed.
pub async fn session_follows_the_token(app: &RunningApp) -> CheckResult {
    let tag = crate::webhooks::random_msg_id()
        .trim_start_matches("msg_")
        .to_ascii_lowercase();
    let user = format!("user_demoted_{tag}");
    app.deliver(&RunningApp::full_user(
        &user,
        &format!("{user}@example.com"),
        "De",
        "Moted",
    ))
    .await?;
    let path = "/api/org/admin";
    let mut browser = CookieJar::with_clerk_session(&app.org_token(&user, "admin", vec!["read"]));
    get_with(app, &mut browser, path, "admin signs in")
        .await?
        .status(200)?;
    get_with(app, &mut browser, path, "the session serves")
        .await?
        .status(200)?;
    browser.set("__session", &app.org_token(&user, "member", vec!["read"]));
    get_with(
        app,
        &mut browser,
        path,
        "demoted: the refreshed __session says member",
    )
    .await?
    .status(403)?;
    get_with(app, &mut browser, "/api/org", "demoted: the org route")
        .await?
        .status(200)?
        .contains(&["\"org_role\":\"org:member\""])?;
    browser.set("__session", &app.org_token(&user, "admin", vec!["read"]));
    get_with(app, &mut browser, path, "promoted again")
        .await?
        .status(200)?;
    Ok(())
}
