//! [`ClerkUser`]: the signed-in user's row in the local mirror, provisioned just in time.
//!
//! The guard runs clerk-core's [`UserProvisioning::user`](clerk_core::provision::UserProvisioning::user)
//! (the same lookup as `clerk-axum`'s `ClerkUser`) over the store given to
//! [`ClerkFairing::store`](crate::ClerkFairing::store): the store by Clerk id, else
//! `GET /v1/users/{id}` and one ordered upsert (with `CLERK_SECRET_KEY`).
//!
//! | situation | rejection |
//! |-----------|-----------|
//! | not signed in, bad token, no key | as [`ClerkAuth`](crate::ClerkAuth) (401 / 503) |
//! | Clerk answers 404 for the token's user (or no Backend API and the row is missing) | 401 `{"error":"unauthenticated","reason":"user-not-found"}` |
//! | the stored user was deleted in Clerk | 401 `{"error":"unauthenticated","reason":"user-deleted"}` |
//! | Clerk is down, throttling or slow (5xx, 429, no answer within the provisioning budget) | 503 `{"error":"service_unavailable","reason":"clerk-unavailable"}` with `Retry-After` |
//! | the store or the Backend API fails otherwise | 503 `{"error":"service_unavailable","reason":"user-store-unavailable"}` / `"backend-api-unavailable"` |
//! | the fairing has no store | 500 `{"error":"internal_error","reason":"user-provisioning-missing",…}` |
//!
//! The result is cached per request like the session.

use std::sync::Arc;

use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Ignite, Rocket, Sentinel};

use crate::guard::fairing_missing;
use crate::rejection::fail;
use crate::{AuthState, ClerkRejection, ClerkState, ClerkUser};

struct CachedUser(Result<ClerkUser, ClerkRejection>);

async fn lookup(request: &Request<'_>) -> Result<ClerkUser, ClerkRejection> {
    let auth = Arc::clone(AuthState::of(request).await?.require()?);
    let users = request
        .rocket()
        .state::<ClerkState>()
        .and_then(ClerkState::users)
        .ok_or(ClerkRejection(clerk_core::flow::Refusal::Misconfigured(
            crate::rejection::STORE_MISSING,
        )))?;
    let user = users.user_for(&auth).await?;
    Ok(ClerkUser { user, auth })
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClerkUser {
    type Error = ClerkRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ClerkRejection> {
        let cached = request
            .local_cache_async(async { CachedUser(lookup(request).await) })
            .await;
        match &cached.0 {
            Ok(user) => Outcome::Success(user.clone()),
            Err(rejection) => fail(request, rejection.clone()),
        }
    }
}

impl Sentinel for ClerkUser {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        if fairing_missing(rocket, "ClerkUser") {
            return true;
        }
        let no_store = rocket
            .state::<ClerkState>()
            .is_some_and(|state| state.users().is_none());
        if no_store {
            tracing::error!(
                "a route uses the `ClerkUser` guard but ClerkFairing has no store: use `ClerkFairing::new().store(..)`"
            );
        }
        no_store
    }
}
