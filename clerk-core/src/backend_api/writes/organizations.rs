//! Organizations (create, update, delete) and memberships (create, update the role, delete).

use serde_json::{Map, Value};

use super::{check_id, check_object, check_text, path, request, PathPart};
use crate::backend_api::error::{ApiError, Endpoint};
use crate::backend_api::types::{ApiMembership, ApiOrganization};
use crate::secret::SecretKey;

/// The body of `POST /v1/organizations`.
///
/// ```
/// use clerk_core::backend_api::NewOrganization;
/// let org = NewOrganization::new("Acme").created_by("user_1").slug("acme");
/// assert_eq!(org.to_json()["created_by"], "user_1");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct NewOrganization {
    name: String,
    created_by: Option<String>,
    slug: Option<String>,
    max_allowed_memberships: Option<u32>,
    public_metadata: Option<Value>,
    private_metadata: Option<Value>,
}

impl NewOrganization {
    /// An organization named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        NewOrganization {
            name: name.into(),
            created_by: None,
            slug: None,
            max_allowed_memberships: None,
            public_metadata: None,
            private_metadata: None,
        }
    }

    /// `created_by`: the user who becomes its first `org:admin`.
    pub fn created_by(mut self, user_id: impl Into<String>) -> Self {
        self.created_by = Some(user_id.into());
        self
    }

    /// `slug` (Clerk derives one from the name when absent).
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }

    /// `max_allowed_memberships` (0: unlimited).
    pub fn max_allowed_memberships(mut self, max: u32) -> Self {
        self.max_allowed_memberships = Some(max);
        self
    }

    /// `public_metadata` (an object).
    pub fn public_metadata(mut self, metadata: Value) -> Self {
        self.public_metadata = Some(metadata);
        self
    }

    /// `private_metadata` (an object).
    pub fn private_metadata(mut self, metadata: Value) -> Self {
        self.private_metadata = Some(metadata);
        self
    }

    /// The JSON body.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("name".into(), Value::String(self.name.clone()));
        if let Some(v) = &self.created_by {
            body.insert("created_by".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.slug {
            body.insert("slug".into(), Value::String(v.clone()));
        }
        if let Some(v) = self.max_allowed_memberships {
            body.insert("max_allowed_memberships".into(), Value::from(v));
        }
        if let Some(v) = &self.public_metadata {
            body.insert("public_metadata".into(), v.clone());
        }
        if let Some(v) = &self.private_metadata {
            body.insert("private_metadata".into(), v.clone());
        }
        Value::Object(body)
    }

    fn validate(&self, endpoint: Endpoint) -> Result<(), ApiError> {
        check_text(endpoint, "name", &self.name)?;
        if let Some(user_id) = &self.created_by {
            check_id(endpoint, "created_by", user_id)?;
        }
        if let Some(slug) = &self.slug {
            check_slug(endpoint, slug)?;
        }
        check_metadata(endpoint, &self.public_metadata, &self.private_metadata)
    }
}

/// The body of `PATCH /v1/organizations/{organization_id}`: only the fields set are sent;
/// metadata set here replaces the stored object.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct OrganizationUpdate {
    name: Option<String>,
    slug: Option<String>,
    max_allowed_memberships: Option<u32>,
    admin_delete_enabled: Option<bool>,
    public_metadata: Option<Value>,
    private_metadata: Option<Value>,
}

impl OrganizationUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// `slug`.
    pub fn slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }

    /// `max_allowed_memberships`.
    pub fn max_allowed_memberships(mut self, max: u32) -> Self {
        self.max_allowed_memberships = Some(max);
        self
    }

    /// `admin_delete_enabled`.
    pub fn admin_delete_enabled(mut self, enabled: bool) -> Self {
        self.admin_delete_enabled = Some(enabled);
        self
    }

    /// `public_metadata` (an object), replacing the stored one.
    pub fn public_metadata(mut self, metadata: Value) -> Self {
        self.public_metadata = Some(metadata);
        self
    }

    /// `private_metadata` (an object), replacing the stored one.
    pub fn private_metadata(mut self, metadata: Value) -> Self {
        self.private_metadata = Some(metadata);
        self
    }

    /// The JSON body (only the fields set).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        if let Some(v) = &self.name {
            body.insert("name".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.slug {
            body.insert("slug".into(), Value::String(v.clone()));
        }
        if let Some(v) = self.max_allowed_memberships {
            body.insert("max_allowed_memberships".into(), Value::from(v));
        }
        if let Some(v) = self.admin_delete_enabled {
            body.insert("admin_delete_enabled".into(), Value::Bool(v));
        }
        if let Some(v) = &self.public_metadata {
            body.insert("public_metadata".into(), v.clone());
        }
        if let Some(v) = &self.private_metadata {
            body.insert("private_metadata".into(), v.clone());
        }
        Value::Object(body)
    }

    fn validate(&self, endpoint: Endpoint) -> Result<(), ApiError> {
        if *self == Self::default() {
            return Err(ApiError::InvalidParam {
                endpoint,
                param: "body",
                detail: "the update sets no field".to_owned(),
            });
        }
        if let Some(name) = &self.name {
            check_text(endpoint, "name", name)?;
        }
        if let Some(slug) = &self.slug {
            check_slug(endpoint, slug)?;
        }
        check_metadata(endpoint, &self.public_metadata, &self.private_metadata)
    }
}

fn check_metadata(
    endpoint: Endpoint,
    public: &Option<Value>,
    private: &Option<Value>,
) -> Result<(), ApiError> {
    if let Some(v) = public {
        check_object(endpoint, "public_metadata", v)?;
    }
    if let Some(v) = private {
        check_object(endpoint, "private_metadata", v)?;
    }
    Ok(())
}

/// A slug: non-empty, lowercase ASCII letters, digits, `-` and `_`.
fn check_slug(endpoint: Endpoint, slug: &str) -> Result<(), ApiError> {
    let ok = !slug.is_empty()
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidParam {
            endpoint,
            param: "slug",
            detail: "a slug has only lowercase ASCII letters, digits, `-` and `_`".to_owned(),
        })
    }
}

fn org_path(
    endpoint: Endpoint,
    organization_id: &str,
    rest: &[PathPart<'_>],
) -> Result<String, ApiError> {
    let mut parts = vec![
        PathPart::Lit("/v1/organizations/"),
        PathPart::Id("organization_id", organization_id),
    ];
    parts.extend_from_slice(rest);
    path(endpoint, &parts)
}

/// `POST {api_url}/v1/organizations`. **Not idempotent**
/// ([`RetryClass::CreateOnce`](super::RetryClass::CreateOnce)): a repeat creates a second
/// organization.
///
/// # Errors
/// [`ApiError::InvalidParam`] for an empty name, a bad `created_by`, slug or metadata.
pub fn create_organization_request(
    api_url: &str,
    secret_key: &SecretKey,
    organization: &NewOrganization,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::CreateOrganization;
    organization.validate(endpoint)?;
    request(
        http::Method::POST,
        endpoint,
        api_url,
        secret_key,
        "/v1/organizations",
        Some(&organization.to_json()),
    )
}

/// `PATCH {api_url}/v1/organizations/{organization_id}`. Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id or an empty or invalid update.
pub fn update_organization_request(
    api_url: &str,
    secret_key: &SecretKey,
    organization_id: &str,
    update: &OrganizationUpdate,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::UpdateOrganization;
    let path = org_path(endpoint, organization_id, &[])?;
    update.validate(endpoint)?;
    request(
        http::Method::PATCH,
        endpoint,
        api_url,
        secret_key,
        &path,
        Some(&update.to_json()),
    )
}

/// `DELETE {api_url}/v1/organizations/{organization_id}`: a
/// [`DeletedObject`](super::DeletedObject). Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn delete_organization_request(
    api_url: &str,
    secret_key: &SecretKey,
    organization_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::DeleteOrganization;
    let path = org_path(endpoint, organization_id, &[])?;
    request(
        http::Method::DELETE,
        endpoint,
        api_url,
        secret_key,
        &path,
        None,
    )
}

/// `POST {api_url}/v1/organizations/{organization_id}/memberships` with `{user_id, role}`.
/// **Not idempotent** ([`RetryClass::CreateOnce`](super::RetryClass::CreateOnce)): Clerk
/// answers a repeat with a 422 (already a member) that would hide the first success.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id or an empty role.
pub fn create_membership_request(
    api_url: &str,
    secret_key: &SecretKey,
    organization_id: &str,
    user_id: &str,
    role: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::CreateMembership;
    let path = org_path(endpoint, organization_id, &[PathPart::Lit("/memberships")])?;
    check_id(endpoint, "user_id", user_id)?;
    check_text(endpoint, "role", role)?;
    let body = serde_json::json!({"user_id": user_id, "role": role});
    request(
        http::Method::POST,
        endpoint,
        api_url,
        secret_key,
        &path,
        Some(&body),
    )
}

/// `PATCH {api_url}/v1/organizations/{organization_id}/memberships/{user_id}` with
/// `{role}`. Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id or an empty role.
pub fn update_membership_request(
    api_url: &str,
    secret_key: &SecretKey,
    organization_id: &str,
    user_id: &str,
    role: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::UpdateMembership;
    let path = org_path(
        endpoint,
        organization_id,
        &[
            PathPart::Lit("/memberships/"),
            PathPart::Id("user_id", user_id),
        ],
    )?;
    check_text(endpoint, "role", role)?;
    let body = serde_json::json!({"role": role});
    request(
        http::Method::PATCH,
        endpoint,
        api_url,
        secret_key,
        &path,
        Some(&body),
    )
}

/// `DELETE {api_url}/v1/organizations/{organization_id}/memberships/{user_id}`: answers the
/// removed membership. Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn delete_membership_request(
    api_url: &str,
    secret_key: &SecretKey,
    organization_id: &str,
    user_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::DeleteMembership;
    let path = org_path(
        endpoint,
        organization_id,
        &[
            PathPart::Lit("/memberships/"),
            PathPart::Id("user_id", user_id),
        ],
    )?;
    request(
        http::Method::DELETE,
        endpoint,
        api_url,
        secret_key,
        &path,
        None,
    )
}

/// Parses an organization write's answer: the organization.
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for another shape.
pub fn parse_organization_response(
    endpoint: Endpoint,
    response: &http::Response<Vec<u8>>,
) -> Result<ApiOrganization, ApiError> {
    crate::backend_api::response::parse_json(endpoint, "organization object", response)
}

/// Parses a membership write's answer (create, update, delete): the membership.
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for another shape.
pub fn parse_membership_response(
    endpoint: Endpoint,
    response: &http::Response<Vec<u8>>,
) -> Result<ApiMembership, ApiError> {
    crate::backend_api::response::parse_json(endpoint, "organization membership object", response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SecretKey {
        SecretKey::new("sk_test_x")
    }

    fn body(r: &http::Request<Vec<u8>>) -> Value {
        serde_json::from_slice(r.body()).unwrap()
    }

    #[test]
    fn organization_writes_have_clerk_s_paths_and_bodies() {
        let org = NewOrganization::new("Acme")
            .created_by("user_1")
            .slug("acme")
            .max_allowed_memberships(5)
            .public_metadata(json!({"tier": 1}));
        let r = create_organization_request("http://h", &key(), &org).unwrap();
        assert_eq!(
            (r.method().as_str(), r.uri().path()),
            ("POST", "/v1/organizations")
        );
        assert_eq!(
            body(&r),
            json!({"name": "Acme", "created_by": "user_1", "slug": "acme",
                   "max_allowed_memberships": 5, "public_metadata": {"tier": 1}})
        );
        let up = OrganizationUpdate::new()
            .name("Acme 2")
            .admin_delete_enabled(false);
        let r = update_organization_request("http://h", &key(), "org_1", &up).unwrap();
        assert_eq!(
            (r.method().as_str(), r.uri().path()),
            ("PATCH", "/v1/organizations/org_1")
        );
        assert_eq!(
            body(&r),
            json!({"name": "Acme 2", "admin_delete_enabled": false})
        );
        let r = delete_organization_request("http://h", &key(), "org_1").unwrap();
        assert_eq!(
            (r.method().as_str(), r.uri().path()),
            ("DELETE", "/v1/organizations/org_1")
        );
        assert!(r.body().is_empty());
    }

    #[test]
    fn membership_writes_have_clerk_s_paths_and_bodies() {
        let r =
            create_membership_request("http://h", &key(), "org_1", "user_1", "org:admin").unwrap();
        assert_eq!(
            (r.method().as_str(), r.uri().path()),
            ("POST", "/v1/organizations/org_1/memberships")
        );
        assert_eq!(body(&r), json!({"user_id": "user_1", "role": "org:admin"}));
        let r =
            update_membership_request("http://h", &key(), "org_1", "user_1", "org:member").unwrap();
        assert_eq!(
            (r.method().as_str(), r.uri().path()),
            ("PATCH", "/v1/organizations/org_1/memberships/user_1")
        );
        assert_eq!(body(&r), json!({"role": "org:member"}));
        let r = delete_membership_request("http://h", &key(), "org_1", "user_1").unwrap();
        assert_eq!(
            (r.method().as_str(), r.uri().path()),
            ("DELETE", "/v1/organizations/org_1/memberships/user_1")
        );
    }

    #[test]
    fn invalid_inputs_are_refused_before_sending() {
        let p = |r: Result<http::Request<Vec<u8>>, ApiError>| match r {
            Err(ApiError::InvalidParam { param, .. }) => param,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            p(create_organization_request(
                "http://h",
                &key(),
                &NewOrganization::new(" ")
            )),
            "name"
        );
        assert_eq!(
            p(create_organization_request(
                "http://h",
                &key(),
                &NewOrganization::new("A").created_by("u/1")
            )),
            "created_by"
        );
        assert_eq!(
            p(create_organization_request(
                "http://h",
                &key(),
                &NewOrganization::new("A").slug("Not A Slug")
            )),
            "slug"
        );
        assert_eq!(
            p(create_organization_request(
                "http://h",
                &key(),
                &NewOrganization::new("A").private_metadata(json!(1))
            )),
            "private_metadata"
        );
        assert_eq!(
            p(update_organization_request(
                "http://h",
                &key(),
                "org_1",
                &OrganizationUpdate::new()
            )),
            "body"
        );
        assert_eq!(
            p(update_organization_request(
                "http://h",
                &key(),
                "",
                &OrganizationUpdate::new().name("x")
            )),
            "organization_id"
        );
        assert_eq!(
            p(create_membership_request(
                "http://h",
                &key(),
                "org_1",
                "user_1",
                ""
            )),
            "role"
        );
        assert_eq!(
            p(update_membership_request(
                "http://h",
                &key(),
                "org_1",
                "..",
                "x"
            )),
            "user_id"
        );
        assert_eq!(
            p(delete_membership_request(
                "http://h",
                &key(),
                "org/1",
                "user_1"
            )),
            "organization_id"
        );
    }

    #[test]
    fn organizations_and_memberships_parse() {
        let resp = |b: &str| {
            http::Response::builder()
                .status(200)
                .body(b.as_bytes().to_vec())
                .unwrap()
        };
        let org = parse_organization_response(
            Endpoint::CreateOrganization,
            &resp(r#"{"object":"organization","id":"org_1","name":"Acme","slug":"acme","created_at":1,"updated_at":1,"x":1}"#),
        )
        .unwrap();
        assert_eq!(org.slug.as_deref(), Some("acme"));
        let m = parse_membership_response(
            Endpoint::UpdateMembership,
            &resp(r#"{"id":"orgmem_1","role":"org:member","organization":{"id":"org_1"},"public_user_data":{"user_id":"user_1"}}"#),
        )
        .unwrap();
        assert_eq!(m.role, "org:member");
        assert!(matches!(
            parse_membership_response(Endpoint::UpdateMembership, &resp("{}")),
            Err(ApiError::Malformed { .. })
        ));
    }
}
