//! [`SqliteStore`]: the store contract on SQLite, through sqlx, with embedded migrations.

mod bulk;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use clerk_core::model::{
    ClerkUserData, Invitation, InvitationStatus, Membership, Organization, RevokedSession, User,
    UserId, WebhookEvent,
};
use clerk_core::store::rules::{self, Upsert, UserUpsert};
use clerk_core::store::{
    Applied, BatchOutcome, Change, Conflict, Effect, LedgerStore, OrganizationStore, StoreError,
    StoreWriter, UserRef, UserStore, WriteBatch,
};
use clerk_core::time::UnixTime;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow,
};
use sqlx::Row;

/// The embedded migrations, in order (`migrations/sqlite/*.sql` of this crate).
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "clerk mirror",
    include_str!("../migrations/sqlite/0001_clerk_mirror.sql"),
)];

/// The embedded migrations as a sqlx [`MigrationSource`], for [`SqliteStore::migrator`].
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

/// A store on SQLite (a file, or `sqlite::memory:` with one connection).
///
/// Every batch runs in one `BEGIN IMMEDIATE` transaction, so writers queue on SQLite's write
/// lock (waiting up to the busy timeout, 5 s by default) instead of failing on a lock
/// upgrade; the webhook receipt is inserted first, so a svix id already recorded (by this
/// process or another one sharing the file) is detected before anything is written. Lock
/// timeouts and I/O failures are [`StoreError::Unavailable`] (retryable).
///
/// Tables and column names are those of [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage) (see `migrations/sqlite/`); instants are
/// `INTEGER` milliseconds, JSON columns `TEXT`. Run [`SqliteStore::migrate`] at start-up.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Connects to `url` (`sqlite://path/to/file.db`, created when missing), in WAL mode with
    /// a 5 s busy timeout.
    ///
    /// An in-memory URL (`sqlite::memory:`, or one with `mode=memory`) gets a pool of exactly
    /// one connection that is never recycled: every connection to an in-memory database is a
    /// different, empty database, and the data lives as long as that connection.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a malformed URL, [`StoreError::Unavailable`] when the
    /// database cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("sqlite url: {e}")))?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                .await
        }
        .map_err(classify)?;
        Ok(SqliteStore { pool })
    }

    /// A store over an existing pool (configure `busy_timeout` on it; WAL mode recommended).
    #[must_use]
    pub fn from_pool(pool: SqlitePool) -> Self {
        SqliteStore { pool }
    }

    /// The pool, for the application's own queries (its own tables keyed by
    /// `clerk_users.id`, reports, …).
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The embedded migrations as a sqlx [`Migrator`] (for tools that run migrations
    /// themselves).
    ///
    /// # Errors
    /// Never in practice (the migrations are compiled in).
    pub async fn migrator() -> Result<Migrator, StoreError> {
        Migrator::new(Embedded).await.map_err(StoreError::backend)
    }

    /// Creates or updates the tables. Idempotent; safe to run from several processes at once
    /// (every statement is `IF NOT EXISTS`, and a run that loses the race to record the
    /// migration retries once and then finds it applied).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached, [`StoreError::Backend`]
    /// when a migration fails or the applied history differs from the embedded one.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = SqliteStore::migrator().await?;
        match migrator.run(&self.pool).await {
            Ok(()) => Ok(()),
            Err(_) => migrator.run(&self.pool).await.map_err(classify_migrate),
        }
    }
}

fn classify_migrate(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
        other => StoreError::backend(other),
    }
}

/// Maps a sqlx error to the store's vocabulary: lock timeouts, I/O and pool failures are
/// retryable; unique violations are conflicts; the rest is a backend failure.
fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                let message = db.message();
                let conflict = if message.contains("email") {
                    Conflict::Email
                } else if message.contains("username") {
                    Conflict::Username
                } else {
                    Conflict::ClerkId
                };
                return StoreError::Conflict(conflict);
            }
            let primary = db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| c & 0xff);
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN.
            if matches!(primary, Some(5 | 6 | 10 | 13 | 14)) {
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

fn ms(t: Option<UnixTime>) -> Option<i64> {
    t.map(UnixTime::as_millis)
}

fn time(row: &SqliteRow, column: &str) -> Result<Option<UnixTime>, sqlx::Error> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(UnixTime::from_millis))
}

fn json_value(row: &SqliteRow, column: &str) -> Result<serde_json::Value, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn json_strings(row: &SqliteRow, column: &str) -> Result<Vec<String>, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn value_json(value: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

fn strings_json(value: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const USER_COLUMNS: &str = "id, clerk_id, email, email_verified, username, first_name, \
    last_name, image_url, public_metadata, external_id, banned, locked, is_active, is_staff, \
    is_superuser, password_hash, clerk_created_at, clerk_updated_at, last_sign_in_at, \
    last_login, last_logout, created_at, updated_at, deleted_at";

fn user_from_row(row: &SqliteRow) -> Result<User, sqlx::Error> {
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

const ORG_COLUMNS: &str = "clerk_id, name, slug, image_url, public_metadata, members_count, \
    clerk_created_at, clerk_updated_at, created_at, updated_at, deleted_at";

fn org_from_row(row: &SqliteRow) -> Result<Organization, sqlx::Error> {
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

const MEMBERSHIP_COLUMNS: &str = "clerk_id, organization_clerk_id, user_clerk_id, role, \
    permissions, clerk_created_at, clerk_updated_at, created_at, updated_at, deleted_at";

fn membership_from_row(row: &SqliteRow) -> Result<Membership, sqlx::Error> {
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

const INVITATION_COLUMNS: &str = "clerk_id, organization_clerk_id, user_clerk_id, \
    email_address, role, status, clerk_created_at, clerk_updated_at, created_at, updated_at";

fn invitation_from_row(row: &SqliteRow) -> Result<Invitation, sqlx::Error> {
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

fn event_from_row(row: &SqliteRow) -> Result<WebhookEvent, sqlx::Error> {
    Ok(WebhookEvent {
        svix_id: row.try_get("svix_id")?,
        event_type: row.try_get("event_type")?,
        processed_at: UnixTime::from_millis(row.try_get("processed_at")?),
    })
}

fn revoked_from_row(row: &SqliteRow) -> Result<RevokedSession, sqlx::Error> {
    Ok(RevokedSession {
        session_id: row.try_get("session_id")?,
        user_clerk_id: row.try_get("user_clerk_id")?,
        status: row.try_get("status")?,
        revoked_at: UnixTime::from_millis(row.try_get("revoked_at")?),
    })
}

// ---- reads shared by the pool and the write transaction ----

async fn user_where(
    conn: &mut SqliteConnection,
    condition: &str,
    key: Key<'_>,
) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM clerk_users WHERE {condition} LIMIT 1");
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
enum Key<'a> {
    Int(i64),
    Text(&'a str),
}

const BY_ID: &str = "id = ?";
const BY_CLERK_ID: &str = "clerk_id = ?";
const BY_LIVE_EMAIL: &str = "deleted_at IS NULL AND email IS NOT NULL AND lower(email) = lower(?)";
const BY_LOCAL_USERNAME: &str = "clerk_id IS NULL AND deleted_at IS NULL AND username = ?";

async fn organization_row(
    conn: &mut SqliteConnection,
    clerk_id: &str,
) -> Result<Option<Organization>, StoreError> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM clerk_organizations WHERE clerk_id = ?");
    let row = sqlx::query(&sql)
        .bind(clerk_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(classify)?;
    row.as_ref().map(org_from_row).transpose().map_err(classify)
}

async fn membership_row(
    conn: &mut SqliteConnection,
    clerk_id: &str,
) -> Result<Option<Membership>, StoreError> {
    let sql = format!(
        "SELECT {MEMBERSHIP_COLUMNS} FROM clerk_organization_memberships WHERE clerk_id = ?"
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

async fn invitation_row(
    conn: &mut SqliteConnection,
    clerk_id: &str,
) -> Result<Option<Invitation>, StoreError> {
    let sql = format!(
        "SELECT {INVITATION_COLUMNS} FROM clerk_organization_invitations WHERE clerk_id = ?"
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

async fn webhook_event_row(
    conn: &mut SqliteConnection,
    svix_id: &str,
) -> Result<Option<WebhookEvent>, StoreError> {
    let row = sqlx::query(
        "SELECT svix_id, event_type, processed_at FROM clerk_webhook_events WHERE svix_id = ?",
    )
    .bind(svix_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(classify)?;
    row.as_ref()
        .map(event_from_row)
        .transpose()
        .map_err(classify)
}

// ---- writes (inside the batch's transaction) ----

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
async fn update_clerk_fields(
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

async fn resolve_user(
    conn: &mut SqliteConnection,
    user: &UserRef,
) -> Result<Option<User>, StoreError> {
    match user {
        UserRef::Id(id) => user_where(conn, BY_ID, Key::Int(id.0)).await,
        UserRef::ClerkId(clerk_id) => user_where(conn, BY_CLERK_ID, Key::Text(clerk_id)).await,
    }
}

async fn record_session(
    conn: &mut SqliteConnection,
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
            "UPDATE clerk_users SET last_login = ?, updated_at = ? WHERE id = ?",
        )
    } else {
        (
            row.last_logout,
            "UPDATE clerk_users SET last_logout = ?, updated_at = ? WHERE id = ?",
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

async fn apply_change(
    conn: &mut SqliteConnection,
    change: Change,
    now: UnixTime,
) -> Result<Applied, StoreError> {
    match change {
        Change::UpsertUser { data, link } => {
            rules::require_id("clerk user id", &data.clerk_id)?;
            let existing = user_where(conn, BY_CLERK_ID, Key::Text(&data.clerk_id)).await?;
            let holder = match data.email.as_deref() {
                Some(email) => user_where(conn, BY_LIVE_EMAIL, Key::Text(email)).await?,
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
            match user_where(conn, BY_CLERK_ID, Key::Text(&clerk_id)).await? {
                Some(row) if row.is_deleted() => Ok(Applied::user(Effect::Gone, row.id)),
                Some(row) => {
                    sqlx::query(
                        "UPDATE clerk_users SET email = NULL, email_verified = 0, username = NULL, \
                         first_name = NULL, last_name = NULL, image_url = NULL, \
                         public_metadata = '{}', external_id = NULL, banned = 0, locked = 0, \
                         clerk_created_at = NULL, clerk_updated_at = NULL, \
                         last_sign_in_at = NULL, is_active = 0, deleted_at = ?, updated_at = ? \
                         WHERE id = ?",
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
            let inserted = sqlx::query(
                "INSERT INTO clerk_revoked_sessions (session_id, user_clerk_id, status, \
                 revoked_at) VALUES (?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
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
            let existing = organization_row(conn, &data.clerk_id).await?;
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
            let row = match organization_row(conn, &clerk_id).await? {
                Some(org) if org.is_deleted() => return Ok(Applied::new(Effect::Gone)),
                Some(mut org) => {
                    org.mark_deleted(at, now);
                    org
                }
                None => Organization::tombstone(&clerk_id, at, now),
            };
            upsert_organization_row(conn, &row).await?;
            sqlx::query(
                "UPDATE clerk_organization_memberships SET role = '', permissions = '[]', \
                 clerk_created_at = NULL, clerk_updated_at = NULL, deleted_at = ?, \
                 updated_at = ? WHERE organization_clerk_id = ? AND deleted_at IS NULL",
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
            let org_deleted = organization_row(conn, &data.organization_clerk_id)
                .await?
                .is_some_and(|o| o.is_deleted());
            if org_deleted {
                return Ok(Applied::new(Effect::Gone));
            }
            let existing = membership_row(conn, &data.clerk_id).await?;
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
            let row = match membership_row(conn, &clerk_id).await? {
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
            let existing = invitation_row(conn, &data.clerk_id).await?;
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
            let email_holder = match new.email.as_deref() {
                Some(email) => user_where(conn, BY_LIVE_EMAIL, Key::Text(email)).await?,
                None => None,
            };
            let username_holder =
                user_where(conn, BY_LOCAL_USERNAME, Key::Text(&new.username)).await?;
            rules::local_user_create(
                &new.username,
                email_holder.as_ref(),
                username_holder.as_ref(),
            )?;
            let id = insert_user(conn, &User::from_local(UserId(0), &new, now)).await?;
            Ok(Applied::user(Effect::Created, id))
        }
        Change::UpdateLocalFields { id, patch } => {
            let Some(mut user) = user_where(conn, BY_ID, Key::Int(id.0)).await? else {
                return Ok(Applied::new(Effect::NotFound));
            };
            if user.is_deleted() {
                return Ok(Applied::user(Effect::Gone, id));
            }
            if !patch.apply_to(&mut user, now) {
                return Ok(Applied::user(Effect::Unchanged, id));
            }
            sqlx::query(
                "UPDATE clerk_users SET is_active = ?, is_staff = ?, is_superuser = ?, \
                 password_hash = ?, updated_at = ? WHERE id = ?",
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
            "change not supported by the SQLite store: {other:?}"
        ))),
    }
}

impl SqliteStore {
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, StoreError> {
        self.pool.acquire().await.map_err(classify)
    }
}

impl UserStore for SqliteStore {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        user_where(&mut *self.conn().await?, BY_ID, Key::Int(id.0)).await
    }

    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        user_where(&mut *self.conn().await?, BY_CLERK_ID, Key::Text(clerk_id)).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        user_where(&mut *self.conn().await?, BY_LIVE_EMAIL, Key::Text(email)).await
    }

    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        user_where(
            &mut *self.conn().await?,
            BY_LOCAL_USERNAME,
            Key::Text(username),
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

impl OrganizationStore for SqliteStore {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        organization_row(&mut *self.conn().await?, clerk_id).await
    }

    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit_to: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM clerk_organizations WHERE (? IS NULL OR clerk_id > ?) \
             ORDER BY clerk_id LIMIT ?"
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
        membership_row(&mut *self.conn().await?, clerk_id).await
    }

    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM clerk_organization_memberships \
             WHERE user_clerk_id = ? AND deleted_at IS NULL \
             ORDER BY organization_clerk_id, clerk_id"
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
             ORDER BY user_clerk_id, clerk_id"
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
        invitation_row(&mut *self.conn().await?, clerk_id).await
    }
}

impl LedgerStore for SqliteStore {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        webhook_event_row(&mut *self.conn().await?, svix_id).await
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
}

impl StoreWriter for SqliteStore {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        let WriteBatch {
            now,
            receipt,
            changes,
            ..
        } = batch;
        if let Some(receipt) = &receipt {
            rules::require_id("svix id", &receipt.svix_id)?;
        }
        // IMMEDIATE: take the write lock up front (waiting up to the busy timeout) so the
        // reads the rules decide on cannot go stale before the writes.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(classify)?;
        if let Some(receipt) = &receipt {
            let inserted = sqlx::query(
                "INSERT INTO clerk_webhook_events (svix_id, event_type, processed_at) \
                 VALUES (?, ?, ?) ON CONFLICT (svix_id) DO NOTHING",
            )
            .bind(&receipt.svix_id)
            .bind(&receipt.event_type)
            .bind(receipt.processed_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
            if inserted == 0 {
                let existing = webhook_event_row(&mut tx, &receipt.svix_id).await?;
                tx.rollback().await.map_err(classify)?;
                return match existing {
                    Some(event) => Ok(BatchOutcome::AlreadyProcessed(event)),
                    None => Err(StoreError::backend(
                        "webhook receipt neither inserted nor found",
                    )),
                };
            }
        }
        // A sync page (user upserts only): a few statements for the whole page.
        if let Some(applied) = bulk::apply_user_upserts(&mut tx, &changes, now).await? {
            tx.commit().await.map_err(classify)?;
            return Ok(BatchOutcome::Applied(applied));
        }
        let mut applied = Vec::with_capacity(changes.len());
        for change in changes {
            // An error drops `tx`, which rolls everything back, the receipt included.
            applied.push(apply_change(&mut tx, change, now).await?);
        }
        tx.commit().await.map_err(classify)?;
        Ok(BatchOutcome::Applied(applied))
    }
}
