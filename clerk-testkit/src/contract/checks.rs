//! The API checks of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) (everything but `/admin`, see [`super::admin`]). Each is a
//! `pub async fn` over a [`RunningApp`] (or, for [`unavailable`], an [`AppUnderTest`] it starts
//! itself), usable alone; [`super::run_contract_suite`] runs them all.
//!
//! Bodies are compared whole: the Axum and Rocket apps must answer byte-for-byte the same JSON
//! values, not merely the same status.

use clerk_core::backend_api::Endpoint;
use clerk_core::model::ClerkUserData;
use clerk_core::time::UnixTime;
use clerk_webhooks::MAX_BODY_BYTES;
use serde_json::json;

use super::{ensure, Answer, AppUnderTest, CheckResult, Failure, RunningApp, ORG_ID, ORG_SLUG};
use crate::mint::DEFAULT_AUTHORIZED_PARTY;
use crate::webhooks::{bodies, Signature};
use crate::{Fault, MockClerk, TestKeyPair};

/// `WWW-Authenticate` when no token was presented.
pub const CHALLENGE_MISSING: &str = "Bearer";
/// `WWW-Authenticate` when a presented token was rejected.
pub const CHALLENGE_INVALID: &str = r#"Bearer error="invalid_token""#;

/// 401 `{"error":"unauthenticated","reason":reason}` with `challenge`.
///
/// # Errors
/// A [`Failure`] quoting the answer.
pub fn unauthenticated(answer: &Answer, reason: &str, challenge: &str) -> CheckResult {
    answer
        .status(401)?
        .header_is("www-authenticate", challenge)?
        .content_type("application/json")?
        .json_is(&json!({ "error": "unauthenticated", "reason": reason }))?;
    Ok(())
}

/// `GET /healthz` → 200 `{"status":"ok"}`.
///
/// # Errors
/// The first expectation that failed.
pub async fn healthz(app: &RunningApp) -> CheckResult {
    app.get("/healthz", None, "no token")
        .await?
        .status(200)?
        .json_is(&json!({ "status": "ok" }))?;
    Ok(())
}

/// `GET /api/public` → 200 with `signed_in`/`user_id`, signed in with a good token, signed out
/// without one and with a forged one (a bad token is not an error here).
///
/// # Errors
/// The first expectation that failed.
pub async fn public(app: &RunningApp) -> CheckResult {
    let signed_out = json!({ "signed_in": false, "user_id": null });
    app.get("/api/public", None, "no token")
        .await?
        .status(200)?
        .json_is(&signed_out)?;
    app.get("/api/public", Some(&app.token("user_pub")), "good token")
        .await?
        .status(200)?
        .json_is(&json!({ "signed_in": true, "user_id": "user_pub" }))?;
    let forged = forged(app, "user_pub");
    app.get("/api/public", Some(&forged), "forged token")
        .await?
        .status(200)?
        .json_is(&signed_out)?;
    Ok(())
}

/// A token for `sub` with the mock key's `kid` but signed by another key.
fn forged(app: &RunningApp, sub: &str) -> String {
    app.clerk
        .token_v2()
        .subject(sub)
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign_with(&TestKeyPair::fixed(2))
}

/// `GET /api/me` refusals: missing token, garbage, a malformed `Authorization` header, expired,
/// wrong key, unknown `kid`, wrong `azp`, and a good token for a user Clerk does not know.
///
/// # Errors
/// The first expectation that failed.
pub async fn me_unauthenticated(app: &RunningApp) -> CheckResult {
    let me = "/api/me";
    unauthenticated(
        &app.get(me, None, "no token").await?,
        "session-token-missing",
        CHALLENGE_MISSING,
    )?;
    unauthenticated(
        &app.get(me, Some("not-a-jwt"), "garbage token").await?,
        "token-invalid",
        CHALLENGE_INVALID,
    )?;
    let basic = app
        .request(reqwest::Method::GET, me)
        .header("authorization", "Basic dXNlcjpwYXNz");
    unauthenticated(
        &app.send("GET /api/me (Basic credentials)", basic).await?,
        "token-invalid",
        CHALLENGE_INVALID,
    )?;
    let expired = app
        .clerk
        .token_v2()
        .subject("user_expired")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .issued_at(UnixTime::from_secs(1_600_000_000))
        .sign();
    unauthenticated(
        &app.get(me, Some(&expired), "expired token").await?,
        "token-expired",
        CHALLENGE_INVALID,
    )?;
    unauthenticated(
        &app.get(me, Some(&forged(app, "user_forged")), "wrong key")
            .await?,
        "token-invalid-signature",
        CHALLENGE_INVALID,
    )?;
    let unknown_kid = app
        .clerk
        .token_v2()
        .subject("user_kid")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .kid("ins_contract_unknown")
        .sign();
    unauthenticated(
        &app.get(me, Some(&unknown_kid), "unknown kid").await?,
        "jwk-kid-mismatch",
        CHALLENGE_INVALID,
    )?;
    let wrong_azp = app
        .clerk
        .token_v2()
        .subject("user_azp")
        .authorized_party("https://evil.example")
        .sign();
    unauthenticated(
        &app.get(me, Some(&wrong_azp), "wrong azp").await?,
        "token-invalid-authorized-parties",
        CHALLENGE_INVALID,
    )?;
    unauthenticated(
        &app.get(me, Some(&app.token("user_nobody")), "unknown user")
            .await?,
        "user-not-found",
        CHALLENGE_INVALID,
    )?;
    Ok(())
}

fn get_user_requests(clerk: &MockClerk) -> usize {
    clerk.backend_request_count(Endpoint::GetUser)
}

/// A `user.created` webhook, then `GET /api/me` → 200 with every field of that user, from the
/// store (no Backend API call).
///
/// # Errors
/// The first expectation that failed.
pub async fn me_from_webhook(app: &RunningApp) -> CheckResult {
    app.deliver(&RunningApp::full_user(
        "user_ada",
        "ada@example.com",
        "Ada",
        "Lovelace",
    ))
    .await?;
    let before = get_user_requests(&app.clerk);
    app.get("/api/me", Some(&app.token("user_ada")), "webhook user")
        .await?
        .status(200)?
        .content_type("application/json")?
        .json_is(&json!({
            "clerk_id": "user_ada",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "full_name": "Ada Lovelace",
            "username": "ada",
            "image_url": "https://img.example.test/user_ada.png",
            "session_id": "sess_user_ada",
            "org_id": null,
            "org_slug": null,
            "org_role": null,
            "org_permissions": [],
        }))?;
    let after = get_user_requests(&app.clerk);
    ensure!(
        after == before,
        "GET /api/me for a stored user called GET /v1/users/{{id}} {} time(s)",
        after - before
    );
    Ok(())
}

/// A user only Clerk knows: `GET /api/me` fetches it (`GET /v1/users/{id}` once), answers 200,
/// and keeps it: with the Backend API emptied afterwards, it is still served.
///
/// # Errors
/// The first expectation that failed.
pub async fn me_just_in_time(app: &RunningApp) -> CheckResult {
    let at = UnixTime::from_secs(1_700_000_000);
    let mut user = ClerkUserData::new("user_jit", at, at).with_email("grace@example.com", true);
    user.first_name = Some("Grace".into());
    user.last_name = Some("Hopper".into());
    user.username = Some("grace".into());
    user.image_url = Some("https://img.example.test/grace.png".into());
    app.clerk.seed_users(vec![user]);
    let token = app.org_token("user_jit", "admin", vec!["read"]);
    let expected = json!({
        "clerk_id": "user_jit",
        "email": "grace@example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "full_name": "Grace Hopper",
        "username": "grace",
        "image_url": "https://img.example.test/grace.png",
        "session_id": "sess_user_jit",
        "org_id": ORG_ID,
        "org_slug": ORG_SLUG,
        "org_role": "org:admin",
        "org_permissions": ["org:reports:read"],
    });
    let before = get_user_requests(&app.clerk);
    app.get("/api/me", Some(&token), "user only in Clerk")
        .await?
        .status(200)?
        .json_is(&expected)?;
    let fetched = get_user_requests(&app.clerk) - before;
    ensure!(
        fetched == 1,
        "GET /api/me for a user only in Clerk: expected one GET /v1/users/{{id}}, saw {fetched}"
    );
    app.clerk.clear_backend_data();
    app.get("/api/me", Some(&token), "just-in-time user, Clerk emptied")
        .await?
        .status(200)?
        .json_is(&expected)?;
    Ok(())
}

/// `GET /api/org`: 200 with the organization for admin and member, 403 without one, 401 signed
/// out.
///
/// # Errors
/// The first expectation that failed.
pub async fn org(app: &RunningApp) -> CheckResult {
    let path = "/api/org";
    app.get(
        path,
        Some(&app.org_token("user_o1", "admin", vec!["read"])),
        "org:admin",
    )
    .await?
    .status(200)?
    .json_is(&json!({
        "org_id": ORG_ID,
        "org_slug": ORG_SLUG,
        "org_role": "org:admin",
        "org_permissions": ["org:reports:read"],
    }))?;
    app.get(
        path,
        Some(&app.org_token("user_o2", "member", vec![])),
        "org:member",
    )
    .await?
    .status(200)?
    .json_is(&json!({
        "org_id": ORG_ID,
        "org_slug": ORG_SLUG,
        "org_role": "org:member",
        "org_permissions": [],
    }))?;
    app.get(path, Some(&app.token("user_o3")), "no organization")
        .await?
        .status(403)?
        .json_is(&json!({ "error": "no_active_organization" }))?;
    unauthenticated(
        &app.get(path, None, "no token").await?,
        "session-token-missing",
        CHALLENGE_MISSING,
    )
}

/// `GET /api/org/admin`: 200 for `org:admin`; 403 for `org:member` and without an
/// organization; 401 signed out.
///
/// # Errors
/// The first expectation that failed.
pub async fn org_admin(app: &RunningApp) -> CheckResult {
    let path = "/api/org/admin";
    app.get(
        path,
        Some(&app.org_token("user_a1", "admin", vec![])),
        "org:admin",
    )
    .await?
    .status(200)?
    .json_is(&json!({ "ok": true, "org_id": ORG_ID, "required_role": "org:admin" }))?;
    let forbidden =
        json!({ "error": "forbidden", "reason": "missing_role", "required": "org:admin" });
    app.get(
        path,
        Some(&app.org_token("user_a2", "member", vec!["read"])),
        "org:member",
    )
    .await?
    .status(403)?
    .json_is(&forbidden)?;
    app.get(path, Some(&app.token("user_a3")), "no organization")
        .await?
        .status(403)?
        .json_is(&forbidden)?;
    unauthenticated(
        &app.get(path, None, "no token").await?,
        "session-token-missing",
        CHALLENGE_MISSING,
    )
}

/// `GET /api/org/reports`: 200 with `org:reports:read` (whatever the role), 403 without it or
/// without an organization, 401 signed out.
///
/// # Errors
/// The first expectation that failed.
pub async fn org_reports(app: &RunningApp) -> CheckResult {
    let path = "/api/org/reports";
    let granted = json!({
        "ok": true,
        "org_id": ORG_ID,
        "required_permission": "org:reports:read",
        "reports": [],
    });
    for (sub, role) in [("user_r1", "admin"), ("user_r2", "member")] {
        app.get(
            path,
            Some(&app.org_token(sub, role, vec!["read"])),
            &format!("org:{role} with org:reports:read"),
        )
        .await?
        .status(200)?
        .json_is(&granted)?;
    }
    let forbidden = json!({
        "error": "forbidden",
        "reason": "missing_permission",
        "required": "org:reports:read",
    });
    app.get(
        path,
        Some(&app.org_token("user_r3", "admin", vec![])),
        "org:admin without the permission",
    )
    .await?
    .status(403)?
    .json_is(&forbidden)?;
    app.get(path, Some(&app.token("user_r4")), "no organization")
        .await?
        .status(403)?
        .json_is(&forbidden)?;
    unauthenticated(
        &app.get(path, None, "no token").await?,
        "session-token-missing",
        CHALLENGE_MISSING,
    )
}

async fn post(delivery: crate::webhooks::Delivery<'_>, what: &str) -> Result<Answer, Failure> {
    let label = format!("POST /webhooks/clerk ({what})");
    match delivery.send().await {
        Ok(sent) => {
            let mut headers = reqwest::header::HeaderMap::new();
            for (name, value) in &sent.headers {
                headers.append(name, value.clone());
            }
            Ok(Answer {
                request: label,
                status: sent.status.as_u16(),
                headers,
                text: sent.text(),
            })
        }
        Err(e) => Err(Failure::new(format!("{label}: no answer: {e}"))),
    }
}

/// A user whose email another user still holds: 200 `{"ok":true,"outcome":"conflict",
/// "reason":"email_conflict"}` (held for an operator, not retried for days by Svix); the same
/// delivery again is already processed.
///
/// # Errors
/// The first expectation that failed.
pub async fn webhook_conflicts(app: &RunningApp) -> CheckResult {
    let tag = crate::webhooks::random_msg_id().to_ascii_lowercase();
    let email = format!("taken.{}@example.com", tag.trim_start_matches("msg_"));
    app.deliver(&RunningApp::full_user(
        &format!("user_holder_{tag}"),
        &email,
        "Holds",
        "Address",
    ))
    .await?;
    let sender = app.sender();
    let second = RunningApp::full_user(&format!("user_second_{tag}"), &email, "Wants", "It");
    let delivery = sender.delivery(bodies::to_bytes(&second));
    let held = json!({ "ok": true, "outcome": "conflict", "reason": "email_conflict" });
    post(delivery.clone(), "user.created with a held email")
        .await?
        .status(200)?
        .json_is(&held)?;
    post(delivery, "the same held delivery again")
        .await?
        .status(200)?
        .json_is(&json!({ "ok": true, "outcome": "already_processed" }))?;
    Ok(())
}

/// `POST /webhooks/clerk` ([design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks)): applied → 200; the same svix id again → 200, applied
/// once; an ignored type → 200; a bad signature → 400 and nothing stored, so the genuine
/// delivery of that same svix id still applies; a verified but unparseable body → 400.
///
/// # Errors
/// The first expectation that failed.
pub async fn webhooks(app: &RunningApp) -> CheckResult {
    let sender = app.sender();
    let event = RunningApp::full_user("user_hook", "hook@example.com", "Hook", "Hooked");
    let delivery = sender.delivery(bodies::to_bytes(&event));
    post(delivery.clone(), "user.created")
        .await?
        .status(200)?
        .json_is(&json!({ "ok": true, "outcome": "applied" }))?;
    post(delivery, "the same svix id again")
        .await?
        .status(200)?
        .json_is(&json!({ "ok": true, "outcome": "already_processed" }))?;
    post(
        sender.delivery(bodies::to_bytes(&bodies::email_created(
            "ema_contract",
            "hook@example.com",
        ))),
        "email.created (no store effect)",
    )
    .await?
    .status(200)?
    .json_is(&json!({ "ok": true, "outcome": "ignored" }))?;

    let late = RunningApp::full_user("user_late", "late@example.com", "Late", "Comer");
    let genuine = sender.delivery(bodies::to_bytes(&late));
    let invalid = json!({ "error": "invalid_webhook", "reason": "verification_failed" });
    for (signature, what) in [
        (Signature::Tampered, "tampered signature"),
        (Signature::WrongSecret, "another secret"),
    ] {
        post(genuine.clone().signature(signature), what)
            .await?
            .status(400)?
            .json_is(&invalid)?;
    }
    post(genuine.clone().tamper_body(), "body changed after signing")
        .await?
        .status(400)?
        .json_is(&invalid)?;
    unauthenticated(
        &app.get(
            "/api/me",
            Some(&app.token("user_late")),
            "after refused webhooks",
        )
        .await?,
        "user-not-found",
        CHALLENGE_INVALID,
    )?;
    post(genuine, "the genuine delivery of the refused svix id")
        .await?
        .status(200)?
        .json_is(&json!({ "ok": true, "outcome": "applied" }))?;
    app.get(
        "/api/me",
        Some(&app.token("user_late")),
        "after the genuine webhook",
    )
    .await?
    .status(200)?;

    post(
        sender.delivery(b"[1,2,3]".to_vec()),
        "verified, not an event",
    )
    .await?
    .status(400)?
    .json_is(&json!({ "error": "invalid_webhook", "reason": "unparseable_body" }))?;
    Ok(())
}

/// `GET /webhooks/clerk` → 405 with `Allow: POST`; a signed body over 1 MiB → 413 and nothing
/// stored.
///
/// # Errors
/// The first expectation that failed.
pub async fn webhook_limits(app: &RunningApp) -> CheckResult {
    app.get("/webhooks/clerk", None, "GET on the webhook route")
        .await?
        .status(405)?
        .header_is("allow", "POST")?;
    // A valid event padded with spaces past the limit: only the size is wrong with it.
    let event = RunningApp::full_user("user_big", "big@example.com", "Big", "Body");
    let mut body = bodies::to_bytes(&event);
    body.resize(MAX_BODY_BYTES + 1, b' ');
    post(app.sender().delivery(body), "1 MiB + 1 byte")
        .await?
        .status(413)?;
    unauthenticated(
        &app.get("/api/me", Some(&app.token("user_big")), "after the 413")
            .await?,
        "user-not-found",
        CHALLENGE_INVALID,
    )
}

/// With Clerk down from the start (no key ever loaded): `GET /api/me` and `GET /api/public`
/// → 503 `{"error":"service_unavailable","reason":"jwk-failed-to-load"}`, no challenge. Runs
/// its own app process against its own mock Clerk.
///
/// # Errors
/// The first expectation that failed.
pub async fn unavailable(app: &AppUnderTest) -> CheckResult {
    let clerk = MockClerk::start().await;
    clerk.set_fault(Fault::Status(503));
    let running = RunningApp::start(app, clerk).await?;
    let token = running.token("user_down");
    let expected = json!({ "error": "service_unavailable", "reason": "jwk-failed-to-load" });
    for path in ["/api/me", "/api/public"] {
        running
            .get(path, Some(&token), "Clerk down, no keys held")
            .await?
            .status(503)?
            .header_absent("www-authenticate")?
            .json_is(&expected)?;
    }
    ensure!(
        running.clerk.jwks_requests() > 0,
        "the app answered 503 without asking the mock Clerk for keys"
    );
    Ok(())
}

/// SIGTERM while a request is in flight (its just-in-time fetch from a slow Clerk takes a
/// second): the request still gets its 200 and the process exits with status 0 within a few
/// seconds. Ends the app, so it runs last.
///
/// # Errors
/// The first expectation that failed.
pub async fn graceful_shutdown(app: &mut RunningApp) -> CheckResult {
    let at = UnixTime::from_secs(1_700_000_000);
    let user =
        ClerkUserData::new("user_in_flight", at, at).with_email("inflight@example.com", true);
    app.clerk.seed_users(vec![user]);
    let token = app.org_token("user_in_flight", "admin", vec!["read"]);
    // The JWKS is cached by the earlier checks, so the next Backend API request is the
    // just-in-time fetch of this user.
    app.clerk
        .fail_next(1, Fault::Delay(std::time::Duration::from_millis(1_000)));
    let request = app
        .request(reqwest::Method::GET, "/api/me")
        .bearer_auth(&token)
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = app
        .process
        .terminate(std::time::Duration::from_secs(10))
        .await?;
    let answer = in_flight
        .await
        .map_err(|e| Failure::new(format!("the in-flight request's task failed: {e}")))?
        .map_err(|e| Failure::new(format!("GET /api/me in flight during SIGTERM: {e}")))?;
    ensure!(
        answer.status() == 200,
        "GET /api/me in flight during SIGTERM: status {}, expected 200",
        answer.status()
    );
    ensure!(
        status.success(),
        "exit status after SIGTERM: {status}, expected 0"
    );
    Ok(())
}

/// Organization permissions from v2 claims as Clerk expands them, on tokens with asymmetric
/// masks our own minter did not choose: Clerk's documentation example (`fea=o:dashboard,o:teams`,
/// `per=manage,read`, `fpm=3,2`) gives exactly `org:dashboard:manage`, `org:dashboard:read`,
/// `org:teams:read` on `/api/org` and `/api/me`; `/api/org/reports` opens for `fpm` bit 1
/// (`read`, counted from the least significant bit) and stays shut for bit 0 (`manage`).
///
/// # Errors
/// The first expectation that failed.
pub async fn org_permissions_as_clerk_expands_them(app: &RunningApp) -> CheckResult {
    let token = |sub: &str, fea: &str, fpm: &str| {
        app.clerk
            .token_v2()
            .subject(sub)
            .session_id(&format!("sess_{sub}"))
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .claim(
                "o",
                json!({ "id": ORG_ID, "slg": ORG_SLUG, "rol": "member", "per": "manage,read", "fpm": fpm }),
            )
            .features(fea)
            .sign()
    };
    let docs = token("user_docs_example", "o:dashboard,o:teams", "3,2");
    let answer = app
        .get("/api/org", Some(&docs), "Clerk's docs example (fpm=3,2)")
        .await?;
    answer.status(200)?;
    let mut granted: Vec<String> = answer
        .json()
        .and_then(|body| serde_json::from_value(body["org_permissions"].clone()).ok())
        .unwrap_or_default();
    granted.sort();
    ensure!(
        granted
            == [
                "org:dashboard:manage",
                "org:dashboard:read",
                "org:teams:read"
            ],
        "GET /api/org (Clerk's docs example): org_permissions {granted:?}, Clerk grants \
         org:dashboard:manage, org:dashboard:read, org:teams:read"
    );

    let read = token("user_reports_read", "o:reports", "2");
    app.get("/api/org/reports", Some(&read), "fpm=2 (bit 1: read)")
        .await?
        .status(200)?;
    let manage = token("user_reports_manage", "o:reports", "1");
    app.get(
        "/api/org/reports",
        Some(&manage),
        "fpm=1 (bit 0: manage only)",
    )
    .await?
    .status(403)?;
    Ok(())
}
