//! Organization role and permission markers: the types a route names to require a role or a
//! permission of the active organization (`RequireRole<R>` / `RequirePermission<P>` in the
//! adapters), declared with [`role!`](crate::role!) and [`permission!`](crate::permission!).
//!
//! They live here, framework-free, so `clerk-axum` and `clerk-rocket` share one definition
//! (both re-export the traits and the macros).

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
