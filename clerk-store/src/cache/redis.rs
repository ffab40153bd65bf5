//! [`RedisCache`]: a [`Cache`] on a Redis server (feature `redis`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use clerk_core::cache::{Cache, CacheError};
use redis::FromRedisValue;

use crate::redis_link::{LinkError, RedisLink};

/// The default key prefix of a [`RedisCache`].
pub const DEFAULT_PREFIX: &str = "clerk:";
/// The default bound on connecting to Redis and on each command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// The default pause after a failed connection attempt before trying again.
pub const DEFAULT_RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// A [`Cache`] on a Redis server: every key is prefixed (`clerk:` by default, so several
/// applications can share a server), and entries expire server-side (`SET key value PX ttl`).
///
/// Built without I/O: the connection (one multiplexed connection, shared by clones) is opened
/// on first use and re-opened after it breaks. Connecting and every command are bounded by a
/// short timeout (250 ms by default), and after a failed connection attempt, a broken
/// connection or a timeout, further calls fail at once for a back-off period (1 s by default)
/// instead of each waiting on a dead server:
/// with Redis stopped or unreachable, a lookup through
/// [`CachedStore`](clerk_core::cache::CachedStore) costs at most one timeout per back-off
/// period, then goes straight to the store.
///
/// Needs a Tokio runtime (with time and I/O enabled) when used.
///
/// ```no_run
/// # fn main() -> Result<(), clerk_core::cache::CacheError> {
/// use std::time::Duration;
/// let cache = clerk_store::RedisCache::builder("redis://127.0.0.1:6379")
///     .prefix("myapp:clerk:")
///     .timeout(Duration::from_millis(100))
///     .build()?;
/// # let _ = cache; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCache {
    inner: Arc<Inner>,
}

struct Inner {
    link: RedisLink,
    prefix: String,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("RedisCache")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.link.timeout())
            .field("reconnect_backoff", &self.inner.link.reconnect_backoff())
            .finish_non_exhaustive()
    }
}

/// Settings of a [`RedisCache`], from [`RedisCache::builder`].
#[derive(Clone)]
pub struct RedisCacheBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    reconnect_backoff: Duration,
}

impl fmt::Debug for RedisCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheBuilder")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .finish_non_exhaustive()
    }
}

impl RedisCacheBuilder {
    /// The prefix of every key (default `clerk:`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The bound on connecting and on each command (default 250 ms).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long calls fail at once after a failed connection attempt (default 1 s).
    #[must_use]
    pub fn reconnect_backoff(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff = backoff;
        self
    }

    /// The cache. Parses the URL (`redis://[user:password@]host[:port][/db]`); connects on
    /// first use.
    ///
    /// # Errors
    ///
    /// [`CacheError::Backend`] when the URL is not a Redis URL.
    pub fn build(self) -> Result<RedisCache, CacheError> {
        let link = RedisLink::open(&self.url, self.timeout, self.reconnect_backoff)
            .map_err(CacheError::backend)?;
        Ok(RedisCache {
            inner: Arc::new(Inner {
                link,
                prefix: self.prefix,
            }),
        })
    }
}

impl RedisCache {
    /// Settings for a cache on the server at `url`, with the defaults.
    #[must_use]
    pub fn builder(url: impl Into<String>) -> RedisCacheBuilder {
        RedisCacheBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            reconnect_backoff: DEFAULT_RECONNECT_BACKOFF,
        }
    }

    /// A cache on the server at `url` with the defaults.
    ///
    /// # Errors
    ///
    /// [`CacheError::Backend`] when the URL is not a Redis URL.
    pub fn open(url: impl Into<String>) -> Result<Self, CacheError> {
        Self::builder(url).build()
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.inner.prefix.len() + key.len());
        full.push_str(&self.inner.prefix);
        full.push_str(key);
        full
    }

    async fn run<T: FromRedisValue>(&self, command: redis::Cmd) -> Result<T, CacheError> {
        self.inner.link.run(command).await.map_err(|e| match e {
            LinkError::Timeout(timeout) => CacheError::Timeout(timeout),
            LinkError::Unavailable(why) => CacheError::unavailable(why),
            LinkError::Backend(e) => CacheError::backend(e),
        })
    }
}

fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut command = redis::cmd("GET");
        command.arg(self.key(key));
        self.run::<Option<Vec<u8>>>(command).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        if ttl.is_zero() {
            return self.delete(key).await;
        }
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_millis(ttl));
        self.run::<()>(command).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(key));
        self.run::<()>(command).await
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut command = redis::cmd("DEL");
        for key in keys {
            command.arg(self.key(key));
        }
        self.run::<()>(command).await
    }

    /// Nothing to do: every instance reads and invalidates the same Redis entries, so none
    /// can have missed another's invalidation.
    async fn clear(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
