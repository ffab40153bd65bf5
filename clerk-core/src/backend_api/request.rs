//! Pure request builders: `http::Request<Vec<u8>>` with the Bearer secret key.

use std::fmt::Write as _;

use super::error::{ApiError, Endpoint};
use crate::secret::SecretKey;

/// The largest page the Backend API serves.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// Clerk's page size when `limit` is absent.
pub const DEFAULT_PAGE_LIMIT: u32 = 10;

/// The Backend API version every request pins with the [`API_VERSION_HEADER`] header, unless
/// `CLERK_API_VERSION` says otherwise: the version `@clerk/backend` 3.25.0 (the SDK the oracle
/// corpus is pinned to) sends, so responses have the shapes that SDK, and our parsers, expect.
pub const DEFAULT_API_VERSION: &str = "2026-05-12";

/// The header that pins the Backend API version (Clerk's SDKs send it on every request, the
/// JWKS fetch included).
pub const API_VERSION_HEADER: &str = "clerk-api-version";

/// Sets the [`API_VERSION_HEADER`] of `request` to `version` (a value that is not a valid
/// header value is left out: the configuration checks it at start-up).
pub fn pin_api_version(request: &mut http::Request<Vec<u8>>, version: &str) {
    if let Ok(value) = http::HeaderValue::from_str(version) {
        request
            .headers_mut()
            .insert(http::HeaderName::from_static(API_VERSION_HEADER), value);
    }
}

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("clerk-rs/", env!("CARGO_PKG_VERSION"));

/// `limit` and `offset` of one page, with `limit` validated to `1..=500`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageParams {
    limit: u32,
    offset: u64,
}

impl PageParams {
    /// A page of `limit` objects starting at `offset`.
    ///
    /// # Errors
    /// [`ApiError::InvalidLimit`] when `limit` is 0 or above [`MAX_PAGE_LIMIT`].
    pub fn new(limit: u32, offset: u64) -> Result<Self, ApiError> {
        if limit == 0 || limit > MAX_PAGE_LIMIT {
            return Err(ApiError::InvalidLimit { limit });
        }
        Ok(PageParams { limit, offset })
    }

    /// The first page of `limit` objects.
    ///
    /// # Errors
    /// As [`PageParams::new`].
    pub fn first(limit: u32) -> Result<Self, ApiError> {
        Self::new(limit, 0)
    }

    /// The page size.
    #[must_use]
    pub fn limit(self) -> u32 {
        self.limit
    }

    /// The number of objects skipped.
    #[must_use]
    pub fn offset(self) -> u64 {
        self.offset
    }

    /// The page after this one when this one held `received` objects.
    #[must_use]
    pub fn advanced_by(self, received: usize) -> Self {
        PageParams {
            limit: self.limit,
            offset: self
                .offset
                .saturating_add(u64::try_from(received).unwrap_or(u64::MAX)),
        }
    }
}

impl Default for PageParams {
    /// The first page of [`MAX_PAGE_LIMIT`] objects.
    fn default() -> Self {
        PageParams {
            limit: MAX_PAGE_LIMIT,
            offset: 0,
        }
    }
}

/// The order of `GET /v1/users` (`order_by`). Only creation order is stable while users are
/// being updated, so sync pages by [`UserOrder::CreatedAtAsc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum UserOrder {
    /// `order_by=created_at`: oldest first (stable while new users sign up: they come last).
    #[default]
    CreatedAtAsc,
    /// `order_by=-created_at`: newest first (Clerk's default).
    CreatedAtDesc,
}

impl UserOrder {
    /// The `order_by` value. `+` is implied by Clerk and would need escaping, so it is not sent.
    #[must_use]
    pub fn as_query(self) -> &'static str {
        match self {
            UserOrder::CreatedAtAsc => "created_at",
            UserOrder::CreatedAtDesc => "-created_at",
        }
    }
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
fn push_segment(out: &mut String, segment: &str) {
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn get(
    endpoint: Endpoint,
    api_url: &str,
    secret_key: &SecretKey,
    path_and_query: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let uri = format!("{}{path_and_query}", api_url.trim_end_matches('/'));
    http::Request::get(uri)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", secret_key.expose_secret()),
        )
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, USER_AGENT)
        .body(Vec::new())
        .map_err(|e| ApiError::Request {
            endpoint,
            detail: e.to_string(),
        })
}

fn id_path(endpoint: Endpoint, prefix: &str, id: &str, suffix: &str) -> Result<String, ApiError> {
    if id.is_empty() {
        return Err(ApiError::Request {
            endpoint,
            detail: "the id is empty".to_owned(),
        });
    }
    let mut path = String::with_capacity(prefix.len() + id.len() + suffix.len());
    path.push_str(prefix);
    push_segment(&mut path, id);
    path.push_str(suffix);
    Ok(path)
}

/// `GET {api_url}/v1/users/{user_id}`.
///
/// # Errors
/// [`ApiError::Request`] for an empty id or an invalid `api_url`.
pub fn get_user_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::GetUser;
    let path = id_path(endpoint, "/v1/users/", user_id, "")?;
    get(endpoint, api_url, secret_key, &path)
}

/// `GET {api_url}/v1/users?limit&offset&order_by`: a bare JSON array of users.
///
/// # Errors
/// [`ApiError::Request`] for an invalid `api_url` (the limit was validated by [`PageParams`]).
pub fn list_users_request(
    api_url: &str,
    secret_key: &SecretKey,
    page: PageParams,
    order: UserOrder,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let path = format!(
        "/v1/users?limit={}&offset={}&order_by={}",
        page.limit,
        page.offset,
        order.as_query()
    );
    get(Endpoint::ListUsers, api_url, secret_key, &path)
}

/// `GET {api_url}/v1/users/count`: `{"object":"total_count","total_count":n}`.
///
/// # Errors
/// [`ApiError::Request`] for an invalid `api_url`.
pub fn count_users_request(
    api_url: &str,
    secret_key: &SecretKey,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    get(Endpoint::CountUsers, api_url, secret_key, "/v1/users/count")
}

/// `GET {api_url}/v1/organizations?limit&offset&include_members_count=true&order_by=created_at`:
/// `{data, total_count}`, oldest first.
///
/// # Errors
/// [`ApiError::Request`] for an invalid `api_url`.
pub fn list_organizations_request(
    api_url: &str,
    secret_key: &SecretKey,
    page: PageParams,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let path = format!(
        "/v1/organizations?limit={}&offset={}&include_members_count=true&order_by=created_at",
        page.limit, page.offset
    );
    get(Endpoint::ListOrganizations, api_url, secret_key, &path)
}

/// `GET {api_url}/v1/organizations/{organization_id}/memberships?limit&offset&order_by=created_at`:
/// `{data, total_count}`, oldest first.
///
/// # Errors
/// [`ApiError::Request`] for an empty id or an invalid `api_url`.
pub fn list_memberships_request(
    api_url: &str,
    secret_key: &SecretKey,
    organization_id: &str,
    page: PageParams,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::ListMemberships;
    let mut path = id_path(
        endpoint,
        "/v1/organizations/",
        organization_id,
        "/memberships",
    )?;
    let _ = write!(
        path,
        "?limit={}&offset={}&order_by=created_at",
        page.limit, page.offset
    );
    get(endpoint, api_url, secret_key, &path)
}

/// `GET {api_url}/v1/organization_invitations?limit&offset&order_by=created_at`: the
/// invitations of every organization of the instance, `{data, total_count}`, oldest first.
///
/// # Errors
/// [`ApiError::Request`] for an invalid `api_url`.
pub fn list_invitations_request(
    api_url: &str,
    secret_key: &SecretKey,
    page: PageParams,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let path = format!(
        "/v1/organization_invitations?limit={}&offset={}&order_by=created_at",
        page.limit, page.offset
    );
    get(Endpoint::ListInvitations, api_url, secret_key, &path)
}

/// `GET {api_url}/v1/organizations/{organization_id}/invitations?limit&offset&order_by=created_at`:
/// one organization's invitations, `{data, total_count}`, oldest first.
///
/// # Errors
/// [`ApiError::Request`] for an empty id or an invalid `api_url`.
pub fn list_organization_invitations_request(
    api_url: &str,
    secret_key: &SecretKey,
    organization_id: &str,
    page: PageParams,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::ListOrganizationInvitations;
    let mut path = id_path(
        endpoint,
        "/v1/organizations/",
        organization_id,
        "/invitations",
    )?;
    let _ = write!(
        path,
        "?limit={}&offset={}&order_by=created_at",
        page.limit, page.offset
    );
    get(endpoint, api_url, secret_key, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::new("sk_test_x")
    }

    #[test]
    fn limits_outside_1_to_500_are_refused_at_build_time() {
        assert_eq!(
            PageParams::new(501, 0),
            Err(ApiError::InvalidLimit { limit: 501 })
        );
        assert_eq!(
            PageParams::new(0, 0),
            Err(ApiError::InvalidLimit { limit: 0 })
        );
        assert!(PageParams::new(1, 0).is_ok());
        assert!(PageParams::new(500, u64::MAX).is_ok());
        let err = PageParams::new(501, 0).unwrap_err();
        assert!(err.to_string().contains("501"), "{err}");
    }

    #[test]
    fn every_request_carries_the_key_the_user_agent_and_no_double_slash() {
        let page = PageParams::new(500, 1500).unwrap();
        let requests = [
            get_user_request("https://api.clerk.com/", &key(), "user_1").unwrap(),
            list_users_request(
                "https://api.clerk.com/",
                &key(),
                page,
                UserOrder::CreatedAtAsc,
            )
            .unwrap(),
            count_users_request("https://api.clerk.com/", &key()).unwrap(),
            list_organizations_request("https://api.clerk.com/", &key(), page).unwrap(),
            list_memberships_request("https://api.clerk.com/", &key(), "org_1", page).unwrap(),
            list_invitations_request("https://api.clerk.com/", &key(), page).unwrap(),
            list_organization_invitations_request("https://api.clerk.com/", &key(), "org_1", page)
                .unwrap(),
        ];
        let uris: Vec<String> = requests.iter().map(|r| r.uri().to_string()).collect();
        assert_eq!(
            uris,
            [
                "https://api.clerk.com/v1/users/user_1",
                "https://api.clerk.com/v1/users?limit=500&offset=1500&order_by=created_at",
                "https://api.clerk.com/v1/users/count",
                "https://api.clerk.com/v1/organizations?limit=500&offset=1500&include_members_count=true&order_by=created_at",
                "https://api.clerk.com/v1/organizations/org_1/memberships?limit=500&offset=1500&order_by=created_at",
                "https://api.clerk.com/v1/organization_invitations?limit=500&offset=1500&order_by=created_at",
                "https://api.clerk.com/v1/organizations/org_1/invitations?limit=500&offset=1500&order_by=created_at",
            ]
        );
        for r in &requests {
            assert_eq!(r.method(), http::Method::GET);
            assert_eq!(r.headers()["authorization"], "Bearer sk_test_x");
            assert!(r.headers()["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("clerk-rs/"));
            assert!(r.body().is_empty());
        }
    }

    #[test]
    fn descending_order_and_escaped_ids() {
        let page = PageParams::first(10).unwrap();
        let r = list_users_request("http://h", &key(), page, UserOrder::CreatedAtDesc).unwrap();
        assert_eq!(
            r.uri(),
            "http://h/v1/users?limit=10&offset=0&order_by=-created_at"
        );
        let r = get_user_request("http://h", &key(), "user/../x?y").unwrap();
        assert_eq!(r.uri(), "http://h/v1/users/user%2F..%2Fx%3Fy");
        assert!(matches!(
            get_user_request("http://h", &key(), ""),
            Err(ApiError::Request {
                endpoint: Endpoint::GetUser,
                ..
            })
        ));
        assert!(matches!(
            count_users_request("not a url", &key()),
            Err(ApiError::Request { .. })
        ));
    }

    #[test]
    fn pages_advance_by_what_was_received() {
        let p = PageParams::new(500, 0).unwrap().advanced_by(500);
        assert_eq!((p.limit(), p.offset()), (500, 500));
        assert_eq!(PageParams::default().limit(), MAX_PAGE_LIMIT);
    }
}
