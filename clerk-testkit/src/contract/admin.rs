//! The `/admin` contract (hybrid mode, [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)): local staff sign in with username and
//! password; a Clerk token never opens it.
//!
//! | request | answer |
//! |---------|--------|
//! | `GET /admin` with a staff session | 200 HTML with the users' emails and the organizations' names |
//! | `GET /admin` without one (a Clerk bearer token or `__session` cookie included) | 303, `Location: /admin/login` |
//! | `GET /admin/login` | 200 HTML form: `username`, `password`, `POST /admin/login` |
//! | `POST /admin/login` (form) with staff credentials | 303, `Location: /admin`, the session cookie `__Host-clerk_session` (`HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure`, no `Domain`; on a loopback `Host` too) |
//! | `POST /admin/login` otherwise (wrong password, unknown or non-staff user) | 401 HTML with the form |
//! | `POST /admin/logout` | 303, `Location: /admin/login`; the session is over |
//! | more `POST /admin/login` at once than the app checks passwords concurrently (`CLERK_STAFF_LOGIN_CONCURRENCY`) plus its queue | 503 HTML with `Retry-After`, no cookie; nothing was checked |
//! | `POST /admin/login` for a username that failed 5 times within 15 minutes (any case), even with the right password | 429 HTML with `Retry-After` (whole seconds, at most 900), no cookie; other usernames still log in |
//! | the same, to another instance of the app sharing the database | the same 429: the failures are counted in the database |
//! | `POST /admin/login` from a client address that failed 20 times within 15 minutes (any usernames) | 429 HTML with `Retry-After`, no cookie, even for staff with the right password |
//! | either `POST` from a browser on another site (`Sec-Fetch-Site` other than `same-origin`/`none`, else an `Origin` that is not the app's) | 403 HTML; nothing changes |
//!
//! Staff are written into the database before the app starts ([`seed`]), through clerk-store
//! (`Change::CreateLocalUser`) with an argon2 hash from `clerk_core::password`.

use std::sync::Arc;

use clerk_core::model::NewLocalUser;
use clerk_core::store::{Change, Store, WriteBatch};
use clerk_core::time::{Clock, SystemClock};
use clerk_store::{PostgresStore, SqliteStore};

use super::http::form_encode;
use super::{ensure, Answer, AppUnderTest, CheckResult, Failure, RunningApp};
use crate::webhooks::bodies;
use crate::MockClerk;

/// The local users [`seed`] creates: one staff member, and one user who is not staff (with
/// the same password) to show that a password alone is not enough.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The staff member's username.
    pub username: String,
    /// The password of both users.
    pub password: String,
    /// The username of the local user who is not staff.
    pub not_staff: String,
}

impl Staff {
    /// Fresh names, so suites can share a database.
    #[must_use]
    pub fn random() -> Self {
        let tag = crate::webhooks::random_msg_id()
            .trim_start_matches("msg_")
            .to_ascii_lowercase();
        Staff {
            username: format!("staff_{tag}"),
            // Characters that need form encoding, to catch an app that does not decode.
            password: "correct horse & battery=staple%".to_owned(),
            not_staff: format!("plain_{tag}"),
        }
    }
}

/// Creates `staff` (and its non-staff companion) in the database at `database_url`
/// (`postgres://…`: PostgreSQL; else SQLite), migrating it first.
///
/// # Errors
/// The database could not be opened, migrated or written, or hashing failed.
pub async fn seed(database_url: &str, staff: &Staff) -> CheckResult {
    let fail = |what: &str, e: &dyn std::fmt::Display| Failure::new(format!("seed: {what}: {e}"));
    let store: Arc<dyn Store> =
        if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            let store = PostgresStore::connect(database_url)
                .await
                .map_err(|e| fail("connect", &e))?;
            store.migrate().await.map_err(|e| fail("migrate", &e))?;
            Arc::new(store)
        } else {
            let store = SqliteStore::connect(database_url)
                .await
                .map_err(|e| fail("connect", &e))?;
            store.migrate().await.map_err(|e| fail("migrate", &e))?;
            Arc::new(store)
        };
    let salt: [u8; 16] = rand::random();
    let hash = clerk_core::password::hash_password(&staff.password, &salt)
        .map_err(|e| fail("hash", &e))?;
    for (username, is_staff) in [(&staff.username, true), (&staff.not_staff, false)] {
        let mut user = NewLocalUser::new(username.clone());
        user.email = Some(format!("{username}@staff.example.test"));
        user.password_hash = Some(hash.clone());
        user.is_staff = is_staff;
        let batch = WriteBatch::single(SystemClock.now(), Change::CreateLocalUser(user));
        let _ = store
            .apply(batch)
            .await
            .map_err(|e| fail("create local user", &e))?;
        let stored = store
            .local_user_by_username(username)
            .await
            .map_err(|e| fail("read back", &e))?;
        ensure!(
            stored.is_some_and(|u| u.is_staff == is_staff && u.password_hash.is_some()),
            "seed: local user {username} was not stored as asked"
        );
    }
    Ok(())
}

/// 303 to `location`.
pub(super) fn redirect(answer: &Answer, location: &str) -> CheckResult {
    answer.status(303)?.header_is("location", location)?;
    Ok(())
}

/// A 200 or 401 login page: HTML with the form.
fn login_page(answer: &Answer, status: u16) -> CheckResult {
    answer
        .status(status)?
        .content_type("text/html")?
        .contains(&["name=\"username\"", "name=\"password\"", "/admin/login"])?;
    let lower = answer.text.to_ascii_lowercase();
    ensure!(
        lower.contains("<form") && lower.contains("method=\"post\""),
        "{}: expected a <form method=\"post\">, got {}",
        answer.request,
        answer.text
    );
    Ok(())
}

/// `name=value` of every `Set-Cookie`, as one `Cookie` header value.
pub(super) fn cookie_header(answer: &Answer) -> String {
    answer
        .set_cookies()
        .iter()
        .filter_map(|c| c.split(';').next())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

async fn get_admin(app: &RunningApp, cookie: &str, what: &str) -> Result<Answer, Failure> {
    let mut request = app.request(reqwest::Method::GET, "/admin");
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    app.send(format!("GET /admin ({what})"), request).await
}

pub(super) async fn login(
    app: &RunningApp,
    username: &str,
    password: &str,
) -> Result<Answer, Failure> {
    login_from(app, username, password, &[]).await
}

/// The login post with extra headers (a browser's `Origin`, `Sec-Fetch-Site`).
async fn login_from(
    app: &RunningApp,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, Failure> {
    let mut request = app
        .request(reqwest::Method::POST, "/admin/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(&[
            ("username", username),
            ("password", password),
        ]));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let what = match headers {
        [] => format!("POST /admin/login ({username})"),
        _ => format!("POST /admin/login ({username}, {headers:?})"),
    };
    app.send(what, request).await
}

/// `GET /admin` without a staff session → 303 to the login page: no credentials, a valid
/// Clerk bearer token, a valid Clerk `__session` cookie.
///
/// # Errors
/// The first expectation that failed.
pub async fn requires_login(app: &RunningApp) -> CheckResult {
    redirect(&get_admin(app, "", "no session").await?, "/admin/login")?;
    app.deliver(&RunningApp::full_user(
        "user_clerk_admin",
        "clerk.admin@example.com",
        "Clerk",
        "Admin",
    ))
    .await?;
    let token = app.org_token("user_clerk_admin", "admin", vec!["read"]);
    let bearer = app
        .request(reqwest::Method::GET, "/admin")
        .bearer_auth(&token);
    redirect(
        &app.send("GET /admin (Clerk bearer token)", bearer).await?,
        "/admin/login",
    )?;
    redirect(
        &get_admin(app, &format!("__session={token}"), "Clerk __session cookie").await?,
        "/admin/login",
    )
}

/// `GET /admin/login` → 200 HTML with the login form.
///
/// # Errors
/// The first expectation that failed.
pub async fn login_form(app: &RunningApp) -> CheckResult {
    let answer = app.get("/admin/login", None, "login form").await?;
    login_page(&answer, 200)
}

/// Refused logins → 401 with the form, and whatever cookie they set does not open `/admin`.
///
/// # Errors
/// The first expectation that failed.
pub async fn bad_credentials(app: &RunningApp, staff: &Staff) -> CheckResult {
    for (username, password) in [
        (staff.username.as_str(), "wrong password"),
        (staff.username.as_str(), ""),
        ("nobody_here", staff.password.as_str()),
        (staff.not_staff.as_str(), staff.password.as_str()),
    ] {
        let answer = login(app, username, password).await?;
        login_page(&answer, 401)?;
        redirect(
            &get_admin(app, &cookie_header(&answer), "after a refused login").await?,
            "/admin/login",
        )?;
    }
    Ok(())
}

/// The whole session: staff log in (303 to `/admin`, an `HttpOnly`, `SameSite=Lax` cookie),
/// see a user and an organization that webhooks created, log out (303 to the login page), and
/// the old cookie no longer opens `/admin`.
///
/// # Errors
/// The first expectation that failed.
pub async fn session(app: &RunningApp, staff: &Staff) -> CheckResult {
    app.deliver(&RunningApp::full_user(
        "user_seen",
        "seen.by.staff@example.com",
        "Seen",
        "ByStaff",
    ))
    .await?;
    app.deliver(&bodies::organization_created(
        "org_seen",
        "Contract Org Ltd",
        "contract-org",
    ))
    .await?;

    let answer = login(app, &staff.username, &staff.password).await?;
    redirect(&answer, "/admin")?;
    answer.session_cookie_is_hardened()?;
    let cookie = cookie_header(&answer);

    get_admin(app, &cookie, "staff session")
        .await?
        .status(200)?
        .content_type("text/html")?
        .contains(&["seen.by.staff@example.com", "Contract Org Ltd"])?
        .lacks(&["$argon2"])?;

    let logout = app
        .request(reqwest::Method::POST, "/admin/logout")
        .header("cookie", &cookie);
    redirect(
        &app.send("POST /admin/logout", logout).await?,
        "/admin/login",
    )?;
    redirect(
        &get_admin(app, &cookie, "the cookie of an ended session").await?,
        "/admin/login",
    )
}

/// A browser posting the forms from another site is refused with 403 and changes nothing (no
/// login from a forged form, no forced logout); the same posts from the app's own origin, or
/// from a client that sends no browser headers, work.
///
/// # Errors
/// The first expectation that failed.
pub async fn cross_site_posts(app: &RunningApp, staff: &Staff) -> CheckResult {
    let own_origin = format!("http://{}", app.process.addr());
    let forged: [&[(&str, &str)]; 3] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", own_origin.as_str()),
        ],
    ];
    for headers in forged {
        let answer = login_from(app, &staff.username, &staff.password, headers).await?;
        answer.status(403)?.content_type("text/html")?;
        redirect(
            &get_admin(app, &cookie_header(&answer), "after a cross-site login").await?,
            "/admin/login",
        )?;
    }

    let same_origin = [
        ("origin", own_origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let answer = login_from(app, &staff.username, &staff.password, &same_origin).await?;
    redirect(&answer, "/admin")?;
    let cookie = cookie_header(&answer);

    let forced = app
        .request(reqwest::Method::POST, "/admin/logout")
        .header("cookie", &cookie)
        .header("origin", "https://evil.example");
    app.send("POST /admin/logout (from another site)", forced)
        .await?
        .status(403)?;
    get_admin(app, &cookie, "after a refused cross-site logout")
        .await?
        .status(200)?;
    let logout = app
        .request(reqwest::Method::POST, "/admin/logout")
        .header("cookie", &cookie)
        .header("origin", &own_origin);
    redirect(
        &app.send("POST /admin/logout (same origin)", logout).await?,
        "/admin/login",
    )
}

/// Every `/admin` answer — the redirect, the login form, a refused login, a refused cross-site
/// post, the staff page — forbids framing and caching and sets a restrictive content policy:
/// `X-Frame-Options: DENY`, a `Content-Security-Policy` with `frame-ancestors 'none'`,
/// `Referrer-Policy: same-origin`, `Cache-Control: no-store`.
///
/// # Errors
/// The first answer that lacks one.
pub async fn security_headers(app: &RunningApp, staff: &Staff) -> CheckResult {
    let mut answers = vec![
        get_admin(app, "", "no session").await?,
        app.get("/admin/login", None, "login form").await?,
        login(app, &staff.username, "wrong password").await?,
        login_from(
            app,
            &staff.username,
            &staff.password,
            &[("origin", "https://evil.example")],
        )
        .await?,
    ];
    let staff_login = login(app, &staff.username, &staff.password).await?;
    let cookie = cookie_header(&staff_login);
    answers.push(staff_login);
    answers.push(get_admin(app, &cookie, "staff session").await?);
    for answer in &answers {
        answer
            .header_is("x-frame-options", "DENY")?
            .header_is("referrer-policy", "same-origin")?
            .header_is("cache-control", "no-store")?;
        let policy = answer.header("content-security-policy").unwrap_or("");
        ensure!(
            policy.contains("frame-ancestors 'none'"),
            "{}: Content-Security-Policy without frame-ancestors 'none': {policy:?}",
            answer.request
        );
    }
    Ok(())
}

/// The staff-login concurrency the admin suite starts the app with
/// (`CLERK_STAFF_LOGIN_CONCURRENCY`): one check at a time, two waiting.
pub const FLOOD_CONCURRENCY: usize = 1;

/// How many logins [`login_flood`] posts at once.
pub const FLOOD_LOGINS: usize = 300;

/// Ceiling on the app's peak resident memory after [`login_flood`]: each argon2 check holds
/// ~19 MiB, so the flood run unbounded would need ~5.6 GiB; gated at [`FLOOD_CONCURRENCY`]
/// plus its queue it stays near the app's own footprint.
const FLOOD_PEAK_RSS_KIB: u64 = 300 * 1024;

/// [`FLOOD_LOGINS`] correct staff logins at once, against an app started with
/// `CLERK_STAFF_LOGIN_CONCURRENCY` = [`FLOOD_CONCURRENCY`]: each answer is a 303 into a
/// session or a 503 with `Retry-After` and no session cookie; some are each; the app's peak
/// memory stays under ~300 MiB (Linux); and once the flood is over a login succeeds again.
///
/// # Errors
/// The first expectation that failed.
pub async fn login_flood(app: &RunningApp, staff: &Staff) -> CheckResult {
    let answers = futures_util::future::join_all(
        (0..FLOOD_LOGINS).map(|_| login(app, &staff.username, &staff.password)),
    )
    .await;
    let (mut admitted, mut refused) = (0, 0);
    for answer in answers {
        let answer = answer?;
        match answer.status {
            303 => {
                redirect(&answer, "/admin")?;
                admitted += 1;
            }
            503 => {
                let retry_after = answer.header("retry-after").unwrap_or("");
                ensure!(
                    retry_after.parse::<u64>().is_ok_and(|s| s >= 1),
                    "{}: 503 without a Retry-After of whole seconds: {retry_after:?}",
                    answer.request
                );
                ensure!(
                    answer.set_cookies().is_empty(),
                    "{}: a refused login set a cookie: {:?}",
                    answer.request,
                    answer.set_cookies()
                );
                refused += 1;
            }
            status => {
                return Err(Failure::new(format!(
                    "{}: expected 303 or 503, got {status}: {}",
                    answer.request, answer.text
                )))
            }
        }
    }
    ensure!(
        admitted >= 1 && refused >= 1,
        "{FLOOD_LOGINS} logins at once with CLERK_STAFF_LOGIN_CONCURRENCY={FLOOD_CONCURRENCY}: \
         {admitted} admitted, {refused} refused (503); expected some of each"
    );
    if let Some(peak) = app.process.peak_rss_kib() {
        ensure!(
            peak < FLOOD_PEAK_RSS_KIB,
            "peak resident memory after {FLOOD_LOGINS} logins at once: {} MiB (ceiling {} MiB): \
             password checks are not bounded",
            peak / 1024,
            FLOOD_PEAK_RSS_KIB / 1024
        );
    }
    redirect(
        &login(app, &staff.username, &staff.password).await?,
        "/admin",
    )
}

/// Failed logins for one username within 15 minutes that lock it ([design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)).
pub const USERNAME_FAILURES: usize = 5;

/// Failed logins from one client address within 15 minutes that lock it.
pub const ADDRESS_FAILURES: usize = 20;

/// A throttled login: 429 HTML with a `Retry-After` of whole seconds in `1..=900`, the
/// `/admin` security headers, and no cookie.
fn throttled(answer: &Answer) -> CheckResult {
    answer
        .status(429)?
        .content_type("text/html")?
        .header_is("cache-control", "no-store")?
        .header_is("x-frame-options", "DENY")?;
    let retry_after = answer.header("retry-after").unwrap_or("");
    ensure!(
        retry_after
            .parse::<u64>()
            .is_ok_and(|s| (1..=900).contains(&s)),
        "{}: 429 without a Retry-After of 1 to 900 whole seconds: {retry_after:?}",
        answer.request
    );
    ensure!(
        answer.set_cookies().is_empty(),
        "{}: a throttled login set a cookie: {:?}",
        answer.request,
        answer.set_cookies()
    );
    Ok(())
}

/// [`USERNAME_FAILURES`] wrong passwords for `locked` (a staff member of its own, seeded
/// for this check) lock that username: the next attempt **with the right password** is a
/// 429 with `Retry-After` and no cookie, so is one with the name in upper case; `staff`
/// (another username, same client) still logs in.
///
/// # Errors
/// The first expectation that failed.
pub async fn login_throttle(app: &RunningApp, staff: &Staff, locked: &Staff) -> CheckResult {
    for _ in 0..USERNAME_FAILURES {
        login_page(&login(app, &locked.username, "wrong password").await?, 401)?;
    }
    let answer = login(app, &locked.username, &locked.password).await?;
    throttled(&answer)?;
    throttled(&login(app, &locked.username.to_uppercase(), &locked.password).await?)?;
    redirect(
        &login(app, &staff.username, &staff.password).await?,
        "/admin",
    )
}

/// After [`login_throttle`], a second instance of the app on the same database refuses the
/// locked username too (429 with the right password): the failures are counted in the
/// database, not in one process.
///
/// # Errors
/// The second instance did not start, or the first expectation that failed.
pub async fn throttle_is_shared(app: &AppUnderTest, locked: &Staff) -> CheckResult {
    let second = RunningApp::start(app, MockClerk::start().await).await?;
    throttled(&login(&second, &locked.username, &locked.password).await?)
}

/// Failed logins for many usernames from one client lock the client's address once they
/// reach [`ADDRESS_FAILURES`] within 15 minutes (counting the suite's earlier failures, so it
/// runs last): a 401 for each fresh unknown username until a 429, which comes within
/// [`ADDRESS_FAILURES`] + 1 attempts; then `staff`, whose username is not locked, gets a 429
/// too, with the right password.
///
/// # Errors
/// The first expectation that failed.
pub async fn address_throttle(app: &RunningApp, staff: &Staff) -> CheckResult {
    let tag = Staff::random().username;
    let mut locked_after = None;
    for attempt in 0..=ADDRESS_FAILURES {
        let answer = login(app, &format!("nobody_{tag}_{attempt}"), "wrong password").await?;
        if answer.status == 429 {
            throttled(&answer)?;
            locked_after = Some(attempt);
            break;
        }
        login_page(&answer, 401)?;
    }
    ensure!(
        locked_after.is_some(),
        "{} failed logins for different usernames from one client: none answered 429",
        ADDRESS_FAILURES + 1
    );
    throttled(&login(app, &staff.username, &staff.password).await?)
}

/// A webhook held for an email conflict shows on `/admin` (a count, pointing at
/// `clerk webhooks failed`).
///
/// # Errors
/// The first expectation that failed.
pub async fn shows_held_webhooks(app: &RunningApp, staff: &Staff) -> CheckResult {
    super::checks::webhook_conflicts(app).await?;
    let answer = login(app, &staff.username, &staff.password).await?;
    redirect(&answer, "/admin")?;
    let page = get_admin(app, &cookie_header(&answer), "staff session").await?;
    page.status(200)?
        .contains(&["webhook deliveries held", "clerk webhooks failed"])?;
    Ok(())
}
