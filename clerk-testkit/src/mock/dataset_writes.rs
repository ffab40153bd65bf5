//! What the mock's writes change in the [`Dataset`]: users (materialized from the generated
//! ones when written, removed when deleted), organizations and memberships (created,
//! updated, removed), sessions, application invitations, and the metadata the read-side
//! types do not hold (private and unsafe metadata, organization settings).

use std::collections::{HashMap, HashSet};

use clerk_core::model::{ClerkMembershipData, ClerkOrganizationData, ClerkUserData};
use clerk_core::time::UnixTime;
use serde_json::Value;

use super::{generated_user, parse_generated_id, Dataset};

/// A session of the mock (`sess_…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MockSession {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) client_id: String,
    pub(crate) status: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

/// An application invitation of the mock (`inv_…`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MockAppInvitation {
    pub(crate) id: String,
    pub(crate) email_address: String,
    pub(crate) public_metadata: Value,
    pub(crate) status: String,
    pub(crate) redirect_url: Option<String>,
    pub(crate) expires_at: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

/// The user fields [`ClerkUserData`] does not hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct UserExtra {
    pub(crate) private_metadata: Option<Value>,
    pub(crate) unsafe_metadata: Option<Value>,
}

/// The organization fields [`ClerkOrganizationData`] does not hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OrgExtra {
    pub(crate) private_metadata: Option<Value>,
    pub(crate) max_allowed_memberships: Option<u64>,
    pub(crate) admin_delete_enabled: Option<bool>,
    pub(crate) created_by: Option<String>,
}

/// The write side's share of the data set.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// Indices of seeded (or materialized) users that were deleted.
    pub(crate) removed_users: HashSet<u32>,
    /// Generated users now held as seeded ones (written at least once).
    pub(crate) materialized: HashSet<u32>,
    pub(crate) user_extra: HashMap<String, UserExtra>,
    pub(crate) org_extra: HashMap<String, OrgExtra>,
    pub(crate) sessions: Vec<MockSession>,
    pub(crate) app_invitations: Vec<MockAppInvitation>,
    next_id: u64,
    last_write_ms: i64,
}

impl Dataset {
    /// A fresh id `{prefix}_mock{n:012}` (unique within this data set).
    pub(crate) fn new_id(&mut self, prefix: &str) -> String {
        self.written.next_id += 1;
        format!("{prefix}_mock{:012}", self.written.next_id)
    }

    /// The time of a write: `now_ms`, but always later than the previous write, so Clerk's
    /// `updated_at` ordering sees every write as newer.
    pub(crate) fn write_time(&mut self, now_ms: i64) -> UnixTime {
        let t = now_ms.max(self.written.last_write_ms + 1);
        self.written.last_write_ms = t;
        UnixTime::from_millis(t)
    }

    /// The user `id` for writing; a generated user is materialized first (it keeps its place
    /// in the listing order).
    pub(crate) fn user_mut(&mut self, id: &str) -> Option<&mut ClerkUserData> {
        if let Some(&i) = self.user_index.get(id) {
            return self.users.get_mut(i as usize);
        }
        let n = parse_generated_id(id)
            .filter(|n| *n < self.generated && !self.written.materialized.contains(n))?;
        let seq = self.generated_seq(n);
        let i = u32::try_from(self.users.len()).unwrap_or(u32::MAX);
        self.users.push(generated_user(n));
        self.user_seq.push(seq);
        self.user_index.insert(id.to_owned(), i);
        self.written.materialized.insert(n);
        self.order_stale = true;
        self.users.get_mut(i as usize)
    }

    /// Deletes a user (and their memberships and sessions); `false` when unknown.
    pub(crate) fn remove_user(&mut self, id: &str) -> bool {
        if self.user_mut(id).is_none() {
            return false;
        }
        if let Some(i) = self.user_index.remove(id) {
            self.written.removed_users.insert(i);
        }
        self.written.user_extra.remove(id);
        self.memberships.retain(|(_, m)| m.user_clerk_id != id);
        reindex(&self.memberships, &mut self.membership_index, |m| {
            &m.clerk_id
        });
        self.written.sessions.retain(|s| s.user_id != id);
        self.order_stale = true;
        true
    }

    pub(crate) fn organization_mut(&mut self, id: &str) -> Option<&mut ClerkOrganizationData> {
        let i = *self.organization_index.get(id)?;
        self.organizations.get_mut(i).map(|(_, o)| o)
    }

    /// An organization by id or by slug (as Clerk's `GET /v1/organizations/{id_or_slug}`).
    pub(crate) fn organization_id_by_slug(&self, slug: &str) -> Option<String> {
        self.organizations
            .iter()
            .find(|(_, o)| o.slug.as_deref() == Some(slug))
            .map(|(_, o)| o.clerk_id.clone())
    }

    /// Removes an organization with its memberships; `false` when unknown.
    pub(crate) fn remove_organization(&mut self, id: &str) -> bool {
        if self.organization(id).is_none() {
            return false;
        }
        self.organizations.retain(|(_, o)| o.clerk_id != id);
        reindex(&self.organizations, &mut self.organization_index, |o| {
            &o.clerk_id
        });
        self.memberships
            .retain(|(_, m)| m.organization_clerk_id != id);
        reindex(&self.memberships, &mut self.membership_index, |m| {
            &m.clerk_id
        });
        self.written.org_extra.remove(id);
        true
    }

    /// The membership of `user_id` in `organization_id`.
    pub(crate) fn membership_of_mut(
        &mut self,
        organization_id: &str,
        user_id: &str,
    ) -> Option<&mut ClerkMembershipData> {
        self.memberships
            .iter_mut()
            .map(|(_, m)| m)
            .find(|m| m.organization_clerk_id == organization_id && m.user_clerk_id == user_id)
    }

    /// Removes the membership of `user_id` in `organization_id`, returning it.
    pub(crate) fn remove_membership_of(
        &mut self,
        organization_id: &str,
        user_id: &str,
    ) -> Option<ClerkMembershipData> {
        let i = self.memberships.iter().position(|(_, m)| {
            m.organization_clerk_id == organization_id && m.user_clerk_id == user_id
        })?;
        let (_, m) = self.memberships.remove(i);
        reindex(&self.memberships, &mut self.membership_index, |m| {
            &m.clerk_id
        });
        Some(m)
    }
}

fn reindex<T>(items: &[(u64, T)], index: &mut HashMap<String, usize>, id: impl Fn(&T) -> &String) {
    index.clear();
    for (i, (_, item)) in items.iter().enumerate() {
        index.insert(id(item).clone(), i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::dataset::{generated_user_id, UserRef};

    #[test]
    fn writing_a_generated_user_keeps_its_place_and_deleting_removes_it() {
        let mut d = Dataset::default();
        d.generate_users(3);
        let id = generated_user_id(1);
        d.user_mut(&id).expect("a generated user").banned = true;
        assert_eq!(d.user_count(), 3);
        let page = d.users_page(0, 10, false);
        let ids: Vec<String> = page.iter().map(|r| d.user(*r).clerk_id.clone()).collect();
        assert_eq!(
            ids,
            [generated_user_id(0), id.clone(), generated_user_id(2)]
        );
        assert!(d.user(d.find_user(&id).expect("still found")).banned);
        assert!(matches!(d.find_user(&id), Some(UserRef::Seeded(_))));
        assert!(d.remove_user(&id));
        assert!(!d.remove_user(&id));
        assert_eq!(d.find_user(&id), None);
        assert_eq!(d.user_count(), 2);
        assert_eq!(d.users_page(0, 10, false).len(), 2);
        assert!(d.user_mut(&id).is_none());
    }

    #[test]
    fn write_times_increase() {
        let mut d = Dataset::default();
        let a = d.write_time(1000);
        let b = d.write_time(1000);
        let c = d.write_time(5);
        assert!(a < b && b < c);
    }
}
