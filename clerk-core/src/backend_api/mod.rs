//! Clerk's Backend API: users, organizations, memberships, invitations and sessions — reads
//! and writes — sans-IO.
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
//! # Endpoints and their retry classes
//!
//! Every call has a [`RetryClass`] ([`Endpoint::retry_class`]); the caller retries a failure
//! only when the pure [`may_retry`] allows it for that class, then within the
//! [`RetryPolicy`] (attempts, backoff, `Retry-After`). **Idempotent**: retried on 429, 5xx and
//! transport failures. **Create-once**: retried only on 429 and a connection never
//! established ([`HttpError::Connect`](crate::HttpError::Connect)) — never after a timeout or
//! a 5xx, when the object may exist.
//!
//! | endpoint | builder / [`BackendApi`] method | answer | retry class |
//! |---|---|---|---|
//! | `GET /v1/users/{user_id}` | [`get_user_request`] / `get_user` | [`ApiUser`] | idempotent |
//! | `GET /v1/users`, `/v1/users/count` | [`list_users_request`], [`count_users_request`] | users, count | idempotent |
//! | `GET /v1/organizations`, `…/{id}/memberships`, `…/{id}/invitations`, `/v1/organization_invitations` | the list builders above | pages | idempotent |
//! | `PATCH /v1/users/{user_id}` | [`update_user_request`] ([`UserUpdate`]) / `update_user` | [`ApiUser`] | idempotent |
//! | `PATCH /v1/users/{user_id}/metadata` | [`update_user_metadata_request`] ([`MetadataPatch`], deep merge: [`merge_metadata`]) / `update_user_metadata` | [`ApiUser`] | idempotent |
//! | `POST /v1/users/{user_id}/ban`, `/unban` | [`ban_user_request`], [`unban_user_request`] / `ban_user`, `unban_user` | [`ApiUser`] | idempotent |
//! | `POST /v1/users/{user_id}/lock`, `/unlock` | [`lock_user_request`], [`unlock_user_request`] / `lock_user`, `unlock_user` | [`ApiUser`] | idempotent |
//! | `DELETE /v1/users/{user_id}` | [`delete_user_request`] / `delete_user` | [`DeletedObject`] | idempotent |
//! | `GET /v1/sessions?user_id&status` | [`list_sessions_request`] / `list_sessions`, `all_sessions` | [`Page`] of [`ApiSession`] | idempotent |
//! | `POST /v1/sessions/{session_id}/revoke` | [`revoke_session_request`] / `revoke_session`, `revoke_user_sessions` | [`ApiSession`] | idempotent |
//! | `GET /v1/invitations` | [`list_app_invitations_request`] / `list_app_invitations` | [`Page`] of [`ApiAppInvitation`] | idempotent |
//! | `POST /v1/invitations` | [`create_invitation_request`] ([`NewInvitation`]) / `create_invitation` | [`ApiAppInvitation`] | **create-once** |
//! | `POST /v1/invitations/{invitation_id}/revoke` | [`revoke_invitation_request`] / `revoke_invitation` | [`ApiAppInvitation`] | idempotent |
//! | `POST /v1/organizations` | [`create_organization_request`] ([`NewOrganization`]) / `create_organization` | [`ApiOrganization`] | **create-once** |
//! | `PATCH /v1/organizations/{organization_id}` | [`update_organization_request`] ([`OrganizationUpdate`]) / `update_organization` | [`ApiOrganization`] | idempotent |
//! | `DELETE /v1/organizations/{organization_id}` | [`delete_organization_request`] / `delete_organization` | [`DeletedObject`] | idempotent |
//! | `POST /v1/organizations/{organization_id}/memberships` | [`create_membership_request`] / `create_membership` | [`ApiMembership`] | **create-once** |
//! | `PATCH /v1/organizations/{organization_id}/memberships/{user_id}` | [`update_membership_request`] / `update_membership` | [`ApiMembership`] | idempotent |
//! | `DELETE /v1/organizations/{organization_id}/memberships/{user_id}` | [`delete_membership_request`] / `delete_membership` | [`ApiMembership`] | idempotent |
//!
//! The writes validate their inputs at build time and refuse a bad one with
//! [`ApiError::InvalidParam`], sending nothing: ids must be Clerk-shaped (ASCII letters,
//! digits, `_`, `-`, at most [`MAX_ID_LEN`] bytes), so a crafted id cannot change the path or
//! the query; email addresses, metadata (JSON objects), slugs and day counts are checked too.
//! The parsers take Clerk's answers (the user, the session, the invitation, the organization,
//! the membership, or `{"object","id","deleted":true}`) and ignore unknown fields.
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
