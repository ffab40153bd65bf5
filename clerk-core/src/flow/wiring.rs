//! [`Wiring`]: the parts an adapter builds from the settings and a store, once for both
//! adapters: the [`Authenticator`], the stored-user lookup with just-in-time provisioning
//! ([`UserProvisioning`], with the Backend API when `CLERK_SECRET_KEY` is set) and session
//! mode ([`SessionFlow`]). A missing piece is a start-up error here, never a 500 later.

use std::sync::Arc;

use crate::provision::UserProvisioning;
use crate::store::Store;
use crate::time::Clock;
use crate::{Authenticator, BuildError, ClerkConfig, HttpClient, HttpError};

use super::session::SessionFlow;

/// What [`Wiring::build`] could not build.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WiringError {
    /// The authenticator could not be built (the settings say why).
    #[error(transparent)]
    Authenticator(#[from] BuildError),
    /// The default HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] HttpError),
    /// Session mode was asked for without a store to read standing from.
    #[error("session mode needs a store (revocations, bans and staff users are read there)")]
    SessionsWithoutStore,
}

/// The parts [`Wiring::build`] made.
#[derive(Clone)]
#[non_exhaustive]
pub struct Wired {
    /// The settings the parts were built from.
    pub config: ClerkConfig,
    /// Token verification.
    pub authenticator: Authenticator,
    /// The stored-user lookup, when a store was given.
    pub users: Option<UserProvisioning>,
    /// Session mode, when asked for.
    pub sessions: Option<SessionFlow>,
    /// The HTTP client the parts share (JWKS, Backend API), when there is one.
    pub http: Option<Arc<dyn HttpClient>>,
    /// The Backend API caller (`CLERK_SECRET_KEY` and an HTTP client given), shared with the
    /// stored-user lookup: the app's own writes to Clerk (bans, revocations) go through it.
    pub backend_api: Option<crate::backend_api::BackendApi>,
    /// Machine credentials (API keys, M2M and OAuth tokens), over the authenticator's keys
    /// and the Backend API's verify endpoints.
    pub machine: crate::machine::MachineVerifier,
}

impl std::fmt::Debug for Wired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wired")
            .field("config", &self.config)
            .field("users", &self.users)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

/// The choices an adapter's builder collects; [`Wiring::build`] makes the parts from them and
/// the settings.
#[derive(Clone, Default)]
pub struct Wiring {
    store: Option<Arc<dyn Store>>,
    http: Option<Arc<dyn HttpClient>>,
    clock: Option<Arc<dyn Clock>>,
    token_cache_capacity: Option<usize>,
    sessions: bool,
    sessions_from_header: bool,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring")
            .field("store", &self.store.is_some())
            .field("http_client", &self.http.is_some())
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

impl Wiring {
    /// No store, the default HTTP client and clock, stateless.
    #[must_use]
    pub fn new() -> Self {
        Wiring {
            sessions_from_header: true,
            ..Wiring::default()
        }
    }

    /// The mirror: stored users, revocations, staff.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The HTTP client for JWKS fetches and the Backend API (default: reqwest with
    /// `CLERK_API_TIMEOUT_MS`, with the `reqwest` feature).
    #[must_use]
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Some(client);
        self
    }

    /// The clock (tests: a manual one).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The verified-token cache's capacity.
    #[must_use]
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.token_cache_capacity = Some(capacity);
        self
    }

    /// Session mode on or off (default off).
    #[must_use]
    pub fn sessions(mut self, enabled: bool) -> Self {
        self.sessions = enabled;
        self
    }

    /// Whether a bearer header establishes a session ([`SessionFlow::establish_from_header`]).
    #[must_use]
    pub fn establish_sessions_from_header(mut self, enabled: bool) -> Self {
        self.sessions_from_header = enabled;
        self
    }

    /// Builds the parts for `config`.
    ///
    /// # Errors
    /// [`WiringError`].
    pub fn build(self, config: ClerkConfig) -> Result<Wired, WiringError> {
        let http = match self.http {
            Some(http) => Some(http),
            None => default_http(&config)?,
        };
        let mut builder = Authenticator::builder(config.clone());
        if let Some(http) = &http {
            builder = builder.shared_http_client(Arc::clone(http));
        }
        if let Some(clock) = &self.clock {
            builder = builder.clock(Arc::clone(clock));
        }
        if let Some(capacity) = self.token_cache_capacity {
            builder = builder.token_cache_capacity(capacity);
        }
        let authenticator = builder.build()?;
        let backend_api = http.as_ref().and_then(|http| backend_api(&config, http));
        let users = self.store.as_ref().map(|store| {
            let mut users = UserProvisioning::from_dyn(Arc::clone(store));
            if let Some(clock) = &self.clock {
                users = users.with_clock(Arc::clone(clock));
            }
            match backend_api.clone() {
                Some(api) => users
                    .with_backend_api(api)
                    .with_budget(config.provision_budget),
                None => {
                    tracing::warn!(
                        "no CLERK_SECRET_KEY (or no HTTP client): users missing from the store are not fetched from Clerk"
                    );
                    users
                }
            }
        });
        let sessions = match (self.sessions, &self.store) {
            (true, Some(store)) => {
                if !config.cookie_secure {
                    tracing::warn!(
                        "CLERK_COOKIE_SECURE=false: session cookies are sent over plain HTTP (no Secure, no __Host- prefix)"
                    );
                }
                Some(
                    SessionFlow::from_config(Arc::clone(store), &config)
                        .establish_from_header(self.sessions_from_header)
                        .with_default_clock(authenticator.clock()),
                )
            }
            (true, None) => return Err(WiringError::SessionsWithoutStore),
            (false, _) => None,
        };
        let machine =
            crate::machine::MachineVerifier::new(authenticator.clone(), &config, http.clone());
        Ok(Wired {
            config,
            authenticator,
            users,
            sessions,
            http,
            backend_api,
            machine,
        })
    }
}

#[cfg(feature = "reqwest")]
fn default_http(config: &ClerkConfig) -> Result<Option<Arc<dyn HttpClient>>, HttpError> {
    let client = crate::reqwest_client::ReqwestClient::new(config.api_timeout)?;
    Ok(Some(Arc::new(client)))
}

#[cfg(not(feature = "reqwest"))]
fn default_http(_config: &ClerkConfig) -> Result<Option<Arc<dyn HttpClient>>, HttpError> {
    Ok(None)
}

#[cfg(feature = "reqwest")]
fn backend_api(
    config: &ClerkConfig,
    http: &Arc<dyn HttpClient>,
) -> Option<crate::backend_api::BackendApi> {
    use crate::backend_api::{BackendApi, TokioSleeper};
    BackendApi::from_config(config, Arc::clone(http), Arc::new(TokioSleeper)).ok()
}

#[cfg(not(feature = "reqwest"))]
fn backend_api(
    _config: &ClerkConfig,
    _http: &Arc<dyn HttpClient>,
) -> Option<crate::backend_api::BackendApi> {
    // Retries need a sleeper, which needs a runtime this build does not name.
    None
}
