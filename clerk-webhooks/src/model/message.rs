//! Emails and SMS messages that Clerk sends (or lets the application send).

use serde::{Deserialize, Serialize};

use super::nullable;

/// An email Clerk sent or asks the application to send (`"object": "email"`).
///
/// The data of `email.created`. When `delivered_by_clerk` is `false`, the application is
/// expected to deliver it itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Email {
    /// Clerk id (`ema_…`).
    pub id: String,
    /// Always `email`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// Template slug, for example `verification_code`.
    #[serde(default)]
    pub slug: Option<String>,
    /// Sender name part.
    #[serde(default, deserialize_with = "nullable")]
    pub from_email_name: String,
    /// Recipient.
    #[serde(default, deserialize_with = "nullable")]
    pub to_email_address: String,
    /// The recipient's email address id, when it belongs to a user.
    #[serde(default)]
    pub email_address_id: Option<String>,
    /// The recipient user, when known.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Subject line.
    #[serde(default, deserialize_with = "nullable")]
    pub subject: String,
    /// HTML body.
    #[serde(default, deserialize_with = "nullable")]
    pub body: String,
    /// Plain-text body, when sent.
    #[serde(default)]
    pub body_plain: Option<String>,
    /// Delivery status, for example `queued`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// Template variables, when sent.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// Whether Clerk delivers it (otherwise the application must).
    #[serde(default, deserialize_with = "nullable")]
    pub delivered_by_clerk: bool,
}

/// An SMS Clerk sent or asks the application to send (`"object": "sms_message"`).
///
/// The data of `sms.created`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SmsMessage {
    /// Clerk id.
    pub id: String,
    /// Always `sms_message`.
    #[serde(default, deserialize_with = "nullable")]
    pub object: String,
    /// Sender number.
    #[serde(default, deserialize_with = "nullable")]
    pub from_phone_number: String,
    /// Recipient number.
    #[serde(default, deserialize_with = "nullable")]
    pub to_phone_number: String,
    /// The recipient's phone number id, when it belongs to a user.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The recipient user, when known.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Message text.
    #[serde(default, deserialize_with = "nullable")]
    pub message: String,
    /// Delivery status, for example `queued`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// Template slug, when sent.
    #[serde(default)]
    pub slug: Option<String>,
    /// Template variables, when sent.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// Whether Clerk delivers it (otherwise the application must).
    #[serde(default, deserialize_with = "nullable")]
    pub delivered_by_clerk: bool,
}
