//! [`RedisCache`]: a [`Cache`] on a Redis server (feature `redis`).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clerk_core::cache::{Cache, CacheError};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, RedisError};
use tokio::time::Instant;

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
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    reconnect_backoff: Duration,
    state: Mutex<ConnectionState>,
}

#[derive(Default)]
struct ConnectionState {
    connection: Option<MultiplexedConnection>,
    retry_at: Option<Instant>,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("RedisCache")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .field("reconnect_backoff", &self.inner.reconnect_backoff)
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
        let client = redis::Client::open(self.url.as_str()).map_err(CacheError::backend)?;
        Ok(RedisCache {
            inner: Arc::new(Inner {
                client,
                prefix: self.prefix,
                timeout: self.timeout,
                reconnect_backoff: self.reconnect_backoff,
                state: Mutex::new(ConnectionState::default()),
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

    fn state(&self) -> Result<MutexGuard<'_, ConnectionState>, CacheError> {
        self.inner
            .state
            .lock()
            .map_err(|_| CacheError::backend("redis cache lock poisoned"))
    }

    async fn connection(&self) -> Result<MultiplexedConnection, CacheError> {
        {
            let state = self.state()?;
            if let Some(connection) = &state.connection {
                return Ok(connection.clone());
            }
            if state.retry_at.is_some_and(|at| Instant::now() < at) {
                return Err(CacheError::unavailable(
                    "not reconnecting to Redis yet: the last attempt failed",
                ));
            }
        }
        let timeout = self.inner.timeout;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let attempt = tokio::time::timeout(
            timeout,
            self.inner
                .client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        let mut state = self.state()?;
        match attempt {
            Ok(Ok(connection)) => {
                state.connection = Some(connection.clone());
                state.retry_at = None;
                Ok(connection)
            }
            Ok(Err(e)) => {
                state.retry_at = Some(Instant::now() + self.inner.reconnect_backoff);
                Err(classify(e, timeout))
            }
            Err(_) => {
                state.retry_at = Some(Instant::now() + self.inner.reconnect_backoff);
                Err(CacheError::Timeout(timeout))
            }
        }
    }

    /// Drops the shared connection and backs off: calls fail at once until the back-off
    /// period is over, then the next one reconnects. (A server that accepts connections but
    /// never answers would otherwise cost a timeout on every call.)
    fn forget_connection(&self) {
        if let Ok(mut state) = self.inner.state.lock() {
            state.connection = None;
            state.retry_at = Some(Instant::now() + self.inner.reconnect_backoff);
        }
    }

    async fn run<T: FromRedisValue>(&self, command: redis::Cmd) -> Result<T, CacheError> {
        let mut connection = self.connection().await?;
        let timeout = self.inner.timeout;
        match tokio::time::timeout(timeout, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if is_connection_error(&e) {
                    self.forget_connection();
                }
                Err(classify(e, timeout))
            }
            Err(_) => {
                self.forget_connection();
                Err(CacheError::Timeout(timeout))
            }
        }
    }
}

fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

fn classify(e: RedisError, timeout: Duration) -> CacheError {
    if e.is_timeout() {
        CacheError::Timeout(timeout)
    } else if is_connection_error(&e) {
        CacheError::unavailable(e)
    } else {
        CacheError::backend(e)
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
