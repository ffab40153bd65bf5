//! Sessions.

use serde::{Deserialize, Serialize};

use super::nullable;

/// A Clerk session (`"object": "session"`), the data of every `session.*` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Session {
    /// Clerk session id (`sess_…`), the `sid` claim of session tokens.
    pub id: String,
    /// Always `session`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The user's Clerk id.
    #[serde(default, deserialize_with = "nullable")]
    pub user_id: String,
    /// The client (browser/device) id.
    #[serde(default, deserialize_with = "nullable")]
    pub client_id: String,
    /// `active`, `pending`, `ended`, `expired`, `removed`, `replaced`, `revoked` or `abandoned`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// The organization last active in this session, if any.
    #[serde(default)]
    pub last_active_organization_id: Option<String>,
    /// The impersonating actor, for impersonation sessions.
    #[serde(default)]
    pub actor: Option<serde_json::Value>,
    /// The latest activity (device, browser, location), when sent.
    #[serde(default)]
    pub latest_activity: Option<SessionActivity>,
    /// Last activity (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub last_active_at: i64,
    /// When the session expires (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub expire_at: i64,
    /// When an idle session is abandoned (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub abandon_at: i64,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
}

impl Session {
    /// Whether the status means the session can no longer be used (`ended`, `expired`,
    /// `removed`, `replaced`, `revoked`, `abandoned`).
    #[must_use]
    pub fn is_terminated(&self) -> bool {
        matches!(
            self.status.as_str(),
            "ended" | "expired" | "removed" | "replaced" | "revoked" | "abandoned"
        )
    }
}

/// Where a session was last active from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionActivity {
    /// Activity id.
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// Device type, for example `Macintosh`.
    #[serde(default)]
    pub device_type: Option<String>,
    /// Whether the device is mobile.
    #[serde(default, deserialize_with = "nullable")]
    pub is_mobile: bool,
    /// Browser name.
    #[serde(default)]
    pub browser_name: Option<String>,
    /// Browser version.
    #[serde(default)]
    pub browser_version: Option<String>,
    /// IP address.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// City, from IP geolocation.
    #[serde(default)]
    pub city: Option<String>,
    /// Country, from IP geolocation.
    #[serde(default)]
    pub country: Option<String>,
}
