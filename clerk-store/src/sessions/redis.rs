//! [`RedisSessionStore`]: session records on a Redis server (feature `redis`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clerk_core::flow::records::{
    SessionStore, SessionStoreError, StoredSession, MAX_SESSIONS_PER_SID,
};
use clerk_core::store::async_trait;
use clerk_core::time::UnixTime;
use redis::FromRedisValue;

use crate::redis_link::RedisLink;

/// The default key prefix of a [`RedisSessionStore`].
pub const DEFAULT_SESSION_PREFIX: &str = "clerk:session:";
/// The default bound on connecting to Redis and on each command of a [`RedisSessionStore`].
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(1);
/// The default pause after a failed connection attempt (or a broken connection, or a timeout)
/// during which a [`RedisSessionStore`]'s calls fail at once.
pub const DEFAULT_SESSION_RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// Stores a record, keeps its Clerk session's index, and trims that index to the newest
/// `max` records (the dead ones go first), deleting the evicted records; atomically.
/// KEYS: record, sid index (unused without a sid), expiry index, sequence counter.
/// ARGV: id, data, sid ('' for none), expires_at ms, ttl ms, max, prefix, now ms.
const SAVE: &str = r"
local old = redis.call('HGET', KEYS[1], 's')
if old and old ~= '' and old ~= ARGV[3] then
  redis.call('ZREM', ARGV[7] .. 'sid:' .. old, ARGV[1])
end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 's', ARGV[3], 'e', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
if ARGV[3] == '' then return 0 end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[1])
end
local max = tonumber(ARGV[6])
if redis.call('ZCARD', KEYS[2]) > max then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    local e = redis.call('HGET', ARGV[7] .. 's:' .. id, 'e')
    if not e or tonumber(e) <= tonumber(ARGV[8]) then
      redis.call('ZREM', KEYS[2], id)
    end
  end
  local excess = redis.call('ZCARD', KEYS[2]) - max
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
      redis.call('DEL', ARGV[7] .. 's:' .. id)
      redis.call('ZREM', KEYS[3], id)
    end
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  end
end
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[5]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
return 0
";

/// Deletes a record and its index entries. KEYS: record, expiry index. ARGV: id, prefix.
const DELETE: &str = r"
local sid = redis.call('HGET', KEYS[1], 's')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if sid and sid ~= '' then redis.call('ZREM', ARGV[2] .. 'sid:' .. sid, ARGV[1]) end
return 0
";

/// Deletes at most `limit` records expired by `now` and their index entries; returns how
/// many. KEYS: expiry index. ARGV: now ms, limit, prefix.
const SWEEP: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local key = ARGV[3] .. 's:' .. id
  local sid = redis.call('HGET', key, 's')
  redis.call('DEL', key)
  if sid and sid ~= '' then redis.call('ZREM', ARGV[3] .. 'sid:' .. sid, id) end
  redis.call('ZREM', KEYS[1], id)
end
return #ids
";

/// Session records on a Redis server, shared by every instance using it.
///
/// Keys, all under a prefix (`clerk:session:` by default, so applications can share a
/// server): `<prefix>s:<id>` a hash of the record (data, Clerk `sid`, `expires_at`) with a
/// TTL of `expires_at - now` (`PEXPIRE`), so Redis frees it by itself; `<prefix>sid:<sid>` a
/// sorted set of a Clerk session's record ids by first save (the per-`sid` bound:
/// [`MAX_SESSIONS_PER_SID`]; re-saving an id keeps its place); `<prefix>exp` a sorted set of
/// every id by `expires_at`, for [`SessionStore::sweep`]; `<prefix>seq` the order counter.
///
/// Every save, delete and sweep is one Lua script (`EVAL`), so the bound holds under
/// concurrent saves from any number of instances. A record is never loaded at or after its
/// `expires_at` (checked against the caller's clock, not only the TTL). As in
/// [`SqlSessionStore`](crate::SqlSessionStore), every [`Self::SWEEP_EVERY`]th save sweeps
/// at most [`Self::SWEEP_BATCH`] expired entries of the indexes (the records themselves
/// expire server-side). The scripts name keys they compute, so this is for a single Redis
/// (or a primary with replicas), not Redis Cluster.
///
/// The connection layer is [`RedisCache`](crate::RedisCache)'s: one multiplexed connection,
/// shared by clones, opened on first use and re-opened after it breaks; connecting and every
/// command bounded by a timeout (1 s by default); after a failed attempt, a broken connection
/// or a timeout, calls fail at once for a back-off period (1 s by default), so requests of a
/// session-mode app answer 503 at once while Redis is down instead of each waiting a timeout.
/// Needs a Tokio runtime.
///
/// ```no_run
/// # fn main() -> Result<(), clerk_core::flow::records::SessionStoreError> {
/// let sessions = clerk_store::RedisSessionStore::builder("redis://127.0.0.1:6379")
///     .prefix("myapp:session:")
///     .build()?;
/// # let _ = sessions; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisSessionStore {
    inner: Arc<Inner>,
}

struct Inner {
    link: RedisLink,
    prefix: String,
    saves: AtomicU64,
}

impl fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.link.timeout())
            .field("reconnect_backoff", &self.inner.link.reconnect_backoff())
            .finish_non_exhaustive()
    }
}

/// Settings of a [`RedisSessionStore`], from [`RedisSessionStore::builder`].
#[derive(Clone)]
pub struct RedisSessionStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    reconnect_backoff: Duration,
}

impl fmt::Debug for RedisSessionStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSessionStoreBuilder")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStoreBuilder {
    /// The prefix of every key (default `clerk:session:`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The bound on connecting and on each command (default 1 s).
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

    /// The store. Parses the URL (`redis://[user:password@]host[:port][/db]`); connects on
    /// first use.
    ///
    /// # Errors
    /// When the URL is not a Redis URL.
    pub fn build(self) -> Result<RedisSessionStore, SessionStoreError> {
        let link = RedisLink::open(&self.url, self.timeout, self.reconnect_backoff)
            .map_err(|e| SessionStoreError(format!("redis url: {e}")))?;
        Ok(RedisSessionStore {
            inner: Arc::new(Inner {
                link,
                prefix: self.prefix,
                saves: AtomicU64::new(0),
            }),
        })
    }
}

fn error(e: impl fmt::Display) -> SessionStoreError {
    SessionStoreError(format!("redis: {e}"))
}

impl RedisSessionStore {
    /// Every how many saves one runs a bounded sweep of the expired index entries.
    pub const SWEEP_EVERY: u64 = 64;
    /// At most how many expired records one opportunistic sweep handles.
    pub const SWEEP_BATCH: u64 = 256;

    /// Settings for a store on the server at `url`, with the defaults.
    #[must_use]
    pub fn builder(url: impl Into<String>) -> RedisSessionStoreBuilder {
        RedisSessionStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_SESSION_PREFIX.to_owned(),
            timeout: DEFAULT_SESSION_TIMEOUT,
            reconnect_backoff: DEFAULT_SESSION_RECONNECT_BACKOFF,
        }
    }

    /// A store on the server at `url` with the defaults.
    ///
    /// # Errors
    /// When the URL is not a Redis URL.
    pub fn open(url: impl Into<String>) -> Result<Self, SessionStoreError> {
        Self::builder(url).build()
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    fn key(&self, kind: &str, name: &str) -> String {
        format!("{}{kind}{name}", self.inner.prefix)
    }

    async fn run<T: FromRedisValue>(&self, command: redis::Cmd) -> Result<T, SessionStoreError> {
        self.inner.link.run(command).await.map_err(error)
    }

    async fn sweep_some(&self, now: UnixTime, limit: u64) -> Result<u64, SessionStoreError> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(SWEEP)
            .arg(1)
            .arg(self.key("exp", ""))
            .arg(now.as_millis())
            .arg(limit)
            .arg(self.prefix());
        self.run::<u64>(command).await
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, id: &str, now: UnixTime) -> Result<Option<Vec<u8>>, SessionStoreError> {
        let mut command = redis::cmd("HMGET");
        command.arg(self.key("s:", id)).arg("d").arg("e");
        let (data, expires_at): (Option<Vec<u8>>, Option<i64>) = self.run(command).await?;
        Ok(data.filter(|_| expires_at.is_some_and(|at| at > now.as_millis())))
    }

    async fn save(
        &self,
        id: &str,
        session: StoredSession,
        now: UnixTime,
    ) -> Result<(), SessionStoreError> {
        let ttl = session
            .expires_at
            .as_millis()
            .saturating_sub(now.as_millis());
        if ttl <= 0 {
            return self.delete(id).await;
        }
        let sid = session.clerk_sid.unwrap_or_default();
        let mut command = redis::cmd("EVAL");
        command
            .arg(SAVE)
            .arg(4)
            .arg(self.key("s:", id))
            .arg(self.key("sid:", &sid))
            .arg(self.key("exp", ""))
            .arg(self.key("seq", ""))
            .arg(id)
            .arg(session.data)
            .arg(&sid)
            .arg(session.expires_at.as_millis())
            .arg(ttl)
            .arg(MAX_SESSIONS_PER_SID)
            .arg(self.prefix())
            .arg(now.as_millis());
        self.run::<()>(command).await?;
        let saves = self.inner.saves.fetch_add(1, Ordering::Relaxed) + 1;
        if saves % Self::SWEEP_EVERY == 0 {
            // The save succeeded: a failing sweep only leaves entries for the next one.
            let _ = self.sweep_some(now, Self::SWEEP_BATCH).await;
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(DELETE)
            .arg(2)
            .arg(self.key("s:", id))
            .arg(self.key("exp", ""))
            .arg(id)
            .arg(self.prefix());
        self.run::<()>(command).await
    }

    async fn sweep(&self, now: UnixTime) -> Result<u64, SessionStoreError> {
        const BATCH: u64 = 500;
        let mut total = 0;
        loop {
            let swept = self.sweep_some(now, BATCH).await?;
            total += swept;
            if swept < BATCH {
                return Ok(total);
            }
        }
    }
}
