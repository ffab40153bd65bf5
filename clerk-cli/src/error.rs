//! [`CliError`]: why a command failed, and the exit code that says so to scripts.

use clerk_core::backend_api::ApiError;
use clerk_core::password::{PasswordError, WeakPassword};
use clerk_core::store::StoreError;
use clerk_core::ConfigError;
use clerk_store::sync::SyncError;

/// Success.
pub const EXIT_OK: u8 = 0;
/// A runtime failure: a Clerk request or the database failed.
pub const EXIT_FAILURE: u8 = 1;
/// A usage or configuration error (clap's own usage errors use 2 as well).
pub const EXIT_USAGE: u8 = 2;
/// Refused: a weak password, a username or email already taken.
pub const EXIT_REFUSED: u8 = 3;

/// Why a command failed. `Display` is the message printed after `error: `; it names the
/// setting, the request (endpoint and offset) or the refused input, never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A `CLERK_*` setting is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Another usage problem (a missing option in non-interactive mode, …).
    #[error("{0}")]
    Usage(String),
    /// The database could not be opened, migrated, read or written.
    #[error("database ({backend}): {error}{hint}")]
    Store {
        /// `SQLite` or `PostgreSQL` (or `DATABASE_URL` before the backend is known).
        backend: &'static str,
        /// The store's error.
        error: StoreError,
        /// Advice, such as running `clerk migrate` first (empty when none).
        hint: &'static str,
    },
    /// A sync stopped: the message names the request (endpoint, offset) or the batch.
    #[error("sync failed: {0}{hint}", hint = sync_hint(.0))]
    Sync(SyncError),
    /// A Backend API request outside a sync failed (counting users for the progress bar, a
    /// user action, a revocation, an invitation).
    #[error("Clerk request failed: {0}")]
    Api(#[from] ApiError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] clerk_core::HttpError),
    /// The password is too weak (or empty).
    #[error("password refused: {0}")]
    WeakPassword(#[from] WeakPassword),
    /// Hashing the password failed.
    #[error("password: {0}")]
    Password(#[from] PasswordError),
    /// Some of several Backend API calls failed (each was named on stderr).
    #[error("{0}")]
    Partial(String),
    /// The input was understood but refused (a username or email already taken).
    #[error("{0}")]
    Refused(String),
    /// Reading input, a terminal, or binding a port failed.
    #[error("{context}: {error}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        error: std::io::Error,
    },
}

fn sync_hint(error: &SyncError) -> &'static str {
    match error.store_error() {
        Some(StoreError::Backend(_)) => " (has `clerk migrate` run on this database?)",
        _ => "",
    }
}

impl CliError {
    /// The exit code for this error: [`EXIT_USAGE`], [`EXIT_REFUSED`] or [`EXIT_FAILURE`].
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Usage(_) => EXIT_USAGE,
            CliError::Store {
                error: StoreError::Invalid(_),
                ..
            } => EXIT_USAGE,
            CliError::Api(ApiError::NoSecretKey | ApiError::InvalidParam { .. }) => EXIT_USAGE,
            // Clerk understood the request and refused it: an unknown id, a duplicate.
            CliError::Api(e) if matches!(e.status(), Some(400 | 404 | 409 | 422)) => EXIT_REFUSED,
            CliError::WeakPassword(_) | CliError::Refused(_) => EXIT_REFUSED,
            CliError::Password(PasswordError::TooLong) => EXIT_REFUSED,
            _ => EXIT_FAILURE,
        }
    }

    /// A store error from `backend`, with the `clerk migrate` hint when the schema may be
    /// missing.
    pub(crate) fn store(backend: &'static str, error: StoreError) -> Self {
        let hint = match error {
            StoreError::Backend(_) => " (has `clerk migrate` run on this database?)",
            _ => "",
        };
        CliError::Store {
            backend,
            error,
            hint,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |error| CliError::Io { context, error }
    }
}

impl From<SyncError> for CliError {
    fn from(error: SyncError) -> Self {
        CliError::Sync(error)
    }
}
