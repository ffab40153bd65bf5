//! [`ClerkLayer`] and [`ClerkService`]: authenticate once per request, store the decision.

use std::sync::Arc;
use std::task::{Context, Poll};
use tracing::instrument::Instrumented;
use tracing::Instrument;

use axum::http::Request;
use clerk_core::flow::RequestAuth;
use clerk_core::machine::MachineVerifier;
use clerk_core::provision::UserProvisioning;
use clerk_core::{AuthDecision, Authenticator, BuildError, ClerkConfig};
use futures_util::future::{BoxFuture, Either};
use tower_layer::Layer;
use tower_service::Service;

use crate::AuthState;

/// A [`tower::Layer`](tower_layer::Layer) that authenticates every request it wraps with an
/// [`Authenticator`] and puts the [`AuthState`] into the request's extensions, where the
/// extractors of this crate read it.
///
/// The layer never answers a request itself: signed out, rejected and unavailable are all
/// recorded, and each handler's extractors decide what is required. Apply it with
/// [`Router::layer`](axum::Router::layer) so public routes see the state too, and protect
/// routes with extractors or with [`route_layer`](axum::Router::route_layer) and the
/// middleware of [`middleware`](crate::middleware).
///
/// It may also wrap the whole router, as a service in front of it: it then runs before
/// routing (for unknown paths too), and axum no longer boxes and clones a layered service for
/// each request of each route — about 600 instructions per request less on the warm path
/// (BENCHMARKS.md, "the warm path by the token's bytes").
///
/// ```no_run
/// use axum::{routing::get, Router, ServiceExt};
/// use clerk_axum::{ClerkAuth, ClerkLayer};
/// use tower_layer::Layer;
///
/// # async fn run(layer: ClerkLayer) -> std::io::Result<()> {
/// let app = Router::new().route("/me", get(|auth: ClerkAuth| async move { auth.user_id.clone() }));
/// let service = layer.layer(app);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, ServiceExt::<axum::extract::Request>::into_make_service(service)).await
/// # }
/// ```
///
/// Cheap to clone: clones share the authenticator's key and token caches.
#[derive(Debug, Clone)]
pub struct ClerkLayer {
    authenticator: Authenticator,
    context: RequestContext,
    #[cfg(feature = "sessions")]
    sessions: Option<Arc<crate::session::SessionMode>>,
}

impl ClerkLayer {
    /// A layer over `authenticator`.
    #[must_use]
    pub fn new(authenticator: Authenticator) -> Self {
        ClerkLayer {
            authenticator,
            context: RequestContext::default(),
            #[cfg(feature = "sessions")]
            sessions: None,
        }
    }

    /// The stored-user lookup [`ClerkUser`](crate::ClerkUser) reads (the mirror, and the
    /// Backend API for just-in-time provisioning): the layer puts it into every request, so
    /// no separate `Extension` is needed (one an app adds itself wins).
    #[must_use]
    pub fn with_users(mut self, users: UserProvisioning) -> Self {
        self.context.users = Some(users);
        self
    }

    /// The verifier [`MachineAuth`](crate::MachineAuth) asks: the layer puts it into every
    /// request, so no separate `Extension` layer is needed (one an app adds itself wins).
    /// [`Clerk::install`](crate::Clerk::install) sets it.
    #[must_use]
    pub fn with_machine(mut self, verifier: MachineVerifier) -> Self {
        self.context.machine = Some(verifier);
        self
    }

    /// Turns on session mode (feature `sessions`): a verified token is remembered in the
    /// request's tower-sessions `Session` and later requests are served from it under the
    /// policy's rules; local staff logins (hybrid mode) live in the same sessions. See
    /// [`session`](crate::session). tower-sessions' `SessionManagerLayer` must wrap this
    /// layer (e.g. [`cookie_layer`](crate::session::cookie_layer)); without it extractors
    /// answer 500. The mode's clock defaults to the authenticator's.
    #[cfg(feature = "sessions")]
    #[must_use]
    pub fn with_sessions(mut self, mode: crate::session::SessionMode) -> Self {
        let mode = mode.with_default_clock(self.authenticator.clock());
        self.sessions = Some(Arc::new(mode));
        self
    }

    /// A layer over a default [`Authenticator`] for `config` (system clock, default caches,
    /// reqwest for JWKS fetches with the `reqwest` feature; PEM mode needs no HTTP client).
    pub fn from_config(config: ClerkConfig) -> Result<Self, BuildError> {
        Authenticator::builder(config).build().map(Self::new)
    }

    /// A layer configured from the `CLERK_*` environment variables
    /// ([`ClerkConfig::from_env`]), fetching keys with reqwest.
    ///
    /// Fails with a message naming the setting when the configuration is invalid.
    #[cfg(feature = "reqwest")]
    pub fn from_env() -> Result<Self, FromEnvError> {
        let config = ClerkConfig::from_env()?;
        Ok(Self::from_config(config)?)
    }

    /// The authenticator this layer runs.
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
}

/// [`ClerkLayer::from_env`] failed.
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FromEnvError {
    /// A `CLERK_*` setting is missing or invalid.
    #[error(transparent)]
    Config(#[from] clerk_core::ConfigError),
    /// The authenticator could not be built.
    #[error(transparent)]
    Authenticator(#[from] BuildError),
}

/// What the layer hands every request besides its [`AuthState`]: the stored-user lookup and
/// the machine verifier, in one request extension however many are set (each its own
/// extension cost an allocation per request, and the verifier a layer of its own).
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestContext {
    pub(crate) users: Option<UserProvisioning>,
    pub(crate) machine: Option<MachineVerifier>,
}

impl RequestContext {
    fn is_empty(&self) -> bool {
        self.users.is_none() && self.machine.is_none()
    }

    /// The mirror the stateless path asks for a signed-in session's standing.
    fn store(context: Option<&RequestContext>) -> Option<&dyn clerk_core::store::Store> {
        context?.users.as_ref().map(|users| &**users.store())
    }

    /// The request's stored-user lookup: an app's own `Extension` first, then the layer's.
    pub(crate) fn users(extensions: &axum::http::Extensions) -> Option<&UserProvisioning> {
        extensions.get::<UserProvisioning>().or_else(|| {
            extensions
                .get::<Arc<RequestContext>>()
                .and_then(|context| context.users.as_ref())
        })
    }

    /// The request's machine verifier: an app's own `Extension` first, then the layer's.
    pub(crate) fn machine(extensions: &axum::http::Extensions) -> Option<&MachineVerifier> {
        extensions.get::<MachineVerifier>().or_else(|| {
            extensions
                .get::<Arc<RequestContext>>()
                .and_then(|context| context.machine.as_ref())
        })
    }
}

impl<S> Layer<S> for ClerkLayer {
    type Service = ClerkService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClerkService {
            inner,
            authenticator: self.authenticator.clone(),
            context: (!self.context.is_empty()).then(|| Arc::new(self.context.clone())),
            #[cfg(feature = "sessions")]
            sessions: self.sessions.clone(),
        }
    }
}

/// The [`tower::Service`](tower_service::Service) made by [`ClerkLayer`]: runs
/// [`Authenticator::authenticate`] once, inserts the [`AuthState`], then calls the inner
/// service.
///
/// A request that already carries an [`AuthState`] (the layer applied twice, say globally and
/// on a nested router) is not authenticated again.
#[derive(Debug, Clone)]
pub struct ClerkService<S> {
    inner: S,
    authenticator: Authenticator,
    context: Option<Arc<RequestContext>>,
    #[cfg(feature = "sessions")]
    sessions: Option<Arc<crate::session::SessionMode>>,
}

impl<S> ClerkService<S> {
    /// The wrapped service.
    #[must_use]
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The authenticator this service runs.
    #[must_use]
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
}

/// The future of [`ClerkService`]: the inner service's own future (in the request's `clerk`
/// span when that span is enabled) when the decision was made at once — no token, a bad
/// header, a verified-token cache hit, a token verified with held keys, and no mirror to ask
/// — else a boxed future that fetches keys, asks the mirror or runs session mode first.
pub type ClerkFuture<F, T> = Either<Either<F, Instrumented<F>>, BoxFuture<'static, T>>;

impl<S, B> Service<Request<B>> for ClerkService<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ClerkFuture<S::Future, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if let Some(context) = &self.context {
            request.extensions_mut().insert(Arc::clone(context));
        }
        #[cfg(feature = "sessions")]
        let stateless = self.sessions.is_none();
        #[cfg(not(feature = "sessions"))]
        let stateless = true;
        // The warm path decides here, with no future of its own: the core decides at once
        // unless keys must be fetched, and the mirror is asked only for signed-in requests.
        let mut decided = None;
        let mut ready = request.extensions().get::<AuthState>().is_some();
        if stateless && !ready {
            if let Some(decision) = self.authenticator.decide_headers_now(request.headers()) {
                let store = RequestContext::store(self.context.as_deref());
                match RequestAuth::stateless_now(decision, store) {
                    Ok(state) => {
                        request.extensions_mut().insert(AuthState(state));
                        ready = true;
                    }
                    Err(decision) => decided = Some(decision),
                }
            }
        }
        if ready {
            // The service polled ready takes the request: no clone, no box.
            return Either::Left(in_request_span(&mut self.inner, request));
        }
        self.call_pending(request, decided)
    }
}

/// Calls `inner` in a `clerk` span naming the user, session, org and actor — when that span
/// is enabled at all (otherwise the inner future runs as it is).
fn in_request_span<S, B>(
    inner: &mut S,
    request: Request<B>,
) -> Either<S::Future, Instrumented<S::Future>>
where
    S: Service<Request<B>>,
{
    let span = clerk_core::auth::request_span();
    if span.is_disabled() {
        return Either::Left(inner.call(request));
    }
    if let Some(auth) = request
        .extensions()
        .get::<AuthState>()
        .and_then(|state| state.decision().auth())
    {
        auth.record_in(&span);
    }
    Either::Right(inner.call(request).instrument(span))
}

impl<S> ClerkService<S> {
    /// The path that waits: session mode, a JWKS fetch, or the mirror's standing check for a
    /// signed-in `decided` request.
    fn call_pending<B>(
        &mut self,
        mut request: Request<B>,
        decided: Option<AuthDecision>,
    ) -> ClerkFuture<S::Future, Result<S::Response, S::Error>>
    where
        S: Service<Request<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        B: Send + 'static,
    {
        // The service that was polled ready is the one that gets the request; the clone stays
        // behind for the next call (tower's usual pattern).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let authenticator = self.authenticator.clone();
        #[cfg(feature = "sessions")]
        let sessions = self.sessions.clone();
        let context = self.context.clone();
        Either::Right(Box::pin(async move {
            #[cfg(feature = "sessions")]
            if let Some(mode) = &sessions {
                if request.extensions().get::<AuthState>().is_none() {
                    crate::session::authenticate(&authenticator, mode, &mut request).await;
                }
            }
            if request.extensions().get::<AuthState>().is_none() {
                let decision = match decided {
                    Some(decision) => decision,
                    None => authenticator.authenticate(request.headers()).await,
                };
                let store = RequestContext::store(context.as_deref());
                let state = RequestAuth::stateless(decision, store).await;
                request.extensions_mut().insert(AuthState(state));
            }
            in_request_span(&mut inner, request).await
        }))
    }
}
