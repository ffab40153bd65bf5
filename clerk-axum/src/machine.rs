//! Machine credentials (API keys, M2M tokens, OAuth tokens): the [`MachineAuth<A>`] and
//! [`RequireScope<A, S>`] extractors. The types and decisions are clerk-core's
//! ([`clerk_core::machine`]); this file is the `FromRequestParts` glue.
//!
//! [`Clerk::install`](crate::Clerk::install) makes the [`MachineVerifier`] reachable (the
//! layer hands it to every request); with a hand-built [`ClerkLayer`](crate::ClerkLayer) call
//! [`with_machine`](crate::ClerkLayer::with_machine) (or add `.layer(Extension(verifier))`),
//! or every machine route answers 500 `clerk-machine-verifier-missing`.
//!
//! ```
//! use axum::{routing::get, Json, Router};
//! use clerk_axum::machine::{ApiKeysOrM2m, MachineAuth};
//!
//! async fn machine(auth: MachineAuth<ApiKeysOrM2m>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({
//!         "token_type": auth.token_type().as_str(),
//!         "subject": auth.subject(),
//!         "scopes": auth.scopes(),
//!     }))
//! }
//! let app: Router = Router::new().route("/api/machine", get(machine));
//! # let _ = app;
//! ```

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use clerk_core::flow::RequestAuth;
pub use clerk_core::machine::{
    AcceptedTokens, Accepts, AnyMachine, AnyToken, ApiKeys, ApiKeysOrM2m, Credential, M2mTokens,
    MachineError, MachineVerifier, OAuthTokens, ScopeName, TokenType,
};
pub use clerk_core::scope;

use crate::{AuthState, ClerkRejection};

clerk_core::__machine_types!();

impl<S: Send + Sync, A: Accepts> FromRequestParts<S> for MachineAuth<A> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session: Option<RequestAuth> = if Self::needs_session() {
            Some(AuthState::from_parts(parts)?.request_auth().clone())
        } else {
            None
        };
        let verifier = crate::layer::RequestContext::machine(&parts.extensions);
        let authorization = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(axum::http::HeaderValue::as_bytes);
        Ok(MachineAuth::decide(verifier, authorization, session.as_ref()).await?)
    }
}

impl<S: Send + Sync, A: Accepts, Q: ScopeName> FromRequestParts<S> for RequireScope<A, Q> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let inner = MachineAuth::<A>::from_request_parts(parts, state).await?;
        Ok(RequireScope::decide(inner)?)
    }
}
