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
//! | the store fails | [`StoreUnavailable`](ProvisionError::StoreUnavailable) | 503 `user-store-unavailable` |
//! | ([`user_for`](UserProvisioning::user_for)) the token's `sid` was revoked, or its user is banned, locked or deactivated | [`Ended`](ProvisionError::Ended) | 401 `session-revoked`, `user-banned`, `user-inactive` |
//! | the store refuses the fetched user for good (its email is held by another row that may not be linked) | [`Conflict`](ProvisionError::Conflict) | 409 `user-conflict` |
//! | Clerk is down, throttling or slow: a 5xx, a 429, no response, or the budget ran out | [`ClerkUnavailable`](ProvisionError::ClerkUnavailable) | 503 `clerk-unavailable` with `Retry-After` |
//! | the Backend API refuses the call (the secret key, a malformed answer) or answers with another user | [`BackendApiUnavailable`](ProvisionError::BackendApiUnavailable) | 503 `backend-api-unavailable` |
//!
//! **The request-path budget.** The Backend API call runs while the client waits, so it is
//! bounded by a [`CallBudget`] — by default 2 tries and 2 s in all (`CLERK_PROVISION_TRIES`,
//! `CLERK_PROVISION_BUDGET_MS`; [`with_budget`](UserProvisioning::with_budget)) — whatever
//! the [`BackendApi`]'s own retry policy (made for `clerk sync`) says. A `Retry-After` longer
//! than half the budget is not waited for: the answer is 503 with Clerk's `Retry-After`.
//!
//! **Single flight.** Concurrent requests for one missing user share one provisioning (one
//! Backend API call, one write): the first starts it, the others await the same result.
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

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::auth::Auth;
use crate::backend_api::{ApiError, BackendApi, CallBudget};
use crate::model::{ClerkUserData, User};
use crate::session::{EndReason, Standing};
use crate::store::{
    Change, Conflict, LinkPolicy, Store, StoreError, StoreWriter, UserStore, WriteBatch,
};
use crate::time::{Clock, SystemClock};

/// Why the signed-in user's row could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// Clerk is unavailable for now (5xx, 429, no answer within the budget): 503 with
    /// `Retry-After: retry_after_secs`.
    #[error("Clerk is unavailable; retry after {retry_after_secs} s")]
    ClerkUnavailable {
        /// Seconds the client should wait: Clerk's own `Retry-After` when it sent one, else
        /// [`DEFAULT_RETRY_AFTER_SECS`].
        retry_after_secs: u32,
    },
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
    /// The token's session or user may not be served ([`EndReason`]): its `sid` was
    /// revoked, or its user is banned, locked or deactivated. 401 with that reason.
    #[error("the token's session or user may not be served: {0}")]
    Ended(EndReason),
    /// The store refused the fetched user for good: its email is held by another row that
    /// may not be linked (a local account, or a Clerk user whose own update has not arrived).
    /// 409 `user-conflict`: retrying changes nothing until an operator or Clerk's next
    /// webhook resolves it.
    #[error("the token's user conflicts with a stored user")]
    Conflict,
}

impl ProvisionError {
    /// The `reason` adapters put in the answer's body (`user-not-found`, `user-deleted`,
    /// `user-store-unavailable`, `backend-api-unavailable`, `clerk-unavailable`,
    /// `user-conflict`).
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            ProvisionError::NotFound => "user-not-found",
            ProvisionError::Deleted => "user-deleted",
            ProvisionError::StoreUnavailable => "user-store-unavailable",
            ProvisionError::BackendApiUnavailable => "backend-api-unavailable",
            ProvisionError::ClerkUnavailable { .. } => "clerk-unavailable",
            ProvisionError::Conflict => "user-conflict",
            ProvisionError::Ended(reason) => reason.as_str(),
        }
    }

    /// Whether this is an infrastructure failure (503) rather than a missing user (401).
    #[must_use]
    pub fn is_unavailable(self) -> bool {
        matches!(
            self,
            ProvisionError::StoreUnavailable
                | ProvisionError::BackendApiUnavailable
                | ProvisionError::ClerkUnavailable { .. }
        )
    }

    /// The `Retry-After` seconds of the 503, when the answer carries one.
    #[must_use]
    pub fn retry_after_secs(self) -> Option<u32> {
        match self {
            ProvisionError::ClerkUnavailable { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        }
    }
}

/// `Retry-After` of a [`ProvisionError::ClerkUnavailable`] when Clerk sent none.
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 5;

/// The longest `Retry-After` passed on to clients (an hour).
const MAX_RETRY_AFTER_SECS: u32 = 3600;

type Provisioning = Shared<BoxFuture<'static, Result<User, ProvisionError>>>;

/// The store of the local mirror and, optionally, a Backend API client for just-in-time
/// provisioning. Cheap to clone (everything is shared).
#[derive(Clone)]
pub struct UserProvisioning {
    store: Arc<dyn Store>,
    api: Option<Arc<BackendApi>>,
    clock: Arc<dyn Clock>,
    link: LinkPolicy,
    budget: CallBudget,
    /// In-flight provisionings by Clerk id (single flight).
    in_flight: Arc<Mutex<HashMap<String, Provisioning>>>,
}

impl fmt::Debug for UserProvisioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserProvisioning")
            .field("backend_api", &self.api)
            .field("link", &self.link)
            .field("budget", &self.budget)
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
            budget: CallBudget::default(),
            in_flight: Arc::default(),
        }
    }

    /// Fetches users missing from the store through `api` (`GET /v1/users/{id}`) and stores
    /// them.
    #[must_use]
    pub fn with_backend_api(mut self, api: BackendApi) -> Self {
        self.api = Some(Arc::new(api));
        self
    }

    /// The request-path budget of the Backend API call (default: 2 tries, 2 s;
    /// [`ClerkConfig::provision_budget`](crate::ClerkConfig::provision_budget) holds the
    /// configured one).
    #[must_use]
    pub fn with_budget(mut self, budget: CallBudget) -> Self {
        self.budget = budget;
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

    /// The stored user of a verified token, provisioned as [`UserProvisioning::user`] does,
    /// and refused when it may not be served: the token's `sid` revoked, the user banned,
    /// locked, deactivated or deleted ([`Standing::of_identity`]). What the adapters'
    /// stored-user extractors call, so a revocation holds on the stateless path too.
    ///
    /// # Errors
    /// [`ProvisionError`]; [`ProvisionError::Ended`] for a revoked session or a user not in
    /// good standing.
    pub async fn user_for(&self, auth: &Auth) -> Result<User, ProvisionError> {
        if let Some(sid) = auth.session_id.as_deref() {
            let revoked = self.store.revoked_session(sid).await.map_err(|error| {
                tracing::warn!(%error, "revoked-session lookup failed");
                ProvisionError::StoreUnavailable
            })?;
            if revoked.is_some() {
                tracing::info!(clerk_id = %auth.user_id, "the token's session was revoked");
                return Err(ProvisionError::Ended(EndReason::SessionRevoked));
            }
        }
        let user = self.user(&auth.user_id).await?;
        match Standing::from_store(false, Some(&user)).end_reason() {
            None => Ok(user),
            Some(reason) => {
                tracing::info!(clerk_id = %auth.user_id, %reason, "the token's user may not be served");
                Err(ProvisionError::Ended(reason))
            }
        }
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
        let api = Arc::clone(api);
        self.provision_once(clerk_id, api).await
    }

    /// Joins the in-flight provisioning of `clerk_id`, or starts it.
    fn provision_once(&self, clerk_id: &str, api: Arc<BackendApi>) -> Provisioning {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(running) = in_flight.get(clerk_id) {
            return running.clone();
        }
        let this = self.clone();
        let id = clerk_id.to_owned();
        let running = async move {
            let result = std::panic::AssertUnwindSafe(this.provision(&id, &api))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    tracing::error!(clerk_id = %id, "just-in-time provisioning panicked");
                    Err(ProvisionError::StoreUnavailable)
                });
            this.in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&id);
            result
        }
        .boxed()
        .shared();
        in_flight.insert(clerk_id.to_owned(), running.clone());
        running
    }

    /// Fetches the user within the budget, stores it and reads it back.
    async fn provision(&self, clerk_id: &str, api: &BackendApi) -> Result<User, ProvisionError> {
        let fetched = match api.get_user_within(clerk_id, self.budget).await {
            Ok(user) => user,
            Err(ApiError::NotFound { .. }) => {
                tracing::info!(clerk_id, "the token's user does not exist in Clerk");
                return Err(ProvisionError::NotFound);
            }
            Err(error) if error.is_clerk_unavailable() => {
                tracing::warn!(clerk_id, %error, "just-in-time provisioning: Clerk unavailable");
                let retry_after_secs = error.retry_after().map_or(DEFAULT_RETRY_AFTER_SECS, |d| {
                    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
                    u32::try_from(secs)
                        .unwrap_or(u32::MAX)
                        .clamp(1, MAX_RETRY_AFTER_SECS)
                });
                return Err(ProvisionError::ClerkUnavailable { retry_after_secs });
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
            Err(StoreError::Conflict(conflict)) => {
                tracing::warn!(
                    clerk_id,
                    %conflict,
                    "just-in-time provisioning: the store refused the user for good (409)"
                );
                return Err(ProvisionError::Conflict);
            }
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
        let down = ProvisionError::ClerkUnavailable {
            retry_after_secs: 30,
        };
        assert_eq!(down.reason(), "clerk-unavailable");
        assert!(down.is_unavailable());
        assert_eq!(down.retry_after_secs(), Some(30));
        for (error, reason, unavailable) in cases {
            assert_eq!(error.retry_after_secs(), None);
            assert_eq!(error.reason(), reason);
            assert_eq!(error.is_unavailable(), unavailable, "{error:?}");
        }
    }
}
