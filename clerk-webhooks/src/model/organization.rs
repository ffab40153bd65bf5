//! Organizations, memberships, invitations and domains.

use serde::{Deserialize, Serialize};

use super::{nullable, Metadata};

/// A Clerk organization (`"object": "organization"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Organization {
    /// Clerk organization id (`org_…`).
    pub id: String,
    /// Always `organization`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// Display name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// URL-friendly unique slug (absent when slugs are disabled).
    #[serde(default)]
    pub slug: Option<String>,
    /// Logo URL.
    #[serde(default, deserialize_with = "nullable")]
    pub image_url: String,
    /// Whether a logo was uploaded.
    #[serde(default, deserialize_with = "nullable")]
    pub has_image: bool,
    /// Number of members, when Clerk includes it.
    #[serde(default)]
    pub members_count: Option<i64>,
    /// Number of pending invitations, when Clerk includes it.
    #[serde(default)]
    pub pending_invitations_count: Option<i64>,
    /// Membership limit (0 means unlimited).
    #[serde(default, deserialize_with = "nullable")]
    pub max_allowed_memberships: i64,
    /// Whether admins may delete the organization.
    #[serde(default, deserialize_with = "nullable")]
    pub admin_delete_enabled: bool,
    /// Public metadata.
    #[serde(default, deserialize_with = "nullable")]
    pub public_metadata: Metadata,
    /// Private metadata (backend only).
    #[serde(default, deserialize_with = "nullable")]
    pub private_metadata: Metadata,
    /// Id of the user who created it, when known.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms); the ordering key for `organization.*` events.
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
}

/// The public part of a member's user, embedded in a membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PublicUserData {
    /// The member's Clerk user id.
    #[serde(default, deserialize_with = "nullable")]
    pub user_id: String,
    /// The member's identifier (usually the primary email address).
    #[serde(default, deserialize_with = "nullable")]
    pub identifier: String,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Profile image URL.
    #[serde(default, deserialize_with = "nullable")]
    pub image_url: String,
    /// Whether a profile image was uploaded.
    #[serde(default, deserialize_with = "nullable")]
    pub has_image: bool,
}

/// A user's membership in an organization (`"object": "organization_membership"`).
///
/// The data of `organizationMembership.created`, `.updated` and `.deleted` (Clerk sends the
/// whole membership on deletion, so the organization and user ids are always at hand).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationMembership {
    /// Clerk membership id (`orgmem_…`).
    pub id: String,
    /// Always `organization_membership`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// Role key, for example `org:admin` or `org:member`.
    #[serde(default, deserialize_with = "nullable")]
    pub role: String,
    /// Human-readable role name, when sent.
    #[serde(default)]
    pub role_name: Option<String>,
    /// Permission keys granted by the role, for example `org:reports:read`.
    #[serde(default, deserialize_with = "nullable")]
    pub permissions: Vec<String>,
    /// Public metadata of the membership.
    #[serde(default, deserialize_with = "nullable")]
    pub public_metadata: Metadata,
    /// Private metadata of the membership.
    #[serde(default, deserialize_with = "nullable")]
    pub private_metadata: Metadata,
    /// The organization.
    pub organization: Organization,
    /// The member.
    pub public_user_data: PublicUserData,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms); the ordering key for membership events.
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
}

/// The public part of an organization, embedded in an invitation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PublicOrganizationData {
    /// Clerk organization id.
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// Display name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Logo URL.
    #[serde(default, deserialize_with = "nullable")]
    pub image_url: String,
    /// Whether a logo was uploaded.
    #[serde(default, deserialize_with = "nullable")]
    pub has_image: bool,
}

/// An invitation to join an organization (`"object": "organization_invitation"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationInvitation {
    /// Clerk invitation id (`orginv_…`).
    pub id: String,
    /// Always `organization_invitation`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The invited address.
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: String,
    /// Role key the invitee will get.
    #[serde(default, deserialize_with = "nullable")]
    pub role: String,
    /// Human-readable role name, when sent.
    #[serde(default)]
    pub role_name: Option<String>,
    /// `pending`, `accepted`, `revoked` or `expired`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// The organization's id.
    #[serde(default, deserialize_with = "nullable")]
    pub organization_id: String,
    /// The organization's public data, when sent.
    #[serde(default)]
    pub public_organization_data: Option<PublicOrganizationData>,
    /// The user who accepted (on `organizationInvitation.accepted`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Invitation URL, when sent.
    #[serde(default)]
    pub url: Option<String>,
    /// Public metadata.
    #[serde(default, deserialize_with = "nullable")]
    pub public_metadata: Metadata,
    /// Private metadata.
    #[serde(default, deserialize_with = "nullable")]
    pub private_metadata: Metadata,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms); the ordering key for invitation events.
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
    /// Expiry (ms), when sent.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Verification of an organization domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationDomainVerification {
    /// `unverified` or `verified`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// For example `email_code`.
    #[serde(default, deserialize_with = "nullable")]
    pub strategy: String,
    /// Attempts made, when applicable.
    #[serde(default)]
    pub attempts: Option<i64>,
    /// Expiry of the pending verification (ms), when applicable.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A verified (or pending) email domain of an organization (`"object": "organization_domain"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationDomain {
    /// Clerk id (`orgdmn_…`).
    pub id: String,
    /// Always `organization_domain`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The domain name, for example `example.com`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// The organization's id.
    #[serde(default, deserialize_with = "nullable")]
    pub organization_id: String,
    /// `manual_invitation`, `automatic_invitation` or `automatic_suggestion`.
    #[serde(default, deserialize_with = "nullable")]
    pub enrollment_mode: String,
    /// Verification state, when started.
    #[serde(default)]
    pub verification: Option<OrganizationDomainVerification>,
    /// Address used for affiliation verification, when set.
    #[serde(default)]
    pub affiliation_email_address: Option<String>,
    /// Pending invitations created through this domain.
    #[serde(default, deserialize_with = "nullable")]
    pub total_pending_invitations: i64,
    /// Pending suggestions created through this domain.
    #[serde(default, deserialize_with = "nullable")]
    pub total_pending_suggestions: i64,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
}
