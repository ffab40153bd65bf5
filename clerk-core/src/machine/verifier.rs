//! [`MachineVerifier`]: the thin async driver over the pure parts — the JWT forms through the
//! [`Authenticator`]'s keys (its PEM key or its JWKS cache), the opaque forms through the verify
//! endpoints over an [`HttpClient`]; single-flight per credential and a bounded cache keyed
//! by the credential's SHA-256 (the credential itself is never stored, logged or printed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt, Shared};

use super::cache::{MachineCachePolicy, Verified};
use super::jwt::MachineJwt;
use super::{
    classify, parse_verify_response, token_type_of, verify_request, AcceptedTokens, Credential,
    MachineError, TokenType,
};
use crate::config::ClerkConfig;
use crate::extract::find_token_from;
use crate::flow::{Misconfiguration, Refusal, RequestAuth};
use crate::http::HttpClient;
use crate::secret::SecretKey;
use crate::verify::MAX_TOKEN_BYTES;
use crate::{AuthError, Authenticator, Rejection};

/// The 500 of a route taking machine credentials in an app that did not wire a
/// [`MachineVerifier`].
pub const VERIFIER_MISSING: Misconfiguration = Misconfiguration {
    reason: "clerk-machine-verifier-missing",
    message: "a route takes machine credentials but no MachineVerifier is wired: build the app with Clerk::builder (axum) or ClerkFairing (Rocket), or add Extension(MachineVerifier)",
};

/// The 500 when an opaque credential arrives and no secret key is configured.
const SECRET_KEY_MISSING: Misconfiguration = Misconfiguration {
    reason: "machine-secret-key-missing",
    message: "opaque machine credentials (ak_, mt_, oat_) are verified by Clerk's Backend API: set CLERK_SECRET_KEY",
};

type Key = [u8; 32];
type Flight = Shared<BoxFuture<'static, Verified>>;

struct Entry {
    answer: Verified,
    until: crate::time::UnixTime,
}

struct Remote {
    http: Arc<dyn HttpClient>,
    api_url: String,
    api_version: String,
    secret_key: SecretKey,
}

struct Inner {
    authenticator: Authenticator,
    remote: Option<Remote>,
    policy: MachineCachePolicy,
    cache: Option<quick_cache::sync::Cache<Key, Arc<Entry>>>,
    flights: Mutex<HashMap<Key, (u64, Flight)>>,
    next_flight: AtomicU64,
    /// Bumped by every `forget`: a flight that started before one does not cache its answer.
    generation: AtomicU64,
}

/// Verifies machine credentials (API keys, M2M tokens, OAuth tokens). Cheap to clone; clones
/// share the cache and the in-flight calls.
#[derive(Clone)]
pub struct MachineVerifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MachineVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineVerifier")
            .field("remote", &self.inner.remote.is_some())
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

fn fingerprint(credential: &str) -> Key {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, credential.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MachineVerifier {
    /// A verifier reading keys (and the clock and skew) from `authenticator`, calling Clerk's
    /// verify endpoints over `http` with `config`'s API URL, version and secret key (without
    /// a secret key or client, opaque credentials answer 500 `machine-secret-key-missing`),
    /// and caching within `CLERK_MACHINE_CACHE_SECONDS`.
    #[must_use]
    pub fn new(
        authenticator: Authenticator,
        config: &ClerkConfig,
        http: Option<Arc<dyn HttpClient>>,
    ) -> Self {
        let remote = http
            .zip(config.secret_key().cloned())
            .map(|(http, secret_key)| Remote {
                http,
                api_url: config.api_url().to_owned(),
                api_version: config.api_version().to_owned(),
                secret_key,
            });
        let policy = MachineCachePolicy {
            ttl: config.machine_cache_timeout,
            ..MachineCachePolicy::default()
        };
        Self::with_parts(authenticator, remote, policy)
    }

    fn with_parts(
        authenticator: Authenticator,
        remote: Option<Remote>,
        policy: MachineCachePolicy,
    ) -> Self {
        MachineVerifier {
            inner: Arc::new(Inner {
                authenticator,
                remote,
                cache: (policy.capacity > 0)
                    .then(|| quick_cache::sync::Cache::new(policy.capacity)),
                policy,
                flights: Mutex::new(HashMap::new()),
                next_flight: AtomicU64::new(0),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// The same verifier with another cache policy (a fresh, empty cache).
    #[must_use]
    pub fn with_policy(self, policy: MachineCachePolicy) -> Self {
        let inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => {
                return Self::with_parts(
                    shared.authenticator.clone(),
                    shared.remote.as_ref().map(|r| Remote {
                        http: Arc::clone(&r.http),
                        api_url: r.api_url.clone(),
                        api_version: r.api_version.clone(),
                        secret_key: r.secret_key.clone(),
                    }),
                    policy,
                )
            }
        };
        Self::with_parts(inner.authenticator, inner.remote, policy)
    }

    /// The cache policy.
    #[must_use]
    pub fn policy(&self) -> MachineCachePolicy {
        self.inner.policy
    }

    /// Verifies one machine credential: from the cache when an answer is held, else by one
    /// call shared by every concurrent request presenting the same credential.
    ///
    /// # Errors
    /// [`MachineError`] with Clerk's reason.
    pub async fn verify(&self, credential: &str) -> Verified {
        if credential.len() > MAX_TOKEN_BYTES {
            return Err(MachineError::Malformed("credential larger than 16 KiB"));
        }
        let key = fingerprint(credential);
        if let Some(answer) = self.cached(&key) {
            return answer;
        }
        self.flight(key, credential).await
    }

    fn cached(&self, key: &Key) -> Option<Verified> {
        let cache = self.inner.cache.as_ref()?;
        let entry = cache.get(key)?;
        if self.inner.authenticator.clock().now() < entry.until {
            return Some(entry.answer.clone());
        }
        cache.remove(key);
        None
    }

    fn flight(&self, key: Key, credential: &str) -> Flight {
        let mut flights = lock(&self.inner.flights);
        if let Some((_, flight)) = flights.get(&key) {
            return flight.clone();
        }
        // A flight may have settled between the cache miss and the lock.
        if let Some(answer) = self.cached(&key) {
            return futures_util::future::ready(answer).boxed().shared();
        }
        let id = self.inner.next_flight.fetch_add(1, Ordering::Relaxed);
        let generation = self.inner.generation.load(Ordering::Acquire);
        let inner = Arc::clone(&self.inner);
        let credential = credential.to_owned();
        let flight = async move {
            let answer = match std::panic::AssertUnwindSafe(inner.verify_uncached(&credential))
                .catch_unwind()
                .await
            {
                Ok(answer) => answer,
                Err(_) => {
                    tracing::error!("machine credential verification panicked");
                    Err(MachineError::Unexpected {
                        status: None,
                        detail: "the verification panicked".into(),
                    })
                }
            };
            inner.settle(key, id, generation, &answer);
            answer
        }
        .boxed()
        .shared();
        flights.insert(key, (id, flight.clone()));
        flight
    }

    /// Ends what is known about `credential` at once (a revocation we heard of: our own
    /// revoke call, say): its cached answer is dropped and a verification in flight does not
    /// cache its answer, so the next request asks Clerk again.
    ///
    /// A JWT-form credential is verified networklessly, so forgetting it only drops the
    /// cache: Clerk's JWT M2M tokens cannot be revoked before they expire.
    pub fn forget(&self, credential: &str) {
        let key = fingerprint(credential);
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.inner.cache {
            cache.remove(&key);
        }
        lock(&self.inner.flights).remove(&key);
    }

    /// Forgets every credential (see [`forget`](Self::forget)).
    pub fn forget_all(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.inner.cache {
            cache.clear();
        }
        lock(&self.inner.flights).clear();
    }

    /// What a route accepting `accepted` decides about a request: its bearer token
    /// (`authorization`, the raw `Authorization` header; machine credentials are never read
    /// from cookies), and — for a session token on a route that accepts sessions — the
    /// request's session decision `session`, as Clerk's `authenticateRequest` with
    /// `acceptsToken` decides:
    ///
    /// - no bearer token: the session (cookie) when sessions are accepted, else 401
    ///   `No token in header`;
    /// - a type not accepted (a session token on a machine route, an OAuth token on an
    ///   API-key route): 401 `token-type-mismatch`;
    /// - else the credential is verified (401 with Clerk's reason when refused).
    ///
    /// # Errors
    /// The [`Refusal`] to answer with.
    pub async fn authenticate(
        &self,
        accepted: AcceptedTokens,
        authorization: Option<&[u8]>,
        session: Option<&RequestAuth>,
    ) -> Result<Credential, Refusal> {
        authenticate(Some(self), accepted, authorization, session).await
    }
}

/// [`MachineVerifier::authenticate`] where the verifier may be missing (a 500 when a machine
/// credential needs it).
///
/// # Errors
/// The [`Refusal`] to answer with.
pub async fn authenticate(
    verifier: Option<&MachineVerifier>,
    accepted: AcceptedTokens,
    authorization: Option<&[u8]>,
    session: Option<&RequestAuth>,
) -> Result<Credential, Refusal> {
    let session_of = |session: Option<&RequestAuth>| match session {
        Some(state) => state.require().map(|a| Credential::Session(Arc::clone(a))),
        None => Err(Refusal::Misconfigured(VERIFIER_MISSING)),
    };
    let token = match find_token_from(authorization, || None) {
        Err(e) => return Err(Refusal::InvalidToken(Rejection::Header(e))),
        Ok(None) if accepted.accepts(TokenType::SessionToken) => return session_of(session),
        Ok(None) => return Err(Refusal::Machine(MachineError::MissingToken)),
        Ok(Some(found)) => found.token,
    };
    let found = token_type_of(token);
    if !accepted.accepts(found) {
        return Err(Refusal::Machine(MachineError::TypeMismatch { found }));
    }
    if found == TokenType::SessionToken {
        return session_of(session);
    }
    let Some(verifier) = verifier else {
        return Err(Refusal::Misconfigured(VERIFIER_MISSING));
    };
    match verifier.verify(token).await {
        Ok(auth) => Ok(Credential::Machine(auth)),
        Err(MachineError::NoSecretKey) => Err(Refusal::Misconfigured(SECRET_KEY_MISSING)),
        Err(e) => {
            tracing::debug!(token_type = %found, reason = e.reason(), "machine credential refused");
            Err(Refusal::Machine(e))
        }
    }
}

/// The credential, if it grants `scope`.
///
/// # Errors
/// 403 `missing_scope` naming the scope.
pub fn require_scope(credential: Credential, scope: &'static str) -> Result<Credential, Refusal> {
    if credential.has_scope(scope) {
        Ok(credential)
    } else {
        Err(Refusal::Forbidden(
            crate::rejection::Failure::MissingScope { required: scope },
        ))
    }
}

impl Inner {
    fn skew(&self) -> Duration {
        self.authenticator.clock_skew()
    }

    async fn verify_uncached(&self, credential: &str) -> Verified {
        let Some(token_type) = classify(credential) else {
            return Err(MachineError::TypeMismatch {
                found: TokenType::SessionToken,
            });
        };
        if let Some(jwt) = MachineJwt::route(credential)? {
            let key = match self.authenticator.key_for_kid(jwt.kid()).await {
                Ok(key) => key,
                Err(AuthError::KeysUnavailable(e)) => return Err(MachineError::KeysUnavailable(e)),
                Err(_) => {
                    return Err(MachineError::VerificationFailed(
                        "no signing key for the JWT's kid",
                    ))
                }
            };
            let now = self.authenticator.clock().now();
            let auth = jwt.verify(&key, self.skew(), now)?;
            tracing::debug!(token_type = %auth.token_type, credential_id = %auth.id, subject = %auth.subject, "machine JWT verified");
            return Ok(Arc::new(auth));
        }
        let remote = self.remote.as_ref().ok_or(MachineError::NoSecretKey)?;
        let request = verify_request(
            token_type,
            &remote.api_url,
            &remote.secret_key,
            &remote.api_version,
            credential,
        )?;
        let response = remote
            .http
            .send(request)
            .await
            .map_err(|e| MachineError::Unexpected {
                status: None,
                detail: format!("transport: {e}"),
            })?;
        let now = self.authenticator.clock().now();
        let auth = parse_verify_response(token_type, &response, now)?;
        tracing::debug!(token_type = %auth.token_type, credential_id = %auth.id, subject = %auth.subject, "machine credential verified by Clerk");
        Ok(Arc::new(auth))
    }

    fn settle(&self, key: Key, id: u64, generation: u64, answer: &Verified) {
        if let Some(cache) = &self.cache {
            let now = self.authenticator.clock().now();
            if self.generation.load(Ordering::Acquire) == generation {
                if let Some(until) = self.policy.cache_until(answer, now) {
                    cache.insert(
                        key,
                        Arc::new(Entry {
                            answer: answer.clone(),
                            until,
                        }),
                    );
                }
            }
        }
        let mut flights = lock(&self.flights);
        if flights.get(&key).is_some_and(|(flight, _)| *flight == id) {
            flights.remove(&key);
        }
    }
}
