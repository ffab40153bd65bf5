//! [`ClerkUser`]: the signed-in user's row in the local mirror, provisioned just in time.
//!
//! The extractor needs a store (and, for just-in-time provisioning, a Backend API client).
//! They travel in a [`UserProvisioning`] value installed as a request extension, so the
//! extractor works with any router state:
//!
//! ```
//! use std::sync::Arc;
//! use axum::{routing::get, Extension, Router};
//! use clerk_axum::{ClerkUser, UserProvisioning};
//! use clerk_store::MemoryStore;
//!
//! async fn me(user: ClerkUser) -> String {
//!     format!("{:?}", user.first_name)
//! }
//!
//! let users = UserProvisioning::new(MemoryStore::new()); // + .with_backend_api(api)
//! let app: Router = Router::new()
//!     .route("/api/me", get(me))
//!     .layer(Extension(users)); // and .layer(ClerkLayer::new(..)) as usual
//! # let _ = app;
//! ```
//!
//! # Lookup
//!
//! 1. The session (as [`ClerkAuth`](crate::ClerkAuth)): 401 when signed out or the token is
//!    bad, 503 when no signing key can be had.
//! 2. The store, by Clerk id (`clerk_users.clerk_id` = the token's `sub`).
//! 3. When the row is missing and a Backend API client is configured: `GET /v1/users/{id}`,
//!    then one [`WriteBatch`] with [`Change::UpsertUser`] — the same ordered upsert webhooks
//!    and `clerk sync` use, so a webhook that arrives later with newer data wins and an older
//!    one changes nothing. Then the row is read again.
//!
//! | situation | rejection |
//! |-----------|-----------|
//! | Clerk answers 404 for the token's user (or no Backend API is configured and the row is missing) | 401 `{"error":"unauthenticated","reason":"user-not-found"}` |
//! | the stored user was deleted in Clerk (a tombstone) | 401 `{"error":"unauthenticated","reason":"user-deleted"}` |
//! | the store fails | 503 `{"error":"service_unavailable","reason":"user-store-unavailable"}` |
//! | the Backend API fails (after its retries), or the mirror refuses the user (its email is still held by another row) | 503 `{"error":"service_unavailable","reason":"backend-api-unavailable"}` / `"user-store-unavailable"` |
//! | no [`UserProvisioning`] extension | 500 `{"error":"internal_error","reason":"user-provisioning-missing",…}` |
//!
//! Logs name the Clerk user id and the error kind, never emails or tokens.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use clerk_core::backend_api::{ApiError, BackendApi};
use clerk_core::model::{ClerkUserData, User};
use clerk_core::store::{
    Change, Conflict, DynStore, LinkPolicy, Store, StoreError, StoreWriter, UserStore, WriteBatch,
};
use clerk_core::time::{Clock, SystemClock};
use clerk_core::Auth;

use crate::rejection::UserDependency;
use crate::{AuthState, ClerkRejection};

/// What [`ClerkUser`] needs: the store of the local mirror and, optionally, a Backend API
/// client for just-in-time provisioning. Cheap to clone (everything is shared).
///
/// Install it as a request extension: `router.layer(axum::Extension(users))`.
#[derive(Clone)]
pub struct UserProvisioning {
    store: Arc<dyn DynStore>,
    api: Option<Arc<BackendApi>>,
    clock: Arc<dyn Clock>,
    link: LinkPolicy,
}

impl fmt::Debug for UserProvisioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserProvisioning")
            .field("backend_api", &self.api)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl UserProvisioning {
    /// Lookups in `store`, without just-in-time provisioning (users come from webhooks and
    /// `clerk sync` only) until [`with_backend_api`](Self::with_backend_api).
    #[must_use]
    pub fn new(store: impl Store + 'static) -> Self {
        Self::from_dyn(Arc::new(store))
    }

    /// Lookups in a type-erased store (shared with a webhook processor, say).
    #[must_use]
    pub fn from_dyn(store: Arc<dyn DynStore>) -> Self {
        UserProvisioning {
            store,
            api: None,
            clock: Arc::new(SystemClock),
            link: LinkPolicy::Never,
        }
    }

    /// Fetches users missing from the store through `api` (`GET /v1/users/{id}`) and stores
    /// them.
    #[must_use]
    pub fn with_backend_api(mut self, api: BackendApi) -> Self {
        self.api = Some(Arc::new(api));
        self
    }

    /// The clock dating the provisioning batch (tests: a manual clock).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Account linking by email for provisioned users (off by default; see
    /// [`LinkPolicy`]).
    #[must_use]
    pub fn with_link_policy(mut self, link: LinkPolicy) -> Self {
        self.link = link;
        self
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn DynStore> {
        &self.store
    }

    /// The stored user with Clerk id `clerk_id`, fetched from the Backend API and stored when
    /// missing (see the [module docs](self)).
    ///
    /// # Errors
    /// The [`ClerkRejection`] the extractor answers with.
    pub async fn user(&self, clerk_id: &str) -> Result<User, ClerkRejection> {
        if let Some(user) = self.lookup(clerk_id).await? {
            return live(user, clerk_id);
        }
        let Some(api) = &self.api else {
            tracing::info!(
                clerk_id,
                "signed-in user not in the store (no Backend API for provisioning)"
            );
            return Err(ClerkRejection::UserNotFound);
        };
        let fetched = match api.get_user(clerk_id).await {
            Ok(user) => user,
            Err(ApiError::NotFound { .. }) => {
                tracing::info!(clerk_id, "the token's user does not exist in Clerk");
                return Err(ClerkRejection::UserNotFound);
            }
            Err(error) => {
                tracing::warn!(clerk_id, %error, "just-in-time provisioning: Backend API failed");
                return Err(ClerkRejection::UserUnavailable(UserDependency::BackendApi));
            }
        };
        if fetched.id != clerk_id {
            tracing::warn!(clerk_id, "the Backend API answered with another user's id");
            return Err(ClerkRejection::UserUnavailable(UserDependency::BackendApi));
        }
        let change = Change::UpsertUser {
            data: ClerkUserData::from(&fetched),
            link: self.link,
        };
        match self
            .store
            .apply(WriteBatch::single(self.clock.now(), change))
            .await
        {
            Ok(outcome) => {
                let effect = outcome.applied().first().map(|a| a.effect);
                tracing::info!(clerk_id, ?effect, "user provisioned just in time");
            }
            // A concurrent request (or webhook) stored it first: read what it stored.
            Err(StoreError::Conflict(Conflict::ClerkId)) => {}
            Err(error) => {
                tracing::warn!(
                    clerk_id,
                    %error,
                    retryable = error.is_retryable(),
                    "just-in-time provisioning: the store refused the user"
                );
                return Err(ClerkRejection::UserUnavailable(UserDependency::Store));
            }
        }
        match self.lookup(clerk_id).await? {
            Some(user) => live(user, clerk_id),
            None => {
                tracing::warn!(clerk_id, "provisioned user not found on re-read");
                Err(ClerkRejection::UserUnavailable(UserDependency::Store))
            }
        }
    }

    async fn lookup(&self, clerk_id: &str) -> Result<Option<User>, ClerkRejection> {
        self.store
            .user_by_clerk_id(clerk_id)
            .await
            .map_err(|error| {
                tracing::warn!(clerk_id, %error, "user lookup failed");
                ClerkRejection::UserUnavailable(UserDependency::Store)
            })
    }
}

fn live(user: User, clerk_id: &str) -> Result<User, ClerkRejection> {
    if user.is_deleted() {
        tracing::info!(clerk_id, "the token's user was deleted in Clerk");
        return Err(ClerkRejection::UserDeleted);
    }
    Ok(user)
}

/// The signed-in user's stored row (and the session), provisioned just in time when missing.
/// See the [module docs](self) for the lookup and its rejections; needs [`ClerkLayer`] and a
/// [`UserProvisioning`] extension.
///
/// [`ClerkLayer`]: crate::ClerkLayer
#[derive(Debug, Clone)]
pub struct ClerkUser {
    /// The stored user.
    pub user: User,
    /// The verified session.
    pub auth: Arc<Auth>,
}

impl Deref for ClerkUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.user
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClerkUser {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::clone(AuthState::from_parts(parts)?.require()?);
        let users = parts
            .extensions
            .get::<UserProvisioning>()
            .ok_or(ClerkRejection::UserProvisioningMissing)?
            .clone();
        let user = users.user(&auth.user_id).await?;
        Ok(ClerkUser { user, auth })
    }
}
