//! The change-application logic, written once: [`apply_batch`] walks a [`WriteBatch`] over a
//! backend's [`ChangeTarget`] — the small set of storage primitives a backend implements
//! inside its own transaction.
//!
//! A backend's [`StoreWriter::apply`](super::StoreWriter::apply) becomes: begin a
//! transaction, wrap it in its `ChangeTarget`, call [`apply_batch`], then commit on
//! [`BatchOutcome::Applied`] and roll back otherwise (an `Err` or
//! [`BatchOutcome::AlreadyProcessed`]). The decision tree over every [`Change`] lives here,
//! in the crate that owns `Change`, so it is exhaustive: a new variant fails to compile here
//! rather than reaching a backend's catch-all at run time. The decisions themselves are the
//! pure functions of [`rules`].
//!
//! Concurrency is the target's business: [`ChangeTarget::lock`] is called before every read
//! a decision depends on (PostgreSQL takes a transaction-scoped advisory lock, a backend with
//! a global write lock does nothing), and reads made through the target are reads *for
//! update* (`SELECT … FOR UPDATE` where the database has it).
//!
//! The enums here are deliberately exhaustive: a backend matches them completely, and a new
//! variant is a new primitive every backend must implement.
//!
//! # Implementing the primitives
//!
//! A complete (if naive) in-memory target: rows in vectors and maps, no locks (the caller
//! would hold one mutex for the whole batch), the receipt kept aside until the batch
//! succeeds. [`apply_batch`] does all the deciding.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use clerk_core::model::{
//!     same_email, ClerkUserData, HeldEvent, Invitation, Membership, Organization, RevokedSession,
//!     User, UserId, WebhookEvent,
//! };
//! use clerk_core::store::dispatch::{apply_batch, ChangeTarget, Release, SessionField, UserKey};
//! use clerk_core::store::{BatchOutcome, Change, Effect, LinkPolicy, StoreError, WriteBatch};
//! use clerk_core::time::UnixTime;
//!
//! #[derive(Default)]
//! struct Rows {
//!     users: Vec<User>,
//!     organizations: HashMap<String, Organization>,
//!     memberships: HashMap<String, Membership>,
//!     invitations: HashMap<String, Invitation>,
//!     receipts: HashMap<String, WebhookEvent>,
//!     revoked: HashMap<String, RevokedSession>,
//!     held: HashMap<String, HeldEvent>,
//!     pending_receipt: Option<WebhookEvent>,
//! }
//!
//! impl Rows {
//!     fn row(&mut self, id: UserId) -> Result<&mut User, StoreError> {
//!         self.users
//!             .iter_mut()
//!             .find(|u| u.id == id)
//!             .ok_or_else(|| StoreError::backend("no such row"))
//!     }
//! }
//!
//! impl ChangeTarget for Rows {
//!     async fn record_receipt(
//!         &mut self,
//!         receipt: &WebhookEvent,
//!     ) -> Result<Option<WebhookEvent>, StoreError> {
//!         if let Some(stored) = self.receipts.get(&receipt.svix_id) {
//!             return Ok(Some(stored.clone()));
//!         }
//!         self.pending_receipt = Some(receipt.clone());
//!         Ok(None)
//!     }
//!
//!     async fn hold_event(&mut self, held: &HeldEvent) -> Result<(), StoreError> {
//!         self.held.insert(held.svix_id.clone(), held.clone());
//!         Ok(())
//!     }
//!
//!     async fn release_held(&mut self, svix_id: &str, at: UnixTime) -> Result<Release, StoreError> {
//!         Ok(match self.held.get_mut(svix_id) {
//!             None => Release::NotHeld,
//!             Some(held) if held.is_resolved() => Release::AlreadyResolved,
//!             Some(held) => {
//!                 held.resolved_at = Some(at);
//!                 Release::Released
//!             }
//!         })
//!     }
//!
//!     async fn user(&mut self, key: UserKey<'_>) -> Result<Option<User>, StoreError> {
//!         let live = |u: &&User| !u.is_deleted();
//!         Ok(match key {
//!             UserKey::Id(id) => self.users.iter().find(|u| u.id == id),
//!             UserKey::ClerkId(c) => self.users.iter().find(|u| u.clerk_id.as_deref() == Some(c)),
//!             UserKey::LiveEmail(e) => self
//!                 .users
//!                 .iter()
//!                 .filter(live)
//!                 .find(|u| u.email.as_deref().is_some_and(|m| same_email(m, e))),
//!             UserKey::LocalUsername(n) => self
//!                 .users
//!                 .iter()
//!                 .filter(live)
//!                 .find(|u| u.is_local() && u.username.as_deref() == Some(n)),
//!         }
//!         .cloned())
//!     }
//!
//!     async fn insert_user(&mut self, user: &User) -> Result<UserId, StoreError> {
//!         let id = UserId(self.users.len() as i64 + 1);
//!         self.users.push(User { id, ..user.clone() });
//!         Ok(id)
//!     }
//!
//!     async fn write_clerk_fields(
//!         &mut self,
//!         id: UserId,
//!         data: &ClerkUserData,
//!         link: bool,
//!         now: UnixTime,
//!     ) -> Result<(), StoreError> {
//!         let row = self.row(id)?;
//!         if link {
//!             row.clerk_id = Some(data.clerk_id.clone());
//!         }
//!         row.apply_clerk(data, now);
//!         Ok(())
//!     }
//!
//!     async fn tombstone_user(
//!         &mut self,
//!         id: UserId,
//!         at: UnixTime,
//!         now: UnixTime,
//!     ) -> Result<(), StoreError> {
//!         self.row(id)?.mark_deleted(at, now);
//!         Ok(())
//!     }
//!
//!     async fn write_session(
//!         &mut self,
//!         id: UserId,
//!         field: SessionField,
//!         at: UnixTime,
//!         now: UnixTime,
//!     ) -> Result<(), StoreError> {
//!         let row = self.row(id)?;
//!         match field {
//!             SessionField::Login => row.last_login = Some(at),
//!             SessionField::Logout => row.last_logout = Some(at),
//!         }
//!         row.updated_at = now;
//!         Ok(())
//!     }
//!
//!     async fn write_local_fields(&mut self, user: &User) -> Result<(), StoreError> {
//!         let row = self.row(user.id)?;
//!         row.is_active = user.is_active;
//!         row.is_staff = user.is_staff;
//!         row.is_superuser = user.is_superuser;
//!         row.password_hash.clone_from(&user.password_hash);
//!         row.updated_at = user.updated_at;
//!         Ok(())
//!     }
//!
//!     async fn insert_revoked_session(
//!         &mut self,
//!         session: &RevokedSession,
//!     ) -> Result<bool, StoreError> {
//!         if self.revoked.contains_key(&session.session_id) {
//!             return Ok(false);
//!         }
//!         self.revoked.insert(session.session_id.clone(), session.clone());
//!         Ok(true)
//!     }
//!
//!     async fn organization(
//!         &mut self,
//!         clerk_id: &str,
//!         _for_update: bool,
//!     ) -> Result<Option<Organization>, StoreError> {
//!         Ok(self.organizations.get(clerk_id).cloned())
//!     }
//!
//!     async fn put_organization(&mut self, org: &Organization) -> Result<(), StoreError> {
//!         self.organizations.insert(org.clerk_id.clone(), org.clone());
//!         Ok(())
//!     }
//!
//!     async fn end_memberships(
//!         &mut self,
//!         organization_clerk_id: &str,
//!         at: UnixTime,
//!         now: UnixTime,
//!     ) -> Result<(), StoreError> {
//!         for m in self.memberships.values_mut() {
//!             if m.organization_clerk_id == organization_clerk_id && !m.is_deleted() {
//!                 m.mark_deleted(at, now);
//!             }
//!         }
//!         Ok(())
//!     }
//!
//!     async fn membership(&mut self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
//!         Ok(self.memberships.get(clerk_id).cloned())
//!     }
//!
//!     async fn put_membership(&mut self, m: &Membership) -> Result<(), StoreError> {
//!         self.memberships.insert(m.clerk_id.clone(), m.clone());
//!         Ok(())
//!     }
//!
//!     async fn invitation(&mut self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
//!         Ok(self.invitations.get(clerk_id).cloned())
//!     }
//!
//!     async fn put_invitation(&mut self, i: &Invitation) -> Result<(), StoreError> {
//!         self.invitations.insert(i.clerk_id.clone(), i.clone());
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), StoreError> {
//! let now = UnixTime::from_secs(1_700_000_000);
//! let data = ClerkUserData::new("user_1", now, now).with_email("ada@example.com", true);
//! let batch = WriteBatch::single(now, Change::UpsertUser { data, link: LinkPolicy::Never })
//!     .with_receipt("msg_1", "user.created");
//!
//! let mut rows = Rows::default();
//! let outcome = apply_batch(&mut rows, batch.clone()).await?;
//! assert_eq!(outcome.applied()[0].effect, Effect::Created);
//! // "Commit": keep the receipt the batch recorded.
//! let receipt = rows.pending_receipt.take().expect("recorded");
//! rows.receipts.insert(receipt.svix_id.clone(), receipt);
//!
//! // The same delivery again changes nothing.
//! let again = apply_batch(&mut rows, batch).await?;
//! assert!(matches!(again, BatchOutcome::AlreadyProcessed(_)));
//! assert_eq!(rows.users.len(), 1);
//! # Ok(())
//! # }
//! ```

use std::future::Future;

use crate::model::{
    ClerkUserData, HeldEvent, Invitation, Membership, Organization, RevokedSession, User, UserId,
    WebhookEvent,
};
use crate::store::rules::{self, Upsert, UserUpsert};
use crate::store::{
    Applied, BatchOutcome, Change, Effect, LinkPolicy, StoreError, UserRef, WriteBatch,
};
use crate::time::UnixTime;

/// Which namespace a [`ChangeTarget::lock`] key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// A user's Clerk id.
    User,
    /// An organization's Clerk id.
    Organization,
    /// A membership's Clerk id.
    Membership,
    /// An invitation's Clerk id.
    Invitation,
}

/// Whether a [`ChangeTarget::lock`] excludes other holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockMode {
    /// Several holders at once, none while an exclusive holder has it (a membership upsert
    /// holds its organization's key shared, so an organization deletion waits for it).
    Shared,
    /// One holder.
    Exclusive,
}

/// How [`ChangeTarget::user`] finds a user row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserKey<'a> {
    /// `clerk_users.id`.
    Id(UserId),
    /// `clerk_users.clerk_id`, deleted rows (tombstones) included.
    ClerkId(&'a str),
    /// The row that is not deleted holding this email (ASCII case-insensitive).
    LiveEmail(&'a str),
    /// The local row (no Clerk id) that is not deleted with this username (exact).
    LocalUsername(&'a str),
}

/// Which "last seen" instant [`ChangeTarget::write_session`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionField {
    /// `last_login`.
    Login,
    /// `last_logout`.
    Logout,
}

/// What [`ChangeTarget::release_held`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The delivery was held; it is resolved now.
    Released,
    /// The delivery was held and already resolved (nothing written).
    AlreadyResolved,
    /// No delivery is held under that svix id.
    NotHeld,
}

/// The storage primitives of one backend, inside one open transaction.
///
/// Every method reads or writes exactly what it says; none decides anything. Reads are made
/// for update (the row stays as read until the transaction ends). An `Err` from any method
/// aborts the batch, and the backend rolls its transaction back.
///
/// Methods return `impl Future + Send`: implement them with plain `async fn`.
pub trait ChangeTarget: Send {
    /// Serializes changes on `(kind, key)` until the transaction ends, for backends whose
    /// transactions can run concurrently. Called before the reads a decision depends on.
    /// The default does nothing (right for a backend that holds a global write lock).
    fn lock(
        &mut self,
        kind: LockKind,
        key: &str,
        mode: LockMode,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (kind, key, mode);
        async { Ok(()) }
    }

    /// Records the webhook receipt: `Ok(None)` when it was recorded now, `Ok(Some(stored))`
    /// when its svix id is already in the ledger (the batch then writes nothing). SQL
    /// backends insert with `ON CONFLICT DO NOTHING` so two concurrent deliveries of one
    /// svix id apply once.
    fn record_receipt(
        &mut self,
        receipt: &WebhookEvent,
    ) -> impl Future<Output = Result<Option<WebhookEvent>, StoreError>> + Send;

    /// Keeps `held` (a delivery acknowledged but applied only in part) beside the receipt
    /// just recorded; `held.svix_id` is that receipt's.
    fn hold_event(
        &mut self,
        held: &HeldEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks the held delivery `svix_id` resolved at `at` (what it was, see [`Release`]).
    fn release_held(
        &mut self,
        svix_id: &str,
        at: UnixTime,
    ) -> impl Future<Output = Result<Release, StoreError>> + Send;

    /// A faster path for the whole list of changes (a sync page of user upserts), or
    /// `Ok(None)` to apply them one by one. Must decide exactly as the one-by-one path would.
    /// The default always declines.
    fn apply_bulk(
        &mut self,
        changes: &[Change],
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<Vec<Applied>>, StoreError>> + Send {
        let _ = (changes, now);
        async { Ok(None) }
    }

    /// The user row found by `key`.
    fn user(
        &mut self,
        key: UserKey<'_>,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Inserts `user` (its `id` is ignored) and returns the new local id.
    fn insert_user(
        &mut self,
        user: &User,
    ) -> impl Future<Output = Result<UserId, StoreError>> + Send;

    /// Writes the Clerk-owned fields of row `id` from `data` (as
    /// [`User::apply_clerk`] does), and its `clerk_id` too when `link`.
    fn write_clerk_fields(
        &mut self,
        id: UserId,
        data: &ClerkUserData,
        link: bool,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Turns row `id` into a tombstone, as [`User::mark_deleted`] does.
    fn tombstone_user(
        &mut self,
        id: UserId,
        at: UnixTime,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Sets `last_login` or `last_logout` of row `id` to `at`, and `updated_at` to `now`.
    fn write_session(
        &mut self,
        id: UserId,
        field: SessionField,
        at: UnixTime,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes the application-owned fields of `user` (`is_active`, `is_staff`,
    /// `is_superuser`, `password_hash`, `updated_at`) to its row.
    fn write_local_fields(
        &mut self,
        user: &User,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds `session` to the revoked set: `true` when added, `false` when already there.
    fn insert_revoked_session(
        &mut self,
        session: &RevokedSession,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The organization with Clerk id `clerk_id`. `for_update` is `false` when the row only
    /// guards a decision about another row (its key is then held [`LockMode::Shared`]).
    fn organization(
        &mut self,
        clerk_id: &str,
        for_update: bool,
    ) -> impl Future<Output = Result<Option<Organization>, StoreError>> + Send;

    /// Inserts or overwrites the organization row `org.clerk_id`.
    fn put_organization(
        &mut self,
        org: &Organization,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends every live membership of organization `clerk_id`, as
    /// [`Membership::mark_deleted`] does.
    fn end_memberships(
        &mut self,
        organization_clerk_id: &str,
        at: UnixTime,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The membership with Clerk id `clerk_id`.
    fn membership(
        &mut self,
        clerk_id: &str,
    ) -> impl Future<Output = Result<Option<Membership>, StoreError>> + Send;

    /// Inserts or overwrites the membership row `membership.clerk_id`.
    fn put_membership(
        &mut self,
        membership: &Membership,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The invitation with Clerk id `clerk_id`.
    fn invitation(
        &mut self,
        clerk_id: &str,
    ) -> impl Future<Output = Result<Option<Invitation>, StoreError>> + Send;

    /// Inserts or overwrites the invitation row `invitation.clerk_id`.
    fn put_invitation(
        &mut self,
        invitation: &Invitation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Applies `batch` through `target`: the receipt first, then the bulk path or each change
/// in order. The caller commits on [`BatchOutcome::Applied`] and rolls back otherwise.
///
/// # Errors
/// The first error of a change or a primitive; the caller must roll back.
pub async fn apply_batch<T: ChangeTarget>(
    target: &mut T,
    batch: WriteBatch,
) -> Result<BatchOutcome, StoreError> {
    let WriteBatch {
        now,
        receipt,
        changes,
        hold,
    } = batch;
    if let Some(receipt) = &receipt {
        rules::require_id("svix id", &receipt.svix_id)?;
        if let Some(stored) = target.record_receipt(receipt).await? {
            return Ok(BatchOutcome::AlreadyProcessed(stored));
        }
    }
    if let Some(held) = &hold {
        if receipt.as_ref().map(|r| r.svix_id.as_str()) != Some(held.svix_id.as_str()) {
            return Err(StoreError::Invalid(
                "a held delivery needs the batch's receipt".into(),
            ));
        }
        target.hold_event(held).await?;
    }
    if let Some(applied) = target.apply_bulk(&changes, now).await? {
        return Ok(BatchOutcome::Applied(applied));
    }
    let mut applied = Vec::with_capacity(changes.len());
    for change in changes {
        applied.push(apply_change(target, change, now).await?);
    }
    Ok(BatchOutcome::Applied(applied))
}

fn effect_of(decision: Upsert) -> Effect {
    match decision {
        Upsert::Insert => Effect::Created,
        Upsert::Update => Effect::Updated,
        Upsert::Unchanged => Effect::Unchanged,
        Upsert::Gone => Effect::Gone,
    }
}

/// Applies one change through `target` (inside the batch's transaction).
///
/// # Errors
/// A refused change ([`StoreError::Conflict`], [`StoreError::Invalid`]) or a primitive's
/// error; the caller must roll back.
pub async fn apply_change<T: ChangeTarget>(
    target: &mut T,
    change: Change,
    now: UnixTime,
) -> Result<Applied, StoreError> {
    match change {
        Change::UpsertUser { data, link } => {
            upsert_user(target, &data, link, rules::user_upsert, now).await
        }
        Change::ReapplyUser { data, link } => {
            upsert_user(target, &data, link, rules::user_reapply, now).await
        }
        Change::ReleaseHeld { svix_id } => {
            rules::require_id("svix id", &svix_id)?;
            Ok(Applied::new(
                match target.release_held(&svix_id, now).await? {
                    Release::Released => Effect::Updated,
                    Release::AlreadyResolved => Effect::Unchanged,
                    Release::NotHeld => Effect::NotFound,
                },
            ))
        }
        Change::DeleteUser { clerk_id, at } => {
            rules::require_id("clerk user id", &clerk_id)?;
            target
                .lock(LockKind::User, &clerk_id, LockMode::Exclusive)
                .await?;
            match target.user(UserKey::ClerkId(&clerk_id)).await? {
                Some(row) if row.is_deleted() => Ok(Applied::user(Effect::Gone, row.id)),
                Some(row) => {
                    target.tombstone_user(row.id, at, now).await?;
                    Ok(Applied::user(Effect::Deleted, row.id))
                }
                None => {
                    let tomb = User::tombstone(UserId(0), &clerk_id, at, now);
                    let id = target.insert_user(&tomb).await?;
                    Ok(Applied::user(Effect::Deleted, id))
                }
            }
        }
        Change::RecordLogin { user, at } => {
            record_session(target, &user, SessionField::Login, at, now).await
        }
        Change::RecordLogout { user, at } => {
            record_session(target, &user, SessionField::Logout, at, now).await
        }
        Change::RevokeSession(session) => {
            rules::require_id("session id", &session.session_id)?;
            let inserted = target.insert_revoked_session(&session).await?;
            Ok(Applied::new(if inserted {
                Effect::Created
            } else {
                Effect::Unchanged
            }))
        }
        Change::UpsertOrganization(data) => {
            rules::require_id("clerk organization id", &data.clerk_id)?;
            target
                .lock(LockKind::Organization, &data.clerk_id, LockMode::Exclusive)
                .await?;
            let existing = target.organization(&data.clerk_id, true).await?;
            let decision = rules::ordered_upsert(
                existing
                    .as_ref()
                    .map(|o| (o.is_deleted(), o.clerk_updated_at)),
                data.updated_at,
            );
            let row = match (decision, existing) {
                (Upsert::Insert, _) => Some(Organization::from_clerk(&data, now)),
                (Upsert::Update, Some(mut org)) => {
                    org.apply_clerk(&data, now);
                    Some(org)
                }
                _ => None,
            };
            if let Some(row) = row {
                target.put_organization(&row).await?;
            }
            Ok(Applied::new(effect_of(decision)))
        }
        Change::DeleteOrganization { clerk_id, at } => {
            rules::require_id("clerk organization id", &clerk_id)?;
            // Exclusive: waits for membership upserts of this organization in flight (they
            // hold it shared), so none adds a live membership after this ends the live ones.
            target
                .lock(LockKind::Organization, &clerk_id, LockMode::Exclusive)
                .await?;
            let row = match target.organization(&clerk_id, true).await? {
                Some(org) if org.is_deleted() => return Ok(Applied::new(Effect::Gone)),
                Some(mut org) => {
                    org.mark_deleted(at, now);
                    org
                }
                None => Organization::tombstone(&clerk_id, at, now),
            };
            target.put_organization(&row).await?;
            target.end_memberships(&clerk_id, at, now).await?;
            Ok(Applied::new(Effect::Deleted))
        }
        Change::UpsertMembership(data) => {
            rules::require_id("clerk membership id", &data.clerk_id)?;
            rules::require_id("clerk organization id", &data.organization_clerk_id)?;
            rules::require_id("clerk user id", &data.user_clerk_id)?;
            target
                .lock(
                    LockKind::Organization,
                    &data.organization_clerk_id,
                    LockMode::Shared,
                )
                .await?;
            target
                .lock(LockKind::Membership, &data.clerk_id, LockMode::Exclusive)
                .await?;
            let org_deleted = target
                .organization(&data.organization_clerk_id, false)
                .await?
                .is_some_and(|o| o.is_deleted());
            if org_deleted {
                return Ok(Applied::new(Effect::Gone));
            }
            let existing = target.membership(&data.clerk_id).await?;
            let decision = rules::ordered_upsert(
                existing
                    .as_ref()
                    .map(|m| (m.is_deleted(), m.clerk_updated_at)),
                data.updated_at,
            );
            let row = match (decision, existing) {
                (Upsert::Insert, _) => Some(Membership::from_clerk(&data, now)),
                (Upsert::Update, Some(mut m)) => {
                    m.apply_clerk(&data, now);
                    Some(m)
                }
                _ => None,
            };
            if let Some(row) = row {
                target.put_membership(&row).await?;
            }
            Ok(Applied::new(effect_of(decision)))
        }
        Change::DeleteMembership {
            clerk_id,
            organization_clerk_id,
            user_clerk_id,
            at,
        } => {
            rules::require_id("clerk membership id", &clerk_id)?;
            target
                .lock(LockKind::Membership, &clerk_id, LockMode::Exclusive)
                .await?;
            let row = match target.membership(&clerk_id).await? {
                Some(m) if m.is_deleted() => return Ok(Applied::new(Effect::Gone)),
                Some(mut m) => {
                    m.mark_deleted(at, now);
                    m
                }
                None => Membership::tombstone(
                    &clerk_id,
                    &organization_clerk_id,
                    &user_clerk_id,
                    at,
                    now,
                ),
            };
            target.put_membership(&row).await?;
            Ok(Applied::new(Effect::Deleted))
        }
        Change::UpsertInvitation(data) => {
            rules::require_id("clerk invitation id", &data.clerk_id)?;
            target
                .lock(LockKind::Invitation, &data.clerk_id, LockMode::Exclusive)
                .await?;
            let existing = target.invitation(&data.clerk_id).await?;
            let decision = rules::ordered_upsert(
                existing.as_ref().map(|i| (false, i.clerk_updated_at)),
                data.updated_at,
            );
            let row = match (decision, existing) {
                (Upsert::Insert, _) => Some(Invitation::from_clerk(&data, now)),
                (Upsert::Update, Some(mut i)) => {
                    i.apply_clerk(&data, now);
                    Some(i)
                }
                _ => None,
            };
            if let Some(row) = row {
                target.put_invitation(&row).await?;
            }
            Ok(Applied::new(effect_of(decision)))
        }
        Change::CreateLocalUser(new) => {
            // No row to lock when the name is free: two creations racing on one username (or
            // email) meet on the backend's unique index, which reports the same `Conflict`.
            let email_holder = match new.email.as_deref() {
                Some(email) => target.user(UserKey::LiveEmail(email)).await?,
                None => None,
            };
            let username_holder = target.user(UserKey::LocalUsername(&new.username)).await?;
            rules::local_user_create(
                &new.username,
                email_holder.as_ref(),
                username_holder.as_ref(),
            )?;
            let id = target
                .insert_user(&User::from_local(UserId(0), &new, now))
                .await?;
            Ok(Applied::user(Effect::Created, id))
        }
        Change::UpdateLocalFields { id, patch } => {
            let Some(mut user) = target.user(UserKey::Id(id)).await? else {
                return Ok(Applied::new(Effect::NotFound));
            };
            if user.is_deleted() {
                return Ok(Applied::user(Effect::Gone, id));
            }
            if !patch.apply_to(&mut user, now) {
                return Ok(Applied::user(Effect::Unchanged, id));
            }
            target.write_local_fields(&user).await?;
            Ok(Applied::user(Effect::Updated, id))
        }
    }
}

/// The decision [`Change::UpsertUser`] or [`Change::ReapplyUser`] takes.
type UserDecision =
    fn(Option<&User>, Option<&User>, &ClerkUserData, LinkPolicy) -> Result<UserUpsert, StoreError>;

async fn upsert_user<T: ChangeTarget>(
    target: &mut T,
    data: &ClerkUserData,
    link: LinkPolicy,
    decide: UserDecision,
    now: UnixTime,
) -> Result<Applied, StoreError> {
    rules::require_id("clerk user id", &data.clerk_id)?;
    target
        .lock(LockKind::User, &data.clerk_id, LockMode::Exclusive)
        .await?;
    let existing = target.user(UserKey::ClerkId(&data.clerk_id)).await?;
    let holder = match data.email.as_deref() {
        Some(email) => target.user(UserKey::LiveEmail(email)).await?,
        None => None,
    };
    Ok(
        match decide(existing.as_ref(), holder.as_ref(), data, link)? {
            UserUpsert::Insert => {
                let id = target
                    .insert_user(&User::from_clerk(UserId(0), data, now))
                    .await?;
                Applied::user(Effect::Created, id)
            }
            UserUpsert::Update(id) => {
                target.write_clerk_fields(id, data, false, now).await?;
                Applied::user(Effect::Updated, id)
            }
            UserUpsert::Link(id) => {
                target.write_clerk_fields(id, data, true, now).await?;
                Applied::user(Effect::Linked, id)
            }
            UserUpsert::Unchanged(id) => Applied::user(Effect::Unchanged, id),
            UserUpsert::Gone(id) => Applied::user(Effect::Gone, id),
        },
    )
}

async fn record_session<T: ChangeTarget>(
    target: &mut T,
    user: &UserRef,
    field: SessionField,
    at: UnixTime,
    now: UnixTime,
) -> Result<Applied, StoreError> {
    let key = match user {
        UserRef::Id(id) => UserKey::Id(*id),
        UserRef::ClerkId(clerk_id) => UserKey::ClerkId(clerk_id),
    };
    let Some(row) = target.user(key).await? else {
        return Ok(Applied::new(Effect::NotFound));
    };
    if row.is_deleted() {
        return Ok(Applied::user(Effect::Gone, row.id));
    }
    let stored = match field {
        SessionField::Login => row.last_login,
        SessionField::Logout => row.last_logout,
    };
    let Some(at) = rules::later(stored, at) else {
        return Ok(Applied::user(Effect::Unchanged, row.id));
    };
    target.write_session(row.id, field, at, now).await?;
    Ok(Applied::user(Effect::Updated, row.id))
}
