//! [`MachineError`]: why a machine credential was refused, with Clerk's reasons.

use super::TokenType;
use crate::jwks::JwksError;

/// `@clerk/backend`'s reason when a route that takes only machine credentials finds no bearer
/// token (`authenticateRequest` with a machine `acceptsToken`).
pub const NO_TOKEN_IN_HEADER: &str = "No token in header";

/// Why a machine credential was refused. Carries what was wrong, never the credential.
///
/// | variant | status | `reason` (Clerk's) |
/// |---------|--------|--------------------|
/// | [`MissingToken`](Self::MissingToken) | 401 | `No token in header` |
/// | [`TypeMismatch`](Self::TypeMismatch) | 401 | `token-type-mismatch` |
/// | [`Malformed`](Self::Malformed), [`NotFound`](Self::NotFound), [`Revoked`](Self::Revoked), [`Expired`](Self::Expired), [`InvalidJwt`](Self::InvalidJwt) | 401 | `token-invalid` |
/// | [`VerificationFailed`](Self::VerificationFailed) | 401 | `token-verification-failed` |
/// | [`SecretKeyInvalid`](Self::SecretKeyInvalid) | 503 | `secret-key-invalid` |
/// | [`Unexpected`](Self::Unexpected) | 503 | `unexpected-error` |
/// | [`KeysUnavailable`](Self::KeysUnavailable) | 503 | `jwk-failed-to-load` |
/// | [`NoSecretKey`](Self::NoSecretKey) | 500 | `machine-secret-key-missing` |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MachineError {
    /// No `Authorization: Bearer` token (machine credentials are never read from cookies).
    #[error("no bearer token")]
    MissingToken,
    /// The credential's type is not one the route accepts.
    #[error("a {found} is not accepted here")]
    TypeMismatch {
        /// What was presented.
        found: TokenType,
    },
    /// The `Authorization` header is malformed or the credential too large.
    #[error("malformed credential: {0}")]
    Malformed(&'static str),
    /// Clerk does not know the credential (404 from the verify endpoint: unknown, and also
    /// revoked or expired ones, which Clerk answers the same way).
    #[error("Clerk does not know this {0}")]
    NotFound(TokenType),
    /// Clerk says the credential is revoked.
    #[error("the {0} is revoked")]
    Revoked(TokenType),
    /// Clerk (or the JWT's `exp`) says the credential expired.
    #[error("the {0} expired")]
    Expired(TokenType),
    /// A JWT-shaped credential that Clerk's SDK refuses before verifying it (undecodable, or an
    /// M2M JWT with a foreign `cat`).
    #[error("invalid machine JWT: {0}")]
    InvalidJwt(&'static str),
    /// A machine JWT failed verification (type, algorithm, signature, key, `sub`, `exp`, `nbf`,
    /// `iat`): all one reason in Clerk's SDK; the detail is for logs.
    #[error("machine JWT verification failed: {0}")]
    VerificationFailed(&'static str),
    /// Clerk refused our secret key (401 from the verify endpoint): an operator's problem.
    #[error("Clerk rejected the secret key (HTTP {status}); check CLERK_SECRET_KEY")]
    SecretKeyInvalid {
        /// Clerk's status.
        status: u16,
    },
    /// Clerk failed or answered what the SDK does not expect (5xx, 429, 400, a transport
    /// error, a body of the wrong shape).
    #[error("verify call failed ({detail})")]
    Unexpected {
        /// The status, when there was a response.
        status: Option<u16>,
        /// What failed (no credential in it).
        detail: String,
    },
    /// No signing key could be had for a machine JWT.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(JwksError),
    /// An opaque credential needs `CLERK_SECRET_KEY` (and an HTTP client) to be verified.
    #[error("opaque machine credentials need CLERK_SECRET_KEY and an HTTP client")]
    NoSecretKey,
}

impl MachineError {
    /// Clerk's reason string.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            MachineError::MissingToken => NO_TOKEN_IN_HEADER,
            MachineError::TypeMismatch { .. } => "token-type-mismatch",
            MachineError::Malformed(_)
            | MachineError::NotFound(_)
            | MachineError::Revoked(_)
            | MachineError::Expired(_)
            | MachineError::InvalidJwt(_) => "token-invalid",
            MachineError::VerificationFailed(_) => "token-verification-failed",
            MachineError::SecretKeyInvalid { .. } => "secret-key-invalid",
            MachineError::Unexpected { .. } => "unexpected-error",
            MachineError::KeysUnavailable(_) => "jwk-failed-to-load",
            MachineError::NoSecretKey => "machine-secret-key-missing",
        }
    }

    /// The HTTP status an adapter answers with.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            MachineError::SecretKeyInvalid { .. }
            | MachineError::Unexpected { .. }
            | MachineError::KeysUnavailable(_) => 503,
            MachineError::NoSecretKey => 500,
            _ => 401,
        }
    }

    /// A definitive answer about the credential itself that may be cached briefly (Clerk said
    /// unknown, revoked or expired). Outages and JWT defects are not cached.
    #[must_use]
    pub fn is_definitive(&self) -> bool {
        matches!(
            self,
            MachineError::NotFound(_) | MachineError::Revoked(_) | MachineError::Expired(_)
        )
    }
}
