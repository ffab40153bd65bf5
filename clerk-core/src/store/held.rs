//! Deliveries held for an operator: what a permanent conflict leaves behind, and the retry
//! that applies it once the operator has resolved the conflict.
//!
//! A webhook whose user cannot be stored as Clerk sent it — its email is held by another
//! live row that may not be linked ([`Conflict::Email`]) — is not refused: Svix would retry
//! it for days and then drop it. The webhook processor instead acknowledges it (2xx, outcome
//! `conflict`), writes the user **without the conflicting email** ([`withhold_email`]), and
//! keeps the whole user beside the receipt ([`HeldEvent`], in the same transaction). Nothing
//! is lost, and every other field of the user is current.
//!
//! Why withhold the email rather than wait: the holder is a local account (which Clerk data
//! never overwrites) or a Clerk user whose own update has not arrived yet. In the second
//! case Clerk's email uniqueness means the holder's update will free the address; in the
//! email-swap case (A takes B's address as B takes A's) withholding A's email frees A's old
//! address for B, so B's delivery applies in full and only A is held. Either way an operator
//! then runs `clerk webhooks retry <svix-id>` ([`retry_held`]): the held user is written
//! again with its email ([`Change::ReapplyUser`]) and the hold is released
//! ([`Change::ReleaseHeld`]) in one transaction; if the email is still taken, nothing
//! changes and the retry says so.

use crate::model::{ClerkUserData, HeldEvent};
use crate::store::{
    Applied, BatchOutcome, Change, Conflict, Effect, LinkPolicy, Store, StoreError, WriteBatch,
};
use crate::time::UnixTime;

/// The user a conflicting batch could not store, and the batch's changes with that user's
/// email withheld: `None` when no change carries an email (the conflict is not one a hold
/// can settle).
#[must_use]
pub fn withhold_email(changes: &[Change]) -> Option<(ClerkUserData, Vec<Change>)> {
    let mut held = None;
    let withheld = changes
        .iter()
        .map(|change| match change {
            Change::UpsertUser { data, link } if held.is_none() && data.email.is_some() => {
                held = Some(data.clone());
                let mut without = data.clone();
                without.email = None;
                without.email_verified = false;
                Change::UpsertUser {
                    data: without,
                    link: *link,
                }
            }
            other => other.clone(),
        })
        .collect();
    held.map(|user| (user, withheld))
}

/// What [`retry_held`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Retried {
    /// The held user's write: [`Effect::Updated`] (or `Created`/`Linked`) when it was
    /// applied now; [`Effect::Unchanged`] when a newer delivery had superseded it;
    /// [`Effect::Gone`] when the user was deleted since. The hold is released in every case.
    pub user: Applied,
}

/// Why [`retry_held`] applied nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError {
    /// No delivery is held under that svix id.
    #[error("no held delivery {svix_id:?}")]
    NotHeld {
        /// The svix id asked for.
        svix_id: String,
    },
    /// The delivery was already retried.
    #[error("held delivery {svix_id:?} was already resolved")]
    AlreadyResolved {
        /// The svix id asked for.
        svix_id: String,
        /// When it was resolved.
        at: UnixTime,
    },
    /// The conflict is not resolved yet (the email is still held by another row): nothing
    /// changed.
    #[error("still conflicting: {0}; resolve it first (nothing changed)")]
    StillConflicts(Conflict),
    /// The store failed: nothing changed.
    #[error(transparent)]
    Store(StoreError),
}

/// Applies the held delivery `svix_id` again ([`Change::ReapplyUser`] of the held user, with
/// `link`) and releases it ([`Change::ReleaseHeld`]), in one transaction at `now`.
///
/// # Errors
/// [`RetryError`]: nothing changed.
pub async fn retry_held<S: Store + ?Sized>(
    store: &S,
    svix_id: &str,
    link: LinkPolicy,
    now: UnixTime,
) -> Result<Retried, RetryError> {
    let held: HeldEvent = match store.held_event(svix_id).await {
        Ok(Some(held)) => held,
        Ok(None) => {
            return Err(RetryError::NotHeld {
                svix_id: svix_id.to_owned(),
            })
        }
        Err(error) => return Err(RetryError::Store(error)),
    };
    if let Some(at) = held.resolved_at {
        return Err(RetryError::AlreadyResolved {
            svix_id: svix_id.to_owned(),
            at,
        });
    }
    let batch = WriteBatch::new(now)
        .with(Change::ReapplyUser {
            data: held.user,
            link,
        })
        .with(Change::ReleaseHeld {
            svix_id: svix_id.to_owned(),
        });
    match store.apply(batch).await {
        Ok(BatchOutcome::Applied(applied)) => match applied.as_slice() {
            [user, release] if release.effect == Effect::Updated => Ok(Retried { user: *user }),
            // A concurrent retry released it first (its write was the same as ours).
            [_, _] => Err(RetryError::AlreadyResolved {
                svix_id: svix_id.to_owned(),
                at: now,
            }),
            other => Err(RetryError::Store(StoreError::backend(format!(
                "a retry batch of two changes reported {} results",
                other.len()
            )))),
        },
        Ok(BatchOutcome::AlreadyProcessed(_)) => Err(RetryError::Store(StoreError::backend(
            "a retry batch has no receipt but was reported already processed",
        ))),
        Err(StoreError::Conflict(conflict)) => Err(RetryError::StillConflicts(conflict)),
        Err(error) => Err(RetryError::Store(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, email: Option<&str>) -> Change {
        let mut data = ClerkUserData::new(id, UnixTime::from_secs(1), UnixTime::from_secs(2));
        if let Some(email) = email {
            data = data.with_email(email, true);
        }
        Change::UpsertUser {
            data,
            link: LinkPolicy::Never,
        }
    }

    #[test]
    fn the_first_user_with_an_email_is_held_and_written_without_it() {
        let changes = [
            Change::ReleaseHeld {
                svix_id: "msg_other".into(),
            },
            user("user_1", Some("a@example.com")),
            user("user_2", Some("b@example.com")),
        ];
        let (held, withheld) = withhold_email(&changes).expect("a user with an email");
        assert_eq!(held.clerk_id, "user_1");
        assert_eq!(held.email.as_deref(), Some("a@example.com"));
        assert_eq!(withheld[0], changes[0]);
        let Change::UpsertUser { data, .. } = &withheld[1] else {
            panic!("{:?}", withheld[1]);
        };
        assert_eq!((data.email.as_deref(), data.email_verified), (None, false));
        assert_eq!(data.updated_at, held.updated_at, "every other field kept");
        assert_eq!(withheld[2], changes[2], "only one user is held");
    }

    #[test]
    fn nothing_is_held_without_an_email() {
        assert!(withhold_email(&[user("user_1", None)]).is_none());
        assert!(withhold_email(&[]).is_none());
    }
}
