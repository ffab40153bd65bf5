//! [`SqlSessionStore`]: session records in `clerk_sessions` (migration 0004) on SQLite,
//! PostgreSQL or MySQL/MariaDB, the statements shared by the three backends (in each
//! placeholder style) and run by functions generic over sqlx's `Database`, like
//! [`held`](crate::held) and [`login_failures`](crate::login_failures).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clerk_core::flow::records::{
    SessionStore, SessionStoreError, StoredSession, MAX_SESSIONS_PER_SID,
};
use clerk_core::store::async_trait;
use clerk_core::time::UnixTime;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

#[cfg(feature = "mysql")]
use sqlx::mysql::MySqlPool;
#[cfg(feature = "postgres")]
use sqlx::postgres::PgPool;
#[cfg(feature = "sqlite")]
use sqlx::sqlite::SqlitePool;

/// The session statements in one backend's dialect. Parameters are listed in binding order.
pub(crate) struct SessionSql {
    /// Starts a save's transaction.
    begin: &'static str,
    /// Serializes the saves of one Clerk session until the transaction ends: `kind`, `sid`.
    lock: Option<&'static str>,
    /// Inserts or replaces a record, keeping the `seq` of one that exists:
    /// `id`, `data`, `clerk_sid`, `expires_at`.
    upsert: &'static str,
    /// The `seq` of a sid's record with `offset` newer ones: `clerk_sid`, `offset`.
    nth_newest: &'static str,
    /// Deletes a sid's records up to a `seq`: `clerk_sid`, `seq`.
    evict: &'static str,
    /// The data of a live record: `id`, `now`.
    load: &'static str,
    /// Deletes a record: `id`.
    delete: &'static str,
    /// Deletes at most `limit` records expired by `now`: `now`, `limit`. None on MySQL, which
    /// also frees lock rows ([`mysql_sweep_some`]).
    sweep_some: Option<&'static str>,
}

/// The lock kind of session saves (PostgreSQL's advisory-lock namespace, or MySQL's
/// `clerk_store_locks.kind`), next to the mirror's kinds (users, organizations, …).
#[cfg(feature = "postgres")]
const PG_LOCK_KIND: i32 = 0x636c_0005;
#[cfg(feature = "mysql")]
const MYSQL_LOCK_KIND: i32 = 5;

/// SQLite: `BEGIN IMMEDIATE` already excludes every other writer, so no lock.
#[cfg(feature = "sqlite")]
const SQLITE: SessionSql = SessionSql {
    begin: "BEGIN IMMEDIATE",
    lock: None,
    upsert: "INSERT INTO clerk_sessions (id, data, clerk_sid, expires_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
             clerk_sid = excluded.clerk_sid, expires_at = excluded.expires_at",
    nth_newest: "SELECT seq FROM clerk_sessions WHERE clerk_sid = ? \
                 ORDER BY seq DESC LIMIT 1 OFFSET ?",
    evict: "DELETE FROM clerk_sessions WHERE clerk_sid = ? AND seq <= ?",
    load: "SELECT data FROM clerk_sessions WHERE id = ? AND expires_at > ?",
    delete: "DELETE FROM clerk_sessions WHERE id = ?",
    sweep_some: Some(
        "DELETE FROM clerk_sessions WHERE id IN \
         (SELECT id FROM clerk_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)",
    ),
};

/// PostgreSQL: a transaction-scoped advisory lock per Clerk session.
#[cfg(feature = "postgres")]
const POSTGRES: SessionSql = SessionSql {
    begin: "BEGIN",
    lock: Some("SELECT pg_advisory_xact_lock($1, hashtext($2))"),
    upsert: "INSERT INTO clerk_sessions (id, data, clerk_sid, expires_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
             clerk_sid = excluded.clerk_sid, expires_at = excluded.expires_at",
    nth_newest: "SELECT seq FROM clerk_sessions WHERE clerk_sid = $1 \
                 ORDER BY seq DESC LIMIT 1 OFFSET $2",
    evict: "DELETE FROM clerk_sessions WHERE clerk_sid = $1 AND seq <= $2",
    load: "SELECT data FROM clerk_sessions WHERE id = $1 AND expires_at > $2",
    delete: "DELETE FROM clerk_sessions WHERE id = $1",
    sweep_some: Some(
        "DELETE FROM clerk_sessions WHERE id IN (SELECT id FROM clerk_sessions \
         WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
    ),
};

/// MySQL/MariaDB: the row lock of `(5, sid)` in `clerk_store_locks` (as the mirror locks
/// Clerk ids); the sweeps and deletes free it once its sid has no records left
/// ([`mysql_sweep_some`], [`mysql_delete`]), so lock rows do not accumulate either.
#[cfg(feature = "mysql")]
const MYSQL: SessionSql = SessionSql {
    begin: "BEGIN",
    lock: Some(
        "INSERT INTO clerk_store_locks (kind, lock_key) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE lock_key = lock_key",
    ),
    upsert: "INSERT INTO clerk_sessions (id, data, clerk_sid, expires_at) VALUES (?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE data = VALUES(data), clerk_sid = VALUES(clerk_sid), \
             expires_at = VALUES(expires_at)",
    nth_newest: "SELECT seq FROM clerk_sessions WHERE clerk_sid = ? \
                 ORDER BY seq DESC LIMIT 1 OFFSET ?",
    evict: "DELETE FROM clerk_sessions WHERE clerk_sid = ? AND seq <= ?",
    load: "SELECT data FROM clerk_sessions WHERE id = ? AND expires_at > ?",
    delete: "DELETE FROM clerk_sessions WHERE id = ?",
    sweep_some: None,
};

/// How many times a save aborted by a deadlock or a busy database runs before failing.
const ATTEMPTS: usize = 5;

/// A deadlock or serialization failure (SQLSTATE 40001: InnoDB's deadlock and PostgreSQL's
/// serialization failure; 40P01: PostgreSQL's deadlock) or a busy SQLite: running the
/// transaction again is the remedy.
fn must_rerun(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| matches!(&*code, "40001" | "40P01" | "5" | "6" | "261" | "517"))
}

fn store_error(backend: &str, e: sqlx::Error) -> SessionStoreError {
    SessionStoreError(format!("{backend}: {e}"))
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One save: the upsert, then (for a record of a Clerk session) the eviction of that
/// session's records beyond the newest [`MAX_SESSIONS_PER_SID`], in one transaction.
async fn save_once<DB>(
    pool: &Pool<DB>,
    sql: &SessionSql,
    lock_kind: i32,
    id: &str,
    session: &StoredSession,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'e> &'e mut DB::Connection: Executor<'e, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let mut tx = pool.begin_with(sql.begin).await?;
    if let (Some(lock), Some(sid)) = (sql.lock, &session.clerk_sid) {
        sqlx::query::<DB>(lock)
            .bind(lock_kind)
            .bind(sid.clone())
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query::<DB>(sql.upsert)
        .bind(id.to_owned())
        .bind(session.data.clone())
        .bind(session.clerk_sid.clone())
        .bind(session.expires_at.as_millis())
        .execute(&mut *tx)
        .await?;
    if let Some(sid) = &session.clerk_sid {
        let oldest_kept_next: Option<i64> = sqlx::query_scalar::<DB, i64>(sql.nth_newest)
            .bind(sid.clone())
            .bind(to_i64(MAX_SESSIONS_PER_SID))
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(seq) = oldest_kept_next {
            sqlx::query::<DB>(sql.evict)
                .bind(sid.clone())
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

async fn save<DB>(
    pool: &Pool<DB>,
    sql: &SessionSql,
    lock_kind: i32,
    id: &str,
    session: &StoredSession,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'e> &'e mut DB::Connection: Executor<'e, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let mut attempt = 1;
    loop {
        match save_once(pool, sql, lock_kind, id, session).await {
            Err(e) if attempt < ATTEMPTS && must_rerun(&e) => attempt += 1,
            result => return result,
        }
    }
}

async fn load<DB>(
    pool: &Pool<DB>,
    sql: &SessionSql,
    id: &str,
    now: UnixTime,
) -> Result<Option<Vec<u8>>, sqlx::Error>
where
    DB: Database,
    for<'e> &'e Pool<DB>: Executor<'e, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    sqlx::query_scalar::<DB, Vec<u8>>(sql.load)
        .bind(id.to_owned())
        .bind(now.as_millis())
        .fetch_optional(pool)
        .await
}

async fn delete<DB>(pool: &Pool<DB>, sql: &SessionSql, id: &str) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'e> &'e Pool<DB>: Executor<'e, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(sql.delete)
        .bind(id.to_owned())
        .execute(pool)
        .await
        .map(drop)
}

/// Deletes at most `limit` records expired by `now`; returns the result of the deletion.
async fn sweep_some<DB>(
    pool: &Pool<DB>,
    statement: &'static str,
    now: UnixTime,
    limit: u64,
) -> Result<DB::QueryResult, sqlx::Error>
where
    DB: Database,
    for<'e> &'e Pool<DB>: Executor<'e, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    sqlx::query::<DB>(statement)
        .bind(now.as_millis())
        .bind(limit)
        .execute(pool)
        .await
}

/// Deletes the `clerk_store_locks` rows of those `sids` that have no records left (a save
/// re-creates its row when it needs it).
#[cfg(feature = "mysql")]
async fn mysql_free_locks(pool: &MySqlPool, sids: &[String]) -> Result<(), sqlx::Error> {
    if sids.is_empty() {
        return Ok(());
    }
    let placeholders = vec!["?"; sids.len()].join(", ");
    let sql = format!(
        "DELETE FROM clerk_store_locks WHERE kind = {MYSQL_LOCK_KIND} AND lock_key IN ({placeholders}) \
         AND NOT EXISTS (SELECT 1 FROM clerk_sessions s \
         WHERE s.clerk_sid = clerk_store_locks.lock_key COLLATE utf8mb4_bin)"
    );
    let mut query = sqlx::query(&sql);
    for sid in sids {
        query = query.bind(sid);
    }
    query.execute(pool).await.map(drop)
}

/// MySQL's bounded sweep: the ids (and sids) of at most `limit` expired records, their
/// deletion (still expired: a record saved again meanwhile stays), then the lock rows of the
/// sids left without records. Bounded work, like the other dialects' single statement.
#[cfg(feature = "mysql")]
async fn mysql_sweep_some(pool: &MySqlPool, now: UnixTime, limit: u64) -> Result<u64, sqlx::Error> {
    let expired: Vec<(String, Option<String>)> = sqlx::query_as(
        // Binary-collated columns come back as VARBINARY: read them as text.
        "SELECT CAST(id AS CHAR CHARACTER SET utf8mb4), \
         CAST(clerk_sid AS CHAR CHARACTER SET utf8mb4) \
         FROM clerk_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
    )
    .bind(now.as_millis())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    if expired.is_empty() {
        return Ok(0);
    }
    let placeholders = vec!["?"; expired.len()].join(", ");
    let sql =
        format!("DELETE FROM clerk_sessions WHERE expires_at <= ? AND id IN ({placeholders})");
    let mut query = sqlx::query(&sql).bind(now.as_millis());
    for (id, _) in &expired {
        query = query.bind(id);
    }
    let swept = query.execute(pool).await?.rows_affected();
    let mut sids: Vec<String> = expired.into_iter().filter_map(|(_, sid)| sid).collect();
    sids.sort_unstable();
    sids.dedup();
    mysql_free_locks(pool, &sids).await?;
    Ok(swept)
}

/// MySQL's delete: the record, then its sid's lock row when that was its last record.
#[cfg(feature = "mysql")]
async fn mysql_delete(pool: &MySqlPool, id: &str) -> Result<(), sqlx::Error> {
    let sid: Option<Option<String>> = sqlx::query_scalar(
        "SELECT CAST(clerk_sid AS CHAR CHARACTER SET utf8mb4) FROM clerk_sessions WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    delete(pool, &MYSQL, id).await?;
    if let Some(Some(sid)) = sid {
        mysql_free_locks(pool, &[sid]).await?;
    }
    Ok(())
}

#[derive(Clone)]
enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
    #[cfg(feature = "mysql")]
    MySql(MySqlPool),
}

/// Session records in the database of a [`SqliteStore`](crate::SqliteStore),
/// [`PostgresStore`](crate::PostgresStore) or [`MySqlStore`](crate::MySqlStore) (table
/// `clerk_sessions`, created by their `migrate`), on the same pool: every instance sharing the
/// database serves the sessions any of them established, and a restart signs no one out.
///
/// Get one from the store (`SqliteStore::session_store`, [`AnyStore::session_store`](crate::AnyStore::session_store), …)
/// or over a pool (`SqlSessionStore::sqlite`, …). Clones share the pool.
///
/// The rules of [`clerk_core::flow::records`]:
/// - a record is never loaded at or after its `expires_at` (`WHERE expires_at > now`);
/// - a save is an upsert that keeps the record's `seq` (its place in the "oldest" order:
///   re-saving an existing id does not count as a new record), then, when the record belongs
///   to a Clerk session, deletes that session's records beyond the newest
///   [`MAX_SESSIONS_PER_SID`], in the same transaction. Saves of one Clerk session take
///   turns (SQLite's `BEGIN IMMEDIATE`; an advisory lock on PostgreSQL; a row of
///   `clerk_store_locks` on MySQL, deleted again with the sid's last record), so the bound
///   holds under concurrent saves too;
/// - expired rows are deleted **opportunistically**: every [`Self::SWEEP_EVERY`]th save by
///   this value (and its clones) deletes at most [`Self::SWEEP_BATCH`] expired records after
///   it commits. Records are only ever created by saves, and each sweep can delete more rows
///   than the saves between two sweeps create, so expired rows cannot accumulate, without a
///   background task to start, supervise and stop with the application (nor a runtime for
///   it). [`SessionStore::sweep`] deletes every expired record at once, for a maintenance job.
///
/// A failed save after a deadlock or a busy database is run again (up to 5 times).
#[derive(Clone)]
pub struct SqlSessionStore {
    backend: Backend,
    saves: Arc<AtomicU64>,
}

impl fmt::Debug for SqlSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlSessionStore")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl SqlSessionStore {
    /// Every how many saves one runs a bounded sweep of expired records.
    pub const SWEEP_EVERY: u64 = 64;
    /// At most how many expired records one opportunistic sweep deletes.
    pub const SWEEP_BATCH: u64 = 256;

    fn new(backend: Backend) -> Self {
        SqlSessionStore {
            backend,
            saves: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sessions on a SQLite pool (migrated by [`SqliteStore::migrate`](crate::SqliteStore::migrate)).
    #[cfg(feature = "sqlite")]
    #[must_use]
    pub fn sqlite(pool: SqlitePool) -> Self {
        Self::new(Backend::Sqlite(pool))
    }

    /// Sessions on a PostgreSQL pool (migrated by [`PostgresStore::migrate`](crate::PostgresStore::migrate)).
    #[cfg(feature = "postgres")]
    #[must_use]
    pub fn postgres(pool: PgPool) -> Self {
        Self::new(Backend::Postgres(pool))
    }

    /// Sessions on a MySQL/MariaDB pool (migrated by [`MySqlStore::migrate`](crate::MySqlStore::migrate)).
    #[cfg(feature = "mysql")]
    #[must_use]
    pub fn mysql(pool: MySqlPool) -> Self {
        Self::new(Backend::MySql(pool))
    }

    /// `"SQLite"`, `"PostgreSQL"` or `"MySQL"`, for messages.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "SQLite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "PostgreSQL",
            #[cfg(feature = "mysql")]
            Backend::MySql(_) => "MySQL",
        }
    }

    async fn sweep_some(&self, now: UnixTime, limit: u64) -> Result<u64, SessionStoreError> {
        let result = match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => match SQLITE.sweep_some {
                Some(statement) => sweep_some(pool, statement, now, limit)
                    .await
                    .map(|done| done.rows_affected()),
                None => Ok(0),
            },
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => match POSTGRES.sweep_some {
                Some(statement) => sweep_some(pool, statement, now, limit)
                    .await
                    .map(|done| done.rows_affected()),
                None => Ok(0),
            },
            #[cfg(feature = "mysql")]
            Backend::MySql(pool) => mysql_sweep_some(pool, now, limit).await,
        };
        result.map_err(|e| store_error(self.backend_name(), e))
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn load(&self, id: &str, now: UnixTime) -> Result<Option<Vec<u8>>, SessionStoreError> {
        let result = match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => load(pool, &SQLITE, id, now).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => load(pool, &POSTGRES, id, now).await,
            #[cfg(feature = "mysql")]
            Backend::MySql(pool) => load(pool, &MYSQL, id, now).await,
        };
        result.map_err(|e| store_error(self.backend_name(), e))
    }

    async fn save(
        &self,
        id: &str,
        session: StoredSession,
        now: UnixTime,
    ) -> Result<(), SessionStoreError> {
        if session.expires_at <= now {
            return self.delete(id).await;
        }
        let result = match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => save(pool, &SQLITE, 0, id, &session).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => save(pool, &POSTGRES, PG_LOCK_KIND, id, &session).await,
            #[cfg(feature = "mysql")]
            Backend::MySql(pool) => save(pool, &MYSQL, MYSQL_LOCK_KIND, id, &session).await,
        };
        result.map_err(|e| store_error(self.backend_name(), e))?;
        let saves = self.saves.fetch_add(1, Ordering::Relaxed) + 1;
        if saves % Self::SWEEP_EVERY == 0 {
            // The save succeeded: a failing sweep only leaves expired rows for the next one.
            let _ = self.sweep_some(now, Self::SWEEP_BATCH).await;
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        let result = match &self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => delete(pool, &SQLITE, id).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => delete(pool, &POSTGRES, id).await,
            #[cfg(feature = "mysql")]
            Backend::MySql(pool) => mysql_delete(pool, id).await,
        };
        result.map_err(|e| store_error(self.backend_name(), e))
    }

    async fn sweep(&self, now: UnixTime) -> Result<u64, SessionStoreError> {
        // In batches, so no statement holds locks on a large backlog for long.
        const BATCH: u64 = 1_000;
        let mut total = 0;
        loop {
            let swept = self.sweep_some(now, BATCH).await?;
            total += swept;
            if swept < BATCH {
                return Ok(total);
            }
        }
    }
}
