//! The example Axum application of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) (a public contract that an outside test suite
//! drives; `examples/rocket-app` answers the same).
//!
//! | route | answer |
//! |-------|--------|
//! | `GET /healthz` | 200 `{"status":"ok"}` |
//! | `GET /api/public` | 200 `{"signed_in": bool, "user_id": string\|null}` (a rejected token is signed out; 503 when no key can be had) |
//! | `GET /api/me` | 200 `{"clerk_id","email","first_name","last_name","full_name","username","image_url","session_id","org_id","org_slug","org_role","org_permissions"}`: the user from the local mirror, fetched from the Backend API (`GET /v1/users/{id}`) and stored when missing; 401 with `WWW-Authenticate: Bearer` and `{"error":"unauthenticated","reason":…}`; 503 when no key (or neither the store nor Clerk) can be had |
//! | `GET /api/org` | 200 `{"org_id","org_slug","org_role","org_permissions"}`, else 403 `{"error":"no_active_organization"}` |
//! | `GET /api/org/admin` | 200 for role `org:admin`, else 403 |
//! | `GET /api/org/reports` | 200 with permission `org:reports:read`, else 403 |
//! | `GET /api/machine` | an API key or an M2M token (opaque or JWT) as `Authorization: Bearer`: 200 `{"token_type": "api_key"\|"m2m_token", "subject", "scopes"}`; a session or OAuth token, a revoked, expired or unknown credential, or none: 401 with `WWW-Authenticate: Bearer` and `{"error":"unauthenticated","reason":…}` |
//! | `POST /webhooks/clerk` | [design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks) ([`clerk_axum::webhook::route`]); 503 when `CLERK_WEBHOOK_SIGNING_KEY` is unset |
//! | `GET /admin` | a staff session: 200 HTML, the users (email, Clerk id, name, active) and organizations (name, slug, members); otherwise (a Clerk token or Clerk session included) 303 `Location: /admin/login` |
//! | `GET /admin/login` | 200 HTML form (`username`, `password`, `POST /admin/login`) |
//! | `POST /admin/login` | form-urlencoded; staff credentials: 303 `Location: /admin` + session cookie (HttpOnly, SameSite=Lax); refused (unknown, wrong password, not staff, inactive): 401 HTML with the form and "Invalid username or password."; an unreadable form: 400 |
//! | `POST /admin/logout` | 303 `Location: /admin/login`, the session ended |
//! | `GET /admin/users/{clerk_id}` | staff: 200 HTML, the mirror's view of the user (banned, locked, may sign in) and buttons to ban, unban or revoke every session; otherwise 303 to the login page |
//! | `GET /admin/users/{clerk_id}/{ban,unban,revoke-sessions}` | staff: 200 HTML confirmation step (one button posting `confirm={action}`) |
//! | `POST /admin/users/{clerk_id}/{action}` | staff with `confirm={action}`: the Backend API call (`POST /v1/users/{id}/ban`, `/unban`, or each active session's `/revoke`), then 303 to the user page, which shows the change once Clerk's webhook reaches the mirror; unconfirmed 400, cross-site 403, not a Clerk user id or an unknown action 404, Clerk refusing 502: nothing sent or changed |
//! | `POST /admin/login` or `/admin/logout` sent by a browser from another site (`Sec-Fetch-Site`, else `Origin`) | 403 HTML, nothing changed (login CSRF, forced logout) |
//!
//! `/admin` is hybrid mode: local staff (created with `clerk createsuperuser`) log in with a
//! username and password. The pages come from the shared `admin-pages` crate (the Rocket app
//! renders the same); this app only wires the routes (`src/admin.rs`).
//!
//! Session mode is on (clerk-axum's `sessions`): browsers that send Clerk's `__session`
//! cookie get a server-side session revalidated every `CLERK_SESSION_REVALIDATION_SECONDS`
//! and ended at the next request by a `session.revoked` webhook or a ban; bearer-header API
//! clients stay stateless (`establish_from_header(false)`). Session records live in the
//! database (`clerk_sessions`, the same `DATABASE_URL`), or in Redis when `REDIS_URL` is set
//! ([`open_stores`]): every instance serves every session and a restart signs no one out
//! ([design §10](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#10-several-instances)).
//! Tests may wire [`clerk_axum::session::MemorySessionStore`] instead (one process only).
//!
//! Configuration ([`AppConfig::from_env`]): the `CLERK_*` settings of [design §7](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#7-configuration), `DATABASE_URL`
//! (default [`DEFAULT_DATABASE_URL`], a SQLite file `clerk-app.db` in the working directory;
//! `postgres://…` selects PostgreSQL), `REDIS_URL` (optional: user and organization lookups
//! are cached in Redis; without it in process memory, `CLERK_CACHE_TIMEOUT` /
//! `CLERK_ORG_CACHE_TIMEOUT`) and `BIND` (default [`DEFAULT_BIND`]). The schema is migrated at
//! start.
//!
//! Tests and the demo drive the app in process: [`AppState::connect`] (or
//! [`AppState::new`] with hand-made parts), [`app`], and [`serve`] on any listener.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Json, Router};
use clerk_axum::session::ClerkSessionStore;
use clerk_axum::{ActiveOrg, Clerk, ClerkAuth, ClerkUser, RequirePermission, RequireRole};
use clerk_core::store::{Store, StoreError};
use clerk_core::{ActiveOrganization, ClerkConfig};
use serde_json::{json, Value};
use tokio::net::TcpListener;

clerk_axum::role!(
    /// The role `/api/org/admin` requires.
    pub OrgAdmin = "org:admin"
);
clerk_axum::permission!(
    /// The permission `/api/org/reports` requires.
    pub ReadReports = "org:reports:read"
);

/// `DATABASE_URL` when unset: the SQLite file `clerk-app.db` in the working directory,
/// created when missing.
pub const DEFAULT_DATABASE_URL: &str = clerk_store::DEFAULT_DATABASE_URL;

/// `BIND` when unset.
pub const DEFAULT_BIND: &str = "127.0.0.1:3000";

/// The application's settings. `Debug` redacts the secrets and the passwords in URLs.
#[derive(Clone)]
pub struct AppConfig {
    /// The Clerk settings ([design §7](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#7-configuration)).
    pub clerk: ClerkConfig,
    /// `DATABASE_URL`: `sqlite:…` or `postgres://…` (also `postgresql://…`).
    pub database_url: String,
    /// `BIND`: the address to listen on.
    pub bind: SocketAddr,
    /// `REDIS_URL`: the cache of user and organization lookups; in process memory when unset.
    pub redis_url: Option<String>,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clerk_core::secret::redact_url;
        let mut out = f.debug_struct("AppConfig");
        out.field("clerk", &self.clerk);
        out.field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("bind", &self.bind)
            .finish()
    }
}

impl AppConfig {
    /// Reads the settings from the environment.
    ///
    /// # Errors
    /// A message naming the first setting that is missing or invalid.
    pub fn from_env() -> Result<Self, AppError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (tests pass a map).
    ///
    /// # Errors
    /// A message naming the first setting that is missing or invalid.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AppError> {
        let clerk = ClerkConfig::from_lookup(&lookup)?;
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = set("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let bind_text = set("BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind = bind_text.trim().parse().map_err(|_| AppError::Setting {
            name: "BIND",
            expected: "an address and port such as 127.0.0.1:3000",
        })?;
        let redis_url = set("REDIS_URL").map(|url| url.trim().to_owned());
        Ok(AppConfig {
            clerk,
            database_url,
            bind,
            redis_url,
        })
    }
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// A `CLERK_*` setting is missing or invalid.
    #[error(transparent)]
    Config(#[from] clerk_core::ConfigError),
    /// Another setting is invalid.
    #[error("{name}: expected {expected}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// The database could not be opened or migrated.
    #[error("DATABASE_URL: {0}")]
    Store(#[from] StoreError),
    /// The Clerk parts could not be built (the authenticator, the HTTP client, the webhook
    /// secret).
    #[error(transparent)]
    Clerk(#[from] clerk_axum::ClerkBuildError),
    /// The database, the cache or the session store could not be opened (`DATABASE_URL`,
    /// `REDIS_URL`).
    #[error(transparent)]
    Stores(#[from] clerk_store::OpenStoresError),
    /// Binding or serving failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The webhook processor of this application (over the type-erased store).
pub type Processor = clerk_axum::Processor;

/// Everything the routes need; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    clerk: Clerk,
}

impl AppState {
    /// The state from the wired Clerk parts ([`Clerk::builder`]).
    #[must_use]
    pub fn new(clerk: Clerk) -> Self {
        AppState { clerk }
    }

    /// Opens and migrates the database of `config` behind its cache, with the session store
    /// ([`open_stores`]), and wires Clerk in one call ([`Clerk::builder`]): the authenticator
    /// in session mode (sessions in the database, or Redis with `REDIS_URL`; a bearer header
    /// alone does not start one), the Backend
    /// API client (only with `CLERK_SECRET_KEY`) and the webhook processor (only with
    /// `CLERK_WEBHOOK_SIGNING_KEY`; it writes through the same cache, so its changes
    /// invalidate what they touch).
    ///
    /// # Errors
    /// [`AppError`] naming what failed.
    pub async fn connect(config: &AppConfig) -> Result<Self, AppError> {
        let AppStores { store, sessions } = open_stores(config).await?;
        // Bounded (idle lifetime, at most 16 records per Clerk session), shared by every
        // instance on the same database or Redis.
        let sessions = ClerkSessionStore::new(sessions, &config.clerk);
        let clerk = Clerk::builder(config.clerk.clone(), store)
            .sessions(sessions)
            .establish_sessions_from_header(false)
            .build()?;
        Ok(AppState::new(clerk))
    }

    /// The store of the local mirror.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        self.clerk.store()
    }
}

/// Opens the store `database_url` names (`postgres://` or `postgresql://`: PostgreSQL;
/// anything else: SQLite) and migrates it.
///
/// # Errors
/// The store's error (unreachable database, invalid URL, failed migration).
pub async fn open_store(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    // The same rule as the `clerk` command: one place reads DATABASE_URL.
    clerk_store::open_database_url(database_url).await
}

/// The mirror behind its cache and the session store, from [`open_stores`].
pub use clerk_store::AppStores;

/// Opens and migrates the database of `config.database_url` and returns the mirror behind
/// the cache that keeps several instances consistent and the session store, both shared by
/// every instance on the same database or Redis (`config.redis_url`); never in process
/// memory ([`clerk_store::open_app_stores`]).
///
/// # Errors
/// [`AppError::Stores`] naming `DATABASE_URL` or `REDIS_URL`.
pub async fn open_stores(config: &AppConfig) -> Result<AppStores, AppError> {
    Ok(clerk_store::open_app_stores(
        &config.database_url,
        config.redis_url.as_deref(),
        &config.clerk,
    )
    .await?)
}

/// Opens and migrates the store of `config.database_url` behind its cache (see
/// [`open_stores`]). A cache that fails is bypassed (the store answers).
///
/// # Errors
/// [`AppError::Stores`] naming `DATABASE_URL` or `REDIS_URL`.
pub async fn open_cached_store(config: &AppConfig) -> Result<Arc<dyn Store>, AppError> {
    Ok(open_stores(config).await?.store)
}

/// The router of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications).
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/public", get(public))
        .route("/api/me", get(me))
        .route("/api/org", get(org))
        .route("/api/org/admin", get(org_admin))
        .route("/api/org/reports", get(org_reports))
        .route("/api/machine", get(machine))
        .merge(admin::routes(admin::ClerkWrites(
            state.clerk.backend_api().cloned(),
        )))
        .layer(Extension(Arc::clone(state.store())));
    // `POST /webhooks/clerk`, the Clerk layer and the session manager, in one call.
    state.clerk.install(routes)
}

/// Serves [`app`] on `listener` until the future is dropped.
///
/// # Errors
/// The server's I/O error.
pub async fn serve(listener: TcpListener, state: AppState) -> io::Result<()> {
    axum::serve(listener, with_peer_address(app(state))).await
}

/// The router as a make-service that puts each connection's peer address in the request
/// (`ConnectInfo<SocketAddr>`): the staff login throttles failures per client address with it
/// (behind a reverse proxy that address is the proxy's).
fn with_peer_address(
    router: Router,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, SocketAddr> {
    router.into_make_service_with_connect_info::<SocketAddr>()
}

/// Connects, migrates, binds `config.bind` and serves until SIGTERM or Ctrl-C; then stops
/// accepting connections, lets in-flight requests finish and returns.
///
/// # Errors
/// [`AppError`] when start-up fails.
pub async fn run(config: AppConfig) -> Result<(), AppError> {
    let state = AppState::connect(&config).await?;
    let listener = TcpListener::bind(config.bind).await?;
    tracing::info!(addr = %listener.local_addr()?, "axum-app listening");
    let stop = shutdown_signal()?;
    axum::serve(listener, with_peer_address(app(state)))
        .with_graceful_shutdown(stop)
        .await?;
    tracing::info!("axum-app stopped: in-flight requests finished");
    Ok(())
}

/// Resolves at the first SIGTERM (what systemd, Kubernetes and Docker send at a deploy) or
/// Ctrl-C. The SIGTERM handler is installed before serving starts, so a signal that arrives
/// early is not lost.
fn shutdown_signal() -> io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        let terminated = async move {
            term.recv().await;
        };
        #[cfg(not(unix))]
        let terminated = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
            () = terminated => tracing::info!("SIGTERM: shutting down"),
        }
    })
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn public(auth: Option<ClerkAuth>) -> Json<Value> {
    let user_id = auth.map(|auth| auth.user_id.clone());
    Json(json!({ "signed_in": user_id.is_some(), "user_id": user_id }))
}

fn org_fields(org: Option<&ActiveOrganization>) -> [(&'static str, Value); 4] {
    [
        ("org_id", json!(org.map(|o| &o.id))),
        ("org_slug", json!(org.and_then(|o| o.slug.as_ref()))),
        ("org_role", json!(org.and_then(|o| o.role.as_ref()))),
        (
            "org_permissions",
            json!(org.map(|o| o.permissions.clone()).unwrap_or_default()),
        ),
    ]
}

async fn me(user: ClerkUser) -> Json<Value> {
    let mut body = json!({
        "clerk_id": user.clerk_id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "full_name": user.full_name(),
        "username": user.username,
        "image_url": user.image_url,
        "session_id": user.auth.session_id,
    });
    if let Some(map) = body.as_object_mut() {
        map.extend(org_fields(user.auth.org.as_ref()).map(|(k, v)| (k.to_owned(), v)));
    }
    Json(body)
}

async fn org(org: ActiveOrg) -> Json<Value> {
    Json(Value::Object(
        org_fields(Some(org.org()))
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    ))
}

async fn org_admin(auth: RequireRole<OrgAdmin>) -> Json<Value> {
    Json(json!({ "ok": true, "org_id": auth.org_id(), "required_role": "org:admin" }))
}

async fn machine(auth: clerk_axum::MachineAuth<clerk_axum::machine::ApiKeysOrM2m>) -> Json<Value> {
    Json(json!({
        "token_type": auth.token_type().as_str(),
        "subject": auth.subject(),
        "scopes": auth.scopes(),
    }))
}

async fn org_reports(auth: RequirePermission<ReadReports>) -> Json<Value> {
    Json(json!({
        "ok": true,
        "org_id": auth.org_id(),
        "required_permission": "org:reports:read",
        "reports": [],
    }))
}
