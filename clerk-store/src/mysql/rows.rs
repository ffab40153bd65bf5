//! Row decoding and the reads shared by the pool and the write transaction.

use clerk_core::model::{
    Invitation, InvitationStatus, Membership, Organization, RevokedSession, User, UserId,
    WebhookEvent,
};
use clerk_core::store::StoreError;
use clerk_core::time::UnixTime;
use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::Row;

use super::classify;

pub(super) fn ms(t: Option<UnixTime>) -> Option<i64> {
    t.map(UnixTime::as_millis)
}

fn time(row: &MySqlRow, column: &str) -> Result<Option<UnixTime>, sqlx::Error> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(UnixTime::from_millis))
}

fn json_value(row: &MySqlRow, column: &str) -> Result<serde_json::Value, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn json_strings(row: &MySqlRow, column: &str) -> Result<Vec<String>, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub(super) fn value_json(value: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

pub(super) fn strings_json(value: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) const USER_COLUMNS: &str = "id, clerk_id, email, email_verified, username, first_name, \
    last_name, image_url, public_metadata, external_id, banned, locked, is_active, is_staff, \
    is_superuser, password_hash, clerk_created_at, clerk_updated_at, last_sign_in_at, \
    last_login, last_logout, created_at, updated_at, deleted_at";

pub(super) fn user_from_row(row: &MySqlRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: UserId(row.try_get("id")?),
        clerk_id: row.try_get("clerk_id")?,
        email: row.try_get("email")?,
        email_verified: row.try_get("email_verified")?,
        username: row.try_get("username")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        image_url: row.try_get("image_url")?,
        public_metadata: json_value(row, "public_metadata")?,
        external_id: row.try_get("external_id")?,
        banned: row.try_get("banned")?,
        locked: row.try_get("locked")?,
        is_active: row.try_get("is_active")?,
        is_staff: row.try_get("is_staff")?,
        is_superuser: row.try_get("is_superuser")?,
        password_hash: row.try_get("password_hash")?,
        clerk_created_at: time(row, "clerk_created_at")?,
        clerk_updated_at: time(row, "clerk_updated_at")?,
        last_sign_in_at: time(row, "last_sign_in_at")?,
        last_login: time(row, "last_login")?,
        last_logout: time(row, "last_logout")?,
        created_at: UnixTime::from_millis(row.try_get("created_at")?),
        updated_at: UnixTime::from_millis(row.try_get("updated_at")?),
        deleted_at: time(row, "deleted_at")?,
    })
}

pub(super) const ORG_COLUMNS: &str =
    "clerk_id, name, slug, image_url, public_metadata, members_count, \
    clerk_created_at, clerk_updated_at, created_at, updated_at, deleted_at";

pub(super) fn org_from_row(row: &MySqlRow) -> Result<Organization, sqlx::Error> {
    Ok(Organization {
        clerk_id: row.try_get("clerk_id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
        image_url: row.try_get("image_url")?,
        public_metadata: json_value(row, "public_metadata")?,
        members_count: row.try_get("members_count")?,
        clerk_created_at: time(row, "clerk_created_at")?,
        clerk_updated_at: time(row, "clerk_updated_at")?,
        created_at: UnixTime::from_millis(row.try_get("created_at")?),
        updated_at: UnixTime::from_millis(row.try_get("updated_at")?),
        deleted_at: time(row, "deleted_at")?,
    })
}

pub(super) const MEMBERSHIP_COLUMNS: &str =
    "clerk_id, organization_clerk_id, user_clerk_id, role, \
    permissions, clerk_created_at, clerk_updated_at, created_at, updated_at, deleted_at";

pub(super) fn membership_from_row(row: &MySqlRow) -> Result<Membership, sqlx::Error> {
    Ok(Membership {
        clerk_id: row.try_get("clerk_id")?,
        organization_clerk_id: row.try_get("organization_clerk_id")?,
        user_clerk_id: row.try_get("user_clerk_id")?,
        role: row.try_get("role")?,
        permissions: json_strings(row, "permissions")?,
        clerk_created_at: time(row, "clerk_created_at")?,
        clerk_updated_at: time(row, "clerk_updated_at")?,
        created_at: UnixTime::from_millis(row.try_get("created_at")?),
        updated_at: UnixTime::from_millis(row.try_get("updated_at")?),
        deleted_at: time(row, "deleted_at")?,
    })
}

pub(super) const INVITATION_COLUMNS: &str = "clerk_id, organization_clerk_id, user_clerk_id, \
    email_address, role, status, clerk_created_at, clerk_updated_at, created_at, updated_at";

pub(super) fn invitation_from_row(row: &MySqlRow) -> Result<Invitation, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Invitation {
        clerk_id: row.try_get("clerk_id")?,
        organization_clerk_id: row.try_get("organization_clerk_id")?,
        user_clerk_id: row.try_get("user_clerk_id")?,
        email_address: row.try_get("email_address")?,
        role: row.try_get("role")?,
        status: InvitationStatus::parse(&status),
        clerk_created_at: time(row, "clerk_created_at")?,
        clerk_updated_at: time(row, "clerk_updated_at")?,
        created_at: UnixTime::from_millis(row.try_get("created_at")?),
        updated_at: UnixTime::from_millis(row.try_get("updated_at")?),
    })
}

pub(super) fn event_from_row(row: &MySqlRow) -> Result<WebhookEvent, sqlx::Error> {
    Ok(WebhookEvent {
        svix_id: row.try_get("svix_id")?,
        event_type: row.try_get("event_type")?,
        processed_at: UnixTime::from_millis(row.try_get("processed_at")?),
    })
}

pub(super) fn revoked_from_row(row: &MySqlRow) -> Result<RevokedSession, sqlx::Error> {
    Ok(RevokedSession {
        session_id: row.try_get("session_id")?,
        user_clerk_id: row.try_get("user_clerk_id")?,
        status: row.try_get("status")?,
        revoked_at: UnixTime::from_millis(row.try_get("revoked_at")?),
    })
}

pub(super) async fn user_where(
    conn: &mut MySqlConnection,
    condition: &str,
    key: Key<'_>,
    lock: &str,
) -> Result<Option<User>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM clerk_users WHERE {condition} ORDER BY id LIMIT 1{lock}"
    );
    let query = sqlx::query(&sql);
    let query = match key {
        Key::Int(i) => query.bind(i),
        Key::Text(s) => query.bind(s),
    };
    let row = query.fetch_optional(&mut *conn).await.map_err(classify)?;
    row.as_ref()
        .map(user_from_row)
        .transpose()
        .map_err(classify)
}

#[derive(Clone, Copy)]
pub(super) enum Key<'a> {
    Int(i64),
    Text(&'a str),
}

/// A locking read inside the write transaction.
pub(super) const FOR_UPDATE: &str = " FOR UPDATE";
/// A shared locking read (the row guards a decision about another row).
pub(super) const SHARED: &str = " LOCK IN SHARE MODE";
/// A plain read (the pool's readers).
pub(super) const PLAIN: &str = "";

pub(super) const BY_ID: &str = "id = ?";
pub(super) const BY_CLERK_ID: &str = "clerk_id = ? COLLATE utf8mb4_bin";
pub(super) const BY_LIVE_EMAIL: &str =
    "deleted_at IS NULL AND email IS NOT NULL AND live_email = lower(?)";
pub(super) const BY_LOCAL_USERNAME: &str = "live_local_username = ? COLLATE utf8mb4_bin";

pub(super) async fn organization_row(
    conn: &mut MySqlConnection,
    clerk_id: &str,
    lock: &str,
) -> Result<Option<Organization>, StoreError> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM clerk_organizations WHERE clerk_id = ?{lock}");
    let row = sqlx::query(&sql)
        .bind(clerk_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(classify)?;
    row.as_ref().map(org_from_row).transpose().map_err(classify)
}

pub(super) async fn membership_row(
    conn: &mut MySqlConnection,
    clerk_id: &str,
    lock: &str,
) -> Result<Option<Membership>, StoreError> {
    let sql = format!(
        "SELECT {MEMBERSHIP_COLUMNS} FROM clerk_organization_memberships WHERE clerk_id = ?{lock}"
    );
    let row = sqlx::query(&sql)
        .bind(clerk_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(classify)?;
    row.as_ref()
        .map(membership_from_row)
        .transpose()
        .map_err(classify)
}

pub(super) async fn invitation_row(
    conn: &mut MySqlConnection,
    clerk_id: &str,
    lock: &str,
) -> Result<Option<Invitation>, StoreError> {
    let sql = format!(
        "SELECT {INVITATION_COLUMNS} FROM clerk_organization_invitations WHERE clerk_id = ?{lock}"
    );
    let row = sqlx::query(&sql)
        .bind(clerk_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(classify)?;
    row.as_ref()
        .map(invitation_from_row)
        .transpose()
        .map_err(classify)
}

pub(super) async fn webhook_event_row(
    conn: &mut MySqlConnection,
    svix_id: &str,
    lock: &str,
) -> Result<Option<WebhookEvent>, StoreError> {
    let sql = format!(
        "SELECT svix_id, event_type, processed_at FROM clerk_webhook_events WHERE svix_id = ?{lock}"
    );
    let row = sqlx::query(&sql)
        .bind(svix_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(classify)?;
    row.as_ref()
        .map(event_from_row)
        .transpose()
        .map_err(classify)
}
