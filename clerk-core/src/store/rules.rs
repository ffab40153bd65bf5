//! The store rules as pure decisions, shared by every backend.
//!
//! A backend reads the rows a decision needs (inside its transaction, with row locks where its
//! database needs them), asks the function here what to do, and writes the result. Keeping the
//! decisions here means every backend — yours included — orders, deletes and links exactly
//! alike, and the rules are unit-tested once.

use crate::model::{ClerkUserData, User, UserId};
use crate::store::{Conflict, LinkPolicy, StoreError};
use crate::time::UnixTime;

/// Whether Clerk data stamped `incoming` supersedes stored data stamped `stored`: strictly
/// newer, or nothing stored yet. Equal stamps are a replay and change nothing.
#[must_use]
pub fn is_newer(incoming: UnixTime, stored: Option<UnixTime>) -> bool {
    stored.is_none_or(|s| incoming > s)
}

/// `Some(at)` when `at` moves a "last seen" instant forward, `None` when it would not.
#[must_use]
pub fn later(stored: Option<UnixTime>, at: UnixTime) -> Option<UnixTime> {
    is_newer(at, stored).then_some(at)
}

/// What to do with [`Change::UpsertUser`](super::Change::UpsertUser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum UserUpsert {
    /// Insert a new active row ([`User::from_clerk`]).
    Insert,
    /// Overwrite the Clerk-owned fields of this row ([`User::apply_clerk`]).
    Update(UserId),
    /// Set this local row's `clerk_id` and overwrite its Clerk-owned fields.
    Link(UserId),
    /// Nothing: the stored data is as new or newer.
    Unchanged(UserId),
    /// Nothing: the user was deleted.
    Gone(UserId),
}

/// Decides an upsert of `data`.
///
/// `existing` is the row holding `data.clerk_id` (deleted or not); `email_holder` is the row
/// that is not deleted holding `data.email` (compared with [`crate::model::same_email`]),
/// which may be `existing` itself.
///
/// # Errors
/// [`StoreError::Invalid`] for an empty Clerk id; [`StoreError::Conflict`] with
/// [`Conflict::Email`] when the email is held by another row that may not be linked.
pub fn user_upsert(
    existing: Option<&User>,
    email_holder: Option<&User>,
    data: &ClerkUserData,
    link: LinkPolicy,
) -> Result<UserUpsert, StoreError> {
    decide_user(existing, email_holder, data, link, is_newer)
}

/// Decides [`Change::ReapplyUser`](super::Change::ReapplyUser), an operator's retry of a
/// held delivery: as [`user_upsert`], except that data stamped equal to the stored row is
/// written (the held delivery wrote that stamp without its email); strictly older data is
/// [`UserUpsert::Unchanged`] (a newer delivery superseded the held one).
///
/// # Errors
/// As [`user_upsert`].
pub fn user_reapply(
    existing: Option<&User>,
    email_holder: Option<&User>,
    data: &ClerkUserData,
    link: LinkPolicy,
) -> Result<UserUpsert, StoreError> {
    decide_user(existing, email_holder, data, link, |incoming, stored| {
        stored.is_none_or(|s| incoming >= s)
    })
}

fn decide_user(
    existing: Option<&User>,
    email_holder: Option<&User>,
    data: &ClerkUserData,
    link: LinkPolicy,
    supersedes: impl Fn(UnixTime, Option<UnixTime>) -> bool,
) -> Result<UserUpsert, StoreError> {
    if data.clerk_id.is_empty() {
        return Err(StoreError::Invalid("empty clerk id".into()));
    }
    if let Some(row) = existing {
        if row.is_deleted() {
            return Ok(UserUpsert::Gone(row.id));
        }
        if !supersedes(data.updated_at, row.clerk_updated_at) {
            return Ok(UserUpsert::Unchanged(row.id));
        }
        return match email_holder {
            Some(holder) if holder.id != row.id => Err(StoreError::Conflict(Conflict::Email)),
            _ => Ok(UserUpsert::Update(row.id)),
        };
    }
    match email_holder {
        None => Ok(UserUpsert::Insert),
        Some(holder) => {
            let linkable = link == LinkPolicy::VerifiedEmail
                && data.email_verified
                && holder.clerk_id.is_none()
                && !holder.is_staff
                && !holder.is_superuser
                && !holder.is_deleted();
            if linkable {
                Ok(UserUpsert::Link(holder.id))
            } else {
                Err(StoreError::Conflict(Conflict::Email))
            }
        }
    }
}

/// What to do with an upsert of an organization, membership or invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Upsert {
    /// Insert a new row.
    Insert,
    /// Overwrite the Clerk-owned fields.
    Update,
    /// Nothing: the stored data is as new or newer.
    Unchanged,
    /// Nothing: the row (or its organization) was deleted.
    Gone,
}

/// Decides an ordered upsert. `existing` is `(deleted, clerk_updated_at)` of the stored row.
#[must_use = "the decision says whether to write"]
pub fn ordered_upsert(existing: Option<(bool, Option<UnixTime>)>, incoming: UnixTime) -> Upsert {
    match existing {
        None => Upsert::Insert,
        Some((true, _)) => Upsert::Gone,
        Some((false, stored)) if is_newer(incoming, stored) => Upsert::Update,
        Some(_) => Upsert::Unchanged,
    }
}

/// Checks [`Change::CreateLocalUser`](super::Change::CreateLocalUser): `email_holder` is the
/// live row holding the email, `username_holder` the live local row holding the username.
///
/// # Errors
/// [`StoreError::Invalid`] for an empty username; [`StoreError::Conflict`] when either is held.
pub fn local_user_create(
    username: &str,
    email_holder: Option<&User>,
    username_holder: Option<&User>,
) -> Result<(), StoreError> {
    if username.is_empty() {
        return Err(StoreError::Invalid("empty username".into()));
    }
    if email_holder.is_some() {
        return Err(StoreError::Conflict(Conflict::Email));
    }
    if username_holder.is_some() {
        return Err(StoreError::Conflict(Conflict::Username));
    }
    Ok(())
}

/// Checks a Clerk id of an input.
///
/// # Errors
/// [`StoreError::Invalid`] when it is empty.
pub fn require_id(what: &str, id: &str) -> Result<(), StoreError> {
    if id.is_empty() {
        Err(StoreError::Invalid(format!("empty {what}")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewLocalUser;

    fn t(ms: i64) -> UnixTime {
        UnixTime::from_millis(ms)
    }

    fn clerk_user(id: i64, clerk_id: &str, updated: i64) -> User {
        User::from_clerk(
            UserId(id),
            &ClerkUserData::new(clerk_id, t(1), t(updated)).with_email("a@example.com", true),
            t(0),
        )
    }

    fn local_user(id: i64) -> User {
        let mut new = NewLocalUser::new("local");
        new.email = Some("a@example.com".into());
        User::from_local(UserId(id), &new, t(0))
    }

    #[test]
    fn ordering_is_strict() {
        assert!(is_newer(t(1), None));
        assert!(is_newer(t(2), Some(t(1))));
        assert!(!is_newer(t(1), Some(t(1))));
        assert!(!is_newer(t(0), Some(t(1))));
        assert_eq!(later(Some(t(5)), t(4)), None);
        assert_eq!(later(Some(t(5)), t(6)), Some(t(6)));
    }

    #[test]
    fn user_upsert_orders_and_respects_deletion() {
        let data = ClerkUserData::new("user_1", t(1), t(10));
        let row = clerk_user(1, "user_1", 10);
        assert_eq!(
            user_upsert(Some(&row), Some(&row), &data, LinkPolicy::Never).ok(),
            Some(UserUpsert::Unchanged(UserId(1)))
        );
        let mut newer = data.clone();
        newer.updated_at = t(11);
        assert_eq!(
            user_upsert(Some(&row), Some(&row), &newer, LinkPolicy::Never).ok(),
            Some(UserUpsert::Update(UserId(1)))
        );
        let mut deleted = row.clone();
        deleted.deleted_at = Some(t(12));
        assert_eq!(
            user_upsert(Some(&deleted), None, &newer, LinkPolicy::Never).ok(),
            Some(UserUpsert::Gone(UserId(1)))
        );
        let other = clerk_user(2, "user_2", 1);
        assert!(matches!(
            user_upsert(Some(&row), Some(&other), &newer, LinkPolicy::Never),
            Err(StoreError::Conflict(Conflict::Email))
        ));
    }

    #[test]
    fn a_reapply_writes_an_equal_stamp_but_never_an_older_one() {
        let row = clerk_user(1, "user_1", 10);
        let equal = ClerkUserData::new("user_1", t(1), t(10));
        assert_eq!(
            user_reapply(Some(&row), Some(&row), &equal, LinkPolicy::Never).ok(),
            Some(UserUpsert::Update(UserId(1)))
        );
        let older = ClerkUserData::new("user_1", t(1), t(9));
        assert_eq!(
            user_reapply(Some(&row), Some(&row), &older, LinkPolicy::Never).ok(),
            Some(UserUpsert::Unchanged(UserId(1)))
        );
        // The email still held by another row: still a conflict.
        let other = clerk_user(2, "user_2", 1);
        assert!(matches!(
            user_reapply(Some(&row), Some(&other), &equal, LinkPolicy::Never),
            Err(StoreError::Conflict(Conflict::Email))
        ));
        // The ordinary upsert of the same equal stamp changes nothing.
        assert_eq!(
            user_upsert(Some(&row), Some(&row), &equal, LinkPolicy::Never).ok(),
            Some(UserUpsert::Unchanged(UserId(1)))
        );
    }

    #[test]
    fn linking_is_opt_in_and_guarded() {
        let verified = ClerkUserData::new("user_9", t(1), t(1)).with_email("a@example.com", true);
        let unverified =
            ClerkUserData::new("user_9", t(1), t(1)).with_email("a@example.com", false);
        let local = local_user(3);
        let conflict = |r: Result<UserUpsert, StoreError>| {
            matches!(r, Err(StoreError::Conflict(Conflict::Email)))
        };
        assert!(conflict(user_upsert(
            None,
            Some(&local),
            &verified,
            LinkPolicy::Never
        )));
        assert_eq!(
            user_upsert(None, Some(&local), &verified, LinkPolicy::VerifiedEmail).ok(),
            Some(UserUpsert::Link(UserId(3)))
        );
        assert!(conflict(user_upsert(
            None,
            Some(&local),
            &unverified,
            LinkPolicy::VerifiedEmail
        )));
        let mut staff = local.clone();
        staff.is_staff = true;
        assert!(conflict(user_upsert(
            None,
            Some(&staff),
            &verified,
            LinkPolicy::VerifiedEmail
        )));
        let mut superuser = local.clone();
        superuser.is_superuser = true;
        assert!(conflict(user_upsert(
            None,
            Some(&superuser),
            &verified,
            LinkPolicy::VerifiedEmail
        )));
        let other_clerk = clerk_user(4, "user_4", 1);
        assert!(conflict(user_upsert(
            None,
            Some(&other_clerk),
            &verified,
            LinkPolicy::VerifiedEmail
        )));
        assert_eq!(
            user_upsert(None, None, &verified, LinkPolicy::Never).ok(),
            Some(UserUpsert::Insert)
        );
    }

    #[test]
    fn empty_ids_are_invalid() {
        let data = ClerkUserData::new("", t(1), t(1));
        assert!(matches!(
            user_upsert(None, None, &data, LinkPolicy::Never),
            Err(StoreError::Invalid(_))
        ));
        assert!(require_id("organization id", "").is_err());
        assert!(local_user_create("", None, None).is_err());
    }

    #[test]
    fn ordered_upsert_cases() {
        assert_eq!(ordered_upsert(None, t(1)), Upsert::Insert);
        assert_eq!(ordered_upsert(Some((true, Some(t(0)))), t(9)), Upsert::Gone);
        assert_eq!(
            ordered_upsert(Some((false, Some(t(5)))), t(5)),
            Upsert::Unchanged
        );
        assert_eq!(
            ordered_upsert(Some((false, Some(t(5)))), t(6)),
            Upsert::Update
        );
    }

    #[test]
    fn errors_never_name_the_email() {
        let err = StoreError::Conflict(Conflict::Email);
        assert!(!err.to_string().contains('@'));
        assert!(!err.is_retryable());
        assert!(StoreError::unavailable("connection refused").is_retryable());
    }
}
