//! [`SqliteStore`]: the store contract on SQLite, through sqlx, with embedded migrations.

mod bulk;
mod change;
mod rows;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use clerk_core::model::{
    HeldEvent, Invitation, Membership, Organization, RevokedSession, User, UserId, WebhookEvent,
};
use clerk_core::store::dispatch;
use clerk_core::time::UnixTime;

use crate::{held, login_failures};
use clerk_core::store::{
    BatchOutcome, Conflict, LedgerStore, LoginAttemptStore, OrganizationStore, StoreError,
    StoreWriter, UserStore, WriteBatch,
};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use change::SqliteTx;
use rows::{
    invitation_row, limit, membership_from_row, membership_row, org_from_row, organization_row,
    revoked_from_row, user_from_row, user_where, webhook_event_row, Key, BY_CLERK_ID, BY_ID,
    BY_LIVE_EMAIL, BY_LOCAL_USERNAME, MEMBERSHIP_COLUMNS, ORG_COLUMNS, USER_COLUMNS,
};

/// The embedded migrations, in order (`migrations/sqlite/*.sql` of this crate).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "clerk mirror",
        include_str!("../../migrations/sqlite/0001_clerk_mirror.sql"),
    ),
    (
        2,
        "webhook held",
        include_str!("../../migrations/sqlite/0002_webhook_held.sql"),
    ),
    (
        3,
        "login failures",
        include_str!("../../migrations/sqlite/0003_login_failures.sql"),
    ),
    (
        4,
        "sessions",
        include_str!("../../migrations/sqlite/0004_sessions.sql"),
    ),
];

/// The embedded migrations as a sqlx [`MigrationSource`], for [`SqliteStore::migrator`].
#[derive(Debug, Clone, Copy, Default)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// A store on SQLite (a file, or `sqlite::memory:` with one connection).
///
/// Every batch runs in one `BEGIN IMMEDIATE` transaction, so writers queue on SQLite's write
/// lock (waiting up to the busy timeout, 5 s by default) instead of failing on a lock
/// upgrade; the webhook receipt is inserted first, so a svix id already recorded (by this
/// process or another one sharing the file) is detected before anything is written. Lock
/// timeouts and I/O failures are [`StoreError::Unavailable`] (retryable).
///
/// Tables and column names are those of [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage) (see `migrations/sqlite/`); instants are
/// `INTEGER` milliseconds, JSON columns `TEXT`. Run [`SqliteStore::migrate`] at start-up.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Connects to `url` (`sqlite://path/to/file.db`, created when missing), in WAL mode with
    /// a 5 s busy timeout.
    ///
    /// An in-memory URL (`sqlite::memory:`, or one with `mode=memory`) gets a pool of exactly
    /// one connection that is never recycled: every connection to an in-memory database is a
    /// different, empty database, and the data lives as long as that connection.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a malformed URL, [`StoreError::Unavailable`] when the
    /// database cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("sqlite url: {e}")))?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                .await
        }
        .map_err(classify)?;
        Ok(SqliteStore { pool })
    }

    /// A store over an existing pool (configure `busy_timeout` on it; WAL mode recommended).
    #[must_use]
    pub fn from_pool(pool: SqlitePool) -> Self {
        SqliteStore { pool }
    }

    /// The pool, for the application's own queries (its own tables keyed by
    /// `clerk_users.id`, reports, …).
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The session records in this database (table `clerk_sessions`, created by
    /// [`SqliteStore::migrate`]) on the same pool: see [`SqlSessionStore`](crate::SqlSessionStore).
    #[must_use]
    pub fn session_store(&self) -> crate::SqlSessionStore {
        crate::SqlSessionStore::sqlite(self.pool.clone())
    }

    /// The embedded migrations as a sqlx [`Migrator`] (for tools that run migrations
    /// themselves).
    ///
    /// # Errors
    /// Never in practice (the migrations are compiled in).
    pub async fn migrator() -> Result<Migrator, StoreError> {
        Migrator::new(Embedded).await.map_err(StoreError::backend)
    }

    /// Creates or updates the tables. Idempotent; safe to run from several processes at once
    /// (every statement is `IF NOT EXISTS`, and a run that loses the race to record the
    /// migration retries once and then finds it applied).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached, [`StoreError::Backend`]
    /// when a migration fails or the applied history differs from the embedded one.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = SqliteStore::migrator().await?;
        // SQLite has no migration lock: a process migrating the same file at the same time
        // makes a run fail where the other got ahead (a version recorded twice). Each failure
        // means the other process progressed, so running again converges; one retry per
        // migration is enough.
        let attempts = migrator.iter().count() + 1;
        let mut last = None;
        for _ in 0..attempts {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(error) => last = Some(error),
            }
        }
        Err(last.map_or_else(
            || StoreError::backend("migration did not run"),
            classify_migrate,
        ))
    }
}

fn classify_migrate(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
        other => StoreError::backend(other),
    }
}

/// Maps a sqlx error to the store's vocabulary: lock timeouts, I/O and pool failures are
/// retryable; unique violations are conflicts; the rest is a backend failure.
fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                let message = db.message();
                let conflict = if message.contains("email") {
                    Conflict::Email
                } else if message.contains("username") {
                    Conflict::Username
                } else {
                    Conflict::ClerkId
                };
                return StoreError::Conflict(conflict);
            }
            let primary = db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| c & 0xff);
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN.
            if matches!(primary, Some(5 | 6 | 10 | 13 | 14)) {
                StoreError::unavailable(e)
            } else {
                StoreError::backend(e)
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        _ => StoreError::backend(e),
    }
}

impl SqliteStore {
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, StoreError> {
        self.pool.acquire().await.map_err(classify)
    }
}

#[clerk_core::store::async_trait]
impl UserStore for SqliteStore {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        user_where(&mut *self.conn().await?, BY_ID, Key::Int(id.0)).await
    }

    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        user_where(&mut *self.conn().await?, BY_CLERK_ID, Key::Text(clerk_id)).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        user_where(&mut *self.conn().await?, BY_LIVE_EMAIL, Key::Text(email)).await
    }

    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        user_where(
            &mut *self.conn().await?,
            BY_LOCAL_USERNAME,
            Key::Text(username),
        )
        .await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit_to: usize,
    ) -> Result<Vec<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM clerk_users WHERE (? IS NULL OR id > ?) ORDER BY id LIMIT ?"
        );
        let after = after.map(|a| a.0);
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(after)
            .bind(limit(limit_to))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter()
            .map(user_from_row)
            .collect::<Result<_, _>>()
            .map_err(classify)
    }
}

#[clerk_core::store::async_trait]
impl OrganizationStore for SqliteStore {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        organization_row(&mut *self.conn().await?, clerk_id).await
    }

    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit_to: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM clerk_organizations WHERE (? IS NULL OR clerk_id > ?) \
             ORDER BY clerk_id LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(after)
            .bind(limit(limit_to))
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter()
            .map(org_from_row)
            .collect::<Result<_, _>>()
            .map_err(classify)
    }

    async fn membership(&self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        membership_row(&mut *self.conn().await?, clerk_id).await
    }

    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM clerk_organization_memberships \
             WHERE user_clerk_id = ? AND deleted_at IS NULL \
             ORDER BY organization_clerk_id, clerk_id"
        );
        let rows = sqlx::query(&sql)
            .bind(user_clerk_id)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter()
            .map(membership_from_row)
            .collect::<Result<_, _>>()
            .map_err(classify)
    }

    async fn memberships_of_organization(
        &self,
        organization_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM clerk_organization_memberships \
             WHERE organization_clerk_id = ? AND deleted_at IS NULL \
             ORDER BY user_clerk_id, clerk_id"
        );
        let rows = sqlx::query(&sql)
            .bind(organization_clerk_id)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter()
            .map(membership_from_row)
            .collect::<Result<_, _>>()
            .map_err(classify)
    }

    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        invitation_row(&mut *self.conn().await?, clerk_id).await
    }
}

#[clerk_core::store::async_trait]
impl LedgerStore for SqliteStore {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        webhook_event_row(&mut *self.conn().await?, svix_id).await
    }

    async fn revoked_session(
        &self,
        session_id: &str,
    ) -> Result<Option<RevokedSession>, StoreError> {
        let row = sqlx::query(
            "SELECT session_id, user_clerk_id, status, revoked_at FROM clerk_revoked_sessions \
             WHERE session_id = ?",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(revoked_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn held_event(&self, svix_id: &str) -> Result<Option<HeldEvent>, StoreError> {
        held::held_one(&self.pool, &held::QMARK, svix_id, classify).await
    }

    async fn held_events(&self, limit: usize) -> Result<Vec<HeldEvent>, StoreError> {
        held::held_open(&self.pool, &held::QMARK, limit, classify).await
    }

    async fn count_held_events(&self) -> Result<u64, StoreError> {
        held::count_open(&self.pool, classify).await
    }
}

#[clerk_core::store::async_trait]
impl LoginAttemptStore for SqliteStore {
    async fn record_login_failure(
        &self,
        keys: &[&str],
        at: UnixTime,
        forget_before: UnixTime,
    ) -> Result<(), StoreError> {
        let sql = &login_failures::QMARK;
        login_failures::record(&self.pool, sql, keys, at, forget_before, classify).await
    }

    async fn recent_login_failures(
        &self,
        key: &str,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<UnixTime>, StoreError> {
        let sql = &login_failures::QMARK;
        login_failures::recent(&self.pool, sql, key, since, limit, classify).await
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        login_failures::clear(&self.pool, &login_failures::QMARK, key, classify).await
    }
}

#[clerk_core::store::async_trait]
impl StoreWriter for SqliteStore {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        // IMMEDIATE: take the write lock up front (waiting up to the busy timeout) so the
        // reads the rules decide on cannot go stale before the writes.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(classify)?;
        // An error drops `tx`, which rolls everything back, the receipt included.
        let outcome = dispatch::apply_batch(&mut SqliteTx { conn: &mut tx }, batch).await?;
        match outcome {
            BatchOutcome::Applied(_) => tx.commit().await.map_err(classify)?,
            BatchOutcome::AlreadyProcessed(_) => tx.rollback().await.map_err(classify)?,
        }
        Ok(outcome)
    }
}
