//! The request flow both adapters run, written once: what a request's authentication
//! concluded ([`RequestAuth`]), why it is refused ([`Refusal`]), session mode
//! ([`session::SessionFlow`] over a [`session::SessionBackend`] each adapter implements for
//! its session mechanism) and the staff login of hybrid mode ([`staff`]).
//!
//! An adapter keeps only framework glue: it builds the request's `RequestAuth` (statelessly
//! with [`Authenticator::authenticate`](crate::Authenticator::authenticate), or through
//! [`SessionFlow::run`](session::SessionFlow::run)), stores it in the request, and turns a
//! [`Refusal`] into its framework's response. Every decision lives here, so the adapters
//! answer with the same statuses, cookie names and bodies.
//!
//! # Quick start
//!
//! ```
//! use std::sync::Arc;
//! use clerk_core::flow::{Refusal, RequestAuth};
//! use clerk_core::AuthDecision;
//!
//! // What an adapter stores for a request that carried no token:
//! let state = RequestAuth::new(Arc::new(AuthDecision::NoToken));
//! let refusal = state.require().unwrap_err();
//! assert_eq!(refusal, Refusal::MissingToken);
//! assert_eq!(refusal.status(), 401);
//! assert_eq!(refusal.failure().body()["reason"], "session-token-missing");
//! // A route where signing in is optional serves it as anonymous.
//! assert!(state.optional().unwrap().is_none());
//! ```

pub mod records;
mod refusal;
pub mod session;
pub mod staff;
mod types;
pub mod wiring;

use std::sync::Arc;

pub use refusal::{Misconfiguration, Refusal};

use crate::rejection::SessionDependency;
use crate::session::EndReason;
use crate::{ActiveOrganization, Auth, AuthDecision};

/// What session mode adds to a signed-out decision: why the session, not the token, decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionNote {
    /// The revalidation interval passed and no token came with the request (401).
    RevalidationRequired,
    /// The session store or the mirror failed (503).
    Unavailable(SessionDependency),
    /// The token's session was revoked or its user may not be served: nothing established
    /// (401 with the reason).
    Ended(EndReason),
    /// Session mode is on but the adapter's session mechanism is missing (500).
    Misconfigured(Misconfiguration),
}

impl SessionNote {
    fn refusal(self) -> Refusal {
        match self {
            SessionNote::RevalidationRequired => Refusal::SessionRevalidationRequired,
            SessionNote::Unavailable(which) => Refusal::SessionUnavailable(which),
            SessionNote::Ended(reason) => Refusal::SessionEnded(reason),
            SessionNote::Misconfigured(m) => Refusal::Misconfigured(m),
        }
    }
}

/// What a request's authentication concluded: the authenticator's decision, and session
/// mode's note when the session decided. Made once per request by the adapter; every
/// extractor or guard reads it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RequestAuth {
    // Held inline, not in an `Arc`: the adapters store one per request and clone it rarely
    // (a signed-in decision clones as one `Arc<Auth>`), so the warm path saves an allocation.
    decision: AuthDecision,
    note: Option<SessionNote>,
}

impl RequestAuth {
    /// The state of a request the authenticator decided alone.
    #[must_use]
    pub fn new(decision: Arc<AuthDecision>) -> Self {
        RequestAuth::decided(Arc::unwrap_or_clone(decision))
    }

    /// [`new`](Self::new) over an owned decision.
    #[must_use]
    pub fn decided(decision: AuthDecision) -> Self {
        RequestAuth {
            decision,
            note: None,
        }
    }

    /// The stateless path's state: the authenticator's `decision`, and — when the app keeps a
    /// mirror — a signed-in session whose standing refuses it (its `sid` recorded as revoked,
    /// its user banned, locked, deactivated or deleted) answered as ended, so revocation ends
    /// access at once rather than when the token expires. A mirror that fails answers 503.
    pub async fn stateless(
        decision: AuthDecision,
        store: Option<&dyn crate::store::Store>,
    ) -> Self {
        let decision = match RequestAuth::stateless_now(decision, store) {
            Ok(state) => return state,
            Err(decision) => decision,
        };
        let (AuthDecision::SignedIn(auth), Some(store)) = (&decision, store) else {
            return RequestAuth::decided(decision);
        };
        match crate::session::Standing::refusal(store, auth).await {
            Ok(None) => RequestAuth::decided(decision),
            Ok(Some(reason)) => {
                tracing::info!(user_id = %auth.user_id, %reason, "signed-in token refused");
                RequestAuth::noted(SessionNote::Ended(reason))
            }
            Err(error) => {
                tracing::warn!(%error, "user store failed: request refused with 503");
                RequestAuth::noted(SessionNote::Unavailable(SessionDependency::UserStore))
            }
        }
    }

    /// [`stateless`](Self::stateless) without waiting: the state when the mirror need not be
    /// asked (no mirror, or a decision that is not signed in), else the `decision` back for
    /// [`stateless`](Self::stateless). The adapters' warm path: no future is made.
    ///
    /// # Errors
    /// The decision, returned when a signed-in session's standing must be read from `store`.
    pub fn stateless_now(
        decision: AuthDecision,
        store: Option<&dyn crate::store::Store>,
    ) -> Result<Self, AuthDecision> {
        match (&decision, store) {
            (AuthDecision::SignedIn(_), Some(_)) => Err(decision),
            _ => Ok(RequestAuth::decided(decision)),
        }
    }

    /// A signed-out state that session mode decided (`note` says why).
    #[must_use]
    pub fn noted(note: SessionNote) -> Self {
        RequestAuth {
            decision: AuthDecision::NoToken,
            note: Some(note),
        }
    }

    /// The authenticator's decision.
    pub fn decision(&self) -> &AuthDecision {
        &self.decision
    }

    /// Session mode's note, if the session decided.
    #[must_use]
    pub fn note(&self) -> Option<SessionNote> {
        self.note
    }

    /// The session, when signed in.
    #[must_use]
    pub fn auth(&self) -> Option<&Arc<Auth>> {
        self.decision.auth()
    }

    /// The session, or the refusal a route requiring one answers with.
    ///
    /// # Errors
    /// 401 without a token or with a bad one, 503 when no signing key or store could be had,
    /// and session mode's refusals.
    pub fn require(&self) -> Result<&Arc<Auth>, Refusal> {
        if let Some(note) = self.note {
            return Err(note.refusal());
        }
        match &self.decision {
            AuthDecision::SignedIn(auth) => Ok(auth),
            AuthDecision::NoToken => Err(Refusal::MissingToken),
            AuthDecision::Rejected(rejection) => Err(Refusal::InvalidToken(rejection.clone())),
            AuthDecision::Unavailable(error) => Err(Refusal::KeysUnavailable(error.clone())),
        }
    }

    /// The session where signing in is optional: `None` when signed out, when the token was
    /// rejected (served as anonymous) or when the session waits for revalidation.
    ///
    /// # Errors
    /// Infrastructure failures (503) and wiring mistakes (500) still refuse, so an outage
    /// never looks like a signed-out user; so does an ended session (revoked, banned), which
    /// must not be served as anonymous either.
    pub fn optional(&self) -> Result<Option<&Arc<Auth>>, Refusal> {
        match self.note {
            None | Some(SessionNote::RevalidationRequired) => {}
            Some(note) => return Err(note.refusal()),
        }
        match &self.decision {
            AuthDecision::SignedIn(auth) => Ok(Some(auth)),
            AuthDecision::NoToken | AuthDecision::Rejected(_) => Ok(None),
            AuthDecision::Unavailable(error) => Err(Refusal::KeysUnavailable(error.clone())),
        }
    }

    /// The session and its active organization.
    ///
    /// # Errors
    /// [`Refusal::NoActiveOrganization`] without one, else like [`RequestAuth::require`].
    pub fn active_org(&self) -> Result<(Arc<Auth>, ActiveOrganization), Refusal> {
        let auth = self.require()?;
        let org = auth.org.clone().ok_or(Refusal::NoActiveOrganization)?;
        Ok((Arc::clone(auth), org))
    }

    /// The session, if its active organization role is `role` (`org:`-prefixed).
    ///
    /// # Errors
    /// [`Refusal::MissingRole`], else like [`RequestAuth::require`].
    pub fn require_role(&self, role: &'static str) -> Result<Arc<Auth>, Refusal> {
        let auth = self.require()?;
        if !auth.has_role(role) {
            return Err(Refusal::MissingRole { required: role });
        }
        Ok(Arc::clone(auth))
    }

    /// The session, if its active organization grants `permission`.
    ///
    /// # Errors
    /// [`Refusal::MissingPermission`], else like [`RequestAuth::require`].
    pub fn require_permission(&self, permission: &'static str) -> Result<Arc<Auth>, Refusal> {
        let auth = self.require()?;
        if !auth.has_permission(permission) {
            return Err(Refusal::MissingPermission {
                required: permission,
            });
        }
        Ok(Arc::clone(auth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks::JwksError;

    #[test]
    fn a_session_note_decides_before_the_token() {
        let state = RequestAuth::noted(SessionNote::Ended(EndReason::SessionRevoked));
        assert_eq!(
            state.require().unwrap_err(),
            Refusal::SessionEnded(EndReason::SessionRevoked)
        );
        // An ended session is not "anonymous": optional routes refuse it too.
        assert!(state.optional().is_err());
        let waiting = RequestAuth::noted(SessionNote::RevalidationRequired);
        assert_eq!(
            waiting.require().unwrap_err(),
            Refusal::SessionRevalidationRequired
        );
        assert!(waiting.optional().unwrap().is_none());
    }

    #[test]
    fn an_outage_is_never_anonymous() {
        let state = RequestAuth::new(Arc::new(AuthDecision::Unavailable(JwksError::NoSource)));
        assert_eq!(state.require().unwrap_err().status(), 503);
        assert_eq!(state.optional().unwrap_err().status(), 503);
        let store = RequestAuth::noted(SessionNote::Unavailable(SessionDependency::SessionStore));
        assert_eq!(store.optional().unwrap_err().status(), 503);
    }
}
