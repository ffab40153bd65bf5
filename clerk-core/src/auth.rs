//! [`Auth`]: who a verified session token says the caller is, normalized from claims v1 and v2.

use crate::time::UnixTime;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};

/// The token's claims as JSON text, parsed into a map only when someone asks: most requests
/// never read a custom claim, so verification does not pay for building the map.
#[derive(Debug, Default)]
pub(crate) struct RawClaims {
    json: Vec<u8>,
    parsed: OnceLock<Map<String, Value>>,
}

impl RawClaims {
    pub(crate) fn new(json: Vec<u8>) -> Self {
        RawClaims {
            json,
            parsed: OnceLock::new(),
        }
    }

    fn json(&self) -> &[u8] {
        &self.json
    }

    fn map(&self) -> &Map<String, Value> {
        // The payload already parsed as a JSON object during verification.
        self.parsed
            .get_or_init(|| serde_json::from_slice(&self.json).unwrap_or_default())
    }
}

/// The organization a session has active.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActiveOrganization {
    /// Clerk organization id (`org_…`).
    pub id: String,
    /// Organization slug, when the token carries it.
    pub slug: Option<String>,
    /// The member's role, always `org:`-prefixed (`org:admin`). `None` when the token has no role.
    pub role: Option<String>,
    /// The member's permissions, `org:<feature>:<permission>`, in the order the token lists them.
    pub permissions: Vec<String>,
}

/// Minutes since the first and second factor were last verified (`fva`); `-1` means never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FactorVerificationAge {
    /// Minutes since the first factor was verified.
    pub first_factor_minutes: i64,
    /// Minutes since the second factor was verified, `-1` if never or not enrolled.
    pub second_factor_minutes: i64,
}

/// A verified Clerk session.
///
/// Built only by the verifier. Equality compares the normalized identity (user, session,
/// organization, permissions, features, plan, actor, factor age, issuer, party and times), not
/// the raw claim map, so a v1 token and its v2 equivalent give equal values.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Auth {
    /// Clerk user id (`sub`, `user_…`).
    pub user_id: String,
    /// Clerk session id (`sid`, `sess_…`).
    pub session_id: Option<String>,
    /// Session status (`sts`): `active`, `pending`, or absent on older instances.
    pub session_status: Option<String>,
    /// The active organization, if the session has one.
    pub org: Option<ActiveOrganization>,
    /// User-scoped features (`fea` entries with scope `u`).
    pub user_features: Vec<String>,
    /// Organization-scoped features (`fea` entries with scope `o`).
    pub org_features: Vec<String>,
    /// Billing plan (`pla`), e.g. `u:free` or `o:pro`.
    pub plan: Option<String>,
    /// Impersonation actor (`act`), when an admin acts as this user.
    pub actor: Option<Value>,
    /// Factor verification age (`fva`).
    pub factor_verification_age: Option<FactorVerificationAge>,
    /// Issuer (`iss`).
    pub issuer: Option<String>,
    /// Authorized party (`azp`).
    pub authorized_party: Option<String>,
    /// Issued at (`iat`).
    pub issued_at: Option<UnixTime>,
    /// Not before (`nbf`).
    pub not_before: Option<UnixTime>,
    /// Expiry (`exp`).
    pub expires_at: UnixTime,
    /// Audience (`aud`): a string or an array of strings, as the token has it.
    pub audience: Option<Value>,
    /// Claims format: 1 or 2.
    pub claims_version: u8,
    #[serde(skip)]
    pub(crate) claims: Arc<RawClaims>,
}

impl PartialEq for Auth {
    fn eq(&self, other: &Self) -> bool {
        self.user_id == other.user_id
            && self.session_id == other.session_id
            && self.session_status == other.session_status
            && self.org == other.org
            && self.user_features == other.user_features
            && self.org_features == other.org_features
            && self.plan == other.plan
            && self.actor == other.actor
            && self.factor_verification_age == other.factor_verification_age
            && self.issuer == other.issuer
            && self.authorized_party == other.authorized_party
            && self.issued_at == other.issued_at
            && self.not_before == other.not_before
            && self.audience == other.audience
            && self.expires_at == other.expires_at
    }
}
impl Eq for Auth {}

impl Auth {
    /// All claims of the token, for custom claims from session-token templates.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.map()
    }

    /// The verified payload as JSON text (what session mode snapshots).
    #[must_use]
    pub(crate) fn raw_claims_json(&self) -> &[u8] {
        self.claims.json()
    }

    /// One claim by name.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.map().get(name)
    }

    /// The active organization's id.
    #[must_use]
    pub fn org_id(&self) -> Option<&str> {
        self.org.as_ref().map(|o| o.id.as_str())
    }

    /// Whether the active organization role is `role` (`admin` and `org:admin` are the same).
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        let Some(have) = self.org.as_ref().and_then(|o| o.role.as_deref()) else {
            return false;
        };
        match role.strip_prefix("org:") {
            Some(_) => have == role,
            None => have.strip_prefix("org:") == Some(role),
        }
    }

    /// Whether the active organization grants `permission` (`org:<feature>:<permission>`).
    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.org
            .as_ref()
            .is_some_and(|o| o.permissions.iter().any(|p| p == permission))
    }

    /// Whether the session is `pending` (signed in, with tasks left such as choosing an organization).
    #[must_use]
    pub fn is_pending(&self) -> bool {
        self.session_status.as_deref() == Some("pending")
    }
}
