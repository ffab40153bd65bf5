//! The HTTP answer to a refused request, framework-free: status, `WWW-Authenticate`
//! challenge and JSON body for each [`Failure`]. `clerk-axum` and `clerk-rocket` map their
//! own `ClerkRejection` onto a [`Failure`], so both answer the same bytes ([design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)).
//!
//! ```
//! use clerk_core::rejection::Failure;
//!
//! let failure = Failure::MissingRole { required: "org:admin" };
//! assert_eq!(failure.status(), 403);
//! assert_eq!(failure.challenge(), None);
//! assert_eq!(
//!     failure.body(),
//!     serde_json::json!({"error": "forbidden", "reason": "missing_role", "required": "org:admin"}),
//! );
//! ```

use serde_json::{json, Value};

use crate::auth::Reverification;
use crate::session::REVALIDATION_REQUIRED;
use crate::verify::Reason;

/// The `reason` of a reverification refusal (`@clerk/shared`'s `REVERIFICATION_REASON`).
pub const REVERIFICATION_REASON: &str = "reverification-error";

/// The 403 body Clerk's frontend SDK reads to ask the user to verify again: exactly what
/// `@clerk/shared`'s `reverificationError(config)` builds,
/// `{"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":…}}}`,
/// where the configuration is the preset's name (`"strict"`) for a preset and
/// `{"level":…,"afterMinutes":…}` for an explicit level and age (Clerk's
/// `useReverification` accepts both).
///
/// ```
/// use clerk_core::auth::{Reverification, VerificationLevel};
/// use clerk_core::rejection::reverification_error_body;
///
/// let custom = Reverification::custom(VerificationLevel::SecondFactor, 10).unwrap();
/// assert_eq!(
///     reverification_error_body(custom),
///     serde_json::json!({"clerk_error": {"type": "forbidden", "reason": "reverification-error",
///         "metadata": {"reverification": {"level": "second_factor", "afterMinutes": 10}}}}),
/// );
/// assert_eq!(
///     reverification_error_body(Reverification::Strict)["clerk_error"]["metadata"],
///     serde_json::json!({"reverification": "strict"}),
/// );
/// ```
#[must_use]
pub fn reverification_error_body(required: Reverification) -> Value {
    let config = match required.preset_name() {
        Some(preset) => json!(preset),
        None => json!({
            "level": required.level().as_str(),
            "afterMinutes": required.after_minutes(),
        }),
    };
    json!({
        "clerk_error": {
            "type": "forbidden",
            "reason": REVERIFICATION_REASON,
            "metadata": { "reverification": config },
        }
    })
}

/// The `reason` of a 401 for a request that carries no token at all (Clerk's SDKs use the
/// same name).
pub const SESSION_TOKEN_MISSING: &str = "session-token-missing";

/// The bare RFC 6750 challenge: the request carried no credentials.
const CHALLENGE: &str = "Bearer";
/// The challenge for rejected credentials.
const CHALLENGE_INVALID: &str = r#"Bearer error="invalid_token""#;

/// Which dependency of a stored-user extractor failed (a 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserDependency {
    /// The store of the local mirror failed (or refused the provisioned user).
    Store,
    /// Clerk's Backend API failed (after its retries).
    BackendApi,
}

impl UserDependency {
    /// The `reason` of the 503 body.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            UserDependency::Store => "user-store-unavailable",
            UserDependency::BackendApi => "backend-api-unavailable",
        }
    }
}

/// What failed under session mode (a 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionDependency {
    /// The session store failed.
    SessionStore,
    /// The store of the local mirror failed (the session's standing, or the staff user).
    UserStore,
}

impl SessionDependency {
    /// The `reason` of the 503 body.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            SessionDependency::SessionStore => "session-store-unavailable",
            SessionDependency::UserStore => "user-store-unavailable",
        }
    }
}

/// Why a request was refused, as far as its HTTP answer goes: the union of the adapters'
/// rejections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// No session token at all: 401 with the bare challenge.
    MissingToken,
    /// The token (or its `Authorization` header) was rejected for `reason`: 401.
    InvalidToken(Reason),
    /// No signing key could be had: 503 `jwk-failed-to-load`.
    KeysUnavailable,
    /// Signed in without an active organization: 403.
    NoActiveOrganization,
    /// The organization role `required` is missing: 403.
    MissingRole {
        /// The role the route requires.
        required: &'static str,
    },
    /// The organization permission `required` is missing: 403.
    MissingPermission {
        /// The permission the route requires.
        required: &'static str,
    },
    /// The Clerk feature `required` is missing: 403.
    MissingFeature {
        /// The feature the route requires.
        required: &'static str,
    },
    /// The Clerk Billing plan `required` is missing: 403.
    MissingPlan {
        /// The plan the route requires.
        required: &'static str,
    },
    /// The session is an impersonation (an `act` claim) and the route refuses those: 403.
    Impersonated,
    /// The session's factor verification is too old for the route: 403 with the body of
    /// [`reverification_error_body`], which Clerk's frontend SDK answers by asking the user to
    /// verify again.
    ReverificationRequired(Reverification),
    /// A machine credential (API key, M2M or OAuth token) was refused, or none was presented
    /// on a machine-only route: 401 with Clerk's reason
    /// ([`MachineError::reason`](crate::machine::MachineError::reason)).
    MachineUnauthenticated {
        /// Clerk's reason (`token-type-mismatch`, `token-invalid`, …).
        reason: &'static str,
    },
    /// A machine credential could not be checked (Clerk down, our secret key refused, no
    /// signing key): 503 with the reason.
    MachineUnavailable {
        /// Clerk's reason (`unexpected-error`, `secret-key-invalid`, `jwk-failed-to-load`).
        reason: &'static str,
    },
    /// The machine credential lacks the scope `required`: 403.
    MissingScope {
        /// The scope the route requires.
        required: &'static str,
    },
    /// The token's user does not exist: 401, like a bad token.
    UserNotFound,
    /// The token's user was deleted: 401, like a bad token.
    UserDeleted,
    /// The token's session was revoked or its user is banned, locked, deactivated or deleted
    /// ([`EndReason`](crate::session::EndReason)): 401 with the reason, like a bad token. The
    /// session is not served, and not established again.
    SessionEnded(crate::session::EndReason),
    /// The token's user could not be stored for good (its email is held by another row that
    /// may not be linked): 409 `user-conflict`.
    UserConflict,
    /// The stored user could not be had: 503 with this `reason`.
    UserUnavailable {
        /// The `reason` of the body ([`UserDependency::reason`] or the provisioning error's).
        reason: &'static str,
    },
    /// Clerk is down or throttling while the stored user had to be fetched: 503
    /// `clerk-unavailable` with `Retry-After` ([`Failure::retry_after`]).
    ClerkUnavailable {
        /// The `Retry-After` seconds.
        retry_after_secs: u32,
    },
    /// Session mode: the session must be revalidated and there is no token: 401.
    SessionRevalidationRequired,
    /// Session mode: a store failed: 503.
    SessionUnavailable(SessionDependency),
    /// Hybrid mode: a local staff login is required: 401 without a challenge.
    StaffLoginRequired,
    /// A programming error in the application's wiring (a missing layer or fairing): 500.
    Misconfigured {
        /// The body's `reason` (`clerk-layer-missing`, …).
        reason: &'static str,
        /// The body's `message`, telling the developer what to add.
        message: &'static str,
    },
}

impl Failure {
    /// The HTTP status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Failure::MissingToken
            | Failure::InvalidToken(_)
            | Failure::MachineUnauthenticated { .. }
            | Failure::UserNotFound
            | Failure::UserDeleted
            | Failure::SessionEnded(_)
            | Failure::SessionRevalidationRequired
            | Failure::StaffLoginRequired => 401,
            Failure::NoActiveOrganization
            | Failure::MissingRole { .. }
            | Failure::MissingPermission { .. }
            | Failure::MissingFeature { .. }
            | Failure::MissingPlan { .. }
            | Failure::MissingScope { .. }
            | Failure::Impersonated
            | Failure::ReverificationRequired(_) => 403,
            Failure::UserConflict => 409,
            Failure::Misconfigured { .. } => 500,
            Failure::KeysUnavailable
            | Failure::UserUnavailable { .. }
            | Failure::ClerkUnavailable { .. }
            | Failure::MachineUnavailable { .. }
            | Failure::SessionUnavailable(_) => 503,
        }
    }

    /// The `reason` of the JSON body, if it has one.
    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        Some(match self {
            Failure::MissingToken => SESSION_TOKEN_MISSING,
            Failure::InvalidToken(reason) => reason.as_str(),
            Failure::KeysUnavailable => Reason::JwkFailedToLoad.as_str(),
            Failure::NoActiveOrganization => return None,
            Failure::MissingRole { .. } => "missing_role",
            Failure::MissingPermission { .. } => "missing_permission",
            Failure::MissingFeature { .. } => "missing_feature",
            Failure::MissingPlan { .. } => "missing_plan",
            Failure::MissingScope { .. } => "missing_scope",
            Failure::MachineUnauthenticated { reason } | Failure::MachineUnavailable { reason } => {
                reason
            }
            Failure::Impersonated => "impersonation_not_allowed",
            Failure::ReverificationRequired(_) => REVERIFICATION_REASON,
            Failure::UserNotFound => "user-not-found",
            Failure::UserDeleted => "user-deleted",
            Failure::UserConflict => "user-conflict",
            Failure::SessionEnded(reason) => reason.as_str(),
            Failure::ClerkUnavailable { .. } => "clerk-unavailable",
            Failure::UserUnavailable { reason } | Failure::Misconfigured { reason, .. } => reason,
            Failure::SessionRevalidationRequired => REVALIDATION_REQUIRED,
            Failure::SessionUnavailable(which) => which.reason(),
            Failure::StaffLoginRequired => "staff-login-required",
        })
    }

    /// The `WWW-Authenticate` value (RFC 6750: bare without credentials,
    /// `error="invalid_token"` for rejected ones), for the 401s that carry one.
    #[must_use]
    pub fn challenge(&self) -> Option<&'static str> {
        match self {
            Failure::MissingToken | Failure::SessionRevalidationRequired => Some(CHALLENGE),
            Failure::MachineUnauthenticated { reason }
                if *reason == crate::machine::NO_TOKEN_IN_HEADER =>
            {
                Some(CHALLENGE)
            }
            Failure::InvalidToken(_)
            | Failure::MachineUnauthenticated { .. }
            | Failure::UserNotFound
            | Failure::UserDeleted
            | Failure::SessionEnded(_) => Some(CHALLENGE_INVALID),
            _ => None,
        }
    }

    /// The `Retry-After` value in seconds, for the 503s that carry one (both adapters send it
    /// as a header).
    #[must_use]
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Failure::ClerkUnavailable { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The JSON body (it never contains the token).
    #[must_use]
    pub fn body(&self) -> Value {
        let reason = self.reason();
        match self {
            Failure::MissingToken
            | Failure::InvalidToken(_)
            | Failure::MachineUnauthenticated { .. }
            | Failure::UserNotFound
            | Failure::UserDeleted
            | Failure::SessionEnded(_)
            | Failure::SessionRevalidationRequired
            | Failure::StaffLoginRequired => {
                json!({ "error": "unauthenticated", "reason": reason })
            }
            Failure::KeysUnavailable
            | Failure::UserUnavailable { .. }
            | Failure::ClerkUnavailable { .. }
            | Failure::MachineUnavailable { .. }
            | Failure::SessionUnavailable(_) => {
                json!({ "error": "service_unavailable", "reason": reason })
            }
            Failure::NoActiveOrganization => json!({ "error": "no_active_organization" }),
            Failure::UserConflict => json!({ "error": "conflict", "reason": reason }),
            Failure::ReverificationRequired(required) => reverification_error_body(*required),
            Failure::MissingRole { required }
            | Failure::MissingPermission { required }
            | Failure::MissingFeature { required }
            | Failure::MissingPlan { required }
            | Failure::MissingScope { required } => {
                json!({ "error": "forbidden", "reason": reason, "required": required })
            }
            Failure::Impersonated => json!({ "error": "forbidden", "reason": reason }),
            Failure::Misconfigured { message, .. } => json!({
                "error": "internal_error",
                "reason": reason,
                "message": message,
            }),
        }
    }
}

impl From<crate::provision::ProvisionError> for Failure {
    /// How a stored-user lookup that failed answers (the adapters' `ClerkUser`).
    fn from(error: crate::provision::ProvisionError) -> Self {
        use crate::provision::ProvisionError;
        match error {
            ProvisionError::NotFound => Failure::UserNotFound,
            ProvisionError::Deleted => Failure::UserDeleted,
            ProvisionError::Conflict => Failure::UserConflict,
            ProvisionError::Ended(reason) => Failure::SessionEnded(reason),
            ProvisionError::ClerkUnavailable { retry_after_secs } => {
                Failure::ClerkUnavailable { retry_after_secs }
            }
            other => Failure::UserUnavailable {
                reason: other.reason(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_answers_the_design_contract() {
        let cases: [(Failure, u16, Option<&str>, Value); 19] = [
            (
                Failure::MissingFeature {
                    required: "o:dashboard",
                },
                403,
                None,
                json!({"error": "forbidden", "reason": "missing_feature", "required": "o:dashboard"}),
            ),
            (
                Failure::MissingPlan { required: "u:pro" },
                403,
                None,
                json!({"error": "forbidden", "reason": "missing_plan", "required": "u:pro"}),
            ),
            (
                Failure::Impersonated,
                403,
                None,
                json!({"error": "forbidden", "reason": "impersonation_not_allowed"}),
            ),
            (
                Failure::MissingToken,
                401,
                Some("Bearer"),
                json!({"error": "unauthenticated", "reason": "session-token-missing"}),
            ),
            (
                Failure::InvalidToken(Reason::TokenExpired),
                401,
                Some(r#"Bearer error="invalid_token""#),
                json!({"error": "unauthenticated", "reason": "token-expired"}),
            ),
            (
                Failure::KeysUnavailable,
                503,
                None,
                json!({"error": "service_unavailable", "reason": "jwk-failed-to-load"}),
            ),
            (
                Failure::NoActiveOrganization,
                403,
                None,
                json!({"error": "no_active_organization"}),
            ),
            (
                Failure::MissingRole {
                    required: "org:admin",
                },
                403,
                None,
                json!({"error": "forbidden", "reason": "missing_role", "required": "org:admin"}),
            ),
            (
                Failure::MissingPermission {
                    required: "org:reports:read",
                },
                403,
                None,
                json!({"error": "forbidden", "reason": "missing_permission", "required": "org:reports:read"}),
            ),
            (
                Failure::UserNotFound,
                401,
                Some(r#"Bearer error="invalid_token""#),
                json!({"error": "unauthenticated", "reason": "user-not-found"}),
            ),
            (
                Failure::UserDeleted,
                401,
                Some(r#"Bearer error="invalid_token""#),
                json!({"error": "unauthenticated", "reason": "user-deleted"}),
            ),
            (
                Failure::SessionEnded(crate::session::EndReason::UserBanned),
                401,
                Some(r#"Bearer error="invalid_token""#),
                json!({"error": "unauthenticated", "reason": "user-banned"}),
            ),
            (
                Failure::UserConflict,
                409,
                None,
                json!({"error": "conflict", "reason": "user-conflict"}),
            ),
            (
                Failure::UserUnavailable {
                    reason: UserDependency::Store.reason(),
                },
                503,
                None,
                json!({"error": "service_unavailable", "reason": "user-store-unavailable"}),
            ),
            (
                Failure::UserUnavailable {
                    reason: UserDependency::BackendApi.reason(),
                },
                503,
                None,
                json!({"error": "service_unavailable", "reason": "backend-api-unavailable"}),
            ),
            (
                Failure::SessionRevalidationRequired,
                401,
                Some("Bearer"),
                json!({"error": "unauthenticated", "reason": "session-revalidation-required"}),
            ),
            (
                Failure::SessionUnavailable(SessionDependency::SessionStore),
                503,
                None,
                json!({"error": "service_unavailable", "reason": "session-store-unavailable"}),
            ),
            (
                Failure::StaffLoginRequired,
                401,
                None,
                json!({"error": "unauthenticated", "reason": "staff-login-required"}),
            ),
            (
                Failure::Misconfigured {
                    reason: "clerk-layer-missing",
                    message: "add the layer",
                },
                500,
                None,
                json!({"error": "internal_error", "reason": "clerk-layer-missing", "message": "add the layer"}),
            ),
        ];
        for (failure, status, challenge, body) in cases {
            assert_eq!(failure.status(), status, "{failure:?}");
            assert_eq!(failure.challenge(), challenge, "{failure:?}");
            assert_eq!(failure.body(), body, "{failure:?}");
            assert_eq!(
                failure.reason(),
                body.get("reason").and_then(Value::as_str),
                "{failure:?}"
            );
        }
        let reverify = Failure::ReverificationRequired(Reverification::Moderate);
        assert_eq!(reverify.status(), 403);
        assert_eq!(reverify.challenge(), None);
        assert_eq!(reverify.reason(), Some("reverification-error"));
        assert_eq!(
            reverify.body(),
            json!({"clerk_error": {"type": "forbidden", "reason": "reverification-error",
                "metadata": {"reverification": "moderate"}}})
        );
        assert_eq!(
            SessionDependency::UserStore.reason(),
            "user-store-unavailable"
        );
        let down = Failure::from(crate::provision::ProvisionError::ClerkUnavailable {
            retry_after_secs: 30,
        });
        assert_eq!(down.status(), 503);
        assert_eq!(down.retry_after(), Some(30));
        assert_eq!(down.challenge(), None);
        assert_eq!(
            down.body(),
            json!({"error": "service_unavailable", "reason": "clerk-unavailable"})
        );
        assert_eq!(Failure::KeysUnavailable.retry_after(), None);
    }
}
