//! The messages, close codes and reasons a client sees.
//!
//! Reasons from token verification are Clerk's own ([`clerk_core::Reason::as_str`]); the
//! constants here name the few this service adds.

use clerk_core::machine::MachineAuth;
use clerk_core::time::UnixTime;
use clerk_core::Auth;
use serde::{Deserialize, Serialize};

/// Close code once the newest accepted token has expired without a reauth (reason
/// [`TOKEN_EXPIRED`]). In the 4000–4999 range RFC 6455 leaves to applications.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;

/// Close reason that goes with [`CLOSE_TOKEN_EXPIRED`]: Clerk's `token-expired`.
pub const TOKEN_EXPIRED: &str = "token-expired";

/// Close code (1008, policy violation) when a reauth token belongs to another user or session
/// (reason [`IDENTITY_MISMATCH`]).
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;

/// Close reason: a reauth presented a valid token for a different user or session.
pub const IDENTITY_MISMATCH: &str = "identity-mismatch";

/// Handshake reason when the upgrade request carries no token (Clerk's SDK name for it).
pub const SESSION_TOKEN_MISSING: &str = "session-token-missing";

/// Handshake reason when a `__session` cookie token comes with an `Origin` that is not the
/// token's authorized party.
pub const ORIGIN_MISMATCH: &str = "origin-mismatch";

/// Close code when a machine connection's M2M token no longer verifies (revoked, or
/// unknown to Clerk); the close reason is Clerk's (`token-invalid`).
pub const CLOSE_CREDENTIAL_REFUSED: u16 = 4003;

/// Error reason for a `reauth` on a machine connection: a machine reconnects with a fresh
/// token instead.
pub const MACHINE_REAUTH_UNSUPPORTED: &str = "machine-reauth-unsupported";

/// Error reason for a `{"type":"reauth"}` message without a string `token`.
pub const REAUTH_WITHOUT_TOKEN: &str = "reauth-without-token";

/// Error reason for a binary message: this service speaks JSON text only.
pub const BINARY_NOT_SUPPORTED: &str = "binary-not-supported";

/// What a client's text message asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ClientMessage {
    /// `{"type":"reauth","token":"…"}`.
    Reauth(String),
    /// `{"type":"reauth"}` without a string token.
    MalformedReauth,
    /// Anything else: echoed.
    Text,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    token: Option<serde_json::Value>,
}

impl ClientMessage {
    pub(crate) fn parse(text: &str) -> Self {
        match serde_json::from_str::<Envelope>(text) {
            Ok(envelope) if envelope.kind == "reauth" => match envelope.token {
                Some(serde_json::Value::String(token)) => ClientMessage::Reauth(token),
                _ => ClientMessage::MalformedReauth,
            },
            _ => ClientMessage::Text,
        }
    }
}

/// A message from the server, serialized as JSON with a `type` tag.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ServerMessage<'a> {
    Welcome {
        user_id: &'a str,
        session_id: Option<&'a str>,
        org_id: Option<&'a str>,
        expires_at: i64,
    },
    Echo {
        user_id: &'a str,
        text: &'a str,
    },
    /// The welcome of a machine connection.
    #[serde(rename = "welcome")]
    MachineWelcome {
        machine_id: &'a str,
        token_type: &'a str,
        scopes: &'a [String],
        expires_at: Option<i64>,
    },
    /// The echo of a machine connection.
    #[serde(rename = "echo")]
    MachineEcho {
        machine_id: &'a str,
        text: &'a str,
    },
    Reauthenticated {
        session_id: Option<&'a str>,
        org_id: Option<&'a str>,
        expires_at: i64,
    },
    Error {
        reason: &'a str,
    },
}

impl<'a> ServerMessage<'a> {
    pub(crate) fn welcome(auth: &'a Auth) -> Self {
        ServerMessage::Welcome {
            user_id: &auth.user_id,
            session_id: auth.session_id.as_deref(),
            org_id: auth.org_id(),
            expires_at: auth.expires_at.as_secs(),
        }
    }

    pub(crate) fn machine_welcome(auth: &'a MachineAuth) -> Self {
        ServerMessage::MachineWelcome {
            machine_id: &auth.subject,
            token_type: auth.token_type.as_str(),
            scopes: &auth.scopes,
            expires_at: auth.expires_at.map(UnixTime::as_secs),
        }
    }

    pub(crate) fn reauthenticated(auth: &'a Auth) -> Self {
        ServerMessage::Reauthenticated {
            session_id: auth.session_id.as_deref(),
            org_id: auth.org_id(),
            expires_at: auth.expires_at.as_secs(),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail; fall back to an error message anyway.
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"error","reason":"internal"}"#.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reauth_messages_are_recognized_and_everything_else_is_text() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"reauth","token":"a.b.c"}"#),
            ClientMessage::Reauth("a.b.c".into())
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"reauth"}"#),
            ClientMessage::MalformedReauth
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"reauth","token":7}"#),
            ClientMessage::MalformedReauth
        );
        assert_eq!(ClientMessage::parse("hello"), ClientMessage::Text);
        assert_eq!(
            ClientMessage::parse(r#"{"type":"chat","token":"x"}"#),
            ClientMessage::Text
        );
    }

    #[test]
    fn server_messages_are_tagged() {
        let json = ServerMessage::Echo {
            user_id: "user_1",
            text: "hi",
        }
        .to_json();
        assert_eq!(json, r#"{"type":"echo","user_id":"user_1","text":"hi"}"#);
    }
}
