//! Application invitations (`/v1/invitations`, `"object": "invitation"`): create, revoke,
//! list. Not organization invitations (those are [`ApiInvitation`](crate::backend_api::ApiInvitation)).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::sessions::PageOrArray;
use super::{check_id, check_object, check_text, path, request, PathPart};
use crate::backend_api::error::{ApiError, Endpoint};
use crate::backend_api::request::PageParams;
use crate::backend_api::types::Page;
use crate::model::InvitationStatus;
use crate::secret::SecretKey;
use crate::time::UnixTime;

/// An application invitation as Clerk answers it; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiAppInvitation {
    /// Clerk id (`inv_…`).
    pub id: String,
    /// The invited address.
    #[serde(default)]
    pub email_address: String,
    /// `public_metadata` the user gets on sign-up (`null` reads as `{}`).
    #[serde(default, deserialize_with = "object_or_empty")]
    pub public_metadata: Value,
    /// `pending`, `accepted`, `revoked`, `expired`.
    #[serde(default = "pending")]
    pub status: InvitationStatus,
    /// The invitation link, when Clerk sends one.
    #[serde(default)]
    pub url: Option<String>,
    /// When it expires.
    #[serde(default)]
    pub expires_at: Option<UnixTime>,
    /// Creation time.
    #[serde(default)]
    pub created_at: UnixTime,
    /// Last update.
    #[serde(default)]
    pub updated_at: UnixTime,
}

fn pending() -> InvitationStatus {
    InvitationStatus::Pending
}

fn object_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .filter(|v| !v.is_null())
        .unwrap_or_else(|| Value::Object(Map::new())))
}

/// The body of `POST /v1/invitations`. The email address is checked at build time (one `@`,
/// a non-empty local part, a dotted domain, no spaces or control characters).
///
/// ```
/// use clerk_core::backend_api::NewInvitation;
/// let invitation = NewInvitation::new("ada@example.com")
///     .redirect_url("https://app.example.com/welcome")
///     .expires_in_days(7)
///     .notify(false);
/// assert_eq!(invitation.to_json()["expires_in_days"], 7);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct NewInvitation {
    email_address: String,
    redirect_url: Option<String>,
    public_metadata: Option<Value>,
    notify: Option<bool>,
    ignore_existing: Option<bool>,
    expires_in_days: Option<u32>,
}

impl NewInvitation {
    /// An invitation of `email_address`, with Clerk's defaults for the rest (an email is
    /// sent; an existing invitation or user is an error; 30 days).
    pub fn new(email_address: impl Into<String>) -> Self {
        NewInvitation {
            email_address: email_address.into(),
            redirect_url: None,
            public_metadata: None,
            notify: None,
            ignore_existing: None,
            expires_in_days: None,
        }
    }

    /// `redirect_url`: where the invitation link leads (a full URL or a path).
    pub fn redirect_url(mut self, url: impl Into<String>) -> Self {
        self.redirect_url = Some(url.into());
        self
    }

    /// `public_metadata` (an object) the user gets on sign-up.
    pub fn public_metadata(mut self, metadata: Value) -> Self {
        self.public_metadata = Some(metadata);
        self
    }

    /// `notify`: whether Clerk emails the invitation (default `true`).
    pub fn notify(mut self, notify: bool) -> Self {
        self.notify = Some(notify);
        self
    }

    /// `ignore_existing`: create it even when the address is already invited or a user.
    pub fn ignore_existing(mut self, ignore: bool) -> Self {
        self.ignore_existing = Some(ignore);
        self
    }

    /// `expires_in_days` (at least 1).
    pub fn expires_in_days(mut self, days: u32) -> Self {
        self.expires_in_days = Some(days);
        self
    }

    /// The invited address.
    #[must_use]
    pub fn email_address(&self) -> &str {
        &self.email_address
    }

    /// The JSON body.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert(
            "email_address".into(),
            Value::String(self.email_address.clone()),
        );
        if let Some(url) = &self.redirect_url {
            body.insert("redirect_url".into(), Value::String(url.clone()));
        }
        if let Some(metadata) = &self.public_metadata {
            body.insert("public_metadata".into(), metadata.clone());
        }
        if let Some(notify) = self.notify {
            body.insert("notify".into(), Value::Bool(notify));
        }
        if let Some(ignore) = self.ignore_existing {
            body.insert("ignore_existing".into(), Value::Bool(ignore));
        }
        if let Some(days) = self.expires_in_days {
            body.insert("expires_in_days".into(), Value::from(days));
        }
        Value::Object(body)
    }

    fn validate(&self, endpoint: Endpoint) -> Result<(), ApiError> {
        if !is_email_address(&self.email_address) {
            return Err(ApiError::InvalidParam {
                endpoint,
                param: "email_address",
                detail: "not an email address (one `@`, a local part, a dotted domain)".to_owned(),
            });
        }
        if let Some(url) = &self.redirect_url {
            check_text(endpoint, "redirect_url", url)?;
            if url.chars().any(char::is_whitespace) {
                return Err(ApiError::InvalidParam {
                    endpoint,
                    param: "redirect_url",
                    detail: "a URL has no whitespace".to_owned(),
                });
            }
        }
        if let Some(metadata) = &self.public_metadata {
            check_object(endpoint, "public_metadata", metadata)?;
        }
        if self.expires_in_days == Some(0) {
            return Err(ApiError::InvalidParam {
                endpoint,
                param: "expires_in_days",
                detail: "must be at least 1".to_owned(),
            });
        }
        Ok(())
    }
}

/// Whether `s` looks like an email address: one `@`, a non-empty local part, a domain with a
/// dot inside, at most 254 bytes, no whitespace or control characters. Pure.
#[must_use]
pub(crate) fn is_email_address(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// `POST {api_url}/v1/invitations`: creates an invitation (and by default emails it).
/// **Not idempotent** ([`RetryClass::CreateOnce`](super::RetryClass::CreateOnce)): a repeat
/// would send a second email, or fail as a duplicate.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad address, redirect URL, metadata or expiry.
pub fn create_invitation_request(
    api_url: &str,
    secret_key: &SecretKey,
    invitation: &NewInvitation,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::CreateInvitation;
    invitation.validate(endpoint)?;
    request(
        http::Method::POST,
        endpoint,
        api_url,
        secret_key,
        "/v1/invitations",
        Some(&invitation.to_json()),
    )
}

/// `POST {api_url}/v1/invitations/{invitation_id}/revoke`: answers the invitation, revoked.
/// Idempotent in effect: a revoked invitation stays revoked (a repeat changes nothing, though
/// Clerk may refuse it with a 4xx, which the caller reports).
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn revoke_invitation_request(
    api_url: &str,
    secret_key: &SecretKey,
    invitation_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::RevokeInvitation;
    let path = path(
        endpoint,
        &[
            PathPart::Lit("/v1/invitations/"),
            PathPart::Id("invitation_id", invitation_id),
            PathPart::Lit("/revoke"),
        ],
    )?;
    request(
        http::Method::POST,
        endpoint,
        api_url,
        secret_key,
        &path,
        None,
    )
}

/// `GET {api_url}/v1/invitations?limit&offset[&status]&paginated=true`: one page,
/// `{data, total_count}`. Idempotent.
///
/// # Errors
/// [`ApiError::Request`] for an invalid `api_url`.
pub fn list_app_invitations_request(
    api_url: &str,
    secret_key: &SecretKey,
    status: Option<&InvitationStatus>,
    page: PageParams,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::ListAppInvitations;
    let mut pq = format!(
        "/v1/invitations?limit={}&offset={}",
        page.limit(),
        page.offset()
    );
    if let Some(status) = status {
        check_id(endpoint, "status", status.as_str())?;
        let _ = write!(pq, "&status={}", status.as_str());
    }
    pq.push_str("&paginated=true");
    request(http::Method::GET, endpoint, api_url, secret_key, &pq, None)
}

/// Parses the answer of a create or a revoke: the invitation.
///
/// # Errors
/// The status classes of [`ApiError`] (422 for an invalid or duplicate address, 404 for an
/// unknown id); [`ApiError::Malformed`] for a body that is not an invitation.
pub fn parse_app_invitation_response(
    endpoint: Endpoint,
    response: &http::Response<Vec<u8>>,
) -> Result<ApiAppInvitation, ApiError> {
    crate::backend_api::response::parse_json(endpoint, "invitation object", response)
}

/// Parses `GET /v1/invitations`: `{data, total_count}`, or a bare array.
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for another shape.
pub fn parse_app_invitations_page(
    response: &http::Response<Vec<u8>>,
) -> Result<Page<ApiAppInvitation>, ApiError> {
    let page: PageOrArray<ApiAppInvitation> = crate::backend_api::response::parse_json(
        Endpoint::ListAppInvitations,
        "page of invitations ({\"data\": [...], \"total_count\": n})",
        response,
    )?;
    Ok(page.into_page())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SecretKey {
        SecretKey::new("sk_test_x")
    }

    #[test]
    fn a_create_sends_clerk_s_snake_case_body() {
        let inv = NewInvitation::new("ada@example.com")
            .redirect_url("https://app.example.com/welcome")
            .public_metadata(json!({"plan": "pro"}))
            .notify(false)
            .ignore_existing(true)
            .expires_in_days(7);
        let r = create_invitation_request("http://h", &key(), &inv).unwrap();
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(r.uri(), "http://h/v1/invitations");
        let body: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(
            body,
            json!({"email_address": "ada@example.com", "redirect_url": "https://app.example.com/welcome",
                   "public_metadata": {"plan": "pro"}, "notify": false, "ignore_existing": true,
                   "expires_in_days": 7})
        );
        let minimal =
            create_invitation_request("http://h", &key(), &NewInvitation::new("a@b.co")).unwrap();
        let body: Value = serde_json::from_slice(minimal.body()).unwrap();
        assert_eq!(body, json!({"email_address": "a@b.co"}));
    }

    #[test]
    fn bad_invitations_are_refused_and_the_error_hides_the_address() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@example.com",
            "ada@example..com",
            "ada@.example.com",
            "ada@example.com\n",
        ] {
            let err = create_invitation_request("http://h", &key(), &NewInvitation::new(bad))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    ApiError::InvalidParam {
                        param: "email_address",
                        ..
                    }
                ),
                "{bad:?}: {err:?}"
            );
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
        let ok = || NewInvitation::new("ada@example.com");
        for (inv, param) in [
            (ok().expires_in_days(0), "expires_in_days"),
            (ok().redirect_url("https://x y"), "redirect_url"),
            (ok().redirect_url(""), "redirect_url"),
            (ok().public_metadata(json!(null)), "public_metadata"),
        ] {
            let err = create_invitation_request("http://h", &key(), &inv).unwrap_err();
            assert!(
                matches!(err, ApiError::InvalidParam { param: p, .. } if p == param),
                "{err:?}"
            );
        }
    }

    #[test]
    fn revoke_and_list() {
        let r = revoke_invitation_request("http://h", &key(), "inv_1").unwrap();
        assert_eq!(
            (r.method().as_str(), r.uri().path()),
            ("POST", "/v1/invitations/inv_1/revoke")
        );
        assert!(revoke_invitation_request("http://h", &key(), "inv_1/x").is_err());
        let page = PageParams::new(50, 0).unwrap();
        let r = list_app_invitations_request(
            "http://h",
            &key(),
            Some(&InvitationStatus::Pending),
            page,
        )
        .unwrap();
        assert_eq!(
            r.uri(),
            "http://h/v1/invitations?limit=50&offset=0&status=pending&paginated=true"
        );
    }

    #[test]
    fn invitations_parse_tolerantly() {
        let one = r#"{"object":"invitation","id":"inv_1","email_address":"a@b.co","public_metadata":null,"revoked":false,"status":"pending","url":"https://x","expires_at":9,"created_at":1,"updated_at":2,"new":true}"#;
        let resp = |b: String| {
            http::Response::builder()
                .status(200)
                .body(b.into_bytes())
                .unwrap()
        };
        let inv = parse_app_invitation_response(Endpoint::CreateInvitation, &resp(one.to_owned()))
            .unwrap();
        assert_eq!(inv.public_metadata, json!({}));
        assert_eq!(inv.status, InvitationStatus::Pending);
        assert_eq!(inv.expires_at, Some(UnixTime::from_millis(9)));
        let page =
            parse_app_invitations_page(&resp(format!(r#"{{"data":[{one}],"total_count":1}}"#)))
                .unwrap();
        assert_eq!(page.data[0].id, "inv_1");
        let err = http::Response::builder()
            .status(422)
            .body(
                br#"{"errors":[{"code":"duplicate_record","message":"already invited"}]}"#.to_vec(),
            )
            .unwrap();
        let e = parse_app_invitation_response(Endpoint::CreateInvitation, &err).unwrap_err();
        assert_eq!(e.status(), Some(422));
        assert_eq!(e.clerk_body().unwrap().errors[0].code, "duplicate_record");
    }
}
