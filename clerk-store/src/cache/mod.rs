//! Cache implementations of [`clerk_core::cache::Cache`], for
//! [`CachedStore`](clerk_core::cache::CachedStore):
//!
//! | cache | feature | what |
//! |---|---|---|
//! | [`MemoryCache`] | always | in-process, per-entry TTL, bounded number of entries |
//! | `RedisCache` | `redis` | a Redis server: key prefix, server-side TTL (`SET … PX`), short timeouts |
//!
//! ```
//! use clerk_core::cache::CachedStore;
//! use clerk_store::{MemoryCache, MemoryStore};
//!
//! // User lookups cached for CLERK_CACHE_TIMEOUT, organizations for CLERK_ORG_CACHE_TIMEOUT
//! // (300 s and 900 s unless `with_config` says otherwise); writes invalidate.
//! let store = CachedStore::new(MemoryStore::new(), MemoryCache::new());
//! # let _ = store;
//! ```

mod memory;
#[cfg(feature = "postgres")]
pub mod pg_peers;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::{
    RedisCache, RedisCacheBuilder, DEFAULT_PREFIX, DEFAULT_RECONNECT_BACKOFF, DEFAULT_TIMEOUT,
};
pub use memory::{MemoryCache, DEFAULT_CAPACITY};
