//! [`DynStore`]: the object-safe face of a [`Store`], for `Arc<dyn DynStore>`.

use std::future::Future;

use futures_util::future::BoxFuture;

use crate::model::{
    Invitation, Membership, Organization, RevokedSession, User, UserId, WebhookEvent,
};
use crate::store::{
    BatchOutcome, LedgerStore, OrganizationStore, Store, StoreError, StoreWriter, UserStore,
    WriteBatch,
};

/// Every [`Store`] method with boxed futures, so stores can be type-erased.
///
/// Implemented for every `Store`; `dyn DynStore` (and so `Arc<dyn DynStore>`) implements the
/// store traits again, so type-erased stores work wherever a `Store` is expected:
///
/// ```ignore
/// let store: Arc<dyn DynStore> = Arc::new(MemoryStore::new());
/// let user = store.user_by_clerk_id("user_1").await?; // through `UserStore`
/// ```
///
/// Call through the store traits; the methods here are prefixed `dyn_` so they never shadow
/// them.
pub trait DynStore: Send + Sync {
    /// [`UserStore::user`].
    fn dyn_user(&self, id: UserId) -> BoxFuture<'_, Result<Option<User>, StoreError>>;
    /// [`UserStore::user_by_clerk_id`].
    fn dyn_user_by_clerk_id<'a>(
        &'a self,
        clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>>;
    /// [`UserStore::user_by_email`].
    fn dyn_user_by_email<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>>;
    /// [`UserStore::local_user_by_username`].
    fn dyn_local_user_by_username<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>>;
    /// [`UserStore::list_users`].
    fn dyn_list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<User>, StoreError>>;
    /// [`OrganizationStore::organization`].
    fn dyn_organization<'a>(
        &'a self,
        clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Organization>, StoreError>>;
    /// [`OrganizationStore::list_organizations`].
    fn dyn_list_organizations<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Organization>, StoreError>>;
    /// [`OrganizationStore::membership`].
    fn dyn_membership<'a>(
        &'a self,
        clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Membership>, StoreError>>;
    /// [`OrganizationStore::memberships_of_user`].
    fn dyn_memberships_of_user<'a>(
        &'a self,
        user_clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>>;
    /// [`OrganizationStore::memberships_of_organization`].
    fn dyn_memberships_of_organization<'a>(
        &'a self,
        organization_clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>>;
    /// [`OrganizationStore::invitation`].
    fn dyn_invitation<'a>(
        &'a self,
        clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Invitation>, StoreError>>;
    /// [`LedgerStore::webhook_event`].
    fn dyn_webhook_event<'a>(
        &'a self,
        svix_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<WebhookEvent>, StoreError>>;
    /// [`LedgerStore::revoked_session`].
    fn dyn_revoked_session<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<RevokedSession>, StoreError>>;
    /// [`StoreWriter::apply`].
    fn dyn_apply(&self, batch: WriteBatch) -> BoxFuture<'_, Result<BatchOutcome, StoreError>>;
}

impl<S: Store> DynStore for S {
    fn dyn_user(&self, id: UserId) -> BoxFuture<'_, Result<Option<User>, StoreError>> {
        Box::pin(self.user(id))
    }
    fn dyn_user_by_clerk_id<'a>(
        &'a self,
        clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(self.user_by_clerk_id(clerk_id))
    }
    fn dyn_user_by_email<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(self.user_by_email(email))
    }
    fn dyn_local_user_by_username<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(self.local_user_by_username(username))
    }
    fn dyn_list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<User>, StoreError>> {
        Box::pin(self.list_users(after, limit))
    }
    fn dyn_organization<'a>(
        &'a self,
        clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Organization>, StoreError>> {
        Box::pin(self.organization(clerk_id))
    }
    fn dyn_list_organizations<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Organization>, StoreError>> {
        Box::pin(self.list_organizations(after, limit))
    }
    fn dyn_membership<'a>(
        &'a self,
        clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Membership>, StoreError>> {
        Box::pin(self.membership(clerk_id))
    }
    fn dyn_memberships_of_user<'a>(
        &'a self,
        user_clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>> {
        Box::pin(self.memberships_of_user(user_clerk_id))
    }
    fn dyn_memberships_of_organization<'a>(
        &'a self,
        organization_clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>> {
        Box::pin(self.memberships_of_organization(organization_clerk_id))
    }
    fn dyn_invitation<'a>(
        &'a self,
        clerk_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Invitation>, StoreError>> {
        Box::pin(self.invitation(clerk_id))
    }
    fn dyn_webhook_event<'a>(
        &'a self,
        svix_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<WebhookEvent>, StoreError>> {
        Box::pin(self.webhook_event(svix_id))
    }
    fn dyn_revoked_session<'a>(
        &'a self,
        session_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<RevokedSession>, StoreError>> {
        Box::pin(self.revoked_session(session_id))
    }
    fn dyn_apply(&self, batch: WriteBatch) -> BoxFuture<'_, Result<BatchOutcome, StoreError>> {
        Box::pin(self.apply(batch))
    }
}

impl UserStore for dyn DynStore {
    fn user(&self, id: UserId) -> impl Future<Output = Result<Option<User>, StoreError>> + Send {
        self.dyn_user(id)
    }
    fn user_by_clerk_id(
        &self,
        clerk_id: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let clerk_id = clerk_id.to_owned();
        async move { self.dyn_user_by_clerk_id(&clerk_id).await }
    }
    fn user_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let email = email.to_owned();
        async move { self.dyn_user_by_email(&email).await }
    }
    fn local_user_by_username(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let username = username.to_owned();
        async move { self.dyn_local_user_by_username(&username).await }
    }
    fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send {
        self.dyn_list_users(after, limit)
    }
}

impl OrganizationStore for dyn DynStore {
    fn organization(
        &self,
        clerk_id: &str,
    ) -> impl Future<Output = Result<Option<Organization>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let clerk_id = clerk_id.to_owned();
        async move { self.dyn_organization(&clerk_id).await }
    }
    fn list_organizations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Organization>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let after = after.map(str::to_owned);
        async move { self.dyn_list_organizations(after.as_deref(), limit).await }
    }
    fn membership(
        &self,
        clerk_id: &str,
    ) -> impl Future<Output = Result<Option<Membership>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let clerk_id = clerk_id.to_owned();
        async move { self.dyn_membership(&clerk_id).await }
    }
    fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> impl Future<Output = Result<Vec<Membership>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let user_clerk_id = user_clerk_id.to_owned();
        async move { self.dyn_memberships_of_user(&user_clerk_id).await }
    }
    fn memberships_of_organization(
        &self,
        organization_clerk_id: &str,
    ) -> impl Future<Output = Result<Vec<Membership>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let organization_clerk_id = organization_clerk_id.to_owned();
        async move {
            self.dyn_memberships_of_organization(&organization_clerk_id)
                .await
        }
    }
    fn invitation(
        &self,
        clerk_id: &str,
    ) -> impl Future<Output = Result<Option<Invitation>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let clerk_id = clerk_id.to_owned();
        async move { self.dyn_invitation(&clerk_id).await }
    }
}

impl LedgerStore for dyn DynStore {
    fn webhook_event(
        &self,
        svix_id: &str,
    ) -> impl Future<Output = Result<Option<WebhookEvent>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let svix_id = svix_id.to_owned();
        async move { self.dyn_webhook_event(&svix_id).await }
    }
    fn revoked_session(
        &self,
        session_id: &str,
    ) -> impl Future<Output = Result<Option<RevokedSession>, StoreError>> + Send {
        // One owned copy: the boxed future may then borrow only `self`.
        let session_id = session_id.to_owned();
        async move { self.dyn_revoked_session(&session_id).await }
    }
}

impl StoreWriter for dyn DynStore {
    fn apply(
        &self,
        batch: WriteBatch,
    ) -> impl Future<Output = Result<BatchOutcome, StoreError>> + Send {
        self.dyn_apply(batch)
    }
}
