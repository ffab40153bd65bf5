//! [`MemoryCache`]: an in-process [`Cache`] with a TTL per entry and a bounded size.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clerk_core::cache::{decode, encode, Cache, CacheError, CacheValue};
use clerk_core::time::{Clock, SystemClock, UnixTime};

/// The default maximum number of entries of a [`MemoryCache`].
pub const DEFAULT_CAPACITY: usize = 100_000;

const SHARDS: usize = 16;

/// An in-process [`Cache`]: a sharded hash map whose entries carry their own expiry instant
/// (read from a [`Clock`]), bounded to a number of entries. Values stored with
/// [`Cache::set_value`] are kept as they are (a hit is a clone, not a JSON decode).
///
/// Clones share the entries. [`MemoryCache::with_prefix`] gives a view over the same entries
/// under another key prefix. When a shard is full, expired entries are dropped first, then
/// the entry closest to expiry. Expired entries are never returned; they are removed on
/// access or when room is needed. A poisoned lock (a panic elsewhere while holding it) is a
/// [`CacheError::Backend`], so the cached store answers from the store.
///
/// This is equal to what a general-purpose cache (`moka`) gives the cached store — a TTL per
/// entry and a size bound — without its compile cost; it does not track recency.
#[derive(Clone)]
pub struct MemoryCache {
    inner: Arc<Inner>,
    prefix: Arc<str>,
}

struct Inner {
    shards: Vec<Mutex<HashMap<String, Entry>>>,
    shard_capacity: usize,
    clock: Arc<dyn Clock>,
}

struct Entry {
    value: Stored,
    expires_at: UnixTime,
}

/// Bytes from [`Cache::set`], or a value from [`Cache::set_value`] kept as it is (a hit
/// clones it: no JSON on the hot path).
#[derive(Clone)]
enum Stored {
    Bytes(Vec<u8>),
    Value(Arc<dyn Encode>),
}

/// A kept value: downcast on a typed read, encoded on a byte read.
trait Encode: Any + Send + Sync {
    fn encode(&self) -> Result<Vec<u8>, CacheError>;
    fn as_any(&self) -> &dyn Any;
}

impl<T: CacheValue> Encode for T {
    fn encode(&self) -> Result<Vec<u8>, CacheError> {
        encode(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("prefix", &self.prefix)
            .field("capacity", &(self.inner.shard_capacity * SHARDS))
            .finish_non_exhaustive()
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryCache {
    /// An empty cache of [`DEFAULT_CAPACITY`] entries on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity_and_clock(DEFAULT_CAPACITY, SystemClock)
    }

    /// An empty cache holding at most about `capacity` entries (at least one per shard).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_clock(capacity, SystemClock)
    }

    /// An empty cache whose TTLs run on `clock` (tests move a manual clock).
    #[must_use]
    pub fn with_capacity_and_clock(capacity: usize, clock: impl Clock) -> Self {
        MemoryCache {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
                shard_capacity: capacity.div_ceil(SHARDS).max(1),
                clock: Arc::new(clock),
            }),
            prefix: Arc::from(""),
        }
    }

    /// A view of the same entries whose keys are prefixed with `prefix` (isolated from views
    /// with another prefix).
    #[must_use]
    pub fn with_prefix(&self, prefix: impl Into<String>) -> Self {
        MemoryCache {
            inner: Arc::clone(&self.inner),
            prefix: Arc::from(prefix.into()),
        }
    }

    /// The number of entries held, expired ones not yet removed included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum()
    }

    /// Whether no entry is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn full_key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    fn shard(&self, full_key: &str) -> Result<MutexGuard<'_, HashMap<String, Entry>>, CacheError> {
        // FNV-1a: cheap and good enough to spread keys over the shards.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in full_key.as_bytes() {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let index = usize::try_from(hash % SHARDS as u64).unwrap_or(0);
        self.inner.shards[index]
            .lock()
            .map_err(|_| CacheError::backend("memory cache lock poisoned"))
    }

    fn lookup(&self, key: &str) -> Result<Option<Stored>, CacheError> {
        let full = self.full_key(key);
        let now = self.inner.clock.now();
        let mut shard = self.shard(&full)?;
        match shard.get(&full) {
            Some(entry) if entry.expires_at > now => Ok(Some(entry.value.clone())),
            Some(_) => {
                shard.remove(&full);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn get_now(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        match self.lookup(key)? {
            None => Ok(None),
            Some(Stored::Bytes(bytes)) => Ok(Some(bytes)),
            Some(Stored::Value(value)) => value.encode().map(Some),
        }
    }

    fn get_value_now<T: CacheValue>(&self, key: &str) -> Result<Option<T>, CacheError> {
        match self.lookup(key)? {
            None => Ok(None),
            Some(Stored::Bytes(bytes)) => decode(&bytes).map(Some),
            Some(Stored::Value(value)) => match value.as_any().downcast_ref::<T>() {
                Some(value) => Ok(Some(value.clone())),
                // Stored as another type: through its JSON, as any other cache would.
                None => decode(&value.encode()?).map(Some),
            },
        }
    }

    fn set_now(&self, key: &str, value: Stored, ttl: Duration) -> Result<(), CacheError> {
        let full = self.full_key(key);
        let now = self.inner.clock.now();
        let mut shard = self.shard(&full)?;
        if ttl.is_zero() {
            shard.remove(&full);
            return Ok(());
        }
        let expires_at = now.saturating_add(ttl);
        if !shard.contains_key(&full) && shard.len() >= self.inner.shard_capacity {
            shard.retain(|_, e| e.expires_at > now);
            if shard.len() >= self.inner.shard_capacity {
                let soonest = shard
                    .iter()
                    .min_by_key(|(_, e)| e.expires_at)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    shard.remove(&k);
                }
            }
        }
        shard.insert(full, Entry { value, expires_at });
        Ok(())
    }

    fn delete_now(&self, key: &str) -> Result<(), CacheError> {
        let full = self.full_key(key);
        self.shard(&full)?.remove(&full);
        Ok(())
    }
}

impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.get_now(key)
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        self.set_now(key, Stored::Bytes(value), ttl)
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.delete_now(key)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), CacheError> {
        for key in keys {
            self.delete_now(key)?;
        }
        Ok(())
    }

    async fn clear(&self) -> Result<(), CacheError> {
        for shard in &self.inner.shards {
            let mut shard = shard
                .lock()
                .map_err(|_| CacheError::backend("a cache shard's lock is poisoned"))?;
            shard.retain(|key, _| !key.starts_with(&*self.prefix));
        }
        Ok(())
    }

    async fn get_value<T: CacheValue>(&self, key: &str) -> Result<Option<T>, CacheError> {
        self.get_value_now(key)
    }

    async fn set_value<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.set_now(key, Stored::Value(Arc::new(value.clone())), ttl)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_evicts_the_entry_closest_to_expiry() {
        let cache = MemoryCache::with_capacity(1); // one entry per shard
        let many: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
        for (i, key) in many.iter().enumerate() {
            let ttl = Duration::from_secs(100 + i as u64);
            cache.set_now(key, Stored::Bytes(vec![1]), ttl).unwrap();
        }
        assert!(cache.len() <= SHARDS, "bounded: {}", cache.len());
        // The last key written is always kept.
        assert!(cache.get_now("k199").unwrap().is_some());
    }
}
