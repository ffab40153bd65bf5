//! Sans-IO core of the Clerk toolkit for Rust.
//!
//! `clerk-core` verifies [Clerk](https://clerk.com) session tokens and holds everything the
//! framework adapters (`clerk-axum`, `clerk-rocket`), the webhook processor and the CLI share:
//!
//! - [`ClerkConfig`]: the `CLERK_*` settings of the Django package `django-clerk-users`, loaded
//!   through a lookup function and validated with messages that name the setting.
//! - [`verify`]: the pure verifier — size limit, structure, algorithm allow-list, signature,
//!   token type, then claims (`exp`/`nbf`/`iat` with skew, issuer, authorized parties,
//!   audience, pending sessions) — with Clerk's own error reasons ([`verify::Reason`]).
//! - [`Auth`]: claims v1 and v2 normalized into one value (roles `org:`-prefixed, v2
//!   permissions expanded from their bitmasks, of any width).
//! - [`jwks`] and [`http`]: the JWKS request builder and response parser, and the one small
//!   [`HttpClient`] trait all remote calls go through.
//! - [`backend_api`]: the Backend API (users, organizations, memberships, invitations) as
//!   pure request builders and response parsers, a pure [`backend_api::RetryPolicy`], and
//!   the thin async caller [`backend_api::BackendApi`] with its [`backend_api::Pager`].
//! - [`model`] and [`store`]: the local mirror's data model (users, organizations,
//!   memberships, invitations, the webhook ledger, revoked sessions) and the small storage
//!   traits every backend implements, with their rules; the `conformance` feature adds the
//!   suite every backend passes.
//! - [`provision`]: the signed-in user's stored row, fetched from the Backend API and stored
//!   when missing (just-in-time provisioning): the one lookup behind the adapters' stored-user
//!   extractors and guards.
//! - [`authz`]: the organization role and permission markers ([`role!`], [`permission!`])
//!   the adapters' `RequireRole` / `RequirePermission` name.
//! - [`rejection`]: the HTTP answer (status, `WWW-Authenticate`, JSON body) to each way a
//!   request can be refused, which both adapters' `ClerkRejection` map onto.
//! - [`machine`]: machine credentials (API keys, M2M tokens, OAuth tokens): Clerk's
//!   classification, the verify endpoints, the JWT forms and the [`machine::MachineVerifier`].
//! - [`Authenticator`]: the async driver — JWKS cache with single-flight, rate-limited
//!   refresh and bounded stale-if-error, networkless PEM mode, and a bounded verified-token
//!   cache.
//!
//! Pure functions take `now` as an argument; only the [`Authenticator`] holds a
//! [`time::Clock`]. With default features this crate pulls in no async runtime, no HTTP client
//! and no framework; the `reqwest` feature adds [`reqwest_client::ReqwestClient`].
//!
//! # Quick start
//!
//! Networkless verification with the PEM key from the Clerk dashboard (`CLERK_JWT_KEY`). This
//! runs against a real token from Clerk's own SDK tests, at the instant it was valid:
//!
//! ```
//! use clerk_core::{AuthDecision, Authenticator, ClerkConfig};
//! use clerk_core::time::{Clock, UnixTime};
//!
//! # const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqYy3MY8fOneEyzNDu9lp\n6iGXKkNUF+u/dUnrlkadZYyB35efzKFJEr9fftmWv5PUj1uRHTQ3bh6X1cceOYsI\njy008dHWZJsKhGOxgdTjeK91rjaklxt7tyFXEiKHIOr1LSgKzopClOfCIjxK/oPU\nOf38pVh7WnekcSBQmU5fqA+EzKMi6k9VwvbzqKlZM4XQsiFyn28d9VubJWjTU8nN\not0n1NE+9k6TxM8nglM4RwkBH4Ni4B0LhKKOOV+AG8tBNiZVil415dpBldmJ/j0w\nk7Ad4VFi9en3Z17oCKr+K+zuT7vKMKSb1548dk0vnmi0vj2QGXSo+61wM5yQWpk6\nsQIDAQAB\n-----END PUBLIC KEY-----";
//! # const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc18yR0lvUWhiVXB5MGhYN0IyY1ZrdVRNaW5Yb0QiLCJ0eXAiOiJKV1QifQ.eyJhenAiOiJodHRwczovL2FjY291bnRzLmluc3BpcmVkLnB1bWEtNzQubGNsLmRldiIsImV4cCI6MTY2NjY0ODMxMCwiaWF0IjoxNjY2NjQ4MjUwLCJpc3MiOiJodHRwczovL2NsZXJrLmluc3BpcmVkLnB1bWEtNzQubGNsLmRldiIsIm5iZiI6MTY2NjY0ODI0MCwic2lkIjoic2Vzc18yR2JEQjRlbk5kQ2E1dlMxenBDM1h6Zzl0SzkiLCJzdWIiOiJ1c2VyXzJHSXBYT0VwVnlKdzUxcmtabjlLbW5jNlN4ciJ9.j3rB92k32WqbQDkFB093H4GoQsBVLH4HLGF6ObcwUaVGiHC8SEu6T31FuPf257SL8A5sSGtWWM1fqhQpdLohgZb_hbJswGBuYI-Clxl9BtpIRHbWFZkLBIj8yS9W9aVtD3fWBbF6PHx7BY1udio-rbGWg1YAOZNtVcxF02p-MvX-8XIK92Vwu3Un5zyfCoVIg__qo3Xntzw3tznsZ4XDe212c6kVz1R_L1d5DKjeWXpjUPAS_zFeZSIJEQLf4JNr4JCY38tfdnc3ajfDA3p36saf1XwmTdWXQKCXi75c2TJAXROs3Pgqr5Kw_5clygoFuxN5OEMhFWFSnvIBdi3M6w";
//! struct FixedClock(UnixTime);
//! impl Clock for FixedClock {
//!     fn now(&self) -> UnixTime { self.0 }
//! }
//!
//! let config = ClerkConfig::builder()
//!     .jwt_key(PEM)
//!     .publishable_key("pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA")
//!     .frontend_host("https://accounts.inspired.puma-74.lcl.dev")
//!     .build()?;
//! let authenticator = Authenticator::builder(config)
//!     .clock(FixedClock(UnixTime::from_secs(1_666_648_260)))
//!     .build()?;
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert("authorization", format!("Bearer {TOKEN}").parse()?);
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! match runtime.block_on(authenticator.authenticate(&headers)) {
//!     AuthDecision::SignedIn(auth) => assert_eq!(auth.user_id, "user_2GIpXOEpVyJw51rkZn9Kmnc6Sxr"),
//!     other => panic!("expected a session, got {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With a secret key instead, the authenticator fetches `GET {CLERK_API_URL}/v1/jwks`
//! through an [`HttpClient`] (reqwest with the `reqwest` feature, or your own).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod authz;
pub mod backend_api;
pub mod cache;
mod claims;
pub mod config;
mod driver;
pub mod extract;
pub mod flow;
pub mod http;
pub mod jwks;
pub mod keys;
#[cfg(feature = "password")]
pub mod login_gate;
pub mod login_throttle;
pub mod machine;
pub mod model;
#[cfg(feature = "password")]
pub mod password;
pub mod provision;
pub mod publishable_key;
pub mod rejection;
#[cfg(feature = "reqwest")]
pub mod reqwest_client;
pub mod secret;
pub mod session;
pub mod store;
pub mod time;
pub mod verify;

pub use auth::{ActiveOrganization, Actor, Auth, Check};
pub use config::{ClerkConfig, ClerkConfigBuilder, ConfigError};
#[cfg(feature = "reqwest")]
pub use driver::TokioSpawner;
pub use driver::{
    AuthDecision, AuthError, Authenticator, AuthenticatorBuilder, BuildError, JwksPolicy,
    Rejection, Spawn, DEFAULT_TOKEN_CACHE_CAPACITY,
};
pub use http::{HttpClient, HttpError};
pub use model::{
    ClerkInvitationData, ClerkMembershipData, ClerkOrganizationData, ClerkUserData, Invitation,
    InvitationStatus, Membership, Organization, RevokedSession, User, UserId, WebhookEvent,
};
pub use store::{
    BatchOutcome, Change, Effect, LedgerStore, LoginAttemptStore, OrganizationStore, Store,
    StoreError, StoreWriter, UserStore, WriteBatch,
};
pub use verify::{Reason, TokenError};
