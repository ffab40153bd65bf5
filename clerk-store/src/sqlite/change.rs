//! The SQLite storage primitives ([`ChangeTarget`]) inside a batch's `BEGIN IMMEDIATE`
//! transaction: the write lock is held for the whole batch, so no further locking is needed.

use clerk_core::model::{
    ClerkUserData, HeldEvent, Invitation, Membership, Organization, RevokedSession, User, UserId,
    WebhookEvent,
};
use clerk_core::store::dispatch::{ChangeTarget, Release, SessionField, UserKey};
use clerk_core::store::{Applied, Change, StoreError};
use clerk_core::time::UnixTime;
use sqlx::sqlite::SqliteConnection;

use super::rows::{
    invitation_row, membership_row, ms, organization_row, strings_json, user_where, value_json,
    webhook_event_row, Key, BY_CLERK_ID, BY_ID, BY_LIVE_EMAIL, BY_LOCAL_USERNAME,
};
use super::{bulk, classify};
use crate::held;

/// The open transaction of one batch.
pub(super) struct SqliteTx<'c> {
    pub(super) conn: &'c mut SqliteConnection,
}

impl ChangeTarget for SqliteTx<'_> {
    async fn record_receipt(
        &mut self,
        receipt: &WebhookEvent,
    ) -> Result<Option<WebhookEvent>, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO clerk_webhook_events (svix_id, event_type, processed_at) \
             VALUES (?, ?, ?) ON CONFLICT (svix_id) DO NOTHING",
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
        held::hold(&mut *self.conn, &held::QMARK, held, classify).await
    }

    async fn release_held(&mut self, svix_id: &str, at: UnixTime) -> Result<Release, StoreError> {
        let released = sqlx::query(held::QMARK.release)
            .bind(at.as_millis())
            .bind(svix_id)
            .execute(&mut *self.conn)
            .await
            .map_err(classify)?
            .rows_affected();
        if released > 0 {
            return Ok(Release::Released);
        }
        let held = sqlx::query(held::QMARK.exists)
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
        user_where(self.conn, condition, key).await
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
            "UPDATE clerk_users SET email = NULL, email_verified = 0, username = NULL, \
             first_name = NULL, last_name = NULL, image_url = NULL, public_metadata = '{}', \
             external_id = NULL, banned = 0, locked = 0, clerk_created_at = NULL, \
             clerk_updated_at = NULL, last_sign_in_at = NULL, is_active = 0, deleted_at = ?, \
             updated_at = ? WHERE id = ?",
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
                "UPDATE clerk_users SET last_login = ?, updated_at = ? WHERE id = ?"
            }
            SessionField::Logout => {
                "UPDATE clerk_users SET last_logout = ?, updated_at = ? WHERE id = ?"
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
            "UPDATE clerk_users SET is_active = ?, is_staff = ?, is_superuser = ?, \
             password_hash = ?, updated_at = ? WHERE id = ?",
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
        let inserted = sqlx::query(
            "INSERT INTO clerk_revoked_sessions (session_id, user_clerk_id, status, \
             revoked_at) VALUES (?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
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
        _for_update: bool,
    ) -> Result<Option<Organization>, StoreError> {
        organization_row(self.conn, clerk_id).await
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
            "UPDATE clerk_organization_memberships SET role = '', permissions = '[]', \
             clerk_created_at = NULL, clerk_updated_at = NULL, deleted_at = ?, \
             updated_at = ? WHERE organization_clerk_id = ? AND deleted_at IS NULL",
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
        membership_row(self.conn, clerk_id).await
    }

    async fn put_membership(&mut self, membership: &Membership) -> Result<(), StoreError> {
        upsert_membership_row(self.conn, membership).await
    }

    async fn invitation(&mut self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        invitation_row(self.conn, clerk_id).await
    }

    async fn put_invitation(&mut self, invitation: &Invitation) -> Result<(), StoreError> {
        upsert_invitation_row(self.conn, invitation).await
    }
}

// ---- row writes ----

async fn insert_user(conn: &mut SqliteConnection, u: &User) -> Result<UserId, StoreError> {
    let result = sqlx::query(
        "INSERT INTO clerk_users (clerk_id, email, email_verified, username, first_name, \
         last_name, image_url, public_metadata, external_id, banned, locked, is_active, is_staff, \
         is_superuser, password_hash, clerk_created_at, clerk_updated_at, last_sign_in_at, \
         last_login, last_logout, created_at, updated_at, deleted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&u.clerk_id)
    .bind(&u.email)
    .bind(u.email_verified)
    .bind(&u.username)
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.image_url)
    .bind(value_json(&u.public_metadata)?)
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
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(UserId(result.last_insert_rowid()))
}

/// Writes the Clerk-owned columns only (and `clerk_id` when linking).
pub(super) async fn update_clerk_fields(
    conn: &mut SqliteConnection,
    id: UserId,
    data: &ClerkUserData,
    link: bool,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE clerk_users SET clerk_id = CASE WHEN ? THEN ? ELSE clerk_id END, email = ?, \
         email_verified = ?, username = ?, first_name = ?, last_name = ?, image_url = ?, \
         public_metadata = ?, external_id = ?, banned = ?, locked = ?, clerk_created_at = ?, \
         clerk_updated_at = ?, last_sign_in_at = ?, updated_at = ? WHERE id = ?",
    )
    .bind(link)
    .bind(&data.clerk_id)
    .bind(&data.email)
    .bind(data.email_verified)
    .bind(&data.username)
    .bind(&data.first_name)
    .bind(&data.last_name)
    .bind(&data.image_url)
    .bind(value_json(&data.public_metadata)?)
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
    conn: &mut SqliteConnection,
    org: &Organization,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO clerk_organizations (clerk_id, name, slug, image_url, public_metadata, \
         members_count, clerk_created_at, clerk_updated_at, created_at, updated_at, deleted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
    .bind(value_json(&org.public_metadata)?)
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

async fn upsert_membership_row(
    conn: &mut SqliteConnection,
    m: &Membership,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO clerk_organization_memberships (clerk_id, organization_clerk_id, \
         user_clerk_id, role, permissions, clerk_created_at, clerk_updated_at, created_at, \
         updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (clerk_id) DO UPDATE SET organization_clerk_id = excluded.organization_clerk_id, \
         user_clerk_id = excluded.user_clerk_id, role = excluded.role, \
         permissions = excluded.permissions, clerk_created_at = excluded.clerk_created_at, \
         clerk_updated_at = excluded.clerk_updated_at, updated_at = excluded.updated_at, \
         deleted_at = excluded.deleted_at",
    )
    .bind(&m.clerk_id)
    .bind(&m.organization_clerk_id)
    .bind(&m.user_clerk_id)
    .bind(&m.role)
    .bind(strings_json(&m.permissions)?)
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

async fn upsert_invitation_row(
    conn: &mut SqliteConnection,
    i: &Invitation,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO clerk_organization_invitations (clerk_id, organization_clerk_id, \
         user_clerk_id, email_address, role, status, clerk_created_at, clerk_updated_at, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (clerk_id) DO UPDATE SET organization_clerk_id = excluded.organization_clerk_id, \
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
