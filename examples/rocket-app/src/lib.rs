//! The example Rocket application of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications): the same public contract as
//! `examples/axum-app`, answered with `clerk-rocket` (one black-box suite drives both).
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
//! | `POST /webhooks/clerk` | [design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks) ([`clerk_rocket::webhook`]); 503 when `CLERK_WEBHOOK_SIGNING_KEY` is unset |
//! | `GET /admin` | a staff session: 200 HTML, the users (email, Clerk id, name, active) and organizations (name, slug, members); otherwise (a Clerk token or Clerk session included) 303 `Location: /admin/login` |
//! | `GET /admin/login` | 200 HTML login form (`username`, `password`) |
//! | `POST /admin/login` | form-urlencoded; staff credentials: 303 `Location: /admin` + session cookie (HttpOnly, SameSite=Lax); refused (unknown, wrong password, not staff, inactive): 401 HTML with the form and "Invalid username or password."; an unreadable form: 400 |
//! | `POST /admin/logout` | 303 `Location: /admin/login`, the session ended |
//! | `GET /admin/users/{clerk_id}` | staff: 200 HTML, the mirror's view of the user (banned, locked, may sign in) and buttons to ban, unban or revoke every session; otherwise 303 to the login page |
//! | `GET /admin/users/{clerk_id}/{ban,unban,revoke-sessions}` | staff: 200 HTML confirmation step (one button posting `confirm={action}`) |
//! | `POST /admin/users/{clerk_id}/{action}` | staff with `confirm={action}`: the Backend API call (`POST /v1/users/{id}/ban`, `/unban`, or each active session's `/revoke`), then 303 to the user page, which shows the change once Clerk's webhook reaches the mirror; unconfirmed 400, cross-site 403, not a Clerk user id or an unknown action 404, Clerk refusing 502: nothing sent or changed |
//! | `POST /admin/login` or `/admin/logout` sent by a browser from another site (`Sec-Fetch-Site`, else `Origin`) | 403 HTML, nothing changed (login CSRF, forced logout) |
//! | anything else | 404 with an empty body (as Axum answers) |
//!
//! Configuration ([`AppConfig::from_env`]): the `CLERK_*` settings of [design §7](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#7-configuration), `DATABASE_URL`
//! (default [`DEFAULT_DATABASE_URL`], a SQLite file `clerk-app.db` in the working directory;
//! `postgres://…` selects PostgreSQL) and `BIND` (default [`DEFAULT_BIND`], mapped onto
//! Rocket's `address` and `port`). The `CLERK_*` settings reach [`ClerkFairing`] through the
//! `clerk` section of Rocket's figment, so `Rocket.toml` / `ROCKET_*` work too; the
//! environment wins. The schema is migrated at start. `REDIS_URL` (optional): user and
//! organization lookups are cached in Redis; without it in process memory
//! (`CLERK_CACHE_TIMEOUT` / `CLERK_ORG_CACHE_TIMEOUT`), as in axum-app.
//!
//! Session mode is on (clerk-rocket's sessions): browsers that send Clerk's `__session`
//! cookie get a server-side session revalidated every `CLERK_SESSION_REVALIDATION_SECONDS`
//! and ended at the next request by a `session.revoked` webhook or a ban; bearer-header API
//! clients stay stateless (`establish_sessions_from_header(false)`). Session records live in
//! the database (`clerk_sessions`, the same `DATABASE_URL`), or in Redis when `REDIS_URL` is
//! set ([`open_stores`]), as in axum-app: every instance serves every session and a restart
//! signs no one out. Tests may pass a `clerk_rocket::session::MemorySessionStore` instead
//! (one process only). `/admin` is hybrid mode:
//! local staff (created with `clerk createsuperuser`) sign in with username and password; the
//! pages come from `examples/admin-pages`, shared with axum-app.
//!
//! Tests drive the app in process: [`AppConfig::from_lookup`], [`rocket()`] and
//! `rocket::local::asynchronous::Client`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;

use std::net::SocketAddr;
use std::sync::Arc;

use clerk_core::store::{Store, StoreError};
use clerk_core::{ActiveOrganization, ClerkConfig};
use clerk_rocket::{
    ActiveOrg, ClerkFairing, ClerkUser, OptionalClerkAuth, RequirePermission, RequireRole,
};
use rocket::figment::Figment;
use rocket::serde::json::Json;
use rocket::{catch, catchers, get, routes, Build, Request, Rocket};
use serde_json::{json, Value};

clerk_rocket::role!(
    /// The role `/api/org/admin` requires.
    pub OrgAdmin = "org:admin"
);
clerk_rocket::permission!(
    /// The permission `/api/org/reports` requires.
    pub ReadReports = "org:reports:read"
);

/// `DATABASE_URL` when unset: the SQLite file `clerk-app.db` in the working directory,
/// created when missing (the same as axum-app and the `clerk` command).
pub const DEFAULT_DATABASE_URL: &str = clerk_store::DEFAULT_DATABASE_URL;

/// `BIND` when unset.
pub const DEFAULT_BIND: &str = "127.0.0.1:3000";

/// The application's settings. `Debug` redacts the secrets and the passwords in URLs.
#[derive(Clone)]
pub struct AppConfig {
    /// The Clerk settings, validated ([design §7](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#7-configuration)); the fairing validates them again at ignite
    /// from the figment this config builds.
    pub clerk: ClerkConfig,
    /// The `CLERK_*` settings as given, for the figment's `clerk` section.
    clerk_settings: Vec<(&'static str, String)>,
    /// `DATABASE_URL`: `sqlite:…` or `postgres://…` (also `postgresql://…`).
    pub database_url: String,
    /// `REDIS_URL`: the cache of user and organization lookups; in process memory when unset.
    pub redis_url: Option<String>,
    /// `BIND`: the address to listen on.
    pub bind: SocketAddr,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clerk_core::secret::redact_url;
        let mut out = f.debug_struct("AppConfig");
        out.field("clerk", &self.clerk);
        // Only the names of the `CLERK_*` settings given: their values include the secret key.
        let names: Vec<&str> = self.clerk_settings.iter().map(|(name, _)| *name).collect();
        out.field("clerk_settings", &names);
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
        let clerk_settings = clerk_rocket::settings::SETTINGS
            .iter()
            .filter_map(|name| lookup(name).map(|value| (*name, value)))
            .collect();
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = set("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let redis_url = set("REDIS_URL").map(|url| url.trim().to_owned());
        let bind_text = set("BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind = bind_text.trim().parse().map_err(|_| AppError::Setting {
            name: "BIND",
            expected: "an address and port such as 127.0.0.1:3000",
        })?;
        Ok(AppConfig {
            clerk,
            clerk_settings,
            database_url,
            redis_url,
            bind,
        })
    }

    /// Rocket's figment (`Rocket.toml`, `ROCKET_*`) with `BIND` as `address`/`port` and the
    /// `CLERK_*` settings in the `clerk` section.
    #[must_use]
    pub fn figment(&self) -> Figment {
        let mut figment = rocket::Config::figment()
            .merge(("address", self.bind.ip()))
            .merge(("port", self.bind.port()));
        for (name, value) in &self.clerk_settings {
            // The short lower-case key, so a `Rocket.toml` spelling of it is overridden, not
            // duplicated.
            let key = name.trim_start_matches("CLERK_").to_ascii_lowercase();
            figment = figment.merge((format!("clerk.{key}"), value.as_str()));
        }
        figment
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
    /// The database, the cache or the session store could not be opened (`DATABASE_URL`,
    /// `REDIS_URL`).
    #[error(transparent)]
    Stores(#[from] clerk_store::OpenStoresError),
    /// Rocket could not launch (the Clerk fairing's reason is in the log).
    #[error("Rocket failed to launch: {0}")]
    Launch(String),
}

/// Opens the store `database_url` names (`postgres://` or `postgresql://`: PostgreSQL;
/// anything else: SQLite) and migrates it (the same rule as axum-app and the `clerk` command).
///
/// # Errors
/// The store's error (unreachable database, invalid URL, failed migration).
pub async fn open_store(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
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

/// The Rocket of [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) over `stores` ([`open_stores`]: the mirror and
/// the session store), configured by `config` (the fairing reads the `CLERK_*` settings from
/// the figment only, not from the process environment).
#[must_use]
pub fn rocket(config: &AppConfig, stores: AppStores) -> Rocket<Build> {
    let fairing = ClerkFairing::new()
        .store(stores.store)
        .sessions(stores.sessions)
        .establish_sessions_from_header(false);
    rocket_with(config.figment(), fairing)
}

/// [`rocket()`] with a hand-made figment and fairing (tests: a clock, an HTTP client).
#[must_use]
pub fn rocket_with(figment: Figment, fairing: ClerkFairing) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(fairing.ignore_environment())
        .register("/", clerk_rocket::catchers())
        .register("/", catchers![not_found])
        .mount(
            "/",
            routes![healthz, public, me, org, org_admin, org_reports, machine],
        )
        .mount("/", admin::routes())
        .attach(admin::security_headers())
        .mount("/webhooks/clerk", clerk_rocket::webhook::routes())
}

/// Opens and migrates the database (behind its cache, with the session store), then launches on `config.bind` until Ctrl-C.
///
/// # Errors
/// [`AppError`] when start-up fails.
pub async fn run(config: AppConfig) -> Result<(), AppError> {
    let stores = open_stores(&config).await?;
    let rocket = rocket(&config, stores);
    tracing::info!(addr = %config.bind, "rocket-app launching");
    rocket
        .launch()
        .await
        .map(|_| ())
        .map_err(|error| AppError::Launch(error.to_string()))
}

/// Axum answers an unknown path with an empty 404; so does this app.
#[catch(404)]
fn not_found(_request: &Request<'_>) {}

#[get("/healthz")]
fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[get("/api/public")]
fn public(auth: OptionalClerkAuth) -> Json<Value> {
    let user_id = auth.as_ref().map(|auth| auth.user_id.clone());
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

#[get("/api/me")]
fn me(user: ClerkUser) -> Json<Value> {
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

#[get("/api/org")]
fn org(org: ActiveOrg) -> Json<Value> {
    Json(Value::Object(
        org_fields(Some(org.org()))
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    ))
}

#[get("/api/org/admin")]
fn org_admin(auth: RequireRole<OrgAdmin>) -> Json<Value> {
    Json(json!({ "ok": true, "org_id": auth.org_id(), "required_role": "org:admin" }))
}

#[get("/api/machine")]
fn machine(auth: clerk_rocket::MachineAuth<clerk_rocket::machine::ApiKeysOrM2m>) -> Json<Value> {
    Json(json!({
        "token_type": auth.token_type().as_str(),
        "subject": auth.subject(),
        "scopes": auth.scopes(),
    }))
}

#[get("/api/org/reports")]
fn org_reports(auth: RequirePermission<ReadReports>) -> Json<Value> {
    Json(json!({
        "ok": true,
        "org_id": auth.org_id(),
        "required_permission": "org:reports:read",
        "reports": [],
    }))
}
