//! Extractors over the [`AuthState`] that [`ClerkLayer`](crate::ClerkLayer) stored.
//!
//! None of them authenticates: they only read the decision the layer made once for the
//! request, so a handler may take several of them at no extra cost. The types and their
//! decisions are clerk-core's ([`clerk_core::flow`]); this file is the `FromRequestParts`
//! glue.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use clerk_core::authz::{PermissionName, Requirement, RoleName};
use clerk_core::flow::{Refusal, RequestAuth};

use crate::rejection::LAYER_MISSING;
use crate::{AuthState, ClerkRejection};

impl AuthState {
    /// The state of a request, or the 500 for a missing layer.
    ///
    /// # Errors
    /// The layer does not wrap the route.
    pub fn from_parts(parts: &Parts) -> Result<&AuthState, ClerkRejection> {
        parts
            .extensions
            .get::<AuthState>()
            .ok_or(ClerkRejection(Refusal::Misconfigured(LAYER_MISSING)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthState {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        AuthState::from_parts(parts).cloned()
    }
}

fn request_auth(parts: &Parts) -> Result<&RequestAuth, ClerkRejection> {
    AuthState::from_parts(parts).map(AuthState::request_auth)
}

clerk_core::__session_types!("`Option<ClerkAuth>` is the optional form: `None` when signed out *or* when the token was rejected (the request is treated as anonymous), while an infrastructure failure (503), an ended session (401) and a missing layer (500) still reject, so an outage never looks like a signed-out user.");

impl<S: Send + Sync> FromRequestParts<S> for ClerkAuth {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClerkAuth::decide(request_auth(parts)?)?)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for ClerkAuth {
    type Rejection = ClerkRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(ClerkAuth::decide_optional(request_auth(parts)?)?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ActiveOrg {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ActiveOrg::decide(request_auth(parts)?)?)
    }
}

impl<S: Send + Sync, R: RoleName> FromRequestParts<S> for RequireRole<R> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequireRole::decide(request_auth(parts)?)?)
    }
}

impl<S: Send + Sync, P: PermissionName> FromRequestParts<S> for RequirePermission<P> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequirePermission::decide(request_auth(parts)?)?)
    }
}

clerk_core::__require_type!("Rejects with `Q`'s 403 (`missing_feature`, `missing_plan`, Clerk's `reverification-error` body, `impersonation_not_allowed`), and like [`ClerkAuth`] when not signed in.");

impl<S: Send + Sync, Q: Requirement> FromRequestParts<S> for Require<Q> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::clone(request_auth(parts)?.require()?);
        Ok(Require::decide(auth).map_err(Refusal::Forbidden)?)
    }
}
