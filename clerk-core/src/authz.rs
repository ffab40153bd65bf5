//! Organization role and permission markers: the types a route names to require a role or a
//! permission of the active organization (`RequireRole<R>` / `RequirePermission<P>` in the
//! adapters), declared with [`role!`](crate::role!) and [`permission!`](crate::permission!).
//!
//! They live here, framework-free, so `clerk-axum` and `clerk-rocket` share one definition
//! (both re-export the traits and the macros).
//!
//! Beyond roles and permissions, a route can require a Clerk feature ([`feature!`](crate::feature!)),
//! a plan ([`plan!`](crate::plan!)), a recent reverification (the presets [`StrictMfa`],
//! [`Strict`], [`Moderate`], [`Lax`], or [`reverification!`](crate::reverification!)), or a
//! session that is not an impersonation ([`NotImpersonated`]): each is a [`Requirement`],
//! decided here with Clerk's `has()` semantics and answered by the adapters' `Require<Q>`.

use std::marker::PhantomData;

use crate::auth::{Auth, Check, Reverification};
use crate::rejection::Failure;

/// An organization role a route can require, declared with [`role!`](crate::role!).
pub trait RoleName: Send + Sync + 'static {
    /// The role key, `org:`-prefixed as Clerk shows it (`org:admin`); an unprefixed name
    /// matches the same role.
    const NAME: &'static str;
}

/// An organization permission a route can require, declared with
/// [`permission!`](crate::permission!).
pub trait PermissionName: Send + Sync + 'static {
    /// The permission key, `org:<feature>:<permission>` (`org:reports:read`).
    const NAME: &'static str;
}

/// Declares marker types for organization roles (see [`RoleName`](crate::authz::RoleName)).
///
/// ```
/// clerk_core::role!(pub OrgAdmin = "org:admin");
/// clerk_core::role! {
///     /// Billing managers.
///     BillingManager = "org:billing_manager";
///     OrgMember = "org:member";
/// }
/// use clerk_core::authz::RoleName;
/// assert_eq!(OrgAdmin::NAME, "org:admin");
/// assert_eq!(BillingManager::NAME, "org:billing_manager");
/// assert_eq!(OrgMember::NAME, "org:member");
/// ```
#[macro_export]
macro_rules! role {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $key:literal);+ $(;)?) => {$(
        $(#[$meta])*
        #[doc = concat!("The organization role `", $key, "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;
        impl $crate::authz::RoleName for $name {
            const NAME: &'static str = $key;
        }
    )+};
}

/// Declares marker types for organization permissions (see
/// [`PermissionName`](crate::authz::PermissionName)).
///
/// ```
/// clerk_core::permission!(pub ReadReports = "org:reports:read");
/// use clerk_core::authz::PermissionName;
/// assert_eq!(ReadReports::NAME, "org:reports:read");
/// ```
#[macro_export]
macro_rules! permission {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $key:literal);+ $(;)?) => {$(
        $(#[$meta])*
        #[doc = concat!("The organization permission `", $key, "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;
        impl $crate::authz::PermissionName for $name {
            const NAME: &'static str = $key;
        }
    )+};
}

/// A Clerk feature (Clerk Billing entitlements, the token's `fea` claim) a route can require,
/// declared with [`feature!`](crate::feature!). The name takes the forms Clerk's `has()`
/// accepts: `x` (either scope), `o:x`/`org:x`/`organization:x`, `u:x`/`user:x`.
pub trait FeatureName: Send + Sync + 'static {
    /// The feature key.
    const NAME: &'static str;
}

/// A Clerk Billing plan (the token's `pla` claim) a route can require, declared with
/// [`plan!`](crate::plan!); the same scoped forms as [`FeatureName`].
pub trait PlanName: Send + Sync + 'static {
    /// The plan key.
    const NAME: &'static str;
}

/// How recently the user must have verified for a route: one of Clerk's presets
/// ([`StrictMfa`], [`Strict`], [`Moderate`], [`Lax`]) or an explicit level and age declared with
/// [`reverification!`](crate::reverification!).
pub trait ReverificationPolicy: Send + Sync + 'static {
    /// The requirement.
    const REQUIRED: Reverification;
}

macro_rules! presets {
    ($($(#[$meta:meta])* $name:ident => $value:ident;)+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;
        impl ReverificationPolicy for $name {
            const REQUIRED: Reverification = Reverification::$value;
        }
    )+};
}

presets! {
    /// Clerk's `strict_mfa` preset: multi-factor verification within 10 minutes.
    StrictMfa => StrictMfa;
    /// Clerk's `strict` preset: second-factor verification within 10 minutes.
    Strict => Strict;
    /// Clerk's `moderate` preset: second-factor verification within 60 minutes.
    Moderate => Moderate;
    /// Clerk's `lax` preset: second-factor verification within a day.
    Lax => Lax;
}

/// Declares marker types for Clerk features (see [`FeatureName`](crate::authz::FeatureName)).
///
/// ```
/// clerk_core::feature!(pub Dashboard = "o:dashboard");
/// use clerk_core::authz::FeatureName;
/// assert_eq!(Dashboard::NAME, "o:dashboard");
/// ```
#[macro_export]
macro_rules! feature {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $key:literal);+ $(;)?) => {$(
        $(#[$meta])*
        #[doc = concat!("The Clerk feature `", $key, "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;
        impl $crate::authz::FeatureName for $name {
            const NAME: &'static str = $key;
        }
    )+};
}

/// Declares marker types for Clerk Billing plans (see [`PlanName`](crate::authz::PlanName)).
///
/// ```
/// clerk_core::plan!(pub Pro = "u:pro");
/// use clerk_core::authz::PlanName;
/// assert_eq!(Pro::NAME, "u:pro");
/// ```
#[macro_export]
macro_rules! plan {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $key:literal);+ $(;)?) => {$(
        $(#[$meta])*
        #[doc = concat!("The Clerk plan `", $key, "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;
        impl $crate::authz::PlanName for $name {
            const NAME: &'static str = $key;
        }
    )+};
}

/// Declares a reverification requirement with an explicit level and age in minutes (more
/// than zero, checked at compile time); see [`ReverificationPolicy`](crate::authz::ReverificationPolicy).
///
/// ```
/// clerk_core::reverification!(pub RecentSecondFactor = SecondFactor, 30);
/// use clerk_core::authz::ReverificationPolicy;
/// assert_eq!(RecentSecondFactor::REQUIRED.after_minutes(), 30);
/// ```
#[macro_export]
macro_rules! reverification {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $level:ident, $minutes:literal);+ $(;)?) => {$(
        $(#[$meta])*
        #[doc = concat!("Reverification: `", stringify!($level), "` within ", stringify!($minutes), " minutes.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name;
        impl $crate::authz::ReverificationPolicy for $name {
            const REQUIRED: $crate::auth::Reverification = {
                assert!($minutes > 0, "Clerk requires a reverification age of more than zero minutes");
                $crate::auth::Reverification::Custom {
                    level: $crate::auth::VerificationLevel::$level,
                    after_minutes: $minutes,
                }
            };
        }
    )+};
}

/// A requirement a route states as a type, decided from the verified session alone (no
/// store, no network): the adapters' `Require<Q>` extractor / guard runs [`decide`](Self::decide)
/// and answers its [`Failure`] (403).
pub trait Requirement: Send + Sync + 'static {
    /// What is required, for logs and `Debug`.
    fn describe() -> String;

    /// `Ok` when `auth` meets the requirement, else the refusal to answer with.
    ///
    /// # Errors
    /// The [`Failure`] (403) the adapters answer with.
    fn decide(auth: &Auth) -> Result<(), Failure>;
}

/// [`Requirement`]: the session has Clerk feature `F` (Clerk's `has({ feature })`).
pub struct Feature<F>(PhantomData<fn() -> F>);

/// [`Requirement`]: the session has Clerk Billing plan `P` (Clerk's `has({ plan })`).
pub struct Plan<P>(PhantomData<fn() -> P>);

/// [`Requirement`]: the session's factor verification is recent enough for `R` (Clerk's
/// `has({ reverification })`); a refusal answers Clerk's `reverification-error` body, which
/// Clerk's frontend SDK acts on by asking the user to verify again.
pub struct Reverified<R>(PhantomData<fn() -> R>);

/// [`Requirement`]: the session is not an impersonation (no `act` claim): for actions an
/// administrator signed in as someone else must not take in their name.
pub struct NotImpersonated;

impl<F: FeatureName> Requirement for Feature<F> {
    fn describe() -> String {
        format!("feature {}", F::NAME)
    }

    fn decide(auth: &Auth) -> Result<(), Failure> {
        if auth.has(&Check::feature(F::NAME)) {
            Ok(())
        } else {
            Err(Failure::MissingFeature { required: F::NAME })
        }
    }
}

impl<P: PlanName> Requirement for Plan<P> {
    fn describe() -> String {
        format!("plan {}", P::NAME)
    }

    fn decide(auth: &Auth) -> Result<(), Failure> {
        if auth.has(&Check::plan(P::NAME)) {
            Ok(())
        } else {
            Err(Failure::MissingPlan { required: P::NAME })
        }
    }
}

impl<R: ReverificationPolicy> Requirement for Reverified<R> {
    fn describe() -> String {
        format!("reverification {:?}", R::REQUIRED)
    }

    fn decide(auth: &Auth) -> Result<(), Failure> {
        if auth.has(&Check::reverification(R::REQUIRED)) {
            Ok(())
        } else {
            Err(Failure::ReverificationRequired(R::REQUIRED))
        }
    }
}

impl Requirement for NotImpersonated {
    fn describe() -> String {
        "a session that is not an impersonation".to_owned()
    }

    fn decide(auth: &Auth) -> Result<(), Failure> {
        if auth.is_impersonated() {
            Err(Failure::Impersonated)
        } else {
            Ok(())
        }
    }
}

/// The adapters' `Require<Q>` type: the verified session of a request that met requirement
/// `Q`, with its accessors and the aliases `RequireFeature`, `RequirePlan`,
/// `RequireReverification` and `NotImpersonated`. Each adapter expands it once and adds only
/// its framework's extractor trait (a foreign trait needs a local type), so the type is written
/// once. Not for applications.
#[doc(hidden)]
#[macro_export]
macro_rules! __require_type {
    ($refusal:literal) => {
        /// A signed-in session that meets requirement `Q`, decided by clerk-core with Clerk's
        /// `has()` semantics: a feature ([`RequireFeature`]), a plan ([`RequirePlan`]), a recent
        /// reverification ([`RequireReverification`]), or no impersonation
        /// ([`NotImpersonated`]).
        ///
        #[doc = $refusal]
        pub struct Require<Q> {
            auth: ::std::sync::Arc<$crate::Auth>,
            _requirement: ::std::marker::PhantomData<fn() -> Q>,
        }

        /// A signed-in session with Clerk feature `F` (see [`feature!`](crate::feature!)).
        pub type RequireFeature<F> = Require<$crate::authz::Feature<F>>;
        /// A signed-in session with Clerk Billing plan `P` (see [`plan!`](crate::plan!)).
        pub type RequirePlan<P> = Require<$crate::authz::Plan<P>>;
        /// A signed-in session whose factor verification is recent enough for `R`: a preset
        /// ([`StrictMfa`](crate::StrictMfa), [`Strict`](crate::Strict),
        /// [`Moderate`](crate::Moderate), [`Lax`](crate::Lax)) or an explicit level and age
        /// ([`reverification!`](crate::reverification!)).
        pub type RequireReverification<R> = Require<$crate::authz::Reverified<R>>;
        /// A signed-in session that is not an impersonation (no `act` claim).
        pub type NotImpersonated = Require<$crate::authz::NotImpersonated>;

        impl<Q: $crate::authz::Requirement> Require<Q> {
            /// Decides `Q` for `auth`: the session, or the 403 to answer with.
            fn decide(
                auth: ::std::sync::Arc<$crate::Auth>,
            ) -> ::std::result::Result<Self, $crate::rejection::Failure> {
                Q::decide(&auth)?;
                Ok(Require {
                    auth,
                    _requirement: ::std::marker::PhantomData,
                })
            }
        }

        impl<Q> Require<Q> {
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

        impl<Q> ::std::clone::Clone for Require<Q> {
            fn clone(&self) -> Self {
                Require {
                    auth: ::std::sync::Arc::clone(&self.auth),
                    _requirement: ::std::marker::PhantomData,
                }
            }
        }

        impl<Q: $crate::authz::Requirement> ::std::fmt::Debug for Require<Q> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("Require")
                    .field("required", &Q::describe())
                    .field("auth", &self.auth)
                    .finish()
            }
        }

        impl<Q> ::std::ops::Deref for Require<Q> {
            type Target = $crate::Auth;

            fn deref(&self) -> &$crate::Auth {
                &self.auth
            }
        }
    };
}
