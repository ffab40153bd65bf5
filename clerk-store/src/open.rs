//! [`AnyStore`]: the store a `DATABASE_URL` names, for binaries that take one (the `clerk`
//! command, the example apps), so they all read it the same way.

use std::sync::Arc;

use clerk_core::cache::{Cache, CachedStore};
use clerk_core::config::ClerkConfig;
use clerk_core::flow::records::{SessionStore, SessionStoreError};
use clerk_core::store::{Store, StoreError};

#[cfg(feature = "mysql")]
use crate::MySqlStore;
#[cfg(feature = "postgres")]
use crate::PostgresStore;
#[cfg(feature = "sqlite")]
use crate::SqliteStore;

/// `DATABASE_URL` when unset: the SQLite file `clerk-app.db` in the working directory,
/// created when missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://clerk-app.db?mode=rwc";

/// Whether `database_url` names PostgreSQL (`postgres://` or `postgresql://`); anything else
/// is taken as SQLite (`sqlite:…`, `sqlite::memory:`, a file name).
#[must_use]
pub fn is_postgres_url(database_url: &str) -> bool {
    let url = database_url.trim_start();
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Whether `database_url` names MySQL or MariaDB (`mysql://` or `mariadb://`).
#[must_use]
pub fn is_mysql_url(database_url: &str) -> bool {
    let url = database_url.trim_start();
    url.starts_with("mysql://") || url.starts_with("mariadb://")
}

/// A store picked by URL (features `sqlite` / `postgres` / `mysql`: a URL for a backend not built in is
/// a [`StoreError::Invalid`] naming the feature).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// `sqlite:…` or a file name.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// `postgres://…` / `postgresql://…`.
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
    /// `mysql://…` / `mariadb://…`.
    #[cfg(feature = "mysql")]
    MySql(MySqlStore),
}

impl AnyStore {
    /// Connects to the database `database_url` names, without migrating.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a malformed URL (or one whose backend is not built in),
    /// [`StoreError::Unavailable`] / [`StoreError::Backend`] when it cannot be opened.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let url = database_url.trim();
        if is_postgres_url(url) {
            #[cfg(feature = "postgres")]
            return Ok(AnyStore::Postgres(PostgresStore::connect(url).await?));
            #[cfg(not(feature = "postgres"))]
            return Err(StoreError::Invalid(
                "a postgres:// URL needs clerk-store's `postgres` feature".into(),
            ));
        }
        if is_mysql_url(url) {
            #[cfg(feature = "mysql")]
            return Ok(AnyStore::MySql(
                MySqlStore::connect(&url.replacen("mariadb://", "mysql://", 1)).await?,
            ));
            #[cfg(not(feature = "mysql"))]
            return Err(StoreError::Invalid(
                "a mysql:// URL needs clerk-store's `mysql` feature".into(),
            ));
        }
        #[cfg(feature = "sqlite")]
        return Ok(AnyStore::Sqlite(SqliteStore::connect(url).await?));
        #[cfg(not(feature = "sqlite"))]
        Err(StoreError::Invalid(
            "a SQLite URL needs clerk-store's `sqlite` feature".into(),
        ))
    }

    /// Runs the embedded migrations (idempotent).
    ///
    /// # Errors
    /// The backend's error when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(store) => store.migrate().await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => store.migrate().await,
            #[cfg(feature = "mysql")]
            AnyStore::MySql(store) => store.migrate().await,
        }
    }

    /// `"SQLite"`, `"PostgreSQL"` or `"MySQL"`, for messages.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(_) => "SQLite",
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => "PostgreSQL",
            #[cfg(feature = "mysql")]
            AnyStore::MySql(_) => "MySQL",
        }
    }

    /// Closes the pool, waiting for its connections to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(store) => store.pool().close().await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => store.pool().close().await,
            #[cfg(feature = "mysql")]
            AnyStore::MySql(store) => store.pool().close().await,
        }
    }

    /// The session records in this database, on the same pool (table `clerk_sessions`,
    /// created by [`AnyStore::migrate`]): what several instances share.
    #[must_use]
    pub fn session_store(&self) -> crate::SqlSessionStore {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(store) => store.session_store(),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => store.session_store(),
            #[cfg(feature = "mysql")]
            AnyStore::MySql(store) => store.session_store(),
        }
    }

    /// The store as an `Arc<dyn Store>` (what adapters hold).
    #[must_use]
    pub fn into_dyn(self) -> Arc<dyn Store> {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(store) => Arc::new(store),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => Arc::new(store),
            #[cfg(feature = "mysql")]
            AnyStore::MySql(store) => Arc::new(store),
        }
    }

    /// The store behind a [`CachedStore`] over `cache` (a `MemoryCache` for one process, a
    /// `RedisCache` shared by several), with the lookup TTLs of `config`
    /// (`CLERK_CACHE_TIMEOUT`, `CLERK_ORG_CACHE_TIMEOUT`), as [`Store`]. Webhooks applied
    /// through the returned store invalidate the cache; a failing cache is bypassed.
    #[must_use]
    pub fn into_cached_dyn<C: Cache + 'static>(
        self,
        cache: C,
        config: &ClerkConfig,
    ) -> Arc<dyn Store> {
        match self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(store) => Arc::new(CachedStore::new(store, cache).with_config(config)),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => {
                Arc::new(CachedStore::new(store, cache).with_config(config))
            }
            #[cfg(feature = "mysql")]
            AnyStore::MySql(store) => Arc::new(CachedStore::new(store, cache).with_config(config)),
        }
    }
}

/// How long an in-process cache entry may live when nothing tells this instance of other
/// instances' writes (SQLite or MySQL without Redis): the staleness bound of
/// [`AnyStore::into_instance_cached`].
pub const UNANNOUNCED_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl AnyStore {
    /// The store behind the cache that keeps several instances consistent
    /// ([design §10](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#10-several-instances)),
    /// chosen from what is there:
    ///
    /// | database | `redis` | cache | another instance's write seen |
    /// |---|---|---|---|
    /// | any | given | the shared Redis (every instance invalidates the same entries) | at once |
    /// | PostgreSQL | none | in process, announced with `LISTEN`/`NOTIFY` ([`pg_peers`](crate::cache::pg_peers)) | within a second; the cache is bypassed while the listener is down |
    /// | SQLite, MySQL | none | in process, entries living at most [`UNANNOUNCED_CACHE_TTL`] | within a second |
    ///
    /// TTLs otherwise from `config` (`CLERK_CACHE_TIMEOUT`, `CLERK_ORG_CACHE_TIMEOUT`). Needs a
    /// tokio runtime for PostgreSQL's listener.
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn into_instance_cached(
        self,
        redis: Option<crate::RedisCache>,
        config: &ClerkConfig,
    ) -> Arc<dyn Store> {
        if let Some(redis) = redis {
            return self.into_cached_dyn(redis, config);
        }
        let memory = crate::MemoryCache::new();
        let user_ttl = config.cache_timeout.min(UNANNOUNCED_CACHE_TTL);
        let org_ttl = config.org_cache_timeout.min(UNANNOUNCED_CACHE_TTL);
        match self {
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => {
                let pool = store.pool().clone();
                let cached = CachedStore::new(store, memory).with_config(config);
                Arc::new(crate::cache::pg_peers::attach(cached, pool))
            }
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(store) => Arc::new(
                CachedStore::new(store, memory)
                    .with_user_ttl(user_ttl)
                    .with_org_ttl(org_ttl),
            ),
            #[cfg(feature = "mysql")]
            AnyStore::MySql(store) => Arc::new(
                CachedStore::new(store, memory)
                    .with_user_ttl(user_ttl)
                    .with_org_ttl(org_ttl),
            ),
        }
    }
}

/// Connects to the database `database_url` names and migrates it: what an application runs at
/// start-up.
///
/// # Errors
/// As [`AnyStore::connect`] and [`AnyStore::migrate`].
pub async fn open_database_url(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let store = AnyStore::connect(database_url).await?;
    store.migrate().await?;
    Ok(store.into_dyn())
}

/// Where an application keeps its session records: Redis at `redis_url` when given (a
/// [`RedisSessionStore`](crate::RedisSessionStore) with its default prefix, feature `redis`),
/// else the database of `store` ([`AnyStore::session_store`], table `clerk_sessions`). Either
/// way every instance sharing that database or Redis serves every session
/// ([design §10](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#10-several-instances)).
///
/// # Errors
/// When `redis_url` is not a Redis URL (or the `redis` feature is not built in).
pub fn open_session_store(
    store: &AnyStore,
    redis_url: Option<&str>,
) -> Result<Arc<dyn SessionStore>, SessionStoreError> {
    match redis_url {
        #[cfg(feature = "redis")]
        Some(url) => Ok(Arc::new(crate::RedisSessionStore::open(url.trim())?)),
        #[cfg(not(feature = "redis"))]
        Some(_) => Err(SessionStoreError(
            "a Redis session store needs clerk-store's `redis` feature".into(),
        )),
        None => Ok(Arc::new(store.session_store())),
    }
}

/// What an application opens at start-up ([`open_app_stores`]): the mirror behind its cache
/// and the session store.
#[cfg(feature = "redis")]
#[derive(Clone)]
pub struct AppStores {
    /// The local mirror behind the cache that keeps several instances consistent
    /// ([`AnyStore::into_instance_cached`]).
    pub store: Arc<dyn Store>,
    /// Where session records live ([`open_session_store`]), shared by every instance.
    pub sessions: Arc<dyn SessionStore>,
}

/// Why [`open_app_stores`] failed.
#[cfg(feature = "redis")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenStoresError {
    /// The database could not be opened or migrated (`DATABASE_URL`).
    #[error("DATABASE_URL: {0}")]
    Store(#[from] StoreError),
    /// `REDIS_URL` is not usable for the cache.
    #[error("REDIS_URL: {0}")]
    Cache(#[from] clerk_core::cache::CacheError),
    /// `REDIS_URL` is not usable for the session store.
    #[error("REDIS_URL: {0}")]
    Sessions(#[from] SessionStoreError),
}

/// Opens and migrates the database `database_url` names and returns the mirror behind the
/// cache that keeps several instances consistent ([`AnyStore::into_instance_cached`]: Redis
/// at `redis_url`; else in process, announced between instances with `LISTEN`/`NOTIFY` on
/// PostgreSQL, or living at most a second on SQLite and MySQL) and the session store (Redis
/// at `redis_url` when given, else the same database's `clerk_sessions` table, expired rows
/// swept as sessions are saved). Never in process memory, so several instances serve each
/// other's sessions and a restart signs no one out: what both example apps run at start-up.
///
/// # Errors
/// [`OpenStoresError`] naming the setting at fault.
#[cfg(feature = "redis")]
pub async fn open_app_stores(
    database_url: &str,
    redis_url: Option<&str>,
    config: &ClerkConfig,
) -> Result<AppStores, OpenStoresError> {
    let redis = redis_url.map(crate::RedisCache::open).transpose()?;
    let store = AnyStore::connect(database_url).await?;
    store.migrate().await?;
    let sessions = open_session_store(&store, redis_url)?;
    let store = store.into_instance_cached(redis, config);
    Ok(AppStores { store, sessions })
}
