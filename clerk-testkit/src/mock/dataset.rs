//! The mock Backend API's in-memory data set: seeded objects plus lazily generated users.
//!
//! Seeded users are kept as given ([`ClerkUserData`]); generated users are not stored at all —
//! user `n` is computed from `n` when a page or a lookup needs it ([`generated_user`]) — so
//! 100,000 generated users cost one 24-byte order key each. Listings are ordered by
//! `created_at`, ties broken by insertion order, and serialized page by page.

use std::collections::HashMap;

use clerk_core::model::{
    ClerkInvitationData, ClerkMembershipData, ClerkOrganizationData, ClerkUserData,
};
use clerk_core::time::UnixTime;

/// `created_at` of generated user 0 (2023-11-14T22:13:20Z), in milliseconds; user `n` was
/// created `n` seconds later.
pub const GENERATED_EPOCH_MILLIS: i64 = 1_700_000_000_000;

/// The Clerk id of generated user `n`: `user_gen_` and `n` on 8 digits.
#[must_use]
pub fn generated_user_id(n: u32) -> String {
    format!("user_gen_{n:08}")
}

fn parse_generated_id(id: &str) -> Option<u32> {
    let digits = id.strip_prefix("user_gen_")?;
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Generated user `n`, as the mock serves it: `user{n}@example.test` (verified), username
/// `user{n}`, first name `Gen`, last name `{n}`, created at [`GENERATED_EPOCH_MILLIS`] + `n` s
/// and updated 500 ms later.
#[must_use]
pub fn generated_user(n: u32) -> ClerkUserData {
    let created = GENERATED_EPOCH_MILLIS + i64::from(n) * 1000;
    let mut user = ClerkUserData::new(
        generated_user_id(n),
        UnixTime::from_millis(created),
        UnixTime::from_millis(created + 500),
    )
    .with_email(format!("user{n}@example.test"), true);
    user.username = Some(format!("user{n}"));
    user.first_name = Some("Gen".to_owned());
    user.last_name = Some(n.to_string());
    user
}

/// Which user an order key points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserRef {
    /// Index into the seeded users.
    Seeded(u32),
    /// Generated user `n`.
    Generated(u32),
}

#[derive(Debug, Clone, Copy)]
struct OrderKey {
    created_at: i64,
    seq: u64,
    user: UserRef,
}

/// Users, organizations, memberships and invitations.
#[derive(Debug, Default)]
pub(crate) struct Dataset {
    users: Vec<ClerkUserData>,
    user_seq: Vec<u64>,
    user_index: HashMap<String, u32>,
    generated: u32,
    generated_seq_base: Vec<(u32, u64)>,
    order: Vec<OrderKey>,
    order_stale: bool,
    next_seq: u64,
    organizations: Vec<(u64, ClerkOrganizationData)>,
    organization_index: HashMap<String, usize>,
    memberships: Vec<(u64, ClerkMembershipData)>,
    membership_index: HashMap<String, usize>,
    invitations: Vec<(u64, ClerkInvitationData)>,
    invitation_index: HashMap<String, usize>,
    /// What the writes add (deleted users, sessions, application invitations, …).
    pub(crate) written: writes::Written,
}

#[path = "dataset_writes.rs"]
pub(crate) mod writes;

/// Inserts or replaces by id; the insertion sequence number of a replaced object stays.
fn upsert<T>(
    items: &mut Vec<(u64, T)>,
    index: &mut HashMap<String, usize>,
    next_seq: &mut u64,
    id: String,
    item: T,
) {
    if let Some(&i) = index.get(&id) {
        items[i].1 = item;
    } else {
        index.insert(id, items.len());
        items.push((*next_seq, item));
        *next_seq += 1;
    }
}

/// Sorted by `(created_at, seq)`; `descending` reverses it.
fn sorted<'a, T>(
    items: impl Iterator<Item = &'a (u64, T)>,
    created_at: impl Fn(&T) -> UnixTime,
    descending: bool,
) -> Vec<&'a T>
where
    T: 'a,
{
    let mut v: Vec<&(u64, T)> = items.collect();
    v.sort_by_key(|(seq, item)| (created_at(item), *seq));
    if descending {
        v.reverse();
    }
    v.into_iter().map(|(_, item)| item).collect()
}

impl Dataset {
    fn seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Adds users (a user whose id is already present replaces it).
    pub(crate) fn seed_users(&mut self, users: Vec<ClerkUserData>) {
        for user in users {
            if let Some(&i) = self.user_index.get(&user.clerk_id) {
                self.users[i as usize] = user;
            } else {
                let i = u32::try_from(self.users.len()).unwrap_or(u32::MAX);
                let seq = self.seq();
                self.user_index.insert(user.clerk_id.clone(), i);
                self.users.push(user);
                self.user_seq.push(seq);
            }
        }
        self.order_stale = true;
    }

    /// Adds `n` generated users after those already generated; returns the range of their
    /// numbers.
    pub(crate) fn generate_users(&mut self, n: u32) -> std::ops::Range<u32> {
        let start = self.generated;
        let end = start.saturating_add(n);
        // Generated users take consecutive sequence numbers from here.
        let base = self.next_seq;
        self.next_seq += u64::from(end - start);
        self.generated_seq_base.push((start, base));
        self.generated = end;
        self.order_stale = true;
        start..end
    }

    fn generated_seq(&self, n: u32) -> u64 {
        let i = self
            .generated_seq_base
            .partition_point(|(start, _)| *start <= n);
        let (start, base) = self.generated_seq_base[i - 1];
        base + u64::from(n - start)
    }

    pub(crate) fn user_count(&self) -> usize {
        (self.users.len() - self.written.removed_users.len())
            + (self.generated as usize - self.written.materialized.len())
    }

    fn refresh_order(&mut self) {
        if !self.order_stale {
            return;
        }
        let mut order = Vec::with_capacity(self.user_count());
        for (i, user) in self.users.iter().enumerate() {
            if self
                .written
                .removed_users
                .contains(&u32::try_from(i).unwrap_or(u32::MAX))
            {
                continue;
            }
            order.push(OrderKey {
                created_at: user.created_at.as_millis(),
                seq: self.user_seq[i],
                user: UserRef::Seeded(u32::try_from(i).unwrap_or(u32::MAX)),
            });
        }
        for n in 0..self.generated {
            if self.written.materialized.contains(&n) {
                continue;
            }
            order.push(OrderKey {
                created_at: GENERATED_EPOCH_MILLIS + i64::from(n) * 1000,
                seq: self.generated_seq(n),
                user: UserRef::Generated(n),
            });
        }
        order.sort_unstable_by_key(|k| (k.created_at, k.seq));
        self.order = order;
        self.order_stale = false;
    }

    /// The users at `offset..offset + limit` of the listing, oldest first unless `descending`.
    pub(crate) fn users_page(
        &mut self,
        offset: usize,
        limit: usize,
        descending: bool,
    ) -> Vec<UserRef> {
        self.refresh_order();
        let len = self.order.len();
        let start = offset.min(len);
        let end = offset.saturating_add(limit).min(len);
        if descending {
            (start..end).map(|i| self.order[len - 1 - i].user).collect()
        } else {
            self.order[start..end].iter().map(|k| k.user).collect()
        }
    }

    /// A user by id.
    pub(crate) fn find_user(&self, id: &str) -> Option<UserRef> {
        if let Some(&i) = self.user_index.get(id) {
            return Some(UserRef::Seeded(i));
        }
        parse_generated_id(id)
            .filter(|n| *n < self.generated && !self.written.materialized.contains(n))
            .map(UserRef::Generated)
    }

    /// The data of a user reference (generated users are computed).
    pub(crate) fn user(&self, user: UserRef) -> std::borrow::Cow<'_, ClerkUserData> {
        match user {
            UserRef::Seeded(i) => std::borrow::Cow::Borrowed(&self.users[i as usize]),
            UserRef::Generated(n) => std::borrow::Cow::Owned(generated_user(n)),
        }
    }

    pub(crate) fn seed_organizations(&mut self, organizations: Vec<ClerkOrganizationData>) {
        for org in organizations {
            let id = org.clerk_id.clone();
            upsert(
                &mut self.organizations,
                &mut self.organization_index,
                &mut self.next_seq,
                id,
                org,
            );
        }
    }

    pub(crate) fn seed_memberships(&mut self, memberships: Vec<ClerkMembershipData>) {
        for m in memberships {
            let id = m.clerk_id.clone();
            upsert(
                &mut self.memberships,
                &mut self.membership_index,
                &mut self.next_seq,
                id,
                m,
            );
        }
    }

    pub(crate) fn seed_invitations(&mut self, invitations: Vec<ClerkInvitationData>) {
        for inv in invitations {
            let id = inv.clerk_id.clone();
            upsert(
                &mut self.invitations,
                &mut self.invitation_index,
                &mut self.next_seq,
                id,
                inv,
            );
        }
    }

    pub(crate) fn organization(&self, id: &str) -> Option<&ClerkOrganizationData> {
        self.organization_index
            .get(id)
            .map(|&i| &self.organizations[i].1)
    }

    pub(crate) fn organizations(&self, descending: bool) -> Vec<&ClerkOrganizationData> {
        sorted(self.organizations.iter(), |o| o.created_at, descending)
    }

    /// Memberships of `organization_id` in the listing order.
    pub(crate) fn memberships_of(
        &self,
        organization_id: &str,
        descending: bool,
    ) -> Vec<&ClerkMembershipData> {
        sorted(
            self.memberships
                .iter()
                .filter(|(_, m)| m.organization_clerk_id == organization_id),
            |m| m.created_at,
            descending,
        )
    }

    /// How many memberships `organization_id` has.
    pub(crate) fn members_count(&self, organization_id: &str) -> usize {
        self.memberships
            .iter()
            .filter(|(_, m)| m.organization_clerk_id == organization_id)
            .count()
    }

    /// Invitations, of one organization or all, optionally of one status, in the listing order.
    pub(crate) fn invitations(
        &self,
        organization_id: Option<&str>,
        status: Option<&str>,
        descending: bool,
    ) -> Vec<&ClerkInvitationData> {
        sorted(
            self.invitations.iter().filter(|(_, inv)| {
                organization_id.is_none_or(|o| inv.organization_clerk_id == o)
                    && status.is_none_or(|s| inv.status.as_str() == s)
            }),
            |inv| inv.created_at,
            descending,
        )
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        *self = Dataset::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(d: &Dataset, refs: &[UserRef]) -> Vec<String> {
        refs.iter().map(|r| d.user(*r).clerk_id.clone()).collect()
    }

    #[test]
    fn generated_and_seeded_users_interleave_by_created_at() {
        let mut d = Dataset::default();
        assert_eq!(d.generate_users(3), 0..3);
        let between = ClerkUserData::new(
            "user_seeded",
            UnixTime::from_millis(GENERATED_EPOCH_MILLIS + 1500),
            UnixTime::from_millis(GENERATED_EPOCH_MILLIS + 1500),
        );
        d.seed_users(vec![between]);
        let page = d.users_page(0, 10, false);
        assert_eq!(
            ids(&d, &page),
            [
                "user_gen_00000000",
                "user_gen_00000001",
                "user_seeded",
                "user_gen_00000002"
            ]
        );
        let page = d.users_page(1, 2, true);
        assert_eq!(ids(&d, &page), ["user_seeded", "user_gen_00000001"]);
        assert!(d.users_page(4, 10, false).is_empty());
        assert_eq!(d.generate_users(2), 3..5);
        assert_eq!(d.user_count(), 6);
        assert_eq!(
            d.find_user("user_gen_00000004"),
            Some(UserRef::Generated(4))
        );
        assert_eq!(d.find_user("user_gen_00000005"), None);
        assert_eq!(d.find_user("user_seeded"), Some(UserRef::Seeded(0)));
        assert_eq!(d.find_user("user_gen_4"), None);
    }

    #[test]
    fn equal_timestamps_keep_insertion_order() {
        let mut d = Dataset::default();
        let t = UnixTime::from_millis(5);
        d.seed_users(vec![
            ClerkUserData::new("user_b", t, t),
            ClerkUserData::new("user_a", t, t),
        ]);
        let page = d.users_page(0, 10, false);
        assert_eq!(ids(&d, &page), ["user_b", "user_a"]);
    }
}
