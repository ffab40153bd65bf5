//! [`Clerk`]: the one-liner that wires everything an Axum app needs from Clerk — the
//! authenticator, the Backend API, just-in-time provisioning, the webhook processor and
//! session mode — from the settings and a store, the way clerk-rocket's fairing does.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{routing::get, Router};
//! use clerk_axum::{Clerk, ClerkUser};
//!
//! async fn me(user: ClerkUser) -> String {
//!     user.clerk_id.clone().unwrap_or_default()
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let config = clerk_core::ClerkConfig::builder()
//! #     .secret_key("sk_test_builder")
//! #     .publishable_key(clerk_testkit::mint::publishable_key_for(clerk_testkit::mint::DEFAULT_FRONTEND_HOST, false))
//! #     .frontend_host(clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY)
//! #     .build()?;
//! let store = Arc::new(clerk_store::MemoryStore::new()); // your database: SqliteStore, PostgresStore, …
//! let clerk = Clerk::builder(config, store).build()?;
//! // Routes, then one call: `POST /webhooks/clerk`, the Clerk layer (with the stored-user
//! // lookup every `ClerkUser` needs) and, when asked for, session mode with its cookie.
//! let app: Router = clerk.install(Router::new().route("/api/me", get(me)));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! Nothing is left to wire by hand, so nothing can be forgotten: a route's `ClerkUser` always
//! finds its store, session mode always finds its session manager.

use std::fmt;
use std::sync::Arc;

use axum::routing::{post, MethodRouter};
use axum::Router;
use clerk_core::flow::wiring::{Wired, Wiring, WiringError};
use clerk_core::store::Store;
use clerk_core::time::Clock;
use clerk_core::{Authenticator, ClerkConfig, HttpClient};
use clerk_webhooks::{SecretError, WebhookProcessor};

use crate::ClerkLayer;

/// The webhook processor [`Clerk`] builds.
pub type Processor = WebhookProcessor<Arc<dyn Store>>;

/// Where [`Clerk::install`] mounts the webhook route by default.
pub const DEFAULT_WEBHOOK_PATH: &str = "/webhooks/clerk";

/// [`ClerkBuilder::build`] failed: the settings or a part could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClerkBuildError {
    /// The authenticator, HTTP client or session mode could not be built.
    #[error(transparent)]
    Wiring(#[from] WiringError),
    /// `CLERK_WEBHOOK_SIGNING_KEY` is not a valid `whsec_…` secret.
    #[error("CLERK_WEBHOOK_SIGNING_KEY: {0}")]
    WebhookSecret(#[from] SecretError),
}

type SessionInstaller = Arc<dyn Fn(Router) -> Router + Send + Sync>;

/// Everything an Axum app needs from Clerk, built by [`Clerk::builder`]. Cheap to clone.
#[derive(Clone)]
pub struct Clerk {
    wired: Wired,
    layer: ClerkLayer,
    webhooks: Option<Arc<Processor>>,
    webhook_path: String,
    store: Arc<dyn Store>,
    session_layer: Option<SessionInstaller>,
}

impl fmt::Debug for Clerk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clerk")
            .field("wired", &self.wired)
            .field("webhooks", &self.webhooks.is_some())
            .field("webhook_path", &self.webhook_path)
            .field("sessions", &self.session_layer.is_some())
            .finish_non_exhaustive()
    }
}

/// Collects the parts of a [`Clerk`].
pub struct ClerkBuilder {
    config: ClerkConfig,
    wiring: Wiring,
    store: Arc<dyn Store>,
    webhook_path: String,
    session_layer: Option<SessionInstaller>,
}

impl fmt::Debug for ClerkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkBuilder")
            .field("wiring", &self.wiring)
            .field("webhook_path", &self.webhook_path)
            .field("sessions", &self.session_layer.is_some())
            .finish_non_exhaustive()
    }
}

impl Clerk {
    /// A builder over the settings (`ClerkConfig::from_env()` reads the `CLERK_*` variables)
    /// and the mirror's store.
    #[must_use]
    pub fn builder(config: ClerkConfig, store: Arc<dyn Store>) -> ClerkBuilder {
        ClerkBuilder {
            config,
            wiring: Wiring::new().store(Arc::clone(&store)),
            store,
            webhook_path: DEFAULT_WEBHOOK_PATH.to_owned(),
            session_layer: None,
        }
    }

    /// Mounts the webhook route (`POST` at the webhook path; 503 without a signing key), then
    /// wraps `router` in the Clerk layer and, in session mode, the session manager — in the
    /// order they need (the session manager outside the Clerk layer).
    pub fn install(&self, router: Router) -> Router {
        let router = router
            .route(&self.webhook_path, self.webhook_route())
            .layer(self.layer.clone());
        match &self.session_layer {
            Some(install) => install(router),
            None => router,
        }
    }

    /// The webhook route alone (for apps that mount it themselves).
    pub fn webhook_route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        match &self.webhooks {
            Some(processor) => crate::webhook::route(Arc::clone(processor)),
            None => post(|| async { crate::webhook::not_configured() }),
        }
    }

    /// The Clerk layer alone (with the stored-user lookup and session mode).
    #[must_use]
    pub fn layer(&self) -> &ClerkLayer {
        &self.layer
    }

    /// The authenticator.
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.wired.authenticator
    }

    /// The verifier of machine credentials ([`MachineAuth`](crate::MachineAuth)); the
    /// layer `install` applies hands it to every request. Call [`forget`](clerk_core::machine::MachineVerifier::forget)
    /// when you revoke a credential.
    #[must_use]
    pub fn machine_verifier(&self) -> &clerk_core::machine::MachineVerifier {
        &self.wired.machine
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ClerkConfig {
        &self.wired.config
    }

    /// The mirror's store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The Backend API caller (with `CLERK_SECRET_KEY`): the app's own writes to Clerk —
    /// bans, revocations, invitations — share its HTTP client, retry policy and
    /// `Clerk-API-Version`.
    #[must_use]
    pub fn backend_api(&self) -> Option<&clerk_core::backend_api::BackendApi> {
        self.wired.backend_api.as_ref()
    }

    /// The webhook processor, when `CLERK_WEBHOOK_SIGNING_KEY` is set.
    #[must_use]
    pub fn webhooks(&self) -> Option<&Arc<Processor>> {
        self.webhooks.as_ref()
    }
}

impl ClerkBuilder {
    /// The HTTP client for JWKS fetches and the Backend API (default: reqwest).
    #[must_use]
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.wiring = self.wiring.http_client(client);
        self
    }

    /// The clock (tests: a manual one).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.wiring = self.wiring.clock(clock);
        self
    }

    /// Where the webhook route is mounted (default [`DEFAULT_WEBHOOK_PATH`]).
    #[must_use]
    pub fn webhook_path(mut self, path: impl Into<String>) -> Self {
        self.webhook_path = path.into();
        self
    }

    /// Session mode (feature `sessions`) with its records in `sessions`, any tower-sessions
    /// store, under the session cookie of [`cookie_layer_with`](crate::session::cookie_layer_with)
    /// (`CLERK_COOKIE_SECURE`); revalidation, lifetimes and the staff login bound from the
    /// settings.
    #[cfg(feature = "sessions")]
    #[must_use]
    pub fn sessions<S>(mut self, sessions: S) -> Self
    where
        S: tower_sessions::SessionStore + Clone,
    {
        self.wiring = self.wiring.sessions(true);
        let secure = self.config.cookie_secure;
        let install: SessionInstaller = Arc::new(move |router: Router| {
            router.layer(crate::session::cookie_layer_with(sessions.clone(), secure))
        });
        self.session_layer = Some(install);
        self
    }

    /// Whether a bearer header establishes a session (default: on; turn it off when API
    /// clients that never return the cookie share the app with browsers).
    #[must_use]
    pub fn establish_sessions_from_header(mut self, enabled: bool) -> Self {
        self.wiring = self.wiring.establish_sessions_from_header(enabled);
        self
    }

    /// Builds the parts.
    ///
    /// # Errors
    /// [`ClerkBuildError`] naming what failed.
    pub fn build(self) -> Result<Clerk, ClerkBuildError> {
        let wired = self.wiring.build(self.config)?;
        let webhooks =
            WebhookProcessor::from_config(&wired.config, Arc::clone(&self.store))?.map(Arc::new);
        let mut layer =
            ClerkLayer::new(wired.authenticator.clone()).with_machine(wired.machine.clone());
        if let Some(users) = &wired.users {
            layer = layer.with_users(users.clone());
        }
        #[cfg(feature = "sessions")]
        if let Some(flow) = &wired.sessions {
            layer = layer.with_sessions(flow.clone());
        }
        Ok(Clerk {
            wired,
            layer,
            webhooks,
            webhook_path: self.webhook_path,
            store: self.store,
            session_layer: self.session_layer,
        })
    }
}
