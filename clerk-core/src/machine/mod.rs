//! Machine credentials on the request path: API keys (`ak_…`), machine-to-machine tokens
//! (`mt_…` opaque, or JWTs whose `sub` starts with `mch_`) and OAuth access tokens (`oat_…`,
//! or JWTs with `typ` `at+jwt`), decided as Clerk's `@clerk/backend` decides them
//! ([design §11](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#11-machine-authentication-and-writes-to-clerk)).
//!
//! - [`TokenType`], [`AcceptedTokens`] and the [`Accepts`] markers ([`ApiKeys`],
//!   [`M2mTokens`], [`OAuthTokens`], [`ApiKeysOrM2m`], [`AnyMachine`], [`AnyToken`]) name what
//!   a route accepts; [`classify`] is Clerk's `isMachineToken`/`getMachineTokenType`.
//! - [`verify_request`] / [`parse_verify_response`]: the three verify endpoints, pure.
//! - [`MachineJwt`] / [`verify_machine_jwt`]: the JWT forms, networkless, with Clerk's rules.
//! - [`MachineVerifier`]: the driver — single-flight per credential, a bounded cache
//!   ([`MachineCachePolicy`]: never past the credential's expiry; refusals briefly;
//!   [`MachineVerifier::forget`] for a revocation we hear of), and
//!   [`MachineVerifier::authenticate`], the accepted-set decision the adapters'
//!   `MachineAuth<A>` extractors and guards run.
//! - [`MachineError`]: refusals with Clerk's reasons (`token-type-mismatch`,
//!   `token-invalid`, `token-verification-failed`, …).
//!
//! Machine credentials are read from `Authorization: Bearer` only, never from a cookie.
//!
//! Clerk sends no webhook for API keys, M2M tokens or OAuth tokens (`@clerk/backend` 3.25.0's
//! `WebhookEventType` lists users, sessions, organizations, roles, billing and the like, no
//! machine credential), so a revocation made elsewhere is seen when the cached answer's bound
//! (60 s by default, `CLERK_MACHINE_CACHE_SECONDS`) runs out; a revocation this process makes
//! ends it at once through [`MachineVerifier::forget`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use clerk_core::machine::{AcceptedTokens, ApiKeysOrM2m, Accepts, MachineVerifier, TokenType};
//! use clerk_core::{Authenticator, ClerkConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A mock Backend API that knows one API key.
//! let http = |request: http::Request<Vec<u8>>| async move {
//!     assert_eq!(request.uri().path(), "/v1/api_keys/verify");
//!     let known = request.body().as_slice() == br#"{"secret":"ak_good"}"#;
//!     let (status, body) = if known {
//!         (200, r#"{"object":"api_key","id":"ak_1","type":"api_key","name":"ci","subject":"user_1",
//!                  "claims":null,"scopes":["read"],"revoked":false,"revocation_reason":null,
//!                  "expired":false,"expiration":null,"created_by":null,"last_used_at":null,
//!                  "created_at":1,"updated_at":1}"#)
//!     } else {
//!         (404, r#"{"errors":[{"message":"not found","long_message":"not found","code":"resource_not_found"}]}"#)
//!     };
//!     Ok(http::Response::builder().status(status).body(body.as_bytes().to_vec()).unwrap())
//! };
//! let http: Arc<dyn clerk_core::HttpClient> = Arc::new(http);
//! let config = ClerkConfig::builder()
//!     .secret_key("sk_test_example")
//!     .publishable_key("pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA")
//!     .frontend_host("https://app.example.com")
//!     .build()?;
//! let authenticator = Authenticator::builder(config.clone()).shared_http_client(Arc::clone(&http)).build()?;
//! let verifier = MachineVerifier::new(authenticator, &config, Some(http));
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! let accepted = ApiKeysOrM2m::ACCEPTED;
//! let ok = runtime.block_on(verifier.authenticate(accepted, Some(b"Bearer ak_good"), None))?;
//! assert_eq!(ok.token_type(), TokenType::ApiKey);
//! assert_eq!(ok.subject(), "user_1");
//! assert!(ok.has_scope("read"));
//!
//! let unknown = runtime.block_on(verifier.authenticate(accepted, Some(b"Bearer ak_bad"), None));
//! assert_eq!(unknown.unwrap_err().reason(), Some("token-invalid"));
//! let oauth = runtime.block_on(verifier.authenticate(accepted, Some(b"Bearer oat_1"), None));
//! assert_eq!(oauth.unwrap_err().reason(), Some("token-type-mismatch"));
//! # let _ = AcceptedTokens::ANY;
//! # Ok(())
//! # }
//! ```

mod adapter;
mod api;
mod auth;
mod cache;
mod error;
mod jwt;
mod kind;
mod verifier;

pub use api::{parse_verify_response, verify_path, verify_request};
pub use auth::{Credential, MachineAuth, ScopeName};
pub use cache::{
    MachineCachePolicy, Verified, DEFAULT_MACHINE_CACHE_CAPACITY, DEFAULT_MACHINE_CACHE_TTL,
    DEFAULT_MACHINE_NEGATIVE_TTL,
};
pub use error::{MachineError, NO_TOKEN_IN_HEADER};
pub use jwt::{verify_machine_jwt, JwtForm, MachineJwt, MACHINE_JWT_ALGORITHMS};
pub use kind::{
    classify, is_jwt_format, is_m2m_jwt, is_oauth_jwt, token_type_of, AcceptedTokens, Accepts,
    AnyMachine, AnyToken, ApiKeys, ApiKeysOrM2m, M2mTokens, OAuthTokens, TokenType, API_KEY_PREFIX,
    M2M_SUBJECT_PREFIX, M2M_TOKEN_PREFIX, OAUTH_ACCESS_TOKEN_TYPES, OAUTH_TOKEN_PREFIX,
};
pub use verifier::{authenticate, require_scope, MachineVerifier, VERIFIER_MISSING};
