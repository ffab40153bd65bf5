//! The async driver: runs the pure steps over [`HttpClient`] and [`Clock`].

mod jwks_cache;
mod token_cache;
mod warm;

pub use jwks_cache::JwksPolicy;

use crate::auth::Auth;
use crate::config::ClerkConfig;
use crate::extract::{find_token, ExtractError, FoundToken};
use crate::http::HttpClient;
use crate::jwks::JwksError;
use crate::keys::VerifyingKey;
use crate::time::{Clock, SystemClock};
use crate::verify::{
    verify_parsed, ParsedToken, Reason, TokenError, VerifyOptions, MAX_TOKEN_BYTES,
};
use futures_util::future::BoxFuture;
use jwks_cache::{JwksCache, Lookup};
use std::sync::Arc;
use token_cache::TokenCache;
use tracing::Instrument;

/// Default number of verified tokens kept (about 2 KiB each with their [`Auth`]).
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 8192;

/// Runs a background task on the application's runtime: the JWKS refresh that starts when
/// held keys are served past their TTL (stale-while-revalidate). This crate has no runtime of
/// its own; see [`AuthenticatorBuilder::spawner`].
///
/// Closures `Fn(BoxFuture<'static, ()>)` implement it:
/// `builder.spawner(|task| { tokio::spawn(task); })`.
pub trait Spawn: Send + Sync + 'static {
    /// Runs `task` to completion in the background.
    fn spawn(&self, task: BoxFuture<'static, ()>);
}

impl<F> Spawn for F
where
    F: Fn(BoxFuture<'static, ()>) + Send + Sync + 'static,
{
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self(task);
    }
}

/// [`Spawn`] on the tokio runtime of the calling task, if there is one (the `reqwest`
/// feature, which runs on tokio anyway). Outside a runtime the task is dropped and the
/// refresh is carried along by the requests that poll it (see
/// [`AuthenticatorBuilder::spawner`]).
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSpawner;

#[cfg(feature = "reqwest")]
impl Spawn for TokioSpawner {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(task));
        }
    }
}

#[cfg(feature = "reqwest")]
fn default_spawner() -> Option<Arc<dyn Spawn>> {
    Some(Arc::new(TokioSpawner))
}

#[cfg(not(feature = "reqwest"))]
fn default_spawner() -> Option<Arc<dyn Spawn>> {
    None
}

/// A token could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token is bad: answer 401.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// No key could be had to check it: answer 503 (`jwk-failed-to-load`).
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(#[from] JwksError),
}

impl AuthError {
    /// Clerk's reason name.
    #[must_use]
    pub fn reason(&self) -> Reason {
        match self {
            AuthError::Token(e) => e.reason(),
            AuthError::KeysUnavailable(_) => Reason::JwkFailedToLoad,
        }
    }

    /// Whether this is an infrastructure failure (503) rather than a bad token (401).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthError::KeysUnavailable(_))
    }
}

/// Why a request was not signed in although it carried credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The `Authorization` header is malformed.
    #[error(transparent)]
    Header(#[from] ExtractError),
    /// The token was rejected.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl Rejection {
    /// Clerk's reason name (`token-invalid` for a malformed header).
    #[must_use]
    pub fn reason(&self) -> Reason {
        match self {
            Rejection::Header(_) => Reason::TokenInvalid,
            Rejection::Token(e) => e.reason(),
        }
    }
}

/// What the authenticator decided about one request. Adapters translate it to HTTP.
#[derive(Debug, Clone)]
#[must_use]
pub enum AuthDecision {
    /// A valid session.
    SignedIn(Arc<Auth>),
    /// No credentials at all.
    NoToken,
    /// Credentials that were rejected (401 where authentication is required).
    Rejected(Rejection),
    /// Keys could not be had (503): not the client's fault.
    Unavailable(JwksError),
}

impl AuthDecision {
    /// The session, when signed in.
    #[must_use]
    pub fn auth(&self) -> Option<&Arc<Auth>> {
        match self {
            AuthDecision::SignedIn(auth) => Some(auth),
            _ => None,
        }
    }
}

/// Building an [`Authenticator`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// JWKS mode needs an HTTP client: pass one or enable the `reqwest` feature.
    #[error("no HttpClient: pass one with AuthenticatorBuilder::http_client or enable the `reqwest` feature")]
    NoHttpClient,
    /// The reqwest client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

enum KeySource {
    /// Networkless: `CLERK_JWT_KEY`; `kid` is ignored.
    Pem(Arc<VerifyingKey>),
    Jwks(Arc<JwksCache>),
}

struct Inner {
    options: VerifyOptions,
    cookie_auth: bool,
    keys: KeySource,
    clock: Arc<dyn Clock>,
    tokens: Option<TokenCache>,
}

/// Verifies Clerk session tokens: owns the key cache of its (API URL, secret key), the
/// verified-token cache and the clock. Cheap to clone; clones share both caches.
///
/// Two authenticators built from different secret keys never share keys or cached tokens.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.inner.keys {
            KeySource::Pem(_) => "pem",
            KeySource::Jwks(_) => "jwks",
        };
        f.debug_struct("Authenticator")
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

/// Builder for [`Authenticator`].
pub struct AuthenticatorBuilder {
    config: ClerkConfig,
    http: Option<Arc<dyn HttpClient>>,
    clock: Arc<dyn Clock>,
    policy: JwksPolicy,
    spawner: Option<Arc<dyn Spawn>>,
    token_cache_capacity: usize,
}

impl AuthenticatorBuilder {
    /// The HTTP client for JWKS fetches (default: reqwest, with the `reqwest` feature).
    #[must_use]
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.http = Some(Arc::new(client));
        self
    }

    /// An already shared HTTP client.
    #[must_use]
    pub fn shared_http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Some(client);
        self
    }

    /// The clock (default: [`SystemClock`]); tests pass a manual one.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// JWKS cache timing.
    #[must_use]
    pub fn jwks_policy(mut self, policy: JwksPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Where the background JWKS refresh runs (stale-while-revalidate: past the TTL, held keys
    /// are served at once while one refresh runs). Default: [`TokioSpawner`] with the
    /// `reqwest` feature, none without it.
    ///
    /// Without a spawner the refresh still happens: each request served stale keys polls the
    /// shared refresh once without waiting, and a request whose `kid` is unknown awaits it.
    #[must_use]
    pub fn spawner(mut self, spawner: impl Spawn) -> Self {
        self.spawner = Some(Arc::new(spawner));
        self
    }

    /// No spawner: the background refresh is carried along by the requests that poll it (see
    /// [`spawner`](Self::spawner)).
    #[must_use]
    pub fn without_spawner(mut self) -> Self {
        self.spawner = None;
        self
    }

    /// Capacity of the verified-token cache; `0` turns it off.
    #[must_use]
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.token_cache_capacity = capacity;
        self
    }

    /// Builds the authenticator. PEM mode (`CLERK_JWT_KEY`) needs no HTTP client.
    pub fn build(self) -> Result<Authenticator, BuildError> {
        let keys = if let Some(pem) = self.config.jwt_key() {
            KeySource::Pem(Arc::clone(pem))
        } else {
            let secret = self
                .config
                .secret_key()
                .cloned()
                .ok_or(BuildError::NoHttpClient)?;
            let http = match self.http {
                Some(http) => http,
                None => default_http_client(&self.config)?,
            };
            KeySource::Jwks(JwksCache::new(
                http,
                Arc::clone(&self.clock),
                self.config.api_url().to_owned(),
                self.config.api_version().to_owned(),
                secret,
                self.policy,
                self.spawner,
            ))
        };
        Ok(Authenticator {
            inner: Arc::new(Inner {
                options: self.config.verify_options().clone(),
                cookie_auth: self.config.cookie_auth,
                keys,
                clock: self.clock,
                tokens: (self.token_cache_capacity > 0)
                    .then(|| TokenCache::new(self.token_cache_capacity)),
            }),
        })
    }
}

#[cfg(feature = "reqwest")]
fn default_http_client(config: &ClerkConfig) -> Result<Arc<dyn HttpClient>, BuildError> {
    crate::reqwest_client::ReqwestClient::new(config.api_timeout)
        .map(|c| Arc::new(c) as Arc<dyn HttpClient>)
        .map_err(|e| BuildError::HttpClient(e.to_string()))
}

#[cfg(not(feature = "reqwest"))]
fn default_http_client(_: &ClerkConfig) -> Result<Arc<dyn HttpClient>, BuildError> {
    Err(BuildError::NoHttpClient)
}

impl Authenticator {
    /// A builder over a validated configuration.
    #[must_use]
    pub fn builder(config: ClerkConfig) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
            config,
            http: None,
            clock: Arc::new(SystemClock),
            policy: JwksPolicy::default(),
            spawner: default_spawner(),
            token_cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
        }
    }

    /// The clock this authenticator reads.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Whether Clerk's `__session` cookie counts as a presented token (`CLERK_COOKIE_AUTH`).
    #[must_use]
    pub fn cookie_auth(&self) -> bool {
        self.inner.cookie_auth
    }

    /// Finds the token in `headers` (bearer header, else the `__session` cookie when enabled)
    /// and decides.
    pub async fn authenticate(&self, headers: &http::HeaderMap) -> AuthDecision {
        self.decide(find_token(headers, self.inner.cookie_auth))
            .await
    }

    /// Decides on what [`find_token_from`](crate::extract::find_token_from) found, for
    /// frameworks whose headers are not an [`http::HeaderMap`] (no copy into one needed).
    /// Whether cookies count is the caller's choice here: pass the cookie only when
    /// [`ClerkConfig::cookie_auth`](crate::config::ClerkConfig::cookie_auth) is on.
    ///
    /// Decides at once (see [`decide_now`](Self::decide_now)) unless keys must be fetched;
    /// only then is a future of the fetch boxed, so this future stays small.
    pub async fn decide(
        &self,
        found: Result<Option<FoundToken<'_>>, ExtractError>,
    ) -> AuthDecision {
        let token = match found {
            Ok(Some(found)) => found.token,
            Ok(None) => return AuthDecision::NoToken,
            Err(e) => return AuthDecision::Rejected(Rejection::Header(e)),
        };
        let result = match self.verify_now(token) {
            Some(result) => result,
            None => Box::pin(self.verify_fetching(token)).await,
        };
        decision_of(result)
    }

    /// The decision when it can be had without waiting: no token, a malformed header, a
    /// verified-token cache hit, or a token verified (or refused) with keys already held.
    /// `None` when the keys for the token's `kid` must be fetched first: then
    /// [`decide`](Self::decide) decides. Adapters call this first so the warm path runs
    /// without a future (a cache hit allocates nothing, `tests/alloc.rs`).
    pub fn decide_now(
        &self,
        found: Result<Option<FoundToken<'_>>, ExtractError>,
    ) -> Option<AuthDecision> {
        match found {
            Ok(Some(found)) => self.verify_now(found.token).map(decision_of),
            Ok(None) => Some(AuthDecision::NoToken),
            Err(e) => Some(AuthDecision::Rejected(Rejection::Header(e))),
        }
    }

    /// The clock skew of the time checks (`exp`, `nbf`, `iat`).
    pub(crate) fn clock_skew(&self) -> std::time::Duration {
        self.inner.options.clock_skew
    }

    /// The key that signs tokens with `kid` (PEM mode: the one key, `kid` ignored), from the
    /// same key cache session tokens use: machine JWTs are signed by the instance's keys too.
    pub(crate) async fn key_for_kid(
        &self,
        kid: Option<&str>,
    ) -> Result<Arc<VerifyingKey>, AuthError> {
        match &self.inner.keys {
            KeySource::Pem(key) => Ok(Arc::clone(key)),
            KeySource::Jwks(jwks) => {
                let kid = kid.ok_or(TokenError::Malformed("header has no kid"))?;
                match jwks.key(kid, self.inner.clock.now()).await {
                    Lookup::Found(key, _) => Ok(key),
                    Lookup::UnknownKid => Err(TokenError::UnknownKid {
                        kid: crate::verify::truncated_kid(kid),
                    }
                    .into()),
                    Lookup::Unavailable(e) => Err(e.into()),
                }
            }
        }
    }

    /// Verifies one session token.
    pub async fn verify(&self, token: &str) -> Result<Arc<Auth>, AuthError> {
        match self.verify_now(token) {
            Some(result) => result,
            None => self.verify_fetching(token).await,
        }
    }

    /// [`verify`](Self::verify) without waiting: `None` when the keys for the token's `kid`
    /// must be fetched (or refreshed) first. Runs in a debug-level `verify` span, made only
    /// when that level is enabled, with the error as a debug event.
    pub fn verify_now(&self, token: &str) -> Option<Result<Arc<Auth>, AuthError>> {
        let span = verify_span();
        let _entered = span.enter();
        let now = self.inner.clock.now();
        let result = match self.verify_held(token, now) {
            Held::Done(result) => result,
            Held::NeedsKeys => return None,
        };
        if let Err(error) = &result {
            tracing::debug!(error = %error);
        }
        Some(result)
    }

    /// The verification that waits for a JWKS fetch. Starts over from the token: keys are
    /// fetched at most once per refresh interval, so the repeated parse is rare and cheap.
    async fn verify_fetching(&self, token: &str) -> Result<Arc<Auth>, AuthError> {
        async {
            let result = self.verify_waiting(token).await;
            if let Err(error) = &result {
                tracing::debug!(error = %error);
            }
            result
        }
        .instrument(verify_span())
        .await
    }

    async fn verify_waiting(&self, token: &str) -> Result<Arc<Auth>, AuthError> {
        let now = self.inner.clock.now();
        if let Held::Done(result) = self.verify_held(token, now) {
            return result;
        }
        let parsed = ParsedToken::parse(token, &self.inner.options.algorithms)?;
        let KeySource::Jwks(jwks) = &self.inner.keys else {
            unreachable!("PEM mode never needs keys fetched");
        };
        let kid = parsed
            .kid()
            .ok_or(TokenError::Malformed("header has no kid"))?;
        let (key, keys) = match jwks.key(kid, now).await {
            Lookup::Found(key, keys) => (key, keys),
            Lookup::UnknownKid => {
                return Err(TokenError::UnknownKid {
                    kid: crate::verify::truncated_kid(kid),
                }
                .into())
            }
            Lookup::Unavailable(e) => return Err(e.into()),
        };
        self.finish(token, &parsed, &key, Some(keys), now)
    }

    /// Everything that needs no waiting: size, the verified-token cache, structure, and —
    /// when the key is held (PEM mode, or a usable JWKS snapshot naming the `kid`) — the
    /// signature and the claims.
    fn verify_held(&self, token: &str, now: crate::time::UnixTime) -> Held {
        let inner = &*self.inner;
        if token.len() > MAX_TOKEN_BYTES {
            return Held::Done(Err(TokenError::TooLarge {
                size: token.len(),
                limit: MAX_TOKEN_BYTES,
            }
            .into()));
        }
        if let Some(auth) = self.cached(token.as_bytes(), now) {
            return Held::Done(Ok(auth));
        }
        let parsed = match ParsedToken::parse(token, &inner.options.algorithms) {
            Ok(parsed) => parsed,
            Err(e) => return Held::Done(Err(e.into())),
        };
        let (key, keys) = match &inner.keys {
            KeySource::Pem(key) => (Arc::clone(key), None),
            KeySource::Jwks(jwks) => {
                let Some(kid) = parsed.kid() else {
                    return Held::Done(Err(TokenError::Malformed("header has no kid").into()));
                };
                match jwks.key_now(kid, now) {
                    Some((key, keys)) => (key, Some(keys)),
                    None => return Held::NeedsKeys,
                }
            }
        };
        Held::Done(self.finish(token, &parsed, &key, keys, now))
    }

    /// Signature and claims with `key`, then the verified token into the cache.
    fn finish(
        &self,
        token: &str,
        parsed: &ParsedToken<'_>,
        key: &VerifyingKey,
        keys: Option<std::sync::Weak<crate::jwks::KeySet>>,
        now: crate::time::UnixTime,
    ) -> Result<Arc<Auth>, AuthError> {
        let inner = &*self.inner;
        let auth = Arc::new(verify_parsed(parsed, key, &inner.options, now)?);
        tracing::debug!(user_id = %auth.user_id, session_id = auth.session_id.as_deref(), "session token verified");
        if let Some(cache) = &inner.tokens {
            let kid = match &inner.keys {
                KeySource::Pem(_) => None,
                KeySource::Jwks(_) => parsed.kid(),
            };
            cache.insert(token, Arc::clone(&auth), kid, keys);
        }
        Ok(auth)
    }
}

/// What [`Authenticator::verify_held`] could do without waiting.
enum Held {
    Done(Result<Arc<Auth>, AuthError>),
    /// The `kid`'s key is not held (or the held keys are past their stale bound).
    NeedsKeys,
}

fn decision_of(result: Result<Arc<Auth>, AuthError>) -> AuthDecision {
    match result {
        Ok(auth) => AuthDecision::SignedIn(auth),
        Err(AuthError::Token(e)) => AuthDecision::Rejected(Rejection::Token(e)),
        Err(AuthError::KeysUnavailable(e)) => AuthDecision::Unavailable(e),
    }
}

/// The `verify` span (debug level, as the `#[instrument]` it replaces), or none — without
/// the cost of making one — when debug is not enabled.
fn verify_span() -> tracing::Span {
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        tracing::debug_span!("verify")
    } else {
        tracing::Span::none()
    }
}
