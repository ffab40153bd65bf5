//! [`ClerkSessionStore`]: a tower-sessions store over clerk-core's
//! [`SessionStore`](clerk_core::flow::records::SessionStore), so Axum sessions follow the same
//! bounds as clerk-rocket's: each record expires by the session lifetimes (idle, absolute for
//! staff) and at most 16 exist per Clerk session id.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use clerk_core::flow::records::{SessionStore, StoredSession};
use clerk_core::flow::session::{LocalLogin, SessionData, SessionLifetimes};
use clerk_core::session::{SessionRecord, SESSION_KEY};
use clerk_core::time::{Clock, SystemClock, UnixTime};
use clerk_core::ClerkConfig;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, Error};

use super::LOCAL_USER_KEY;

/// A [`tower_sessions::SessionStore`] keeping records in a clerk-core
/// [`SessionStore`] ([`MemorySessionStore`](clerk_core::flow::records::MemorySessionStore) in
/// one process; a database or Redis store for several instances), with the lifetimes of the
/// settings. Cheap to clone.
#[derive(Clone)]
pub struct ClerkSessionStore {
    records: Arc<dyn SessionStore>,
    lifetimes: SessionLifetimes,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ClerkSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkSessionStore")
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

impl ClerkSessionStore {
    /// Sessions in `records`, living as the settings say (`CLERK_SESSION_IDLE_SECONDS`, the
    /// staff session lifetimes).
    #[must_use]
    pub fn new(records: Arc<dyn SessionStore>, config: &ClerkConfig) -> Self {
        ClerkSessionStore {
            records,
            lifetimes: SessionLifetimes::from_config(config),
            clock: Arc::new(SystemClock),
        }
    }

    /// The clock expiry is judged by (tests: a manual clock; use the authenticator's).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The records' store.
    #[must_use]
    pub fn records(&self) -> &Arc<dyn SessionStore> {
        &self.records
    }

    fn stored(&self, record: &Record) -> session_store::Result<StoredSession> {
        let clerk: Option<SessionRecord> = record
            .data
            .get(SESSION_KEY)
            .and_then(|value| serde_json::from_value(value.clone()).ok());
        let local: Option<LocalLogin> = record
            .data
            .get(LOCAL_USER_KEY)
            .and_then(|value| serde_json::from_value(value.clone()).ok());
        let data = SessionData { clerk, local };
        let ours = self.lifetimes.expires_at(&data, self.clock.now());
        // tower-sessions' own expiry (its `Expiry` setting) bounds it too.
        let theirs = UnixTime::from_secs(record.expiry_date.unix_timestamp());
        let bytes = serde_json::to_vec(record).map_err(|e| Error::Encode(e.to_string()))?;
        let sid = data.clerk.and_then(|record| record.session_id);
        Ok(StoredSession::new(bytes, sid, ours.min(theirs)))
    }
}

fn backend(error: impl fmt::Display) -> Error {
    Error::Backend(error.to_string())
}

#[async_trait]
impl tower_sessions::SessionStore for ClerkSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id; a collision (2^-128) draws again.
        while self
            .records
            .load(&record.id.to_string(), self.clock.now())
            .await
            .map_err(backend)?
            .is_some()
        {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let stored = self.stored(record)?;
        self.records
            .save(&record.id.to_string(), stored, self.clock.now())
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(bytes) = self
            .records
            .load(&id.to_string(), self.clock.now())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Decode(e.to_string()))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.records.delete(&id.to_string()).await.map_err(backend)
    }
}
