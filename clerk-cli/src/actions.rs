//! `clerk users ban|unban|lock|unlock`, `clerk sessions revoke`, `clerk invitations create`:
//! the Backend API's writes from the command line, over [`BackendApi`] (whose retries follow
//! each call's [`RetryClass`](clerk_core::backend_api::RetryClass)).

use std::sync::Arc;

use clerk_core::backend_api::{BackendApi, NewInvitation, TokioSleeper};
use clerk_core::reqwest_client::ReqwestClient;

use crate::args::{InvitationsCommand, SessionsCommand, UsersCommand};
use crate::error::CliError;
use crate::sync::clerk_config;

fn api(lookup: impl Fn(&str) -> Option<String>) -> Result<BackendApi, CliError> {
    let config = clerk_config(lookup)?;
    let http = ReqwestClient::new(config.api_timeout)?;
    Ok(BackendApi::from_config(
        &config,
        Arc::new(http),
        Arc::new(TokioSleeper),
    )?)
}

/// Runs `clerk users <action> <user_id>`; prints what was done on stdout.
///
/// # Errors
/// [`CliError::Config`] for missing settings; [`CliError::Api`] when Clerk refuses (an
/// unknown user: exit 3) or fails.
pub async fn users(
    what: UsersCommand,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), CliError> {
    let api = api(lookup)?;
    let (done, user) = match &what {
        UsersCommand::Ban { user_id } => ("banned", api.ban_user(user_id).await?),
        UsersCommand::Unban { user_id } => ("unbanned", api.unban_user(user_id).await?),
        UsersCommand::Lock { user_id } => ("locked", api.lock_user(user_id).await?),
        UsersCommand::Unlock { user_id } => ("unlocked", api.unlock_user(user_id).await?),
    };
    println!(
        "{done} {} (banned: {}, locked: {})",
        user.id, user.banned, user.locked
    );
    Ok(())
}

/// Runs `clerk sessions revoke`; prints the session, or the counts, on stdout.
///
/// # Errors
/// As [`users`] (an unknown session: exit 3). With `--user`, every session that could not be
/// revoked is named on stderr and the command fails with [`CliError::Partial`] (exit 1).
pub async fn sessions(
    what: SessionsCommand,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), CliError> {
    let SessionsCommand::Revoke { session_id, user } = what;
    let api = api(lookup)?;
    match (session_id, user) {
        (Some(session_id), _) => {
            let session = api.revoke_session(&session_id).await?;
            println!(
                "revoked session {} of {} (status: {})",
                session.id, session.user_id, session.status
            );
            Ok(())
        }
        (None, Some(user_id)) => {
            let outcome = api.revoke_user_sessions(&user_id).await?;
            let revoked = outcome.revoked.len();
            let failed = outcome.failed.len();
            println!(
                "revoked {revoked} of {} active sessions of {user_id}",
                revoked + failed
            );
            for (id, error) in &outcome.failed {
                eprintln!("error: session {id}: {error}");
            }
            if failed == 0 {
                Ok(())
            } else {
                Err(CliError::Partial(format!(
                    "{failed} sessions of {user_id} could not be revoked"
                )))
            }
        }
        (None, None) => Err(CliError::Usage(
            "give a session id, or --user <user_id> to revoke every active session of a user"
                .to_owned(),
        )),
    }
}

/// Runs `clerk invitations create`; prints the invitation's id and status on stdout.
///
/// # Errors
/// [`CliError::Api`] with [`InvalidParam`](clerk_core::backend_api::ApiError::InvalidParam)
/// for an address that is not one (exit 2, nothing sent); Clerk's 422 for an address already
/// invited or a user (exit 3).
pub async fn invitations(
    what: InvitationsCommand,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), CliError> {
    let InvitationsCommand::Create {
        email,
        redirect_url,
        expires_in_days,
        no_notify,
        ignore_existing,
    } = what;
    let mut invitation = NewInvitation::new(email);
    if let Some(url) = redirect_url {
        invitation = invitation.redirect_url(url);
    }
    if let Some(days) = expires_in_days {
        invitation = invitation.expires_in_days(days);
    }
    if no_notify {
        invitation = invitation.notify(false);
    }
    if ignore_existing {
        invitation = invitation.ignore_existing(true);
    }
    let api = api(lookup)?;
    let created = api.create_invitation(&invitation).await?;
    let expires = created.expires_at.map_or_else(String::new, |t| {
        format!(", expires at {} (Unix ms)", t.as_millis())
    });
    println!(
        "created invitation {} ({}{expires})",
        created.id,
        created.status.as_str()
    );
    Ok(())
}
