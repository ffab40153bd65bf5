//! Organizations, memberships, invitations and domains.

use serde_json::{json, Value};

use super::{deleted, event, object, suffix, Object, BASE_TIME_MS, DEFAULT_UPDATED_AT_MS};

/// A Clerk `organization` object with one member and no logo.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationBody(Object);
body_builder!(OrganizationBody);

impl OrganizationBody {
    /// Organization `org_id` named `name` with slug `slug`.
    #[must_use]
    pub fn new(org_id: &str, name: &str, slug: &str) -> Self {
        OrganizationBody(object(json!({
            "admin_delete_enabled": true,
            "created_at": BASE_TIME_MS,
            "created_by": "user_2aAda",
            "has_image": false,
            "id": org_id,
            "image_url": format!("https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9.{}", suffix(org_id)),
            "max_allowed_memberships": 5,
            "members_count": 1,
            "name": name,
            "object": "organization",
            "pending_invitations_count": 0,
            "private_metadata": {},
            "public_metadata": {},
            "slug": slug,
            "updated_at": DEFAULT_UPDATED_AT_MS
        })))
    }

    /// Sets `name`.
    #[must_use]
    pub fn name(self, name: &str) -> Self {
        self.set("name", name)
    }

    /// Sets `slug`.
    #[must_use]
    pub fn slug(self, slug: &str) -> Self {
        self.set("slug", slug)
    }

    /// Sets `members_count`.
    #[must_use]
    pub fn members_count(self, count: i64) -> Self {
        self.set("members_count", count)
    }

    /// Sets `image_url` (and `has_image`).
    #[must_use]
    pub fn image_url(self, url: &str) -> Self {
        self.set("image_url", url).set("has_image", true)
    }

    /// Sets `public_metadata`.
    #[must_use]
    pub fn public_metadata(self, metadata: Value) -> Self {
        self.set("public_metadata", metadata)
    }

    /// Sets `created_by`.
    #[must_use]
    pub fn created_by(self, user_id: &str) -> Self {
        self.set("created_by", user_id)
    }
}

/// `organization.created`.
#[must_use]
pub fn organization_created(org_id: &str, name: &str, slug: &str) -> Value {
    OrganizationBody::new(org_id, name, slug).event("organization.created")
}

/// `organization.updated` with the given `updated_at` (ms).
#[must_use]
pub fn organization_updated(org_id: &str, name: &str, slug: &str, updated_at: i64) -> Value {
    OrganizationBody::new(org_id, name, slug)
        .updated_at(updated_at)
        .event("organization.updated")
}

/// `organization.deleted`: `{"deleted": true, "id": org_id, "object": "organization"}`.
#[must_use]
pub fn organization_deleted(org_id: &str) -> Value {
    event("organization.deleted", deleted(org_id, "organization"))
}

/// A Clerk `organization_membership` with its embedded organization and user data.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipBody(Object);
body_builder!(MembershipBody);

/// `org:admin` → `Admin`.
fn role_name(role: &str) -> String {
    let name = role.strip_prefix("org:").unwrap_or(role);
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The permissions Clerk's default roles carry.
fn default_permissions(role: &str) -> Vec<&'static str> {
    if role == "org:admin" {
        vec![
            "org:sys_profile:manage",
            "org:sys_profile:delete",
            "org:sys_memberships:read",
            "org:sys_memberships:manage",
            "org:sys_domains:read",
            "org:sys_domains:manage",
        ]
    } else {
        vec!["org:sys_memberships:read"]
    }
}

impl MembershipBody {
    /// Membership `membership_id` of `user_id` in `org_id` with `role` (`org:admin`, …).
    ///
    /// The embedded organization is `OrganizationBody::new(org_id, "Acme", "acme")`; the
    /// member's identifier is `<user suffix>@example.com`.
    #[must_use]
    pub fn new(membership_id: &str, org_id: &str, user_id: &str, role: &str) -> Self {
        MembershipBody(object(json!({
            "created_at": BASE_TIME_MS,
            "id": membership_id,
            "object": "organization_membership",
            "organization": OrganizationBody::new(org_id, "Acme", "acme").build(),
            "permissions": default_permissions(role),
            "private_metadata": {},
            "public_metadata": {},
            "public_user_data": {
                "first_name": null,
                "has_image": false,
                "identifier": format!("{}@example.com", suffix(user_id).to_lowercase()),
                "image_url": format!("https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9.{}", suffix(user_id)),
                "last_name": null,
                "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
                "user_id": user_id
            },
            "role": role,
            "role_name": role_name(role),
            "updated_at": DEFAULT_UPDATED_AT_MS
        })))
    }

    /// Sets `role` and its default `permissions`.
    #[must_use]
    pub fn role(self, role: &str) -> Self {
        self.set("role", role)
            .set("permissions", default_permissions(role))
    }

    /// Sets `permissions`.
    #[must_use]
    pub fn permissions(self, permissions: &[&str]) -> Self {
        self.set("permissions", permissions.to_vec())
    }

    /// Replaces the embedded organization.
    #[must_use]
    pub fn organization(self, organization: OrganizationBody) -> Self {
        self.set("organization", organization.build())
    }

    /// Sets the member's identifier (email) and names in `public_user_data`.
    #[must_use]
    pub fn member(
        mut self,
        identifier: &str,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Self {
        if let Some(Value::Object(user)) = self.0.get_mut("public_user_data") {
            user.insert("identifier".into(), identifier.into());
            user.insert("first_name".into(), first_name.into());
            user.insert("last_name".into(), last_name.into());
        }
        self
    }
}

/// `organizationMembership.created`.
#[must_use]
pub fn membership_created(membership_id: &str, org_id: &str, user_id: &str, role: &str) -> Value {
    MembershipBody::new(membership_id, org_id, user_id, role)
        .event("organizationMembership.created")
}

/// `organizationMembership.updated` with the given role and `updated_at` (ms).
#[must_use]
pub fn membership_updated(
    membership_id: &str,
    org_id: &str,
    user_id: &str,
    role: &str,
    updated_at: i64,
) -> Value {
    MembershipBody::new(membership_id, org_id, user_id, role)
        .updated_at(updated_at)
        .event("organizationMembership.updated")
}

/// `organizationMembership.deleted` (Clerk sends the whole membership).
#[must_use]
pub fn membership_deleted(membership_id: &str, org_id: &str, user_id: &str) -> Value {
    MembershipBody::new(membership_id, org_id, user_id, "org:member")
        .event("organizationMembership.deleted")
}

/// A Clerk `organization_invitation`, `pending` by default, role `org:member`.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationBody(Object);
body_builder!(InvitationBody);

impl InvitationBody {
    /// Invitation `invitation_id` of `email` to `org_id`.
    #[must_use]
    pub fn new(invitation_id: &str, org_id: &str, email: &str) -> Self {
        InvitationBody(object(json!({
            "created_at": BASE_TIME_MS,
            "email_address": email,
            "expires_at": BASE_TIME_MS + 30 * 86_400_000,
            "id": invitation_id,
            "object": "organization_invitation",
            "organization_id": org_id,
            "private_metadata": {},
            "public_metadata": {},
            "public_organization_data": {
                "has_image": false,
                "id": org_id,
                "image_url": format!("https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9.{}", suffix(org_id)),
                "name": "Acme",
                "slug": "acme"
            },
            "role": "org:member",
            "role_name": "Member",
            "status": "pending",
            "updated_at": DEFAULT_UPDATED_AT_MS,
            "url": null
        })))
    }

    /// Sets `role`.
    #[must_use]
    pub fn role(self, role: &str) -> Self {
        self.set("role", role)
    }

    /// Sets `status` (`pending`, `accepted`, `revoked`, `expired`).
    #[must_use]
    pub fn status(self, status: &str) -> Self {
        self.set("status", status)
    }

    /// Sets `user_id` (the user who accepted).
    #[must_use]
    pub fn user_id(self, user_id: &str) -> Self {
        self.set("user_id", user_id)
    }
}

/// `organizationInvitation.created` (status `pending`).
#[must_use]
pub fn invitation_created(invitation_id: &str, org_id: &str, email: &str) -> Value {
    InvitationBody::new(invitation_id, org_id, email).event("organizationInvitation.created")
}

/// `organizationInvitation.accepted` (status `accepted`, with the accepting `user_id`).
#[must_use]
pub fn invitation_accepted(invitation_id: &str, org_id: &str, email: &str, user_id: &str) -> Value {
    InvitationBody::new(invitation_id, org_id, email)
        .status("accepted")
        .user_id(user_id)
        .updated_at(DEFAULT_UPDATED_AT_MS + 1_000)
        .event("organizationInvitation.accepted")
}

/// `organizationInvitation.revoked` (status `revoked`).
#[must_use]
pub fn invitation_revoked(invitation_id: &str, org_id: &str, email: &str) -> Value {
    InvitationBody::new(invitation_id, org_id, email)
        .status("revoked")
        .updated_at(DEFAULT_UPDATED_AT_MS + 1_000)
        .event("organizationInvitation.revoked")
}

/// A Clerk `organization_domain`, unverified, enrollment by manual invitation.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainBody(Object);
body_builder!(DomainBody);

impl DomainBody {
    /// Domain `domain_id` named `name` of `org_id`.
    #[must_use]
    pub fn new(domain_id: &str, org_id: &str, name: &str) -> Self {
        DomainBody(object(json!({
            "affiliation_email_address": null,
            "created_at": BASE_TIME_MS,
            "enrollment_mode": "manual_invitation",
            "id": domain_id,
            "name": name,
            "object": "organization_domain",
            "organization_id": org_id,
            "total_pending_invitations": 0,
            "total_pending_suggestions": 0,
            "updated_at": DEFAULT_UPDATED_AT_MS,
            "verification": {
                "attempts": 0,
                "expires_at": BASE_TIME_MS + 86_400_000,
                "status": "unverified",
                "strategy": "email_code"
            }
        })))
    }

    /// Sets `enrollment_mode`.
    #[must_use]
    pub fn enrollment_mode(self, mode: &str) -> Self {
        self.set("enrollment_mode", mode)
    }

    /// Marks the domain verified (or not).
    #[must_use]
    pub fn verified(mut self, verified: bool) -> Self {
        if let Some(Value::Object(v)) = self.0.get_mut("verification") {
            v.insert(
                "status".into(),
                if verified { "verified" } else { "unverified" }.into(),
            );
        }
        self
    }
}

/// `organizationDomain.created`.
#[must_use]
pub fn domain_created(domain_id: &str, org_id: &str, name: &str) -> Value {
    DomainBody::new(domain_id, org_id, name).event("organizationDomain.created")
}

/// `organizationDomain.updated` (verified) with the given `updated_at` (ms).
#[must_use]
pub fn domain_updated(domain_id: &str, org_id: &str, name: &str, updated_at: i64) -> Value {
    DomainBody::new(domain_id, org_id, name)
        .verified(true)
        .updated_at(updated_at)
        .event("organizationDomain.updated")
}

/// `organizationDomain.deleted`.
#[must_use]
pub fn domain_deleted(domain_id: &str) -> Value {
    event(
        "organizationDomain.deleted",
        deleted(domain_id, "organization_domain"),
    )
}
