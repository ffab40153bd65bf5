//! Batched user upserts for the SQL backends: a batch of [`Change::UpsertUser`] only (what a
//! sync page is) reads the rows it decides on with one query per key (Clerk ids, emails)
//! instead of two per user, and its backend groups the writes (one multi-row insert).
//!
//! The decisions are exactly those of applying the changes one by one: [`UserBatch::of`]
//! takes only batches whose changes cannot see each other's effects (distinct Clerk ids,
//! distinct ASCII emails), and [`UserBatch::plan`] gives up (`None`) when a row found by email
//! is itself changed by another change of the batch (an email moving between users within
//! the batch). The backend then applies the batch change by change, as before.

use std::collections::{HashMap, HashSet};

use clerk_core::model::{ClerkUserData, User};
use clerk_core::store::rules::{self, UserUpsert};
use clerk_core::store::{Change, LinkPolicy, StoreError};

/// A batch eligible for the batched path.
pub(crate) struct UserBatch<'a> {
    /// The upserts, in batch order.
    pub(crate) items: Vec<(&'a ClerkUserData, LinkPolicy)>,
    /// Their Clerk ids (distinct, non-empty).
    pub(crate) clerk_ids: Vec<String>,
    /// Their emails, ASCII-lowercased (distinct; SQL `lower()` agrees on ASCII).
    pub(crate) emails: Vec<String>,
}

/// The ASCII-lowercased email, the key emails are compared by.
pub(crate) fn email_key(email: &str) -> String {
    email.to_ascii_lowercase()
}

impl<'a> UserBatch<'a> {
    /// The batch, when it has at least two changes, all user upserts, with distinct Clerk ids
    /// and distinct ASCII emails; otherwise `None` (apply change by change).
    pub(crate) fn of(changes: &'a [Change]) -> Option<Self> {
        if changes.len() < 2 {
            return None;
        }
        let mut items = Vec::with_capacity(changes.len());
        let mut ids = HashSet::with_capacity(changes.len());
        let mut emails = HashSet::with_capacity(changes.len());
        for change in changes {
            let Change::UpsertUser { data, link } = change else {
                return None;
            };
            if data.clerk_id.is_empty() || !ids.insert(data.clerk_id.as_str()) {
                return None;
            }
            if let Some(email) = &data.email {
                if !email.is_ascii() || !emails.insert(email_key(email)) {
                    return None;
                }
            }
            items.push((data, *link));
        }
        Some(UserBatch {
            clerk_ids: items.iter().map(|(d, _)| d.clerk_id.clone()).collect(),
            emails: emails.into_iter().collect(),
            items,
        })
    }

    /// The decision for each item, in order, given the rows holding the batch's Clerk ids
    /// (`existing`, by Clerk id) and the live rows holding its emails (`holders`, by
    /// [`email_key`]). `None`: an email holder is changed by another item of the batch, so
    /// the order matters — apply change by change. `Some(Err)`: the first refusal, as the
    /// change-by-change path would report it (the batch then writes nothing).
    pub(crate) fn plan(
        &self,
        existing: &HashMap<String, User>,
        holders: &HashMap<String, User>,
    ) -> Option<Result<Vec<UserUpsert>, StoreError>> {
        let in_batch: HashSet<&str> = self.clerk_ids.iter().map(String::as_str).collect();
        let mut decisions = Vec::with_capacity(self.items.len());
        for (data, link) in &self.items {
            let holder = data
                .email
                .as_deref()
                .and_then(|email| holders.get(&email_key(email)));
            if let Some(holder) = holder {
                let other_in_batch = holder
                    .clerk_id
                    .as_deref()
                    .is_some_and(|id| id != data.clerk_id && in_batch.contains(id));
                if other_in_batch {
                    return None;
                }
            }
            match rules::user_upsert(existing.get(&data.clerk_id), holder, data, *link) {
                Ok(decision) => decisions.push(decision),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(decisions))
    }
}

/// Rows keyed for [`UserBatch::plan`]: by Clerk id, and live rows by email key. `None` when
/// a stored email is not ASCII (SQL `lower()` and [`email_key`] might disagree on it).
pub(crate) type RowIndex = (HashMap<String, User>, HashMap<String, User>);

/// See [`RowIndex`].
pub(crate) fn index_rows(by_id: Vec<User>, by_email: Vec<User>) -> Option<RowIndex> {
    let existing = by_id
        .into_iter()
        .filter_map(|u| u.clerk_id.clone().map(|id| (id, u)))
        .collect();
    let mut holders = HashMap::with_capacity(by_email.len());
    for user in by_email {
        let email = user.email.as_deref()?;
        if !email.is_ascii() {
            return None;
        }
        holders.insert(email_key(email), user);
    }
    Some((existing, holders))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clerk_core::model::UserId;
    use clerk_core::time::UnixTime;

    fn upsert(id: &str, email: Option<&str>) -> Change {
        let t = UnixTime::from_secs(1_700_000_000);
        let mut data = ClerkUserData::new(id, t, t);
        if let Some(email) = email {
            data = data.with_email(email, true);
        }
        Change::UpsertUser {
            data,
            link: LinkPolicy::Never,
        }
    }

    #[test]
    fn only_independent_user_upserts_are_batched() {
        let ok = [upsert("user_1", Some("a@x.test")), upsert("user_2", None)];
        assert!(UserBatch::of(&ok).is_some());
        assert!(UserBatch::of(&ok[..1]).is_none(), "one change: no gain");
        let same_id = [upsert("user_1", None), upsert("user_1", None)];
        assert!(UserBatch::of(&same_id).is_none());
        let same_email = [
            upsert("user_1", Some("A@x.test")),
            upsert("user_2", Some("a@X.test")),
        ];
        assert!(UserBatch::of(&same_email).is_none());
        let non_ascii = [upsert("user_1", Some("é@x.test")), upsert("user_2", None)];
        assert!(UserBatch::of(&non_ascii).is_none());
        let mixed = [
            upsert("user_1", None),
            Change::DeleteUser {
                clerk_id: "user_2".into(),
                at: UnixTime::from_secs(1),
            },
        ];
        assert!(UserBatch::of(&mixed).is_none());
    }

    #[test]
    fn an_email_held_by_another_changed_user_falls_back() {
        let changes = [upsert("user_1", Some("a@x.test")), upsert("user_2", None)];
        let batch = UserBatch::of(&changes).unwrap_or_else(|| unreachable!());
        let t = UnixTime::from_secs(1);
        let mut holder = User::from_clerk(
            UserId(7),
            &ClerkUserData::new("user_2", t, t).with_email("a@x.test", true),
            t,
        );
        holder.email = Some("A@X.test".into());
        let (existing, holders) =
            index_rows(vec![holder.clone()], vec![holder]).unwrap_or_default();
        assert!(batch.plan(&existing, &holders).is_none());
        // Without the holder: two plain inserts.
        let (existing, holders) = index_rows(Vec::new(), Vec::new()).unwrap_or_default();
        let plan = batch.plan(&existing, &holders);
        assert!(matches!(plan, Some(Ok(ref d)) if d == &[UserUpsert::Insert, UserUpsert::Insert]));
    }
}
