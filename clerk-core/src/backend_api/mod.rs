//! Clerk's Backend API: users, organizations, memberships and invitations, sans-IO.
//!
//! Every call is the three parts of [design §2](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#2-sans-io-rules):
//!
//! 1. a pure **request builder** returning `http::Request<Vec<u8>>` ([`get_user_request`],
//!    [`list_users_request`], [`count_users_request`], [`list_organizations_request`],
//!    [`list_memberships_request`], [`list_invitations_request`],
//!    [`list_organization_invitations_request`]) — Bearer secret key, a `User-Agent`, and the
//!    paging parameters validated at build time ([`PageParams`]: `limit` in `1..=500`);
//! 2. a pure **response parser** taking `http::Response<Vec<u8>>` ([`parse_user_response`],
//!    [`parse_users_page`], [`parse_user_count`], [`parse_organizations_page`],
//!    [`parse_memberships_page`], [`parse_invitations_page`]) that classifies failures into an
//!    [`ApiError`] which keeps Clerk's error body (404, 429 with `Retry-After`, 5xx, 401/403, …)
//!    and tolerates unknown fields;
//! 3. the thin async **caller** [`BackendApi`] over an [`HttpClient`](crate::HttpClient), which
//!    retries by the pure [`RetryPolicy`] and sleeps through a [`Sleeper`] with jitter from a
//!    source it holds: the pure code never reads the clock or randomness.
//!
//! The response types ([`ApiUser`], [`ApiOrganization`], [`ApiMembership`],
//! [`ApiInvitation`]) are lean: only the fields the local mirror needs. Each converts into the
//! mirror's input ([`ClerkUserData`](crate::ClerkUserData) and friends) with `From`. All
//! timestamps are Unix milliseconds ([`UnixTime::from_millis`](crate::time::UnixTime::from_millis)).
//!
//! Listings page by `limit`/`offset`; [`Pager`] walks one page at a time in a stable order
//! (`order_by=created_at`) without holding the whole listing.
//!
//! ```
//! use clerk_core::backend_api::{list_users_request, parse_users_page, PageParams, UserOrder};
//! use clerk_core::secret::SecretKey;
//!
//! let page = PageParams::new(500, 1000)?;
//! let request = list_users_request(
//!     "https://api.clerk.com",
//!     &SecretKey::new("sk_test_x"),
//!     page,
//!     UserOrder::CreatedAtAsc,
//! )?;
//! assert_eq!(
//!     request.uri(),
//!     "https://api.clerk.com/v1/users?limit=500&offset=1000&order_by=created_at"
//! );
//! assert!(PageParams::new(501, 0).is_err());
//!
//! let response = http::Response::builder()
//!     .status(200)
//!     .body(br#"[{"id":"user_1","created_at":1700000000000,"updated_at":1700000000000,"new_field":1}]"#.to_vec())?;
//! let users = parse_users_page(&response)?;
//! assert_eq!(users[0].id, "user_1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod error;
mod request;
mod response;
mod retry;
mod types;
mod writes;

#[cfg(feature = "reqwest")]
pub use client::TokioSleeper;
pub use client::{BackendApi, Pager, Sleeper};
pub use error::{ApiError, Endpoint};
pub use request::{
    count_users_request, get_user_request, list_invitations_request, list_memberships_request,
    list_organization_invitations_request, list_organizations_request, list_users_request,
    pin_api_version, PageParams, UserOrder, API_VERSION_HEADER, DEFAULT_API_VERSION,
    DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, USER_AGENT,
};
pub use response::{
    parse_invitations_page, parse_memberships_page, parse_organizations_page, parse_user_count,
    parse_user_response, parse_users_page,
};
pub use retry::{CallBudget, RetryPolicy};
pub use types::{
    ApiEmailAddress, ApiInvitation, ApiMembership, ApiMembershipOrganization, ApiOrganization,
    ApiPublicUserData, ApiUser, ApiVerification, Page,
};
pub use writes::{
    ban_user_request, create_invitation_request, create_membership_request,
    create_organization_request, delete_membership_request, delete_organization_request,
    delete_user_request, list_app_invitations_request, list_sessions_request, lock_user_request,
    may_retry, merge_metadata, parse_app_invitation_response, parse_app_invitations_page,
    parse_deleted, parse_membership_response, parse_organization_response, parse_session_response,
    parse_sessions_page, parse_user_write, revoke_invitation_request, revoke_session_request,
    unban_user_request, unlock_user_request, update_membership_request,
    update_organization_request, update_user_metadata_request, update_user_request,
    ApiAppInvitation, ApiSession, DeletedObject, MetadataPatch, NewInvitation, NewOrganization,
    OrganizationUpdate, RetryClass, SessionRevocations, SessionStatus, UserUpdate, MAX_ID_LEN,
};
