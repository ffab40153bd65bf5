//! Storage backends for the [`clerk_core::store`] traits: the local mirror of Clerk users,
//! organizations, memberships and invitations, the processed-webhook ledger and the
//! revoked-session set.
//!
//! | backend | feature | status |
//! |---|---|---|
//! | `MemoryStore` | `memory` (default) | complete, passes the conformance suite |
//! | `SqliteStore` (sqlx, embedded migrations) | `sqlite` | complete, passes the conformance suite |
//! | `PostgresStore` (sqlx, embedded migrations) | `postgres` | complete, passes the conformance suite |
//! | `MySqlStore` (sqlx, embedded migrations; MySQL 8 / MariaDB 10.5+) | `mysql` | complete, passes the conformance suite |
//! | `MemoryCache` / `RedisCache` for `clerk_core::cache::CachedStore` | — / `redis` | complete, pass the cache conformance cases ([`cache`]) |
//!
//! [`sessions`] keeps the adapters' session records where every instance sees them:
//! `SqlSessionStore` in the same database (table `clerk_sessions`, from `session_store()` of
//! each store or of [`AnyStore`]) or `RedisSessionStore` on Redis (feature `redis`).
//!
//! [`sync`] mirrors Clerk's users, organizations and memberships into any store from the
//! Backend API (paged, one batch per page, the webhooks' ordering rules, dry run,
//! deactivation of rows missing upstream): what `clerk sync` runs.
//!
//! With the `sqlite` feature, `clerk_store::sqlx` re-exports the sqlx this crate uses (0.8), so
//! an application can share the pool (`SqliteStore::pool`) without a version mismatch; run
//! `SqliteStore::migrate` at start-up (idempotent, embedded; tables and column names of
//! [design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage)).
//!
//! Binaries configured by a `DATABASE_URL` open it with [`open_database_url`] (or
//! [`AnyStore`]): `postgres://…` selects PostgreSQL, anything else SQLite, and
//! [`DEFAULT_DATABASE_URL`] is the SQLite file the `clerk` command and the example apps share.
//!
//! With the `postgres` feature, `PostgresStore` does the same on PostgreSQL (sqlx, no TLS):
//! `PostgresStore::migrate` is safe to run from several processes at once (advisory lock), and
//! two processes applying the same svix id apply it once (the receipt is inserted first).
//!
//! Every backend implements the same five small traits ([`UserStore`], [`OrganizationStore`],
//! [`LedgerStore`], [`StoreWriter`], and `LoginAttemptStore` for the staff-login throttle's
//! failure counts) and passes the same conformance suite
//! (`clerk_core::store::conformance`, feature `conformance` of `clerk-core`). All writes go
//! through [`StoreWriter::apply`] with a [`WriteBatch`]: a list of changes and an optional
//! webhook receipt, applied atomically, so the webhook processor records a svix id in the same
//! transaction as its effect. The rules (ordering by Clerk `updated_at`, soft deletion that
//! releases the email, no silent linking, uniqueness) are documented in [`clerk_core::store`]
//! and decided by the pure functions of [`clerk_core::store::rules`].
//!
//! # Quick start
//!
//! ```
//! use clerk_core::model::{ClerkUserData, NewLocalUser};
//! use clerk_core::store::{BatchOutcome, Change, Effect, LinkPolicy, UserStore, StoreWriter, WriteBatch};
//! use clerk_core::time::UnixTime;
//! use clerk_store::MemoryStore;
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! # runtime.block_on(async {
//! let store = MemoryStore::new();
//! let now = UnixTime::from_secs(1_700_000_000);
//!
//! // What a `user.created` webhook (svix id `msg_1`) turns into: one atomic batch.
//! let data = ClerkUserData::new("user_1", now, now).with_email("ada@example.com", true);
//! let batch = WriteBatch::new(now)
//!     .with_receipt("msg_1", "user.created")
//!     .with(Change::UpsertUser { data, link: LinkPolicy::Never });
//! let outcome = store.apply(batch.clone()).await?;
//! assert_eq!(outcome.applied()[0].effect, Effect::Created);
//!
//! // Svix delivers it again: recognised, nothing applied twice.
//! assert!(matches!(store.apply(batch).await?, BatchOutcome::AlreadyProcessed(_)));
//!
//! // `user.deleted`: deactivated, the email released for a re-sign-up.
//! let delete = Change::DeleteUser { clerk_id: "user_1".into(), at: now };
//! let _ = store.apply(WriteBatch::single(now, delete)).await?;
//! let user = store.user_by_clerk_id("user_1").await?.expect("the row stays");
//! assert!(!user.is_active && user.is_deleted());
//! assert!(store.user_by_email("ada@example.com").await?.is_none());
//!
//! // A local (password) user for the admin, in hybrid mode.
//! let mut admin = NewLocalUser::new("admin");
//! admin.is_staff = true;
//! let _ = store.apply(WriteBatch::single(now, Change::CreateLocalUser(admin))).await?;
//! assert!(store.local_user_by_username("admin").await?.is_some_and(|u| u.is_staff));
//! # Ok::<(), clerk_core::store::StoreError>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Your own database
//!
//! Implement the five traits for your type (plain `async fn`s work), with `apply` running one
//! transaction per batch, and run the suite against it in your tests:
//!
//! ```ignore
//! async fn fresh_store() -> MyStore { MyStore::connect_to_empty_test_db().await }
//! clerk_core::store_conformance_tests!(fresh_store);
//! ```
//!
//! `MemoryStore`'s source is a complete, commented example.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod bulk;
pub mod cache;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod held;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod login_failures;
#[cfg(feature = "memory")]
mod memory;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod open;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis_link;
pub mod sessions;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod sync;

pub use cache::MemoryCache;
#[cfg(feature = "redis")]
pub use cache::{RedisCache, RedisCacheBuilder};
#[cfg(feature = "memory")]
pub use memory::MemoryStore;
#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use open::{
    is_mysql_url, is_postgres_url, open_database_url, open_session_store, AnyStore,
    DEFAULT_DATABASE_URL, UNANNOUNCED_CACHE_TTL,
};
#[cfg(all(
    feature = "redis",
    any(feature = "sqlite", feature = "postgres", feature = "mysql")
))]
pub use open::{open_app_stores, AppStores, OpenStoresError};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use sessions::SqlSessionStore;
#[cfg(feature = "redis")]
pub use sessions::{RedisSessionStore, RedisSessionStoreBuilder};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
/// The sqlx version this crate was built with (features `sqlite`, `postgres`), so applications
/// can match it.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use sqlx;

pub use clerk_core::store::{
    BatchOutcome, Change, Effect, LedgerStore, OrganizationStore, Store, StoreError, StoreWriter,
    UserStore, WriteBatch,
};
