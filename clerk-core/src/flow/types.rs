//! The adapters' extractor types, written once. A framework's extractor trait is foreign to
//! an adapter, and so would these types be if they lived here: each adapter expands the
//! macros once and adds only the trait impls, so the types, their accessors and their
//! decisions (over [`RequestAuth`](super::RequestAuth)) are not written twice.

/// Expands the session extractors `ClerkAuth`, `ActiveOrg`, `RequireRole<R>` and
/// `RequirePermission<P>`, each with a `decide(&RequestAuth) -> Result<Self, Refusal>`.
/// `$optional` documents the adapter's optional form of `ClerkAuth`. Not for applications.
#[doc(hidden)]
#[macro_export]
macro_rules! __session_types {
    ($optional:literal) => {
        /// A signed-in session: the verified [`Auth`](clerk_core::Auth).
        ///
        /// Refused with 401 when the request has no token or a bad one (or session mode ended
        /// the session), 503 when no signing key or store could be had, 500 when the adapter
        /// is not installed.
        ///
        #[doc = $optional]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct ClerkAuth(pub ::std::sync::Arc<$crate::Auth>);

        impl ClerkAuth {
            /// The session.
            #[must_use]
            pub fn auth(&self) -> &::std::sync::Arc<$crate::Auth> {
                &self.0
            }

            /// The session, by value.
            #[must_use]
            pub fn into_inner(self) -> ::std::sync::Arc<$crate::Auth> {
                self.0
            }

            #[allow(dead_code)]
            fn decide(
                state: &$crate::flow::RequestAuth,
            ) -> ::std::result::Result<Self, $crate::flow::Refusal> {
                state
                    .require()
                    .map(|auth| ClerkAuth(::std::sync::Arc::clone(auth)))
            }

            #[allow(dead_code)]
            fn decide_optional(
                state: &$crate::flow::RequestAuth,
            ) -> ::std::result::Result<Option<Self>, $crate::flow::Refusal> {
                Ok(state
                    .optional()?
                    .map(|auth| ClerkAuth(::std::sync::Arc::clone(auth))))
            }
        }

        impl ::std::ops::Deref for ClerkAuth {
            type Target = $crate::Auth;

            fn deref(&self) -> &$crate::Auth {
                &self.0
            }
        }

        /// The active organization of a signed-in session.
        ///
        /// Refused with 403 `{"error":"no_active_organization"}` when the session has none, and
        /// like [`ClerkAuth`] when not signed in.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct ActiveOrg {
            org: $crate::ActiveOrganization,
            auth: ::std::sync::Arc<$crate::Auth>,
        }

        impl ActiveOrg {
            /// The organization (id, slug, `org:`-prefixed role, permissions).
            #[must_use]
            pub fn org(&self) -> &$crate::ActiveOrganization {
                &self.org
            }

            /// The whole session.
            #[must_use]
            pub fn auth(&self) -> &::std::sync::Arc<$crate::Auth> {
                &self.auth
            }

            fn decide(
                state: &$crate::flow::RequestAuth,
            ) -> ::std::result::Result<Self, $crate::flow::Refusal> {
                let (auth, org) = state.active_org()?;
                Ok(ActiveOrg { org, auth })
            }
        }

        impl ::std::ops::Deref for ActiveOrg {
            type Target = $crate::ActiveOrganization;

            fn deref(&self) -> &$crate::ActiveOrganization {
                &self.org
            }
        }

        /// A signed-in session whose active organization role is `R` (see
        /// [`role!`](crate::role!)).
        ///
        /// Refused with 403 `{"error":"forbidden","reason":"missing_role","required":R::NAME}`
        /// when the role differs or there is no active organization, and like [`ClerkAuth`]
        /// when not signed in.
        pub struct RequireRole<R> {
            auth: ::std::sync::Arc<$crate::Auth>,
            _required: ::std::marker::PhantomData<fn() -> R>,
        }

        impl<R: $crate::authz::RoleName> RequireRole<R> {
            fn decide(
                state: &$crate::flow::RequestAuth,
            ) -> ::std::result::Result<Self, $crate::flow::Refusal> {
                Ok(RequireRole {
                    auth: state.require_role(R::NAME)?,
                    _required: ::std::marker::PhantomData,
                })
            }
        }

        /// A signed-in session whose active organization grants permission `P` (see
        /// [`permission!`](crate::permission!)).
        ///
        /// Refused with 403
        /// `{"error":"forbidden","reason":"missing_permission","required":P::NAME}` when the
        /// permission is absent or there is no active organization, and like [`ClerkAuth`]
        /// when not signed in.
        pub struct RequirePermission<P> {
            auth: ::std::sync::Arc<$crate::Auth>,
            _required: ::std::marker::PhantomData<fn() -> P>,
        }

        impl<P: $crate::authz::PermissionName> RequirePermission<P> {
            fn decide(
                state: &$crate::flow::RequestAuth,
            ) -> ::std::result::Result<Self, $crate::flow::Refusal> {
                Ok(RequirePermission {
                    auth: state.require_permission(P::NAME)?,
                    _required: ::std::marker::PhantomData,
                })
            }
        }

        $crate::__requirement_common!(RequireRole, R, RoleName);
        $crate::__requirement_common!(RequirePermission, P, PermissionName);
    };
}

/// The accessors and std impls of `RequireRole` and `RequirePermission`. Not for applications.
#[doc(hidden)]
#[macro_export]
macro_rules! __requirement_common {
    ($ty:ident, $param:ident, $bound:ident) => {
        impl<$param> $ty<$param> {
            /// The session.
            #[must_use]
            pub fn auth(&self) -> &::std::sync::Arc<$crate::Auth> {
                &self.auth
            }

            /// The session, by value.
            #[must_use]
            pub fn into_inner(self) -> ::std::sync::Arc<$crate::Auth> {
                self.auth
            }
        }

        impl<$param> ::std::clone::Clone for $ty<$param> {
            fn clone(&self) -> Self {
                $ty {
                    auth: ::std::sync::Arc::clone(&self.auth),
                    _required: ::std::marker::PhantomData,
                }
            }
        }

        impl<$param: $crate::authz::$bound> ::std::fmt::Debug for $ty<$param> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("required", &$param::NAME)
                    .field("auth", &self.auth)
                    .finish()
            }
        }

        impl<$param> ::std::ops::Deref for $ty<$param> {
            type Target = $crate::Auth;

            fn deref(&self) -> &$crate::Auth {
                &self.auth
            }
        }
    };
}

/// Expands `LocalStaff`, the signed-in local staff user of hybrid mode. Not for applications.
#[doc(hidden)]
#[macro_export]
macro_rules! __staff_type {
    () => {
        /// A signed-in local staff user (hybrid mode): a session holding a local login whose
        /// user is, as read again for this request, staff, active, not locked, banned or
        /// deleted.
        ///
        /// Refused with 401 `staff-login-required` otherwise (a Clerk token or Clerk session
        /// never satisfies it), with 503 when the session or user store failed, and with 500
        /// when session mode is not on.
        #[derive(Clone)]
        pub struct LocalStaff(pub ::std::sync::Arc<$crate::model::User>);

        impl LocalStaff {
            /// The staff user's row.
            #[must_use]
            pub fn user(&self) -> &::std::sync::Arc<$crate::model::User> {
                &self.0
            }
        }

        impl ::std::fmt::Debug for LocalStaff {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("LocalStaff")
                    .field("user_id", &self.0.id)
                    .finish_non_exhaustive()
            }
        }

        impl ::std::ops::Deref for LocalStaff {
            type Target = $crate::model::User;

            fn deref(&self) -> &$crate::model::User {
                &self.0
            }
        }
    };
}

/// Expands `AuthState` (the request's [`RequestAuth`](crate::flow::RequestAuth) as an
/// extractor/guard type), `ClerkRejection` (the one [`Refusal`](crate::flow::Refusal) as the
/// adapter's response type; `$doc` is its documentation) and `ClerkUser` (the stored user and
/// the session). Not for applications.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_types {
    ($doc:literal) => {
        /// What the authenticator (and session mode) decided about the request: clerk-core's
        /// [`RequestAuth`](clerk_core::flow::RequestAuth). Cheap to clone.
        ///
        /// As an extractor or guard it never refuses a request the adapter saw (it is the raw
        /// decision, for handlers that answer each case themselves); without the adapter
        /// installed it is a 500.
        #[derive(Debug, Clone)]
        pub struct AuthState(pub $crate::flow::RequestAuth);

        impl AuthState {
            /// Wraps a decision (the adapter does this; tests and custom layers may too).
            #[must_use]
            pub fn new(decision: ::std::sync::Arc<$crate::AuthDecision>) -> Self {
                AuthState($crate::flow::RequestAuth::new(decision))
            }

            /// The core's view of the request.
            #[must_use]
            pub fn request_auth(&self) -> &$crate::flow::RequestAuth {
                &self.0
            }

            /// The authenticator's decision.
            pub fn decision(&self) -> &$crate::AuthDecision {
                self.0.decision()
            }

            /// The session, when signed in.
            #[must_use]
            pub fn auth(&self) -> Option<&::std::sync::Arc<$crate::Auth>> {
                self.0.auth()
            }

            /// The session, or the rejection a route requiring one answers with.
            ///
            /// # Errors
            /// See [`RequestAuth::require`](clerk_core::flow::RequestAuth::require).
            pub fn require(&self) -> Result<&::std::sync::Arc<$crate::Auth>, ClerkRejection> {
                self.0.require().map_err(ClerkRejection)
            }
        }

        #[doc = $doc]
        ///
        /// | refusal | status | JSON body |
        /// |---------|--------|-----------|
        /// | no token | 401, `WWW-Authenticate: Bearer` | `{"error":"unauthenticated","reason":"session-token-missing"}` |
        /// | bad token or malformed `Authorization` header | 401, `WWW-Authenticate: Bearer error="invalid_token"` | `{"error":"unauthenticated","reason":<Clerk's reason>}` |
        /// | no signing key | 503 | `{"error":"service_unavailable","reason":"jwk-failed-to-load"}` |
        /// | no active organization | 403 | `{"error":"no_active_organization"}` |
        /// | wrong role / permission | 403 | `{"error":"forbidden","reason":"missing_role"\|"missing_permission","required":…}` |
        /// | session ended (revoked `sid`, banned, inactive or deleted user) | 401 | `{"error":"unauthenticated","reason":"session-revoked"\|"user-banned"\|…}` |
        /// | user not found / deleted / conflicting | 401 / 401 / 409 | `user-not-found`, `user-deleted`, `user-conflict` |
        /// | a store or Clerk down | 503 (`Retry-After` for `clerk-unavailable`) | `{"error":"service_unavailable","reason":…}` |
        /// | a missing piece of wiring | 500 | `{"error":"internal_error","reason":…,"message":…}` |
        ///
        /// Bodies never contain the token.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error(transparent)]
        pub struct ClerkRejection(pub $crate::flow::Refusal);

        impl ClerkRejection {
            /// The refusal.
            #[must_use]
            pub fn refusal(&self) -> &$crate::flow::Refusal {
                &self.0
            }

            /// The `reason` of the JSON body, if it has one.
            #[must_use]
            pub fn reason(&self) -> Option<&'static str> {
                self.0.reason()
            }
        }

        impl From<$crate::flow::Refusal> for ClerkRejection {
            fn from(refusal: $crate::flow::Refusal) -> Self {
                ClerkRejection(refusal)
            }
        }

        impl From<$crate::provision::ProvisionError> for ClerkRejection {
            fn from(error: $crate::provision::ProvisionError) -> Self {
                ClerkRejection($crate::flow::Refusal::from(error))
            }
        }

        /// The signed-in user's stored row (and the session), provisioned just in time when
        /// missing: see the [`user`](crate::user) module.
        #[derive(Debug, Clone)]
        pub struct ClerkUser {
            /// The stored user.
            pub user: $crate::model::User,
            /// The verified session.
            pub auth: ::std::sync::Arc<$crate::Auth>,
        }

        impl ::std::ops::Deref for ClerkUser {
            type Target = $crate::model::User;

            fn deref(&self) -> &$crate::model::User {
                &self.user
            }
        }
    };
}
