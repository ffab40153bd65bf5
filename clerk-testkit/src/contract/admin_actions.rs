//! The `/admin` user actions (design §11): staff ban, unban and revoke every session of a
//! Clerk user through Clerk's Backend API, after a confirmation step, and see the result arrive
//! through Clerk's webhook into the mirror.
//!
//! | request | answer |
//! |---------|--------|
//! | `GET /admin/users/{clerk_id}` with a staff session | 200 HTML: the mirror's view (`id="banned"` yes/no), a button per action |
//! | `GET /admin/users/{clerk_id}/{action}` | 200 HTML confirmation: a form posting `confirm={action}` |
//! | `POST /admin/users/{clerk_id}/{action}` with `confirm={action}` | 303 to `/admin/users/{clerk_id}?done={action}`; Clerk got the call |
//! | the same `POST` without the confirmation | 400, nothing sent to Clerk |
//! | the same `POST` without a staff session | 303 to `/admin/login`, nothing sent |
//! | the same `POST` from another site | 403, nothing sent |
//! | an id that is not a Clerk user id, an unknown action | 404, nothing sent |

use std::time::Duration;

use clerk_core::backend_api::Endpoint;
use clerk_core::model::ClerkUserData;
use clerk_core::time::UnixTime;

use super::admin::{cookie_header, login, redirect, Staff};
use super::http::form_encode;
use super::{ensure, Answer, CheckResult, Failure, RunningApp, TEST_SECRET};

async fn get_page(app: &RunningApp, path: &str, cookie: &str) -> Result<Answer, Failure> {
    let mut request = app.request(reqwest::Method::GET, path);
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    app.send(format!("GET {path}"), request).await
}

async fn post_form(
    app: &RunningApp,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Result<Answer, Failure> {
    let mut request = app
        .request(reqwest::Method::POST, path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(fields));
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(format!("POST {path} {fields:?} {headers:?}"), request)
        .await
}

/// Polls the user page until the mirror shows `banned` (the webhook arrived), for 5 s.
async fn wait_for_banned(app: &RunningApp, path: &str, cookie: &str, banned: bool) -> CheckResult {
    let want = format!(
        "<td id=\"banned\">{}</td>",
        if banned { "yes" } else { "no" }
    );
    let started = tokio::time::Instant::now();
    loop {
        let page = get_page(app, path, cookie).await?;
        page.status(200)?;
        if page.text.contains(&want) {
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(5),
            "{path}: the mirror did not show {want} within 5 s of Clerk's webhook: {}",
            page.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ban, unban and revoke-sessions from `/admin`, each confirmed, each refused without a staff
/// session, without the confirmation or from another site; the mirror follows through the
/// webhooks the mock Clerk sends after each write.
///
/// # Errors
/// The first expectation that failed.
pub async fn user_actions(app: &RunningApp, staff: &Staff) -> CheckResult {
    let tag = crate::webhooks::random_msg_id()
        .trim_start_matches("msg_")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>();
    let clerk_id = format!("user_act{tag}");
    let email = format!("act{tag}@example.com");
    let now = UnixTime::from_secs(1_700_000_000);
    let mut data = ClerkUserData::new(&clerk_id, now, now);
    data.email = Some(email.clone());
    app.clerk.seed_users(vec![data]);
    app.deliver(&RunningApp::full_user(&clerk_id, &email, "Act", "Ion"))
        .await?;
    app.clerk
        .deliver_webhooks_to(app.url("/webhooks/clerk"), TEST_SECRET);
    let session = app
        .clerk
        .create_session(&clerk_id)
        .ok_or_else(|| Failure::new("the mock did not create a session"))?;

    let user_path = format!("/admin/users/{clerk_id}");
    let ban_path = format!("{user_path}/ban");
    let sent = |endpoint| app.clerk.backend_request_count(endpoint);

    // Without a staff session: the login page, nothing sent.
    redirect(&get_page(app, &user_path, "").await?, "/admin/login")?;
    redirect(
        &post_form(app, &ban_path, "", &[("confirm", "ban")], &[]).await?,
        "/admin/login",
    )?;

    let answer = login(app, &staff.username, &staff.password).await?;
    redirect(&answer, "/admin")?;
    let cookie = cookie_header(&answer);

    get_page(app, "/admin", &cookie)
        .await?
        .status(200)?
        .contains(&[&format!("href=\"{user_path}\"")])?;
    get_page(app, &user_path, &cookie)
        .await?
        .status(200)?
        .contains(&[
            &email,
            "<td id=\"banned\">no</td>",
            &format!("action=\"{ban_path}\""),
        ])?;
    get_page(app, "/admin/users/org_1", &cookie)
        .await?
        .status(404)?;
    get_page(app, &format!("{user_path}/delete"), &cookie)
        .await?
        .status(404)?;
    get_page(app, &ban_path, &cookie)
        .await?
        .status(200)?
        .contains(&[
            "name=\"confirm\" value=\"ban\"",
            &format!("action=\"{ban_path}\""),
        ])?;

    // Not confirmed, confirmed for another action, from another site: nothing sent.
    post_form(app, &ban_path, &cookie, &[], &[])
        .await?
        .status(400)?;
    post_form(app, &ban_path, &cookie, &[("confirm", "unban")], &[])
        .await?
        .status(400)?;
    post_form(
        app,
        &ban_path,
        &cookie,
        &[("confirm", "ban")],
        &[("origin", "https://evil.example")],
    )
    .await?
    .status(403)?;
    ensure!(
        sent(Endpoint::BanUser) == 0,
        "a refused post reached Clerk: {} ban calls",
        sent(Endpoint::BanUser)
    );

    // Confirmed: Clerk bans, its webhook reaches the mirror, the page shows it.
    let answer = post_form(app, &ban_path, &cookie, &[("confirm", "ban")], &[]).await?;
    redirect(&answer, &format!("{user_path}?done=ban"))?;
    ensure!(sent(Endpoint::BanUser) == 1, "expected one ban call");
    wait_for_banned(app, &user_path, &cookie, true).await?;
    get_page(app, &format!("{user_path}?done=ban"), &cookie)
        .await?
        .contains(&["Clerk accepted the ban."])?;

    let unban_path = format!("{user_path}/unban");
    let answer = post_form(app, &unban_path, &cookie, &[("confirm", "unban")], &[]).await?;
    redirect(&answer, &format!("{user_path}?done=unban"))?;
    wait_for_banned(app, &user_path, &cookie, false).await?;

    // Revoke every session: the mock's session of the user ends (a second active one is
    // created after the ban, which Clerk's ban revoked).
    let second = app
        .clerk
        .create_session(&clerk_id)
        .ok_or_else(|| Failure::new("the mock did not create a session"))?;
    let revoke_path = format!("{user_path}/revoke-sessions");
    let answer = post_form(
        app,
        &revoke_path,
        &cookie,
        &[("confirm", "revoke-sessions")],
        &[],
    )
    .await?;
    redirect(&answer, &format!("{user_path}?done=revoke-sessions"))?;
    let sessions = app.clerk.sessions_of(&clerk_id);
    for id in [&session, &second] {
        let status = sessions
            .iter()
            .find(|(s, _)| s == id)
            .map(|(_, status)| status.as_str());
        ensure!(
            status.is_some_and(|s| s != "active"),
            "session {id} still {status:?} after revoke-sessions: {sessions:?}"
        );
    }
    let _ = app.clerk.webhooks_delivered().await;
    app.clerk.stop_delivering_webhooks();
    Ok(())
}
