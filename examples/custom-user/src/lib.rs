//! An application-owned `company` field on Clerk users, without forking a store backend.
//!
//! The Django package's answer to "my user needs a `company`" is subclassing
//! `AbstractClerkUser`. Here the mirror's tables (`clerk_users`, …) belong to the store and
//! are written only by it; the application keeps its own fields in **its own table in the
//! same database**, keyed by the stable local user id:
//!
//! ```sql
//! CREATE TABLE app_profiles (
//!     user_id    INTEGER PRIMARY KEY REFERENCES clerk_users(id),
//!     company    TEXT,
//!     updated_at INTEGER NOT NULL
//! );
//! ```
//!
//! and reads the two together ([`AppUser`], one `LEFT JOIN`). Why this survives every
//! webhook:
//!
//! - Webhooks only ever write Clerk-owned columns of `clerk_users` (the store's inputs do
//!   not even carry application fields), and never touch `app_profiles`.
//! - `clerk_users.id` is stable: `user.updated` changes the row in place, an older or
//!   replayed event changes nothing, and `user.deleted` leaves a **tombstone** (same id,
//!   inactive, Clerk data cleared) instead of deleting the row — so the foreign key holds
//!   and the profile row stays. Whether the application keeps or erases the profile of a
//!   deleted user is its own decision (delete it in a listener on `user.deleted` if it holds
//!   personal data; this example keeps it, e.g. for invoices).
//! - A **re-sign-up** with the same email is a new Clerk id, hence a new local row with a new
//!   id and a fresh (empty) profile: the old account's `company` is not inherited.
//!
//! A [`Listener`] ([`ProfileOnSignUp`]) creates the profile row when the store creates the
//! user row, seeding `company` from the sign-up form (`unsafe_metadata.company`, which a
//! Clerk sign-up form can set); it inserts only when no row exists, so it never overwrites
//! what the application set later. Listeners run after the webhook's transaction commits; a
//! failing one is logged and never undoes the user row, so [`Profiles::company`] treats a
//! missing row as "no company" and [`Profiles::set_company`] upserts.
//!
//! ```no_run
//! use clerk_store::SqliteStore;
//! use clerk_webhooks::{Webhook, WebhookProcessor};
//! use custom_user::{Profiles, ProfileOnSignUp};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let store = SqliteStore::connect("sqlite://app.db").await?;
//! store.migrate().await?; // the mirror's tables first: app_profiles references clerk_users
//! let profiles = Profiles::new(&store);
//! profiles.migrate().await?;
//! let processor = WebhookProcessor::new(Webhook::new("whsec_…")?, store.clone())
//!     .with_listener(ProfileOnSignUp::new(profiles.clone()));
//! // … route POST /webhooks/clerk to `processor.process(&headers, &body)` …
//! if let Some(user) = profiles.app_user_by_clerk_id("user_2aAda").await? {
//!     println!("{:?} works at {:?}", user.user.first_name, user.company);
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use clerk_core::model::{User, UserId};
use clerk_core::store::{Effect, UserStore};
use clerk_core::time::{Clock, SystemClock};
use clerk_store::sqlx::{self, Row as _, SqlitePool};
use clerk_store::SqliteStore;
use clerk_webhooks::processor::{Committed, Listener, ListenerError};
use clerk_webhooks::EventData;

/// Any error of this example (store or SQL).
pub type AppError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The application's table, created after the store's migrations.
pub const APP_PROFILES_SQL: &str = "CREATE TABLE IF NOT EXISTS app_profiles (
    user_id    INTEGER PRIMARY KEY REFERENCES clerk_users(id),
    company    TEXT,
    updated_at INTEGER NOT NULL
)";

/// A Clerk user with the application's own fields: the equivalent of a Django
/// `AbstractClerkUser` subclass with a `company` field.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AppUser {
    /// The mirrored user (Clerk-owned and store-owned columns).
    pub user: User,
    /// The application-owned field.
    pub company: Option<String>,
}

/// The application's profile table, in the store's SQLite database.
#[derive(Debug, Clone)]
pub struct Profiles {
    store: SqliteStore,
}

impl Profiles {
    /// Profiles kept next to `store`'s tables (same pool, same database).
    #[must_use]
    pub fn new(store: &SqliteStore) -> Self {
        Profiles {
            store: store.clone(),
        }
    }

    fn pool(&self) -> &SqlitePool {
        self.store.pool()
    }

    /// Creates `app_profiles` (idempotent). Run it after [`SqliteStore::migrate`].
    ///
    /// # Errors
    /// SQL errors.
    pub async fn migrate(&self) -> Result<(), AppError> {
        sqlx::query(APP_PROFILES_SQL).execute(self.pool()).await?;
        Ok(())
    }

    /// Sets (or clears) a user's company: the application's own write, never touched by
    /// webhooks.
    ///
    /// # Errors
    /// SQL errors, including a foreign-key violation for an unknown user id.
    pub async fn set_company(&self, user: UserId, company: Option<&str>) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO app_profiles (user_id, company, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET company = excluded.company,
                                                  updated_at = excluded.updated_at",
        )
        .bind(user.0)
        .bind(company)
        .bind(SystemClock.now().as_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Creates a user's profile with `company` unless it already has one.
    ///
    /// # Errors
    /// SQL errors.
    pub async fn create_if_missing(
        &self,
        user: UserId,
        company: Option<&str>,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO app_profiles (user_id, company, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.0)
        .bind(company)
        .bind(SystemClock.now().as_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A user's company (`None` without a profile row or with an empty company).
    ///
    /// # Errors
    /// SQL errors.
    pub async fn company(&self, user: UserId) -> Result<Option<String>, AppError> {
        let row = sqlx::query("SELECT company FROM app_profiles WHERE user_id = ?1")
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<String>, _>("company")?,
            None => None,
        })
    }

    /// The user with Clerk id `clerk_id` and its application fields (deleted users
    /// included: check [`User::is_active`]).
    ///
    /// # Errors
    /// Store or SQL errors.
    pub async fn app_user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<AppUser>, AppError> {
        let Some(user) = self.store.user_by_clerk_id(clerk_id).await? else {
            return Ok(None);
        };
        let company = self.company(user.id).await?;
        Ok(Some(AppUser { user, company }))
    }
}

/// Creates a profile row when the store creates (or links) a user row, seeding `company`
/// from the sign-up's `unsafe_metadata.company`. Never overwrites an existing profile.
#[derive(Debug, Clone)]
pub struct ProfileOnSignUp {
    profiles: Profiles,
}

impl ProfileOnSignUp {
    /// A listener writing to `profiles`.
    #[must_use]
    pub fn new(profiles: Profiles) -> Self {
        ProfileOnSignUp { profiles }
    }
}

impl Listener for ProfileOnSignUp {
    async fn on_event(&self, committed: &Committed<'_>) -> Result<(), ListenerError> {
        let (EventData::UserCreated(user) | EventData::UserUpdated(user)) = &committed.event.data
        else {
            return Ok(());
        };
        // Keyed on what the store did, not on the event type: an update that arrives before
        // the user's creation creates the row; a late `user.created` for a deleted user
        // (`Effect::Gone`) creates nothing.
        for applied in committed.applied {
            if let (Effect::Created | Effect::Linked, Some(id)) = (applied.effect, applied.user_id)
            {
                let company = user
                    .unsafe_metadata
                    .get("company")
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.trim().is_empty());
                self.profiles.create_if_missing(id, company).await?;
            }
        }
        Ok(())
    }
}
