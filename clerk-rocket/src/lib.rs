//! Clerk authentication for [Rocket](https://rocket.rs) 0.5.
//!
//! `clerk-rocket` is a thin adapter over [`clerk_core`], the twin of `clerk-axum`: all
//! verification (JWKS, signature, claims, caches) happens in [`clerk_core::Authenticator`],
//! and every per-request decision (what a guard requires, session mode, the staff login, the
//! rejection bodies, how the parts are wired from the settings) in [`clerk_core::flow`],
//! shared with the Axum adapter; this crate is the Rocket glue: the fairing, guards,
//! sentinels, responders and catchers, answering exactly as clerk-axum does.
//!
//! - [`ClerkFairing`]: at ignite, reads the `clerk` section of Rocket's configuration merged
//!   with the `CLERK_*` environment ([`settings`]), validates it (a bad setting stops the
//!   launch with a message naming it), builds the [`Authenticator`](clerk_core::Authenticator)
//!   — and, given a store, the stored-user lookup and the webhook processor — and manages
//!   them as [`ClerkState`].
//! - Request guards, which authenticate on first use and cache the decision in the request's
//!   local cache (any number of them cost one verification):
//!   - [`ClerkAuth`]: a signed-in session; [`OptionalClerkAuth`] where signing in is
//!     optional (`None` when signed out or the token was rejected, 503 when no key can be
//!     had — Rocket's own `Option<ClerkAuth>` would hide that outage as `None`).
//!   - [`ClerkUser`]: the stored user, provisioned just in time ([`user`]).
//!   - [`ActiveOrg`]: the session's active organization.
//!   - [`RequireRole<R>`] / [`RequirePermission<P>`]: an organization role or permission,
//!     named by marker types declared with [`role!`] and [`permission!`].
//!   - [`RequireFeature<F>`] / [`RequirePlan<P>`] / [`RequireReverification<R>`] /
//!     [`NotImpersonated`]: a Clerk feature or plan ([`feature!`], [`plan!`]), a recent
//!     reverification (the presets [`StrictMfa`], [`Strict`], [`Moderate`], [`Lax`], or
//!     [`reverification!`]), a session that is not an impersonation; all [`Require<Q>`] over
//!     clerk-core's [`Requirement`]s, decided with Clerk's `has()` semantics (403 otherwise;
//!     a stale reverification answers Clerk's `reverification-error` body).
//!   - [`AuthState`]: the raw decision.
//!   - [`MachineAuth<A>`] / [`RequireScope<A, S>`] ([`machine`]): an API key, M2M token or
//!     OAuth token (or, with `AnyToken`, a session) from `Authorization: Bearer`, of a kind
//!     the marker `A` accepts, verified as Clerk's SDK verifies it (design §11).
//! - A [`Sentinel`](rocket::Sentinel) on every guard: a route using one aborts the launch
//!   when [`ClerkFairing`] is not attached ([`ClerkUser`]: or was given no store).
//! - [`ClerkRejection`]: every refusal, a [`Responder`](rocket::response::Responder); the
//!   [`catchers`] render a failed guard's rejection on Rocket's error path:
//!
//! | situation | status | body |
//! |-----------|--------|------|
//! | no token | 401, `WWW-Authenticate: Bearer` | `{"error":"unauthenticated","reason":"session-token-missing"}` |
//! | bad token or malformed `Authorization` header | 401, `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":<Clerk's reason>}` |
//! | no signing key can be had | 503 | `{"error":"service_unavailable","reason":"jwk-failed-to-load"}` |
//! | no active organization ([`ActiveOrg`]) | 403 | `{"error":"no_active_organization"}` |
//! | wrong role | 403 | `{"error":"forbidden","reason":"missing_role","required":"org:admin"}` |
//! | missing permission | 403 | `{"error":"forbidden","reason":"missing_permission","required":"org:reports:read"}` |
//!
//! - [`webhook::routes`]: `POST` for the webhook processor with the [design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks) statuses (200
//!   applied/already processed/ignored, 400, 405, 413 over 1 MiB, 503 when the store failed).
//!
//! - [`session`]: session mode ("validate once, cache in session", [design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)) under
//!   clerk-core's pure `RevalidationPolicy`, with a server-side [`SessionStore`](session::SessionStore)
//!   behind an opaque HttpOnly, SameSite=Lax cookie ([`ClerkFairing::sessions`]); and, with
//!   the `hybrid` feature, local staff logins (`session::staff`: `StaffSession`,
//!   `LocalStaff`) that Clerk tokens never open.
//!
//! # Features
//!
//! - `reqwest` (default): clerk-core's reqwest client for JWKS fetches and the Backend API.
//!   Without it, give the fairing an [`HttpClient`](clerk_core::HttpClient) or use
//!   networkless PEM mode (`CLERK_JWT_KEY`); just-in-time provisioning needs the feature.
//! - `hybrid`: local staff logins (argon2 through clerk-core's `password` feature).
//!
//! # Differences from `clerk-axum`, and why
//!
//! - [`OptionalClerkAuth`] instead of `Option<ClerkAuth>`: Rocket's `Option<T>` guard maps
//!   every failure to `None` and cannot be overridden.
//! - Guards authenticate lazily (the first one that needs it) and cache per request; Axum's
//!   layer authenticates every request it wraps. Routes without a guard never verify.
//! - A missing fairing is caught at launch by the sentinels, not answered with a 500.
//! - Failed guards reach the client through Rocket's catchers: register [`catchers`], or
//!   Rocket's default HTML error pages answer instead of the JSON bodies.
//!
//! # Quick start
//!
//! In an application the settings come from `Rocket.toml`'s `[default.clerk]` table or the
//! environment (`CLERK_SECRET_KEY`, `CLERK_PUBLISHABLE_KEY`, `CLERK_FRONTEND_HOSTS`, …). Here
//! they are put in the figment by hand and keys come from the test kit's offline JWKS, so the
//! example runs without a network:
//!
//! ```
//! use clerk_rocket::{ActiveOrg, ClerkAuth, ClerkFairing, OptionalClerkAuth, RequireRole};
//! use rocket::serde::json::Json;
//! use rocket::{get, routes};
//! use serde_json::{json, Value};
//!
//! clerk_rocket::role!(OrgAdmin = "org:admin");
//!
//! #[get("/api/public")]
//! fn public(auth: OptionalClerkAuth) -> Json<Value> {
//!     let user_id = auth.as_ref().map(|auth| auth.user_id.clone());
//!     Json(json!({ "signed_in": user_id.is_some(), "user_id": user_id }))
//! }
//!
//! #[get("/api/me")]
//! fn me(auth: ClerkAuth) -> Json<Value> {
//!     Json(json!({ "clerk_id": auth.user_id, "session_id": auth.session_id }))
//! }
//!
//! #[get("/api/org")]
//! fn org(org: ActiveOrg) -> Json<Value> {
//!     Json(json!({ "org_id": org.id, "org_role": org.role }))
//! }
//!
//! #[get("/api/org/admin")]
//! fn admin(_admin: RequireRole<OrgAdmin>) -> &'static str {
//!     "admin"
//! }
//!
//! # #[rocket::main]
//! # async fn main() {
//! use clerk_testkit::{mint, offline, TestKeyPair, TokenBuilder};
//! use rocket::http::{Header, Status};
//! use rocket::local::asynchronous::Client;
//! use std::sync::Arc;
//!
//! let key = TestKeyPair::fixed(0);
//! let figment = rocket::Config::figment()
//!     .merge(("clerk.secret_key", "sk_test_quickstart"))
//!     .merge(("clerk.publishable_key", mint::publishable_key_for(mint::DEFAULT_FRONTEND_HOST, false)))
//!     .merge(("clerk.frontend_hosts", [mint::DEFAULT_AUTHORIZED_PARTY]));
//! let rocket = rocket::custom(figment)
//!     .attach(ClerkFairing::new().http_client(Arc::new(offline::jwks_client(&[&key]))))
//!     .register("/", clerk_rocket::catchers())
//!     .mount("/", routes![public, me, org, admin]);
//! let client = Client::tracked(rocket).await.expect("valid settings");
//!
//! let token = TokenBuilder::v2(&key).subject("user_1").sign();
//! let response = client
//!     .get("/api/me")
//!     .header(Header::new("Authorization", format!("Bearer {token}")))
//!     .dispatch()
//!     .await;
//! assert_eq!(response.status(), Status::Ok);
//!
//! let response = client.get("/api/me").dispatch().await;
//! assert_eq!(response.status(), Status::Unauthorized);
//! assert_eq!(response.headers().get_one("WWW-Authenticate"), Some("Bearer"));
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod fairing;
mod guard;
pub mod machine;
mod rejection;
pub mod session;
pub mod settings;
pub mod user;
pub mod webhook;

pub use clerk_core::authz::{
    FeatureName, Lax, Moderate, PermissionName, PlanName, Requirement, ReverificationPolicy,
    RoleName, Strict, StrictMfa,
};
pub use clerk_core::provision::UserProvisioning;
pub use clerk_core::{feature, permission, plan, reverification, role};
pub use clerk_core::{ActiveOrganization, Auth};
pub use fairing::{ClerkFairing, ClerkState, FairingError, Processor};
pub use guard::{
    ActiveOrg, ClerkAuth, NotImpersonated, OptionalClerkAuth, Require, RequireFeature,
    RequirePermission, RequirePlan, RequireReverification, RequireRole,
};
pub use machine::{MachineAuth, RequireScope};
pub use rejection::{
    catchers, stashed_rejection, AuthState, ClerkRejection, ClerkUser, Refusal,
    FAIRING_MISSING_MESSAGE, SESSION_MODE_MISSING_MESSAGE, SESSION_TOKEN_MISSING,
    STORE_MISSING_MESSAGE,
};
