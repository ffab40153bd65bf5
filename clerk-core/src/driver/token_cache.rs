//! The bounded verified-token cache.
//!
//! Keyed by a randomly keyed hash of the token's last bytes (its signature's tail) and
//! confirmed by comparing the whole token, so a hash collision can only cost a miss, never let
//! an unverified token through. Only verified tokens are stored, and two of them cannot share
//! a signature tail short of forging RSA signatures; a crafted token that copies a cached
//! tail only finds a slot whose comparison fails, and then pays full verification like any
//! other unknown token. Hashing the tail instead of the whole ~600–900-byte token was ~1.3 %
//! of a cached request's CPU saved (BENCHMARKS.md).
//!
//! **The hash is not SipHash, and stays safe against flooding.** A slot is a keyed
//! folded multiply (the mixing step of foldhash and aHash) of the tail's four 64-bit words
//! and the length, under a 256-bit key drawn at random per cache. Hash flooding needs an
//! attacker to make many *stored* entries share a bucket, and here both ways to that are
//! closed: (1) only tokens whose RS256 signature verified are ever stored, and a signature's
//! bytes are the RSA output over claims Clerk chose: nobody can pick them, only mint tokens
//! from Clerk one by one and keep the ones that collide; (2) keeping the ones that collide
//! needs each token's slot, which depends on the secret per-process key, so even a client
//! minting tokens in bulk cannot compute it offline. Lookups of crafted (unverified) tokens
//! are never stored; they probe a table whose occupancy (1) and (2) keep uniform, and a
//! colliding lookup costs one failed comparison. Because an attacker cannot aim a token at a
//! slot, the confirming comparison need not be constant-time either. SipHash-1-3 of the tail
//! cost ~450 instructions per lookup, this mix ~30 (BENCHMARKS.md).
//!
//! **The store is [`quick_cache`]'s sharded S3-FIFO** (`quick_cache::sync::Cache`, no
//! runtime, no background thread; `parking_lot` locks only). It replaced a hand-written
//! FIFO that never hit once the working set exceeded its capacity (10,000 tokens in rotation
//! through 8,192 slots: every token was evicted just before it came back) and whose eviction
//! scanned a shard for expired entries on every insert. S3-FIFO is scan-resistant: a token
//! seen once passes through a small probationary queue, a token seen again lands in the main
//! queue, so one-off tokens cannot flush the tokens in use; inserts and hits are O(1) and a
//! hit allocates nothing (the value is an `Arc`). moka was the other candidate; quick_cache
//! is the lighter dependency (hashbrown, equivalent, parking_lot). Entries are not expired by
//! the cache: the caller re-checks `exp` and the key's presence on every hit and an entry it
//! refuses is removed, so an expired token costs one failed hit and then its slot.

use crate::auth::Auth;
use crate::jwks::KeySet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, Weak};

/// How many of the token's last bytes are hashed: 32 base64url characters are 192 bits of the
/// RS256 signature.
const HASHED_TAIL: usize = 32;

/// The map's keys are already keyed hashes: hashing them again would only cost time.
#[derive(Default, Clone)]
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

struct Entry {
    token: Box<str>,
    auth: Arc<Auth>,
    /// The key that verified the token (`None` in PEM mode).
    kid: Option<Box<str>>,
    /// The key set that key came from, when known (see `JwksCache::holds`).
    keys: Option<Weak<KeySet>>,
}

type Slots = quick_cache::sync::Cache<
    u64,
    Arc<Entry>,
    quick_cache::UnitWeighter,
    BuildHasherDefault<PrehashedKey>,
>;

/// What a cache hit returns; the caller re-checks expiry and the key's presence.
pub(crate) struct Hit<'a> {
    pub(crate) auth: Arc<Auth>,
    pub(crate) kid: Option<&'a str>,
    pub(crate) keys: Option<&'a Weak<KeySet>>,
}

pub(crate) struct TokenCache {
    slots: Slots,
    /// The slot hash's secret key, random per cache.
    key: [u64; 5],
}

/// The 128-bit product of `a` and `b`, its halves folded by xor: every output bit depends on
/// every input bit of both (the mixing step of foldhash and aHash).
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    // Truncation intended: the low and the high half.
    #[allow(clippy::cast_possible_truncation)]
    let (low, high) = (product as u64, (product >> 64) as u64);
    low ^ high
}

/// Five independent random words from the standard library's per-process random source
/// (the keys of `RandomState`, seeded from the OS), without another dependency.
fn random_key() -> [u64; 5] {
    let state = RandomState::new();
    std::array::from_fn(|i| state.hash_one(i))
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        TokenCache {
            slots: Slots::with(
                capacity,
                capacity as u64,
                quick_cache::UnitWeighter,
                BuildHasherDefault::default(),
                quick_cache::sync::DefaultLifecycle::default(),
            ),
            key: random_key(),
        }
    }

    /// The token's slot: a keyed hash of its length and its last [`HASHED_TAIL`] bytes (see
    /// the module docs for why this is safe against flooding).
    fn slot(&self, bytes: &[u8]) -> u64 {
        let mut tail = [0u8; HASHED_TAIL];
        let start = bytes.len().saturating_sub(HASHED_TAIL);
        tail[HASHED_TAIL - (bytes.len() - start)..].copy_from_slice(&bytes[start..]);
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&tail[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let k = &self.key;
        let mixed = folded_multiply(word(0) ^ k[0], word(1) ^ k[1])
            ^ folded_multiply(word(2) ^ k[2], word(3) ^ k[3]);
        folded_multiply(mixed ^ bytes.len() as u64, k[4])
    }

    /// Looks the token up and lets `still_valid` decide whether the entry may be served; an
    /// entry that may not is removed.
    ///
    /// Takes the token as bytes so the warm path may look a header's bytes up before (and
    /// instead of) checking them: only checked tokens are stored, so equal bytes are one.
    pub(crate) fn get(
        &self,
        token: &(impl AsRef<[u8]> + ?Sized),
        still_valid: impl FnOnce(Hit<'_>) -> Option<Arc<Auth>>,
    ) -> Option<Arc<Auth>> {
        let token = token.as_ref();
        let hash = self.slot(token);
        let entry = self.slots.get(&hash)?;
        if entry.token.as_bytes() != token {
            return None;
        }
        let served = still_valid(Hit {
            auth: Arc::clone(&entry.auth),
            kid: entry.kid.as_deref(),
            keys: entry.keys.as_ref(),
        });
        if served.is_none() {
            // Only this entry: a concurrent insert of another token under the hash stays.
            self.slots
                .remove_if(&hash, |current| Arc::ptr_eq(current, &entry));
        }
        served
    }

    pub(crate) fn insert(
        &self,
        token: &str,
        auth: Arc<Auth>,
        kid: Option<&str>,
        keys: Option<Weak<KeySet>>,
    ) {
        let hash = self.slot(token.as_bytes());
        self.slots.insert(
            hash,
            Arc::new(Entry {
                token: token.into(),
                auth,
                kid: kid.map(Into::into),
                keys,
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::RawClaims;
    use crate::time::UnixTime;

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
        cache.insert(&cached, auth("user_alice", 100), None, None);

        assert!(cache.get(&forged, serve).is_none());
        let served = cache
            .get(&cached, serve)
            .expect("the verified token is still served");
        assert_eq!(served.user_id, "user_alice");
    }

    #[test]
    fn short_tokens_and_distinct_tails_are_kept_apart() {
        let cache = TokenCache::new(64);
        cache.insert("a.b.c", auth("user_short", 100), None, None);
        cache.insert(&format!("x.y.{TAIL}1"), auth("user_one", 100), None, None);
        cache.insert(&format!("x.y.{TAIL}2"), auth("user_two", 100), None, None);
        let user = |token: &str| cache.get(token, serve).map(|a| a.user_id.clone());
        assert_eq!(user("a.b.c").as_deref(), Some("user_short"));
        assert_eq!(user(&format!("x.y.{TAIL}1")).as_deref(), Some("user_one"));
        assert_eq!(user(&format!("x.y.{TAIL}2")).as_deref(), Some("user_two"));
        assert_eq!(user("a.b.d"), None);
    }

    #[test]
    fn the_capacity_bounds_the_entries() {
        let cache = TokenCache::new(64);
        let tokens: Vec<String> = (0..2000).map(|i| format!("h.p.{i:040}")).collect();
        for (i, token) in tokens.iter().enumerate() {
            cache.insert(token, auth(&format!("user_{i}"), 100), None, None);
        }
        let held = tokens
            .iter()
            .filter(|t| cache.get(t, serve).is_some())
            .count();
        assert!(held <= 64, "{held} entries held with room for 64");
        assert!(held > 0);
    }

    /// 10,000 tokens in rotation through a cache of 8,192: a FIFO (or LRU) evicts each token
    /// just before it comes back and never hits; a scan-resistant cache keeps most of them.
    #[test]
    fn a_rotation_larger_than_the_capacity_still_hits() {
        let cache = TokenCache::new(8192);
        let tokens: Vec<String> = (0..10_000).map(|i| format!("h.p.{i:040}")).collect();
        let shared = auth("user_rot", 100);
        let mut hits = 0;
        for round in 0..4 {
            for token in &tokens {
                if cache.get(token, serve).is_some() {
                    if round > 0 {
                        hits += 1;
                    }
                } else {
                    cache.insert(token, Arc::clone(&shared), None, None);
                }
            }
        }
        let ratio = f64::from(hits) / (3.0 * 10_000.0);
        assert!(
            ratio > 0.4,
            "hit ratio {ratio:.3} over the last three rounds"
        );
    }

    #[test]
    fn an_entry_the_caller_refuses_is_removed() {
        let cache = TokenCache::new(8);
        cache.insert("t.o.k", auth("user_a", 100), None, None);
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
