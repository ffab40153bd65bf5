//! Users and sessions.

use serde_json::{json, Value};

use super::{deleted, event, object, suffix, Object, BASE_TIME_MS, DEFAULT_UPDATED_AT_MS};

/// A Clerk `user` object.
///
/// Starts with one verified primary email address (id `idn_<user suffix>`), a password, no
/// names, empty metadata and no sign-in yet.
#[derive(Debug, Clone, PartialEq)]
pub struct UserBody(Object);
body_builder!(UserBody);

impl UserBody {
    /// A user `user_id` whose primary, verified email address is `email`.
    #[must_use]
    pub fn new(user_id: &str, email: &str) -> Self {
        let email_id = format!("idn_{}", suffix(user_id));
        // Two halves: one `json!` this size would exceed the macro recursion limit.
        let mut data = object(json!({
            "backup_code_enabled": false,
            "banned": false,
            "create_organization_enabled": true,
            "create_organizations_limit": null,
            "created_at": BASE_TIME_MS,
            "delete_self_enabled": true,
            "email_addresses": [email_address(&email_id, email, true)],
            "enterprise_accounts": [],
            "external_accounts": [],
            "external_id": null,
            "first_name": null,
            "has_image": false,
            "id": user_id,
            "image_url": format!("https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9.{}", suffix(user_id)),
            "last_active_at": null,
            "last_name": null,
            "last_sign_in_at": null,
            "legal_accepted_at": null,
            "locale": null,
            "locked": false
        }));
        data.extend(object(json!({
            "lockout_expires_in_seconds": null,
            "mfa_disabled_at": null,
            "mfa_enabled_at": null,
            "object": "user",
            "passkeys": [],
            "password_enabled": true,
            "password_last_updated_at": BASE_TIME_MS,
            "phone_numbers": [],
            "primary_email_address_id": email_id,
            "primary_phone_number_id": null,
            "primary_web3_wallet_id": null,
            "private_metadata": {},
            "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
            "public_metadata": {},
            "saml_accounts": [],
            "totp_enabled": false,
            "two_factor_enabled": false,
            "unsafe_metadata": {},
            "updated_at": DEFAULT_UPDATED_AT_MS,
            "username": null,
            "verification_attempts_remaining": 100,
            "web3_wallets": []
        })));
        UserBody(data)
    }

    /// Sets `first_name`.
    #[must_use]
    pub fn first_name(self, name: &str) -> Self {
        self.set("first_name", name)
    }

    /// Sets `last_name`.
    #[must_use]
    pub fn last_name(self, name: &str) -> Self {
        self.set("last_name", name)
    }

    /// Sets `username`.
    #[must_use]
    pub fn username(self, username: &str) -> Self {
        self.set("username", username)
    }

    /// Sets `image_url` (and `has_image`).
    #[must_use]
    pub fn image_url(self, url: &str) -> Self {
        self.set("image_url", url).set("has_image", true)
    }

    /// Sets `external_id`.
    #[must_use]
    pub fn external_id(self, id: &str) -> Self {
        self.set("external_id", id)
    }

    /// Sets `public_metadata`.
    #[must_use]
    pub fn public_metadata(self, metadata: Value) -> Self {
        self.set("public_metadata", metadata)
    }

    /// Sets `private_metadata`.
    #[must_use]
    pub fn private_metadata(self, metadata: Value) -> Self {
        self.set("private_metadata", metadata)
    }

    /// Sets `unsafe_metadata`.
    #[must_use]
    pub fn unsafe_metadata(self, metadata: Value) -> Self {
        self.set("unsafe_metadata", metadata)
    }

    /// Sets `banned`.
    #[must_use]
    pub fn banned(self, banned: bool) -> Self {
        self.set("banned", banned)
    }

    /// Sets `locked`.
    #[must_use]
    pub fn locked(self, locked: bool) -> Self {
        self.set("locked", locked)
    }

    /// Sets `last_sign_in_at` (and `last_active_at`), in ms.
    #[must_use]
    pub fn last_sign_in_at(self, ms: i64) -> Self {
        self.set("last_sign_in_at", ms).set("last_active_at", ms)
    }

    /// Makes the primary email address verified or unverified.
    #[must_use]
    pub fn email_verified(mut self, verified: bool) -> Self {
        let primary = self.0.get("primary_email_address_id").cloned();
        if let Some(Value::Array(emails)) = self.0.get_mut("email_addresses") {
            for email in emails
                .iter_mut()
                .filter(|e| primary.as_ref() == e.get("id"))
            {
                email["verification"] = verification(verified);
            }
        }
        self
    }

    /// Adds another email address (not primary).
    #[must_use]
    pub fn extra_email(mut self, email_id: &str, email: &str, verified: bool) -> Self {
        if let Some(Value::Array(emails)) = self.0.get_mut("email_addresses") {
            emails.push(email_address(email_id, email, verified));
        }
        self
    }

    /// Makes the address with this id the primary one.
    #[must_use]
    pub fn primary_email_id(self, email_id: &str) -> Self {
        self.set("primary_email_address_id", email_id)
    }

    /// Removes every email address (a phone- or username-only user).
    #[must_use]
    pub fn no_email(self) -> Self {
        self.set("email_addresses", Value::Array(Vec::new()))
            .set("primary_email_address_id", Value::Null)
    }

    /// Adds a verified primary phone number.
    #[must_use]
    pub fn phone_number(mut self, phone_id: &str, number: &str) -> Self {
        if let Some(Value::Array(phones)) = self.0.get_mut("phone_numbers") {
            phones.push(json!({
                "backup_codes": null,
                "created_at": BASE_TIME_MS,
                "default_second_factor": false,
                "id": phone_id,
                "linked_to": [],
                "object": "phone_number",
                "phone_number": number,
                "reserved": false,
                "reserved_for_second_factor": false,
                "updated_at": BASE_TIME_MS,
                "verification": { "attempts": 1, "expire_at": BASE_TIME_MS + 600_000, "status": "verified", "strategy": "phone_code" }
            }));
        }
        self.set("primary_phone_number_id", phone_id)
    }
}

fn verification(verified: bool) -> Value {
    json!({
        "attempts": 1,
        "expire_at": BASE_TIME_MS + 600_000,
        "object": "verification_email_code",
        "status": if verified { "verified" } else { "unverified" },
        "strategy": "email_code"
    })
}

fn email_address(id: &str, email: &str, verified: bool) -> Value {
    json!({
        "created_at": BASE_TIME_MS,
        "email_address": email,
        "id": id,
        "linked_to": [],
        "matches_sso_connection": false,
        "object": "email_address",
        "reserved": false,
        "updated_at": BASE_TIME_MS,
        "verification": verification(verified)
    })
}

/// `user.created` for a user with one verified primary email address.
#[must_use]
pub fn user_created(user_id: &str, email: &str) -> Value {
    UserBody::new(user_id, email).event("user.created")
}

/// `user.updated` with the given `updated_at` (ms).
#[must_use]
pub fn user_updated(user_id: &str, email: &str, updated_at: i64) -> Value {
    UserBody::new(user_id, email)
        .updated_at(updated_at)
        .event("user.updated")
}

/// `user.deleted`: `{"deleted": true, "id": user_id, "object": "user"}`.
#[must_use]
pub fn user_deleted(user_id: &str) -> Value {
    event("user.deleted", deleted(user_id, "user"))
}

/// A Clerk `session` object, `active` by default, expiring after 7 days.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionBody(Object);
body_builder!(SessionBody);

impl SessionBody {
    /// Session `session_id` of `user_id`.
    #[must_use]
    pub fn new(session_id: &str, user_id: &str) -> Self {
        let data = json!({
            "abandon_at": BASE_TIME_MS + 30 * 86_400_000,
            "actor": null,
            "client_id": format!("client_{}", suffix(session_id)),
            "created_at": BASE_TIME_MS,
            "expire_at": BASE_TIME_MS + 7 * 86_400_000,
            "id": session_id,
            "last_active_at": BASE_TIME_MS,
            "last_active_organization_id": null,
            "latest_activity": {
                "browser_name": "Chrome",
                "browser_version": "126.0.0.0",
                "city": "Berlin",
                "country": "DE",
                "device_type": "Linux",
                "id": format!("sess_activity_{}", suffix(session_id)),
                "ip_address": super::CLIENT_IP,
                "is_mobile": false,
                "object": "session_activity"
            },
            "object": "session",
            "status": "active",
            "tasks": null,
            "updated_at": DEFAULT_UPDATED_AT_MS,
            "user_id": user_id
        });
        SessionBody(object(data))
    }

    /// Sets `status` (`active`, `ended`, `removed`, `revoked`, `pending`, …).
    #[must_use]
    pub fn status(self, status: &str) -> Self {
        self.set("status", status)
    }

    /// Sets `last_active_organization_id`.
    #[must_use]
    pub fn active_organization(self, org_id: &str) -> Self {
        self.set("last_active_organization_id", org_id)
    }
}

/// `session.created` (status `active`).
#[must_use]
pub fn session_created(session_id: &str, user_id: &str) -> Value {
    SessionBody::new(session_id, user_id).event("session.created")
}

/// `session.ended` (status `ended`).
#[must_use]
pub fn session_ended(session_id: &str, user_id: &str) -> Value {
    SessionBody::new(session_id, user_id)
        .status("ended")
        .event("session.ended")
}

/// `session.removed` (status `removed`).
#[must_use]
pub fn session_removed(session_id: &str, user_id: &str) -> Value {
    SessionBody::new(session_id, user_id)
        .status("removed")
        .event("session.removed")
}

/// `session.revoked` (status `revoked`).
#[must_use]
pub fn session_revoked(session_id: &str, user_id: &str) -> Value {
    SessionBody::new(session_id, user_id)
        .status("revoked")
        .event("session.revoked")
}

/// `session.pending` (status `pending`, with a `choose-organization` task).
#[must_use]
pub fn session_pending(session_id: &str, user_id: &str) -> Value {
    SessionBody::new(session_id, user_id)
        .status("pending")
        .set("tasks", json!([{ "key": "choose-organization" }]))
        .event("session.pending")
}
