//! The signed-in user's row in the local mirror, provisioned just in time: the lookup every
//! adapter's stored-user extractor or guard runs (`clerk_axum::ClerkUser`,
//! `clerk_rocket::ClerkUser`), so the two answer alike.
//!
//! 1. The store, by Clerk id (`clerk_users.clerk_id` = the token's `sub`).
//! 2. When the row is missing and a Backend API client is configured: `GET /v1/users/{id}`,
//!    then one [`WriteBatch`] with [`Change::UpsertUser`] — the same ordered upsert webhooks
//!    and `clerk sync` use, so a webhook that arrives later with newer data wins and an older
//!    one changes nothing. Then the row is read again.
//!
//! | situation | [`ProvisionError`] | adapters answer |
//! |-----------|--------------------|-----------------|
//! | Clerk answers 404 for the user (or no Backend API is configured and the row is missing) | [`NotFound`](ProvisionError::NotFound) | 401 `user-not-found` |
//! | the stored user was deleted in Clerk (a tombstone) | [`Deleted`](ProvisionError::Deleted) | 401 `user-deleted` |
//! | the store fails, or refuses the provisioned user (its email is still held by another row) | [`StoreUnavailable`](ProvisionError::StoreUnavailable) | 503 `user-store-unavailable` |
//! | the Backend API fails (after its retries) or answers with another user | [`BackendApiUnavailable`](ProvisionError::BackendApiUnavailable) | 503 `backend-api-unavailable` |
//!
//! Logs name the Clerk user id and the error kind, never emails or tokens.
//!
//! ```
//! use clerk_core::provision::{ProvisionError, UserProvisioning};
//! # async fn demo(users: UserProvisioning) {
//! match users.user("user_2abc").await {
//!     Ok(user) => println!("{:?}", user.first_name),
//!     Err(ProvisionError::NotFound | ProvisionError::Deleted) => { /* 401 */ }
//!     Err(error) => { /* 503: error.reason() */ let _ = error; }
//! }
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use crate::backend_api::{ApiError, BackendApi};
use crate::model::{ClerkUserData, User};
use crate::store::{
    Change, Conflict, LinkPolicy, Store, StoreError, StoreWriter, UserStore, WriteBatch,
};
use crate::time::{Clock, SystemClock};

/// Why the signed-in user's row could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// The user does not exist (Clerk answered 404, or the store lacks it and no Backend API
    /// is configured): answered like a bad token (401).
    #[error("the token's user does not exist")]
    NotFound,
    /// The user was deleted in Clerk (a tombstone in the store): 401.
    #[error("the token's user was deleted")]
    Deleted,
    /// The store of the local mirror failed, or refused the provisioned user: 503.
    #[error("the user store is unavailable")]
    StoreUnavailable,
    /// Clerk's Backend API failed (after its retries): 503.
    #[error("the Backend API is unavailable")]
    BackendApiUnavailable,
}

impl ProvisionError {
    /// The `reason` adapters put in the answer's body (`user-not-found`, `user-deleted`,
    /// `user-store-unavailable`, `backend-api-unavailable`).
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            ProvisionError::NotFound => "user-not-found",
            ProvisionError::Deleted => "user-deleted",
            ProvisionError::StoreUnavailable => "user-store-unavailable",
            ProvisionError::BackendApiUnavailable => "backend-api-unavailable",
        }
    }

    /// Whether this is an infrastructure failure (503) rather than a missing user (401).
    #[must_use]
    pub fn is_unavailable(self) -> bool {
        matches!(
            self,
            ProvisionError::StoreUnavailable | ProvisionError::BackendApiUnavailable
        )
    }
}

/// The store of the local mirror and, optionally, a Backend API client for just-in-time
/// provisioning. Cheap to clone (everything is shared).
#[derive(Clone)]
pub struct UserProvisioning {
    store: Arc<dyn Store>,
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
    pub fn from_dyn(store: Arc<dyn Store>) -> Self {
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
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether users missing from the store are fetched from the Backend API.
    #[must_use]
    pub fn provisions(&self) -> bool {
        self.api.is_some()
    }

    /// The stored user with Clerk id `clerk_id`, fetched from the Backend API and stored when
    /// missing (see the [module docs](self)).
    ///
    /// # Errors
    /// [`ProvisionError`]: what adapters answer with.
    pub async fn user(&self, clerk_id: &str) -> Result<User, ProvisionError> {
        if let Some(user) = self.lookup(clerk_id).await? {
            return live(user, clerk_id);
        }
        let Some(api) = &self.api else {
            tracing::info!(
                clerk_id,
                "signed-in user not in the store (no Backend API for provisioning)"
            );
            return Err(ProvisionError::NotFound);
        };
        let fetched = match api.get_user(clerk_id).await {
            Ok(user) => user,
            Err(ApiError::NotFound { .. }) => {
                tracing::info!(clerk_id, "the token's user does not exist in Clerk");
                return Err(ProvisionError::NotFound);
            }
            Err(error) => {
                tracing::warn!(clerk_id, %error, "just-in-time provisioning: Backend API failed");
                return Err(ProvisionError::BackendApiUnavailable);
            }
        };
        if fetched.id != clerk_id {
            tracing::warn!(clerk_id, "the Backend API answered with another user's id");
            return Err(ProvisionError::BackendApiUnavailable);
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
                return Err(ProvisionError::StoreUnavailable);
            }
        }
        match self.lookup(clerk_id).await? {
            Some(user) => live(user, clerk_id),
            None => {
                tracing::warn!(clerk_id, "provisioned user not found on re-read");
                Err(ProvisionError::StoreUnavailable)
            }
        }
    }

    async fn lookup(&self, clerk_id: &str) -> Result<Option<User>, ProvisionError> {
        self.store
            .user_by_clerk_id(clerk_id)
            .await
            .map_err(|error| {
                tracing::warn!(clerk_id, %error, "user lookup failed");
                ProvisionError::StoreUnavailable
            })
    }
}

fn live(user: User, clerk_id: &str) -> Result<User, ProvisionError> {
    if user.is_deleted() {
        tracing::info!(clerk_id, "the token's user was deleted in Clerk");
        return Err(ProvisionError::Deleted);
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::ProvisionError;

    #[test]
    fn reasons_and_classes_are_the_adapters_contract() {
        let cases = [
            (ProvisionError::NotFound, "user-not-found", false),
            (ProvisionError::Deleted, "user-deleted", false),
            (
                ProvisionError::StoreUnavailable,
                "user-store-unavailable",
                true,
            ),
            (
                ProvisionError::BackendApiUnavailable,
                "backend-api-unavailable",
                true,
            ),
        ];
        for (error, reason, unavailable) in cases {
            assert_eq!(error.reason(), reason);
            assert_eq!(error.is_unavailable(), unavailable, "{error:?}");
        }
    }
}
