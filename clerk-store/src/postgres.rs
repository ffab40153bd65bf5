//! [`PostgresStore`]: the store contract on PostgreSQL, through sqlx, with embedded
//! migrations.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Connection;

use change::PgTx;

mod bulk;
mod change;
mod rows;

use rows::{
    invitation_row, limit, membership_from_row, membership_row, org_from_row, organization_row,
    revoked_from_row, user_from_row, user_where, webhook_event_row, Key, Lock, BY_CLERK_ID, BY_ID,
    BY_LIVE_EMAIL, BY_LOCAL_USERNAME, MEMBERSHIP_COLUMNS, ORG_COLUMNS, USER_COLUMNS,
};

/// The embedded migrations, in order (`migrations/postgres/*.sql` of this crate).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "clerk mirror",
        include_str!("../migrations/postgres/0001_clerk_mirror.sql"),
    ),
    (
        2,
        "webhook held",
        include_str!("../migrations/postgres/0002_webhook_held.sql"),
    ),
    (
        3,
        "login failures",
        include_str!("../migrations/postgres/0003_login_failures.sql"),
    ),
    (
        4,
        "sessions",
        include_str!("../migrations/postgres/0004_sessions.sql"),
    ),
];

/// How many times `apply` runs a batch that PostgreSQL aborted for a deadlock or a
/// serialization failure before reporting [`StoreError::Unavailable`].
const ATTEMPTS: usize = 5;

/// The embedded migrations as a sqlx [`MigrationSource`], for [`PostgresStore::migrator`].
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

/// A store on PostgreSQL.
///
/// Every batch runs in one `READ COMMITTED` transaction. The webhook receipt is inserted
/// first (`ON CONFLICT DO NOTHING`): two processes delivering the same svix id serialize on
/// its primary key, and the one that finds it recorded answers
/// [`BatchOutcome::AlreadyProcessed`] with nothing written. Each change then takes a
/// transaction-scoped advisory lock on the Clerk id it decides on (so two transactions racing
/// on an object that has no row yet take turns instead of colliding) and reads the rows it
/// decides on `FOR UPDATE`, before [`clerk_core::store::rules`] decides and targeted writes
/// follow (Clerk data never writes application-owned columns).
///
/// A batch aborted by a deadlock or a serialization failure is run again, up to 5 times in
/// all, then reported as [`StoreError::Unavailable`]. Connection failures, pool timeouts,
/// an administrator's shutdown and "too many connections" are [`StoreError::Unavailable`]
/// (retryable); unique violations are [`StoreError::Conflict`]. An error always rolls the
/// whole batch back, the receipt included.
///
/// Tables and column names are those of [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage) (see `migrations/postgres/`), created in
/// the connection's current schema; instants are `BIGINT` milliseconds, JSON columns
/// `JSONB`. Run [`PostgresStore::migrate`] at start-up.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// The key of the session-level advisory lock [`PostgresStore::migrate`] holds while
    /// migrating (`pg_advisory_lock(MIGRATION_LOCK)`; "clerkmig" in ASCII). One key for the
    /// whole server: concurrent migrations of different schemas just take turns.
    pub const MIGRATION_LOCK: i64 = 0x636c_6572_6b6d_6967;

    /// Connects to `url` (`postgres://user:password@host:port/database`, plus any
    /// libpq-style parameters sqlx understands, such as `options=-c search_path=myschema`)
    /// with sqlx's default pool settings (10 connections, 30 s acquire timeout). Without TLS
    /// support compiled in, `sslmode` must allow a plain connection.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a malformed URL, [`StoreError::Unavailable`] when the
    /// server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("postgres url: {e}")))?;
        PostgresStore::connect_with(PgPoolOptions::new(), options).await
    }

    /// Connects with explicit pool settings (size, acquire timeout, …) and connect options
    /// (host, credentials, `search_path` through [`PgConnectOptions::options`], …).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached, [`StoreError::Backend`]
    /// when it refuses the connection for another reason (authentication, a missing
    /// database).
    pub async fn connect_with(
        pool: PgPoolOptions,
        options: PgConnectOptions,
    ) -> Result<Self, StoreError> {
        let pool = pool.connect_with(options).await.map_err(classify)?;
        Ok(PostgresStore { pool })
    }

    /// A store over an existing pool (also a lazy one from `PgPoolOptions::connect_lazy_with`,
    /// which only connects on first use).
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        PostgresStore { pool }
    }

    /// The pool, for the application's own queries (its own tables keyed by
    /// `clerk_users.id`, reports, …).
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The session records in this database (table `clerk_sessions`, created by
    /// [`PostgresStore::migrate`]) on the same pool: see [`SqlSessionStore`](crate::SqlSessionStore).
    #[must_use]
    pub fn session_store(&self) -> crate::SqlSessionStore {
        crate::SqlSessionStore::postgres(self.pool.clone())
    }

    /// The embedded migrations as a sqlx [`Migrator`] (for tools that run migrations
    /// themselves).
    ///
    /// # Errors
    /// Never in practice (the migrations are compiled in).
    pub async fn migrator() -> Result<Migrator, StoreError> {
        Migrator::new(Embedded).await.map_err(StoreError::backend)
    }

    /// Creates or updates the tables in the connection's current schema. Idempotent; safe to
    /// run from several processes at once: the migration runs on one dedicated connection
    /// holding the session-level advisory lock [`Self::MIGRATION_LOCK`], so concurrent runs take
    /// turns and the later ones find everything applied. The connection is closed afterwards
    /// (never returned to the pool), which releases the lock even if this future is dropped
    /// midway.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached, [`StoreError::Backend`]
    /// when a migration fails or the applied history differs from the embedded one.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator = PostgresStore::migrator().await?;
        // Our lock replaces sqlx's own (one per database, taken by `run` itself).
        migrator.set_locking(false);
        let mut conn = self.pool.acquire().await.map_err(classify)?.detach();
        let result = async {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(Self::MIGRATION_LOCK)
                .execute(&mut conn)
                .await
                .map_err(classify)?;
            let ran = migrator.run(&mut conn).await.map_err(classify_migrate);
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(Self::MIGRATION_LOCK)
                .execute(&mut conn)
                .await
                .map_err(classify);
            ran.and(unlocked.map(drop))
        }
        .await;
        // Closing ends the session, which releases the lock whatever happened above.
        let _ = conn.close().await;
        result
    }
}

fn classify_migrate(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
        other => StoreError::backend(other),
    }
}

/// SQLSTATEs after which the same operation may succeed later: serialization failure,
/// deadlock, lock not available, query canceled (statement or lock timeout), the
/// administrator's / a crash's shutdown, "cannot connect now", and the classes "connection
/// exception" (08) and "insufficient resources" (53, e.g. too many connections).
fn transient_code(code: &str) -> bool {
    matches!(
        code,
        "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03"
    ) || code.starts_with("08")
        || code.starts_with("53")
}

/// A deadlock or serialization failure: PostgreSQL aborted the transaction, and running it
/// again is the documented remedy.
fn must_rerun(e: &StoreError) -> bool {
    match e {
        StoreError::Unavailable(source) => source
            .downcast_ref::<sqlx::Error>()
            .and_then(|e| e.as_database_error())
            .and_then(|db| db.code())
            .is_some_and(|code| code == "40001" || code == "40P01"),
        _ => false,
    }
}

/// Maps a sqlx error to the store's vocabulary: connection, pool and transient transaction
/// failures are retryable; unique violations are conflicts (by constraint name); the rest is
/// a backend failure.
fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                let name = db.constraint().unwrap_or_else(|| db.message());
                let conflict = if name.contains("email") {
                    Conflict::Email
                } else if name.contains("username") {
                    Conflict::Username
                } else {
                    Conflict::ClerkId
                };
                return StoreError::Conflict(conflict);
            }
            if db.code().is_some_and(|c| transient_code(&c)) {
                StoreError::unavailable(e)
            } else {
                StoreError::backend(e)
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(e),
        _ => StoreError::backend(e),
    }
}

impl PostgresStore {
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, StoreError> {
        self.pool.acquire().await.map_err(classify)
    }

    /// One attempt at a batch: one transaction, receipt first.
    async fn apply_once(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        match dispatch::apply_batch(&mut PgTx { conn: &mut tx }, batch).await {
            Ok(outcome @ BatchOutcome::Applied(_)) => {
                tx.commit().await.map_err(classify)?;
                Ok(outcome)
            }
            Ok(outcome) => {
                tx.rollback().await.map_err(classify)?;
                Ok(outcome)
            }
            Err(e) => {
                // Everything goes, the receipt included. Rolled back now rather than when the
                // pool next touches the connection, so no lock outlives the error (if the
                // connection is gone, so is the transaction).
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

#[clerk_core::store::async_trait]
impl UserStore for PostgresStore {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        user_where(&mut *self.conn().await?, BY_ID, Key::Int(id.0), Lock::No).await
    }

    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        user_where(
            &mut *self.conn().await?,
            BY_CLERK_ID,
            Key::Text(clerk_id),
            Lock::No,
        )
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        user_where(
            &mut *self.conn().await?,
            BY_LIVE_EMAIL,
            Key::Text(email),
            Lock::No,
        )
        .await
    }

    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        user_where(
            &mut *self.conn().await?,
            BY_LOCAL_USERNAME,
            Key::Text(username),
            Lock::No,
        )
        .await
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit_to: usize,
    ) -> Result<Vec<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM clerk_users WHERE ($1::BIGINT IS NULL OR id > $1) \
             ORDER BY id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(after.map(|a| a.0))
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

// Text keys are ordered bytewise (`COLLATE "C"`), whatever the database's collation, so pages
// follow the same order as the other backends.
#[clerk_core::store::async_trait]
impl OrganizationStore for PostgresStore {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        organization_row(&mut *self.conn().await?, clerk_id, Lock::No).await
    }

    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit_to: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM clerk_organizations \
             WHERE ($1::TEXT IS NULL OR clerk_id COLLATE \"C\" > $1::TEXT COLLATE \"C\") \
             ORDER BY clerk_id COLLATE \"C\" LIMIT $2"
        );
        let rows = sqlx::query(&sql)
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
        membership_row(&mut *self.conn().await?, clerk_id, Lock::No).await
    }

    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM clerk_organization_memberships \
             WHERE user_clerk_id = $1 AND deleted_at IS NULL \
             ORDER BY organization_clerk_id COLLATE \"C\", clerk_id COLLATE \"C\""
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
             WHERE organization_clerk_id = $1 AND deleted_at IS NULL \
             ORDER BY user_clerk_id COLLATE \"C\", clerk_id COLLATE \"C\""
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
        invitation_row(&mut *self.conn().await?, clerk_id, Lock::No).await
    }
}

#[clerk_core::store::async_trait]
impl LedgerStore for PostgresStore {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        webhook_event_row(&mut *self.conn().await?, svix_id).await
    }

    async fn revoked_session(
        &self,
        session_id: &str,
    ) -> Result<Option<RevokedSession>, StoreError> {
        let row = sqlx::query(
            "SELECT session_id, user_clerk_id, status, revoked_at FROM clerk_revoked_sessions \
             WHERE session_id = $1",
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
        held::held_one(&self.pool, &held::DOLLAR, svix_id, classify).await
    }

    async fn held_events(&self, limit: usize) -> Result<Vec<HeldEvent>, StoreError> {
        held::held_open(&self.pool, &held::DOLLAR, limit, classify).await
    }

    async fn count_held_events(&self) -> Result<u64, StoreError> {
        held::count_open(&self.pool, classify).await
    }
}

#[clerk_core::store::async_trait]
impl LoginAttemptStore for PostgresStore {
    async fn record_login_failure(
        &self,
        keys: &[&str],
        at: UnixTime,
        forget_before: UnixTime,
    ) -> Result<(), StoreError> {
        let sql = &login_failures::DOLLAR;
        login_failures::record(&self.pool, sql, keys, at, forget_before, classify).await
    }

    async fn recent_login_failures(
        &self,
        key: &str,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<UnixTime>, StoreError> {
        let sql = &login_failures::DOLLAR;
        login_failures::recent(&self.pool, sql, key, since, limit, classify).await
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        login_failures::clear(&self.pool, &login_failures::DOLLAR, key, classify).await
    }
}

#[clerk_core::store::async_trait]
impl StoreWriter for PostgresStore {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        let mut attempt = 1;
        loop {
            match self.apply_once(batch.clone()).await {
                Err(e) if attempt < ATTEMPTS && must_rerun(&e) => attempt += 1,
                other => return other,
            }
        }
    }
}
