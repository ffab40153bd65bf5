//! The bounded verified-token cache.
//!
//! Keyed by a randomly keyed hash of the whole token and confirmed by comparing the whole
//! token, so a hash collision can only cost a miss, never let an unverified token through.
//! Because the hash key is secret and random per process, an attacker cannot aim a token at a
//! cached entry's slot, which is also why the confirming comparison need not be constant-time.
//! Sharded mutexes keep contention low; each shard evicts expired entries first, then the
//! oldest (FIFO), so memory stays bounded by the capacity.

use crate::auth::Auth;
use crate::time::UnixTime;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

struct Entry {
    token: Box<str>,
    auth: Arc<Auth>,
    /// The key that verified the token (`None` in PEM mode).
    kid: Option<Box<str>>,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<u64, Entry>,
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
        let hash = self.hasher.hash_one(token);
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
