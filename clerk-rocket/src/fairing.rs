//! [`ClerkFairing`]: reads and validates the settings at ignite, builds the
//! [`Authenticator`] (and, with a store, the stored-user lookup and the webhook processor)
//! and manages them as [`ClerkState`].

use std::fmt;
use std::sync::Arc;

use clerk_core::provision::UserProvisioning;
use clerk_core::store::Store;
use clerk_core::time::Clock;
use clerk_core::{Authenticator, ClerkConfig, HttpClient};
use clerk_webhooks::{Webhook, WebhookProcessor};
use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::{Build, Rocket};

use crate::session::{SessionMode, SessionStore};
use crate::settings::{self, Environment, SettingsError};
use clerk_core::session::RevalidationPolicy;

/// The webhook processor the fairing builds (over the type-erased store).
pub type Processor = WebhookProcessor<Arc<dyn Store>>;

/// What [`ClerkFairing`] manages: the guards and the webhook route read it with
/// `request.rocket().state::<ClerkState>()`. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ClerkState {
    config: ClerkConfig,
    authenticator: Authenticator,
    users: Option<UserProvisioning>,
    webhooks: Option<Arc<Processor>>,
    sessions: Option<SessionMode>,
}

impl ClerkState {
    /// Session mode, when on.
    #[must_use]
    pub fn sessions(&self) -> Option<&SessionMode> {
        self.sessions.as_ref()
    }

    /// The validated settings.
    #[must_use]
    pub fn config(&self) -> &ClerkConfig {
        &self.config
    }

    /// The authenticator every guard runs (once per request).
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// The stored-user lookup (with a store; just-in-time provisioning with
    /// `CLERK_SECRET_KEY`).
    #[must_use]
    pub fn users(&self) -> Option<&UserProvisioning> {
        self.users.as_ref()
    }

    /// The store of the local mirror, when the fairing was given one.
    #[must_use]
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.users.as_ref().map(UserProvisioning::store)
    }

    /// The webhook processor (with a store and `CLERK_WEBHOOK_SIGNING_KEY`).
    #[must_use]
    pub fn webhooks(&self) -> Option<&Arc<Processor>> {
        self.webhooks.as_ref()
    }
}

/// Why the fairing stopped the launch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FairingError {
    /// A setting is missing or invalid (the message names it).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The authenticator could not be built.
    #[error(transparent)]
    Authenticator(#[from] clerk_core::BuildError),
    /// The HTTP client for Clerk could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] clerk_core::HttpError),
    /// Session mode needs the mirror (for revocations, bans and staff users).
    #[error("session mode needs a store: use ClerkFairing::new().store(..).sessions(..)")]
    SessionsWithoutStore,
    /// `CLERK_WEBHOOK_SIGNING_KEY` is not a usable `whsec_` secret.
    #[error("CLERK_WEBHOOK_SIGNING_KEY: {0}")]
    WebhookSecret(#[from] clerk_webhooks::SecretError),
}

/// The Clerk fairing. At ignite it reads the `clerk` section of Rocket's configuration merged
/// with the `CLERK_*` environment ([`settings`]), validates it — a bad setting stops the
/// launch with a message naming it — and manages a [`ClerkState`].
///
/// - Token verification: an [`Authenticator`] over reqwest (feature `reqwest`, default), or
///   over [`http_client`](Self::http_client), or networkless with `CLERK_JWT_KEY`.
/// - With [`store`](Self::store): [`ClerkUser`](crate::ClerkUser)'s lookup, provisioning
///   users just in time through the Backend API when `CLERK_SECRET_KEY` is set, and, when
///   `CLERK_WEBHOOK_SIGNING_KEY` is set, the processor behind [`webhook::routes`](crate::webhook::routes).
#[derive(Clone)]
pub struct ClerkFairing {
    store: Option<Arc<dyn Store>>,
    http: Option<Arc<dyn HttpClient>>,
    clock: Option<Arc<dyn Clock>>,
    sessions: Option<Arc<dyn SessionStore>>,
    sessions_from_header: bool,
    token_cache_capacity: Option<usize>,
    ignore_environment: bool,
}

impl fmt::Debug for ClerkFairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkFairing")
            .field("store", &self.store.is_some())
            .field("http_client", &self.http.is_some())
            .field("sessions", &self.sessions.is_some())
            .field("ignore_environment", &self.ignore_environment)
            .finish_non_exhaustive()
    }
}

impl Default for ClerkFairing {
    fn default() -> Self {
        ClerkFairing {
            store: None,
            http: None,
            clock: None,
            sessions: None,
            sessions_from_header: true,
            token_cache_capacity: None,
            ignore_environment: false,
        }
    }
}

impl ClerkFairing {
    /// A fairing reading the `clerk` section and the environment, without a store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The store of the local mirror (shared, type-erased): enables [`ClerkUser`](crate::ClerkUser)
    /// and the webhook processor.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The HTTP client for JWKS fetches and the Backend API (tests: an offline client).
    /// Without it, the `reqwest` feature's client with `CLERK_API_TIMEOUT_MS`.
    #[must_use]
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Some(client);
        self
    }

    /// The clock of the authenticator and of provisioning (tests: a manual clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Session mode ([`session`](crate::session)), keeping sessions in `sessions` and
    /// revalidating after `CLERK_SESSION_REVALIDATION_SECONDS`. Needs [`store`](Self::store).
    #[must_use]
    pub fn sessions(mut self, sessions: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Whether a bearer header establishes a session in session mode
    /// ([`SessionMode::establish_from_header`]; default: yes).
    #[must_use]
    pub fn establish_sessions_from_header(mut self, enabled: bool) -> Self {
        self.sessions_from_header = enabled;
        self
    }

    /// The authenticator's verified-token cache size
    /// ([`AuthenticatorBuilder::token_cache_capacity`](clerk_core::AuthenticatorBuilder::token_cache_capacity);
    /// 0 turns it off, so every request runs the full verification).
    #[must_use]
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.token_cache_capacity = Some(capacity);
        self
    }

    /// Reads the `clerk` section only, not the `CLERK_*` process environment.
    #[must_use]
    pub fn ignore_environment(mut self) -> Self {
        self.ignore_environment = true;
        self
    }

    /// Builds the state this fairing manages from `figment`'s `clerk` section (and the
    /// environment unless [`ignore_environment`](Self::ignore_environment)).
    ///
    /// # Errors
    /// [`FairingError`] naming the setting or part at fault.
    pub fn build_state(
        &self,
        figment: &rocket::figment::Figment,
    ) -> Result<ClerkState, FairingError> {
        let env = if self.ignore_environment {
            Environment::Ignore
        } else {
            Environment::Process
        };
        let config = settings::read(figment, env)?;
        let http = match &self.http {
            Some(http) => Some(Arc::clone(http)),
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
        let users = self.store.as_ref().map(|store| {
            let mut users = UserProvisioning::from_dyn(Arc::clone(store));
            if let Some(clock) = &self.clock {
                users = users.with_clock(Arc::clone(clock));
            }
            match http.as_ref().and_then(|http| backend_api(&config, http)) {
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
        let webhooks = match (&self.store, config.webhook_signing_key()) {
            (Some(store), Some(key)) => {
                let webhook = Webhook::from_signing_key(key)?;
                Some(Arc::new(WebhookProcessor::new(webhook, Arc::clone(store))))
            }
            (Some(_), None) => {
                tracing::warn!("CLERK_WEBHOOK_SIGNING_KEY unset: the webhook route answers 503");
                None
            }
            (None, _) => None,
        };
        if self.sessions.is_some() && !config.cookie_secure {
            tracing::warn!(
                "CLERK_COOKIE_SECURE=false: session cookies are sent over plain HTTP (no Secure, no __Host- prefix)"
            );
        }
        let sessions = match (&self.sessions, &self.store) {
            (Some(sessions), Some(store)) => {
                let mode = SessionMode::new(
                    Arc::clone(store),
                    Arc::clone(sessions),
                    RevalidationPolicy::from_config(&config),
                )
                .establish_from_header(self.sessions_from_header)
                .staff_session_lifetime(config.staff_session);
                #[cfg(feature = "hybrid")]
                let mode = mode.staff_login_concurrency(config.staff_login_concurrency);
                Some(mode)
            }
            (Some(_), None) => return Err(FairingError::SessionsWithoutStore),
            (None, _) => None,
        };
        Ok(ClerkState {
            config,
            authenticator,
            users,
            webhooks,
            sessions,
        })
    }
}

#[cfg(feature = "reqwest")]
fn default_http(config: &ClerkConfig) -> Result<Option<Arc<dyn HttpClient>>, FairingError> {
    let client = clerk_core::reqwest_client::ReqwestClient::new(config.api_timeout)?;
    Ok(Some(Arc::new(client)))
}

#[cfg(not(feature = "reqwest"))]
fn default_http(_config: &ClerkConfig) -> Result<Option<Arc<dyn HttpClient>>, FairingError> {
    Ok(None)
}

#[cfg(feature = "reqwest")]
fn backend_api(
    config: &ClerkConfig,
    http: &Arc<dyn HttpClient>,
) -> Option<clerk_core::backend_api::BackendApi> {
    use clerk_core::backend_api::{BackendApi, TokioSleeper};
    BackendApi::from_config(config, Arc::clone(http), Arc::new(TokioSleeper)).ok()
}

#[cfg(not(feature = "reqwest"))]
fn backend_api(
    _config: &ClerkConfig,
    _http: &Arc<dyn HttpClient>,
) -> Option<clerk_core::backend_api::BackendApi> {
    // Retries need a sleeper, which needs a runtime this build does not name.
    None
}

#[rocket::async_trait]
impl Fairing for ClerkFairing {
    fn info(&self) -> Info {
        Info {
            name: "Clerk",
            kind: Kind::Ignite,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        match self.build_state(rocket.figment()) {
            Ok(state) => Ok(rocket.manage(state)),
            Err(error) => {
                // Rocket reports only the fairing's name; the reason goes to the log.
                tracing::error!("Clerk configuration: {error}");
                Err(rocket)
            }
        }
    }
}
