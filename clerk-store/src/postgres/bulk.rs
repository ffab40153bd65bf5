//! The batched path for a page of user upserts (see `crate::bulk`): advisory locks on all
//! Clerk ids in one statement (sorted, so two batched writers take them in the same order),
//! the rows by Clerk id and by email `FOR UPDATE` in two statements, one multi-row
//! `INSERT … SELECT FROM unnest(…)` and one multi-row `UPDATE … FROM unnest(…)`.

use std::collections::HashMap;

use clerk_core::model::{User, UserId};
use clerk_core::store::rules::UserUpsert;
use clerk_core::store::{Applied, Change, Effect, StoreError};
use clerk_core::time::UnixTime;
use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::change::{update_clerk_fields, USER_LOCK_KIND};
use super::classify;
use super::rows::{ms, user_from_row, USER_COLUMNS};
use crate::bulk::{index_rows, UserBatch};

/// Applies `changes` batched inside the open transaction, or returns `Ok(None)` without
/// writing when the batch must go change by change (locks taken stay: the change-by-change
/// path takes the same ones again).
pub(super) async fn apply_user_upserts(
    conn: &mut PgConnection,
    changes: &[Change],
    now: UnixTime,
) -> Result<Option<Vec<Applied>>, StoreError> {
    let Some(batch) = UserBatch::of(changes) else {
        return Ok(None);
    };
    let mut sorted = batch.clerk_ids.clone();
    sorted.sort_unstable();
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(id)) FROM unnest($2::text[]) AS id")
        .bind(USER_LOCK_KIND)
        .bind(&sorted)
        .execute(&mut *conn)
        .await
        .map_err(classify)?;
    let by_id = users(conn, "clerk_id = ANY($1)", &batch.clerk_ids).await?;
    let by_email = users(
        conn,
        "deleted_at IS NULL AND email IS NOT NULL AND lower(email) = ANY($1)",
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
    let new_ids = insert_users(conn, &inserts).await?;
    let updates: Vec<(UserId, &clerk_core::model::ClerkUserData)> = batch
        .items
        .iter()
        .zip(&decisions)
        .filter_map(|((data, _), d)| match d {
            UserUpsert::Update(id) => Some((*id, *data)),
            _ => None,
        })
        .collect();
    update_users(conn, &updates, now).await?;

    let mut applied = Vec::with_capacity(decisions.len());
    for ((data, _), decision) in batch.items.iter().zip(decisions) {
        applied.push(match decision {
            UserUpsert::Insert => {
                let id = new_ids.get(&data.clerk_id).copied().ok_or_else(|| {
                    StoreError::backend("a batched insert returned no id for a user")
                })?;
                Applied::user(Effect::Created, id)
            }
            UserUpsert::Update(id) => Applied::user(Effect::Updated, id),
            UserUpsert::Link(id) => {
                // Rare (a local row taking its Clerk id): one statement each.
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
    conn: &mut PgConnection,
    condition: &str,
    keys: &[String],
) -> Result<Vec<User>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {USER_COLUMNS} FROM clerk_users WHERE {condition} FOR UPDATE");
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

fn json_text(value: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

/// One `INSERT … SELECT FROM unnest(…)` of every row; the new ids by Clerk id.
async fn insert_users(
    conn: &mut PgConnection,
    users: &[User],
) -> Result<HashMap<String, UserId>, StoreError> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let text = |f: fn(&User) -> &Option<String>| users.iter().map(f).cloned().collect::<Vec<_>>();
    let flag = |f: fn(&User) -> bool| users.iter().map(f).collect::<Vec<_>>();
    let when =
        |f: fn(&User) -> Option<UnixTime>| users.iter().map(|u| ms(f(u))).collect::<Vec<_>>();
    let metadata = users
        .iter()
        .map(|u| json_text(&u.public_metadata))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = sqlx::query(
        "INSERT INTO clerk_users (clerk_id, email, email_verified, username, first_name, \
         last_name, image_url, public_metadata, external_id, banned, locked, is_active, is_staff, \
         is_superuser, password_hash, clerk_created_at, clerk_updated_at, last_sign_in_at, \
         last_login, last_logout, created_at, updated_at, deleted_at) \
         SELECT clerk_id, email, email_verified, username, first_name, last_name, image_url, \
         public_metadata::jsonb, external_id, banned, locked, is_active, is_staff, is_superuser, \
         password_hash, clerk_created_at, clerk_updated_at, last_sign_in_at, last_login, \
         last_logout, created_at, updated_at, deleted_at \
         FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::bool[], $11::bool[], $12::bool[], $13::bool[], \
         $14::bool[], $15::text[], $16::int8[], $17::int8[], $18::int8[], $19::int8[], \
         $20::int8[], $21::int8[], $22::int8[], $23::int8[]) \
         AS v(clerk_id, email, email_verified, username, first_name, last_name, image_url, \
         public_metadata, external_id, banned, locked, is_active, is_staff, is_superuser, \
         password_hash, clerk_created_at, clerk_updated_at, last_sign_in_at, last_login, \
         last_logout, created_at, updated_at, deleted_at) \
         RETURNING id, clerk_id",
    )
    .bind(text(|u| &u.clerk_id))
    .bind(text(|u| &u.email))
    .bind(flag(|u| u.email_verified))
    .bind(text(|u| &u.username))
    .bind(text(|u| &u.first_name))
    .bind(text(|u| &u.last_name))
    .bind(text(|u| &u.image_url))
    .bind(metadata)
    .bind(text(|u| &u.external_id))
    .bind(flag(|u| u.banned))
    .bind(flag(|u| u.locked))
    .bind(flag(|u| u.is_active))
    .bind(flag(|u| u.is_staff))
    .bind(flag(|u| u.is_superuser))
    .bind(text(|u| &u.password_hash))
    .bind(when(|u| u.clerk_created_at))
    .bind(when(|u| u.clerk_updated_at))
    .bind(when(|u| u.last_sign_in_at))
    .bind(when(|u| u.last_login))
    .bind(when(|u| u.last_logout))
    .bind(
        users
            .iter()
            .map(|u| u.created_at.as_millis())
            .collect::<Vec<_>>(),
    )
    .bind(
        users
            .iter()
            .map(|u| u.updated_at.as_millis())
            .collect::<Vec<_>>(),
    )
    .bind(when(|u| u.deleted_at))
    .fetch_all(&mut *conn)
    .await
    .map_err(classify)?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let clerk_id: String = row.try_get("clerk_id")?;
            Ok((clerk_id, UserId(id)))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(classify)
}

/// One `UPDATE … FROM unnest(…)` of the Clerk-owned columns of every row (as
/// `update_clerk_fields` without linking).
async fn update_users(
    conn: &mut PgConnection,
    updates: &[(UserId, &clerk_core::model::ClerkUserData)],
    now: UnixTime,
) -> Result<(), StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&clerk_core::model::ClerkUserData) -> &Option<String>| {
        updates
            .iter()
            .map(|(_, d)| f(d))
            .cloned()
            .collect::<Vec<_>>()
    };
    let metadata = updates
        .iter()
        .map(|(_, d)| json_text(&d.public_metadata))
        .collect::<Result<Vec<_>, _>>()?;
    sqlx::query(
        "UPDATE clerk_users AS u SET email = v.email, email_verified = v.email_verified, \
         username = v.username, first_name = v.first_name, last_name = v.last_name, \
         image_url = v.image_url, public_metadata = v.public_metadata::jsonb, \
         external_id = v.external_id, banned = v.banned, locked = v.locked, \
         clerk_created_at = v.clerk_created_at, clerk_updated_at = v.clerk_updated_at, \
         last_sign_in_at = v.last_sign_in_at, updated_at = $14 \
         FROM unnest($1::int8[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::bool[], $11::bool[], $12::int8[], $13::int8[], \
         $15::int8[]) AS v(id, email, email_verified, username, first_name, last_name, \
         image_url, public_metadata, external_id, banned, locked, clerk_created_at, \
         clerk_updated_at, last_sign_in_at) \
         WHERE u.id = v.id",
    )
    .bind(updates.iter().map(|(id, _)| id.0).collect::<Vec<_>>())
    .bind(text(|d| &d.email))
    .bind(
        updates
            .iter()
            .map(|(_, d)| d.email_verified)
            .collect::<Vec<_>>(),
    )
    .bind(text(|d| &d.username))
    .bind(text(|d| &d.first_name))
    .bind(text(|d| &d.last_name))
    .bind(text(|d| &d.image_url))
    .bind(metadata)
    .bind(text(|d| &d.external_id))
    .bind(updates.iter().map(|(_, d)| d.banned).collect::<Vec<_>>())
    .bind(updates.iter().map(|(_, d)| d.locked).collect::<Vec<_>>())
    .bind(
        updates
            .iter()
            .map(|(_, d)| d.created_at.as_millis())
            .collect::<Vec<_>>(),
    )
    .bind(
        updates
            .iter()
            .map(|(_, d)| d.updated_at.as_millis())
            .collect::<Vec<_>>(),
    )
    .bind(now.as_millis())
    .bind(
        updates
            .iter()
            .map(|(_, d)| ms(d.last_sign_in_at))
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}
