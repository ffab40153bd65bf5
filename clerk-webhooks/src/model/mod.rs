//! Clerk Backend API objects, as they appear in webhook `data`.
//!
//! The shapes follow Clerk's Backend API JSON. Every type tolerates fields it does not know
//! (Clerk adds fields often) and fills missing or `null` non-optional fields with their
//! default (empty string, `false`, `0`, empty list or map), so only the `id` is required.
//! Timestamps are Unix **milliseconds** (`i64`), as Clerk sends them. The structs are
//! `#[non_exhaustive]`: build one with `Default::default()` and assign fields.

mod authz;
mod message;
mod organization;
mod session;
mod user;
mod waitlist;

pub use authz::{Permission, Role};
pub use message::{Email, SmsMessage};
pub use organization::{
    Organization, OrganizationDomain, OrganizationDomainVerification, OrganizationInvitation,
    OrganizationMembership, PublicOrganizationData, PublicUserData,
};
pub use session::{Session, SessionActivity};
pub use user::{
    EmailAddress, ExternalAccount, IdentificationLink, PhoneNumber, PrimaryEmail, User,
    Verification, Web3Wallet,
};
pub use waitlist::{Invitation, WaitlistEntry};

use serde::{Deserialize, Deserializer, Serialize};

/// Free-form metadata (`public_metadata`, `private_metadata`, `unsafe_metadata`).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// What Clerk sends for a deleted object: `{"deleted": true, "id": "...", "object": "user"}`.
///
/// Used by `user.deleted`, `organization.deleted`, `organizationDomain.deleted`,
/// `role.deleted` and `permission.deleted`. Extra fields are ignored, so a full object sent
/// for a deletion still parses to its id and object kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeletedObject {
    /// The Clerk id of the deleted object.
    pub id: String,
    /// The kind of object (`user`, `organization`, …).
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// Whether Clerk reports the object as deleted (always `true` in practice).
    #[serde(default, deserialize_with = "nullable")]
    pub deleted: bool,
    /// The slug of a deleted object that had one (organizations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

impl DeletedObject {
    /// A deletion record for `id` of kind `object`.
    #[must_use]
    pub fn new(id: impl Into<String>, object: impl Into<String>) -> Self {
        DeletedObject {
            id: id.into(),
            object: object.into(),
            deleted: true,
            slug: None,
        }
    }
}

/// Deserializes `null` as the type's default (Clerk sends `null` for many empty values).
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
