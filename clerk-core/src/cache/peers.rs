//! Cross-instance invalidation ([design §10](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#10-several-instances)):
//! several instances, each with its own in-process cache in front of one database, hear of
//! each other's writes within a second.
//!
//! A [`CachedStore`](super::CachedStore) with [`Peers`] publishes the keys every write
//! invalidated on a [`PeerBus`] (PostgreSQL `NOTIFY`, in clerk-store); each instance's
//! listener deletes them from its own cache ([`CachedStore::forget`](super::CachedStore::forget)).
//! The link is honest about its health: until the listener is connected — at start, and from
//! the moment its connection drops until it is back — the cache is bypassed (every lookup
//! goes to the store), and a (re)connected listener empties the cache before it is used again
//! ([`CachedStore::forget_all`](super::CachedStore::forget_all)), so notifications missed
//! while it was away can never leave a stale entry. Stale data is never served silently.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::CacheError;

/// Where a write's invalidated keys are announced to every instance (this one included).
#[async_trait]
pub trait PeerBus: Send + Sync {
    /// Announces that `keys` changed.
    async fn publish(&self, keys: &[String]) -> Result<(), CacheError>;
}

/// A [`CachedStore`](super::CachedStore)'s link to the other instances: the bus it publishes
/// on and whether its listener is connected. Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct Peers {
    bus: Arc<dyn PeerBus>,
    live: Arc<AtomicBool>,
}

impl fmt::Debug for Peers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peers")
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

impl Peers {
    /// A link publishing on `bus`, not live yet: the cache is bypassed until the listener
    /// reports itself connected ([`Peers::set_live`]).
    #[must_use]
    pub fn new(bus: Arc<dyn PeerBus>) -> Self {
        Peers {
            bus,
            live: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the listener is connected (and the cache was emptied since it connected).
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// The listener's report: connected and caught up (`true`), or disconnected (`false`).
    pub fn set_live(&self, live: bool) {
        let was = self.live.swap(live, Ordering::SeqCst);
        if was != live {
            if live {
                tracing::info!("cache invalidation listener connected: in-process cache on");
            } else {
                tracing::warn!(
                    "cache invalidation listener disconnected: in-process cache bypassed until it is back"
                );
            }
        }
    }

    pub(super) async fn publish(&self, keys: &[String]) -> Result<(), CacheError> {
        self.bus.publish(keys).await
    }
}
