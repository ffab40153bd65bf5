//! [`MemoryStore`]: the whole store contract in process memory.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use clerk_core::model::{
    same_email, ClerkUserData, HeldEvent, Invitation, Membership, Organization, RevokedSession,
    User, UserId, WebhookEvent,
};
use clerk_core::store::dispatch::{self, ChangeTarget, Release, SessionField, UserKey};
use clerk_core::store::{
    BatchOutcome, LedgerStore, LoginAttemptStore, OrganizationStore, StoreError, StoreWriter,
    UserStore, WriteBatch,
};
use clerk_core::time::UnixTime;

/// A complete store held in memory, behind one mutex.
///
/// Cloning is cheap and clones share the data. A batch is atomic: it is applied to a copy of
/// the state that replaces the original only when every change succeeded (a single-change
/// batch is applied in place, because every change checks before it writes). Nothing is
/// persisted: a restart forgets everything, so use it for tests, demos and single-process
/// services whose mirror can be rebuilt with `clerk sync`.
///
/// Lookups by local id, Clerk id, live email (ASCII case-insensitive) and live local username
/// are indexed; every change to a user row goes through one function that keeps the indexes
/// in step.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Clone, Default)]
struct State {
    last_user_id: i64,
    users: BTreeMap<UserId, User>,
    user_by_clerk_id: HashMap<String, UserId>,
    /// Live (not deleted) users by ASCII-lower-cased email; the rules keep emails unique.
    live_user_by_email: HashMap<String, UserId>,
    /// Live local users by username.
    live_local_user_by_username: HashMap<String, UserId>,
    organizations: BTreeMap<String, Organization>,
    memberships: BTreeMap<String, Membership>,
    invitations: BTreeMap<String, Invitation>,
    webhook_events: HashMap<String, WebhookEvent>,
    held_events: BTreeMap<String, HeldEvent>,
    revoked_sessions: HashMap<String, RevokedSession>,
    /// Failed staff logins by key, oldest first (recorded in arrival order).
    login_failures: HashMap<String, Vec<UnixTime>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Changes check before they write and batches run on a copy, so a panic while the
        // lock was held cannot have left a half-applied batch behind.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn missing_row(id: UserId) -> StoreError {
    StoreError::backend(format!("memory store index names missing user row {id}"))
}

impl State {
    fn next_user_id(&mut self) -> UserId {
        self.last_user_id += 1;
        UserId(self.last_user_id)
    }

    fn insert_user(&mut self, user: User) {
        self.index(&user);
        self.users.insert(user.id, user);
    }

    /// The one way to change a user row: unindexes it, runs `change`, indexes it again.
    fn update_user<T>(
        &mut self,
        id: UserId,
        change: impl FnOnce(&mut User) -> T,
    ) -> Result<T, StoreError> {
        let mut user = self.users.remove(&id).ok_or_else(|| missing_row(id))?;
        self.unindex(&user);
        let result = change(&mut user);
        self.insert_user(user);
        Ok(result)
    }

    fn index(&mut self, user: &User) {
        if let Some(clerk_id) = &user.clerk_id {
            self.user_by_clerk_id.insert(clerk_id.clone(), user.id);
        }
        if user.is_deleted() {
            return;
        }
        if let Some(email) = &user.email {
            self.live_user_by_email
                .insert(email.to_ascii_lowercase(), user.id);
        }
        if let (true, Some(username)) = (user.is_local(), &user.username) {
            self.live_local_user_by_username
                .insert(username.clone(), user.id);
        }
    }

    /// Removes `user`'s email and username entries (only where they name this row).
    fn unindex(&mut self, user: &User) {
        if let Some(email) = &user.email {
            let key = email.to_ascii_lowercase();
            if self.live_user_by_email.get(&key) == Some(&user.id) {
                self.live_user_by_email.remove(&key);
            }
        }
        if let Some(username) = &user.username {
            if self.live_local_user_by_username.get(username) == Some(&user.id) {
                self.live_local_user_by_username.remove(username);
            }
        }
    }

    fn by_clerk_id(&self, clerk_id: &str) -> Option<&User> {
        self.user_by_clerk_id
            .get(clerk_id)
            .and_then(|id| self.users.get(id))
    }

    fn live_email_holder(&self, email: &str) -> Option<&User> {
        self.live_user_by_email
            .get(&email.to_ascii_lowercase())
            .and_then(|id| self.users.get(id))
            .filter(|u| !u.is_deleted() && u.email.as_deref().is_some_and(|e| same_email(e, email)))
    }

    fn live_local_username_holder(&self, username: &str) -> Option<&User> {
        self.live_local_user_by_username
            .get(username)
            .and_then(|id| self.users.get(id))
            .filter(|u| u.is_local() && !u.is_deleted() && u.username.as_deref() == Some(username))
    }
}

/// The memory store's [`ChangeTarget`]: the state a batch runs on (the store's own, or a
/// copy), and the receipt to record once every change succeeded.
struct Tx<'a> {
    state: &'a mut State,
    receipt: Option<WebhookEvent>,
    held: Option<HeldEvent>,
}

impl Tx<'_> {
    /// Runs `change` on row `id` (which the dispatcher has just read).
    fn update(&mut self, id: UserId, change: impl FnOnce(&mut User)) -> Result<(), StoreError> {
        self.state.update_user(id, change)
    }
}

// Every primitive checks before it writes (or cannot fail), so a change that fails has
// written nothing: a single-change batch can run on the store's own state.
impl ChangeTarget for Tx<'_> {
    async fn record_receipt(
        &mut self,
        receipt: &WebhookEvent,
    ) -> Result<Option<WebhookEvent>, StoreError> {
        if let Some(done) = self.state.webhook_events.get(&receipt.svix_id) {
            return Ok(Some(done.clone()));
        }
        self.receipt = Some(receipt.clone());
        Ok(None)
    }

    async fn hold_event(&mut self, held: &HeldEvent) -> Result<(), StoreError> {
        // Kept aside like the receipt, and written only once the batch succeeded.
        self.held = Some(held.clone());
        Ok(())
    }

    async fn release_held(&mut self, svix_id: &str, at: UnixTime) -> Result<Release, StoreError> {
        Ok(match self.state.held_events.get_mut(svix_id) {
            None => Release::NotHeld,
            Some(held) if held.is_resolved() => Release::AlreadyResolved,
            Some(held) => {
                held.resolved_at = Some(at);
                Release::Released
            }
        })
    }

    async fn user(&mut self, key: UserKey<'_>) -> Result<Option<User>, StoreError> {
        let state = &*self.state;
        Ok(match key {
            UserKey::Id(id) => state.users.get(&id),
            UserKey::ClerkId(clerk_id) => state.by_clerk_id(clerk_id),
            UserKey::LiveEmail(email) => state.live_email_holder(email),
            UserKey::LocalUsername(username) => state.live_local_username_holder(username),
        }
        .cloned())
    }

    async fn insert_user(&mut self, user: &User) -> Result<UserId, StoreError> {
        let id = self.state.next_user_id();
        let mut user = user.clone();
        user.id = id;
        self.state.insert_user(user);
        Ok(id)
    }

    async fn write_clerk_fields(
        &mut self,
        id: UserId,
        data: &ClerkUserData,
        link: bool,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.update(id, |user| {
            if link {
                user.clerk_id = Some(data.clerk_id.clone());
            }
            user.apply_clerk(data, now);
        })
    }

    async fn tombstone_user(
        &mut self,
        id: UserId,
        at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.update(id, |user| user.mark_deleted(at, now))
    }

    async fn write_session(
        &mut self,
        id: UserId,
        field: SessionField,
        at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.update(id, |user| {
            match field {
                SessionField::Logout => user.last_logout = Some(at),
                SessionField::Login => user.last_login = Some(at),
            }
            user.updated_at = now;
        })
    }

    async fn write_local_fields(&mut self, user: &User) -> Result<(), StoreError> {
        self.update(user.id, |row| {
            row.is_active = user.is_active;
            row.is_staff = user.is_staff;
            row.is_superuser = user.is_superuser;
            row.password_hash.clone_from(&user.password_hash);
            row.updated_at = user.updated_at;
        })
    }

    async fn insert_revoked_session(
        &mut self,
        session: &RevokedSession,
    ) -> Result<bool, StoreError> {
        let sessions = &mut self.state.revoked_sessions;
        if sessions.contains_key(&session.session_id) {
            return Ok(false);
        }
        sessions.insert(session.session_id.clone(), session.clone());
        Ok(true)
    }

    async fn organization(
        &mut self,
        clerk_id: &str,
        _for_update: bool,
    ) -> Result<Option<Organization>, StoreError> {
        Ok(self.state.organizations.get(clerk_id).cloned())
    }

    async fn put_organization(&mut self, org: &Organization) -> Result<(), StoreError> {
        let orgs = &mut self.state.organizations;
        orgs.insert(org.clerk_id.clone(), org.clone());
        Ok(())
    }

    async fn end_memberships(
        &mut self,
        organization_clerk_id: &str,
        at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        for m in self.state.memberships.values_mut() {
            if m.organization_clerk_id == organization_clerk_id && !m.is_deleted() {
                m.mark_deleted(at, now);
            }
        }
        Ok(())
    }

    async fn membership(&mut self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        Ok(self.state.memberships.get(clerk_id).cloned())
    }

    async fn put_membership(&mut self, membership: &Membership) -> Result<(), StoreError> {
        let memberships = &mut self.state.memberships;
        memberships.insert(membership.clerk_id.clone(), membership.clone());
        Ok(())
    }

    async fn invitation(&mut self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        Ok(self.state.invitations.get(clerk_id).cloned())
    }

    async fn put_invitation(&mut self, invitation: &Invitation) -> Result<(), StoreError> {
        let invitations = &mut self.state.invitations;
        invitations.insert(invitation.clerk_id.clone(), invitation.clone());
        Ok(())
    }
}

#[clerk_core::store::async_trait]
impl UserStore for MemoryStore {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.lock().by_clerk_id(clerk_id).cloned())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(self.lock().live_email_holder(email).cloned())
    }

    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(self.lock().live_local_username_holder(username).cloned())
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let state = self.lock();
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(state
            .users
            .range((from, Bound::Unbounded))
            .take(limit)
            .map(|(_, u)| u.clone())
            .collect())
    }
}

#[clerk_core::store::async_trait]
impl OrganizationStore for MemoryStore {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        Ok(self.lock().organizations.get(clerk_id).cloned())
    }

    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        let state = self.lock();
        Ok(state
            .organizations
            .values()
            .filter(|o| after.is_none_or(|a| o.clerk_id.as_str() > a))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn membership(&self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        Ok(self.lock().memberships.get(clerk_id).cloned())
    }

    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        let state = self.lock();
        let mut found: Vec<Membership> = state
            .memberships
            .values()
            .filter(|m| !m.is_deleted() && m.user_clerk_id == user_clerk_id)
            .cloned()
            .collect();
        // Stable: ties keep the membership-id order of the map.
        found.sort_by(|a, b| a.organization_clerk_id.cmp(&b.organization_clerk_id));
        Ok(found)
    }

    async fn memberships_of_organization(
        &self,
        organization_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        let state = self.lock();
        let mut found: Vec<Membership> = state
            .memberships
            .values()
            .filter(|m| !m.is_deleted() && m.organization_clerk_id == organization_clerk_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.user_clerk_id.cmp(&b.user_clerk_id));
        Ok(found)
    }

    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        Ok(self.lock().invitations.get(clerk_id).cloned())
    }
}

#[clerk_core::store::async_trait]
impl LedgerStore for MemoryStore {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        Ok(self.lock().webhook_events.get(svix_id).cloned())
    }

    async fn revoked_session(
        &self,
        session_id: &str,
    ) -> Result<Option<RevokedSession>, StoreError> {
        Ok(self.lock().revoked_sessions.get(session_id).cloned())
    }

    async fn held_event(&self, svix_id: &str) -> Result<Option<HeldEvent>, StoreError> {
        Ok(self.lock().held_events.get(svix_id).cloned())
    }

    async fn held_events(&self, limit: usize) -> Result<Vec<HeldEvent>, StoreError> {
        let mut held: Vec<HeldEvent> = self
            .lock()
            .held_events
            .values()
            .filter(|h| !h.is_resolved())
            .cloned()
            .collect();
        held.sort_by(|a, b| (a.held_at, &a.svix_id).cmp(&(b.held_at, &b.svix_id)));
        held.truncate(limit);
        Ok(held)
    }

    async fn count_held_events(&self) -> Result<u64, StoreError> {
        let state = self.lock();
        Ok(state
            .held_events
            .values()
            .filter(|h| !h.is_resolved())
            .count() as u64)
    }
}

#[clerk_core::store::async_trait]
impl LoginAttemptStore for MemoryStore {
    async fn record_login_failure(
        &self,
        keys: &[&str],
        at: UnixTime,
        forget_before: UnixTime,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let failures = &mut state.login_failures;
        failures.retain(|_, times| {
            times.retain(|t| *t >= forget_before);
            !times.is_empty()
        });
        for key in keys {
            failures.entry((*key).to_owned()).or_default().push(at);
        }
        Ok(())
    }

    async fn recent_login_failures(
        &self,
        key: &str,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<UnixTime>, StoreError> {
        let state = self.lock();
        let mut found: Vec<UnixTime> = state
            .login_failures
            .get(key)
            .map(|times| times.iter().copied().filter(|t| *t >= since).collect())
            .unwrap_or_default();
        found.sort_unstable_by(|a, b| b.cmp(a));
        found.truncate(limit);
        Ok(found)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.lock().login_failures.remove(key);
        Ok(())
    }
}

#[clerk_core::store::async_trait]
impl StoreWriter for MemoryStore {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        let mut guard = self.lock();
        // One change checks before it writes: no copy needed.
        let in_place = batch.changes.len() <= 1;
        let mut copy = (!in_place).then(|| guard.clone());
        let mut tx = Tx {
            state: copy.as_mut().unwrap_or(&mut *guard),
            receipt: None,
            held: None,
        };
        // The state is behind a std mutex held across this `.await`: nothing in the
        // memory target awaits anything, so the future never yields while holding it.
        let outcome = apply_now(&mut tx, batch)?;
        let receipt = tx.receipt.take();
        let held = tx.held.take();
        if let Some(work) = copy {
            *guard = work;
        }
        if let Some(receipt) = receipt {
            guard
                .webhook_events
                .insert(receipt.svix_id.clone(), receipt);
        }
        if let Some(held) = held {
            guard.held_events.insert(held.svix_id.clone(), held);
        }
        Ok(outcome)
    }
}

/// Drives [`dispatch::apply_batch`] on the memory target to completion without an executor:
/// its primitives never wait, so the future is ready on the first poll.
fn apply_now(tx: &mut Tx<'_>, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
    let mut future = std::pin::pin!(dispatch::apply_batch(tx, batch));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(outcome) => outcome,
        std::task::Poll::Pending => Err(StoreError::backend(
            "memory store primitives are expected never to wait",
        )),
    }
}
