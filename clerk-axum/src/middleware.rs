//! Route guards for [`Router::route_layer`](axum::Router::route_layer) with
//! [`axum::middleware::from_fn`]: protect a whole group of routes through Axum's own routing
//! instead of repeating an extractor in every handler.
//!
//! Each guard is the matching extractor run before the handler; it answers with the same
//! [`ClerkRejection`](crate::ClerkRejection) and otherwise passes the request on untouched.
//! [`ClerkLayer`](crate::ClerkLayer) must wrap the routes too (usually with
//! [`Router::layer`](axum::Router::layer) on the outer router).
//!
//! ```
//! use axum::{middleware::from_fn, routing::get, Router};
//! use clerk_axum::middleware::{require_auth, require_role};
//!
//! clerk_axum::role!(OrgAdmin = "org:admin");
//!
//! let admin: Router = Router::new()
//!     .route("/stats", get(|| async { "stats" }))
//!     .route_layer(from_fn(require_role::<OrgAdmin>));
//! let api: Router = Router::new()
//!     .route("/me", get(|| async { "me" }))
//!     .route_layer(from_fn(require_auth))
//!     .nest("/admin", admin);
//! # let _ = api;
//! ```

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::{ActiveOrg, ClerkAuth, PermissionName, RequirePermission, RequireRole, RoleName};

/// Lets only signed-in requests through (401/503 otherwise, like [`ClerkAuth`]).
pub async fn require_auth(_auth: ClerkAuth, request: Request, next: Next) -> Response {
    next.run(request).await
}

/// Lets only sessions with an active organization through (403 otherwise, like
/// [`ActiveOrg`]).
pub async fn require_org(_org: ActiveOrg, request: Request, next: Next) -> Response {
    next.run(request).await
}

/// Lets only sessions whose organization role is `R` through (403 otherwise, like
/// [`RequireRole`]). Use as `from_fn(require_role::<OrgAdmin>)`.
pub async fn require_role<R: RoleName>(
    _role: RequireRole<R>,
    request: Request,
    next: Next,
) -> Response {
    next.run(request).await
}

/// Lets only sessions whose organization grants `P` through (403 otherwise, like
/// [`RequirePermission`]). Use as `from_fn(require_permission::<ReadReports>)`.
pub async fn require_permission<P: PermissionName>(
    _permission: RequirePermission<P>,
    request: Request,
    next: Next,
) -> Response {
    next.run(request).await
}
