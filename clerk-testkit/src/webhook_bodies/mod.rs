//! Realistic Clerk webhook bodies, shaped like Clerk's Backend API JSON.
//!
//! Two levels:
//! - one function per event type returning the whole event (`serde_json::Value`), for
//!   example [`user_created`]`("user_1", "ada@example.com")`;
//! - a builder per object ([`UserBody`], [`OrganizationBody`], [`MembershipBody`], …) whose
//!   methods override fields (ids, emails, names, roles, statuses, `updated_at`, or any key
//!   with `set`), finished with `.event("user.updated")` for the envelope or `.build()` for
//!   the bare `data`.
//!
//! Times are Unix milliseconds. Objects are created at [`BASE_TIME_MS`] and, unless told
//! otherwise, updated one second later; the envelope's `timestamp` is the data's
//! `updated_at`. The processor orders updates by `updated_at`, so tests that need an older
//! or newer version of an object set it explicitly.
//!
//! ```
//! use clerk_testkit::webhooks::bodies::{self, UserBody};
//!
//! let created = bodies::user_created("user_1", "ada@example.com");
//! assert_eq!(created["type"], "user.created");
//! let renamed = UserBody::new("user_1", "ada@example.com")
//!     .first_name("Ada")
//!     .updated_at(bodies::BASE_TIME_MS + 60_000)
//!     .event("user.updated");
//! assert_eq!(renamed["data"]["first_name"], "Ada");
//! ```

use serde_json::{json, Map, Value};

/// When builders create objects (2023-11-14T22:13:20Z), in Unix milliseconds.
pub const BASE_TIME_MS: i64 = 1_700_000_000_000;
/// The default `updated_at` of built objects: one second after creation.
pub const DEFAULT_UPDATED_AT_MS: i64 = BASE_TIME_MS + 1_000;
/// The `instance_id` put in every envelope.
pub const INSTANCE_ID: &str = "ins_2aTestInstance0000000000";
/// The client IP in `event_attributes.http_request`.
pub const CLIENT_IP: &str = "203.0.113.7";
/// The user agent in `event_attributes.http_request`.
pub const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// Wraps `data` in a Clerk event envelope of `event_type`.
///
/// The envelope's `timestamp` is `data.updated_at` when present, else [`BASE_TIME_MS`].
#[must_use]
pub fn event(event_type: &str, data: Value) -> Value {
    let timestamp = data
        .get("updated_at")
        .and_then(Value::as_i64)
        .unwrap_or(BASE_TIME_MS);
    json!({
        "data": data,
        "event_attributes": {
            "http_request": { "client_ip": CLIENT_IP, "user_agent": USER_AGENT }
        },
        "instance_id": INSTANCE_ID,
        "object": "event",
        "timestamp": timestamp,
        "type": event_type,
    })
}

/// The JSON text of a body, as bytes to sign and send.
#[must_use]
pub fn to_bytes(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// The body Clerk sends for a deleted object: `{"deleted": true, "id": …, "object": …}`.
#[must_use]
pub fn deleted(id: &str, object: &str) -> Value {
    json!({ "deleted": true, "id": id, "object": object })
}

/// The part of an id after its `prefix_` (`user_abc` → `abc`), to derive related ids.
fn suffix(id: &str) -> &str {
    id.split_once('_').map_or(id, |(_, rest)| rest)
}

/// Common builder methods over a JSON object.
macro_rules! body_builder {
    ($name:ident) => {
        impl $name {
            /// Sets any field of the data object (overriding what the builder put there).
            #[must_use]
            pub fn set(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
                self.0.insert(key.to_owned(), value.into());
                self
            }

            /// Removes a field from the data object (to test missing optional fields).
            #[must_use]
            pub fn remove(mut self, key: &str) -> Self {
                self.0.remove(key);
                self
            }

            /// Sets `created_at` (ms).
            #[must_use]
            pub fn created_at(self, ms: i64) -> Self {
                self.set("created_at", ms)
            }

            /// Sets `updated_at` (ms), the ordering key of updates.
            #[must_use]
            pub fn updated_at(self, ms: i64) -> Self {
                self.set("updated_at", ms)
            }

            /// The bare `data` object.
            #[must_use]
            pub fn build(self) -> serde_json::Value {
                serde_json::Value::Object(self.0)
            }

            /// The whole event of `event_type` around this data.
            #[must_use]
            pub fn event(self, event_type: &str) -> serde_json::Value {
                $crate::webhooks::bodies::event(event_type, self.build())
            }
        }

        impl From<$name> for serde_json::Value {
            fn from(builder: $name) -> Self {
                builder.build()
            }
        }
    };
}

mod misc;
mod orgs;
mod users;

pub use misc::{
    email_created, permission_created, permission_deleted, permission_updated, role_created,
    role_deleted, role_updated, sms_created, waitlist_entry_created, waitlist_entry_updated,
    EmailBody, PermissionBody, RoleBody, SmsBody, WaitlistEntryBody,
};
pub use orgs::{
    domain_created, domain_deleted, domain_updated, invitation_accepted, invitation_created,
    invitation_revoked, membership_created, membership_deleted, membership_updated,
    organization_created, organization_deleted, organization_updated, DomainBody, InvitationBody,
    MembershipBody, OrganizationBody,
};
pub use users::{
    session_created, session_ended, session_pending, session_removed, session_revoked,
    user_created, user_deleted, user_updated, SessionBody, UserBody,
};

/// One realistic event for every event type `clerk-webhooks` knows, as `(type, body)`.
#[must_use]
pub fn samples() -> Vec<(&'static str, Value)> {
    let (user, email, org, mem) = (
        "user_2aAda",
        "ada@example.com",
        "org_2aAcme",
        "orgmem_2aAdaAcme",
    );
    vec![
        ("user.created", user_created(user, email)),
        (
            "user.updated",
            user_updated(user, email, DEFAULT_UPDATED_AT_MS + 1_000),
        ),
        ("user.deleted", user_deleted(user)),
        ("session.created", session_created("sess_2aOne", user)),
        ("session.ended", session_ended("sess_2aOne", user)),
        ("session.removed", session_removed("sess_2aOne", user)),
        ("session.revoked", session_revoked("sess_2aOne", user)),
        ("session.pending", session_pending("sess_2aTwo", user)),
        (
            "organization.created",
            organization_created(org, "Acme", "acme"),
        ),
        (
            "organization.updated",
            organization_updated(org, "Acme Inc", "acme", DEFAULT_UPDATED_AT_MS + 1_000),
        ),
        ("organization.deleted", organization_deleted(org)),
        (
            "organizationMembership.created",
            membership_created(mem, org, user, "org:admin"),
        ),
        (
            "organizationMembership.updated",
            membership_updated(mem, org, user, "org:member", DEFAULT_UPDATED_AT_MS + 1_000),
        ),
        (
            "organizationMembership.deleted",
            membership_deleted(mem, org, user),
        ),
        (
            "organizationInvitation.created",
            invitation_created("orginv_2aBob", org, "bob@example.com"),
        ),
        (
            "organizationInvitation.accepted",
            invitation_accepted("orginv_2aBob", org, "bob@example.com", "user_2aBob"),
        ),
        (
            "organizationInvitation.revoked",
            invitation_revoked("orginv_2aBob", org, "bob@example.com"),
        ),
        (
            "organizationDomain.created",
            domain_created("orgdmn_2aAcme", org, "acme.example"),
        ),
        (
            "organizationDomain.updated",
            domain_updated(
                "orgdmn_2aAcme",
                org,
                "acme.example",
                DEFAULT_UPDATED_AT_MS + 1_000,
            ),
        ),
        (
            "organizationDomain.deleted",
            domain_deleted("orgdmn_2aAcme"),
        ),
        ("email.created", email_created("ema_2aWelcome", email)),
        ("sms.created", sms_created("sms_2aCode", "+15555550100")),
        (
            "role.created",
            role_created("role_2aAuditor", "org:auditor"),
        ),
        (
            "role.updated",
            role_updated("role_2aAuditor", "org:auditor"),
        ),
        ("role.deleted", role_deleted("role_2aAuditor")),
        (
            "permission.created",
            permission_created("perm_2aReports", "org:reports:read"),
        ),
        (
            "permission.updated",
            permission_updated("perm_2aReports", "org:reports:read"),
        ),
        ("permission.deleted", permission_deleted("perm_2aReports")),
        (
            "waitlistEntry.created",
            waitlist_entry_created("wle_2aCarol", "carol@example.com"),
        ),
        (
            "waitlistEntry.updated",
            waitlist_entry_updated("wle_2aCarol", "carol@example.com", "invited"),
        ),
    ]
}

/// The JSON object inside every builder.
type Object = Map<String, Value>;

/// The map inside a `json!({...})` object literal.
fn object(value: Value) -> Object {
    match value {
        Value::Object(map) => map,
        _ => Object::new(),
    }
}
