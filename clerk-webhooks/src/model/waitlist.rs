//! Waitlist entries and the instance invitations they lead to.

use serde::{Deserialize, Serialize};

use super::{nullable, Metadata};

/// An instance invitation (`"object": "invitation"`), as embedded in a waitlist entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Invitation {
    /// Clerk id (`inv_…`).
    pub id: String,
    /// Always `invitation`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The invited address.
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: String,
    /// `pending`, `accepted`, `revoked` or `expired`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// Whether it was revoked, when sent.
    #[serde(default)]
    pub revoked: Option<bool>,
    /// Invitation URL, when sent.
    #[serde(default)]
    pub url: Option<String>,
    /// Public metadata given to the user on sign-up.
    #[serde(default, deserialize_with = "nullable")]
    pub public_metadata: Metadata,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
    /// Expiry (ms), when sent.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A waitlist entry (`"object": "waitlist_entry"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WaitlistEntry {
    /// Clerk id (`wle_…`).
    pub id: String,
    /// Always `waitlist_entry`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The address on the waitlist.
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: String,
    /// `pending`, `invited`, `completed` or `rejected`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// The invitation sent, once invited.
    #[serde(default)]
    pub invitation: Option<Invitation>,
    /// Whether the entry is locked.
    #[serde(default, deserialize_with = "nullable")]
    pub is_locked: bool,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
}
