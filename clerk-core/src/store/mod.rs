//! Storage traits for the local mirror, and the rules every backend follows.
//!
//! # Shape
//!
//! A store is five small traits:
//!
//! | trait | what |
//! |---|---|
//! | [`UserStore`] | user reads: by local id, Clerk id, email, local username; paging |
//! | [`OrganizationStore`] | organization, membership and invitation reads |
//! | [`LedgerStore`] | the processed-webhook ledger and the revoked-session set |
//! | [`StoreWriter`] | **one** write method, [`StoreWriter::apply`], taking a [`WriteBatch`] |
//! | [`LoginAttemptStore`] | failed staff logins by key, for the login throttle (outside batches) |
//!
//! and [`Store`], implemented automatically for anything that implements all five.
//!
//! A backend does not write the change logic itself: it implements the storage primitives of
//! [`dispatch::ChangeTarget`] on its transaction (that module's docs carry a complete
//! in-memory implementation) and calls [`dispatch::apply_batch`] from its `apply`.
//!
//! The traits are object-safe [`async_trait`](macro@async_trait)s: write the implementation's methods as
//! `async fn` in an impl block marked `#[clerk_core::store::async_trait]` (re-exported here).
//! Code that holds a store can be generic over `S: Store`, or hold `Arc<dyn Store>` (what the
//! adapters do): `Arc<S>` is a `Store` whenever `S` is, `dyn Store` included.
//!
//! # Why all writes go through one `apply`
//!
//! The webhook processor must apply an event's effect **and** record its svix id in one
//! transaction ([design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks)): a replay must find the id and change nothing; a failure must leave
//! neither. Rather than exposing a transaction handle (which would tie the traits to one
//! database's transaction type, force lifetimes through every method, and tempt callers to
//! hold locks across their own awaits), a write is a *value*: a [`WriteBatch`] carries the
//! instant `now`, an optional [`WebhookEvent`] receipt and a list of [`Change`]s. A backend
//! implements `apply` as:
//!
//! 1. begin a transaction;
//! 2. if the batch has a receipt and its svix id is already in the ledger, roll back and
//!    return [`BatchOutcome::AlreadyProcessed`] (SQL backends: insert the receipt first and
//!    treat a unique violation as "already processed" — that makes the same svix id delivered
//!    to two processes at once apply exactly once);
//! 3. apply each change in order, following the rules on [`Change`]'s variants (the pure
//!    functions in [`rules`] decide; a backend only reads the rows they need and writes the
//!    result). Steps 2–4 are written once, in [`dispatch::apply_batch`]: a backend
//!    implements the storage primitives of [`dispatch::ChangeTarget`] on its open
//!    transaction and commits or rolls back on the outcome;
//! 4. insert the receipt, commit, and return one [`Applied`] per change.
//!
//! Any error rolls everything back: **a batch is all or nothing**. The processor can compute
//! a batch purely from a verified event (`event → Vec<Change>`), which keeps it sans-IO;
//! `clerk sync` writes its pages as batches without receipts; an application's own writes
//! (local users, staff flags, logins) are batches too.
//!
//! # Invariants every backend keeps
//!
//! - **Uniqueness**: `clerk_id` of users, organizations, memberships and invitations is
//!   unique across all rows (tombstones included: Clerk never reuses an id); a user's email is
//!   unique, ASCII case-insensitively, among users that are not deleted; a local user's
//!   username is unique among local users that are not deleted; a svix id and a revoked
//!   session id appear once.
//! - **Ordering**: Clerk data whose `updated_at` is not newer than the stored
//!   `clerk_updated_at` changes nothing ([`Effect::Unchanged`]), so replays and late
//!   deliveries are harmless.
//! - **Deletion is terminal and leaves a tombstone**: a deleted Clerk user (organization,
//!   membership) keeps its row — its local id, Clerk id and application-owned fields — with
//!   `deleted_at` set, inactive, and every Clerk-owned field cleared
//!   ([`User::mark_deleted`](crate::model::User::mark_deleted)): the email is released and no
//!   personal data is kept. No later Clerk data changes it ([`Effect::Gone`]). A deletion for
//!   an id never seen writes the same tombstone, so a late `created` cannot resurrect it and
//!   the final state does not depend on delivery order. A re-sign-up with the same address (a
//!   new Clerk id) gets a fresh, active row.
//! - **No silent linking**: a Clerk id never seen before is inserted as a new row. When an
//!   existing row already holds its email, the change fails with [`Conflict::Email`] — unless
//!   the batch opts in with [`LinkPolicy::VerifiedEmail`], the incoming email is verified, and
//!   the holder is a local row (no Clerk id) that is neither staff nor superuser.
//! - **Clerk data never overwrites application-owned fields**: the inputs
//!   ([`ClerkUserData`] …) do not carry them.

use crate::model::{
    ClerkInvitationData, ClerkMembershipData, ClerkOrganizationData, ClerkUserData, HeldEvent,
    HoldReason, Invitation, LocalUserPatch, Membership, NewLocalUser, Organization, RevokedSession,
    User, UserId, WebhookEvent,
};
use crate::time::UnixTime;

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod dispatch;
pub mod held;
pub mod rules;

/// The attribute every implementation of the store traits carries (re-exported from
/// `async-trait`, so implementing a store needs no extra dependency).
pub use async_trait::async_trait;

/// A boxed error from a backend's driver.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed. Whatever the variant, a failed [`StoreWriter::apply`] wrote
/// nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached or the transaction failed transiently (connection
    /// refused, pool timeout, serialization failure, deadlock). **Retryable**: the webhook
    /// processor answers 503 so Svix delivers again.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// A uniqueness rule refused the change. Not retryable as is: the webhook processor
    /// acknowledges such a delivery, writes the user without the conflicting email and holds
    /// the delivery for an operator ([`HeldEvent`]); just-in-time provisioning answers 409.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The input breaks a precondition (an empty Clerk id, …). Not retryable.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Any other backend failure (a schema mismatch, a corrupt row). Not retryable by itself.
    #[error("store failure")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Whether the same operation may succeed if tried again later ([`StoreError::Unavailable`]).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// A [`StoreError::Unavailable`] from any error.
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        StoreError::Unavailable(error.into())
    }

    /// A [`StoreError::Backend`] from any error.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        StoreError::Backend(error.into())
    }
}

/// Which uniqueness rule a change broke. Never carries the conflicting value (errors and logs
/// never contain emails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// The email is held by another user that is not deleted (and was not linked).
    #[error("email already held by another user")]
    Email,
    /// The username is held by another local user.
    #[error("username already held by another local user")]
    Username,
    /// The Clerk id is already stored (a concurrent insert won the race).
    #[error("clerk id already stored")]
    ClerkId,
}

/// Whether a Clerk id never seen before may take over an existing local row holding the
/// same email. Off by default ([design §5](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#5-data-model-and-storage)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkPolicy {
    /// Never link: a held email is a [`Conflict::Email`].
    #[default]
    Never,
    /// Link when the incoming primary email is verified and the holder is a local row
    /// (no Clerk id) that is neither staff nor superuser; otherwise [`Conflict::Email`].
    VerifiedEmail,
}

/// A user named by its local id or its Clerk id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserRef {
    /// `clerk_users.id`.
    Id(UserId),
    /// `clerk_users.clerk_id`.
    ClerkId(String),
}

/// One write. Each variant documents its rule; the returned [`Effect`] says what happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// `user.created` / `user.updated` / sync / just-in-time fetch.
    ///
    /// Row with this Clerk id: deleted → [`Effect::Gone`]; `data.updated_at` ≤ stored →
    /// [`Effect::Unchanged`]; email held by *another* live row → [`Conflict::Email`]; else the
    /// Clerk-owned fields are overwritten → [`Effect::Updated`]. No row: email held by a live
    /// row → link per `link` ([`Effect::Linked`]) or [`Conflict::Email`]; else a new active
    /// row → [`Effect::Created`].
    UpsertUser {
        /// What Clerk says.
        data: ClerkUserData,
        /// Linking by email (off by default).
        link: LinkPolicy,
    },
    /// `user.deleted`: [`User::mark_deleted`](crate::model::User::mark_deleted) (inactive,
    /// `deleted_at = at`, Clerk data and email cleared) → [`Effect::Deleted`]; already deleted
    /// → [`Effect::Gone`]; unknown Clerk id → a tombstone row → [`Effect::Deleted`].
    DeleteUser {
        /// Clerk user id.
        clerk_id: String,
        /// When Clerk deleted it (the event's timestamp).
        at: UnixTime,
    },
    /// `session.created` or a local login: `last_login = max(last_login, at)` →
    /// [`Effect::Updated`] or [`Effect::Unchanged`]; unknown user → [`Effect::NotFound`];
    /// deleted → [`Effect::Gone`].
    RecordLogin {
        /// Whose.
        user: UserRef,
        /// When.
        at: UnixTime,
    },
    /// `session.ended`/`removed`/`revoked` or a local logout: `last_logout = max(…, at)`,
    /// otherwise as [`Change::RecordLogin`].
    RecordLogout {
        /// Whose.
        user: UserRef,
        /// When.
        at: UnixTime,
    },
    /// Adds a session to the revoked set → [`Effect::Created`]; already there →
    /// [`Effect::Unchanged`] (the first report is kept).
    RevokeSession(RevokedSession),
    /// `organization.created`/`updated`: as [`Change::UpsertUser`] without emails or linking.
    UpsertOrganization(ClerkOrganizationData),
    /// `organization.deleted`: the row becomes a tombstone (written when unknown) and its live
    /// memberships are ended (tombstones with `deleted_at = at`) → [`Effect::Deleted`];
    /// already deleted → [`Effect::Gone`].
    DeleteOrganization {
        /// Clerk organization id.
        clerk_id: String,
        /// When.
        at: UnixTime,
    },
    /// `organizationMembership.created`/`updated`: ordered like users; the membership or its
    /// organization deleted → [`Effect::Gone`]. An unknown organization is fine (events
    /// arrive in any order). `(organization, user)` is deliberately not unique: a membership
    /// re-created under a new id may arrive before the old one's deletion.
    UpsertMembership(ClerkMembershipData),
    /// `organizationMembership.deleted`: the row becomes a tombstone (written when unknown) →
    /// [`Effect::Deleted`]; already deleted → [`Effect::Gone`].
    DeleteMembership {
        /// Clerk membership id.
        clerk_id: String,
        /// The organization's Clerk id (for a tombstone).
        organization_clerk_id: String,
        /// The user's Clerk id (for a tombstone).
        user_clerk_id: String,
        /// When.
        at: UnixTime,
    },
    /// `organizationInvitation.*`: ordered like users (status changes are updates).
    UpsertInvitation(ClerkInvitationData),
    /// A local (password) user → [`Effect::Created`] with its id; email or username held →
    /// a [`Conflict`].
    CreateLocalUser(NewLocalUser),
    /// Application-owned fields of any user → [`Effect::Updated`], [`Effect::Unchanged`],
    /// [`Effect::NotFound`], or [`Effect::Gone`] for a deleted user.
    UpdateLocalFields {
        /// Which user.
        id: UserId,
        /// What to change.
        patch: LocalUserPatch,
    },
    /// An operator's retry of a held delivery ([`HeldEvent`]): as [`Change::UpsertUser`],
    /// except that data stamped *equal* to the stored row is written too — the held delivery
    /// already wrote that stamp without its email, so only a strictly older stamp is
    /// [`Effect::Unchanged`] (a newer delivery superseded the held one).
    ReapplyUser {
        /// What Clerk said (the held [`HeldEvent::user`]).
        data: ClerkUserData,
        /// Linking by email (off by default).
        link: LinkPolicy,
    },
    /// Marks the held delivery `svix_id` resolved at the batch's `now` → [`Effect::Updated`];
    /// already resolved → [`Effect::Unchanged`]; not held → [`Effect::NotFound`].
    ReleaseHeld {
        /// The held delivery's svix id.
        svix_id: String,
    },
}

/// What a [`Change`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Effect {
    /// A new row.
    Created,
    /// An existing row changed.
    Updated,
    /// A Clerk id was attached to an existing local row by email ([`LinkPolicy`]).
    Linked,
    /// A row was soft-deleted, or a tombstone written.
    Deleted,
    /// Nothing changed: older or equal data, or a repeat.
    Unchanged,
    /// Nothing changed: the target was deleted in Clerk.
    Gone,
    /// Nothing changed: the target does not exist.
    NotFound,
}

impl Effect {
    /// Whether the store changed.
    #[must_use]
    pub fn changed(self) -> bool {
        matches!(
            self,
            Effect::Created | Effect::Updated | Effect::Linked | Effect::Deleted
        )
    }
}

/// The result of one [`Change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Applied {
    /// What happened.
    pub effect: Effect,
    /// The local id of the user row concerned, for user changes that found or made one.
    pub user_id: Option<UserId>,
}

impl Applied {
    /// An outcome without a user row.
    #[must_use]
    pub fn new(effect: Effect) -> Self {
        Applied {
            effect,
            user_id: None,
        }
    }

    /// An outcome for user row `id`.
    #[must_use]
    pub fn user(effect: Effect, id: UserId) -> Self {
        Applied {
            effect,
            user_id: Some(id),
        }
    }
}

/// A unit of work: changes applied all together or not at all, optionally recorded in the
/// webhook ledger in the same transaction.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WriteBatch {
    /// The instant used for local `created_at`/`updated_at` and the receipt's `processed_at`.
    pub now: UnixTime,
    /// The webhook delivery this batch applies, if any.
    pub receipt: Option<WebhookEvent>,
    /// The changes, applied in order.
    pub changes: Vec<Change>,
    /// Kept with the receipt when the delivery could only be applied in part
    /// ([`WriteBatch::with_hold`]).
    pub hold: Option<HeldEvent>,
}

impl WriteBatch {
    /// An empty batch at `now`.
    #[must_use]
    pub fn new(now: UnixTime) -> Self {
        WriteBatch {
            now,
            receipt: None,
            changes: Vec::new(),
            hold: None,
        }
    }

    /// A batch holding one change.
    #[must_use]
    pub fn single(now: UnixTime, change: Change) -> Self {
        WriteBatch::new(now).with(change)
    }

    /// Records `svix_id` (of `event_type`) in the ledger with this batch. An empty batch with
    /// a receipt only records the delivery (an ignored event type).
    #[must_use]
    pub fn with_receipt(
        mut self,
        svix_id: impl Into<String>,
        event_type: impl Into<String>,
    ) -> Self {
        self.receipt = Some(WebhookEvent::new(svix_id, event_type, self.now));
        self
    }

    /// Holds the delivery of the receipt ([`WriteBatch::with_receipt`], which must come
    /// first) for an operator: `user` is what Clerk said in full, `reason` why the batch's
    /// changes could not apply it as is. Written in the batch's transaction, so a held
    /// delivery is acknowledged and kept, or neither.
    ///
    /// # Panics
    /// Without a receipt (a programming error: only a webhook delivery is held).
    #[must_use]
    pub fn with_hold(mut self, reason: HoldReason, user: ClerkUserData) -> Self {
        let receipt = self
            .receipt
            .as_ref()
            .expect("WriteBatch::with_hold needs with_receipt first");
        self.hold = Some(HeldEvent::new(
            receipt.svix_id.clone(),
            receipt.event_type.clone(),
            reason,
            user,
            self.now,
        ));
        self
    }

    /// Appends a change.
    #[must_use]
    pub fn with(mut self, change: Change) -> Self {
        self.changes.push(change);
        self
    }

    /// Appends a change.
    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }
}

/// What [`StoreWriter::apply`] did with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum BatchOutcome {
    /// The batch was committed (with its receipt, if any): one entry per change, in order.
    Applied(Vec<Applied>),
    /// The receipt's svix id was already in the ledger: nothing was written.
    AlreadyProcessed(WebhookEvent),
}

impl BatchOutcome {
    /// The per-change results of an applied batch (empty for a duplicate).
    #[must_use]
    pub fn applied(&self) -> &[Applied] {
        match self {
            BatchOutcome::Applied(v) => v,
            BatchOutcome::AlreadyProcessed(_) => &[],
        }
    }
}

/// User reads.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user with local id `id`.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with Clerk id `clerk_id`, deleted ones (and tombstones) included.
    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError>;

    /// The user that is not deleted holding `email` (ASCII case-insensitive).
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// The local user (no Clerk id) that is not deleted with login name `username` (exact).
    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// Up to `limit` users with ids greater than `after` (all when `None`), ascending by id,
    /// deleted ones included. Pages are stable under concurrent inserts.
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError>;
}

/// Organization, membership and invitation reads.
#[async_trait]
pub trait OrganizationStore: Send + Sync {
    /// The organization with Clerk id `clerk_id`, deleted ones included.
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError>;

    /// Up to `limit` organizations with Clerk ids greater than `after`, ascending by Clerk id,
    /// deleted ones included.
    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError>;

    /// The membership with Clerk id `clerk_id`, ended ones included.
    async fn membership(&self, clerk_id: &str) -> Result<Option<Membership>, StoreError>;

    /// The live memberships of a user, ascending by organization Clerk id, then membership
    /// Clerk id.
    async fn memberships_of_user(&self, user_clerk_id: &str)
        -> Result<Vec<Membership>, StoreError>;

    /// The live memberships of an organization, ascending by user Clerk id, then membership
    /// Clerk id.
    async fn memberships_of_organization(
        &self,
        organization_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError>;

    /// The invitation with Clerk id `clerk_id`.
    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError>;
}

/// The processed-webhook ledger and the revoked-session set.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// The ledger entry for `svix_id`, if that delivery was applied.
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError>;

    /// The revoked-session entry for `session_id`.
    async fn revoked_session(&self, session_id: &str)
        -> Result<Option<RevokedSession>, StoreError>;

    /// The held delivery `svix_id` ([`HeldEvent`]), resolved or not.
    async fn held_event(&self, svix_id: &str) -> Result<Option<HeldEvent>, StoreError>;

    /// Up to `limit` deliveries still held, oldest first.
    async fn held_events(&self, limit: usize) -> Result<Vec<HeldEvent>, StoreError>;

    /// How many deliveries are still held.
    async fn count_held_events(&self) -> Result<u64, StoreError>;
}

/// The one write method. See the [module docs](self) for the contract.
#[async_trait]
pub trait StoreWriter: Send + Sync {
    /// Applies `batch` atomically: all its changes and its receipt, or nothing.
    ///
    /// Returns [`BatchOutcome::AlreadyProcessed`] (and writes nothing) when the receipt's
    /// svix id is already in the ledger, even when the other delivery is being committed
    /// concurrently by another process. On `Err`, nothing was written.
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError>;
}

/// Failed staff logins, counted by key for the login throttle
/// ([`login_throttle`](crate::login_throttle)): `user:<lower-cased username>` and
/// `addr:<client address>`. Kept in the store so that instances sharing a database share the
/// counts. These are not part of [`WriteBatch`]es: each call stands alone (a failure recorded
/// while a login is refused must stay recorded).
#[async_trait]
pub trait LoginAttemptStore: Send + Sync {
    /// Records one failure at `at` under each of `keys`, and forgets every failure (of any
    /// key) recorded before `forget_before`, so the table stays as small as the windows.
    /// The same key and instant recorded twice count twice.
    async fn record_login_failure(
        &self,
        keys: &[&str],
        at: UnixTime,
        forget_before: UnixTime,
    ) -> Result<(), StoreError>;

    /// Up to `limit` of the most recent failures under `key` recorded at `since` or later,
    /// newest first.
    async fn recent_login_failures(
        &self,
        key: &str,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<UnixTime>, StoreError>;

    /// Forgets every failure under `key` (a successful login clears its username's count).
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
}

/// A complete store: implemented for every type that implements the five traits.
pub trait Store:
    UserStore + OrganizationStore + LedgerStore + StoreWriter + LoginAttemptStore
{
}

#[async_trait]
impl<T: UserStore + OrganizationStore + LedgerStore + StoreWriter + LoginAttemptStore> Store for T {}

// Shared stores: an `Arc<S>` is a store when `S` is.
#[async_trait]
impl<T: UserStore + ?Sized> UserStore for std::sync::Arc<T> {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        (**self).user(id).await
    }
    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        (**self).user_by_clerk_id(clerk_id).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        (**self).user_by_email(email).await
    }
    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        (**self).local_user_by_username(username).await
    }
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        (**self).list_users(after, limit).await
    }
}

#[async_trait]
impl<T: OrganizationStore + ?Sized> OrganizationStore for std::sync::Arc<T> {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        (**self).organization(clerk_id).await
    }
    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        (**self).list_organizations(after, limit).await
    }
    async fn membership(&self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        (**self).membership(clerk_id).await
    }
    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        (**self).memberships_of_user(user_clerk_id).await
    }
    async fn memberships_of_organization(
        &self,
        organization_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        (**self)
            .memberships_of_organization(organization_clerk_id)
            .await
    }
    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        (**self).invitation(clerk_id).await
    }
}

#[async_trait]
impl<T: LedgerStore + ?Sized> LedgerStore for std::sync::Arc<T> {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        (**self).webhook_event(svix_id).await
    }
    async fn revoked_session(
        &self,
        session_id: &str,
    ) -> Result<Option<RevokedSession>, StoreError> {
        (**self).revoked_session(session_id).await
    }
    async fn held_event(&self, svix_id: &str) -> Result<Option<HeldEvent>, StoreError> {
        (**self).held_event(svix_id).await
    }
    async fn held_events(&self, limit: usize) -> Result<Vec<HeldEvent>, StoreError> {
        (**self).held_events(limit).await
    }
    async fn count_held_events(&self) -> Result<u64, StoreError> {
        (**self).count_held_events().await
    }
}

#[async_trait]
impl<T: StoreWriter + ?Sized> StoreWriter for std::sync::Arc<T> {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        (**self).apply(batch).await
    }
}

#[async_trait]
impl<T: LoginAttemptStore + ?Sized> LoginAttemptStore for std::sync::Arc<T> {
    async fn record_login_failure(
        &self,
        keys: &[&str],
        at: UnixTime,
        forget_before: UnixTime,
    ) -> Result<(), StoreError> {
        (**self).record_login_failure(keys, at, forget_before).await
    }
    async fn recent_login_failures(
        &self,
        key: &str,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<UnixTime>, StoreError> {
        (**self).recent_login_failures(key, since, limit).await
    }
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        (**self).clear_login_failures(key).await
    }
}
