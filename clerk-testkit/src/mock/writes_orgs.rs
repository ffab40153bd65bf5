//! The Backend API's writes on organizations and memberships, with their webhooks:
//!
//! | route | answer | webhooks |
//! |-------|--------|----------|
//! | `POST /v1/organizations` | the organization (`name` required; `slug` derived from the name when absent, 422 `form_identifier_exists` when taken; `created_by` becomes its `org:admin`) | `organization.created`, then `organizationMembership.created` for the creator |
//! | `PATCH /v1/organizations/{organization_id}` | the organization (`name`, `slug`, `max_allowed_memberships`, `admin_delete_enabled`, metadata replaced) | `organization.updated` |
//! | `DELETE /v1/organizations/{organization_id}` | `{"object":"organization","id","slug","deleted":true}`; its memberships go too | `organization.deleted` |
//! | `POST /v1/organizations/{organization_id}/memberships` | the membership (`user_id`, `role` required; 422 `already_a_member_in_organization`) | `organizationMembership.created` |
//! | `PATCH /v1/organizations/{organization_id}/memberships/{user_id}` | the membership with its new `role` | `organizationMembership.updated` |
//! | `DELETE /v1/organizations/{organization_id}/memberships/{user_id}` | the removed membership | `organizationMembership.deleted` |

// The handlers' helpers fail with the response to send (an `axum` `Response`, 128 bytes): a
// test server's error path, where the size does not matter and boxing would only add noise.
#![allow(clippy::result_large_err)]
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{patch, post};
use axum::Router;
use clerk_core::backend_api::Endpoint;
use clerk_core::model::{ClerkMembershipData, ClerkOrganizationData};
use clerk_core::time::UnixTime;
use serde_json::{json, Value};

use super::backend::{json_bytes, membership_json, not_found, organization_json, serve};
use super::dataset::Dataset;
use super::state::MockState;
use super::writes::{
    body_object, emit_all, invalid, missing, now_ms, opt_bool, opt_object, opt_str, opt_u64,
    param_error,
};

/// The routes of this module.
pub(crate) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route("/v1/organizations", post(create_organization))
        .route(
            "/v1/organizations/{organization_id}",
            patch(update_organization).delete(delete_organization),
        )
        .route(
            "/v1/organizations/{organization_id}/memberships",
            post(create_membership),
        )
        .route(
            "/v1/organizations/{organization_id}/memberships/{user_id}",
            patch(update_membership).delete(delete_membership),
        )
}

/// The organization as Clerk serializes it, with what the writes hold beside it.
fn organization_value(dataset: &Dataset, org: &ClerkOrganizationData) -> Value {
    let count = dataset.members_count(&org.clerk_id);
    let mut value = serde_json::to_value(organization_json(
        org,
        Some(i64::try_from(count).unwrap_or(i64::MAX)),
    ))
    .unwrap_or_default();
    with_org_extra(dataset, &org.clerk_id, &mut value);
    value
}

/// Adds to a serialized organization what the writes hold beside it (private metadata,
/// `max_allowed_memberships`, `admin_delete_enabled`, `created_by`).
pub(super) fn with_org_extra(dataset: &Dataset, organization_id: &str, value: &mut Value) {
    if let Some(extra) = dataset.written.org_extra.get(organization_id) {
        if let Some(m) = &extra.private_metadata {
            value["private_metadata"] = m.clone();
        }
        if let Some(n) = extra.max_allowed_memberships {
            value["max_allowed_memberships"] = json!(n);
        }
        if let Some(b) = extra.admin_delete_enabled {
            value["admin_delete_enabled"] = json!(b);
        }
        if let Some(u) = &extra.created_by {
            value["created_by"] = json!(u);
        }
    }
}

fn membership_value(dataset: &Dataset, m: &ClerkMembershipData) -> Value {
    serde_json::to_value(membership_json(dataset, m)).unwrap_or_default()
}

/// `Acme Inc.` → `acme-inc`.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "org".to_owned()
    } else {
        slug
    }
}

fn slug_taken(dataset: &Dataset, slug: &str, except: Option<&str>) -> bool {
    dataset
        .organization_id_by_slug(slug)
        .is_some_and(|id| Some(id.as_str()) != except)
}

fn slug_exists() -> Response {
    param_error(
        "form_identifier_exists",
        "already exists",
        "slug",
        "That slug is taken. Please try another.",
    )
}

fn permissions_of(role: &str) -> Vec<String> {
    let base = ["org:sys_profile:read", "org:sys_memberships:read"];
    let admin = [
        "org:sys_profile:manage",
        "org:sys_profile:delete",
        "org:sys_memberships:manage",
        "org:sys_domains:read",
        "org:sys_domains:manage",
    ];
    let mut p: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
    if role == "org:admin" {
        p.extend(admin.iter().map(|s| (*s).to_owned()));
    }
    p
}

async fn create_organization(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, Endpoint::CreateOrganization, &uri, &headers, |st| {
        let map = match body_object(&body) {
            Ok(map) => map,
            Err(response) => return response,
        };
        let fields = (|| {
            let name = opt_str(&map, "name")?
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| missing("name"))?;
            let slug = opt_str(&map, "slug")?;
            let created_by = opt_str(&map, "created_by")?;
            let max = opt_u64(&map, "max_allowed_memberships")?;
            let public = opt_object(&map, "public_metadata")?;
            let private = opt_object(&map, "private_metadata")?;
            Ok((name, slug, created_by, max, public, private))
        })();
        let (name, slug, created_by, max, public, private) = match fields {
            Ok(f) => f,
            Err(response) => return response,
        };
        let mut dataset = st.backend.dataset();
        if let Some(user) = &created_by {
            if dataset.find_user(user).is_none() {
                return not_found("user", user);
            }
        }
        let slug = slug.unwrap_or_else(|| slugify(&name));
        if slug_taken(&dataset, &slug, None) {
            return slug_exists();
        }
        let at = dataset.write_time(now_ms());
        let id = dataset.new_id("org");
        let mut org = ClerkOrganizationData::new(&id, name, at, at);
        org.slug = Some(slug);
        if let Some(public) = public {
            org.public_metadata = public;
        }
        dataset.seed_organizations(vec![org]);
        let extra = dataset.written.org_extra.entry(id.clone()).or_default();
        extra.private_metadata = private;
        extra.max_allowed_memberships = max;
        extra.created_by.clone_from(&created_by);
        let mut events = Vec::new();
        if let Some(user) = &created_by {
            let mid = dataset.new_id("orgmem");
            let mut m = ClerkMembershipData::new(mid, &id, user, "org:admin", at, at);
            m.permissions = permissions_of("org:admin");
            dataset.seed_memberships(vec![m.clone()]);
            events.push((
                "organizationMembership.created",
                membership_value(&dataset, &m),
            ));
        }
        let Some(org) = dataset.organization(&id).cloned() else {
            return not_found("organization", &id);
        };
        let value = organization_value(&dataset, &org);
        drop(dataset);
        events.insert(0, ("organization.created", value.clone()));
        emit_all(st, events, at);
        json_bytes(&value)
    })
    .await
}

async fn update_organization(
    State(state): State<Arc<MockState>>,
    Path(organization_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, Endpoint::UpdateOrganization, &uri, &headers, |st| {
        let map = match body_object(&body) {
            Ok(map) => map,
            Err(response) => return response,
        };
        let fields = (|| {
            let name = opt_str(&map, "name")?;
            if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(invalid("name", "name must not be empty."));
            }
            Ok((
                name,
                opt_str(&map, "slug")?,
                opt_u64(&map, "max_allowed_memberships")?,
                opt_bool(&map, "admin_delete_enabled")?,
                opt_object(&map, "public_metadata")?,
                opt_object(&map, "private_metadata")?,
            ))
        })();
        let (name, slug, max, admin_delete, public, private) = match fields {
            Ok(f) => f,
            Err(response) => return response,
        };
        let mut dataset = st.backend.dataset();
        if dataset.organization(&organization_id).is_none() {
            return not_found("organization", &organization_id);
        }
        if let Some(slug) = &slug {
            if slug_taken(&dataset, slug, Some(&organization_id)) {
                return slug_exists();
            }
        }
        let at = dataset.write_time(now_ms());
        let Some(org) = dataset.organization_mut(&organization_id) else {
            return not_found("organization", &organization_id);
        };
        if let Some(name) = name {
            org.name = name;
        }
        if slug.is_some() {
            org.slug = slug;
        }
        if let Some(public) = public {
            org.public_metadata = public;
        }
        org.updated_at = at;
        let org = org.clone();
        let extra = dataset
            .written
            .org_extra
            .entry(organization_id.clone())
            .or_default();
        if private.is_some() {
            extra.private_metadata = private;
        }
        if max.is_some() {
            extra.max_allowed_memberships = max;
        }
        if admin_delete.is_some() {
            extra.admin_delete_enabled = admin_delete;
        }
        let value = organization_value(&dataset, &org);
        drop(dataset);
        emit_all(st, vec![("organization.updated", value.clone())], at);
        json_bytes(&value)
    })
    .await
}

async fn delete_organization(
    State(state): State<Arc<MockState>>,
    Path(organization_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve(&state, Endpoint::DeleteOrganization, &uri, &headers, |st| {
        let mut dataset = st.backend.dataset();
        let Some(slug) = dataset
            .organization(&organization_id)
            .map(|o| o.slug.clone())
        else {
            return not_found("organization", &organization_id);
        };
        dataset.remove_organization(&organization_id);
        let at = dataset.write_time(now_ms());
        drop(dataset);
        let deleted = json!({
            "object": "organization", "id": organization_id, "slug": slug, "deleted": true,
        });
        emit_all(st, vec![("organization.deleted", deleted.clone())], at);
        json_bytes(&deleted)
    })
    .await
}

fn membership_write(
    st: &MockState,
    organization_id: &str,
    user_id: &str,
    event: &'static str,
    change: impl FnOnce(&mut Dataset, UnixTime) -> Result<ClerkMembershipData, Response>,
) -> Response {
    let mut dataset = st.backend.dataset();
    if dataset.organization(organization_id).is_none() {
        return not_found("organization", organization_id);
    }
    if dataset.find_user(user_id).is_none() {
        return not_found("user", user_id);
    }
    let at = dataset.write_time(now_ms());
    let m = match change(&mut dataset, at) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let value = membership_value(&dataset, &m);
    drop(dataset);
    emit_all(st, vec![(event, value.clone())], at);
    json_bytes(&value)
}

async fn create_membership(
    State(state): State<Arc<MockState>>,
    Path(organization_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, Endpoint::CreateMembership, &uri, &headers, |st| {
        let map = match body_object(&body) {
            Ok(map) => map,
            Err(response) => return response,
        };
        let fields = (|| {
            let user_id = opt_str(&map, "user_id")?
                .filter(|u| !u.is_empty())
                .ok_or_else(|| missing("user_id"))?;
            let role = opt_str(&map, "role")?
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| missing("role"))?;
            Ok((user_id, role))
        })();
        let (user_id, role) = match fields {
            Ok(f) => f,
            Err(response) => return response,
        };
        membership_write(
            st,
            &organization_id,
            &user_id,
            "organizationMembership.created",
            |dataset, at| {
                if dataset
                    .membership_of_mut(&organization_id, &user_id)
                    .is_some()
                {
                    return Err(param_error(
                        "already_a_member_in_organization",
                        "already a member",
                        "user_id",
                        "The user is already a member of this organization.",
                    ));
                }
                let id = dataset.new_id("orgmem");
                let mut m = ClerkMembershipData::new(id, &organization_id, &user_id, &role, at, at);
                m.permissions = permissions_of(&role);
                dataset.seed_memberships(vec![m.clone()]);
                Ok(m)
            },
        )
    })
    .await
}

async fn update_membership(
    State(state): State<Arc<MockState>>,
    Path((organization_id, user_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, Endpoint::UpdateMembership, &uri, &headers, |st| {
        let map = match body_object(&body) {
            Ok(map) => map,
            Err(response) => return response,
        };
        let role = match opt_str(&map, "role").and_then(|r| {
            r.filter(|r| !r.trim().is_empty())
                .ok_or_else(|| missing("role"))
        }) {
            Ok(role) => role,
            Err(response) => return response,
        };
        membership_write(
            st,
            &organization_id,
            &user_id,
            "organizationMembership.updated",
            |dataset, at| {
                let m = dataset
                    .membership_of_mut(&organization_id, &user_id)
                    .ok_or_else(|| not_found("organization membership", &user_id))?;
                m.permissions = permissions_of(&role);
                m.role = role;
                m.updated_at = at;
                Ok(m.clone())
            },
        )
    })
    .await
}

async fn delete_membership(
    State(state): State<Arc<MockState>>,
    Path((organization_id, user_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve(&state, Endpoint::DeleteMembership, &uri, &headers, |st| {
        membership_write(
            st,
            &organization_id,
            &user_id,
            "organizationMembership.deleted",
            |dataset, at| {
                let mut m = dataset
                    .remove_membership_of(&organization_id, &user_id)
                    .ok_or_else(|| not_found("organization membership", &user_id))?;
                m.updated_at = at;
                Ok(m)
            },
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_derived_like_clerk_s() {
        assert_eq!(slugify("Acme Inc."), "acme-inc");
        assert_eq!(slugify("  Hello,  World "), "hello-world");
        assert_eq!(slugify("!!!"), "org");
    }
}
