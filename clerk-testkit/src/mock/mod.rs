//! A mock Clerk Backend API on loopback, with fault injection.
//!
//! [`MockClerk::builder`] configures and starts an HTTP/1.1 server (axum on tokio) on
//! `127.0.0.1:0` (a free port). Point the code under test at [`MockClerk::url`] as its
//! `CLERK_API_URL`, with [`MockClerk::secret_key`] and [`MockClerk::publishable_key`].
//!
//! Served today:
//!
//! | route | what |
//! |-------|------|
//! | `GET /v1/jwks` | `{"keys":[…]}` of the current keys; needs `Authorization: Bearer <secret key>` (401 with Clerk's error body otherwise: `clerk_key_invalid` for another key, `authorization_header_format_invalid` for a malformed header, `authentication_invalid` for none) |
//! | `GET /v1/users`, `/v1/users/count`, `/v1/users/{id}` | the Backend API's users over an in-memory data set ([`seed_users`](MockClerk::seed_users), [`generate_users`](MockClerk::generate_users)); same key check |
//! | `GET /v1/organizations`, `/v1/organizations/{id}`, `/v1/organizations/{id}/memberships`, `/v1/organizations/{id}/invitations`, `/v1/organization_invitations` | organizations, memberships and invitations ([`seed_organizations`](MockClerk::seed_organizations), …); same key check |
//! | `PATCH`/`DELETE /v1/users/{id}`, `PATCH /v1/users/{id}/metadata`, `POST /v1/users/{id}/ban\|unban\|lock\|unlock`, `GET /v1/sessions`, `POST /v1/sessions/{id}/revoke`, `GET`/`POST /v1/invitations`, `POST /v1/invitations/{id}/revoke` | the writes over the same data set, with Clerk's shapes and errors, and the webhooks Clerk sends after them (`writes.rs`); same key check |
//! | `POST /v1/organizations`, `PATCH`/`DELETE /v1/organizations/{id}`, `POST /v1/organizations/{id}/memberships`, `PATCH`/`DELETE /v1/organizations/{id}/memberships/{user_id}` | organization and membership writes (`writes_orgs.rs`); same key check |
//! | `POST /__mock/sessions` | signs a user in (`{"user_id"}` → the session; see [`SESSIONS_PATH`]); no key check, no faults |
//! | `POST /__mock/tokens` | mints a v2 session token the JWKS verifies, for local development (JSON `{"sub", "sid"?, "azp"?, "org_id"?, "org_slug"?, "org_role"?, "org_permissions"?, "ttl_seconds"?}` → `{"token"}`; see [`TOKENS_PATH`]); no key check, no faults |
//! | `POST /v1/api_keys/verify`, `/v1/m2m_tokens/verify`, `/v1/oauth_applications/access_tokens/verify` | Clerk's verify endpoints over the machine credentials a test issued ([`issue_api_key`](MockClerk::issue_api_key), …; see `machine.rs`); same key check |
//! | anything else | 404 with a Clerk error body |
//!
//! Tests steer the mock at runtime through any handle (handles are cheap clones of one shared
//! state): [`set_fault`](MockClerk::set_fault) / [`fail_next`](MockClerk::fail_next) inject
//! [`Fault`]s, [`rotate_keys`](MockClerk::rotate_keys) / [`set_keys`](MockClerk::set_keys) change
//! the served keys, and the counters ([`jwks_requests`](MockClerk::jwks_requests), …) show what
//! the code under test did.
//!
//! The Backend API listings follow Clerk's paging (`limit` 1 to 500, default 10, anything else
//! a 422; `offset`; `order_by=created_at` or `-created_at`); an optional rate limit
//! ([`set_rate_limit`](MockClerk::set_rate_limit)) answers 429 with `Retry-After`, faults apply
//! to these routes too, and [`backend_requests`](MockClerk::backend_requests) logs each request
//! with its arrival time and answer.
//!
//! Webhooks: after [`deliver_webhooks_to`](MockClerk::deliver_webhooks_to), every write's
//! events (`user.updated`, `session.revoked`, `organization.created`, …) are Svix-signed and
//! POSTed to the URL, in order, after the write is answered; [`webhooks_delivered`](MockClerk::webhooks_delivered)
//! waits for the queue to drain, and [`webhook_events`](MockClerk::webhook_events) lists what
//! was emitted, delivered or not.
//!
//! The server stops on [`shutdown`](MockClerk::shutdown), or when the last handle is dropped
//! (or when the runtime it was started on shuts down).
//!
//! Layout, for those adding endpoints: `state.rs` holds the shared state and the per-endpoint
//! counters, `error.rs` Clerk-style errors and the secret-key check, `fault.rs` fault injection,
//! and each endpoint family its own module with a `routes()` function, merged in `router()`.

mod backend;
mod dataset;
mod error;
mod fault;
mod jwks;
mod machine;
mod outbox;
mod state;
mod tokens;
mod writes;
mod writes_orgs;
mod writes_sessions;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use tokio::sync::{oneshot, watch};

pub use self::backend::BackendRequest;
pub use self::dataset::{generated_user, generated_user_id, GENERATED_EPOCH_MILLIS};
pub use self::fault::Fault;
pub use self::machine::{
    IssuedCredential, MachineGrant, ISSUE_PATH as MACHINE_ISSUE_PATH,
    REVOKE_PATH as MACHINE_REVOKE_PATH,
};
pub use self::outbox::{EmittedWebhook, WebhookDelivery, MOCK_INSTANCE_ID};
use self::state::MockState;
pub use self::tokens::TOKENS_PATH;
pub use self::writes_sessions::SESSIONS_PATH;
use crate::keys::TestKeyPair;
use crate::mint::{publishable_key_for, TokenBuilder, DEFAULT_FRONTEND_HOST};

/// The secret key a mock uses unless [`MockClerkBuilder::secret_key`] says otherwise.
pub const DEFAULT_SECRET_KEY: &str = "sk_test_clerkTestkitMockSecretKey0123456789";

/// How long [`MockClerk::shutdown`] waits for in-flight requests before giving up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Assembles the mock's routes over the shared state.
fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .merge(jwks::routes())
        .merge(backend::routes())
        .merge(writes::routes())
        .merge(writes_orgs::routes())
        .merge(writes_sessions::routes())
        .merge(tokens::routes())
        .merge(machine::routes())
        .fallback(error::not_found)
        .with_state(state)
}

/// Configures a [`MockClerk`]. Start it with [`start`](Self::start) (on the current tokio
/// runtime) or [`start_blocking`](Self::start_blocking) (on a thread of its own).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until started"]
pub struct MockClerkBuilder {
    secret_key: String,
    keys: Vec<TestKeyPair>,
    frontend_host: String,
    addr: SocketAddr,
}

impl Default for MockClerkBuilder {
    fn default() -> Self {
        MockClerkBuilder {
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            keys: vec![TestKeyPair::fixed(0)],
            frontend_host: DEFAULT_FRONTEND_HOST.to_owned(),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

impl MockClerkBuilder {
    /// The secret key requests must present (default [`DEFAULT_SECRET_KEY`]). An `sk_live_`
    /// key makes the publishable key `pk_live_`.
    pub fn secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = secret_key.into();
        self
    }

    /// The keys served in the JWKS, in order (default: [`TestKeyPair::fixed(0)`](TestKeyPair::fixed)).
    /// The first one signs the tokens of [`MockClerk::token_v2`] and [`MockClerk::token_v1`].
    /// An empty list serves `{"keys":[]}`.
    pub fn keys(mut self, keys: Vec<TestKeyPair>) -> Self {
        self.keys = keys;
        self
    }

    /// The Frontend API host (default [`DEFAULT_FRONTEND_HOST`]): the issuer is
    /// `https://<host>` and the publishable key encodes it.
    pub fn frontend_host(mut self, host: impl Into<String>) -> Self {
        self.frontend_host = host.into();
        self
    }

    /// Where to listen (default `127.0.0.1:0`, a free loopback port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Starts the server as a task on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or when the address cannot be bound (see [`try_start`](Self::try_start)).
    pub async fn start(self) -> MockClerk {
        let addr = self.addr;
        self.try_start()
            .await
            .unwrap_or_else(|e| panic!("the mock Clerk could not listen on {addr}: {e}"))
    }

    /// [`start`](Self::start), returning the bind error instead of panicking.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn try_start(self) -> io::Result<MockClerk> {
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let (handle, server) = self.assemble(listener)?;
        tokio::spawn(server);
        Ok(handle)
    }

    /// Starts the server on a thread of its own with a single-threaded tokio runtime, so it
    /// keeps serving whatever the caller does: for synchronous tests, blocking clients, or
    /// frameworks that run their own runtime.
    ///
    /// # Panics
    ///
    /// When the address cannot be bound or the runtime cannot be built.
    pub fn start_blocking(self) -> MockClerk {
        let addr = self.addr;
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .unwrap_or_else(|e| panic!("the mock Clerk could not listen on {addr}: {e}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("building a single-threaded tokio runtime for the mock Clerk");
        let (handle, server) = {
            let _entered = runtime.enter();
            let listener = tokio::net::TcpListener::from_std(listener)
                .expect("registering the mock Clerk's listener with tokio");
            self.assemble(listener)
                .expect("reading the address of a bound listener")
        };
        std::thread::Builder::new()
            .name(format!("mock-clerk-{}", handle.addr()))
            .spawn(move || runtime.block_on(server))
            .expect("spawning the mock Clerk's thread");
        handle
    }

    fn assemble(
        self,
        listener: tokio::net::TcpListener,
    ) -> io::Result<(MockClerk, impl Future<Output = ()> + Send + 'static)> {
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = oneshot::channel();
        let state = Arc::new(MockState::new(
            self.secret_key,
            self.frontend_host,
            self.keys,
            stop_rx.clone(),
        ));
        let app = router(Arc::clone(&state));
        let server = async move {
            let mut stop = stop_rx;
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // An error means every sender is gone: stop as well.
                    let _ = stop.wait_for(|down| *down).await;
                })
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, "the mock Clerk stopped with an error");
            }
            // Nobody may be waiting for this.
            let _ = done_tx.send(());
        };
        let handle = MockClerk {
            inner: Arc::new(Inner {
                state,
                addr,
                stop: stop_tx,
                done: Mutex::new(Some(done_rx)),
            }),
        };
        Ok((handle, server))
    }
}

struct Inner {
    state: Arc<MockState>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    done: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: stop serving (without waiting).
        self.stop.send_replace(true);
    }
}

/// A running mock Clerk. Cloning gives another handle to the same server and state.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use clerk_testkit::mock::{Fault, MockClerk};
///
/// let clerk = MockClerk::builder().frontend_host("clerk.example.test").start().await;
/// assert!(clerk.url().starts_with("http://127.0.0.1:"));
/// assert_eq!(clerk.issuer(), "https://clerk.example.test");
/// clerk.fail_next(2, Fault::Status(503)); // the next two requests get a 503
/// clerk.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct MockClerk {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MockClerk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClerk")
            .field("url", &self.url())
            .field("frontend_host", &self.frontend_host())
            .finish_non_exhaustive()
    }
}

impl MockClerk {
    /// A builder with the defaults: [`DEFAULT_SECRET_KEY`], fixed key 0,
    /// [`DEFAULT_FRONTEND_HOST`], `127.0.0.1:0`.
    pub fn builder() -> MockClerkBuilder {
        MockClerkBuilder::default()
    }

    /// Starts a mock with the defaults on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// As [`MockClerkBuilder::start`].
    pub async fn start() -> MockClerk {
        Self::builder().start().await
    }

    fn state(&self) -> &MockState {
        &self.inner.state
    }

    // ---- where and who ------------------------------------------------------------------------

    /// The socket address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The base URL, `http://127.0.0.1:<port>` (no trailing slash): the `CLERK_API_URL`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The JWKS URL, [`url`](Self::url) + `/v1/jwks`.
    #[must_use]
    pub fn jwks_url(&self) -> String {
        format!("{}/v1/jwks", self.url())
    }

    /// The secret key requests must present as `Authorization: Bearer <secret key>`.
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.state().secret_key
    }

    /// The Frontend API host.
    #[must_use]
    pub fn frontend_host(&self) -> &str {
        &self.state().frontend_host
    }

    /// The publishable key for the frontend host (`pk_live_` when the secret key is `sk_live_`).
    #[must_use]
    pub fn publishable_key(&self) -> String {
        let live = self.secret_key().starts_with("sk_live_");
        publishable_key_for(self.frontend_host(), live)
    }

    /// The issuer tokens of this instance carry: `https://<frontend host>`.
    #[must_use]
    pub fn issuer(&self) -> String {
        format!("https://{}", self.frontend_host())
    }

    // ---- keys -----------------------------------------------------------------------------------

    /// The keys served now, in order.
    #[must_use]
    pub fn keys(&self) -> Vec<TestKeyPair> {
        self.state().keys()
    }

    /// The key that signs [`token_v2`](Self::token_v2)/[`token_v1`](Self::token_v1) tokens: the
    /// first served key.
    ///
    /// # Panics
    ///
    /// When the mock serves no keys.
    #[must_use]
    pub fn signing_key(&self) -> TestKeyPair {
        self.keys()
            .into_iter()
            .next()
            .expect("the mock Clerk serves no keys: set some before minting with it")
    }

    /// Serves exactly `keys` from now on.
    pub fn set_keys(&self, keys: Vec<TestKeyPair>) {
        self.state().replace_keys(keys);
    }

    /// Key rotation: serves `keys` instead of the current ones (which stop being served) and
    /// returns the previous keys. For an overlap period, use [`add_key`](Self::add_key) first
    /// and [`remove_key`](Self::remove_key) later.
    pub fn rotate_keys(&self, keys: Vec<TestKeyPair>) -> Vec<TestKeyPair> {
        self.state().replace_keys(keys)
    }

    /// Serves `key` in addition to the current keys (appended).
    pub fn add_key(&self, key: TestKeyPair) {
        self.state().add_key(key);
    }

    /// Stops serving the key with id `kid`; returns it if it was served.
    pub fn remove_key(&self, kid: &str) -> Option<TestKeyPair> {
        self.state().remove_key(kid)
    }

    // ---- tokens ---------------------------------------------------------------------------------

    /// A v2 [`TokenBuilder`] signed by [`signing_key`](Self::signing_key), with this instance's
    /// issuer; other defaults as [`TokenBuilder::v2`].
    ///
    /// # Panics
    ///
    /// When the mock serves no keys.
    pub fn token_v2(&self) -> TokenBuilder {
        TokenBuilder::v2(&self.signing_key()).issuer(&self.issuer())
    }

    /// A v1 [`TokenBuilder`] signed by [`signing_key`](Self::signing_key), with this instance's
    /// issuer; other defaults as [`TokenBuilder::v1`].
    ///
    /// # Panics
    ///
    /// When the mock serves no keys.
    pub fn token_v1(&self) -> TokenBuilder {
        TokenBuilder::v1(&self.signing_key()).issuer(&self.issuer())
    }

    // ---- faults ---------------------------------------------------------------------------------

    /// Applies `fault` to every request from now on (until changed; [`Fault::None`] restores
    /// normal service). A pending [`fail_next`](Self::fail_next) burst still goes first.
    pub fn set_fault(&self, fault: Fault) {
        self.state().set_fault(fault);
    }

    /// The fault set with [`set_fault`](Self::set_fault).
    #[must_use]
    pub fn fault(&self) -> Fault {
        self.state().steady_fault()
    }

    /// Applies `fault` to the next `n` requests only (after any burst already pending), then
    /// returns to the steady fault.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.state().push_burst(n, fault);
    }

    /// How many requests the pending [`fail_next`](Self::fail_next) bursts will still affect.
    #[must_use]
    pub fn pending_failures(&self) -> usize {
        self.state().pending_burst()
    }

    /// Clears the steady fault and any pending burst.
    pub fn clear_faults(&self) {
        self.state().clear_faults();
    }

    // ---- counters -------------------------------------------------------------------------------

    /// Requests received on `GET /v1/jwks`, whatever their outcome (faults, 401s included).
    #[must_use]
    pub fn jwks_requests(&self) -> u64 {
        self.state().counters.jwks.total()
    }

    /// Requests on `GET /v1/jwks` answered with the key set (200, authenticated, no fault).
    #[must_use]
    pub fn jwks_requests_ok(&self) -> u64 {
        self.state().counters.jwks.succeeded()
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        self.state().reset_counters();
    }

    // ---- machine credentials -------------------------------------------------------------------

    /// Issues an API key (`ak_…`, opaque).
    pub fn issue_api_key(&self, grant: MachineGrant) -> IssuedCredential {
        self.issue_machine(clerk_core::machine::TokenType::ApiKey, grant)
    }

    /// Issues an M2M token: `mt_…`, or with [`MachineGrant::jwt`] a JWT (`sub` the machine,
    /// `cat` Clerk's M2M category) signed with the first served key.
    pub fn issue_m2m_token(&self, grant: MachineGrant) -> IssuedCredential {
        self.issue_machine(clerk_core::machine::TokenType::M2mToken, grant)
    }

    /// Issues an OAuth access token: `oat_…`, or with [`MachineGrant::jwt`] a JWT with `typ`
    /// `at+jwt` signed with the first served key.
    pub fn issue_oauth_token(&self, grant: MachineGrant) -> IssuedCredential {
        self.issue_machine(clerk_core::machine::TokenType::OAuthToken, grant)
    }

    fn issue_machine(
        &self,
        token_type: clerk_core::machine::TokenType,
        grant: MachineGrant,
    ) -> IssuedCredential {
        let state = self.state();
        let key = state.keys().into_iter().next();
        state
            .backend_machine
            .issue(token_type, grant, key.as_ref(), &self.issuer())
    }

    /// Revokes the machine credential with object id `id` (its verify answers 404 from now
    /// on); whether the mock knew it.
    pub fn revoke_machine_credential(&self, id: &str) -> bool {
        self.state().backend_machine.revoke(id)
    }

    /// Requests received on the three verify endpoints, whatever their outcome.
    #[must_use]
    pub fn machine_verify_requests(&self) -> u64 {
        self.state().backend_machine.verify_requests()
    }

    /// Makes every verify call take `delay` before answering (to overlap concurrent calls).
    pub fn set_machine_verify_delay(&self, delay: Duration) {
        self.state().backend_machine.set_delay(delay);
    }

    // ---- lifecycle ------------------------------------------------------------------------------

    /// Stops accepting connections and waits (up to 5 s) for in-flight requests; injected delays
    /// are cut short. Other handles stay usable as values, but the server is gone. Calling it
    /// again returns at once.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        let done = self
            .inner
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(done) = done {
            // An error means the server task is already gone, which is what we wait for.
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, done).await;
        }
    }
}
