//! [`MySqlStore`]: the store contract on MySQL/MariaDB (InnoDB), through sqlx, with embedded
//! migrations, built on [`clerk_core::store::dispatch`].

mod change;
mod rows;

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
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::Executor;

use change::MySqlTx;
use rows::{
    invitation_row, limit, membership_from_row, membership_row, org_from_row, organization_row,
    revoked_from_row, user_from_row, user_where, webhook_event_row, Key, BY_CLERK_ID, BY_ID,
    BY_LIVE_EMAIL, BY_LOCAL_USERNAME, MEMBERSHIP_COLUMNS, ORG_COLUMNS, PLAIN, USER_COLUMNS,
};

/// The embedded migrations, in order (`migrations/mysql/*.sql` of this crate).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "clerk mirror",
        include_str!("../../migrations/mysql/0001_clerk_mirror.sql"),
    ),
    (
        2,
        "webhook held",
        include_str!("../../migrations/mysql/0002_webhook_held.sql"),
    ),
    (
        3,
        "login failures",
        include_str!("../../migrations/mysql/0003_login_failures.sql"),
    ),
    (
        4,
        "sessions",
        include_str!("../../migrations/mysql/0004_sessions.sql"),
    ),
];

/// The embedded migrations as a sqlx [`MigrationSource`], for [`MySqlStore::migrator`].
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

/// How many times `apply` runs a batch that InnoDB aborted for a deadlock or a lock wait
/// timeout before reporting [`StoreError::Unavailable`].
const ATTEMPTS: usize = 5;

/// A store on MySQL 8 or MariaDB 10.5+ (InnoDB).
///
/// Every batch runs in one `READ COMMITTED` transaction. The webhook receipt is inserted first
/// (`INSERT IGNORE`): two processes delivering the same svix id serialize on its primary key,
/// and the one that finds it recorded answers [`BatchOutcome::AlreadyProcessed`] with nothing
/// written. Each change locks the Clerk id it decides on (a row of `clerk_store_locks`) and
/// reads its rows `FOR UPDATE`; [`clerk_core::store::dispatch`] decides. A batch aborted by a
/// deadlock or a lock wait timeout is run again, up to 5 times in all.
///
/// Tables and column names are those of [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage)
/// (see `migrations/mysql/`), `utf8mb4` with binary collation; instants are `BIGINT`
/// milliseconds, JSON columns `LONGTEXT`. Run [`MySqlStore::migrate`] at start-up.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// Connects to `url` (`mysql://user:password@host:port/database`; no TLS support is
    /// compiled in, so the server must accept a plain connection) with sqlx's default pool
    /// settings; every connection uses `READ COMMITTED`.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a malformed URL, [`StoreError::Unavailable`] when the
    /// server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = MySqlConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("mysql url: {e}")))?;
        let pool = MySqlPoolOptions::new()
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await
                        .map(drop)
                })
            })
            .connect_with(options)
            .await
            .map_err(classify)?;
        Ok(MySqlStore { pool })
    }

    /// A store over an existing pool (set `READ COMMITTED` on its connections).
    #[must_use]
    pub fn from_pool(pool: MySqlPool) -> Self {
        MySqlStore { pool }
    }

    /// The pool, for the application's own queries.
    #[must_use]
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The session records in this database (table `clerk_sessions`, created by
    /// [`MySqlStore::migrate`]) on the same pool: see [`SqlSessionStore`](crate::SqlSessionStore).
    #[must_use]
    pub fn session_store(&self) -> crate::SqlSessionStore {
        crate::SqlSessionStore::mysql(self.pool.clone())
    }

    /// The embedded migrations as a sqlx [`Migrator`].
    ///
    /// # Errors
    /// Never in practice (the migrations are compiled in).
    pub async fn migrator() -> Result<Migrator, StoreError> {
        Migrator::new(Embedded).await.map_err(StoreError::backend)
    }

    /// Creates or updates the tables. Idempotent; concurrent runs take turns on sqlx's
    /// migration lock (`GET_LOCK`).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached, [`StoreError::Backend`]
    /// when a migration fails or the applied history differs from the embedded one.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = MySqlStore::migrator().await?;
        migrator.run(&self.pool).await.map_err(classify_migrate)
    }

    /// One attempt at a batch: one transaction, receipt first.
    async fn apply_once(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        match dispatch::apply_batch(&mut MySqlTx { conn: &mut tx }, batch).await {
            Ok(outcome @ BatchOutcome::Applied(_)) => {
                tx.commit().await.map_err(classify)?;
                Ok(outcome)
            }
            Ok(outcome) => {
                tx.rollback().await.map_err(classify)?;
                Ok(outcome)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

fn classify_migrate(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
        other => StoreError::backend(other),
    }
}

/// Server error numbers after which the same batch may succeed: lock wait timeout (1205),
/// deadlock (1213), too many connections (1040), server shutdown (1053), lost connection
/// (2013, 2006).
fn transient(number: u16) -> bool {
    matches!(number, 1205 | 1213 | 1040 | 1053 | 2006 | 2013)
}

/// A deadlock or lock wait timeout: InnoDB aborted the statement, running the batch again is
/// the remedy.
fn must_rerun(e: &StoreError) -> bool {
    match e {
        StoreError::Unavailable(source) => source
            .downcast_ref::<sqlx::Error>()
            .and_then(|e| e.as_database_error())
            .and_then(|db| db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
            .is_some_and(|db| matches!(db.number(), 1205 | 1213)),
        _ => false,
    }
}

/// Maps a sqlx error to the store's vocabulary: connection, pool and transient failures are
/// retryable; unique violations are conflicts (by key name, never the duplicated value); the
/// rest is a backend failure.
fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                let message = db.message();
                let conflict = if message.ends_with("live_email'") {
                    Conflict::Email
                } else if message.ends_with("local_username'") {
                    Conflict::Username
                } else {
                    Conflict::ClerkId
                };
                return StoreError::Conflict(conflict);
            }
            let number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(sqlx::mysql::MySqlDatabaseError::number);
            if number.is_some_and(transient) {
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

impl MySqlStore {
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::MySql>, StoreError> {
        self.pool.acquire().await.map_err(classify)
    }
}

#[clerk_core::store::async_trait]
impl UserStore for MySqlStore {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        user_where(&mut *self.conn().await?, BY_ID, Key::Int(id.0), PLAIN).await
    }

    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        user_where(
            &mut *self.conn().await?,
            BY_CLERK_ID,
            Key::Text(clerk_id),
            PLAIN,
        )
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        user_where(
            &mut *self.conn().await?,
            BY_LIVE_EMAIL,
            Key::Text(email),
            PLAIN,
        )
        .await
    }

    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        user_where(
            &mut *self.conn().await?,
            BY_LOCAL_USERNAME,
            Key::Text(username),
            PLAIN,
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
impl OrganizationStore for MySqlStore {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        organization_row(&mut *self.conn().await?, clerk_id, PLAIN).await
    }

    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit_to: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM clerk_organizations WHERE (? IS NULL OR clerk_id COLLATE utf8mb4_bin > ?) \
             ORDER BY clerk_id COLLATE utf8mb4_bin LIMIT ?"
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
        membership_row(&mut *self.conn().await?, clerk_id, PLAIN).await
    }

    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM clerk_organization_memberships \
             WHERE user_clerk_id = ? AND deleted_at IS NULL \
             ORDER BY organization_clerk_id COLLATE utf8mb4_bin, clerk_id COLLATE utf8mb4_bin"
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
             ORDER BY user_clerk_id COLLATE utf8mb4_bin, clerk_id COLLATE utf8mb4_bin"
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
        invitation_row(&mut *self.conn().await?, clerk_id, PLAIN).await
    }
}

#[clerk_core::store::async_trait]
impl LedgerStore for MySqlStore {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        webhook_event_row(&mut *self.conn().await?, svix_id, PLAIN).await
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
impl LoginAttemptStore for MySqlStore {
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
impl StoreWriter for MySqlStore {
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
