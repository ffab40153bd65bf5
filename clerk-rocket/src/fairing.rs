//! [`ClerkFairing`]: reads and validates the settings at ignite, builds the
//! [`Authenticator`] (and, with a store, the stored-user lookup and the webhook processor)
//! and manages them as [`ClerkState`].

use std::fmt;
use std::sync::Arc;

use clerk_core::backend_api::BackendApi;
use clerk_core::flow::session::SessionFlow;
use clerk_core::flow::wiring::{Wiring, WiringError};
use clerk_core::machine::MachineVerifier;
use clerk_core::provision::UserProvisioning;
use clerk_core::store::Store;
use clerk_core::time::Clock;
use clerk_core::{Authenticator, ClerkConfig, HttpClient};
use clerk_webhooks::WebhookProcessor;
use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::{Build, Rocket};

use crate::session::SessionStore;
use crate::settings::{self, Environment, SettingsError};

/// The webhook processor the fairing builds (over the type-erased store).
pub type Processor = WebhookProcessor<Arc<dyn Store>>;

/// What [`ClerkFairing`] manages: the guards and the webhook route read it with
/// `request.rocket().state::<ClerkState>()`. Cheap to clone.
#[derive(Clone)]
pub struct ClerkState {
    config: ClerkConfig,
    authenticator: Authenticator,
    users: Option<UserProvisioning>,
    backend_api: Option<BackendApi>,
    webhooks: Option<Arc<Processor>>,
    sessions: Option<(SessionFlow, Arc<dyn SessionStore>)>,
    machine: MachineVerifier,
}

impl fmt::Debug for ClerkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkState")
            .field("config", &self.config)
            .field("authenticator", &self.authenticator)
            .field("users", &self.users)
            .field("webhooks", &self.webhooks.is_some())
            .field("sessions", &self.sessions.as_ref().map(|(flow, _)| flow))
            .finish()
    }
}

impl ClerkState {
    /// The Backend API caller (with `CLERK_SECRET_KEY`): the app's own writes to Clerk —
    /// bans, revocations, invitations — share its HTTP client, retry policy and
    /// `Clerk-API-Version`.
    #[must_use]
    pub fn backend_api(&self) -> Option<&BackendApi> {
        self.backend_api.as_ref()
    }

    /// Session mode, when on.
    #[must_use]
    pub fn sessions(&self) -> Option<&SessionFlow> {
        self.sessions.as_ref().map(|(flow, _)| flow)
    }

    /// The session store of session mode; a store that holds nothing when session mode is off.
    pub(crate) fn session_store(&self) -> &Arc<dyn SessionStore> {
        static NONE: std::sync::OnceLock<Arc<dyn SessionStore>> = std::sync::OnceLock::new();
        match &self.sessions {
            Some((_, store)) => store,
            None => NONE.get_or_init(|| Arc::new(crate::session::MemorySessionStore::new())),
        }
    }

    /// The verifier of machine credentials the [`MachineAuth`](crate::MachineAuth) guards run.
    /// Call [`forget`](MachineVerifier::forget) when you revoke a credential.
    #[must_use]
    pub fn machine_verifier(&self) -> &MachineVerifier {
        &self.machine
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
    /// The authenticator or the HTTP client for Clerk could not be built.
    #[error(transparent)]
    Wiring(WiringError),
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
    wiring: Wiring,
    store: Option<Arc<dyn Store>>,
    sessions: Option<Arc<dyn SessionStore>>,
    ignore_environment: bool,
}

impl fmt::Debug for ClerkFairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkFairing")
            .field("wiring", &self.wiring)
            .field("sessions", &self.sessions.is_some())
            .field("ignore_environment", &self.ignore_environment)
            .finish_non_exhaustive()
    }
}

impl Default for ClerkFairing {
    fn default() -> Self {
        ClerkFairing {
            wiring: Wiring::new(),
            store: None,
            sessions: None,
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
        self.wiring = self.wiring.store(Arc::clone(&store));
        self.store = Some(store);
        self
    }

    /// The HTTP client for JWKS fetches and the Backend API (tests: an offline client).
    /// Without it, the `reqwest` feature's client with `CLERK_API_TIMEOUT_MS`.
    #[must_use]
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.wiring = self.wiring.http_client(client);
        self
    }

    /// The clock of the authenticator and of provisioning (tests: a manual clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.wiring = self.wiring.clock(clock);
        self
    }

    /// Session mode ([`session`](crate::session)), keeping sessions in `sessions` and
    /// revalidating after `CLERK_SESSION_REVALIDATION_SECONDS`. Needs [`store`](Self::store).
    #[must_use]
    pub fn sessions(mut self, sessions: Arc<dyn SessionStore>) -> Self {
        self.wiring = self.wiring.sessions(true);
        self.sessions = Some(sessions);
        self
    }

    /// Whether a bearer header establishes a session in session mode
    /// ([`SessionFlow::establish_from_header`]; default: yes).
    #[must_use]
    pub fn establish_sessions_from_header(mut self, enabled: bool) -> Self {
        self.wiring = self.wiring.establish_sessions_from_header(enabled);
        self
    }

    /// The authenticator's verified-token cache size
    /// ([`AuthenticatorBuilder::token_cache_capacity`](clerk_core::AuthenticatorBuilder::token_cache_capacity);
    /// 0 turns it off, so every request runs the full verification).
    #[must_use]
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.wiring = self.wiring.token_cache_capacity(capacity);
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
        let wired = self
            .wiring
            .clone()
            .build(config)
            .map_err(|error| match error {
                WiringError::SessionsWithoutStore => FairingError::SessionsWithoutStore,
                other => FairingError::Wiring(other),
            })?;
        let webhooks = match &self.store {
            Some(store) => {
                WebhookProcessor::from_config(&wired.config, Arc::clone(store))?.map(Arc::new)
            }
            None => None,
        };
        let sessions = wired.sessions.zip(self.sessions.clone());
        Ok(ClerkState {
            machine: wired.machine,
            config: wired.config,
            authenticator: wired.authenticator,
            users: wired.users,
            backend_api: wired.backend_api,
            webhooks,
            sessions,
        })
    }
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
