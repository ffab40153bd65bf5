//! [`ClerkUser`]: the signed-in user's row in the local mirror, provisioned just in time.
//!
//! The extractor needs a store (and, for just-in-time provisioning, a Backend API client).
//! They travel in a [`UserProvisioning`] value the layer puts into every request:
//! [`Clerk::builder`](crate::Clerk::builder) wires it from the store it is given, or by hand
//! [`ClerkLayer::with_users`](crate::ClerkLayer::with_users):
//!
//! ```
//! use axum::{routing::get, Router};
//! use clerk_axum::{ClerkLayer, ClerkUser, UserProvisioning};
//! use clerk_store::MemoryStore;
//!
//! async fn me(user: ClerkUser) -> String {
//!     format!("{:?}", user.first_name)
//! }
//!
//! # fn demo(authenticator: clerk_core::Authenticator) {
//! let users = UserProvisioning::new(MemoryStore::new()); // + .with_backend_api(api)
//! let app: Router = Router::new()
//!     .route("/api/me", get(me))
//!     .layer(ClerkLayer::new(authenticator).with_users(users));
//! # let _ = app;
//! # }
//! ```
//!
//! # Lookup
//!
//! The session (as [`ClerkAuth`](crate::ClerkAuth): 401 when signed out or the token is bad,
//! 503 when no signing key can be had), then [`UserProvisioning::user`] — clerk-core's
//! framework-agnostic lookup ([`clerk_core::provision`]), shared with `clerk-rocket`: the
//! store by Clerk id, else `GET /v1/users/{id}` and one ordered upsert.
//!
//! | situation | rejection |
//! |-----------|-----------|
//! | Clerk answers 404 for the token's user (or no Backend API is configured and the row is missing) | 401 `{"error":"unauthenticated","reason":"user-not-found"}` |
//! | the stored user was deleted in Clerk (a tombstone) | 401 `{"error":"unauthenticated","reason":"user-deleted"}` |
//! | the store fails | 503 `{"error":"service_unavailable","reason":"user-store-unavailable"}` |
//! | Clerk is down, throttling or slow (5xx, 429, no answer within the provisioning budget) | 503 `{"error":"service_unavailable","reason":"clerk-unavailable"}` with `Retry-After` |
//! | the Backend API refuses the call (the secret key, a malformed answer), or the mirror refuses the user (its email is still held by another row) | 503 `{"error":"service_unavailable","reason":"backend-api-unavailable"}` / `"user-store-unavailable"` |
//! | a layer given no store (and no [`UserProvisioning`] extension) | 500 `{"error":"internal_error","reason":"user-provisioning-missing",…}` |
//!
//! Logs name the Clerk user id and the error kind, never emails or tokens.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use clerk_core::flow::Refusal;
pub use clerk_core::provision::UserProvisioning;

use crate::rejection::USER_PROVISIONING_MISSING;
use crate::{AuthState, ClerkRejection, ClerkUser};

impl<S: Send + Sync> FromRequestParts<S> for ClerkUser {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::clone(AuthState::from_parts(parts)?.require()?);
        let users = crate::layer::RequestContext::users(&parts.extensions)
            .ok_or(Refusal::Misconfigured(USER_PROVISIONING_MISSING))?
            .clone();
        let user = users.user_for(&auth).await?;
        Ok(ClerkUser { user, auth })
    }
}
