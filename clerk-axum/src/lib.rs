//! Clerk authentication for [Axum](https://docs.rs/axum) 0.8.
//!
//! `clerk-axum` is a thin adapter over [`clerk_core`]: all verification (JWKS, signature,
//! claims, caches) happens in [`clerk_core::Authenticator`], and every per-request decision
//! (what a route requires, session mode, the staff login, the rejection bodies) in
//! [`clerk_core::flow`], shared with clerk-rocket; this crate is the Axum glue: a layer,
//! `FromRequestParts` impls and `IntoResponse`.
//!
//! - [`Clerk::builder`]: the one-liner. From the settings and a store it wires the
//!   authenticator, the Backend API, just-in-time provisioning, the webhook processor and,
//!   when asked, session mode; [`Clerk::install`] mounts `POST /webhooks/clerk` and wraps the
//!   routes in the layers, in the order they need. A missing piece is a start-up error, never
//!   a 500.
//! - [`ClerkLayer`] / [`ClerkService`]: a `tower` layer that authenticates every request it
//!   wraps (the `Authorization: Bearer` header, else the `__session` cookie) and stores the
//!   [`AuthState`] in the request's extensions. It never answers by itself.
//! - Extractors, which only read that state (any number of them cost one verification):
//!   - [`ClerkAuth`]: a signed-in session (the verified [`Auth`]); `Option<ClerkAuth>` for
//!     routes where signing in is optional.
//!   - [`ActiveOrg`]: the session's active organization.
//!   - [`RequireRole<R>`] / [`RequirePermission<P>`]: an organization role or permission,
//!     named by marker types declared with [`role!`] and [`permission!`].
//!   - [`RequireFeature<F>`] / [`RequirePlan<P>`] / [`RequireReverification<R>`] /
//!     [`NotImpersonated`]: a Clerk feature or plan ([`feature!`], [`plan!`]), a recent
//!     reverification (the presets [`StrictMfa`], [`Strict`], [`Moderate`], [`Lax`], or
//!     [`reverification!`]), a session that is not an impersonation; all [`Require<Q>`] over
//!     clerk-core's [`Requirement`]s, decided with Clerk's `has()` semantics.
//!   - [`AuthState`]: the raw decision, for handlers that answer each case themselves.
//!   - [`MachineAuth<A>`] / [`RequireScope<A, S>`] ([`machine`]): an API key, M2M token or
//!     OAuth token (or, with `AnyToken`, a session) from `Authorization: Bearer`, of a kind
//!     the marker `A` accepts, verified as Clerk's SDK verifies it (design §11).
//! - [`middleware`]: the same requirements as route guards for
//!   [`Router::route_layer`](axum::Router::route_layer), to protect groups of routes through
//!   Axum's own routing. There are no path lists.
//! - [`ClerkRejection`]: clerk-core's one [`Refusal`] type as an
//!   [`IntoResponse`](axum::response::IntoResponse) with a JSON body:
//!
//! | situation | status | body |
//! |-----------|--------|------|
//! | no token | 401, `WWW-Authenticate: Bearer` | `{"error":"unauthenticated","reason":"session-token-missing"}` |
//! | bad token or malformed `Authorization` header | 401, `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":<Clerk's reason>}` |
//! | no signing key can be had | 503 | `{"error":"service_unavailable","reason":"jwk-failed-to-load"}` |
//! | no active organization ([`ActiveOrg`]) | 403 | `{"error":"no_active_organization"}` |
//! | wrong role | 403 | `{"error":"forbidden","reason":"missing_role","required":"org:admin"}` |
//! | missing permission | 403 | `{"error":"forbidden","reason":"missing_permission","required":"org:reports:read"}` |
//! | missing feature / plan | 403 | `{"error":"forbidden","reason":"missing_feature","required":"o:dashboard"}` (`missing_plan` alike) |
//! | reverification too old ([`RequireReverification`]) | 403 | Clerk's `{"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":…}}}`, which Clerk's frontend SDK answers by asking the user to verify again |
//! | impersonated session ([`NotImpersonated`]) | 403 | `{"error":"forbidden","reason":"impersonation_not_allowed"}` |
//! | extractor without [`ClerkLayer`] | 500 | `{"error":"internal_error","reason":"clerk-layer-missing","message":"ClerkLayer is not installed on this route"}` |
//!
//! Clerk's reasons are the names of [`clerk_core::Reason`] (`token-expired`,
//! `token-invalid-signature`, `token-invalid`, …). [`RequireRole`] and [`RequirePermission`]
//! answer 403 (not `no_active_organization`) for a session without an organization: it lacks
//! the role as surely as a member with another one.
//!
//! `Option<ClerkAuth>` is `None` for a request without a token *and* for one whose token was
//! rejected (it is served as anonymous); when no signing key can be had it still answers 503,
//! so an outage is never mistaken for a signed-out user.
//!
//! # Features
//!
//! - `reqwest` (default): clerk-core's reqwest [`HttpClient`](clerk_core::HttpClient) for
//!   JWKS fetches, and [`ClerkLayer::from_env`]. Without it, give the
//!   [`Authenticator`](clerk_core::Authenticator) your own client or use networkless PEM mode
//!   (`CLERK_JWT_KEY`).
//! - `sessions`: session mode (`ClerkLayer::with_sessions`, the `session` module) with
//!   tower-sessions, and hybrid mode's `session::LocalStaff`.
//! - `hybrid` (implies `sessions`): `session::StaffSession::login`,
//!   checking local staff passwords with argon2 (clerk-core's `password` feature).
//!
//! # Quick start
//!
//! In an application, `ClerkLayer::from_env()?` reads `CLERK_SECRET_KEY`,
//! `CLERK_PUBLISHABLE_KEY`, `CLERK_FRONTEND_HOSTS` and the other settings. Here the
//! authenticator is built by hand with the test kit's offline JWKS, so the example runs
//! without a network:
//!
//! ```
//! use axum::{middleware::from_fn, routing::get, Json, Router};
//! use clerk_axum::middleware::require_role;
//! use clerk_axum::{ActiveOrg, ClerkAuth, ClerkLayer, RequirePermission};
//! use clerk_core::{Authenticator, ClerkConfig};
//! use serde_json::{json, Value};
//!
//! clerk_axum::role!(OrgAdmin = "org:admin");
//! clerk_axum::permission!(ReadReports = "org:reports:read");
//!
//! async fn public(auth: Option<ClerkAuth>) -> Json<Value> {
//!     let user_id = auth.as_ref().map(|auth| auth.user_id.clone());
//!     Json(json!({ "signed_in": user_id.is_some(), "user_id": user_id }))
//! }
//!
//! async fn me(auth: ClerkAuth) -> Json<Value> {
//!     Json(json!({ "clerk_id": auth.user_id, "session_id": auth.session_id }))
//! }
//!
//! async fn org(org: ActiveOrg) -> Json<Value> {
//!     Json(json!({ "org_id": org.id, "org_role": org.role }))
//! }
//!
//! async fn reports(auth: RequirePermission<ReadReports>) -> String {
//!     format!("reports for {}", auth.user_id)
//! }
//!
//! fn app(layer: ClerkLayer) -> Router {
//!     // Everything under /api/org/admin requires org:admin, through Axum's routing.
//!     let admin = Router::new()
//!         .route("/", get(|| async { "admin" }))
//!         .route_layer(from_fn(require_role::<OrgAdmin>));
//!     Router::new()
//!         .route("/healthz", get(|| async { "ok" }))
//!         .route("/api/public", get(public))
//!         .route("/api/me", get(me))
//!         .route("/api/org", get(org))
//!         .route("/api/org/reports", get(reports))
//!         .nest("/api/org/admin", admin)
//!         .layer(layer) // authenticate once per request, for every route
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use clerk_testkit::{mint, offline, TestKeyPair, TokenBuilder};
//! use tower::ServiceExt;
//!
//! let key = TestKeyPair::fixed(0);
//! let config = ClerkConfig::builder()
//!     .secret_key("sk_test_quickstart")
//!     .publishable_key(mint::publishable_key_for(mint::DEFAULT_FRONTEND_HOST, false))
//!     .frontend_host(mint::DEFAULT_AUTHORIZED_PARTY)
//!     .build()?;
//! let authenticator = Authenticator::builder(config)
//!     .http_client(offline::jwks_client(&[&key]))
//!     .build()?;
//! let app = app(ClerkLayer::new(authenticator));
//!
//! let token = TokenBuilder::v2(&key).subject("user_1").sign();
//! let request = axum::http::Request::get("/api/me")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())?;
//! let response = app.clone().oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//!
//! let anonymous = axum::http::Request::get("/api/me").body(axum::body::Body::empty())?;
//! let response = app.oneshot(anonymous).await?;
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! # Ok(())
//! # }
//! ```
//!
//! # The stored user and webhooks
//!
//! - [`ClerkUser`]: the signed-in user's row in the local mirror, fetched from the Backend API
//!   and stored when missing (just-in-time provisioning). It reads a [`UserProvisioning`]
//!   (store + optional Backend API client) installed with `.layer(axum::Extension(..))`; see
//!   [`user`] for the lookup and its answers (401 `user-not-found`, 503 when the store or
//!   Clerk is down).
//! - [`webhook::route`]: `POST` for a [`WebhookProcessor`](clerk_webhooks::WebhookProcessor)
//!   with the [design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks) statuses (200 applied/already processed/ignored, 400, 405, 413 over
//!   1 MiB, 503 when the store failed).
//!
//! # Session mode and hybrid mode (features `sessions`, `hybrid`)
//!
//! Opt-in, with [tower-sessions](https://docs.rs/tower-sessions):
//! `ClerkLayer::with_sessions` remembers a verified token in the session and serves later
//! requests from it under clerk-core's pure
//! `RevalidationPolicy` ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)): a fresh token
//! is needed after `CLERK_SESSION_REVALIDATION_SECONDS` (else 401
//! `session-revalidation-required`), a token for another user or session replaces the session
//! under a new id, and a `session.revoked` webhook or a banned, deactivated or deleted user
//! ends it at the next request (the standing is read from the store on every request). The
//! extractors above work unchanged. In hybrid mode local staff log in with a username and
//! password (`session::StaffSession::login`, feature `hybrid`) into a session without the
//! Clerk marker, read with `session::LocalStaff`; a Clerk token never opens a local-only
//! route and a local login never satisfies [`ClerkAuth`]. See `session` for the rules and a
//! quick start:
//!
//! ```ignore
//! let app = Router::new()
//!     .route("/api/me", get(me))
//!     .layer(ClerkLayer::new(authenticator).with_sessions(SessionMode::new(store, policy)))
//!     .layer(clerk_axum::session::cookie_layer(tower_sessions::MemoryStore::default()));
//! ```
//!
//! | session-mode situation | status | body |
//! |---|---|---|
//! | revalidation due, no token | 401, `WWW-Authenticate: Bearer` | `{"error":"unauthenticated","reason":"session-revalidation-required"}` |
//! | session or user store down | 503 | `{"error":"service_unavailable","reason":"session-store-unavailable"}` / `"user-store-unavailable"` |
//! | no `SessionManagerLayer` around the layer | 500 | `{"error":"internal_error","reason":"session-layer-missing",…}` |
//! | `session::LocalStaff` without a staff login | 401 | `{"error":"unauthenticated","reason":"staff-login-required"}` |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod extract;
mod layer;
pub mod machine;
pub mod middleware;
mod rejection;
#[cfg(feature = "sessions")]
pub mod session;
pub mod user;
pub mod webhook;

pub use builder::{Clerk, ClerkBuildError, ClerkBuilder, Processor, DEFAULT_WEBHOOK_PATH};
pub use clerk_core::authz::{
    FeatureName, Lax, Moderate, PermissionName, PlanName, Requirement, ReverificationPolicy,
    RoleName, Strict, StrictMfa,
};
pub use clerk_core::{feature, permission, plan, reverification, role};
pub use clerk_core::{ActiveOrganization, Auth};
pub use extract::{
    ActiveOrg, ClerkAuth, NotImpersonated, Require, RequireFeature, RequirePermission, RequirePlan,
    RequireReverification, RequireRole,
};
#[cfg(feature = "reqwest")]
pub use layer::FromEnvError;
pub use layer::{ClerkFuture, ClerkLayer, ClerkService};
pub use machine::{MachineAuth, RequireScope};
pub use rejection::{
    AuthState, ClerkRejection, ClerkUser, Refusal, SessionDependency, UserDependency,
    LAYER_MISSING_MESSAGE, SESSION_LAYER_MISSING_MESSAGE, SESSION_TOKEN_MISSING,
    USER_PROVISIONING_MISSING_MESSAGE,
};
pub use user::UserProvisioning;
