//! [`Refusal`]: every reason a request is refused, once for both adapters. Each adapter wraps
//! it in its `ClerkRejection` only to implement its framework's response trait (a foreign trait
//! needs a local type); the status, challenge and body come from [`Refusal::failure`].

use crate::jwks::JwksError;
use crate::provision::ProvisionError;
use crate::rejection::{Failure, SessionDependency};
use crate::session::EndReason;
use crate::Rejection;

/// A programming error in the application's wiring (a layer, fairing, store or session
/// manager missing where a route needs it): answered with 500 and a message naming the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Misconfiguration {
    /// The body's `reason` (`clerk-layer-missing`, …).
    pub reason: &'static str,
    /// What the developer has to add.
    pub message: &'static str,
}

/// Why a request was refused: the one rejection type of the request flow.
///
/// | variant | status | JSON body `reason` |
/// |---------|--------|--------------------|
/// | [`MissingToken`](Self::MissingToken) | 401 (`WWW-Authenticate: Bearer`) | `session-token-missing` |
/// | [`InvalidToken`](Self::InvalidToken) | 401 (`Bearer error="invalid_token"`) | Clerk's reason (`token-expired`, …) |
/// | [`KeysUnavailable`](Self::KeysUnavailable) | 503 | `jwk-failed-to-load` |
/// | [`NoActiveOrganization`](Self::NoActiveOrganization) | 403 | (`{"error":"no_active_organization"}`) |
/// | [`MissingRole`](Self::MissingRole), [`MissingPermission`](Self::MissingPermission) | 403 | `missing_role`, `missing_permission` |
/// | [`Forbidden`](Self::Forbidden) | 403 | a requirement's refusal (feature, plan, reverification, impersonation) |
/// | [`User`](Self::User) | 401 / 409 / 503 | `user-not-found`, `user-deleted`, `user-conflict`, `clerk-unavailable` (with `Retry-After`), `user-store-unavailable`, `backend-api-unavailable` |
/// | [`SessionEnded`](Self::SessionEnded) | 401 | `session-revoked`, `user-banned`, `user-inactive`, `user-deleted`, … |
/// | [`SessionRevalidationRequired`](Self::SessionRevalidationRequired) | 401 (`Bearer`) | `session-revalidation-required` |
/// | [`SessionUnavailable`](Self::SessionUnavailable) | 503 | `session-store-unavailable`, `user-store-unavailable` |
/// | [`StaffLoginRequired`](Self::StaffLoginRequired) | 401 | `staff-login-required` |
/// | [`Machine`](Self::Machine) | 401 / 503 | Clerk's machine reasons (`token-type-mismatch`, `token-invalid`, …) |
/// | [`Misconfigured`](Self::Misconfigured) | 500 | the [`Misconfiguration`]'s |
///
/// Bodies never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The request carries no session token (no `Authorization` header, no `__session`
    /// cookie).
    #[error("no session token")]
    MissingToken,
    /// The request's token (or its `Authorization` header) was rejected.
    #[error("session token rejected: {0}")]
    InvalidToken(Rejection),
    /// No signing key could be had to check the token: an infrastructure failure.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(JwksError),
    /// Signed in, but the session has no active organization.
    #[error("the session has no active organization")]
    NoActiveOrganization,
    /// The active organization role is not the one required (or there is none).
    #[error("the organization role {required:?} is required")]
    MissingRole {
        /// The role the route requires.
        required: &'static str,
    },
    /// The active organization does not grant the permission required (or there is none).
    #[error("the organization permission {required:?} is required")]
    MissingPermission {
        /// The permission the route requires.
        required: &'static str,
    },
    /// A requirement (feature, plan, reverification, no impersonation) refused the session.
    #[error("the route's requirement is not met: {0:?}")]
    Forbidden(Failure),
    /// The stored user could not be had: not found, deleted, conflicting, or a store or
    /// Clerk failure (the status follows the error).
    #[error("user lookup failed: {0}")]
    User(ProvisionError),
    /// The token's session was revoked, or its user is banned, locked, deactivated or
    /// deleted: nothing is served and no session is established.
    #[error("session ended: {0}")]
    SessionEnded(EndReason),
    /// Session mode: the revalidation interval passed and the request carries no token.
    #[error("the session must be revalidated with a fresh token")]
    SessionRevalidationRequired,
    /// Session mode: the session store or the mirror failed: never "signed in", never
    /// "signed out".
    #[error("session unavailable: {}", .0.reason())]
    SessionUnavailable(SessionDependency),
    /// Hybrid mode: the route needs a local staff login and the request has none (a Clerk
    /// token or Clerk session never counts).
    #[error("a local staff login is required")]
    StaffLoginRequired,
    /// The application's wiring is incomplete (500).
    #[error("{}", .0.message)]
    Misconfigured(Misconfiguration),
    /// A machine credential was refused (or missing on a machine-only route).
    #[error("machine credential refused: {0}")]
    Machine(crate::machine::MachineError),
}

impl From<ProvisionError> for Refusal {
    fn from(error: ProvisionError) -> Self {
        match error {
            ProvisionError::Ended(reason) => Refusal::SessionEnded(reason),
            other => Refusal::User(other),
        }
    }
}

impl Refusal {
    /// The framework-free answer: status, challenge, `Retry-After` and body.
    #[must_use]
    pub fn failure(&self) -> Failure {
        match self {
            Refusal::MissingToken => Failure::MissingToken,
            Refusal::InvalidToken(rejection) => Failure::InvalidToken(rejection.reason()),
            Refusal::KeysUnavailable(_) => Failure::KeysUnavailable,
            Refusal::NoActiveOrganization => Failure::NoActiveOrganization,
            Refusal::MissingRole { required } => Failure::MissingRole { required },
            Refusal::MissingPermission { required } => Failure::MissingPermission { required },
            Refusal::Forbidden(failure) => *failure,
            Refusal::User(error) => Failure::from(*error),
            Refusal::SessionEnded(reason) => Failure::SessionEnded(*reason),
            Refusal::SessionRevalidationRequired => Failure::SessionRevalidationRequired,
            Refusal::SessionUnavailable(which) => Failure::SessionUnavailable(*which),
            Refusal::StaffLoginRequired => Failure::StaffLoginRequired,
            Refusal::Misconfigured(m) => Failure::Misconfigured {
                reason: m.reason,
                message: m.message,
            },
            Refusal::Machine(e) => match e.status() {
                503 => Failure::MachineUnavailable { reason: e.reason() },
                500 => Failure::Misconfigured {
                    reason: e.reason(),
                    message: "opaque machine credentials need CLERK_SECRET_KEY",
                },
                _ => Failure::MachineUnauthenticated { reason: e.reason() },
            },
        }
    }

    /// The HTTP status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.failure().status()
    }

    /// The `reason` of the JSON body, if it has one.
    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        self.failure().reason()
    }

    /// Logs what an operator must see (an outage, a wiring mistake) once, as the adapters
    /// turn the refusal into a response. Ids only, never the token.
    pub fn log(&self) {
        match self {
            Refusal::KeysUnavailable(error) => {
                tracing::warn!(%error, "no signing keys: request refused with 503");
            }
            Refusal::Misconfigured(m) => tracing::error!(reason = m.reason, "{}", m.message),
            Refusal::Machine(e) if e.status() >= 500 => {
                tracing::warn!(error = %e, "machine credential not checkable: request refused");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisioning_end_is_a_session_end_and_the_rest_keep_their_status() {
        assert_eq!(
            Refusal::from(ProvisionError::Ended(EndReason::UserBanned)),
            Refusal::SessionEnded(EndReason::UserBanned)
        );
        assert_eq!(Refusal::from(ProvisionError::NotFound).status(), 401);
        assert_eq!(Refusal::from(ProvisionError::Conflict).status(), 409);
        assert_eq!(
            Refusal::from(ProvisionError::ClerkUnavailable {
                retry_after_secs: 7
            })
            .failure()
            .retry_after(),
            Some(7)
        );
    }

    #[test]
    fn machine_refusals_answer_with_clerks_reasons() {
        use crate::machine::{MachineError, TokenType};
        let mismatch = Refusal::Machine(MachineError::TypeMismatch {
            found: TokenType::SessionToken,
        });
        assert_eq!(mismatch.status(), 401);
        assert_eq!(
            mismatch.failure().body(),
            serde_json::json!({"error": "unauthenticated", "reason": "token-type-mismatch"})
        );
        assert_eq!(
            mismatch.failure().challenge(),
            Some(r#"Bearer error="invalid_token""#)
        );
        let missing = Refusal::Machine(MachineError::MissingToken);
        assert_eq!(missing.failure().challenge(), Some("Bearer"));
        assert_eq!(missing.reason(), Some("No token in header"));
        let outage = Refusal::Machine(MachineError::Unexpected {
            status: Some(502),
            detail: String::new(),
        });
        assert_eq!(outage.status(), 503);
        assert_eq!(outage.failure().body()["error"], "service_unavailable");
        assert_eq!(outage.failure().challenge(), None);
        assert_eq!(Refusal::Machine(MachineError::NoSecretKey).status(), 500);
        let scope = Refusal::Forbidden(Failure::MissingScope { required: "read" });
        assert_eq!(scope.status(), 403);
        assert_eq!(
            scope.failure().body(),
            serde_json::json!({"error": "forbidden", "reason": "missing_scope", "required": "read"})
        );
    }

    #[test]
    fn a_misconfiguration_names_its_fix_in_the_body() {
        let refusal = Refusal::Misconfigured(Misconfiguration {
            reason: "clerk-layer-missing",
            message: "add the layer",
        });
        assert_eq!(refusal.status(), 500);
        assert_eq!(refusal.failure().body()["message"], "add the layer");
        assert_eq!(refusal.to_string(), "add the layer");
    }
}
