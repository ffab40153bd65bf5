//! The Backend API endpoints the sync needs, over the in-memory [`Dataset`]:
//!
//! | route | answer |
//! |-------|--------|
//! | `GET /v1/users` | a bare JSON array of users (`limit`, `offset`, `order_by=[+-]created_at`) |
//! | `GET /v1/users/count` | `{"object":"total_count","total_count":n}` |
//! | `GET /v1/users/{user_id}` | one user; 404 with a Clerk error body for an unknown id |
//! | `GET /v1/organizations` | `{data, total_count}` (`include_members_count=true` adds `members_count`) |
//! | `GET /v1/organizations/{organization_id}` | one organization (`include_members_count=true` adds `members_count`); 404 for an unknown id |
//! | `GET /v1/organizations/{organization_id}/memberships` | `{data, total_count}`; 404 for an unknown organization |
//! | `GET /v1/organization_invitations` | `{data, total_count}` of every organization (`status` filters) |
//! | `GET /v1/organizations/{organization_id}/invitations` | `{data, total_count}` of one organization |
//!
//! Paging is Clerk's: `limit` defaults to 10 and must be in `1..=500`, `offset` defaults to 0,
//! and anything else is a 422 with a Clerk error body naming the parameter (never a silent
//! default). Listings are ordered by `created_at` (`-created_at`, Clerk's default, is newest
//! first), ties broken by insertion order, so offsets are stable.
//!
//! Every request is logged ([`BackendRequest`]) with its arrival time, then goes through the
//! [`Fault`](super::Fault) plan, the secret-key check and the optional rate limit
//! ([`MockClerk::set_rate_limit`]), in that order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clerk_core::backend_api::Endpoint;
use clerk_core::model::{
    ClerkInvitationData, ClerkMembershipData, ClerkOrganizationData, ClerkUserData,
};
use clerk_core::time::UnixTime;
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use super::dataset::{generated_user_id, Dataset, GENERATED_EPOCH_MILLIS};
use super::error::{clerk_error, reject_unless_secret_key};
use super::fault;
use super::state::MockState;
use super::MockClerk;

/// The largest `limit` the Backend API accepts.
const MAX_LIMIT: i64 = 500;
/// Clerk's `limit` when none is given.
const DEFAULT_LIMIT: i64 = 10;

/// One request the mock's Backend API received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendRequest {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The request's path and query, as received.
    pub path_and_query: String,
    /// When it arrived (tokio's clock, so paused-time tests see their own time).
    pub at: Instant,
    /// The status it was answered with; 0 while unanswered, and for good when the client gave
    /// up first (for example during a [`Fault::Delay`](super::Fault::Delay) longer than its
    /// timeout).
    pub status: u16,
    /// The `Retry-After` it was answered with (429s).
    pub retry_after: Option<Duration>,
}

/// A fixed-window rate limit: `limit` requests per `window`, the window starting at the first
/// request after the previous one ended.
#[derive(Debug)]
struct RateLimiter {
    limit: u32,
    window: Duration,
    started: Option<Instant>,
    used: u32,
}

impl RateLimiter {
    /// `Err(retry_after)` when the request is over the limit.
    fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        let started = match self.started {
            Some(started) if now.duration_since(started) < self.window => started,
            _ => {
                self.started = Some(now);
                self.used = 0;
                now
            }
        };
        if self.used < self.limit {
            self.used += 1;
            Ok(())
        } else {
            Err(self.window.saturating_sub(now.duration_since(started)))
        }
    }
}

/// The Backend API's share of the mock state.
#[derive(Debug, Default)]
pub(crate) struct BackendState {
    dataset: Mutex<Dataset>,
    rate_limit: Mutex<Option<RateLimiter>>,
    log: Mutex<RequestLog>,
}

/// The requests received, in order of arrival.
#[derive(Debug, Default)]
struct RequestLog {
    entries: Vec<BackendRequest>,
    /// Bumped by every reset, so an answer never lands on another request's entry.
    generation: u64,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data consistent, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BackendState {
    pub(super) fn dataset(&self) -> MutexGuard<'_, Dataset> {
        lock(&self.dataset)
    }

    /// Clears the request log (the counters of this module).
    pub(crate) fn reset_counters(&self) {
        let mut log = lock(&self.log);
        log.entries.clear();
        log.generation += 1;
    }
}

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/v1/users", get(list_users))
        .route("/v1/users/count", get(count_users))
        .route("/v1/users/{user_id}", get(get_user))
        .route("/v1/organizations", get(list_organizations))
        .route("/v1/organizations/{organization_id}", get(get_organization))
        .route(
            "/v1/organizations/{organization_id}/memberships",
            get(list_memberships),
        )
        .route(
            "/v1/organizations/{organization_id}/invitations",
            get(list_organization_invitations),
        )
        .route("/v1/organization_invitations", get(list_invitations))
}

type Params = Query<HashMap<String, String>>;

/// Logs the request around `answer`, after the fault plan, the secret key and the rate limit.
pub(super) async fn serve(
    state: &MockState,
    endpoint: Endpoint,
    uri: &Uri,
    headers: &HeaderMap,
    answer: impl FnOnce(&MockState) -> Response,
) -> Response {
    let at = Instant::now();
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let (generation, index) = {
        let mut log = lock(&state.backend.log);
        log.entries.push(BackendRequest {
            endpoint,
            path_and_query,
            at,
            status: 0,
            retry_after: None,
        });
        (log.generation, log.entries.len() - 1)
    };
    let response = match gate(state, headers).await {
        Some(refused) => refused,
        None => answer(state),
    };
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut log = lock(&state.backend.log);
    // Unless the log was reset in between.
    let entry = (log.generation == generation)
        .then(|| log.entries.get_mut(index))
        .flatten();
    if let Some(entry) = entry {
        entry.status = response.status().as_u16();
        entry.retry_after = retry_after;
    }
    drop(log);
    response
}

async fn gate(state: &MockState, headers: &HeaderMap) -> Option<Response> {
    if let Some(response) = fault::apply(state).await {
        return Some(response);
    }
    if let Some(response) = reject_unless_secret_key(state, headers) {
        return Some(response);
    }
    let verdict = lock(&state.backend.rate_limit)
        .as_mut()
        .map_or(Ok(()), |limiter| limiter.admit(Instant::now()));
    let retry_after = verdict.err()?;
    // Whole seconds, rounded up, at least 1: waiting that long always reaches the next window.
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let mut response = clerk_error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        "You have exceeded the rate limit of the mock Clerk's Backend API; retry after the Retry-After delay.",
        "too_many_requests",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    Some(response)
}

/// A 422 naming the query parameter, the way Clerk reports form parameter errors: code
/// `form_param_value_invalid`, message `is invalid`, and for `limit` and `offset` Clerk's long
/// message (`<value> does not match one of the allowed values for parameter limit`, as the
/// real API answers an out-of-range or non-integer limit). `meta.param_name` names the
/// parameter.
pub(super) fn invalid_param(param: &str, long_message: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "errors": [{
                "message": "is invalid",
                "long_message": long_message,
                "code": "form_param_value_invalid",
                "meta": {"param_name": param},
            }],
            "clerk_trace_id": "mock_trace",
        })),
    )
        .into_response()
}

pub(super) fn not_found(what: &str, id: &str) -> Response {
    clerk_error(
        StatusCode::NOT_FOUND,
        "not found",
        &format!("No {what} was found with id {id}."),
        "resource_not_found",
    )
}

/// `limit`, `offset` and `order_by` of a listing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Paging {
    pub(super) limit: usize,
    pub(super) offset: usize,
    pub(super) descending: bool,
}

/// A query parameter the mock refuses: becomes [`invalid_param`].
pub(super) struct BadParam {
    param: &'static str,
    long_message: String,
}

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        invalid_param(self.param, &self.long_message)
    }
}

pub(super) fn paging(params: &HashMap<String, String>) -> Result<Paging, BadParam> {
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                return Err(BadParam {
                    param: "limit",
                    long_message: format!(
                        "{raw} does not match one of the allowed values for parameter limit"
                    ),
                })
            }
        },
    };
    let offset = match params.get("offset") {
        None => 0,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(offset) if offset >= 0 => offset,
            _ => {
                return Err(BadParam {
                    param: "offset",
                    long_message: format!(
                        "{raw} does not match one of the allowed values for parameter offset"
                    ),
                })
            }
        },
    };
    // `+` arrives as a space when the client did not escape it.
    let order_by = params.get("order_by").map_or("-created_at", |s| s.trim());
    let descending = match order_by.trim_start_matches('+') {
        "created_at" => false,
        "-created_at" => true,
        _ => {
            return Err(BadParam {
                param: "order_by",
                long_message: format!(
                    "the mock Clerk orders by created_at or -created_at; got {order_by:?}."
                ),
            })
        }
    };
    Ok(Paging {
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        descending,
    })
}

pub(super) fn json_bytes(body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(e) => clerk_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            &format!("the mock Clerk could not serialize its answer: {e}"),
            "internal_clerk_error",
        ),
    }
}

// ---- JSON shapes ---------------------------------------------------------------------------

/// Serializes as `{}`.
#[derive(Serialize)]
struct Empty {}

const NONE: &[()] = &[];

#[derive(Serialize)]
struct VerificationJson {
    /// The verification's type tag (`verification_otp` for an email code): the Python SDK
    /// picks the verification model by it.
    object: &'static str,
    status: &'static str,
    strategy: &'static str,
    attempts: Option<u32>,
    expire_at: Option<i64>,
}

#[derive(Serialize)]
struct EmailJson<'a> {
    id: String,
    object: &'static str,
    email_address: &'a str,
    reserved: bool,
    verification: VerificationJson,
    linked_to: &'static [()],
    created_at: i64,
    updated_at: i64,
}

#[derive(Serialize)]
pub(super) struct UserJson<'a> {
    id: &'a str,
    object: &'static str,
    external_id: Option<&'a str>,
    primary_email_address_id: Option<String>,
    primary_phone_number_id: Option<()>,
    primary_web3_wallet_id: Option<()>,
    username: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    image_url: &'a str,
    /// Deprecated by Clerk but still served, equal to `image_url`.
    profile_image_url: &'a str,
    has_image: bool,
    public_metadata: &'a serde_json::Value,
    private_metadata: Empty,
    unsafe_metadata: Empty,
    email_addresses: Vec<EmailJson<'a>>,
    phone_numbers: &'static [()],
    web3_wallets: &'static [()],
    passkeys: &'static [()],
    external_accounts: &'static [()],
    saml_accounts: &'static [()],
    enterprise_accounts: &'static [()],
    password_enabled: bool,
    password_last_updated_at: Option<i64>,
    two_factor_enabled: bool,
    totp_enabled: bool,
    backup_code_enabled: bool,
    mfa_enabled_at: Option<i64>,
    mfa_disabled_at: Option<i64>,
    banned: bool,
    locked: bool,
    lockout_expires_in_seconds: Option<i64>,
    verification_attempts_remaining: u32,
    create_organization_enabled: bool,
    create_organizations_limit: Option<u32>,
    delete_self_enabled: bool,
    locale: Option<()>,
    last_sign_in_at: Option<i64>,
    last_active_at: Option<i64>,
    legal_accepted_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

fn email_id(user_id: &str) -> String {
    format!("idn_{}", user_id.trim_start_matches("user_"))
}

pub(super) fn user_json(user: &ClerkUserData) -> UserJson<'_> {
    let email_addresses = user
        .email
        .as_deref()
        .map(|address| EmailJson {
            id: email_id(&user.clerk_id),
            object: "email_address",
            email_address: address,
            reserved: false,
            verification: VerificationJson {
                status: if user.email_verified {
                    "verified"
                } else {
                    "unverified"
                },
                object: "verification_otp",
                strategy: "email_code",
                attempts: None,
                expire_at: None,
            },
            linked_to: NONE,
            created_at: user.created_at.as_millis(),
            updated_at: user.updated_at.as_millis(),
        })
        .into_iter()
        .collect();
    UserJson {
        id: &user.clerk_id,
        object: "user",
        external_id: user.external_id.as_deref(),
        primary_email_address_id: user.email.as_ref().map(|_| email_id(&user.clerk_id)),
        primary_phone_number_id: None,
        primary_web3_wallet_id: None,
        username: user.username.as_deref(),
        first_name: user.first_name.as_deref(),
        last_name: user.last_name.as_deref(),
        image_url: user.image_url.as_deref().unwrap_or(""),
        profile_image_url: user.image_url.as_deref().unwrap_or(""),
        has_image: user.image_url.is_some(),
        public_metadata: &user.public_metadata,
        private_metadata: Empty {},
        unsafe_metadata: Empty {},
        email_addresses,
        phone_numbers: NONE,
        web3_wallets: NONE,
        passkeys: NONE,
        external_accounts: NONE,
        saml_accounts: NONE,
        enterprise_accounts: NONE,
        password_enabled: false,
        password_last_updated_at: None,
        two_factor_enabled: false,
        totp_enabled: false,
        backup_code_enabled: false,
        mfa_enabled_at: None,
        mfa_disabled_at: None,
        banned: user.banned,
        locked: user.locked,
        lockout_expires_in_seconds: None,
        verification_attempts_remaining: 100,
        create_organization_enabled: true,
        create_organizations_limit: None,
        delete_self_enabled: true,
        locale: None,
        last_sign_in_at: user.last_sign_in_at.map(UnixTime::as_millis),
        last_active_at: None,
        legal_accepted_at: None,
        created_at: user.created_at.as_millis(),
        updated_at: user.updated_at.as_millis(),
    }
}

#[derive(Serialize)]
pub(super) struct OrganizationJson<'a> {
    object: &'static str,
    id: &'a str,
    name: &'a str,
    slug: Option<&'a str>,
    image_url: &'a str,
    has_image: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    members_count: Option<i64>,
    max_allowed_memberships: u32,
    admin_delete_enabled: bool,
    public_metadata: &'a serde_json::Value,
    private_metadata: Empty,
    created_by: &'static str,
    created_at: i64,
    updated_at: i64,
}

pub(super) fn organization_json(
    org: &ClerkOrganizationData,
    members_count: Option<i64>,
) -> OrganizationJson<'_> {
    OrganizationJson {
        object: "organization",
        id: &org.clerk_id,
        name: &org.name,
        slug: org.slug.as_deref(),
        image_url: org.image_url.as_deref().unwrap_or(""),
        has_image: org.image_url.is_some(),
        members_count,
        max_allowed_memberships: 0,
        admin_delete_enabled: true,
        public_metadata: &org.public_metadata,
        private_metadata: Empty {},
        created_by: "",
        created_at: org.created_at.as_millis(),
        updated_at: org.updated_at.as_millis(),
    }
}

#[derive(Serialize)]
struct PublicUserDataJson {
    user_id: String,
    identifier: String,
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    image_url: String,
    /// Deprecated by Clerk but still served (and required by the Python SDK's model), equal
    /// to `image_url`.
    profile_image_url: String,
    has_image: bool,
}

#[derive(Serialize)]
pub(super) struct MembershipJson<'a> {
    object: &'static str,
    id: &'a str,
    role: &'a str,
    role_name: String,
    permissions: &'a [String],
    public_metadata: Empty,
    private_metadata: Empty,
    organization: serde_json::Value,
    public_user_data: PublicUserDataJson,
    created_at: i64,
    updated_at: i64,
}

fn role_name(role: &str) -> String {
    let key = role.strip_prefix("org:").unwrap_or(role);
    let mut chars = key.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

pub(super) fn membership_json<'a>(
    dataset: &Dataset,
    m: &'a ClerkMembershipData,
) -> MembershipJson<'a> {
    let organization = match dataset.organization(&m.organization_clerk_id) {
        Some(org) => serde_json::to_value(organization_json(org, None)).unwrap_or_default(),
        None => json!({"object": "organization", "id": m.organization_clerk_id, "name": ""}),
    };
    let public_user_data = match dataset.find_user(&m.user_clerk_id) {
        Some(user) => {
            let user = dataset.user(user);
            PublicUserDataJson {
                user_id: user.clerk_id.clone(),
                identifier: user.email.clone().unwrap_or_default(),
                username: user.username.clone(),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                image_url: user.image_url.clone().unwrap_or_default(),
                profile_image_url: user.image_url.clone().unwrap_or_default(),
                has_image: user.image_url.is_some(),
            }
        }
        None => PublicUserDataJson {
            user_id: m.user_clerk_id.clone(),
            identifier: String::new(),
            username: None,
            first_name: None,
            last_name: None,
            image_url: String::new(),
            profile_image_url: String::new(),
            has_image: false,
        },
    };
    MembershipJson {
        object: "organization_membership",
        id: &m.clerk_id,
        role: &m.role,
        role_name: role_name(&m.role),
        permissions: &m.permissions,
        public_metadata: Empty {},
        private_metadata: Empty {},
        organization,
        public_user_data,
        created_at: m.created_at.as_millis(),
        updated_at: m.updated_at.as_millis(),
    }
}

#[derive(Serialize)]
struct InvitationJson<'a> {
    object: &'static str,
    id: &'a str,
    email_address: &'a str,
    role: &'a str,
    role_name: String,
    organization_id: &'a str,
    public_organization_data: Option<serde_json::Value>,
    status: &'a str,
    user_id: Option<&'a str>,
    /// Who sent the invitation; the mock's invitations have no inviter.
    inviter_id: Option<()>,
    public_inviter_data: Option<()>,
    public_metadata: Empty,
    private_metadata: Empty,
    url: Option<()>,
    created_at: i64,
    updated_at: i64,
    expires_at: Option<i64>,
}

fn invitation_json<'a>(dataset: &Dataset, inv: &'a ClerkInvitationData) -> InvitationJson<'a> {
    InvitationJson {
        object: "organization_invitation",
        id: &inv.clerk_id,
        email_address: &inv.email_address,
        role: &inv.role,
        role_name: role_name(&inv.role),
        organization_id: &inv.organization_clerk_id,
        public_organization_data: dataset.organization(&inv.organization_clerk_id).map(|org| {
            json!({
                "id": org.clerk_id, "name": org.name, "slug": org.slug,
                "image_url": org.image_url.clone().unwrap_or_default(),
                "has_image": org.image_url.is_some(),
            })
        }),
        status: inv.status.as_str(),
        user_id: inv.user_clerk_id.as_deref(),
        inviter_id: None,
        public_inviter_data: None,
        public_metadata: Empty {},
        private_metadata: Empty {},
        url: None,
        created_at: inv.created_at.as_millis(),
        updated_at: inv.updated_at.as_millis(),
        expires_at: None,
    }
}

#[derive(Serialize)]
pub(super) struct PageJson<T> {
    pub(super) data: Vec<T>,
    pub(super) total_count: usize,
}

pub(super) fn window<T>(items: Vec<T>, paging: Paging) -> (Vec<T>, usize) {
    let total = items.len();
    let page = items
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit)
        .collect();
    (page, total)
}

// ---- handlers ------------------------------------------------------------------------------

async fn list_users(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    serve(&state, Endpoint::ListUsers, &uri, &headers, |state| {
        let paging = match paging(&params) {
            Ok(paging) => paging,
            Err(bad) => return bad.into_response(),
        };
        let mut dataset = state.backend.dataset();
        let refs = dataset.users_page(paging.offset, paging.limit, paging.descending);
        let users: Vec<_> = refs.into_iter().map(|r| dataset.user(r)).collect();
        let page: Vec<UserJson<'_>> = users.iter().map(|u| user_json(u)).collect();
        json_bytes(&page)
    })
    .await
}

async fn count_users(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve(&state, Endpoint::CountUsers, &uri, &headers, |state| {
        let total = state.backend.dataset().user_count();
        json_bytes(&json!({"object": "total_count", "total_count": total}))
    })
    .await
}

async fn get_user(
    State(state): State<Arc<MockState>>,
    Path(user_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve(&state, Endpoint::GetUser, &uri, &headers, |state| {
        let dataset = state.backend.dataset();
        match dataset.find_user(&user_id) {
            Some(user) => json_bytes(&super::writes::user_value(&dataset, &dataset.user(user))),
            None => not_found("user", &user_id),
        }
    })
    .await
}

async fn list_organizations(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    serve(
        &state,
        Endpoint::ListOrganizations,
        &uri,
        &headers,
        |state| {
            let paging = match paging(&params) {
                Ok(paging) => paging,
                Err(bad) => return bad.into_response(),
            };
            let dataset = state.backend.dataset();
            let (page, total) = window(dataset.organizations(paging.descending), paging);
            let data = page
                .into_iter()
                .map(|org| organization_json(org, members_count_of(&dataset, org, &params)))
                .collect();
            json_bytes(&PageJson {
                data,
                total_count: total,
            })
        },
    )
    .await
}

/// `members_count` of `org` when `include_members_count=true`: its memberships in the data
/// set, or the seeded count when it has none there.
fn members_count_of(
    dataset: &Dataset,
    org: &ClerkOrganizationData,
    params: &HashMap<String, String>,
) -> Option<i64> {
    let with_counts = params
        .get("include_members_count")
        .is_some_and(|v| v == "true");
    with_counts.then(|| match dataset.members_count(&org.clerk_id) {
        0 => org.members_count.unwrap_or(0),
        n => i64::try_from(n).unwrap_or(i64::MAX),
    })
}

async fn get_organization(
    State(state): State<Arc<MockState>>,
    Path(organization_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    serve(&state, Endpoint::GetOrganization, &uri, &headers, |state| {
        let dataset = state.backend.dataset();
        match dataset.organization(&organization_id) {
            Some(org) => {
                let mut value = serde_json::to_value(organization_json(
                    org,
                    members_count_of(&dataset, org, &params),
                ))
                .unwrap_or_default();
                super::writes_orgs::with_org_extra(&dataset, &org.clerk_id, &mut value);
                json_bytes(&value)
            }
            None => not_found("organization", &organization_id),
        }
    })
    .await
}

async fn list_memberships(
    State(state): State<Arc<MockState>>,
    Path(organization_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    serve(&state, Endpoint::ListMemberships, &uri, &headers, |state| {
        let paging = match paging(&params) {
            Ok(paging) => paging,
            Err(bad) => return bad.into_response(),
        };
        let dataset = state.backend.dataset();
        if dataset.organization(&organization_id).is_none() {
            return not_found("organization", &organization_id);
        }
        let memberships = dataset.memberships_of(&organization_id, paging.descending);
        let (page, total) = window(memberships, paging);
        let data = page
            .into_iter()
            .map(|m| membership_json(&dataset, m))
            .collect();
        json_bytes(&PageJson {
            data,
            total_count: total,
        })
    })
    .await
}

fn invitations_page(
    state: &MockState,
    organization_id: Option<&str>,
    params: &HashMap<String, String>,
) -> Response {
    let paging = match paging(params) {
        Ok(paging) => paging,
        Err(bad) => return bad.into_response(),
    };
    let dataset = state.backend.dataset();
    if let Some(id) = organization_id {
        if dataset.organization(id).is_none() {
            return not_found("organization", id);
        }
    }
    let status = params.get("status").map(String::as_str);
    let invitations = dataset.invitations(organization_id, status, paging.descending);
    let (page, total) = window(invitations, paging);
    let data = page
        .into_iter()
        .map(|inv| invitation_json(&dataset, inv))
        .collect();
    json_bytes(&PageJson {
        data,
        total_count: total,
    })
}

async fn list_invitations(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    serve(&state, Endpoint::ListInvitations, &uri, &headers, |state| {
        invitations_page(state, None, &params)
    })
    .await
}

async fn list_organization_invitations(
    State(state): State<Arc<MockState>>,
    Path(organization_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    serve(
        &state,
        Endpoint::ListOrganizationInvitations,
        &uri,
        &headers,
        |state| invitations_page(state, Some(&organization_id), &params),
    )
    .await
}

// ---- the handle's Backend API methods ------------------------------------------------------

impl MockClerk {
    /// Adds users to the Backend API's data set (a user whose id is present replaces it).
    pub fn seed_users(&self, users: Vec<ClerkUserData>) {
        self.state().backend.dataset().seed_users(users);
    }

    /// Adds `n` generated users ([`generated_user`](super::generated_user) `k` for each `k`
    /// of the returned range; numbering continues across calls). They are computed when
    /// served, not stored: 100,000 cost a few MB.
    pub fn generate_users(&self, n: u32) -> std::ops::Range<u32> {
        self.state().backend.dataset().generate_users(n)
    }

    /// How many users the data set holds (seeded and generated).
    #[must_use]
    pub fn user_count(&self) -> usize {
        self.state().backend.dataset().user_count()
    }

    /// Adds organizations (an id already present replaces it).
    pub fn seed_organizations(&self, organizations: Vec<ClerkOrganizationData>) {
        self.state()
            .backend
            .dataset()
            .seed_organizations(organizations);
    }

    /// Adds memberships (an id already present replaces it).
    pub fn seed_memberships(&self, memberships: Vec<ClerkMembershipData>) {
        self.state().backend.dataset().seed_memberships(memberships);
    }

    /// Adds invitations (an id already present replaces it).
    pub fn seed_invitations(&self, invitations: Vec<ClerkInvitationData>) {
        self.state().backend.dataset().seed_invitations(invitations);
    }

    /// Adds `n` organizations `org_gen_{i:06}` (`Org {i}`, created `i` seconds after the
    /// generated users' epoch), each with `members_per_org` memberships
    /// `orgmem_gen_{i:06}_{j:04}` of generated users taken in turn (the first member is
    /// `org:admin`, the others `org:member`) and one pending invitation `orginv_gen_{i:06}`.
    /// Generate the users first for the memberships to point at existing users.
    pub fn generate_organizations(&self, n: u32, members_per_org: u32) {
        let mut dataset = self.state().backend.dataset();
        let users = u32::try_from(dataset.user_count())
            .unwrap_or(u32::MAX)
            .max(1);
        let mut orgs = Vec::new();
        let mut memberships = Vec::new();
        let mut invitations = Vec::new();
        let mut next_user: u32 = 0;
        for i in 0..n {
            let t = UnixTime::from_millis(GENERATED_EPOCH_MILLIS + i64::from(i) * 1000);
            let id = format!("org_gen_{i:06}");
            let mut org = ClerkOrganizationData::new(&id, format!("Org {i}"), t, t);
            org.slug = Some(format!("org-{i}"));
            orgs.push(org);
            for j in 0..members_per_org {
                let role = if j == 0 { "org:admin" } else { "org:member" };
                memberships.push(ClerkMembershipData::new(
                    format!("orgmem_gen_{i:06}_{j:04}"),
                    &id,
                    generated_user_id(next_user % users),
                    role,
                    t,
                    t,
                ));
                next_user = next_user.wrapping_add(1);
            }
            invitations.push(ClerkInvitationData::new(
                format!("orginv_gen_{i:06}"),
                &id,
                format!("invitee{i}@example.test"),
                "org:member",
                t,
                t,
            ));
        }
        dataset.seed_organizations(orgs);
        dataset.seed_memberships(memberships);
        dataset.seed_invitations(invitations);
    }

    /// Empties the data set (users, organizations, memberships, invitations).
    pub fn clear_backend_data(&self) {
        self.state().backend.dataset().clear();
    }

    /// Limits the Backend API to `requests` per `window` (a fixed window that starts at the
    /// first request after the previous one ended); requests over the limit get a 429 with a
    /// `Retry-After` of the rest of the window in whole seconds (at least 1) and a Clerk error
    /// body. Requests answered by a fault or refused for the secret key do not count.
    pub fn set_rate_limit(&self, requests: u32, window: Duration) {
        *lock(&self.state().backend.rate_limit) = Some(RateLimiter {
            limit: requests,
            window,
            started: None,
            used: 0,
        });
    }

    /// Removes the rate limit.
    pub fn clear_rate_limit(&self) {
        *lock(&self.state().backend.rate_limit) = None;
    }

    /// Every Backend API request received since the start (or [`reset_counters`](Self::reset_counters)),
    /// in order of arrival.
    #[must_use]
    pub fn backend_requests(&self) -> Vec<BackendRequest> {
        lock(&self.state().backend.log).entries.clone()
    }

    /// Backend API requests received on `endpoint`, whatever their outcome.
    #[must_use]
    pub fn backend_request_count(&self, endpoint: Endpoint) -> usize {
        lock(&self.state().backend.log)
            .entries
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .count()
    }

    /// Backend API requests on `endpoint` answered with a 2xx.
    #[must_use]
    pub fn backend_request_count_ok(&self, endpoint: Endpoint) -> usize {
        lock(&self.state().backend.log)
            .entries
            .iter()
            .filter(|r| r.endpoint == endpoint && (200..300).contains(&r.status))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limiter_uses_fixed_windows() {
        let mut limiter = RateLimiter {
            limit: 2,
            window: Duration::from_secs(1),
            started: None,
            used: 0,
        };
        let t0 = Instant::now();
        assert!(limiter.admit(t0).is_ok());
        assert!(limiter.admit(t0 + Duration::from_millis(100)).is_ok());
        assert_eq!(
            limiter.admit(t0 + Duration::from_millis(250)),
            Err(Duration::from_millis(750))
        );
        assert!(limiter.admit(t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn role_names_read_like_clerk_s() {
        assert_eq!(role_name("org:admin"), "Admin");
        assert_eq!(role_name("member"), "Member");
        assert_eq!(role_name(""), "");
    }
}
