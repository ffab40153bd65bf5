//! Emails, SMS messages, roles, permissions and waitlist entries.

use serde_json::{json, Value};

use super::{deleted, event, object, suffix, Object, BASE_TIME_MS, DEFAULT_UPDATED_AT_MS};

/// A Clerk `email` (a verification code email, delivered by Clerk).
#[derive(Debug, Clone, PartialEq)]
pub struct EmailBody(Object);
body_builder!(EmailBody);

impl EmailBody {
    /// Email `email_id` to `to`.
    #[must_use]
    pub fn new(email_id: &str, to: &str) -> Self {
        EmailBody(object(json!({
            "body": "<p>Your verification code is <strong>424242</strong>.</p>",
            "body_plain": "Your verification code is 424242.",
            "data": { "app": { "name": "Acme" }, "otp_code": "424242", "requested_at": "Tuesday, Nov 14, 2023" },
            "delivered_by_clerk": true,
            "email_address_id": format!("idn_{}", suffix(email_id)),
            "from_email_name": "notifications",
            "id": email_id,
            "object": "email",
            "slug": "verification_code",
            "status": "queued",
            "subject": "424242 is your verification code",
            "to_email_address": to,
            "user_id": null
        })))
    }

    /// Sets `delivered_by_clerk` (false: the application must deliver it).
    #[must_use]
    pub fn delivered_by_clerk(self, delivered: bool) -> Self {
        self.set("delivered_by_clerk", delivered)
    }
}

/// `email.created`.
#[must_use]
pub fn email_created(email_id: &str, to: &str) -> Value {
    EmailBody::new(email_id, to).event("email.created")
}

/// A Clerk `sms_message` (a verification code, delivered by Clerk).
#[derive(Debug, Clone, PartialEq)]
pub struct SmsBody(Object);
body_builder!(SmsBody);

impl SmsBody {
    /// SMS `sms_id` to `to` (E.164).
    #[must_use]
    pub fn new(sms_id: &str, to: &str) -> Self {
        SmsBody(object(json!({
            "data": { "app_name": "Acme", "otp_code": "424242" },
            "delivered_by_clerk": true,
            "from_phone_number": "+15555550199",
            "id": sms_id,
            "message": "424242 is your verification code for Acme.",
            "object": "sms_message",
            "phone_number_id": format!("idn_{}", suffix(sms_id)),
            "slug": "verification_code",
            "status": "queued",
            "to_phone_number": to,
            "user_id": null
        })))
    }
}

/// `sms.created`.
#[must_use]
pub fn sms_created(sms_id: &str, to: &str) -> Value {
    SmsBody::new(sms_id, to).event("sms.created")
}

/// A Clerk `permission`.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionBody(Object);
body_builder!(PermissionBody);

impl PermissionBody {
    /// Permission `permission_id` with `key` (for example `org:reports:read`).
    #[must_use]
    pub fn new(permission_id: &str, key: &str) -> Self {
        PermissionBody(object(json!({
            "created_at": BASE_TIME_MS,
            "description": format!("Grants {key}"),
            "id": permission_id,
            "key": key,
            "name": key.rsplit(':').next().unwrap_or(key),
            "object": "permission",
            "type": "user",
            "updated_at": DEFAULT_UPDATED_AT_MS
        })))
    }
}

/// `permission.created`.
#[must_use]
pub fn permission_created(permission_id: &str, key: &str) -> Value {
    PermissionBody::new(permission_id, key).event("permission.created")
}

/// `permission.updated`.
#[must_use]
pub fn permission_updated(permission_id: &str, key: &str) -> Value {
    PermissionBody::new(permission_id, key)
        .set("description", "Updated description")
        .updated_at(DEFAULT_UPDATED_AT_MS + 1_000)
        .event("permission.updated")
}

/// `permission.deleted`.
#[must_use]
pub fn permission_deleted(permission_id: &str) -> Value {
    event("permission.deleted", deleted(permission_id, "permission"))
}

/// A Clerk `role` with one custom permission.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleBody(Object);
body_builder!(RoleBody);

impl RoleBody {
    /// Role `role_id` with `key` (for example `org:auditor`).
    #[must_use]
    pub fn new(role_id: &str, key: &str) -> Self {
        let name = key.strip_prefix("org:").unwrap_or(key);
        RoleBody(object(json!({
            "created_at": BASE_TIME_MS,
            "description": format!("The {name} role"),
            "id": role_id,
            "is_creator_eligible": false,
            "key": key,
            "name": name,
            "object": "role",
            "permissions": [PermissionBody::new("perm_2aReports", "org:reports:read").build()],
            "updated_at": DEFAULT_UPDATED_AT_MS
        })))
    }

    /// Replaces the permissions with these keys.
    #[must_use]
    pub fn permission_keys(self, keys: &[&str]) -> Self {
        let permissions: Vec<Value> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| PermissionBody::new(&format!("perm_{i}"), key).build())
            .collect();
        self.set("permissions", permissions)
    }
}

/// `role.created`.
#[must_use]
pub fn role_created(role_id: &str, key: &str) -> Value {
    RoleBody::new(role_id, key).event("role.created")
}

/// `role.updated`.
#[must_use]
pub fn role_updated(role_id: &str, key: &str) -> Value {
    RoleBody::new(role_id, key)
        .set("description", "Updated description")
        .updated_at(DEFAULT_UPDATED_AT_MS + 1_000)
        .event("role.updated")
}

/// `role.deleted`.
#[must_use]
pub fn role_deleted(role_id: &str) -> Value {
    event("role.deleted", deleted(role_id, "role"))
}

/// A Clerk `waitlist_entry`, `pending` by default.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitlistEntryBody(Object);
body_builder!(WaitlistEntryBody);

impl WaitlistEntryBody {
    /// Entry `entry_id` for `email`.
    #[must_use]
    pub fn new(entry_id: &str, email: &str) -> Self {
        WaitlistEntryBody(object(json!({
            "created_at": BASE_TIME_MS,
            "email_address": email,
            "id": entry_id,
            "invitation": null,
            "is_locked": false,
            "object": "waitlist_entry",
            "status": "pending",
            "updated_at": DEFAULT_UPDATED_AT_MS
        })))
    }

    /// Sets `status` (`pending`, `invited`, `completed`, `rejected`).
    #[must_use]
    pub fn status(self, status: &str) -> Self {
        self.set("status", status)
    }

    /// Marks the entry invited, with an embedded pending invitation.
    #[must_use]
    pub fn invited(self, invitation_id: &str) -> Self {
        let email = self.0.get("email_address").cloned().unwrap_or(Value::Null);
        let invitation = json!({
            "created_at": DEFAULT_UPDATED_AT_MS,
            "email_address": email,
            "expires_at": DEFAULT_UPDATED_AT_MS + 30 * 86_400_000,
            "id": invitation_id,
            "object": "invitation",
            "public_metadata": {},
            "revoked": false,
            "status": "pending",
            "updated_at": DEFAULT_UPDATED_AT_MS,
            "url": null
        });
        self.set("status", "invited").set("invitation", invitation)
    }
}

/// `waitlistEntry.created`.
#[must_use]
pub fn waitlist_entry_created(entry_id: &str, email: &str) -> Value {
    WaitlistEntryBody::new(entry_id, email).event("waitlistEntry.created")
}

/// `waitlistEntry.updated` with the given status (`invited` adds an invitation).
#[must_use]
pub fn waitlist_entry_updated(entry_id: &str, email: &str, status: &str) -> Value {
    let body = WaitlistEntryBody::new(entry_id, email).updated_at(DEFAULT_UPDATED_AT_MS + 1_000);
    let body = if status == "invited" {
        body.invited(&format!("inv_{}", suffix(entry_id)))
    } else {
        body.status(status)
    };
    body.event("waitlistEntry.updated")
}
