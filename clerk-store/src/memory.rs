//! [`MemoryStore`]: the whole store contract in process memory.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use clerk_core::model::{
    same_email, Invitation, Membership, Organization, RevokedSession, User, UserId, WebhookEvent,
};
use clerk_core::store::rules::{self, Upsert, UserUpsert};
use clerk_core::store::{
    Applied, BatchOutcome, Change, Effect, LedgerStore, OrganizationStore, StoreError, StoreWriter,
    UserRef, UserStore, WriteBatch,
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
    revoked_sessions: HashMap<String, RevokedSession>,
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

    fn resolve(&self, user: &UserRef) -> Option<UserId> {
        match user {
            UserRef::Id(id) => self.users.contains_key(id).then_some(*id),
            UserRef::ClerkId(clerk_id) => self.user_by_clerk_id.get(clerk_id).copied(),
        }
    }

    /// Applies one change. Returns an error only before writing anything.
    fn apply(&mut self, change: Change, now: UnixTime) -> Result<Applied, StoreError> {
        match change {
            Change::UpsertUser { data, link } => {
                let existing = self.by_clerk_id(&data.clerk_id);
                let holder = data
                    .email
                    .as_deref()
                    .and_then(|e| self.live_email_holder(e));
                match rules::user_upsert(existing, holder, &data, link)? {
                    UserUpsert::Insert => {
                        let id = self.next_user_id();
                        self.insert_user(User::from_clerk(id, &data, now));
                        Ok(Applied::user(Effect::Created, id))
                    }
                    UserUpsert::Update(id) => {
                        self.update_user(id, |user| user.apply_clerk(&data, now))?;
                        Ok(Applied::user(Effect::Updated, id))
                    }
                    UserUpsert::Link(id) => {
                        self.update_user(id, |user| {
                            user.clerk_id = Some(data.clerk_id.clone());
                            user.apply_clerk(&data, now);
                        })?;
                        Ok(Applied::user(Effect::Linked, id))
                    }
                    UserUpsert::Unchanged(id) => Ok(Applied::user(Effect::Unchanged, id)),
                    UserUpsert::Gone(id) => Ok(Applied::user(Effect::Gone, id)),
                }
            }
            Change::DeleteUser { clerk_id, at } => {
                rules::require_id("clerk user id", &clerk_id)?;
                match self.user_by_clerk_id.get(&clerk_id).copied() {
                    Some(id) => {
                        let effect = self.update_user(id, |user| {
                            if user.is_deleted() {
                                return Effect::Gone;
                            }
                            user.mark_deleted(at, now);
                            Effect::Deleted
                        })?;
                        Ok(Applied::user(effect, id))
                    }
                    None => {
                        let id = self.next_user_id();
                        self.insert_user(User::tombstone(id, &clerk_id, at, now));
                        Ok(Applied::user(Effect::Deleted, id))
                    }
                }
            }
            Change::RecordLogin { user, at } => self.record_session(&user, at, now, true),
            Change::RecordLogout { user, at } => self.record_session(&user, at, now, false),
            Change::RevokeSession(session) => {
                rules::require_id("session id", &session.session_id)?;
                if self.revoked_sessions.contains_key(&session.session_id) {
                    return Ok(Applied::new(Effect::Unchanged));
                }
                self.revoked_sessions
                    .insert(session.session_id.clone(), session);
                Ok(Applied::new(Effect::Created))
            }
            Change::UpsertOrganization(data) => {
                rules::require_id("clerk organization id", &data.clerk_id)?;
                let existing = self
                    .organizations
                    .get(&data.clerk_id)
                    .map(|o| (o.is_deleted(), o.clerk_updated_at));
                let effect = match rules::ordered_upsert(existing, data.updated_at) {
                    Upsert::Insert => {
                        let org = Organization::from_clerk(&data, now);
                        self.organizations.insert(data.clerk_id, org);
                        Effect::Created
                    }
                    Upsert::Update => {
                        if let Some(org) = self.organizations.get_mut(&data.clerk_id) {
                            org.apply_clerk(&data, now);
                        }
                        Effect::Updated
                    }
                    Upsert::Unchanged => Effect::Unchanged,
                    Upsert::Gone => Effect::Gone,
                };
                Ok(Applied::new(effect))
            }
            Change::DeleteOrganization { clerk_id, at } => {
                rules::require_id("clerk organization id", &clerk_id)?;
                match self.organizations.get_mut(&clerk_id) {
                    Some(org) if org.is_deleted() => return Ok(Applied::new(Effect::Gone)),
                    Some(org) => org.mark_deleted(at, now),
                    None => {
                        let org = Organization::tombstone(&clerk_id, at, now);
                        self.organizations.insert(clerk_id.clone(), org);
                    }
                }
                for m in self.memberships.values_mut() {
                    if m.organization_clerk_id == clerk_id && !m.is_deleted() {
                        m.mark_deleted(at, now);
                    }
                }
                Ok(Applied::new(Effect::Deleted))
            }
            Change::UpsertMembership(data) => {
                rules::require_id("clerk membership id", &data.clerk_id)?;
                rules::require_id("clerk organization id", &data.organization_clerk_id)?;
                rules::require_id("clerk user id", &data.user_clerk_id)?;
                let org_deleted = self
                    .organizations
                    .get(&data.organization_clerk_id)
                    .is_some_and(Organization::is_deleted);
                if org_deleted {
                    return Ok(Applied::new(Effect::Gone));
                }
                let existing = self
                    .memberships
                    .get(&data.clerk_id)
                    .map(|m| (m.is_deleted(), m.clerk_updated_at));
                let effect = match rules::ordered_upsert(existing, data.updated_at) {
                    Upsert::Insert => {
                        let m = Membership::from_clerk(&data, now);
                        self.memberships.insert(data.clerk_id, m);
                        Effect::Created
                    }
                    Upsert::Update => {
                        if let Some(m) = self.memberships.get_mut(&data.clerk_id) {
                            m.apply_clerk(&data, now);
                        }
                        Effect::Updated
                    }
                    Upsert::Unchanged => Effect::Unchanged,
                    Upsert::Gone => Effect::Gone,
                };
                Ok(Applied::new(effect))
            }
            Change::DeleteMembership {
                clerk_id,
                organization_clerk_id,
                user_clerk_id,
                at,
            } => {
                rules::require_id("clerk membership id", &clerk_id)?;
                match self.memberships.get_mut(&clerk_id) {
                    Some(m) if m.is_deleted() => Ok(Applied::new(Effect::Gone)),
                    Some(m) => {
                        m.mark_deleted(at, now);
                        Ok(Applied::new(Effect::Deleted))
                    }
                    None => {
                        let tombstone = Membership::tombstone(
                            &clerk_id,
                            &organization_clerk_id,
                            &user_clerk_id,
                            at,
                            now,
                        );
                        self.memberships.insert(clerk_id, tombstone);
                        Ok(Applied::new(Effect::Deleted))
                    }
                }
            }
            Change::UpsertInvitation(data) => {
                rules::require_id("clerk invitation id", &data.clerk_id)?;
                let existing = self
                    .invitations
                    .get(&data.clerk_id)
                    .map(|i| (false, i.clerk_updated_at));
                let effect = match rules::ordered_upsert(existing, data.updated_at) {
                    Upsert::Insert => {
                        let inv = Invitation::from_clerk(&data, now);
                        self.invitations.insert(data.clerk_id, inv);
                        Effect::Created
                    }
                    Upsert::Update => {
                        if let Some(inv) = self.invitations.get_mut(&data.clerk_id) {
                            inv.apply_clerk(&data, now);
                        }
                        Effect::Updated
                    }
                    Upsert::Unchanged => Effect::Unchanged,
                    Upsert::Gone => Effect::Gone,
                };
                Ok(Applied::new(effect))
            }
            Change::CreateLocalUser(new) => {
                let email_holder = new.email.as_deref().and_then(|e| self.live_email_holder(e));
                let username_holder = self.live_local_username_holder(&new.username);
                rules::local_user_create(&new.username, email_holder, username_holder)?;
                let id = self.next_user_id();
                self.insert_user(User::from_local(id, &new, now));
                Ok(Applied::user(Effect::Created, id))
            }
            Change::UpdateLocalFields { id, patch } => {
                if !self.users.contains_key(&id) {
                    return Ok(Applied::new(Effect::NotFound));
                }
                let effect = self.update_user(id, |user| {
                    if user.is_deleted() {
                        Effect::Gone
                    } else if patch.apply_to(user, now) {
                        Effect::Updated
                    } else {
                        Effect::Unchanged
                    }
                })?;
                Ok(Applied::user(effect, id))
            }
            other => Err(StoreError::Invalid(format!(
                "change not supported by the memory store: {other:?}"
            ))),
        }
    }

    fn record_session(
        &mut self,
        user: &UserRef,
        at: UnixTime,
        now: UnixTime,
        login: bool,
    ) -> Result<Applied, StoreError> {
        let Some(id) = self.resolve(user) else {
            return Ok(Applied::new(Effect::NotFound));
        };
        let effect = self.update_user(id, |row| {
            if row.is_deleted() {
                return Effect::Gone;
            }
            let field = if login {
                &mut row.last_login
            } else {
                &mut row.last_logout
            };
            match rules::later(*field, at) {
                Some(at) => {
                    *field = Some(at);
                    row.updated_at = now;
                    Effect::Updated
                }
                None => Effect::Unchanged,
            }
        })?;
        Ok(Applied::user(effect, id))
    }
}

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
}

impl StoreWriter for MemoryStore {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        let WriteBatch {
            now,
            receipt,
            changes,
            ..
        } = batch;
        let mut guard = self.lock();
        if let Some(receipt) = &receipt {
            rules::require_id("svix id", &receipt.svix_id)?;
            if let Some(done) = guard.webhook_events.get(&receipt.svix_id) {
                return Ok(BatchOutcome::AlreadyProcessed(done.clone()));
            }
        }
        let mut applied = Vec::with_capacity(changes.len());
        if changes.len() <= 1 {
            // One change checks before it writes: no copy needed.
            for change in changes {
                applied.push(guard.apply(change, now)?);
            }
        } else {
            let mut work = guard.clone();
            for change in changes {
                applied.push(work.apply(change, now)?);
            }
            *guard = work;
        }
        if let Some(receipt) = receipt {
            guard
                .webhook_events
                .insert(receipt.svix_id.clone(), receipt);
        }
        Ok(BatchOutcome::Applied(applied))
    }
}
