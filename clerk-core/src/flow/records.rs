//! Where session records live: the [`SessionStore`] trait both adapters keep sessions in
//! (clerk-rocket directly, clerk-axum behind tower-sessions), and [`MemorySessionStore`],
//! the bounded in-process store for tests and single-process apps.
//!
//! Every store keeps the rules of [design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation):
//! a record expires at its [`StoredSession::expires_at`] (the flow computes it from the idle
//! and absolute lifetimes) and is never loaded after it; what expired is evicted; and at most
//! [`MAX_SESSIONS_PER_SID`] records exist per Clerk session id (the oldest goes), so
//! replaying one token without the app's cookie cannot grow the store.
//!
//! Why our own memory store rather than a cache crate: the per-`sid` bound needs an index
//! no session-store crate keeps, and one store type serves both adapters.
//!
//! ```
//! # futures_util::FutureExt::now_or_never(async {
//! use clerk_core::flow::records::{MemorySessionStore, SessionStore, StoredSession};
//! use clerk_core::time::UnixTime;
//!
//! let store = MemorySessionStore::new();
//! let now = UnixTime::from_secs(1_000);
//! for n in 0..100 {
//!     // One replayed token: a new record per request, all for the same Clerk session.
//!     let session = StoredSession::new(b"{}".to_vec(), Some("sess_1".into()), UnixTime::from_secs(2_000));
//!     store.save(&format!("id{n}"), session, now).await.unwrap();
//! }
//! assert_eq!(store.len(), 16);
//! assert!(store.load("id0", now).await.unwrap().is_none(), "the oldest went");
//! assert!(store.load("id99", now).await.unwrap().is_some());
//! // Past its expiry nothing loads, and a sweep frees it.
//! assert!(store.load("id99", UnixTime::from_secs(2_000)).await.unwrap().is_none());
//! assert_eq!(store.len(), 0);
//! # }).unwrap();
//! ```

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::time::UnixTime;

/// How many records may exist for one Clerk session id; saving one more evicts the oldest.
pub const MAX_SESSIONS_PER_SID: usize = 16;

/// One session as a store keeps it: opaque data (the adapter's serialization), the Clerk
/// session id it belongs to (for the per-`sid` bound) and when it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The adapter's serialized session.
    pub data: Vec<u8>,
    /// The Clerk `sid` of the session's record, when it holds one.
    pub clerk_sid: Option<String>,
    /// When the record expires: never loaded from then on.
    pub expires_at: UnixTime,
}

impl StoredSession {
    /// A record of `data` for `clerk_sid`, expiring at `expires_at`.
    #[must_use]
    pub fn new(data: Vec<u8>, clerk_sid: Option<String>, expires_at: UnixTime) -> Self {
        StoredSession {
            data,
            clerk_sid,
            expires_at,
        }
    }
}

impl fmt::Debug for StoredSession {
    // The data holds a claims snapshot: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .field("clerk_sid", &self.clerk_sid)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The session store failed (the request is answered 503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionStoreError(pub String);

/// Where sessions live, by id. Implement it over a shared database or cache to run several
/// instances; [`MemorySessionStore`] keeps them in this process.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The data of session `id`, unless it does not exist or expired by `now`.
    async fn load(&self, id: &str, now: UnixTime) -> Result<Option<Vec<u8>>, SessionStoreError>;
    /// Stores `session` under `id` (replacing what was there), then keeps at most
    /// [`MAX_SESSIONS_PER_SID`] records for its `clerk_sid`, evicting the oldest.
    async fn save(
        &self,
        id: &str,
        session: StoredSession,
        now: UnixTime,
    ) -> Result<(), SessionStoreError>;
    /// Forgets `id` (nothing happens when it does not exist).
    async fn delete(&self, id: &str) -> Result<(), SessionStoreError>;
    /// Deletes every record expired by `now`; returns how many.
    async fn sweep(&self, now: UnixTime) -> Result<u64, SessionStoreError>;
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, Entry>,
    /// Per Clerk `sid`, its records' ids, oldest first.
    by_sid: HashMap<String, VecDeque<String>>,
    /// Every record by expiry, for eviction in order.
    by_expiry: BTreeSet<(UnixTime, String)>,
}

struct Entry {
    session: StoredSession,
}

impl State {
    fn remove(&mut self, id: &str) -> Option<StoredSession> {
        let entry = self.sessions.remove(id)?;
        self.by_expiry
            .remove(&(entry.session.expires_at, id.to_owned()));
        if let Some(sid) = &entry.session.clerk_sid {
            if let Some(ids) = self.by_sid.get_mut(sid) {
                ids.retain(|other| other != id);
                if ids.is_empty() {
                    self.by_sid.remove(sid);
                }
            }
        }
        Some(entry.session)
    }

    fn sweep(&mut self, now: UnixTime) -> u64 {
        let mut swept = 0;
        while let Some((expires_at, id)) = self.by_expiry.first().cloned() {
            if expires_at > now {
                break;
            }
            self.remove(&id);
            swept += 1;
        }
        swept
    }

    fn insert(&mut self, id: &str, session: StoredSession) {
        self.remove(id);
        self.by_expiry.insert((session.expires_at, id.to_owned()));
        if let Some(sid) = &session.clerk_sid {
            let ids = self.by_sid.entry(sid.clone()).or_default();
            ids.push_back(id.to_owned());
            let evicted: Vec<String> = if ids.len() > MAX_SESSIONS_PER_SID {
                ids.drain(..ids.len() - MAX_SESSIONS_PER_SID).collect()
            } else {
                Vec::new()
            };
            self.sessions.insert(id.to_owned(), Entry { session });
            for old in evicted {
                self.remove(&old);
            }
        } else {
            self.sessions.insert(id.to_owned(), Entry { session });
        }
    }
}

/// Sessions in this process's memory, bounded: expired records are evicted as requests come
/// (every call first drops what expired, oldest first) and at most [`MAX_SESSIONS_PER_SID`]
/// exist per Clerk session. A restart signs everyone out and instances do not share it: for
/// several instances use a database or Redis store.
#[derive(Default)]
pub struct MemorySessionStore {
    state: Mutex<State>,
}

impl fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("sessions", &self.len())
            .finish()
    }
}

impl MemorySessionStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps (every change is one call).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many records it holds (expired ones not yet evicted included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of session data it holds: what a replay test watches.
    #[must_use]
    pub fn data_bytes(&self) -> usize {
        self.lock()
            .sessions
            .values()
            .map(|entry| entry.session.data.len())
            .sum()
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn load(&self, id: &str, now: UnixTime) -> Result<Option<Vec<u8>>, SessionStoreError> {
        let mut state = self.lock();
        state.sweep(now);
        Ok(state
            .sessions
            .get(id)
            .map(|entry| entry.session.data.clone()))
    }

    async fn save(
        &self,
        id: &str,
        session: StoredSession,
        now: UnixTime,
    ) -> Result<(), SessionStoreError> {
        let mut state = self.lock();
        state.sweep(now);
        if session.expires_at > now {
            state.insert(id, session);
        } else {
            state.remove(id);
        }
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        self.lock().remove(id);
        Ok(())
    }

    async fn sweep(&self, now: UnixTime) -> Result<u64, SessionStoreError> {
        Ok(self.lock().sweep(now))
    }
}

/// The cases every [`SessionStore`] must pass, run by each backend's tests (feature
/// `conformance`).
#[cfg(feature = "conformance")]
// A test suite: a failing store call is a failed case, reported by the panic.
#[allow(clippy::unwrap_used)]
pub mod conformance {
    use super::{SessionStore, StoredSession, MAX_SESSIONS_PER_SID};
    use crate::time::UnixTime;

    fn session(data: &str, sid: Option<&str>, expires_at: i64) -> StoredSession {
        StoredSession::new(
            data.as_bytes().to_vec(),
            sid.map(str::to_owned),
            UnixTime::from_secs(expires_at),
        )
    }

    /// Runs every case against `store` (empty, or with ids prefixed by `tag` that no other run
    /// uses, so several runs may share a database). Panics with the case's name on failure.
    pub async fn run(store: &dyn SessionStore, tag: &str) {
        let now = UnixTime::from_secs(1_000);
        let id = |n: &str| format!("{tag}-{n}");

        // Save, load, replace, delete.
        store
            .save(&id("a"), session("one", None, 2_000), now)
            .await
            .unwrap();
        assert_eq!(
            store.load(&id("a"), now).await.unwrap().as_deref(),
            Some(&b"one"[..]),
            "load after save"
        );
        store
            .save(&id("a"), session("two", None, 2_000), now)
            .await
            .unwrap();
        assert_eq!(
            store.load(&id("a"), now).await.unwrap().as_deref(),
            Some(&b"two"[..]),
            "save replaces"
        );
        store.delete(&id("a")).await.unwrap();
        assert!(store.load(&id("a"), now).await.unwrap().is_none(), "delete");
        store.delete(&id("never")).await.unwrap();

        // Expiry: never loaded at or after it; swept.
        store
            .save(&id("old"), session("x", None, 1_500), now)
            .await
            .unwrap();
        assert!(store.load(&id("old"), now).await.unwrap().is_some());
        let later = UnixTime::from_secs(1_500);
        assert!(
            store.load(&id("old"), later).await.unwrap().is_none(),
            "an expired record does not load"
        );
        store.sweep(later).await.unwrap();
        assert!(
            store.load(&id("old"), now).await.unwrap().is_none(),
            "swept"
        );

        // At most MAX_SESSIONS_PER_SID per Clerk sid: the oldest go.
        let sid = format!("sess_{tag}");
        let total = MAX_SESSIONS_PER_SID + 4;
        for n in 0..total {
            store
                .save(&id(&format!("r{n}")), session("r", Some(&sid), 5_000), now)
                .await
                .unwrap();
        }
        let mut alive = 0;
        for n in 0..total {
            if store
                .load(&id(&format!("r{n}")), now)
                .await
                .unwrap()
                .is_some()
            {
                alive += 1;
            } else {
                assert!(
                    n < 4,
                    "record r{n} of {total} evicted; only the oldest may go"
                );
            }
        }
        assert_eq!(alive, MAX_SESSIONS_PER_SID, "per-sid bound");
        // Saving an existing record again does not count twice.
        let last = id(&format!("r{}", total - 1));
        store
            .save(&last, session("again", Some(&sid), 5_000), now)
            .await
            .unwrap();
        assert!(store.load(&id("r4"), now).await.unwrap().is_some());
        // Other sessions are untouched by one sid's bound.
        store
            .save(&id("other"), session("o", Some("sess_other"), 5_000), now)
            .await
            .unwrap();
        assert!(store.load(&id("other"), now).await.unwrap().is_some());
        for n in 0..total {
            store.delete(&id(&format!("r{n}"))).await.unwrap();
        }
        store.delete(&id("other")).await.unwrap();

        // Concurrent saves for one sid (one replayed token, many requests at once; in a shared
        // store, from several instances): the bound holds once they are done.
        let burst_sid = format!("sess_{tag}_burst");
        let burst = 50;
        let saves = (0..burst).map(|n| {
            let record = id(&format!("c{n}"));
            let burst_sid = &burst_sid;
            async move {
                store
                    .save(&record, session("c", Some(burst_sid), 5_000), now)
                    .await
            }
        });
        for saved in futures_util::future::join_all(saves).await {
            saved.unwrap();
        }
        let mut alive = 0;
        for n in 0..burst {
            if store
                .load(&id(&format!("c{n}")), now)
                .await
                .unwrap()
                .is_some()
            {
                alive += 1;
            }
        }
        assert_eq!(
            alive, MAX_SESSIONS_PER_SID,
            "per-sid bound under {burst} concurrent saves"
        );
        for n in 0..burst {
            store.delete(&id(&format!("c{n}"))).await.unwrap();
        }
    }
}

#[cfg(all(test, feature = "conformance"))]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn the_memory_store_passes_the_conformance_cases() {
        let store = MemorySessionStore::new();
        conformance::run(&store, "mem").now_or_never().unwrap();
        assert!(store.is_empty(), "{store:?}");
    }
}
