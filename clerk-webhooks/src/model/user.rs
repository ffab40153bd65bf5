//! `User` and its identifications.

use serde::{Deserialize, Serialize};

use super::{nullable, Metadata};

/// A Clerk user (`"object": "user"`), the data of `user.created` and `user.updated`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// Clerk user id (`user_…`).
    pub id: String,
    /// Always `user`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The application's own id for this user, if it set one.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Username, when usernames are enabled.
    #[serde(default)]
    pub username: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Profile image URL (Clerk serves a default image when none was uploaded).
    #[serde(default, deserialize_with = "nullable")]
    pub image_url: String,
    /// Whether the user uploaded a profile image.
    #[serde(default, deserialize_with = "nullable")]
    pub has_image: bool,
    /// Id of the primary entry in [`User::email_addresses`].
    #[serde(default)]
    pub primary_email_address_id: Option<String>,
    /// Id of the primary entry in [`User::phone_numbers`].
    #[serde(default)]
    pub primary_phone_number_id: Option<String>,
    /// Id of the primary entry in [`User::web3_wallets`].
    #[serde(default)]
    pub primary_web3_wallet_id: Option<String>,
    /// All email addresses of the user.
    #[serde(default, deserialize_with = "nullable")]
    pub email_addresses: Vec<EmailAddress>,
    /// All phone numbers of the user.
    #[serde(default, deserialize_with = "nullable")]
    pub phone_numbers: Vec<PhoneNumber>,
    /// All Web3 wallets of the user.
    #[serde(default, deserialize_with = "nullable")]
    pub web3_wallets: Vec<Web3Wallet>,
    /// OAuth accounts linked to the user.
    #[serde(default, deserialize_with = "nullable")]
    pub external_accounts: Vec<ExternalAccount>,
    /// Whether the user has a password.
    #[serde(default, deserialize_with = "nullable")]
    pub password_enabled: bool,
    /// Whether any second factor is enabled.
    #[serde(default, deserialize_with = "nullable")]
    pub two_factor_enabled: bool,
    /// Whether TOTP is enabled.
    #[serde(default, deserialize_with = "nullable")]
    pub totp_enabled: bool,
    /// Whether backup codes are enabled.
    #[serde(default, deserialize_with = "nullable")]
    pub backup_code_enabled: bool,
    /// Metadata readable by the frontend, writable by the backend.
    #[serde(default, deserialize_with = "nullable")]
    pub public_metadata: Metadata,
    /// Metadata only the backend can read and write.
    #[serde(default, deserialize_with = "nullable")]
    pub private_metadata: Metadata,
    /// Metadata the user can write from the frontend: never trust it.
    #[serde(default, deserialize_with = "nullable")]
    pub unsafe_metadata: Metadata,
    /// Banned by an administrator: may not sign in.
    #[serde(default, deserialize_with = "nullable")]
    pub banned: bool,
    /// Locked after too many failed attempts.
    #[serde(default, deserialize_with = "nullable")]
    pub locked: bool,
    /// Seconds until a lock expires, when locked.
    #[serde(default)]
    pub lockout_expires_in_seconds: Option<i64>,
    /// Remaining verification attempts before a lock.
    #[serde(default)]
    pub verification_attempts_remaining: Option<i64>,
    /// Whether the user may create organizations.
    #[serde(default, deserialize_with = "nullable")]
    pub create_organization_enabled: bool,
    /// Whether the user may delete their own account.
    #[serde(default, deserialize_with = "nullable")]
    pub delete_self_enabled: bool,
    /// Last sign-in (ms), if any.
    #[serde(default)]
    pub last_sign_in_at: Option<i64>,
    /// Last activity (ms), if known.
    #[serde(default)]
    pub last_active_at: Option<i64>,
    /// When the legal terms were accepted (ms), if tracked.
    #[serde(default)]
    pub legal_accepted_at: Option<i64>,
    /// Locale (BCP-47), if known.
    #[serde(default)]
    pub locale: Option<String>,
    /// Creation time (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: i64,
    /// Last update (ms); the ordering key for applying `user.*` events.
    #[serde(default, deserialize_with = "nullable")]
    pub updated_at: i64,
}

/// The primary email address of a user and whether it is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimaryEmail<'a> {
    /// The email address's Clerk id (`idn_…`).
    pub id: &'a str,
    /// The address.
    pub address: &'a str,
    /// Whether its verification status is `verified`.
    pub verified: bool,
}

impl User {
    /// The primary email address with its verification status.
    ///
    /// `None` when the user has no primary email address, or when the primary id does not
    /// name one of [`User::email_addresses`]; there is deliberately no fallback to another
    /// address.
    #[must_use]
    pub fn primary_email(&self) -> Option<PrimaryEmail<'_>> {
        let primary = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .iter()
            .find(|e| e.id == primary)
            .map(|e| PrimaryEmail {
                id: &e.id,
                address: &e.email_address,
                verified: e.is_verified(),
            })
    }

    /// `"First Last"`, either alone, or `None` when both are missing or blank.
    #[must_use]
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// The verification state of an identification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Verification {
    /// `verified`, `unverified`, `transferable`, `failed` or `expired`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// How it was (or is being) verified: `email_code`, `from_oauth_google`, `ticket`, …
    #[serde(default, deserialize_with = "nullable")]
    pub strategy: String,
    /// Attempts made so far, when applicable.
    #[serde(default)]
    pub attempts: Option<i64>,
    /// When the pending verification expires (ms), when applicable.
    #[serde(default)]
    pub expire_at: Option<i64>,
}

impl Verification {
    /// Whether the status is `verified`.
    #[must_use]
    pub fn is_verified(&self) -> bool {
        self.status == "verified"
    }
}

/// A link from an identification to another one (for example an OAuth account).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdentificationLink {
    /// The linked identification's id.
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// Its kind, for example `oauth_google`.
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub link_type: String,
}

/// An email address of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmailAddress {
    /// Clerk id (`idn_…`).
    pub id: String,
    /// Always `email_address`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The address.
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: String,
    /// Its verification, if any was started.
    #[serde(default)]
    pub verification: Option<Verification>,
    /// Identifications this address is linked to.
    #[serde(default, deserialize_with = "nullable")]
    pub linked_to: Vec<IdentificationLink>,
    /// Whether the address is reserved.
    #[serde(default, deserialize_with = "nullable")]
    pub reserved: bool,
    /// Creation time (ms), when sent.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Last update (ms), when sent.
    #[serde(default)]
    pub updated_at: Option<i64>,
}

impl EmailAddress {
    /// Whether the address's verification status is `verified`.
    #[must_use]
    pub fn is_verified(&self) -> bool {
        self.verification
            .as_ref()
            .is_some_and(Verification::is_verified)
    }
}

/// A phone number of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PhoneNumber {
    /// Clerk id (`idn_…`).
    pub id: String,
    /// Always `phone_number`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The number in E.164 form.
    #[serde(default, deserialize_with = "nullable")]
    pub phone_number: String,
    /// Its verification, if any was started.
    #[serde(default)]
    pub verification: Option<Verification>,
    /// Whether it is reserved for second-factor use.
    #[serde(default, deserialize_with = "nullable")]
    pub reserved_for_second_factor: bool,
    /// Whether it is the default second factor.
    #[serde(default, deserialize_with = "nullable")]
    pub default_second_factor: bool,
    /// Identifications this number is linked to.
    #[serde(default, deserialize_with = "nullable")]
    pub linked_to: Vec<IdentificationLink>,
}

/// A Web3 wallet of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Web3Wallet {
    /// Clerk id.
    pub id: String,
    /// Always `web3_wallet`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// The wallet address.
    #[serde(default, deserialize_with = "nullable")]
    pub web3_wallet: String,
    /// Its verification, if any was started.
    #[serde(default)]
    pub verification: Option<Verification>,
}

/// An OAuth account linked to a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExternalAccount {
    /// Clerk id (`eac_…` or `idn_…`).
    pub id: String,
    /// `external_account` (older payloads: `google_account`, …).
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// Provider, for example `oauth_google`.
    #[serde(default, deserialize_with = "nullable")]
    pub provider: String,
    /// The user's id at the provider.
    #[serde(default, deserialize_with = "nullable")]
    pub provider_user_id: String,
    /// Email address reported by the provider.
    #[serde(default, deserialize_with = "nullable")]
    pub email_address: String,
    /// First name reported by the provider.
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: String,
    /// Last name reported by the provider.
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: String,
    /// Image URL reported by the provider.
    #[serde(default, deserialize_with = "nullable")]
    pub image_url: String,
    /// Username at the provider.
    #[serde(default)]
    pub username: Option<String>,
    /// Scopes granted, space-separated.
    #[serde(default, deserialize_with = "nullable")]
    pub approved_scopes: String,
    /// Its verification.
    #[serde(default)]
    pub verification: Option<Verification>,
}
