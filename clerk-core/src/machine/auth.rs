//! [`MachineAuth`]: what a verified machine credential says, and [`Credential`], what a route
//! accepting several kinds was given.

use std::sync::Arc;

use serde_json::Value;

use super::TokenType;
use crate::time::UnixTime;
use crate::Auth;

/// A verified machine credential: what Clerk's verify endpoint (or the JWT) says about it.
/// Never holds the credential itself.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MachineAuth {
    /// `api_key`, `m2m_token` or `oauth_token`.
    pub token_type: TokenType,
    /// The credential's id (`ak_…`/`mt_…`/`oat_…` object id, or a JWT's `jti`; empty when a
    /// JWT has none, as Clerk's SDK leaves it).
    pub id: String,
    /// Who it acts for: a user or organization id for an API key, the machine (`mch_…`) for an
    /// M2M token, the user for an OAuth token.
    pub subject: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// Custom claims (an API key's or M2M token's `claims`; an M2M JWT's non-reserved claims).
    pub claims: Option<Value>,
    /// When it expires (`expiration`, or a JWT's `exp`); `None` for credentials that do not.
    pub expires_at: Option<UnixTime>,
    /// An API key's name.
    pub name: Option<String>,
    /// An OAuth token's client (the OAuth application's `client_id`).
    pub client_id: Option<String>,
}

impl MachineAuth {
    /// A credential of `token_type` for `subject` (the rest empty); for tests and custom
    /// verifiers.
    #[must_use]
    pub fn new(token_type: TokenType, id: impl Into<String>, subject: impl Into<String>) -> Self {
        MachineAuth {
            token_type,
            id: id.into(),
            subject: subject.into(),
            scopes: Vec::new(),
            claims: None,
            expires_at: None,
            name: None,
            client_id: None,
        }
    }

    /// With these scopes.
    #[must_use]
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// With this expiry.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: UnixTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Whether the credential grants `scope` (compared exactly, as Clerk lists them).
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// What a route that accepts several kinds of credential was given.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    /// A machine credential.
    Machine(Arc<MachineAuth>),
    /// A session token (only on routes that accept sessions, e.g. `AnyToken`).
    Session(Arc<Auth>),
}

impl Credential {
    /// The credential's type.
    #[must_use]
    pub fn token_type(&self) -> TokenType {
        match self {
            Credential::Machine(m) => m.token_type,
            Credential::Session(_) => TokenType::SessionToken,
        }
    }

    /// The subject: the machine credential's, or the session's user id.
    #[must_use]
    pub fn subject(&self) -> &str {
        match self {
            Credential::Machine(m) => &m.subject,
            Credential::Session(a) => &a.user_id,
        }
    }

    /// The scopes (a session has none).
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        match self {
            Credential::Machine(m) => &m.scopes,
            Credential::Session(_) => &[],
        }
    }

    /// The machine credential, if it is one.
    #[must_use]
    pub fn machine(&self) -> Option<&Arc<MachineAuth>> {
        match self {
            Credential::Machine(m) => Some(m),
            Credential::Session(_) => None,
        }
    }

    /// The session, if it is one.
    #[must_use]
    pub fn session(&self) -> Option<&Arc<Auth>> {
        match self {
            Credential::Session(a) => Some(a),
            Credential::Machine(_) => None,
        }
    }

    /// Whether a machine credential grants `scope` (a session never does).
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.machine().is_some_and(|m| m.has_scope(scope))
    }
}

/// A scope a route can require, declared with [`scope!`](crate::scope!).
pub trait ScopeName: Send + Sync + 'static {
    /// The scope, as Clerk lists it (`read:users`).
    const NAME: &'static str;
}

/// Declares marker types for machine-credential scopes (see [`ScopeName`]).
///
/// ```
/// clerk_core::scope!(pub ReadUsers = "read:users");
/// use clerk_core::machine::ScopeName;
/// assert_eq!(ReadUsers::NAME, "read:users");
/// ```
#[macro_export]
macro_rules! scope {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $key:literal);+ $(;)?) => {$(
        $(#[$meta])*
        #[doc = concat!("The machine-credential scope `", $key, "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;
        impl $crate::machine::ScopeName for $name {
            const NAME: &'static str = $key;
        }
    )+};
}
