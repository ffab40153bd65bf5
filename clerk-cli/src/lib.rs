//! The `clerk` command: the local mirror of Clerk users and organizations from the command line
//! ([design §9](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#9-the-clerk-command)).
//!
//! | command | what |
//! |---|---|
//! | `clerk migrate` | creates or updates the mirror's tables on `DATABASE_URL` (idempotent) |
//! | `clerk sync users` | mirrors Clerk's users through the Backend API (`--dry-run`, `--deactivate-missing`, `--page-size`) |
//! | `clerk sync organizations [--memberships]` | the same for organizations and their memberships |
//! | `clerk createsuperuser` | a local staff superuser for hybrid mode (prompts, or `--no-input` with `--username` and `CLERK_SUPERUSER_PASSWORD` / `--password-stdin`) |
//! | `clerk users ban\|unban\|lock\|unlock <user_id>` | the Backend API's user actions (Clerk then sends `user.updated` to the webhook endpoint) |
//! | `clerk sessions revoke <session_id>` / `--user <user_id>` | revokes one session, or every active session of a user, reporting the counts |
//! | `clerk invitations create <email> [--redirect-url …] [--expires-in-days N] [--no-notify] [--ignore-existing]` | invites an address to the application |
//! | `clerk mock` | the test kit's mock Clerk (JWKS, Backend API reads and writes, `POST /__mock/tokens`, `POST /__mock/sessions`) on loopback, printing the `CLERK_*` settings to use it; `--webhook-url` delivers the webhooks of its writes, signed with the printed `CLERK_WEBHOOK_SIGNING_KEY`; only in a build with the `mock` feature (`cargo install clerk-cli --features mock`), so a production install links no mock server and no test keys |
//!
//! Settings come from the environment: `DATABASE_URL` (or `--database-url`; default
//! [`DEFAULT_DATABASE_URL`], the SQLite file `clerk-app.db` the example apps use too;
//! `postgres://…` for PostgreSQL), and for `sync`, `users`, `sessions` and `invitations`
//! `CLERK_SECRET_KEY`, `CLERK_API_URL`,
//! `CLERK_API_TIMEOUT_MS`. A sync shows a progress bar when stderr is a terminal and plain log
//! lines otherwise, and prints its summary on stdout.
//!
//! Exit codes scripts can rely on: [`EXIT_OK`] 0, [`EXIT_FAILURE`] 1 (a Clerk request or the
//! database failed; the message names the endpoint and offset, or the batch), [`EXIT_USAGE`] 2
//! (a bad option, or a missing or invalid setting, named), [`EXIT_REFUSED`] 3 (a weak password,
//! a username or email already taken, a Clerk id Clerk does not know, an invitation Clerk
//! refuses).
//!
//! # Quick start
//!
//! ```sh
//! clerk mock --port 4010 --users 2000 &      # (--features mock) prints CLERK_API_URL=…, CLERK_SECRET_KEY=…
//! export CLERK_API_URL=http://127.0.0.1:4010 CLERK_SECRET_KEY=sk_test_clerkTestkitMockSecretKey0123456789
//! clerk migrate                              # the SQLite file clerk-app.db
//! clerk sync users                           # fetched 2000, created 2000, …
//! clerk sync users                           # again: unchanged 2000
//! CLERK_SUPERUSER_PASSWORD='a long passphrase' clerk createsuperuser --no-input --username admin
//! ```
//!
//! The same from Rust (the binary is a thin `main` over [`run`]):
//!
//! ```no_run
//! use clap::Parser;
//! use clerk_cli::{run, Cli};
//!
//! # async fn demo() {
//! let cli = Cli::parse_from(["clerk", "migrate", "--database-url", "sqlite://demo.db?mode=rwc"]);
//! if let Err(error) = run(cli, |name| std::env::var(name).ok()).await {
//!     eprintln!("error: {error}");
//!     std::process::exit(error.exit_code().into());
//! }
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The argument docs are clap's `--help` text, where a bare URL reads better than `<…>`.
#![allow(rustdoc::bare_urls)]

pub mod actions;
pub mod args;
mod error;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;
pub mod superuser;
pub mod sync;
pub mod webhooks;

pub use args::Cli;
pub use clerk_store::DEFAULT_DATABASE_URL;
pub use error::{CliError, EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};

use args::Command;
use clerk_store::AnyStore;

/// Runs a parsed command; `lookup` reads a setting (the environment in the binary, a map in
/// tests). Output goes to stdout (summaries, settings) and stderr (progress, prompts).
///
/// # Errors
/// [`CliError`]; [`CliError::exit_code`] is the process's exit code.
pub async fn run(cli: Cli, lookup: impl Fn(&str) -> Option<String>) -> Result<(), CliError> {
    match cli.command {
        Command::Migrate { database } => migrate(&database.database_url).await,
        Command::Sync { what } => sync::run(what, lookup).await,
        Command::CreateSuperuser(args) => superuser::run(args, lookup).await,
        Command::Webhooks { what } => webhooks::run(what).await,
        Command::Users { what } => actions::users(what, lookup).await,
        Command::Sessions { what } => actions::sessions(what, lookup).await,
        Command::Invitations { what } => actions::invitations(what, lookup).await,
        #[cfg(feature = "mock")]
        Command::Mock(args) => mock::run(args).await,
        #[cfg(not(feature = "mock"))]
        Command::Mock(_) => Err(CliError::Usage(MOCK_NOT_BUILT.to_owned())),
    }
}

/// What `clerk mock` answers in a build without the `mock` feature.
#[cfg(not(feature = "mock"))]
const MOCK_NOT_BUILT: &str = "this `clerk` was built without the mock Clerk; \
     install it with `cargo install clerk-cli --features mock` (or run `cargo run -p clerk-cli --features mock -- mock`)";

async fn migrate(database_url: &str) -> Result<(), CliError> {
    let store = AnyStore::connect(database_url)
        .await
        .map_err(|e| CliError::store("DATABASE_URL", e))?;
    let backend = store.backend_name();
    let migrated = store.migrate().await;
    store.close().await;
    migrated.map_err(|e| CliError::store(backend, e))?;
    println!("migrated ({backend})");
    Ok(())
}
