//! User writes: update, metadata (deep merge), ban/unban, lock/unlock, delete.

use serde_json::{Map, Value};

use super::{check_id, check_object, check_text, path, request, PathPart};
use crate::backend_api::error::{ApiError, Endpoint};
use crate::backend_api::types::ApiUser;
use crate::secret::SecretKey;

/// The common fields of `PATCH /v1/users/{user_id}`; only the fields set are sent (Clerk
/// leaves the others as they are). Metadata set here **replaces** the stored object; use
/// [`MetadataPatch`] to merge.
///
/// ```
/// use clerk_core::backend_api::UserUpdate;
/// let update = UserUpdate::new().first_name("Ada").external_id("emp-7");
/// assert_eq!(update.to_json()["first_name"], "Ada");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct UserUpdate {
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    external_id: Option<String>,
    primary_email_address_id: Option<String>,
    public_metadata: Option<Value>,
    private_metadata: Option<Value>,
    unsafe_metadata: Option<Value>,
    delete_self_enabled: Option<bool>,
    create_organization_enabled: Option<bool>,
}

macro_rules! setters {
    ($( $(#[$doc:meta])* $name:ident: $ty:ty => $conv:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: impl Into<$ty>) -> Self {
                let value: $ty = value.into();
                self.$name = Some($conv(value));
                self
            }
        )*
    };
}

impl UserUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    setters! {
        /// `first_name`.
        first_name: String => std::convert::identity;
        /// `last_name`.
        last_name: String => std::convert::identity;
        /// `username`.
        username: String => std::convert::identity;
        /// `external_id`: the application's own id for the user.
        external_id: String => std::convert::identity;
        /// `primary_email_address_id` (an `idn_…` of the user's addresses).
        primary_email_address_id: String => std::convert::identity;
        /// `public_metadata`, replacing the stored object.
        public_metadata: Value => std::convert::identity;
        /// `private_metadata`, replacing the stored object.
        private_metadata: Value => std::convert::identity;
        /// `unsafe_metadata`, replacing the stored object.
        unsafe_metadata: Value => std::convert::identity;
        /// `delete_self_enabled`.
        delete_self_enabled: bool => std::convert::identity;
        /// `create_organization_enabled`.
        create_organization_enabled: bool => std::convert::identity;
    }

    /// Whether nothing is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The JSON body (only the fields set).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                body.insert(k.to_owned(), v);
            }
        };
        put("first_name", self.first_name.clone().map(Value::String));
        put("last_name", self.last_name.clone().map(Value::String));
        put("username", self.username.clone().map(Value::String));
        put("external_id", self.external_id.clone().map(Value::String));
        put(
            "primary_email_address_id",
            self.primary_email_address_id.clone().map(Value::String),
        );
        put("public_metadata", self.public_metadata.clone());
        put("private_metadata", self.private_metadata.clone());
        put("unsafe_metadata", self.unsafe_metadata.clone());
        put(
            "delete_self_enabled",
            self.delete_self_enabled.map(Value::Bool),
        );
        put(
            "create_organization_enabled",
            self.create_organization_enabled.map(Value::Bool),
        );
        Value::Object(body)
    }

    fn validate(&self, endpoint: Endpoint) -> Result<(), ApiError> {
        if self.is_empty() {
            return Err(ApiError::InvalidParam {
                endpoint,
                param: "body",
                detail: "the update sets no field".to_owned(),
            });
        }
        if let Some(id) = &self.primary_email_address_id {
            check_id(endpoint, "primary_email_address_id", id)?;
        }
        if let Some(name) = &self.username {
            check_text(endpoint, "username", name)?;
        }
        for (param, value) in [
            ("public_metadata", &self.public_metadata),
            ("private_metadata", &self.private_metadata),
            ("unsafe_metadata", &self.unsafe_metadata),
        ] {
            if let Some(value) = value {
                check_object(endpoint, param, value)?;
            }
        }
        Ok(())
    }
}

/// The body of `PATCH /v1/users/{user_id}/metadata`: each object given is **deep-merged**
/// into the stored one, as Clerk documents ([`merge_metadata`]): nested objects merge, a key
/// set to `null` is removed, any other value replaces. An object left out is untouched.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct MetadataPatch {
    /// Merged into `public_metadata`.
    pub public_metadata: Option<Value>,
    /// Merged into `private_metadata`.
    pub private_metadata: Option<Value>,
    /// Merged into `unsafe_metadata`.
    pub unsafe_metadata: Option<Value>,
}

impl MetadataPatch {
    /// A patch that merges nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges `value` (an object) into `public_metadata`.
    pub fn public(mut self, value: Value) -> Self {
        self.public_metadata = Some(value);
        self
    }

    /// Merges `value` (an object) into `private_metadata`.
    pub fn private(mut self, value: Value) -> Self {
        self.private_metadata = Some(value);
        self
    }

    /// Merges `value` (an object) into `unsafe_metadata`.
    pub fn unsafe_(mut self, value: Value) -> Self {
        self.unsafe_metadata = Some(value);
        self
    }

    /// The JSON body.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        for (k, v) in [
            ("public_metadata", &self.public_metadata),
            ("private_metadata", &self.private_metadata),
            ("unsafe_metadata", &self.unsafe_metadata),
        ] {
            if let Some(v) = v {
                body.insert(k.to_owned(), v.clone());
            }
        }
        Value::Object(body)
    }
}

/// Clerk's deep merge of a metadata `patch` into `target`: for each key of `patch`, `null`
/// removes the key, an object merged into an object recurses, anything else replaces. A
/// `target` that is not an object becomes one. Pure.
///
/// ```
/// use serde_json::json;
/// let mut stored = json!({"plan": "free", "prefs": {"theme": "dark", "lang": "en"}, "old": 1});
/// clerk_core::backend_api::merge_metadata(
///     &mut stored,
///     &json!({"plan": "pro", "prefs": {"lang": "fr"}, "old": null}),
/// );
/// assert_eq!(stored, json!({"plan": "pro", "prefs": {"theme": "dark", "lang": "fr"}}));
/// ```
pub fn merge_metadata(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        return;
    };
    for (key, value) in patch {
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Object(_) => {
                let slot = map
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                merge_metadata(slot, value);
            }
            other => {
                map.insert(key.clone(), other.clone());
            }
        }
    }
}

fn user_path(endpoint: Endpoint, user_id: &str, suffix: &str) -> Result<String, ApiError> {
    path(
        endpoint,
        &[
            PathPart::Lit("/v1/users/"),
            PathPart::Id("user_id", user_id),
            PathPart::Lit(suffix),
        ],
    )
}

/// `PATCH {api_url}/v1/users/{user_id}` with the fields of `update`. Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id, an empty update or metadata that is not an
/// object; [`ApiError::Request`] for an invalid `api_url`.
pub fn update_user_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
    update: &UserUpdate,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::UpdateUser;
    let path = user_path(endpoint, user_id, "")?;
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

/// `PATCH {api_url}/v1/users/{user_id}/metadata`: deep-merges `patch` (see
/// [`merge_metadata`]). Idempotent: merging the same patch twice gives the same metadata.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id, an empty patch or a value that is not an object.
pub fn update_user_metadata_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
    patch: &MetadataPatch,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let endpoint = Endpoint::UpdateUserMetadata;
    let path = user_path(endpoint, user_id, "/metadata")?;
    if *patch == MetadataPatch::default() {
        return Err(ApiError::InvalidParam {
            endpoint,
            param: "body",
            detail: "the patch sets no metadata".to_owned(),
        });
    }
    for (param, value) in [
        ("public_metadata", &patch.public_metadata),
        ("private_metadata", &patch.private_metadata),
        ("unsafe_metadata", &patch.unsafe_metadata),
    ] {
        if let Some(value) = value {
            check_object(endpoint, param, value)?;
        }
    }
    request(
        http::Method::PATCH,
        endpoint,
        api_url,
        secret_key,
        &path,
        Some(&patch.to_json()),
    )
}

fn user_action(
    endpoint: Endpoint,
    method: http::Method,
    suffix: &str,
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let path = user_path(endpoint, user_id, suffix)?;
    request(method, endpoint, api_url, secret_key, &path, None)
}

/// `POST {api_url}/v1/users/{user_id}/ban`: Clerk revokes the user's sessions and refuses
/// their sign-ins. Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn ban_user_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    user_action(
        Endpoint::BanUser,
        http::Method::POST,
        "/ban",
        api_url,
        secret_key,
        user_id,
    )
}

/// `POST {api_url}/v1/users/{user_id}/unban`. Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn unban_user_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    user_action(
        Endpoint::UnbanUser,
        http::Method::POST,
        "/unban",
        api_url,
        secret_key,
        user_id,
    )
}

/// `POST {api_url}/v1/users/{user_id}/lock`. Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn lock_user_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    user_action(
        Endpoint::LockUser,
        http::Method::POST,
        "/lock",
        api_url,
        secret_key,
        user_id,
    )
}

/// `POST {api_url}/v1/users/{user_id}/unlock`. Idempotent.
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn unlock_user_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    user_action(
        Endpoint::UnlockUser,
        http::Method::POST,
        "/unlock",
        api_url,
        secret_key,
        user_id,
    )
}

/// `DELETE {api_url}/v1/users/{user_id}`: answers a
/// [`DeletedObject`](super::DeletedObject). Idempotent (a repeat gets a 404, which the
/// caller reports: the user is gone either way).
///
/// # Errors
/// [`ApiError::InvalidParam`] for a bad id.
pub fn delete_user_request(
    api_url: &str,
    secret_key: &SecretKey,
    user_id: &str,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    user_action(
        Endpoint::DeleteUser,
        http::Method::DELETE,
        "",
        api_url,
        secret_key,
        user_id,
    )
}

/// Parses the answer of a user write (update, metadata, ban/unban, lock/unlock): the user.
///
/// # Errors
/// The status classes of [`ApiError`] (404 for an unknown user, 422 for invalid
/// parameters); [`ApiError::Malformed`] for a body that is not a user.
pub fn parse_user_write(
    endpoint: Endpoint,
    response: &http::Response<Vec<u8>>,
) -> Result<ApiUser, ApiError> {
    crate::backend_api::response::parse_json(endpoint, "user object", response)
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
    fn updates_send_only_the_fields_set() {
        let update = UserUpdate::new()
            .first_name("Ada")
            .external_id("emp-7")
            .public_metadata(json!({"plan": "pro"}))
            .delete_self_enabled(false);
        let r = update_user_request("https://api.clerk.com/", &key(), "user_1", &update).unwrap();
        assert_eq!(r.method(), http::Method::PATCH);
        assert_eq!(r.uri(), "https://api.clerk.com/v1/users/user_1");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["authorization"], "Bearer sk_test_x");
        assert_eq!(
            body(&r),
            json!({"first_name": "Ada", "external_id": "emp-7",
                   "public_metadata": {"plan": "pro"}, "delete_self_enabled": false})
        );
    }

    #[test]
    fn bad_updates_are_refused_before_sending() {
        let e = |u: &UserUpdate, id: &str| update_user_request("http://h", &key(), id, u);
        assert!(matches!(
            e(&UserUpdate::new(), "user_1"),
            Err(ApiError::InvalidParam { param: "body", .. })
        ));
        assert!(matches!(
            e(&UserUpdate::new().first_name("A"), ""),
            Err(ApiError::InvalidParam {
                param: "user_id",
                ..
            })
        ));
        assert!(matches!(
            e(&UserUpdate::new().public_metadata(json!([1])), "user_1"),
            Err(ApiError::InvalidParam {
                param: "public_metadata",
                ..
            })
        ));
        assert!(matches!(
            e(&UserUpdate::new().username(" "), "user_1"),
            Err(ApiError::InvalidParam {
                param: "username",
                ..
            })
        ));
        assert!(matches!(
            e(
                &UserUpdate::new().primary_email_address_id("idn/x"),
                "user_1"
            ),
            Err(ApiError::InvalidParam { .. })
        ));
    }

    #[test]
    fn metadata_patches_go_to_the_metadata_path() {
        let patch = MetadataPatch::new()
            .public(json!({"a": null}))
            .private(json!({"b": {"c": 1}}));
        let r = update_user_metadata_request("http://h", &key(), "user_1", &patch).unwrap();
        assert_eq!(r.method(), http::Method::PATCH);
        assert_eq!(r.uri(), "http://h/v1/users/user_1/metadata");
        assert_eq!(
            body(&r),
            json!({"public_metadata": {"a": null}, "private_metadata": {"b": {"c": 1}}})
        );
        assert!(
            update_user_metadata_request("http://h", &key(), "user_1", &MetadataPatch::new())
                .is_err()
        );
        assert!(update_user_metadata_request(
            "http://h",
            &key(),
            "user_1",
            &MetadataPatch::new().unsafe_(json!("x"))
        )
        .is_err());
    }

    #[test]
    fn actions_are_bodiless_posts_and_delete_is_a_delete() {
        let cases = [
            (
                ban_user_request("http://h", &key(), "user_1").unwrap(),
                "POST",
                "/v1/users/user_1/ban",
            ),
            (
                unban_user_request("http://h", &key(), "user_1").unwrap(),
                "POST",
                "/v1/users/user_1/unban",
            ),
            (
                lock_user_request("http://h", &key(), "user_1").unwrap(),
                "POST",
                "/v1/users/user_1/lock",
            ),
            (
                unlock_user_request("http://h", &key(), "user_1").unwrap(),
                "POST",
                "/v1/users/user_1/unlock",
            ),
            (
                delete_user_request("http://h", &key(), "user_1").unwrap(),
                "DELETE",
                "/v1/users/user_1",
            ),
        ];
        for (r, method, path) in cases {
            assert_eq!(r.method().as_str(), method);
            assert_eq!(r.uri().path(), path);
            assert!(r.body().is_empty());
            assert!(r.headers().get("content-type").is_none());
        }
        assert!(ban_user_request("http://h", &key(), "../users").is_err());
        assert!(delete_user_request("http://h", &key(), "user_1/ban").is_err());
    }

    #[test]
    fn merging_is_deep_and_null_removes() {
        let mut stored = json!({"a": {"b": 1, "c": {"d": 2}}, "e": [1, 2], "f": "x"});
        merge_metadata(
            &mut stored,
            &json!({"a": {"c": {"d": null, "g": 3}}, "e": [3], "f": null, "h": {"i": true}}),
        );
        assert_eq!(
            stored,
            json!({"a": {"b": 1, "c": {"g": 3}}, "e": [3], "h": {"i": true}})
        );
        // An object replaces a scalar; a scalar replaces an object.
        let mut stored = json!({"a": 1, "b": {"c": 1}});
        merge_metadata(&mut stored, &json!({"a": {"x": 1}, "b": 2}));
        assert_eq!(stored, json!({"a": {"x": 1}, "b": 2}));
        // Merging twice is merging once.
        let patch = json!({"a": {"y": 2}});
        merge_metadata(&mut stored, &patch);
        let once = stored.clone();
        merge_metadata(&mut stored, &patch);
        assert_eq!(stored, once);
        let mut null = Value::Null;
        merge_metadata(&mut null, &json!({"k": 1}));
        assert_eq!(null, json!({"k": 1}));
    }

    #[test]
    fn user_writes_parse_users_and_errors() {
        let ok = http::Response::builder()
            .status(200)
            .body(br#"{"id":"user_1","banned":true,"locked":false,"new":1}"#.to_vec())
            .unwrap();
        let user = parse_user_write(Endpoint::BanUser, &ok).unwrap();
        assert!(user.banned);
        let missing = http::Response::builder()
            .status(404)
            .body(br#"{"errors":[{"code":"resource_not_found","message":"not found"}]}"#.to_vec())
            .unwrap();
        let err = parse_user_write(Endpoint::LockUser, &missing).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("POST /v1/users/{user_id}/lock: not found"),
            "{err}"
        );
    }
}
