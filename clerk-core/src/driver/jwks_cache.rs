//! The JWKS cache of one (API URL, secret key): TTL, single-flight refresh, a rate limit on
//! refreshes, and bounded stale-if-error.
//!
//! - Fresh keys (younger than the TTL) are served as they are.
//! - **Stale-while-revalidate.** Past the TTL (and within the stale bound), a `kid` the held
//!   keys know is served from them at once, and one background refresh starts (subject to the
//!   rate limit below). Only a `kid` the held keys lack, or keys past the stale bound, wait
//!   for a refresh — bounded by the [`HttpClient`]'s timeout (`CLERK_API_TIMEOUT_MS` for the
//!   reqwest client).
//!
//!   The crate has no runtime, so "background" is driven two ways: the caller that starts the
//!   refresh hands a clone of the shared refresh future to the configured [`Spawn`] hook
//!   (with the `reqwest` feature the default spawns on the current tokio runtime, when there
//!   is one); and every caller served stale keys polls the shared future once, without
//!   waiting. So without a spawner the refresh still completes, carried along by the traffic
//!   that needs it (an HTTP client whose I/O runs in its own task, as hyper/reqwest do,
//!   progresses between polls), and a caller with an unknown `kid` that awaits the same
//!   shared future drives it fully.
//! - An unknown `kid` triggers a refresh, unless one started within the minimum refresh
//!   interval: random `kid`s from an attacker cost at most one fetch per interval.
//! - Concurrent callers that need a refresh share one in-flight fetch.
//! - When a refresh fails, keys already held keep working until `ttl + max_stale` after they
//!   were fetched; past that, or with no keys at all, callers get the fetch error
//!   (`jwk-failed-to-load`, an infrastructure failure). So does a `kid` the held keys lack
//!   while the last refresh failed (on that refresh and until the next one succeeds): Clerk
//!   may have rotated keys during the outage, so it is not reported as `jwk-kid-mismatch`.
//! - A fetch that panics (a faulty [`HttpClient`]) is caught: its waiters get
//!   [`JwksError::FetchPanicked`] and the single-flight slot is freed, so the shared future
//!   is never left poisoned.

use super::Spawn;
use crate::http::HttpClient;
use crate::jwks::{jwks_request, parse_jwks_response, JwksError, KeySet};
use crate::keys::VerifyingKey;
use crate::secret::SecretKey;
use crate::time::{Clock, UnixTime};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

/// Timing of the JWKS cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    /// How long fetched keys count as fresh (default 5 minutes, as Clerk's SDKs).
    pub ttl: Duration,
    /// No refresh starts within this interval of the previous attempt (default 10 s).
    pub min_refresh_interval: Duration,
    /// How long past the TTL held keys keep working while Clerk cannot be reached (default 1 hour).
    pub max_stale: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        JwksPolicy {
            ttl: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(10),
            max_stale: Duration::from_secs(3600),
        }
    }
}

type Refresh = Shared<BoxFuture<'static, Result<Arc<KeySet>, JwksError>>>;

#[derive(Clone)]
pub(crate) struct Snapshot {
    pub(crate) keys: Arc<KeySet>,
    fetched_at: UnixTime,
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<UnixTime>,
    last_error: Option<JwksError>,
    in_flight: Option<Refresh>,
}

pub(crate) struct JwksCache {
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    api_url: String,
    /// `Clerk-API-Version`, as Clerk's SDKs send on the JWKS fetch too.
    api_version: String,
    secret_key: SecretKey,
    policy: JwksPolicy,
    spawner: Option<Arc<dyn Spawn>>,
    snapshot: RwLock<Option<Snapshot>>,
    refresh: Mutex<RefreshState>,
}

/// The result of looking a `kid` up.
pub(crate) enum Lookup {
    /// The key, and the set it came from (what a cached token remembers, so its hits compare
    /// the held set's address instead of looking the `kid` up).
    Found(Arc<VerifyingKey>, Weak<KeySet>),
    UnknownKid,
    Unavailable(JwksError),
}

impl JwksCache {
    pub(crate) fn new(
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        api_url: String,
        api_version: String,
        secret_key: SecretKey,
        policy: JwksPolicy,
        spawner: Option<Arc<dyn Spawn>>,
    ) -> Arc<Self> {
        Arc::new(JwksCache {
            http,
            clock,
            api_url,
            api_version,
            secret_key,
            policy,
            spawner,
            snapshot: RwLock::new(None),
            refresh: Mutex::new(RefreshState::default()),
        })
    }

    fn snapshot(&self) -> Option<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn is_fresh(&self, s: &Snapshot, now: UnixTime) -> bool {
        now < s.fetched_at.saturating_add(self.policy.ttl)
    }

    fn is_usable(&self, s: &Snapshot, now: UnixTime) -> bool {
        now < s
            .fetched_at
            .saturating_add(self.policy.ttl)
            .saturating_add(self.policy.max_stale)
    }

    /// Whether `kid` is held in a key set that may still be used at `now` (for cache hits).
    /// `seen` is the key set the token was verified with, when known: while it is still the
    /// held one, the `kid` is in it without looking it up (a hashed string lookup per cache
    /// hit saved). A [`Weak`] keeps the set's allocation, so its address is never reused by a
    /// later set while the comparison can be made.
    pub(crate) fn holds(&self, kid: &str, seen: Option<&Weak<KeySet>>, now: UnixTime) -> bool {
        let guard = self
            .snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.as_ref().is_some_and(|s| {
            self.is_usable(s, now)
                && (seen.is_some_and(|seen| std::ptr::eq(seen.as_ptr(), Arc::as_ptr(&s.keys)))
                    || s.keys.contains(kid))
        })
    }

    /// The key for `kid`, refreshing as the policy allows.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str, now: UnixTime) -> Lookup {
        if let Some((key, keys)) = self.key_now(kid, now) {
            return Lookup::Found(key, keys);
        }
        // Missing, past the stale bound, or an unknown kid: wait for a refresh if allowed,
        // else use what we have.
        let refreshed = match self.refresh_if_allowed(now) {
            Some((refresh, _)) => Some(refresh.await),
            None => None,
        };
        let now = self.clock.now();
        match refreshed {
            Some(Ok(keys)) => match keys.get(kid) {
                Some(key) => Lookup::Found(Arc::clone(key), Arc::downgrade(&keys)),
                None => Lookup::UnknownKid,
            },
            Some(Err(error)) => self.fallback(kid, now, error),
            None => {
                if let Some(found) =
                    self.snapshot()
                        .filter(|s| self.is_usable(s, now))
                        .and_then(|s| {
                            Some(Lookup::Found(
                                s.keys.get(kid).cloned()?,
                                Arc::downgrade(&s.keys),
                            ))
                        })
                {
                    return found;
                }
                let state = self
                    .refresh
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match (
                    &state.last_error,
                    self.snapshot().filter(|s| self.is_usable(s, now)),
                ) {
                    // The last refresh failed: whether Clerk now serves this kid is unknown,
                    // so this is an outage (503), not a bad token.
                    (Some(error), _) => Lookup::Unavailable(error.clone()),
                    // The last refresh succeeded (within the interval) without this kid.
                    (None, Some(_)) => Lookup::UnknownKid,
                    (None, None) => Lookup::Unavailable(JwksError::NoSource),
                }
            }
        }
    }

    /// The key for `kid` when the held keys may be used at `now` and name it, without
    /// waiting: past the TTL (within the stale bound) this starts the background refresh.
    /// `None` when [`key`](Self::key) would have to wait for a refresh.
    pub(crate) fn key_now(
        self: &Arc<Self>,
        kid: &str,
        now: UnixTime,
    ) -> Option<(Arc<VerifyingKey>, Weak<KeySet>)> {
        let s = self.snapshot().filter(|s| self.is_usable(s, now))?;
        let key = Arc::clone(s.keys.get(kid)?);
        if !self.is_fresh(&s, now) {
            self.revalidate_in_background(now);
        }
        Some((key, Arc::downgrade(&s.keys)))
    }

    /// Stale keys are being served: make sure one refresh is under way without waiting for
    /// it (see the module docs for how it is driven).
    fn revalidate_in_background(self: &Arc<Self>, now: UnixTime) {
        let Some((refresh, started)) = self.refresh_if_allowed(now) else {
            return;
        };
        if started {
            if let Some(spawner) = &self.spawner {
                spawner.spawn(refresh.clone().map(drop).boxed());
            }
        }
        // One poll, no waiting: carries the refresh along when nothing else drives it.
        let _ = refresh.now_or_never();
    }

    /// After a failed refresh: serve held keys within the stale bound, else report the failure.
    /// A `kid` the held keys lack is a failure too (503), not a mismatch (401): the key set
    /// that may hold it could not be loaded.
    fn fallback(&self, kid: &str, now: UnixTime, error: JwksError) -> Lookup {
        match self.snapshot() {
            Some(s) if self.is_usable(&s, now) => match s.keys.get(kid) {
                Some(key) => {
                    tracing::warn!(%error, "JWKS refresh failed; serving held keys within the stale bound");
                    Lookup::Found(Arc::clone(key), Arc::downgrade(&s.keys))
                }
                None => Lookup::Unavailable(error),
            },
            _ => Lookup::Unavailable(error),
        }
    }

    /// Joins the in-flight refresh, or starts one unless an attempt started within the
    /// minimum interval. `None` means: no refresh now, use what is held; the flag says
    /// whether this call started the refresh.
    fn refresh_if_allowed(self: &Arc<Self>, now: UnixTime) -> Option<(Refresh, bool)> {
        let mut state = self
            .refresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(in_flight) = &state.in_flight {
            return Some((in_flight.clone(), false));
        }
        if let Some(last) = state.last_attempt {
            if now < last.saturating_add(self.policy.min_refresh_interval) {
                return None;
            }
        }
        state.last_attempt = Some(now);
        let this = Arc::clone(self);
        let refresh = async move {
            // A panic inside the fetch (a user-supplied HttpClient, say) must not poison the
            // shared future: every later joiner would panic too, for the life of the process.
            match std::panic::AssertUnwindSafe(Arc::clone(&this).fetch())
                .catch_unwind()
                .await
            {
                Ok(result) => result,
                Err(_) => {
                    tracing::error!("JWKS fetch panicked; its waiters get an error");
                    this.finish(Err(JwksError::FetchPanicked))
                }
            }
        }
        .boxed()
        .shared();
        state.in_flight = Some(refresh.clone());
        Some((refresh, true))
    }

    async fn fetch(self: Arc<Self>) -> Result<Arc<KeySet>, JwksError> {
        let result = match jwks_request(&self.api_url, &self.secret_key) {
            Ok(mut request) => {
                crate::backend_api::pin_api_version(&mut request, &self.api_version);
                match self.http.send(request).await {
                    Ok(response) => parse_jwks_response(&response).map(Arc::new),
                    Err(e) => Err(JwksError::Transport(e)),
                }
            }
            Err(e) => Err(e),
        };
        self.finish(result)
    }

    /// Records the outcome of a fetch (the snapshot on success) and frees the single-flight
    /// slot, so the next refresh starts a new fetch.
    fn finish(&self, result: Result<Arc<KeySet>, JwksError>) -> Result<Arc<KeySet>, JwksError> {
        let now = self.clock.now();
        match &result {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "JWKS fetched");
                *self
                    .snapshot
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Snapshot {
                    keys: Arc::clone(keys),
                    fetched_at: now,
                });
            }
            Err(error) => tracing::warn!(%error, "JWKS fetch failed"),
        }
        let mut state = self
            .refresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.in_flight = None;
        state.last_error = result.as_ref().err().cloned();
        result
    }
}
