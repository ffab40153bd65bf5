//! `clerk_webhook_held` (deliveries acknowledged but held for an operator) for every SQL
//! backend, once: the statements in each placeholder style, the reads and the insert, and the
//! row decoding (the held user kept as JSON, the reason by its stable name).

use clerk_core::model::{ClerkUserData, HeldEvent, HoldReason};
use clerk_core::store::StoreError;
use clerk_core::time::UnixTime;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

/// The JSON kept in `payload`: what Clerk said about the user, in full.
pub(crate) fn payload(held: &HeldEvent) -> Result<String, StoreError> {
    serde_json::to_string(&held.user).map_err(StoreError::backend)
}

/// A held delivery from a row of `clerk_webhook_held` (all six columns).
pub(crate) fn held_from_row<'r, R>(row: &'r R) -> Result<HeldEvent, sqlx::Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let reason: String = row.try_get("reason")?;
    let payload: String = row.try_get("payload")?;
    let user: ClerkUserData =
        serde_json::from_str(&payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let mut held = HeldEvent::new(
        row.try_get::<String, _>("svix_id")?,
        row.try_get::<String, _>("event_type")?,
        HoldReason::from_name(&reason)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown hold reason {reason:?}").into()))?,
        user,
        UnixTime::from_millis(row.try_get("held_at")?),
    );
    held.resolved_at = row
        .try_get::<Option<i64>, _>("resolved_at")?
        .map(UnixTime::from_millis);
    Ok(held)
}

/// The held-delivery statements in one backend's placeholder style: the backends share
/// these and the functions below, and differ only in their connection types.
pub(crate) struct HeldSql {
    insert: &'static str,
    /// Marks a held delivery resolved: `resolved_at`, then `svix_id`.
    pub(crate) release: &'static str,
    /// Whether a delivery is held at all: `svix_id`.
    pub(crate) exists: &'static str,
    one: &'static str,
    open: &'static str,
}

/// `?` placeholders: SQLite and MySQL.
pub(crate) const QMARK: HeldSql = HeldSql {
    insert: "INSERT INTO clerk_webhook_held \
             (svix_id, event_type, reason, payload, held_at, resolved_at) \
             VALUES (?, ?, ?, ?, ?, NULL)",
    release: "UPDATE clerk_webhook_held SET resolved_at = ? \
              WHERE svix_id = ? AND resolved_at IS NULL",
    exists: "SELECT 1 FROM clerk_webhook_held WHERE svix_id = ?",
    one: "SELECT svix_id, event_type, reason, payload, held_at, resolved_at \
          FROM clerk_webhook_held WHERE svix_id = ?",
    open: "SELECT svix_id, event_type, reason, payload, held_at, resolved_at \
           FROM clerk_webhook_held WHERE resolved_at IS NULL ORDER BY held_at, svix_id LIMIT ?",
};

/// `$n` placeholders: PostgreSQL.
pub(crate) const DOLLAR: HeldSql = HeldSql {
    insert: "INSERT INTO clerk_webhook_held \
             (svix_id, event_type, reason, payload, held_at, resolved_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
    release: "UPDATE clerk_webhook_held SET resolved_at = $1 \
              WHERE svix_id = $2 AND resolved_at IS NULL",
    exists: "SELECT 1 FROM clerk_webhook_held WHERE svix_id = $1",
    one: "SELECT svix_id, event_type, reason, payload, held_at, resolved_at \
          FROM clerk_webhook_held WHERE svix_id = $1",
    open: "SELECT svix_id, event_type, reason, payload, held_at, resolved_at \
           FROM clerk_webhook_held WHERE resolved_at IS NULL ORDER BY held_at, svix_id LIMIT $1",
};

const COUNT_OPEN: &str = "SELECT COUNT(*) FROM clerk_webhook_held WHERE resolved_at IS NULL";

/// [`ChangeTarget::hold_event`](clerk_core::store::dispatch::ChangeTarget::hold_event).
pub(crate) async fn hold<'c, DB, E>(
    conn: E,
    sql: &HeldSql,
    held: &HeldEvent,
    classify: fn(sqlx::Error) -> StoreError,
) -> Result<(), StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(sql.insert)
        .bind(held.svix_id.clone())
        .bind(held.event_type.clone())
        .bind(held.reason.as_str())
        .bind(payload(held)?)
        .bind(held.held_at.as_millis())
        .execute(conn)
        .await
        .map_err(classify)?;
    Ok(())
}

/// [`LedgerStore::held_event`](clerk_core::store::LedgerStore::held_event).
pub(crate) async fn held_one<'c, DB, E>(
    conn: E,
    sql: &HeldSql,
    svix_id: &str,
    classify: fn(sqlx::Error) -> StoreError,
) -> Result<Option<HeldEvent>, StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let row = sqlx::query::<DB>(sql.one)
        .bind(svix_id.to_owned())
        .fetch_optional(conn)
        .await
        .map_err(classify)?;
    row.as_ref()
        .map(held_from_row)
        .transpose()
        .map_err(classify)
}

/// [`LedgerStore::held_events`](clerk_core::store::LedgerStore::held_events).
pub(crate) async fn held_open<'c, DB, E>(
    conn: E,
    sql: &HeldSql,
    limit: usize,
    classify: fn(sqlx::Error) -> StoreError,
) -> Result<Vec<HeldEvent>, StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let rows = sqlx::query::<DB>(sql.open)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(conn)
        .await
        .map_err(classify)?;
    rows.iter()
        .map(held_from_row)
        .collect::<Result<_, _>>()
        .map_err(classify)
}

/// [`LedgerStore::count_held_events`](clerk_core::store::LedgerStore::count_held_events).
pub(crate) async fn count_open<'c, DB, E>(
    conn: E,
    classify: fn(sqlx::Error) -> StoreError,
) -> Result<u64, StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let count: i64 = sqlx::query_scalar::<DB, i64>(COUNT_OPEN)
        .fetch_one(conn)
        .await
        .map_err(classify)?;
    Ok(u64::try_from(count).unwrap_or(0))
}
