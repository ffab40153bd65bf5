//! The pure part of the processor: a verified [`Event`] → the store [`Change`]s it implies.
//!
//! No I/O, no clock: the caller passes the instant to use when the event carries none.
//!
//! | event type | changes |
//! |---|---|
//! | `user.created`, `user.updated` | [`Change::UpsertUser`] (ordered by Clerk `updated_at`) |
//! | `user.deleted` | [`Change::DeleteUser`] (tombstone; releases the email) |
//! | `session.created` | [`Change::RecordLogin`] at the session's `created_at` |
//! | `session.ended`, `session.removed`, `session.revoked` | [`Change::RecordLogout`] and [`Change::RevokeSession`] at the session's `updated_at` |
//! | `organization.created`, `organization.updated` | [`Change::UpsertOrganization`] |
//! | `organization.deleted` | [`Change::DeleteOrganization`] (ends its memberships) |
//! | `organizationMembership.created`, `.updated` | [`Change::UpsertMembership`] |
//! | `organizationMembership.deleted` | [`Change::DeleteMembership`] |
//! | `organizationInvitation.created`, `.accepted`, `.revoked` | [`Change::UpsertInvitation`] |
//! | anything else (`session.pending`, `email.created`, roles, domains, unknown types …) | ignored |
//!
//! Timestamps: Clerk sends Unix milliseconds, mapped one to one onto
//! [`UnixTime::from_millis`]. A deletion (which carries only an id) happens at the event
//! envelope's `timestamp`, or the given fallback when the envelope has none; the envelope
//! timestamp is the same on every redelivery, so the tombstone does not depend on when it
//! was delivered.
//!
//! `last_sign_in_at` is mirrored from Clerk's user object (it arrives with `user.updated`);
//! a `session.created` moves the application-side `last_login` (Django's field), which is
//! kept monotonic by the store.

use clerk_core::model::{
    ClerkInvitationData, ClerkMembershipData, ClerkOrganizationData, ClerkUserData,
    InvitationStatus, RevokedSession,
};
use clerk_core::store::{Change, LinkPolicy, UserRef};
use clerk_core::time::UnixTime;

use crate::event::{Event, EventData, ParseError};
use crate::model::{Organization, OrganizationInvitation, OrganizationMembership, Session, User};

/// What an event means for the store.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Mapped {
    /// Apply these changes, in order, in one batch with the delivery's receipt.
    Changes(Vec<Change>),
    /// The event type has no store effect (it is still acknowledged and recorded).
    Ignored,
}

/// Maps a parsed event to its store changes.
///
/// `link` is the account-linking policy for user upserts (off by default, see
/// [`LinkPolicy`]); `fallback` is the instant used for deletions when the envelope carries
/// no `timestamp` (the processor passes the verified svix timestamp).
///
/// # Errors
/// [`ParseError::InvalidData`] when an event the store acts on lacks an id it needs (an
/// empty user, session, organization, membership or invitation id): such a body can never
/// apply, so it is rejected (400) rather than retried.
pub fn map_event(
    event: &Event,
    link: LinkPolicy,
    fallback: UnixTime,
) -> Result<Mapped, ParseError> {
    let event_type = event.event_type();
    let at = event.timestamp.map_or(fallback, UnixTime::from_millis);
    let changes = match &event.data {
        EventData::UserCreated(user) | EventData::UserUpdated(user) => {
            vec![Change::UpsertUser {
                data: user_data(event_type, user)?,
                link,
            }]
        }
        EventData::UserDeleted(deleted) => vec![Change::DeleteUser {
            clerk_id: non_empty(event_type, "id", &deleted.id)?,
            at,
        }],
        EventData::SessionCreated(session) => {
            non_empty(event_type, "id", &session.id)?;
            if session.user_id.is_empty() {
                return Ok(Mapped::Ignored);
            }
            vec![Change::RecordLogin {
                user: UserRef::ClerkId(session.user_id.clone()),
                at: session_time(session.created_at, at),
            }]
        }
        EventData::SessionEnded(session)
        | EventData::SessionRemoved(session)
        | EventData::SessionRevoked(session) => session_end(event_type, session, at)?,
        EventData::OrganizationCreated(org) | EventData::OrganizationUpdated(org) => {
            vec![Change::UpsertOrganization(organization_data(
                event_type, org,
            )?)]
        }
        EventData::OrganizationDeleted(deleted) => vec![Change::DeleteOrganization {
            clerk_id: non_empty(event_type, "id", &deleted.id)?,
            at,
        }],
        EventData::OrganizationMembershipCreated(m)
        | EventData::OrganizationMembershipUpdated(m) => {
            vec![Change::UpsertMembership(membership_data(event_type, m)?)]
        }
        EventData::OrganizationMembershipDeleted(m) => {
            let data = membership_data(event_type, m)?;
            vec![Change::DeleteMembership {
                clerk_id: data.clerk_id,
                organization_clerk_id: data.organization_clerk_id,
                user_clerk_id: data.user_clerk_id,
                at,
            }]
        }
        EventData::OrganizationInvitationCreated(inv)
        | EventData::OrganizationInvitationAccepted(inv)
        | EventData::OrganizationInvitationRevoked(inv) => {
            vec![Change::UpsertInvitation(invitation_data(event_type, inv)?)]
        }
        _ => return Ok(Mapped::Ignored),
    };
    Ok(Mapped::Changes(changes))
}

fn invalid(event_type: &str, message: impl Into<String>) -> ParseError {
    ParseError::InvalidData {
        event_type: event_type.to_owned(),
        message: message.into(),
    }
}

fn non_empty(event_type: &str, field: &str, value: &str) -> Result<String, ParseError> {
    if value.trim().is_empty() {
        Err(invalid(event_type, format!("empty `{field}`")))
    } else {
        Ok(value.to_owned())
    }
}

fn some_non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// A session's own instant when Clerk sent one, else the event's.
fn session_time(ms: i64, event_at: UnixTime) -> UnixTime {
    if ms > 0 {
        UnixTime::from_millis(ms)
    } else {
        event_at
    }
}

/// `session.ended` / `removed` / `revoked`: the user's last logout and the revoked set.
fn session_end(
    event_type: &str,
    session: &Session,
    at: UnixTime,
) -> Result<Vec<Change>, ParseError> {
    let id = non_empty(event_type, "id", &session.id)?;
    let when = session_time(session.updated_at, at);
    let status = if session.status.is_empty() {
        event_type
            .rsplit('.')
            .next()
            .unwrap_or(event_type)
            .to_owned()
    } else {
        session.status.clone()
    };
    let user = some_non_empty(&session.user_id);
    let mut changes = Vec::with_capacity(2);
    if let Some(user) = &user {
        changes.push(Change::RecordLogout {
            user: UserRef::ClerkId(user.clone()),
            at: when,
        });
    }
    changes.push(Change::RevokeSession(RevokedSession::new(
        id, user, status, when,
    )));
    Ok(changes)
}

/// Clerk's user object → the Clerk-owned fields of a local user.
///
/// # Errors
/// An empty user id.
pub fn user_data(event_type: &str, user: &User) -> Result<ClerkUserData, ParseError> {
    let mut data = ClerkUserData::new(
        non_empty(event_type, "id", &user.id)?,
        UnixTime::from_millis(user.created_at),
        UnixTime::from_millis(user.updated_at),
    );
    if let Some(primary) = user.primary_email() {
        if !primary.address.is_empty() {
            data = data.with_email(primary.address, primary.verified);
        }
    }
    data.username.clone_from(&user.username);
    data.first_name.clone_from(&user.first_name);
    data.last_name.clone_from(&user.last_name);
    data.image_url = some_non_empty(&user.image_url);
    data.public_metadata = serde_json::Value::Object(user.public_metadata.clone());
    data.external_id.clone_from(&user.external_id);
    data.banned = user.banned;
    data.locked = user.locked;
    data.last_sign_in_at = user.last_sign_in_at.map(UnixTime::from_millis);
    Ok(data)
}

/// Clerk's organization object → the Clerk-owned fields of a local organization.
///
/// # Errors
/// An empty organization id.
pub fn organization_data(
    event_type: &str,
    org: &Organization,
) -> Result<ClerkOrganizationData, ParseError> {
    let mut data = ClerkOrganizationData::new(
        non_empty(event_type, "id", &org.id)?,
        org.name.clone(),
        UnixTime::from_millis(org.created_at),
        UnixTime::from_millis(org.updated_at),
    );
    data.slug.clone_from(&org.slug);
    data.image_url = some_non_empty(&org.image_url);
    data.public_metadata = serde_json::Value::Object(org.public_metadata.clone());
    data.members_count = org.members_count;
    Ok(data)
}

/// Clerk's membership object → a local membership.
///
/// # Errors
/// An empty membership, organization or user id.
pub fn membership_data(
    event_type: &str,
    m: &OrganizationMembership,
) -> Result<ClerkMembershipData, ParseError> {
    let mut data = ClerkMembershipData::new(
        non_empty(event_type, "id", &m.id)?,
        non_empty(event_type, "organization.id", &m.organization.id)?,
        non_empty(
            event_type,
            "public_user_data.user_id",
            &m.public_user_data.user_id,
        )?,
        m.role.clone(),
        UnixTime::from_millis(m.created_at),
        UnixTime::from_millis(m.updated_at),
    );
    data.permissions.clone_from(&m.permissions);
    Ok(data)
}

/// Clerk's invitation object → a local invitation. An empty `status` is taken from the
/// event type (`organizationInvitation.accepted` → `accepted`; `created` → `pending`); an
/// empty `organization_id` from `public_organization_data.id`.
///
/// # Errors
/// An empty invitation or organization id.
pub fn invitation_data(
    event_type: &str,
    inv: &OrganizationInvitation,
) -> Result<ClerkInvitationData, ParseError> {
    let organization_id = if inv.organization_id.is_empty() {
        inv.public_organization_data
            .as_ref()
            .map_or("", |o| o.id.as_str())
    } else {
        inv.organization_id.as_str()
    };
    let mut data = ClerkInvitationData::new(
        non_empty(event_type, "id", &inv.id)?,
        non_empty(event_type, "organization_id", organization_id)?,
        inv.email_address.clone(),
        inv.role.clone(),
        UnixTime::from_millis(inv.created_at),
        UnixTime::from_millis(inv.updated_at),
    );
    data.user_clerk_id = inv.user_id.as_deref().and_then(some_non_empty);
    data.status = if inv.status.is_empty() {
        match event_type {
            "organizationInvitation.accepted" => InvitationStatus::Accepted,
            "organizationInvitation.revoked" => InvitationStatus::Revoked,
            _ => InvitationStatus::Pending,
        }
    } else {
        InvitationStatus::parse(&inv.status)
    };
    Ok(data)
}
