//! Extractors over the [`AuthState`] that [`ClerkLayer`](crate::ClerkLayer) stored.
//!
//! None of them authenticates: they only read the decision the layer made once for the
//! request, so a handler may take several of them at no extra cost.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use clerk_core::authz::{PermissionName, Requirement, RoleName};
use clerk_core::{ActiveOrganization, Auth, AuthDecision};

use crate::ClerkRejection;

/// What [`ClerkLayer`](crate::ClerkLayer) decided about the request, as stored in its
/// extensions. Cheap to clone.
///
/// As an extractor it never rejects a request the layer saw (it is the raw decision, for
/// handlers that want to answer each case themselves); without the layer it is a 500
/// ([`ClerkRejection::LayerMissing`]).
#[derive(Debug, Clone)]
pub struct AuthState {
    decision: Arc<AuthDecision>,
    session: Option<SessionNote>,
}

/// What session mode adds to a signed-out decision: why the session could not serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "sessions"), allow(dead_code))]
pub(crate) enum SessionNote {
    /// The session's revalidation interval passed and no token came with the request (401).
    RevalidationRequired,
    /// The session store or the user store failed (503).
    Unavailable(crate::rejection::SessionDependency),
    /// Session mode is on but tower-sessions' `SessionManagerLayer` does not wrap the route
    /// (500).
    ManagerMissing,
    /// The token's session was revoked or its user may not be served: nothing established
    /// (401 with the reason).
    Ended(clerk_core::session::EndReason),
}

impl AuthState {
    /// Wraps a decision (the layer does this; tests and custom layers may too).
    #[must_use]
    pub fn new(decision: Arc<AuthDecision>) -> Self {
        AuthState {
            decision,
            session: None,
        }
    }

    /// A signed-out state with session mode's reason.
    #[cfg_attr(not(feature = "sessions"), allow(dead_code))]
    pub(crate) fn session_failure(note: SessionNote) -> Self {
        AuthState {
            decision: Arc::new(AuthDecision::NoToken),
            session: Some(note),
        }
    }

    /// Session mode's rejection, when the session (not the token) decided the request.
    fn session_rejection(&self) -> Option<ClerkRejection> {
        self.session.map(|note| match note {
            SessionNote::RevalidationRequired => ClerkRejection::SessionRevalidationRequired,
            SessionNote::Unavailable(which) => ClerkRejection::SessionUnavailable(which),
            SessionNote::ManagerMissing => ClerkRejection::SessionLayerMissing,
            SessionNote::Ended(reason) => ClerkRejection::SessionEnded(reason),
        })
    }

    /// The authenticator's decision.
    pub fn decision(&self) -> &AuthDecision {
        &self.decision
    }

    /// The session, when signed in.
    #[must_use]
    pub fn auth(&self) -> Option<&Arc<Auth>> {
        self.decision.auth()
    }

    /// The session, or the rejection a route requiring one answers with.
    pub fn require(&self) -> Result<&Arc<Auth>, ClerkRejection> {
        if let Some(rejection) = self.session_rejection() {
            return Err(rejection);
        }
        match &*self.decision {
            AuthDecision::SignedIn(auth) => Ok(auth),
            AuthDecision::NoToken => Err(ClerkRejection::MissingToken),
            AuthDecision::Rejected(rejection) => {
                Err(ClerkRejection::InvalidToken(rejection.clone()))
            }
            AuthDecision::Unavailable(error) => Err(ClerkRejection::Unavailable(error.clone())),
        }
    }

    /// The state of a request, or [`ClerkRejection::LayerMissing`].
    pub fn from_parts(parts: &Parts) -> Result<&AuthState, ClerkRejection> {
        parts
            .extensions
            .get::<AuthState>()
            .ok_or(ClerkRejection::LayerMissing)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthState {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        AuthState::from_parts(parts).cloned()
    }
}

fn required_auth(parts: &Parts) -> Result<Arc<Auth>, ClerkRejection> {
    AuthState::from_parts(parts)?.require().cloned()
}

/// A signed-in session: the verified [`Auth`].
///
/// Rejects with 401 when the request has no token or a bad one, 503 when no signing key could
/// be had, 500 without the layer (see [`ClerkRejection`]).
///
/// `Option<ClerkAuth>` is the optional form: `None` when signed out *or* when the token was
/// rejected (the request is treated as anonymous), while an infrastructure failure (503) and
/// a missing layer (500) still reject, so an outage never looks like a signed-out user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkAuth(pub Arc<Auth>);

impl ClerkAuth {
    /// The session.
    #[must_use]
    pub fn auth(&self) -> &Arc<Auth> {
        &self.0
    }

    /// The session, by value.
    #[must_use]
    pub fn into_inner(self) -> Arc<Auth> {
        self.0
    }
}

impl Deref for ClerkAuth {
    type Target = Auth;

    fn deref(&self) -> &Auth {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClerkAuth {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required_auth(parts).map(ClerkAuth)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for ClerkAuth {
    type Rejection = ClerkRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let state = AuthState::from_parts(parts)?;
        match state.session_rejection() {
            // Signed out until a token revalidates the session.
            Some(ClerkRejection::SessionRevalidationRequired) | None => {}
            Some(failure) => return Err(failure),
        }
        match state.decision() {
            AuthDecision::SignedIn(auth) => Ok(Some(ClerkAuth(Arc::clone(auth)))),
            AuthDecision::NoToken | AuthDecision::Rejected(_) => Ok(None),
            AuthDecision::Unavailable(error) => Err(ClerkRejection::Unavailable(error.clone())),
        }
    }
}

/// The active organization of a signed-in session.
///
/// Rejects with 403 `{"error":"no_active_organization"}` when the session has none, and like
/// [`ClerkAuth`] when not signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveOrg {
    org: ActiveOrganization,
    auth: Arc<Auth>,
}

impl ActiveOrg {
    /// The organization (id, slug, `org:`-prefixed role, permissions).
    #[must_use]
    pub fn org(&self) -> &ActiveOrganization {
        &self.org
    }

    /// The whole session.
    #[must_use]
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }
}

impl Deref for ActiveOrg {
    type Target = ActiveOrganization;

    fn deref(&self) -> &ActiveOrganization {
        &self.org
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ActiveOrg {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = required_auth(parts)?;
        let org = auth
            .org
            .clone()
            .ok_or(ClerkRejection::NoActiveOrganization)?;
        Ok(ActiveOrg { org, auth })
    }
}

/// A signed-in session whose active organization role is `R` (see [`role!`](crate::role!)).
///
/// Rejects with 403 `{"error":"forbidden","reason":"missing_role","required":R::NAME}` when
/// the role differs or there is no active organization, and like [`ClerkAuth`] when not signed
/// in.
pub struct RequireRole<R> {
    auth: Arc<Auth>,
    _role: PhantomData<fn() -> R>,
}

/// A signed-in session whose active organization grants permission `P` (see
/// [`permission!`](crate::permission!)).
///
/// Rejects with 403 `{"error":"forbidden","reason":"missing_permission","required":P::NAME}`
/// when the permission is absent or there is no active organization, and like [`ClerkAuth`]
/// when not signed in.
pub struct RequirePermission<P> {
    auth: Arc<Auth>,
    _permission: PhantomData<fn() -> P>,
}

macro_rules! requirement_common {
    ($ty:ident, $param:ident, $field:ident, $bound:ident, $check:ident, $rejection:ident) => {
        impl<$param> $ty<$param> {
            /// The session.
            #[must_use]
            pub fn auth(&self) -> &Arc<Auth> {
                &self.auth
            }

            /// The session, by value.
            #[must_use]
            pub fn into_inner(self) -> Arc<Auth> {
                self.auth
            }
        }

        impl<$param> Clone for $ty<$param> {
            fn clone(&self) -> Self {
                $ty {
                    auth: Arc::clone(&self.auth),
                    $field: PhantomData,
                }
            }
        }

        impl<$param: $bound> fmt::Debug for $ty<$param> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("required", &$param::NAME)
                    .field("auth", &self.auth)
                    .finish()
            }
        }

        impl<$param> Deref for $ty<$param> {
            type Target = Auth;

            fn deref(&self) -> &Auth {
                &self.auth
            }
        }

        impl<S: Send + Sync, $param: $bound> FromRequestParts<S> for $ty<$param> {
            type Rejection = ClerkRejection;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                let auth = required_auth(parts)?;
                if !auth.$check($param::NAME) {
                    return Err(ClerkRejection::$rejection {
                        required: $param::NAME,
                    });
                }
                Ok($ty {
                    auth,
                    $field: PhantomData,
                })
            }
        }
    };
}

requirement_common!(RequireRole, R, _role, RoleName, has_role, MissingRole);
requirement_common!(
    RequirePermission,
    P,
    _permission,
    PermissionName,
    has_permission,
    MissingPermission
);

clerk_core::__require_type!("Rejects with `Q`'s 403 (`missing_feature`, `missing_plan`, Clerk's `reverification-error` body, `impersonation_not_allowed`), and like [`ClerkAuth`] when not signed in.");

impl<S: Send + Sync, Q: Requirement> FromRequestParts<S> for Require<Q> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Require::decide(required_auth(parts)?).map_err(ClerkRejection::Forbidden)
    }
}
