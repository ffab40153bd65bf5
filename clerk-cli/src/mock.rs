//! `clerk mock`: the test kit's [`MockClerk`] on a loopback port until Ctrl-C.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::mock::{generated_user_id, MockClerk, TOKENS_PATH};
use clerk_testkit::webhooks::TEST_SECRET;

use crate::args::Mock;
use crate::error::CliError;

/// Members of each generated organization (fewer when there are fewer users).
const MEMBERS_PER_ORG: u32 = 3;

/// Starts the mock described by `args` and returns it, after printing the settings an
/// application needs (`KEY=value` lines on stdout) and how to mint a token (stderr).
///
/// # Errors
/// [`CliError::Io`] when the port cannot be bound.
pub async fn start(args: &Mock) -> Result<MockClerk, CliError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let clerk = MockClerk::builder()
        .bind(addr)
        .try_start()
        .await
        .map_err(CliError::io(format!("listening on {addr}")))?;
    if args.users > 0 {
        clerk.generate_users(args.users);
    }
    if args.seed_orgs > 0 {
        clerk.generate_organizations(args.seed_orgs, MEMBERS_PER_ORG.min(args.users));
    }
    if let Some(url) = &args.webhook_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(CliError::Usage(format!(
                "--webhook-url: {url:?} is not an http:// or https:// URL"
            )));
        }
        clerk.deliver_webhooks_to(url.clone(), TEST_SECRET);
        eprintln!("webhooks of the writes go to {url}");
    }
    let mut out = std::io::stdout().lock();
    // Printed settings are the command's output: a closed stdout is not worth failing over.
    let _ = writeln!(out, "CLERK_API_URL={}", clerk.url());
    let _ = writeln!(out, "CLERK_SECRET_KEY={}", clerk.secret_key());
    let _ = writeln!(out, "CLERK_PUBLISHABLE_KEY={}", clerk.publishable_key());
    let _ = writeln!(out, "CLERK_FRONTEND_HOSTS={DEFAULT_AUTHORIZED_PARTY}");
    let _ = writeln!(out, "CLERK_WEBHOOK_SIGNING_KEY={TEST_SECRET}");
    let _ = out.flush();
    drop(out);
    let sub = if args.users > 0 {
        generated_user_id(0)
    } else {
        "user_1".to_owned()
    };
    eprintln!(
        "mock Clerk on {url}: {users} users, {orgs} organizations. Mint a session token with\n  \
         curl -s -X POST {url}{TOKENS_PATH} -H 'content-type: application/json' -d '{{\"sub\":\"{sub}\"}}'\n\
         Ctrl-C stops it.",
        url = clerk.url(),
        users = args.users,
        orgs = args.seed_orgs,
    );
    Ok(clerk)
}

/// [`start`], then serve until Ctrl-C.
///
/// # Errors
/// As [`start`]; [`CliError::Io`] when the Ctrl-C handler cannot be installed.
pub async fn run(args: Mock) -> Result<(), CliError> {
    let clerk = start(&args).await?;
    tokio::signal::ctrl_c()
        .await
        .map_err(CliError::io("waiting for Ctrl-C"))?;
    clerk.shutdown().await;
    Ok(())
}
