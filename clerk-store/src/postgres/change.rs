//! The PostgreSQL storage primitives ([`ChangeTarget`]) inside a batch's transaction; the
//! decisions are [`clerk_core::store::dispatch`]'s.
//!
//! Locking: every change first takes (through [`ChangeTarget::lock`]) a transaction-scoped advisory lock on the Clerk id it
//! decides on (`pg_advisory_xact_lock(kind, hashtext(clerk_id))`), which serializes two
//! transactions racing on the same object even when its row does not exist yet (two inserts
//! would otherwise both decide "insert", and the loser would see a unique violation instead
//! of the winner's row). Rows reached by other keys (an email holder, a local id) are read
//! `FOR UPDATE`. A deadlock between batches that touch several objects in different orders
//! is detected by PostgreSQL and retried by `apply`.

use clerk_core::model::{
    ClerkUserData, HeldEvent, Invitation, Membership, Organization, RevokedSession, User, UserId,
    WebhookEvent,
};
use clerk_core::store::dispatch::{
    ChangeTarget, LockKind, LockMode, Release, SessionField, UserKey,
};
use clerk_core::store::{Applied, Change, StoreError};
use clerk_core::time::UnixTime;
use sqlx::postgres::PgConnection;
use sqlx::types::Json;

use super::rows::{
    invitation_row, membership_row, ms, organization_row, user_where, webhook_event_row, Key, Lock,
    BY_CLERK_ID, BY_ID, BY_LIVE_EMAIL, BY_LOCAL_USERNAME,
};
use super::{bulk, classify};
use crate::held;

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

/// The open transaction of one batch.
pub(super) struct PgTx<'c> {
    pub(super) conn: &'c mut PgConnection,
}

impl ChangeTarget for PgTx<'_> {
    async fn lock(&mut self, kind: LockKind, key: &str, mode: LockMode) -> Result<(), StoreError> {
        let kind = match kind {
            LockKind::User => Kind::User,
            LockKind::Organization => Kind::Organization,
            LockKind::Membership => Kind::Membership,
            LockKind::Invitation => Kind::Invitation,
        };
        lock_key(self.conn, kind, key, mode == LockMode::Shared).await
    }

    async fn record_receipt(
        &mut self,
        receipt: &WebhookEvent,
    ) -> Result<Option<WebhookEvent>, StoreError> {
        // A concurrent transaction inserting the same svix id makes this wait until it
        // ends: committed → 0 rows here; rolled back → inserted here.
        let inserted = sqlx::query(
            "INSERT INTO clerk_webhook_events (svix_id, event_type, processed_at) \
             VALUES ($1, $2, $3) ON CONFLICT (svix_id) DO NOTHING",
        )
        .bind(&receipt.svix_id)
        .bind(&receipt.event_type)
        .bind(receipt.processed_at.as_millis())
        .execute(&mut *self.conn)
        .await
        .map_err(classify)?
        .rows_affected();
        if inserted > 0 {
            return Ok(None);
        }
        match webhook_event_row(self.conn, &receipt.svix_id).await? {
            Some(event) => Ok(Some(event)),
            None => Err(StoreError::backend(
                "webhook receipt neither inserted nor found",
            )),
        }
    }

    async fn hold_event(&mut self, held: &HeldEvent) -> Result<(), StoreError> {
        held::hold(&mut *self.conn, &held::DOLLAR, held, classify).await
    }

    async fn release_held(&mut self, svix_id: &str, at: UnixTime) -> Result<Release, StoreError> {
        let released = sqlx::query(held::DOLLAR.release)
            .bind(at.as_millis())
            .bind(svix_id)
            .execute(&mut *self.conn)
            .await
            .map_err(classify)?
            .rows_affected();
        if released > 0 {
            return Ok(Release::Released);
        }
        let held = sqlx::query(held::DOLLAR.exists)
            .bind(svix_id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(classify)?;
        Ok(if held.is_some() {
            Release::AlreadyResolved
        } else {
            Release::NotHeld
        })
    }

    async fn apply_bulk(
        &mut self,
        changes: &[Change],
        now: UnixTime,
    ) -> Result<Option<Vec<Applied>>, StoreError> {
        bulk::apply_user_upserts(self.conn, changes, now).await
    }

    async fn user(&mut self, key: UserKey<'_>) -> Result<Option<User>, StoreError> {
        let (condition, key) = match key {
            UserKey::Id(id) => (BY_ID, Key::Int(id.0)),
            UserKey::ClerkId(clerk_id) => (BY_CLERK_ID, Key::Text(clerk_id)),
            UserKey::LiveEmail(email) => (BY_LIVE_EMAIL, Key::Text(email)),
            UserKey::LocalUsername(name) => (BY_LOCAL_USERNAME, Key::Text(name)),
        };
        user_where(self.conn, condition, key, Lock::ForUpdate).await
    }

    async fn insert_user(&mut self, user: &User) -> Result<UserId, StoreError> {
        insert_user(self.conn, user).await
    }

    async fn write_clerk_fields(
        &mut self,
        id: UserId,
        data: &ClerkUserData,
        link: bool,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        update_clerk_fields(self.conn, id, data, link, now).await
    }

    async fn tombstone_user(
        &mut self,
        id: UserId,
        at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE clerk_users SET email = NULL, email_verified = FALSE, username = NULL, \
             first_name = NULL, last_name = NULL, image_url = NULL, \
             public_metadata = '{}'::jsonb, external_id = NULL, banned = FALSE, locked = FALSE, \
             clerk_created_at = NULL, clerk_updated_at = NULL, last_sign_in_at = NULL, \
             is_active = FALSE, deleted_at = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(at.as_millis())
        .bind(now.as_millis())
        .bind(id.0)
        .execute(&mut *self.conn)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn write_session(
        &mut self,
        id: UserId,
        field: SessionField,
        at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let sql = match field {
            SessionField::Login => {
                "UPDATE clerk_users SET last_login = $1, updated_at = $2 WHERE id = $3"
            }
            SessionField::Logout => {
                "UPDATE clerk_users SET last_logout = $1, updated_at = $2 WHERE id = $3"
            }
        };
        sqlx::query(sql)
            .bind(at.as_millis())
            .bind(now.as_millis())
            .bind(id.0)
            .execute(&mut *self.conn)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn write_local_fields(&mut self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE clerk_users SET is_active = $1, is_staff = $2, is_superuser = $3, \
             password_hash = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(user.is_active)
        .bind(user.is_staff)
        .bind(user.is_superuser)
        .bind(&user.password_hash)
        .bind(user.updated_at.as_millis())
        .bind(user.id.0)
        .execute(&mut *self.conn)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn insert_revoked_session(
        &mut self,
        session: &RevokedSession,
    ) -> Result<bool, StoreError> {
        // Two transactions inserting one session id serialize on its primary key.
        let inserted = sqlx::query(
            "INSERT INTO clerk_revoked_sessions (session_id, user_clerk_id, status, \
             revoked_at) VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO NOTHING",
        )
        .bind(&session.session_id)
        .bind(&session.user_clerk_id)
        .bind(&session.status)
        .bind(session.revoked_at.as_millis())
        .execute(&mut *self.conn)
        .await
        .map_err(classify)?
        .rows_affected();
        Ok(inserted > 0)
    }

    async fn organization(
        &mut self,
        clerk_id: &str,
        for_update: bool,
    ) -> Result<Option<Organization>, StoreError> {
        let lock = if for_update {
            Lock::ForUpdate
        } else {
            Lock::No
        };
        organization_row(self.conn, clerk_id, lock).await
    }

    async fn put_organization(&mut self, org: &Organization) -> Result<(), StoreError> {
        upsert_organization_row(self.conn, org).await
    }

    async fn end_memberships(
        &mut self,
        organization_clerk_id: &str,
        at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE clerk_organization_memberships SET role = '', \
             permissions = '[]'::jsonb, clerk_created_at = NULL, clerk_updated_at = NULL, \
             deleted_at = $1, updated_at = $2 \
             WHERE organization_clerk_id = $3 AND deleted_at IS NULL",
        )
        .bind(at.as_millis())
        .bind(now.as_millis())
        .bind(organization_clerk_id)
        .execute(&mut *self.conn)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn membership(&mut self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        membership_row(self.conn, clerk_id, Lock::ForUpdate).await
    }

    async fn put_membership(&mut self, membership: &Membership) -> Result<(), StoreError> {
        upsert_membership_row(self.conn, membership).await
    }

    async fn invitation(&mut self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        invitation_row(self.conn, clerk_id, Lock::ForUpdate).await
    }

    async fn put_invitation(&mut self, invitation: &Invitation) -> Result<(), StoreError> {
        upsert_invitation_row(self.conn, invitation).await
    }
}
