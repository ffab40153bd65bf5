//! Organization roles and permissions.

use serde::{Deserialize, Serialize};

use super::nullable;

/// An organization role definition (`"object": "role"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Role {
    /// Clerk id (`role_…`).
    pub id: String,
    /// Always `role`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// Key, for example `org:admin`.
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    /// Display name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Description.
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// Permissions the role grants.
    #[serde(default, deserialize_with = "nullable")]
    pub permissions: Vec<Permission>,
    /// Whether the role can be given to an organization's creator.
    #[serde(default, deserialize_with = "nullable")]
    pub is_creator_eligible: bool,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
}

/// An organization permission definition (`"object": "permission"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Permission {
    /// Clerk id (`perm_…`).
    pub id: String,
    /// Always `permission`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// Key, for example `org:reports:read`.
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    /// Display name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Description.
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// `system` or `user`, when sent.
    #[serde(rename = "type", default)]
    pub permission_type: Option<String>,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
}
