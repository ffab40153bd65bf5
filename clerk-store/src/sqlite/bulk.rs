//! The batched path for a page of user upserts (see `crate::bulk`): the rows by Clerk id and
//! by email in two statements (`IN (SELECT value FROM json_each(?))`), the inserts as
//! multi-row `INSERT … VALUES (…), (…) RETURNING id, clerk_id`, updates one statement each
//! (rare in a sync). The caller's `BEGIN IMMEDIATE` already excludes other writers.

use std::collections::HashMap;

use clerk_core::model::{User, UserId};
use clerk_core::store::rules::UserUpsert;
use clerk_core::store::{Applied, Change, Effect, StoreError};
use clerk_core::time::UnixTime;
use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

use super::change::update_clerk_fields;
use super::classify;
use super::rows::{ms, user_from_row, value_json, USER_COLUMNS};
use crate::bulk::{index_rows, UserBatch};

/// Rows per multi-row insert: 23 parameters each stays far under SQLite's 32,766.
const INSERT_CHUNK: usize = 500;

/// Applies `changes` batched inside the open transaction, or returns `Ok(None)` without
/// writing when the batch must go change by change.
pub(super) async fn apply_user_upserts(
    conn: &mut SqliteConnection,
    changes: &[Change],
    now: UnixTime,
) -> Result<Option<Vec<Applied>>, StoreError> {
    let Some(batch) = UserBatch::of(changes) else {
        return Ok(None);
    };
    let by_id = users(
        conn,
        "clerk_id IN (SELECT value FROM json_each(?))",
        &batch.clerk_ids,
    )
    .await?;
    let by_email = users(
        conn,
        "deleted_at IS NULL AND email IS NOT NULL AND lower(email) IN (SELECT value FROM json_each(?))",
        &batch.emails,
    )
    .await?;
    let Some((existing, holders)) = index_rows(by_id, by_email) else {
        return Ok(None);
    };
    let decisions = match batch.plan(&existing, &holders) {
        None => return Ok(None),
        Some(decisions) => decisions?,
    };

    let inserts: Vec<User> = batch
        .items
        .iter()
        .zip(&decisions)
        .filter(|(_, d)| matches!(d, UserUpsert::Insert))
        .map(|((data, _), _)| User::from_clerk(UserId(0), data, now))
        .collect();
    let mut new_ids = HashMap::with_capacity(inserts.len());
    for chunk in inserts.chunks(INSERT_CHUNK) {
        insert_users(conn, chunk, &mut new_ids).await?;
    }

    let mut applied = Vec::with_capacity(decisions.len());
    for ((data, _), decision) in batch.items.iter().zip(decisions) {
        applied.push(match decision {
            UserUpsert::Insert => {
                let id = new_ids.get(&data.clerk_id).copied().ok_or_else(|| {
                    StoreError::backend("a batched insert returned no id for a user")
                })?;
                Applied::user(Effect::Created, id)
            }
            UserUpsert::Update(id) => {
                update_clerk_fields(conn, id, data, false, now).await?;
                Applied::user(Effect::Updated, id)
            }
            UserUpsert::Link(id) => {
                update_clerk_fields(conn, id, data, true, now).await?;
                Applied::user(Effect::Linked, id)
            }
            UserUpsert::Unchanged(id) => Applied::user(Effect::Unchanged, id),
            UserUpsert::Gone(id) => Applied::user(Effect::Gone, id),
        });
    }
    Ok(Some(applied))
}

async fn users(
    conn: &mut SqliteConnection,
    condition: &str,
    keys: &[String],
) -> Result<Vec<User>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let keys = serde_json::to_string(keys).map_err(StoreError::backend)?;
    let sql = format!("SELECT {USER_COLUMNS} FROM clerk_users WHERE {condition}");
    let rows = sqlx::query(&sql)
        .bind(keys)
        .fetch_all(&mut *conn)
        .await
        .map_err(classify)?;
    rows.iter()
        .map(user_from_row)
        .collect::<Result<_, _>>()
        .map_err(classify)
}

/// One multi-row insert; records each new id by Clerk id.
async fn insert_users(
    conn: &mut SqliteConnection,
    users: &[User],
    new_ids: &mut HashMap<String, UserId>,
) -> Result<(), StoreError> {
    if users.is_empty() {
        return Ok(());
    }
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let sql = format!(
        "INSERT INTO clerk_users (clerk_id, email, email_verified, username, first_name, \
         last_name, image_url, public_metadata, external_id, banned, locked, is_active, is_staff, \
         is_superuser, password_hash, clerk_created_at, clerk_updated_at, last_sign_in_at, \
         last_login, last_logout, created_at, updated_at, deleted_at) VALUES {} \
         RETURNING id, clerk_id",
        vec![row; users.len()].join(", ")
    );
    let mut query = sqlx::query(&sql);
    for u in users {
        query = query
            .bind(u.clerk_id.clone())
            .bind(u.email.clone())
            .bind(u.email_verified)
            .bind(u.username.clone())
            .bind(u.first_name.clone())
            .bind(u.last_name.clone())
            .bind(u.image_url.clone())
            .bind(value_json(&u.public_metadata)?)
            .bind(u.external_id.clone())
            .bind(u.banned)
            .bind(u.locked)
            .bind(u.is_active)
            .bind(u.is_staff)
            .bind(u.is_superuser)
            .bind(u.password_hash.clone())
            .bind(ms(u.clerk_created_at))
            .bind(ms(u.clerk_updated_at))
            .bind(ms(u.last_sign_in_at))
            .bind(ms(u.last_login))
            .bind(ms(u.last_logout))
            .bind(u.created_at.as_millis())
            .bind(u.updated_at.as_millis())
            .bind(ms(u.deleted_at));
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(classify)?;
    for row in &rows {
        let id: i64 = row.try_get("id").map_err(classify)?;
        let clerk_id: String = row.try_get("clerk_id").map_err(classify)?;
        new_ids.insert(clerk_id, UserId(id));
    }
    Ok(())
}
