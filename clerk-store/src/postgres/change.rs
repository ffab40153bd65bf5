//! One [`Change`] inside the batch's transaction: lock, read, decide with
//! [`clerk_core::store::rules`], write.
//!
//! Locking: every change first takes a transaction-scoped advisory lock on the Clerk id it
//! decides on (`pg_advisory_xact_lock(kind, hashtext(clerk_id))`), which serializes two
//! transactions racing on the same object even when its row does not exist yet (two inserts
//! would otherwise both decide "insert", and the loser would see a unique violation instead
//! of the winner's row). Rows reached by other keys (an email holder, a local id) are read
//! `FOR UPDATE`. A deadlock between batches that touch several objects in different orders
//! is detected by PostgreSQL and retried by `apply`.

use clerk_core::model::{ClerkUserData, Invitation, Membership, Organization, User, UserId};
use clerk_core::store::rules::{self, Upsert, UserUpsert};
use clerk_core::store::{Applied, Change, Effect, StoreError, UserRef};
use clerk_core::time::UnixTime;
use sqlx::postgres::PgConnection;
use sqlx::types::Json;

use super::classify;
use super::rows::{
    invitation_row, membership_row, ms, organization_row, user_where, Key, Lock, BY_CLERK_ID,
    BY_ID, BY_LIVE_EMAIL, BY_LOCAL_USERNAME,
};

/// Advisory-lock namespaces (the first half of the two-key form).
#[derive(Clone, Copy)]
#[repr(i32)]
enum Kind {
    User = 0x636c_0001,
    Organization = 0x636c_0002,
    Membership = 0x636c_0003,
    Invitation = 0x636c_0004,
}

/// The advisory-lock namespace of users (for the batched path, which locks in one statement).
pub(super) const USER_LOCK_KIND: i32 = Kind::User as i32;

/// Takes the transaction-scoped advisory lock on `(kind, clerk_id)`: exclusive, or shared
/// (several shared holders at once, none while an exclusive one is held).
async fn lock_key(
    conn: &mut PgConnection,
    kind: Kind,
    clerk_id: &str,
    shared: bool,
) -> Result<(), StoreError> {
    let sql = if shared {
        "SELECT pg_advisory_xact_lock_shared($1, hashtext($2))"
    } else {
        "SELECT pg_advisory_xact_lock($1, hashtext($2))"
    };
    sqlx::query(sql)
        .bind(kind as i32)
        .bind(clerk_id)
        .execute(&mut *conn)
        .await
        .map_err(classify)?;
    Ok(())
}

async fn insert_user(conn: &mut PgConnection, u: &User) -> Result<UserId, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO clerk_users (clerk_id, email, email_verified, username, first_name, \
         last_name, image_url, public_metadata, external_id, banned, locked, is_active, is_staff, \
         is_superuser, password_hash, clerk_created_at, clerk_updated_at, last_sign_in_at, \
         last_login, last_logout, created_at, updated_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23) RETURNING id",
    )
    .bind(&u.clerk_id)
    .bind(&u.email)
    .bind(u.email_verified)
    .bind(&u.username)
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.image_url)
    .bind(Json(&u.public_metadata))
    .bind(&u.external_id)
    .bind(u.banned)
    .bind(u.locked)
    .bind(u.is_active)
    .bind(u.is_staff)
    .bind(u.is_superuser)
    .bind(&u.password_hash)
    .bind(ms(u.clerk_created_at))
    .bind(ms(u.clerk_updated_at))
    .bind(ms(u.last_sign_in_at))
    .bind(ms(u.last_login))
    .bind(ms(u.last_logout))
    .bind(u.created_at.as_millis())
    .bind(u.updated_at.as_millis())
    .bind(ms(u.deleted_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(UserId(id))
}

/// Writes the Clerk-owned columns only (and `clerk_id` when linking).
pub(super) async fn update_clerk_fields(
    conn: &mut PgConnection,
    id: UserId,
    data: &ClerkUserData,
    link: bool,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE clerk_users SET clerk_id = CASE WHEN $1 THEN $2 ELSE clerk_id END, email = $3, \
         email_verified = $4, username = $5, first_name = $6, last_name = $7, image_url = $8, \
         public_metadata = $9, external_id = $10, banned = $11, locked = $12, \
         clerk_created_at = $13, clerk_updated_at = $14, last_sign_in_at = $15, \
         updated_at = $16 WHERE id = $17",
    )
    .bind(link)
    .bind(&data.clerk_id)
    .bind(&data.email)
    .bind(data.email_verified)
    .bind(&data.username)
    .bind(&data.first_name)
    .bind(&data.last_name)
    .bind(&data.image_url)
    .bind(Json(&data.public_metadata))
    .bind(&data.external_id)
    .bind(data.banned)
    .bind(data.locked)
    .bind(data.created_at.as_millis())
    .bind(data.updated_at.as_millis())
    .bind(ms(data.last_sign_in_at))
    .bind(now.as_millis())
    .bind(id.0)
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

async fn upsert_organization_row(
    conn: &mut PgConnection,
    org: &Organization,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO clerk_organizations (clerk_id, name, slug, image_url, public_metadata, \
         members_count, clerk_created_at, clerk_updated_at, created_at, updated_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (clerk_id) DO UPDATE SET name = excluded.name, slug = excluded.slug, \
         image_url = excluded.image_url, public_metadata = excluded.public_metadata, \
         members_count = excluded.members_count, clerk_created_at = excluded.clerk_created_at, \
         clerk_updated_at = excluded.clerk_updated_at, updated_at = excluded.updated_at, \
         deleted_at = excluded.deleted_at",
    )
    .bind(&org.clerk_id)
    .bind(&org.name)
    .bind(&org.slug)
    .bind(&org.image_url)
    .bind(Json(&org.public_metadata))
    .bind(org.members_count)
    .bind(ms(org.clerk_created_at))
    .bind(ms(org.clerk_updated_at))
    .bind(org.created_at.as_millis())
    .bind(org.updated_at.as_millis())
    .bind(ms(org.deleted_at))
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

async fn upsert_membership_row(conn: &mut PgConnection, m: &Membership) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO clerk_organization_memberships (clerk_id, organization_clerk_id, \
         user_clerk_id, role, permissions, clerk_created_at, clerk_updated_at, created_at, \
         updated_at, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
         organization_clerk_id = excluded.organization_clerk_id, \
         user_clerk_id = excluded.user_clerk_id, role = excluded.role, \
         permissions = excluded.permissions, clerk_created_at = excluded.clerk_created_at, \
         clerk_updated_at = excluded.clerk_updated_at, updated_at = excluded.updated_at, \
         deleted_at = excluded.deleted_at",
    )
    .bind(&m.clerk_id)
    .bind(&m.organization_clerk_id)
    .bind(&m.user_clerk_id)
    .bind(&m.role)
    .bind(Json(&m.permissions))
    .bind(ms(m.clerk_created_at))
    .bind(ms(m.clerk_updated_at))
    .bind(m.created_at.as_millis())
    .bind(m.updated_at.as_millis())
    .bind(ms(m.deleted_at))
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

async fn upsert_invitation_row(conn: &mut PgConnection, i: &Invitation) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO clerk_organization_invitations (clerk_id, organization_clerk_id, \
         user_clerk_id, email_address, role, status, clerk_created_at, clerk_updated_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (clerk_id) DO UPDATE SET \
         organization_clerk_id = excluded.organization_clerk_id, \
         user_clerk_id = excluded.user_clerk_id, email_address = excluded.email_address, \
         role = excluded.role, status = excluded.status, \
         clerk_created_at = excluded.clerk_created_at, \
         clerk_updated_at = excluded.clerk_updated_at, updated_at = excluded.updated_at",
    )
    .bind(&i.clerk_id)
    .bind(&i.organization_clerk_id)
    .bind(&i.user_clerk_id)
    .bind(&i.email_address)
    .bind(&i.role)
    .bind(i.status.as_str())
    .bind(ms(i.clerk_created_at))
    .bind(ms(i.clerk_updated_at))
    .bind(i.created_at.as_millis())
    .bind(i.updated_at.as_millis())
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

async fn resolve_user(conn: &mut PgConnection, user: &UserRef) -> Result<Option<User>, StoreError> {
    match user {
        UserRef::Id(id) => user_where(conn, BY_ID, Key::Int(id.0), Lock::ForUpdate).await,
        UserRef::ClerkId(clerk_id) => {
            user_where(conn, BY_CLERK_ID, Key::Text(clerk_id), Lock::ForUpdate).await
        }
    }
}

async fn record_session(
    conn: &mut PgConnection,
    user: &UserRef,
    at: UnixTime,
    now: UnixTime,
    login: bool,
) -> Result<Applied, StoreError> {
    let Some(row) = resolve_user(conn, user).await? else {
        return Ok(Applied::new(Effect::NotFound));
    };
    if row.is_deleted() {
        return Ok(Applied::user(Effect::Gone, row.id));
    }
    let (stored, sql) = if login {
        (
            row.last_login,
            "UPDATE clerk_users SET last_login = $1, updated_at = $2 WHERE id = $3",
        )
    } else {
        (
            row.last_logout,
            "UPDATE clerk_users SET last_logout = $1, updated_at = $2 WHERE id = $3",
        )
    };
    let Some(at) = rules::later(stored, at) else {
        return Ok(Applied::user(Effect::Unchanged, row.id));
    };
    sqlx::query(sql)
        .bind(at.as_millis())
        .bind(now.as_millis())
        .bind(row.id.0)
        .execute(&mut *conn)
        .await
        .map_err(classify)?;
    Ok(Applied::user(Effect::Updated, row.id))
}

fn effect_of(decision: Upsert) -> Effect {
    match decision {
        Upsert::Insert => Effect::Created,
        Upsert::Update => Effect::Updated,
        Upsert::Unchanged => Effect::Unchanged,
        Upsert::Gone => Effect::Gone,
    }
}

/// Applies one change inside the batch's transaction (an error rolls the whole batch back).
pub(super) async fn apply_change(
    conn: &mut PgConnection,
    change: Change,
    now: UnixTime,
) -> Result<Applied, StoreError> {
    match change {
        Change::UpsertUser { data, link } => {
            rules::require_id("clerk user id", &data.clerk_id)?;
            lock_key(conn, Kind::User, &data.clerk_id, false).await?;
            let existing = user_where(
                conn,
                BY_CLERK_ID,
                Key::Text(&data.clerk_id),
                Lock::ForUpdate,
            )
            .await?;
            let holder = match data.email.as_deref() {
                Some(email) => {
                    user_where(conn, BY_LIVE_EMAIL, Key::Text(email), Lock::ForUpdate).await?
                }
                None => None,
            };
            match rules::user_upsert(existing.as_ref(), holder.as_ref(), &data, link)? {
                UserUpsert::Insert => {
                    let id = insert_user(conn, &User::from_clerk(UserId(0), &data, now)).await?;
                    Ok(Applied::user(Effect::Created, id))
                }
                UserUpsert::Update(id) => {
                    update_clerk_fields(conn, id, &data, false, now).await?;
                    Ok(Applied::user(Effect::Updated, id))
                }
                UserUpsert::Link(id) => {
                    update_clerk_fields(conn, id, &data, true, now).await?;
                    Ok(Applied::user(Effect::Linked, id))
                }
                UserUpsert::Unchanged(id) => Ok(Applied::user(Effect::Unchanged, id)),
                UserUpsert::Gone(id) => Ok(Applied::user(Effect::Gone, id)),
            }
        }
        Change::DeleteUser { clerk_id, at } => {
            rules::require_id("clerk user id", &clerk_id)?;
            lock_key(conn, Kind::User, &clerk_id, false).await?;
            match user_where(conn, BY_CLERK_ID, Key::Text(&clerk_id), Lock::ForUpdate).await? {
                Some(row) if row.is_deleted() => Ok(Applied::user(Effect::Gone, row.id)),
                Some(row) => {
                    sqlx::query(
                        "UPDATE clerk_users SET email = NULL, email_verified = FALSE, \
                         username = NULL, first_name = NULL, last_name = NULL, image_url = NULL, \
                         public_metadata = '{}'::jsonb, external_id = NULL, banned = FALSE, \
                         locked = FALSE, clerk_created_at = NULL, clerk_updated_at = NULL, \
                         last_sign_in_at = NULL, is_active = FALSE, deleted_at = $1, \
                         updated_at = $2 WHERE id = $3",
                    )
                    .bind(at.as_millis())
                    .bind(now.as_millis())
                    .bind(row.id.0)
                    .execute(&mut *conn)
                    .await
                    .map_err(classify)?;
                    Ok(Applied::user(Effect::Deleted, row.id))
                }
                None => {
                    let tomb = User::tombstone(UserId(0), &clerk_id, at, now);
                    let id = insert_user(conn, &tomb).await?;
                    Ok(Applied::user(Effect::Deleted, id))
                }
            }
        }
        Change::RecordLogin { user, at } => record_session(conn, &user, at, now, true).await,
        Change::RecordLogout { user, at } => record_session(conn, &user, at, now, false).await,
        Change::RevokeSession(session) => {
            rules::require_id("session id", &session.session_id)?;
            // Two transactions inserting one session id serialize on its primary key.
            let inserted = sqlx::query(
                "INSERT INTO clerk_revoked_sessions (session_id, user_clerk_id, status, \
                 revoked_at) VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(&session.session_id)
            .bind(&session.user_clerk_id)
            .bind(&session.status)
            .bind(session.revoked_at.as_millis())
            .execute(&mut *conn)
            .await
            .map_err(classify)?
            .rows_affected();
            Ok(Applied::new(if inserted == 0 {
                Effect::Unchanged
            } else {
                Effect::Created
            }))
        }
        Change::UpsertOrganization(data) => {
            rules::require_id("clerk organization id", &data.clerk_id)?;
            lock_key(conn, Kind::Organization, &data.clerk_id, false).await?;
            let existing = organization_row(conn, &data.clerk_id, Lock::ForUpdate).await?;
            let decision = rules::ordered_upsert(
                existing
                    .as_ref()
                    .map(|o| (o.is_deleted(), o.clerk_updated_at)),
                data.updated_at,
            );
            let row = match (decision, existing) {
                (Upsert::Insert, _) => Some(Organization::from_clerk(&data, now)),
                (Upsert::Update, Some(mut org)) => {
                    org.apply_clerk(&data, now);
                    Some(org)
                }
                _ => None,
            };
            if let Some(row) = row {
                upsert_organization_row(conn, &row).await?;
            }
            Ok(Applied::new(effect_of(decision)))
        }
        Change::DeleteOrganization { clerk_id, at } => {
            rules::require_id("clerk organization id", &clerk_id)?;
            // Exclusive: waits for membership upserts of this organization in flight (they
            // hold the shared lock), so none of them adds a live membership after this ends
            // the live ones.
            lock_key(conn, Kind::Organization, &clerk_id, false).await?;
            let row = match organization_row(conn, &clerk_id, Lock::ForUpdate).await? {
                Some(org) if org.is_deleted() => return Ok(Applied::new(Effect::Gone)),
                Some(mut org) => {
                    org.mark_deleted(at, now);
                    org
                }
                None => Organization::tombstone(&clerk_id, at, now),
            };
            upsert_organization_row(conn, &row).await?;
            sqlx::query(
                "UPDATE clerk_organization_memberships SET role = '', \
                 permissions = '[]'::jsonb, clerk_created_at = NULL, clerk_updated_at = NULL, \
                 deleted_at = $1, updated_at = $2 \
                 WHERE organization_clerk_id = $3 AND deleted_at IS NULL",
            )
            .bind(at.as_millis())
            .bind(now.as_millis())
            .bind(&clerk_id)
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
            Ok(Applied::new(Effect::Deleted))
        }
        Change::UpsertMembership(data) => {
            rules::require_id("clerk membership id", &data.clerk_id)?;
            rules::require_id("clerk organization id", &data.organization_clerk_id)?;
            rules::require_id("clerk user id", &data.user_clerk_id)?;
            lock_key(conn, Kind::Organization, &data.organization_clerk_id, true).await?;
            lock_key(conn, Kind::Membership, &data.clerk_id, false).await?;
            let org_deleted = organization_row(conn, &data.organization_clerk_id, Lock::No)
                .await?
                .is_some_and(|o| o.is_deleted());
            if org_deleted {
                return Ok(Applied::new(Effect::Gone));
            }
            let existing = membership_row(conn, &data.clerk_id, Lock::ForUpdate).await?;
            let decision = rules::ordered_upsert(
                existing
                    .as_ref()
                    .map(|m| (m.is_deleted(), m.clerk_updated_at)),
                data.updated_at,
            );
            let row = match (decision, existing) {
                (Upsert::Insert, _) => Some(Membership::from_clerk(&data, now)),
                (Upsert::Update, Some(mut m)) => {
                    m.apply_clerk(&data, now);
                    Some(m)
                }
                _ => None,
            };
            if let Some(row) = row {
                upsert_membership_row(conn, &row).await?;
            }
            Ok(Applied::new(effect_of(decision)))
        }
        Change::DeleteMembership {
            clerk_id,
            organization_clerk_id,
            user_clerk_id,
            at,
        } => {
            rules::require_id("clerk membership id", &clerk_id)?;
            lock_key(conn, Kind::Membership, &clerk_id, false).await?;
            let row = match membership_row(conn, &clerk_id, Lock::ForUpdate).await? {
                Some(m) if m.is_deleted() => return Ok(Applied::new(Effect::Gone)),
                Some(mut m) => {
                    m.mark_deleted(at, now);
                    m
                }
                None => Membership::tombstone(
                    &clerk_id,
                    &organization_clerk_id,
                    &user_clerk_id,
                    at,
                    now,
                ),
            };
            upsert_membership_row(conn, &row).await?;
            Ok(Applied::new(Effect::Deleted))
        }
        Change::UpsertInvitation(data) => {
            rules::require_id("clerk invitation id", &data.clerk_id)?;
            lock_key(conn, Kind::Invitation, &data.clerk_id, false).await?;
            let existing = invitation_row(conn, &data.clerk_id, Lock::ForUpdate).await?;
            let decision = rules::ordered_upsert(
                existing.as_ref().map(|i| (false, i.clerk_updated_at)),
                data.updated_at,
            );
            let row = match (decision, existing) {
                (Upsert::Insert, _) => Some(Invitation::from_clerk(&data, now)),
                (Upsert::Update, Some(mut i)) => {
                    i.apply_clerk(&data, now);
                    Some(i)
                }
                _ => None,
            };
            if let Some(row) = row {
                upsert_invitation_row(conn, &row).await?;
            }
            Ok(Applied::new(effect_of(decision)))
        }
        Change::CreateLocalUser(new) => {
            // No row to lock when the name is free: two creations racing on one username
            // (or email) meet on the partial unique index, which the loser reports as the
            // same `Conflict` the rules give sequentially.
            let email_holder = match new.email.as_deref() {
                Some(email) => {
                    user_where(conn, BY_LIVE_EMAIL, Key::Text(email), Lock::ForUpdate).await?
                }
                None => None,
            };
            let username_holder = user_where(
                conn,
                BY_LOCAL_USERNAME,
                Key::Text(&new.username),
                Lock::ForUpdate,
            )
            .await?;
            rules::local_user_create(
                &new.username,
                email_holder.as_ref(),
                username_holder.as_ref(),
            )?;
            let id = insert_user(conn, &User::from_local(UserId(0), &new, now)).await?;
            Ok(Applied::user(Effect::Created, id))
        }
        Change::UpdateLocalFields { id, patch } => {
            let Some(mut user) = user_where(conn, BY_ID, Key::Int(id.0), Lock::ForUpdate).await?
            else {
                return Ok(Applied::new(Effect::NotFound));
            };
            if user.is_deleted() {
                return Ok(Applied::user(Effect::Gone, id));
            }
            if !patch.apply_to(&mut user, now) {
                return Ok(Applied::user(Effect::Unchanged, id));
            }
            sqlx::query(
                "UPDATE clerk_users SET is_active = $1, is_staff = $2, is_superuser = $3, \
                 password_hash = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(user.is_active)
            .bind(user.is_staff)
            .bind(user.is_superuser)
            .bind(&user.password_hash)
            .bind(user.updated_at.as_millis())
            .bind(id.0)
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
            Ok(Applied::user(Effect::Updated, id))
        }
        other => Err(StoreError::Invalid(format!(
            "change not supported by the PostgreSQL store: {other:?}"
        ))),
    }
}
