//! `GET /api/machine` ([design §8 and §11](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#11-machine-authentication-and-writes-to-clerk)):
//! API keys and M2M tokens (opaque or JWT) in, everything else out, with Clerk's reasons;
//! concurrent identical credentials cost Clerk one verify call.

use std::time::Duration;

use serde_json::json;

use super::checks::{unauthenticated, CHALLENGE_INVALID, CHALLENGE_MISSING};
use super::{ensure, CheckResult, Failure, RunningApp};
use crate::mock::MachineGrant;

const PATH: &str = "/api/machine";

async fn accepted(
    app: &RunningApp,
    token: &str,
    what: &str,
    token_type: &str,
    subject: &str,
    scopes: &[&str],
) -> CheckResult {
    app.get(PATH, Some(token), what)
        .await?
        .status(200)?
        .json_is(&json!({ "token_type": token_type, "subject": subject, "scopes": scopes }))?;
    Ok(())
}

/// Each credential type accepted or refused as the route declares (API keys and M2M tokens
/// only), the refusals with Clerk's reasons; machine credentials never read from a cookie.
///
/// # Errors
/// The first expectation that failed.
pub async fn machine_credentials(app: &RunningApp) -> CheckResult {
    let clerk = &app.clerk;
    let key = clerk.issue_api_key(MachineGrant::new("user_machine", ["read:reports"]));
    accepted(
        app,
        &key.token,
        "API key",
        "api_key",
        "user_machine",
        &["read:reports"],
    )
    .await?;
    let m2m = clerk.issue_m2m_token(MachineGrant::new("mch_contract", ["mch_other"]));
    accepted(
        app,
        &m2m.token,
        "opaque M2M token",
        "m2m_token",
        "mch_contract",
        &["mch_other"],
    )
    .await?;
    let jwt = clerk.issue_m2m_token(MachineGrant::new("mch_jwt", ["a", "b"]).jwt());
    accepted(
        app,
        &jwt.token,
        "M2M JWT",
        "m2m_token",
        "mch_jwt",
        &["a", "b"],
    )
    .await?;

    let session = app.token("user_session_on_machine");
    unauthenticated(
        &app.get(PATH, Some(&session), "session token").await?,
        "token-type-mismatch",
        CHALLENGE_INVALID,
    )?;
    for (what, grant) in [
        (
            "opaque OAuth token",
            MachineGrant::new("user_oauth", ["profile"]),
        ),
        (
            "OAuth JWT",
            MachineGrant::new("user_oauth", ["profile"]).jwt(),
        ),
    ] {
        let oauth = clerk.issue_oauth_token(grant);
        unauthenticated(
            &app.get(PATH, Some(&oauth.token), what).await?,
            "token-type-mismatch",
            CHALLENGE_INVALID,
        )?;
    }
    let revoked = clerk.issue_api_key(MachineGrant::new("user_revoked", ["x"]));
    ensure!(
        clerk.revoke_machine_credential(&revoked.id),
        "the mock did not know the API key it issued"
    );
    unauthenticated(
        &app.get(PATH, Some(&revoked.token), "revoked API key")
            .await?,
        "token-invalid",
        CHALLENGE_INVALID,
    )?;
    let expired = clerk.issue_m2m_token(MachineGrant::new("mch_expired", ["x"]).expired());
    unauthenticated(
        &app.get(PATH, Some(&expired.token), "expired opaque M2M token")
            .await?,
        "token-invalid",
        CHALLENGE_INVALID,
    )?;
    let expired_jwt =
        clerk.issue_m2m_token(MachineGrant::new("mch_expired", ["x"]).jwt().expired());
    unauthenticated(
        &app.get(PATH, Some(&expired_jwt.token), "expired M2M JWT")
            .await?,
        "token-verification-failed",
        CHALLENGE_INVALID,
    )?;
    unauthenticated(
        &app.get(PATH, Some("ak_unknown_to_clerk"), "unknown API key")
            .await?,
        "token-invalid",
        CHALLENGE_INVALID,
    )?;
    unauthenticated(
        &app.get(PATH, None, "no credentials").await?,
        clerk_core::machine::NO_TOKEN_IN_HEADER,
        CHALLENGE_MISSING,
    )?;
    let cookie = app
        .request(reqwest::Method::GET, PATH)
        .header("cookie", format!("__session={}", key.token));
    unauthenticated(
        &app.send("GET /api/machine (API key as a __session cookie)", cookie)
            .await?,
        clerk_core::machine::NO_TOKEN_IN_HEADER,
        CHALLENGE_MISSING,
    )?;
    Ok(())
}

/// Eight concurrent requests with one new API key cost the mock one verify call (each
/// verify answer takes 500 ms, so the requests overlap it).
///
/// # Errors
/// The first expectation that failed.
pub async fn machine_single_flight(app: &RunningApp) -> CheckResult {
    let clerk = &app.clerk;
    let key = clerk.issue_api_key(MachineGrant::new("user_flight", ["s"]));
    clerk.set_machine_verify_delay(Duration::from_millis(500));
    let before = clerk.machine_verify_requests();
    let requests = (0..8).map(|i| {
        let token = key.token.clone();
        async move {
            app.get(PATH, Some(&token), &format!("concurrent #{i}"))
                .await
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    clerk.set_machine_verify_delay(Duration::ZERO);
    for answer in answers {
        answer?.status(200)?;
    }
    let calls = clerk.machine_verify_requests() - before;
    if calls != 1 {
        return Err(Failure::new(format!(
            "8 concurrent requests with one API key made {calls} verify calls; expected 1"
        )));
    }
    Ok(())
}
