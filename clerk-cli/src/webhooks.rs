//! `clerk webhooks failed` and `clerk webhooks retry`: the deliveries held for an operator.
//!
//! A Clerk webhook whose user could not be stored as sent (its email is held by another row
//! that may not be linked) was acknowledged, written without that email and kept
//! (`clerk_core::store::held`). `failed` lists what is held; `retry` applies one again once
//! the operator has resolved the conflict — for instance by changing or removing the local
//! account's email, or once Clerk's own update for the other user has arrived.

use clerk_core::model::HeldEvent;
use clerk_core::store::held::{retry_held, RetryError};
use clerk_core::store::{LinkPolicy, Store};
use clerk_core::time::{Clock, SystemClock};
use clerk_store::AnyStore;

use crate::args::WebhooksCommand;
use crate::CliError;

/// Runs `clerk webhooks …`.
///
/// # Errors
/// [`CliError`]: the database failed, or the retry was refused (exit 3).
pub async fn run(command: WebhooksCommand) -> Result<(), CliError> {
    let database = match &command {
        WebhooksCommand::Failed { database, .. } | WebhooksCommand::Retry { database, .. } => {
            database.database_url.clone()
        }
    };
    let store = AnyStore::connect(&database)
        .await
        .map_err(|e| CliError::store("DATABASE_URL", e))?;
    let backend = store.backend_name();
    let store = store.into_dyn();
    let result = match command {
        WebhooksCommand::Failed { limit, .. } => failed(&*store, limit).await,
        WebhooksCommand::Retry { svix_id, .. } => retry(&*store, &svix_id).await,
    };
    result.map_err(|error| match error {
        Failure::Store(e) => CliError::store(backend, e),
        Failure::Refused(message) => CliError::Refused(message),
    })
}

enum Failure {
    Store(clerk_core::store::StoreError),
    Refused(String),
}

async fn failed(store: &dyn Store, limit: usize) -> Result<(), Failure> {
    let count = store.count_held_events().await.map_err(Failure::Store)?;
    let held = store.held_events(limit).await.map_err(Failure::Store)?;
    if count == 0 {
        println!("no webhook deliveries are held");
        return Ok(());
    }
    println!(
        "{:<32} {:<22} {:<16} {:<32} held at",
        "svix id", "event", "reason", "user"
    );
    for h in &held {
        println!("{}", row(h));
    }
    let shown = held.len() as u64;
    if shown < count {
        println!("{count} held ({shown} shown; --limit shows more)");
    } else {
        println!("{count} held");
    }
    println!("after resolving a conflict: clerk webhooks retry <svix id>");
    Ok(())
}

/// One line of `clerk webhooks failed`: ids, type, reason and time, never the email.
fn row(held: &HeldEvent) -> String {
    format!(
        "{:<32} {:<22} {:<16} {:<32} {}",
        held.svix_id,
        held.event_type,
        held.reason.as_str(),
        held.user.clerk_id,
        held.held_at
    )
}

async fn retry(store: &dyn Store, svix_id: &str) -> Result<(), Failure> {
    match retry_held(store, svix_id, LinkPolicy::Never, SystemClock.now()).await {
        Ok(retried) => {
            println!(
                "{svix_id}: applied ({:?}); no longer held",
                retried.user.effect
            );
            Ok(())
        }
        Err(RetryError::Store(error)) => Err(Failure::Store(error)),
        Err(refused) => Err(Failure::Refused(format!("{svix_id}: {refused}"))),
    }
}
