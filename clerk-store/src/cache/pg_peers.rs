//! PostgreSQL `LISTEN`/`NOTIFY` as the [`PeerBus`] of several instances
//! ([design §10](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#10-several-instances)):
//! every instance keeps its own in-process cache, and hears of every other instance's writes
//! within a second — through the database they already share, no coordinator of ours.
//!
//! [`attach`] gives a [`CachedStore`] its [`Peers`] and starts two tasks on the current tokio
//! runtime:
//!
//! - the **listener** holds a `LISTEN` connection; a notification names the keys another
//!   instance's write invalidated, and they are deleted here ([`CachedStore::forget`]). On
//!   every (re)connection it empties the cache ([`CachedStore::forget_all`]) before marking the
//!   link live, so notifications missed while it was away cannot leave stale entries;
//! - the **heartbeat** announces this instance every [`HEARTBEAT`] on the same channel and
//!   watches for its own announcements to come back: if none arrived for
//!   [`HEARTBEAT_TIMEOUT`] (a silently dead connection, a stalled server), the link is marked
//!   down — the cache is bypassed — and the listener's backend is terminated so it reconnects.
//!
//! While the link is down every lookup goes to the database: slower, never stale.

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clerk_core::cache::{Cache, CacheError, CachedStore, PeerBus, Peers};
use clerk_core::store::async_trait;
use clerk_core::store::Store;
use clerk_core::time::{Clock, SystemClock};
use serde_json::{json, Value};
use sqlx::postgres::{PgListener, PgPool};

/// The notification channel's prefix; the channel is `clerk_cache:<schema>`, so applications
/// sharing a database in separate schemas do not hear each other (notifications are
/// per database).
pub const CHANNEL_PREFIX: &str = "clerk_cache:";

/// How often an instance announces itself on the channel.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long without hearing its own announcement before an instance marks its link down.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);

/// PostgreSQL's notification payload limit is 8000 bytes; stay below it.
const MAX_PAYLOAD: usize = 7_000;

/// Publishes invalidated keys with `pg_notify` on the schema's channel ([`CHANNEL_PREFIX`]).
#[derive(Debug, Clone)]
pub struct PgPeerBus {
    pool: PgPool,
}

impl PgPeerBus {
    /// A bus over `pool` (the store's own pool).
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        PgPeerBus { pool }
    }

    async fn notify(&self, payload: &Value) -> Result<(), CacheError> {
        sqlx::query("SELECT pg_notify($1 || current_schema(), $2)")
            .bind(CHANNEL_PREFIX)
            .bind(payload.to_string())
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(CacheError::backend)
    }
}

/// `keys` in payloads under [`MAX_PAYLOAD`] bytes each.
fn chunks(keys: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut size = 0;
    for key in keys {
        if size + key.len() + 4 > MAX_PAYLOAD && !current.is_empty() {
            out.push(json!({ "keys": current }));
            current = Vec::new();
            size = 0;
        }
        size += key.len() + 4;
        current.push(key);
    }
    if !current.is_empty() {
        out.push(json!({ "keys": current }));
    }
    out
}

#[async_trait]
impl PeerBus for PgPeerBus {
    async fn publish(&self, keys: &[String]) -> Result<(), CacheError> {
        for payload in chunks(keys) {
            self.notify(&payload).await?;
        }
        Ok(())
    }
}

/// What the two tasks share.
struct Link {
    peers: Peers,
    me: String,
    /// When this instance last heard its own heartbeat (ms since the epoch).
    last_heard: AtomicI64,
    /// The listener's backend pid (0: none).
    listener_pid: AtomicI32,
}

/// Gives `cached` its [`Peers`] over `pool` and starts the listener and heartbeat tasks on
/// the current tokio runtime (they run as long as the runtime). Returns the store to use: the
/// cache is bypassed until the listener has connected and emptied it.
///
/// # Panics
/// Outside a tokio runtime.
pub fn attach<S, C>(cached: CachedStore<S, C>, pool: PgPool) -> CachedStore<S, C>
where
    S: Store + Clone + 'static,
    C: Cache + Clone + 'static,
{
    let peers = Peers::new(Arc::new(PgPeerBus::new(pool.clone())));
    let cached = cached.with_peers(peers.clone());
    let link = Arc::new(Link {
        peers,
        me: format!("{:016x}", rand_id()),
        last_heard: AtomicI64::new(SystemClock.now().as_millis()),
        listener_pid: AtomicI32::new(0),
    });
    tokio::spawn(listen(pool.clone(), cached.clone(), Arc::clone(&link)));
    tokio::spawn(heartbeat(pool, link));
    cached
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(SystemClock.now().as_millis().unsigned_abs().into());
    hasher.finish()
}

async fn connect(pool: &PgPool) -> Result<(PgListener, i32), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    let (pid, schema): (i32, String) =
        sqlx::query_as("SELECT pg_backend_pid(), current_schema()::text")
            .fetch_one(&mut listener)
            .await?;
    listener
        .listen(&format!("{CHANNEL_PREFIX}{schema}"))
        .await?;
    Ok((listener, pid))
}

/// Empties the cache, then marks the link live (or keeps it down if the cache cannot be
/// emptied).
async fn catch_up<S: Store, C: Cache>(cached: &CachedStore<S, C>, link: &Link) {
    match cached.forget_all().await {
        Ok(()) => {
            link.last_heard
                .store(SystemClock.now().as_millis(), Ordering::SeqCst);
            link.peers.set_live(true);
        }
        Err(error) => {
            tracing::warn!(%error, "could not empty the cache: it stays bypassed");
            link.peers.set_live(false);
        }
    }
}

async fn listen<S: Store, C: Cache>(pool: PgPool, cached: CachedStore<S, C>, link: Arc<Link>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match connect(&pool).await {
            Ok((mut listener, pid)) => {
                link.listener_pid.store(pid, Ordering::SeqCst);
                catch_up(&cached, &link).await;
                backoff = Duration::from_millis(100);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            handle(&cached, &link, notification.payload()).await;
                        }
                        Ok(None) => break,
                        Err(error) => {
                            tracing::warn!(%error, "cache invalidation listener failed");
                            break;
                        }
                    }
                }
                link.listener_pid.store(0, Ordering::SeqCst);
                link.peers.set_live(false);
            }
            Err(error) => {
                link.peers.set_live(false);
                tracing::warn!(%error, "cache invalidation listener cannot connect; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn handle<S: Store, C: Cache>(cached: &CachedStore<S, C>, link: &Link, payload: &str) {
    let message: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    if let Some(from) = message.get("hb").and_then(Value::as_str) {
        if from == link.me {
            link.last_heard
                .store(SystemClock.now().as_millis(), Ordering::SeqCst);
            if !link.peers.is_live() {
                // Heard again after the watchdog marked the link down: anything may have been
                // missed meanwhile.
                catch_up(cached, link).await;
            }
        }
        return;
    }
    match message.get("keys").and_then(Value::as_array) {
        Some(keys) => {
            let keys: Vec<String> = keys
                .iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect();
            cached.forget(&keys).await;
        }
        None => {
            // Not ours to read: assume the worst.
            tracing::warn!("unreadable cache invalidation notification: emptying the cache");
            catch_up(cached, link).await;
        }
    }
}

async fn heartbeat(pool: PgPool, link: Arc<Link>) {
    let bus = PgPeerBus::new(pool.clone());
    let timeout = i64::try_from(HEARTBEAT_TIMEOUT.as_millis()).unwrap_or(i64::MAX);
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tick.tick().await;
        if let Err(error) = bus.notify(&json!({ "hb": link.me })).await {
            tracing::debug!(%error, "cache heartbeat not sent");
        }
        let silent = SystemClock.now().as_millis() - link.last_heard.load(Ordering::SeqCst);
        if silent > timeout && link.peers.is_live() {
            tracing::warn!(
                silent_ms = silent,
                "no cache heartbeat came back: bypassing the cache and reconnecting the listener"
            );
            link.peers.set_live(false);
            let pid = link.listener_pid.load(Ordering::SeqCst);
            if pid != 0 {
                let _ = sqlx::query("SELECT pg_terminate_backend($1)")
                    .bind(pid)
                    .execute(&pool)
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_key_lists_are_split_under_the_payload_limit() {
        let keys: Vec<String> = (0..2_000)
            .map(|n| format!("v1:user:clerk:user_{n:020}"))
            .collect();
        let payloads = chunks(&keys);
        assert!(payloads.len() > 1);
        let mut seen = 0;
        for payload in &payloads {
            assert!(payload.to_string().len() < 8_000);
            seen += payload["keys"].as_array().expect("a key list").len();
        }
        assert_eq!(seen, keys.len());
        assert!(chunks(&[]).is_empty());
    }
}
