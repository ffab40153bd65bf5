//! `clerk_login_failures` (failed staff logins by key, for the login throttle) for every SQL
//! backend, once: the statements in each placeholder style and the
//! [`LoginAttemptStore`](clerk_core::store::LoginAttemptStore) methods, generic over sqlx's
//! `Database` like [`held`](crate::held).

use clerk_core::store::StoreError;
use clerk_core::time::UnixTime;
use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Type};

/// The statements in one backend's placeholder style.
pub(crate) struct FailureSql {
    /// Forgets every failure before `$1`.
    prune: &'static str,
    /// `INSERT … VALUES` without the rows: [`record`] appends one `(key, at)` per key.
    insert: &'static str,
    /// Whether placeholders are `$n` (PostgreSQL) rather than `?`.
    numbered: bool,
    /// The newest failures of `$1` at `$2` or later, at most `$3`.
    recent: &'static str,
    /// Forgets every failure of `$1`.
    clear: &'static str,
}

/// `?` placeholders: SQLite and MySQL.
pub(crate) const QMARK: FailureSql = FailureSql {
    prune: "DELETE FROM clerk_login_failures WHERE failed_at < ?",
    insert: "INSERT INTO clerk_login_failures (login_key, failed_at) VALUES ",
    numbered: false,
    recent: "SELECT failed_at FROM clerk_login_failures WHERE login_key = ? AND failed_at >= ? \
             ORDER BY failed_at DESC LIMIT ?",
    clear: "DELETE FROM clerk_login_failures WHERE login_key = ?",
};

/// `$n` placeholders: PostgreSQL.
pub(crate) const DOLLAR: FailureSql = FailureSql {
    prune: "DELETE FROM clerk_login_failures WHERE failed_at < $1",
    insert: "INSERT INTO clerk_login_failures (login_key, failed_at) VALUES ",
    numbered: true,
    recent: "SELECT failed_at FROM clerk_login_failures WHERE login_key = $1 \
             AND failed_at >= $2 ORDER BY failed_at DESC LIMIT $3",
    clear: "DELETE FROM clerk_login_failures WHERE login_key = $1",
};

impl FailureSql {
    /// The insert of `rows` rows.
    fn insert_rows(&self, rows: usize) -> String {
        let mut sql = self.insert.to_owned();
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            if self.numbered {
                sql.push_str(&format!("(${}, ${})", 2 * row + 1, 2 * row + 2));
            } else {
                sql.push_str("(?, ?)");
            }
        }
        sql
    }
}

/// [`LoginAttemptStore::record_login_failure`](clerk_core::store::LoginAttemptStore::record_login_failure):
/// the prune, then one insert of every key.
pub(crate) async fn record<'c, DB, E>(
    conn: E,
    sql: &FailureSql,
    keys: &[&str],
    at: UnixTime,
    forget_before: UnixTime,
    classify: fn(sqlx::Error) -> StoreError,
) -> Result<(), StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB> + Copy,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(sql.prune)
        .bind(forget_before.as_millis())
        .execute(conn)
        .await
        .map_err(classify)?;
    if keys.is_empty() {
        return Ok(());
    }
    let insert = sql.insert_rows(keys.len());
    let mut query = sqlx::query::<DB>(&insert);
    for key in keys {
        query = query.bind((*key).to_owned()).bind(at.as_millis());
    }
    query.execute(conn).await.map_err(classify)?;
    Ok(())
}

/// [`LoginAttemptStore::recent_login_failures`](clerk_core::store::LoginAttemptStore::recent_login_failures).
pub(crate) async fn recent<'c, DB, E>(
    conn: E,
    sql: &FailureSql,
    key: &str,
    since: UnixTime,
    limit: usize,
    classify: fn(sqlx::Error) -> StoreError,
) -> Result<Vec<UnixTime>, StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let rows: Vec<i64> = sqlx::query_scalar::<DB, i64>(sql.recent)
        .bind(key.to_owned())
        .bind(since.as_millis())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(conn)
        .await
        .map_err(classify)?;
    Ok(rows.into_iter().map(UnixTime::from_millis).collect())
}

/// [`LoginAttemptStore::clear_login_failures`](clerk_core::store::LoginAttemptStore::clear_login_failures).
pub(crate) async fn clear<'c, DB, E>(
    conn: E,
    sql: &FailureSql,
    key: &str,
    classify: fn(sqlx::Error) -> StoreError,
) -> Result<(), StoreError>
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(sql.clear)
        .bind(key.to_owned())
        .execute(conn)
        .await
        .map_err(classify)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_one_row_per_key_in_each_style() {
        assert_eq!(
            QMARK.insert_rows(2),
            "INSERT INTO clerk_login_failures (login_key, failed_at) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(
            DOLLAR.insert_rows(2),
            "INSERT INTO clerk_login_failures (login_key, failed_at) VALUES ($1, $2), ($3, $4)"
        );
    }
}
