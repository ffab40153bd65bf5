//! The bounded verified-token cache.
//!
//! Keyed by a randomly keyed hash of the token's last bytes (its signature's tail) and
//! confirmed by comparing the whole token, so a hash collision can only cost a miss, never let
//! an unverified token through. Only verified tokens are stored, and two of them cannot share
//! a signature tail short of forging RSA signatures; a crafted token that copies a cached
//! tail only finds a slot whose comparison fails, and then pays full verification like any
//! other unknown token. Because the hash key is secret and random per process, an attacker
//! cannot aim a token at a slot either, which is also why the confirming comparison need not
//! be constant-time. Hashing the tail instead of the whole ~600–900-byte token was ~1.3 % of a
//! cached request's CPU saved (BENCHMARKS.md).
//! Sharded mutexes keep contention low; each shard evicts expired entries first, then the
//! oldest (FIFO), so memory stays bounded by the capacity.

use crate::auth::Auth;
use crate::time::UnixTime;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

/// How many of the token's last bytes are hashed: 32 base64url characters are 192 bits of the
/// RS256 signature.
const HASHED_TAIL: usize = 32;

/// The map's keys are already keyed hashes: hashing them again would only cost time.
#[derive(Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `u64` keys; fold anything else in for correctness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type SlotMap = HashMap<u64, Entry, BuildHasherDefault<PrehashedKey>>;

struct Entry {
    token: Box<str>,
    auth: Arc<Auth>,
    /// The key that verified the token (`None` in PEM mode).
    kid: Option<Box<str>>,
}

#[derive(Default)]
struct Shard {
    entries: SlotMap,
    order: VecDeque<u64>,
}

/// What a cache hit returns; the caller re-checks expiry and the key's presence.
pub(crate) struct Hit<'a> {
    pub(crate) auth: Arc<Auth>,
    pub(crate) kid: Option<&'a str>,
}

pub(crate) struct TokenCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn slot(&self, token: &str) -> (u64, &Mutex<Shard>) {
        let tail = &token.as_bytes()[token.len().saturating_sub(HASHED_TAIL)..];
        let hash = self.hasher.hash_one((token.len(), tail));
        // Low bits pick the map bucket; use high bits for the shard so the two are independent.
        let shard = (hash >> 58) as usize % SHARDS;
        (hash, &self.shards[shard])
    }

    /// Looks the token up and lets `still_valid` decide whether the entry may be served; an
    /// entry that may not is removed.
    pub(crate) fn get(
        &self,
        token: &str,
        still_valid: impl FnOnce(Hit<'_>) -> Option<Arc<Auth>>,
    ) -> Option<Arc<Auth>> {
        let (hash, shard) = self.slot(token);
        let mut shard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = shard.entries.get(&hash)?;
        if *entry.token != *token {
            return None;
        }
        let served = still_valid(Hit {
            auth: Arc::clone(&entry.auth),
            kid: entry.kid.as_deref(),
        });
        if served.is_none() {
            shard.entries.remove(&hash);
        }
        served
    }

    pub(crate) fn insert(&self, token: &str, auth: Arc<Auth>, kid: Option<&str>, now: UnixTime) {
        let (hash, shard) = self.slot(token);
        let mut shard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = Entry {
            token: token.into(),
            auth,
            kid: kid.map(Into::into),
        };
        if shard.entries.insert(hash, entry).is_some() {
            return; // replaced in place; already queued
        }
        shard.order.push_back(hash);
        while shard.entries.len() > self.per_shard {
            shard.evict_one(now);
        }
        // The queue can hold hashes of entries already removed on a failed hit; keep it tidy.
        if shard.order.len() > 2 * self.per_shard {
            let Shard { entries, order } = &mut *shard;
            order.retain(|h| entries.contains_key(h));
        }
    }
}

impl Shard {
    fn evict_one(&mut self, now: UnixTime) {
        if let Some(expired) = self
            .entries
            .iter()
            .find(|(_, e)| e.auth.expires_at <= now)
            .map(|(h, _)| *h)
        {
            self.entries.remove(&expired);
            return;
        }
        while let Some(oldest) = self.order.pop_front() {
            if self.entries.remove(&oldest).is_some() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::RawClaims;

    fn auth(user: &str, expires_at: i64) -> Arc<Auth> {
        Arc::new(Auth {
            user_id: user.to_owned(),
            session_id: None,
            session_status: None,
            org: None,
            user_features: Vec::new(),
            org_features: Vec::new(),
            plan: None,
            actor: None,
            factor_verification_age: None,
            issuer: None,
            authorized_party: None,
            issued_at: None,
            not_before: None,
            expires_at: UnixTime::from_secs(expires_at),
            audience: None,
            claims_version: 2,
            claims: Arc::new(RawClaims::default()),
        })
    }

    fn serve(hit: Hit<'_>) -> Option<Arc<Auth>> {
        Some(hit.auth)
    }

    const TAIL: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn a_token_sharing_a_cached_tokens_tail_misses_and_leaves_it_cached() {
        let cache = TokenCache::new(64);
        let cached = format!("header.payload-of-alice.{TAIL}");
        let forged = format!("header.payload-of-mallo.{TAIL}");
        assert_eq!(
            cached.len(),
            forged.len(),
            "same length and tail: same slot"
        );
        cache.insert(
            &cached,
            auth("user_alice", 100),
            None,
            UnixTime::from_secs(1),
        );

        assert!(cache.get(&forged, serve).is_none());
        let served = cache
            .get(&cached, serve)
            .expect("the verified token is still served");
        assert_eq!(served.user_id, "user_alice");
    }

    #[test]
    fn short_tokens_and_distinct_tails_are_kept_apart() {
        let cache = TokenCache::new(64);
        let now = UnixTime::from_secs(1);
        cache.insert("a.b.c", auth("user_short", 100), None, now);
        cache.insert(&format!("x.y.{TAIL}1"), auth("user_one", 100), None, now);
        cache.insert(&format!("x.y.{TAIL}2"), auth("user_two", 100), None, now);
        let user = |token: &str| cache.get(token, serve).map(|a| a.user_id.clone());
        assert_eq!(user("a.b.c").as_deref(), Some("user_short"));
        assert_eq!(user(&format!("x.y.{TAIL}1")).as_deref(), Some("user_one"));
        assert_eq!(user(&format!("x.y.{TAIL}2")).as_deref(), Some("user_two"));
        assert_eq!(user("a.b.d"), None);
    }

    #[test]
    fn the_capacity_bounds_the_entries_expired_first_then_oldest() {
        let cache = TokenCache::new(SHARDS); // one entry per shard
        let now = UnixTime::from_secs(50);
        let tokens: Vec<String> = (0..200).map(|i| format!("h.p.{i:040}")).collect();
        for (i, token) in tokens.iter().enumerate() {
            cache.insert(token, auth(&format!("user_{i}"), 100), None, now);
        }
        let held = tokens
            .iter()
            .filter(|t| cache.get(t, serve).is_some())
            .count();
        assert!(held <= SHARDS, "{held} entries held with room for {SHARDS}");
        assert!(held > 0);
        // The newest token of a shard always survives its own insertion.
        assert!(cache.get(tokens.last().unwrap(), serve).is_some());
    }

    #[test]
    fn an_entry_the_caller_refuses_is_removed() {
        let cache = TokenCache::new(8);
        cache.insert("t.o.k", auth("user_a", 100), None, UnixTime::from_secs(1));
        assert!(cache.get("t.o.k", |_| None).is_none());
        let mut asked = false;
        assert!(cache
            .get("t.o.k", |hit| {
                asked = true;
                Some(hit.auth)
            })
            .is_none());
        assert!(!asked, "a removed entry is not offered again");
    }
}
