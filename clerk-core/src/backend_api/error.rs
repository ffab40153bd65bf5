//! [`ApiError`] and the [`Endpoint`] each error names.

use std::fmt;
use std::time::Duration;

use crate::http::{ClerkErrorBody, HttpError};

/// A Backend API endpoint, named in errors and logs (never with the request's ids or secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /v1/users/{user_id}`.
    GetUser,
    /// `GET /v1/users`.
    ListUsers,
    /// `GET /v1/users/count`.
    CountUsers,
    /// `GET /v1/organizations`.
    ListOrganizations,
    /// `GET /v1/organizations/{organization_id}` (served by the test kit's mock; the client
    /// does not call it).
    GetOrganization,
    /// `GET /v1/organizations/{organization_id}/memberships`.
    ListMemberships,
    /// `GET /v1/organization_invitations`.
    ListInvitations,
    /// `GET /v1/organizations/{organization_id}/invitations`.
    ListOrganizationInvitations,
    /// `PATCH /v1/users/{user_id}`.
    UpdateUser,
    /// `PATCH /v1/users/{user_id}/metadata` (deep merge).
    UpdateUserMetadata,
    /// `POST /v1/users/{user_id}/ban`.
    BanUser,
    /// `POST /v1/users/{user_id}/unban`.
    UnbanUser,
    /// `POST /v1/users/{user_id}/lock`.
    LockUser,
    /// `POST /v1/users/{user_id}/unlock`.
    UnlockUser,
    /// `DELETE /v1/users/{user_id}`.
    DeleteUser,
    /// `GET /v1/sessions`.
    ListSessions,
    /// `POST /v1/sessions/{session_id}/revoke`.
    RevokeSession,
    /// `GET /v1/invitations` (application invitations, not organization ones).
    ListAppInvitations,
    /// `POST /v1/invitations`.
    CreateInvitation,
    /// `POST /v1/invitations/{invitation_id}/revoke`.
    RevokeInvitation,
    /// `POST /v1/organizations`.
    CreateOrganization,
    /// `PATCH /v1/organizations/{organization_id}`.
    UpdateOrganization,
    /// `DELETE /v1/organizations/{organization_id}`.
    DeleteOrganization,
    /// `POST /v1/organizations/{organization_id}/memberships`.
    CreateMembership,
    /// `PATCH /v1/organizations/{organization_id}/memberships/{user_id}`.
    UpdateMembership,
    /// `DELETE /v1/organizations/{organization_id}/memberships/{user_id}`.
    DeleteMembership,
}

impl Endpoint {
    /// Method and path template, e.g. `GET /v1/users/{user_id}`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Endpoint::GetUser => "GET /v1/users/{user_id}",
            Endpoint::ListUsers => "GET /v1/users",
            Endpoint::CountUsers => "GET /v1/users/count",
            Endpoint::ListOrganizations => "GET /v1/organizations",
            Endpoint::GetOrganization => "GET /v1/organizations/{organization_id}",
            Endpoint::ListMemberships => "GET /v1/organizations/{organization_id}/memberships",
            Endpoint::ListInvitations => "GET /v1/organization_invitations",
            Endpoint::ListOrganizationInvitations => {
                "GET /v1/organizations/{organization_id}/invitations"
            }
            Endpoint::UpdateUser => "PATCH /v1/users/{user_id}",
            Endpoint::UpdateUserMetadata => "PATCH /v1/users/{user_id}/metadata",
            Endpoint::BanUser => "POST /v1/users/{user_id}/ban",
            Endpoint::UnbanUser => "POST /v1/users/{user_id}/unban",
            Endpoint::LockUser => "POST /v1/users/{user_id}/lock",
            Endpoint::UnlockUser => "POST /v1/users/{user_id}/unlock",
            Endpoint::DeleteUser => "DELETE /v1/users/{user_id}",
            Endpoint::ListSessions => "GET /v1/sessions",
            Endpoint::RevokeSession => "POST /v1/sessions/{session_id}/revoke",
            Endpoint::ListAppInvitations => "GET /v1/invitations",
            Endpoint::CreateInvitation => "POST /v1/invitations",
            Endpoint::RevokeInvitation => "POST /v1/invitations/{invitation_id}/revoke",
            Endpoint::CreateOrganization => "POST /v1/organizations",
            Endpoint::UpdateOrganization => "PATCH /v1/organizations/{organization_id}",
            Endpoint::DeleteOrganization => "DELETE /v1/organizations/{organization_id}",
            Endpoint::CreateMembership => "POST /v1/organizations/{organization_id}/memberships",
            Endpoint::UpdateMembership => {
                "PATCH /v1/organizations/{organization_id}/memberships/{user_id}"
            }
            Endpoint::DeleteMembership => {
                "DELETE /v1/organizations/{organization_id}/memberships/{user_id}"
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn clerk_suffix(clerk: Option<&ClerkErrorBody>) -> String {
    clerk.map(|c| format!(": {c}")).unwrap_or_default()
}

fn retry_after_suffix(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|d| format!(" (Retry-After: {}s)", d.as_secs()))
        .unwrap_or_default()
}

/// Why a Backend API call failed. Every variant names the endpoint; Clerk's error body
/// (`errors[].code/message/long_message`) is kept when Clerk sent one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 404: the object does not exist (for example an unknown user id).
    #[error("{endpoint}: not found (HTTP 404){}", clerk_suffix(clerk.as_ref()))]
    NotFound {
        /// The endpoint called.
        endpoint: Endpoint,
        /// Clerk's error body, when it sent one.
        clerk: Option<ClerkErrorBody>,
    },
    /// 429: rate limited; `retry_after` is the `Retry-After` header in seconds, when sent.
    #[error("{endpoint}: rate limited (HTTP 429){}{}", retry_after_suffix(*retry_after), clerk_suffix(clerk.as_ref()))]
    RateLimited {
        /// The endpoint called.
        endpoint: Endpoint,
        /// How long Clerk asks to wait before the next request.
        retry_after: Option<Duration>,
        /// Clerk's error body, when it sent one.
        clerk: Option<ClerkErrorBody>,
    },
    /// A 5xx status: Clerk (or a proxy in front of it) failed.
    #[error("{endpoint}: server error (HTTP {status}){}", clerk_suffix(clerk.as_ref()))]
    Server {
        /// The endpoint called.
        endpoint: Endpoint,
        /// HTTP status.
        status: u16,
        /// Clerk's error body, when it sent one.
        clerk: Option<ClerkErrorBody>,
    },
    /// 401 or 403: Clerk refused the secret key.
    #[error("{endpoint}: Clerk rejected the secret key (HTTP {status}){}; check CLERK_SECRET_KEY", clerk_suffix(clerk.as_ref()))]
    Unauthorized {
        /// The endpoint called.
        endpoint: Endpoint,
        /// HTTP status (401 or 403).
        status: u16,
        /// Clerk's error body, when it sent one.
        clerk: Option<ClerkErrorBody>,
    },
    /// Any other non-2xx status (400, 422, …).
    #[error("{endpoint}: HTTP {status}{}", clerk_suffix(clerk.as_ref()))]
    Status {
        /// The endpoint called.
        endpoint: Endpoint,
        /// HTTP status.
        status: u16,
        /// Clerk's error body, when it sent one.
        clerk: Option<ClerkErrorBody>,
    },
    /// A 2xx response whose body is not what the endpoint returns.
    #[error("{endpoint}: the response is not a valid {expected}: {detail}")]
    Malformed {
        /// The endpoint called.
        endpoint: Endpoint,
        /// What was expected, e.g. `page of users (a JSON array)`.
        expected: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// No HTTP response was received.
    #[error("{endpoint}: {source}")]
    Transport {
        /// The endpoint called.
        endpoint: Endpoint,
        /// The transport failure.
        #[source]
        source: HttpError,
    },
    /// A page size outside `1..=500`, refused before any request is sent.
    #[error("limit {limit} is out of range: the Backend API pages by 1 to 500")]
    InvalidLimit {
        /// The refused limit.
        limit: u32,
    },
    /// The request could not be built (for example an invalid `CLERK_API_URL`).
    #[error("{endpoint}: cannot build the request: {detail}")]
    Request {
        /// The endpoint.
        endpoint: Endpoint,
        /// What went wrong.
        detail: String,
    },
    /// A call made within a [`CallBudget`](super::CallBudget) ran out of time (Clerk slow or
    /// hanging).
    #[error("{endpoint}: no answer within the budget of {} ms", budget.as_millis())]
    BudgetExhausted {
        /// The endpoint called.
        endpoint: Endpoint,
        /// The budget that ran out.
        budget: Duration,
    },
    /// A parameter of a write refused before any request is sent (an empty or malformed id,
    /// an invalid email address, a number out of range, metadata that is not a JSON object).
    #[error("{endpoint}: invalid {param}: {detail}")]
    InvalidParam {
        /// The endpoint that would have been called.
        endpoint: Endpoint,
        /// The parameter, e.g. `user_id` or `email_address`.
        param: &'static str,
        /// What is wrong with it (never the value of an email address).
        detail: String,
    },
    /// The configuration has no `CLERK_SECRET_KEY`, which the Backend API needs.
    #[error("CLERK_SECRET_KEY: required to call the Clerk Backend API but not set")]
    NoSecretKey,
}

impl ApiError {
    /// The endpoint the error is about, when it is about one.
    #[must_use]
    pub fn endpoint(&self) -> Option<Endpoint> {
        match self {
            ApiError::NotFound { endpoint, .. }
            | ApiError::RateLimited { endpoint, .. }
            | ApiError::Server { endpoint, .. }
            | ApiError::Unauthorized { endpoint, .. }
            | ApiError::Status { endpoint, .. }
            | ApiError::Malformed { endpoint, .. }
            | ApiError::Transport { endpoint, .. }
            | ApiError::Request { endpoint, .. }
            | ApiError::BudgetExhausted { endpoint, .. }
            | ApiError::InvalidParam { endpoint, .. } => Some(*endpoint),
            ApiError::InvalidLimit { .. } | ApiError::NoSecretKey => None,
        }
    }

    /// Clerk's error body, when the error carries one.
    #[must_use]
    pub fn clerk_body(&self) -> Option<&ClerkErrorBody> {
        match self {
            ApiError::NotFound { clerk, .. }
            | ApiError::RateLimited { clerk, .. }
            | ApiError::Server { clerk, .. }
            | ApiError::Unauthorized { clerk, .. }
            | ApiError::Status { clerk, .. } => clerk.as_ref(),
            _ => None,
        }
    }

    /// Whether Clerk itself is unavailable for now (a 5xx, a 429, no response, or a budget
    /// that ran out), as opposed to a request Clerk refused.
    #[must_use]
    pub fn is_clerk_unavailable(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. }
                | ApiError::Server { .. }
                | ApiError::Transport { .. }
                | ApiError::BudgetExhausted { .. }
        )
    }

    /// The `Retry-After` Clerk sent with a 429.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status of the response, when there was one that failed.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::NotFound { .. } => Some(404),
            ApiError::RateLimited { .. } => Some(429),
            ApiError::Server { status, .. }
            | ApiError::Unauthorized { status, .. }
            | ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
