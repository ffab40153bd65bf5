//! Session stores shared by every instance of an application ([design §10](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#10-several-instances)):
//! implementations of [`clerk_core::flow::records::SessionStore`], the trait clerk-rocket keeps
//! its sessions in and clerk-axum's `ClerkSessionStore` wraps.
//!
//! | store | feature | where the records live |
//! |---|---|---|
//! | `SqlSessionStore` | `sqlite` / `postgres` / `mysql` | table `clerk_sessions` (migration 0004), on the mirror's pool |
//! | `RedisSessionStore` | `redis` | Redis keys under a prefix, with server-side TTLs |
//!
//! `clerk_core::flow::records::MemorySessionStore` stays for tests and single-process apps:
//! its sessions end with the process and other instances do not see them.
//!
//! All of them pass `clerk_core::flow::records::conformance` (expiry, eviction, the per-`sid`
//! bound of 16 records, concurrent saves).

#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod sql;

#[cfg(feature = "redis")]
pub use self::redis::{
    RedisSessionStore, RedisSessionStoreBuilder, DEFAULT_SESSION_PREFIX,
    DEFAULT_SESSION_RECONNECT_BACKOFF, DEFAULT_SESSION_TIMEOUT,
};
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use sql::SqlSessionStore;
