//! Lean serde types of the Backend API objects: only what the local mirror needs.
//!
//! Unknown fields are ignored and `null` reads as the field's default, so Clerk can add
//! fields (or send `null` for absent ones) without breaking a sync. Timestamps are Unix
//! milliseconds.

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{
    ClerkInvitationData, ClerkMembershipData, ClerkOrganizationData, ClerkUserData,
    InvitationStatus,
};
use crate::time::UnixTime;

/// `null` reads as the default.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn metadata<'de, D: Deserializer<'de>>(deserializer: D) -> Result<serde_json::Value, D::Error> {
    Ok(Option::<serde_json::Value>::deserialize(deserializer)?
        .filter(|v| !v.is_null())
        .unwrap_or_else(empty_object))
}

fn some_non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A page of a listing that answers `{"data": [...], "total_count": n}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The objects of this page.
    pub data: Vec<T>,
    /// How many objects the whole listing holds.
    #[serde(default, deserialize_with = "nullable")]
    pub total_count: u64,
}

/// A Clerk user (`"object": "user"`), as `GET /v1/users` and `GET /v1/users/{id}` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiUser {
    /// Clerk user id (`user_…`).
    pub id: String,
    /// The application's own id for this user.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Profile image URL.
    #[serde(default)]
    pub image_url: Option<String>,
    /// Id of the primary entry of [`email_addresses`](Self::email_addresses).
    #[serde(default)]
    pub primary_email_address_id: Option<String>,
    /// The user's email addresses.
    #[serde(default, deserialize_with = "nullable")]
    pub email_addresses: Vec<ApiEmailAddress>,
    /// `public_metadata` (an empty object when absent).
    #[serde(default = "empty_object", deserialize_with = "metadata")]
    pub public_metadata: serde_json::Value,
    /// Banned by an administrator.
    #[serde(default, deserialize_with = "nullable")]
    pub banned: bool,
    /// Locked after failed attempts.
    #[serde(default, deserialize_with = "nullable")]
    pub locked: bool,
    /// Last sign-in.
    #[serde(default)]
    pub last_sign_in_at: Option<UnixTime>,
    /// Creation time.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: UnixTime,
    /// Last update: orders upserts.
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: UnixTime,
}

/// An email address of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiEmailAddress {
    /// Clerk id (`idn_…`).
    pub id: String,
    /// The address.
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: String,
    /// Its verification, when any.
    #[serde(default)]
    pub verification: Option<ApiVerification>,
}

/// The verification state of an identification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiVerification {
    /// `verified`, `unverified`, …
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
}

impl ApiUser {
    /// The primary email address and whether it is verified; no fallback to another address.
    #[must_use]
    pub fn primary_email(&self) -> Option<(&str, bool)> {
        let primary = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .iter()
            .find(|e| e.id == primary && !e.email_address.is_empty())
            .map(|e| {
                let verified = e
                    .verification
                    .as_ref()
                    .is_some_and(|v| v.status == "verified");
                (e.email_address.as_str(), verified)
            })
    }
}

impl From<&ApiUser> for ClerkUserData {
    fn from(user: &ApiUser) -> Self {
        let mut data = ClerkUserData::new(user.id.clone(), user.created_at, user.updated_at);
        if let Some((address, verified)) = user.primary_email() {
            data = data.with_email(address, verified);
        }
        data.username.clone_from(&user.username);
        data.first_name.clone_from(&user.first_name);
        data.last_name.clone_from(&user.last_name);
        data.image_url = user.image_url.as_deref().and_then(some_non_empty);
        data.public_metadata.clone_from(&user.public_metadata);
        data.external_id.clone_from(&user.external_id);
        data.banned = user.banned;
        data.locked = user.locked;
        data.last_sign_in_at = user.last_sign_in_at;
        data
    }
}

impl From<ApiUser> for ClerkUserData {
    fn from(user: ApiUser) -> Self {
        ClerkUserData::from(&user)
    }
}

/// A Clerk organization (`"object": "organization"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiOrganization {
    /// Clerk id (`org_…`).
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Logo URL.
    #[serde(default)]
    pub image_url: Option<String>,
    /// `public_metadata` (an empty object when absent).
    #[serde(default = "empty_object", deserialize_with = "metadata")]
    pub public_metadata: serde_json::Value,
    /// Member count (sent with `include_members_count=true`).
    #[serde(default)]
    pub members_count: Option<i64>,
    /// Creation time.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: UnixTime,
    /// Last update.
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: UnixTime,
}

impl From<&ApiOrganization> for ClerkOrganizationData {
    fn from(org: &ApiOrganization) -> Self {
        let mut data = ClerkOrganizationData::new(
            org.id.clone(),
            org.name.clone(),
            org.created_at,
            org.updated_at,
        );
        data.slug.clone_from(&org.slug);
        data.image_url = org.image_url.as_deref().and_then(some_non_empty);
        data.public_metadata.clone_from(&org.public_metadata);
        data.members_count = org.members_count;
        data
    }
}

impl From<ApiOrganization> for ClerkOrganizationData {
    fn from(org: ApiOrganization) -> Self {
        ClerkOrganizationData::from(&org)
    }
}

/// The organization of a membership (Clerk nests the whole object; only its id is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiMembershipOrganization {
    /// Clerk id (`org_…`).
    pub id: String,
}

/// The member's public data in a membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiPublicUserData {
    /// Clerk user id (`user_…`).
    #[serde(default, deserialize_with = "nullable")]
    pub user_id: String,
    /// The member's identifier (usually an email address).
    #[serde(default)]
    pub identifier: Option<String>,
}

/// An organization membership (`"object": "organization_membership"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiMembership {
    /// Clerk id (`orgmem_…`).
    pub id: String,
    /// Role key (`org:admin`).
    #[serde(default, deserialize_with = "nullable")]
    pub role: String,
    /// Permission keys.
    #[serde(default, deserialize_with = "nullable")]
    pub permissions: Vec<String>,
    /// The organization.
    pub organization: ApiMembershipOrganization,
    /// The member.
    pub public_user_data: ApiPublicUserData,
    /// Creation time.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: UnixTime,
    /// Last update.
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: UnixTime,
}

impl From<&ApiMembership> for ClerkMembershipData {
    fn from(m: &ApiMembership) -> Self {
        let mut data = ClerkMembershipData::new(
            m.id.clone(),
            m.organization.id.clone(),
            m.public_user_data.user_id.clone(),
            m.role.clone(),
            m.created_at,
            m.updated_at,
        );
        data.permissions.clone_from(&m.permissions);
        data
    }
}

impl From<ApiMembership> for ClerkMembershipData {
    fn from(m: ApiMembership) -> Self {
        ClerkMembershipData::from(&m)
    }
}

/// An organization invitation (`"object": "organization_invitation"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiInvitation {
    /// Clerk id (`orginv_…`).
    pub id: String,
    /// Invited address.
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: String,
    /// Role key offered.
    #[serde(default, deserialize_with = "nullable")]
    pub role: String,
    /// `pending`, `accepted`, `revoked`, `expired` (unknown statuses kept verbatim).
    #[serde(default = "pending")]
    pub status: InvitationStatus,
    /// The organization's Clerk id.
    #[serde(default, deserialize_with = "nullable")]
    pub organization_id: String,
    /// The invited user's Clerk id, when known.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Creation time.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: UnixTime,
    /// Last update.
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: UnixTime,
}

fn pending() -> InvitationStatus {
    InvitationStatus::Pending
}

impl From<&ApiInvitation> for ClerkInvitationData {
    fn from(inv: &ApiInvitation) -> Self {
        let mut data = ClerkInvitationData::new(
            inv.id.clone(),
            inv.organization_id.clone(),
            inv.email_address.clone(),
            inv.role.clone(),
            inv.created_at,
            inv.updated_at,
        );
        data.user_clerk_id = inv.user_id.as_deref().and_then(some_non_empty);
        data.status = inv.status.clone();
        data
    }
}

impl From<ApiInvitation> for ClerkInvitationData {
    fn from(inv: ApiInvitation) -> Self {
        ClerkInvitationData::from(&inv)
    }
}
