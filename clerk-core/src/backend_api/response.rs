//! Pure response parsers: `http::Response<Vec<u8>>` → the objects, or an [`ApiError`].

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::error::{ApiError, Endpoint};
use super::types::{ApiInvitation, ApiMembership, ApiOrganization, ApiUser, Page};
use crate::http::ClerkErrorBody;

/// `Retry-After` as delay-seconds (an integer, or a non-negative decimal). The HTTP-date form
/// is not used by Clerk and reads as absent.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// Classifies a non-2xx response; `Ok(())` for a 2xx.
fn check_status(endpoint: Endpoint, response: &http::Response<Vec<u8>>) -> Result<(), ApiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let clerk = ClerkErrorBody::parse(response.body());
    let status = status.as_u16();
    Err(match status {
        404 => ApiError::NotFound { endpoint, clerk },
        429 => ApiError::RateLimited {
            endpoint,
            retry_after: retry_after(response.headers()),
            clerk,
        },
        401 | 403 => ApiError::Unauthorized {
            endpoint,
            status,
            clerk,
        },
        500..=599 => ApiError::Server {
            endpoint,
            status,
            clerk,
        },
        _ => ApiError::Status {
            endpoint,
            status,
            clerk,
        },
    })
}

fn parse<T: DeserializeOwned>(
    endpoint: Endpoint,
    expected: &'static str,
    response: &http::Response<Vec<u8>>,
) -> Result<T, ApiError> {
    parse_json(endpoint, expected, response)
}

/// Classifies the status, then reads a 2xx body as `T` (the writes' parsers use it too).
pub(crate) fn parse_json<T: DeserializeOwned>(
    endpoint: Endpoint,
    expected: &'static str,
    response: &http::Response<Vec<u8>>,
) -> Result<T, ApiError> {
    check_status(endpoint, response)?;
    serde_json::from_slice(response.body()).map_err(|e| ApiError::Malformed {
        endpoint,
        expected,
        detail: e.to_string(),
    })
}

/// Parses `GET /v1/users/{id}`: one user; 404 is [`ApiError::NotFound`].
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for a body that is not a user.
pub fn parse_user_response(response: &http::Response<Vec<u8>>) -> Result<ApiUser, ApiError> {
    parse(Endpoint::GetUser, "user object", response)
}

/// Parses `GET /v1/users`: a bare JSON array of users.
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for a body that is not an array
/// of users.
pub fn parse_users_page(response: &http::Response<Vec<u8>>) -> Result<Vec<ApiUser>, ApiError> {
    parse(
        Endpoint::ListUsers,
        "page of users (a JSON array of user objects)",
        response,
    )
}

/// Parses `GET /v1/users/count`: `{"object":"total_count","total_count":n}` → `n`.
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] without a `total_count`.
pub fn parse_user_count(response: &http::Response<Vec<u8>>) -> Result<u64, ApiError> {
    #[derive(serde::Deserialize)]
    struct Count {
        total_count: u64,
    }
    let count: Count = parse(
        Endpoint::CountUsers,
        "user count ({\"total_count\": n})",
        response,
    )?;
    Ok(count.total_count)
}

/// Parses `GET /v1/organizations`: `{data, total_count}`.
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for another shape.
pub fn parse_organizations_page(
    response: &http::Response<Vec<u8>>,
) -> Result<Page<ApiOrganization>, ApiError> {
    parse(
        Endpoint::ListOrganizations,
        "page of organizations ({\"data\": [...], \"total_count\": n})",
        response,
    )
}

/// Parses `GET /v1/organizations/{id}/memberships`: `{data, total_count}`; 404 for an unknown
/// organization.
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for another shape.
pub fn parse_memberships_page(
    response: &http::Response<Vec<u8>>,
) -> Result<Page<ApiMembership>, ApiError> {
    parse(
        Endpoint::ListMemberships,
        "page of memberships ({\"data\": [...], \"total_count\": n})",
        response,
    )
}

/// Parses `GET /v1/organization_invitations` and `GET /v1/organizations/{id}/invitations`:
/// `{data, total_count}`. `endpoint` says which one was called (it is named in errors).
///
/// # Errors
/// The status classes of [`ApiError`]; [`ApiError::Malformed`] for another shape.
pub fn parse_invitations_page(
    endpoint: Endpoint,
    response: &http::Response<Vec<u8>>,
) -> Result<Page<ApiInvitation>, ApiError> {
    parse(
        endpoint,
        "page of invitations ({\"data\": [...], \"total_count\": n})",
        response,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        ClerkInvitationData, ClerkMembershipData, ClerkOrganizationData, ClerkUserData,
        InvitationStatus,
    };
    use crate::time::UnixTime;

    fn response(status: u16, body: &[u8]) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .body(body.to_vec())
            .unwrap()
    }

    const USER: &str = r#"{
        "id": "user_2", "object": "user", "username": "ada", "first_name": "Ada", "last_name": null,
        "image_url": "https://img.clerk.com/x", "has_image": false,
        "primary_email_address_id": "idn_2",
        "email_addresses": [
            {"id": "idn_1", "email_address": "old@example.com", "verification": {"status": "verified"}},
            {"id": "idn_2", "email_address": "ada@example.com", "verification": {"status": "verified", "strategy": "email_code"}, "linked_to": []}
        ],
        "phone_numbers": [], "public_metadata": {"plan": "pro"}, "private_metadata": {"x": 1},
        "banned": false, "locked": true, "external_id": null,
        "last_sign_in_at": 1700000005000, "created_at": 1700000000000, "updated_at": 1700000009000,
        "a_field_clerk_adds_tomorrow": {"nested": true}
    }"#;

    #[test]
    fn a_user_parses_with_unknown_fields_and_millisecond_timestamps() {
        let user = parse_user_response(&response(200, USER.as_bytes())).unwrap();
        let data = ClerkUserData::from(&user);
        let mut expected = ClerkUserData::new(
            "user_2",
            UnixTime::from_millis(1_700_000_000_000),
            UnixTime::from_millis(1_700_000_009_000),
        )
        .with_email("ada@example.com", true);
        expected.username = Some("ada".into());
        expected.first_name = Some("Ada".into());
        expected.image_url = Some("https://img.clerk.com/x".into());
        expected.public_metadata = serde_json::json!({"plan": "pro"});
        expected.locked = true;
        expected.last_sign_in_at = Some(UnixTime::from_millis(1_700_000_005_000));
        assert_eq!(data, expected);
    }

    #[test]
    fn a_users_page_is_a_bare_array() {
        let body = format!(
            "[{USER}, {{\"id\":\"user_3\",\"public_metadata\":null,\"email_addresses\":null}}]"
        );
        let users = parse_users_page(&response(200, body.as_bytes())).unwrap();
        assert_eq!(users.len(), 2);
        let second = ClerkUserData::from(&users[1]);
        assert_eq!(second.email, None);
        assert_eq!(second.public_metadata, serde_json::json!({}));
        assert_eq!(parse_users_page(&response(200, b"[]")).unwrap(), vec![]);
    }

    #[test]
    fn a_malformed_page_names_its_endpoint() {
        let err = parse_users_page(&response(200, br#"{"data":[],"total_count":0}"#)).unwrap_err();
        assert!(
            matches!(
                err,
                ApiError::Malformed {
                    endpoint: Endpoint::ListUsers,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("GET /v1/users: "), "{err}");
        let err = parse_organizations_page(&response(200, b"<html>")).unwrap_err();
        assert!(
            err.to_string().starts_with("GET /v1/organizations: "),
            "{err}"
        );
        let err = parse_user_count(&response(200, br#"{"object":"x"}"#)).unwrap_err();
        assert!(matches!(
            err,
            ApiError::Malformed {
                endpoint: Endpoint::CountUsers,
                ..
            }
        ));
        let err = parse_users_page(&response(200, br#"[{"first_name":"no id"}]"#)).unwrap_err();
        assert!(matches!(err, ApiError::Malformed { .. }));
    }

    #[test]
    fn errors_keep_the_clerk_body_and_are_classified() {
        let body = br#"{"errors":[{"code":"resource_not_found","message":"not found","long_message":"No user was found with id user_x"}],"clerk_trace_id":"t"}"#;
        let err = parse_user_response(&response(404, body)).unwrap_err();
        let ApiError::NotFound {
            endpoint: Endpoint::GetUser,
            clerk: Some(clerk),
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(clerk.errors[0].code, "resource_not_found");
        assert!(err.to_string().contains("No user was found"), "{err}");

        let err = parse_users_page(&response(
            401,
            br#"{"errors":[{"code":"authentication_invalid","message":"Unauthorized"}]}"#,
        ))
        .unwrap_err();
        assert!(matches!(
            err,
            ApiError::Unauthorized {
                status: 401,
                clerk: Some(_),
                ..
            }
        ));
        assert!(err.to_string().contains("CLERK_SECRET_KEY"));

        let err = parse_users_page(&response(
            422,
            br#"{"errors":[{"code":"form_param_value_invalid","message":"is invalid"}]}"#,
        ))
        .unwrap_err();
        assert!(matches!(
            err,
            ApiError::Status {
                status: 422,
                clerk: Some(_),
                ..
            }
        ));
        assert_eq!(
            err.clerk_body().unwrap().errors[0].code,
            "form_param_value_invalid"
        );

        let err = parse_organizations_page(&response(503, b"upstream down")).unwrap_err();
        assert_eq!(
            err,
            ApiError::Server {
                endpoint: Endpoint::ListOrganizations,
                status: 503,
                clerk: None
            }
        );
        assert_eq!(err.status(), Some(503));
    }

    #[test]
    fn rate_limits_read_retry_after_seconds() {
        let limited = |retry_after: Option<&str>| {
            let mut b = http::Response::builder().status(429);
            if let Some(v) = retry_after {
                b = b.header("retry-after", v);
            }
            parse_users_page(
                &b.body(
                    br#"{"errors":[{"code":"too_many_requests","message":"slow down"}]}"#.to_vec(),
                )
                .unwrap(),
            )
            .unwrap_err()
        };
        let ApiError::RateLimited {
            retry_after, clerk, ..
        } = limited(Some("7"))
        else {
            panic!()
        };
        assert_eq!(retry_after, Some(Duration::from_secs(7)));
        assert_eq!(clerk.unwrap().errors[0].code, "too_many_requests");
        let ApiError::RateLimited { retry_after, .. } = limited(Some("1.5")) else {
            panic!()
        };
        assert_eq!(retry_after, Some(Duration::from_millis(1500)));
        let ApiError::RateLimited { retry_after, .. } = limited(None) else {
            panic!()
        };
        assert_eq!(retry_after, None);
        let ApiError::RateLimited { retry_after, .. } =
            limited(Some("Wed, 21 Oct 2015 07:28:00 GMT"))
        else {
            panic!()
        };
        assert_eq!(retry_after, None);
        assert!(limited(Some("3")).to_string().contains("Retry-After: 3s"));
    }

    #[test]
    fn count_organizations_memberships_and_invitations_parse() {
        assert_eq!(
            parse_user_count(&response(
                200,
                br#"{"object":"total_count","total_count":100000}"#
            ))
            .unwrap(),
            100_000
        );
        let orgs = parse_organizations_page(&response(200, br#"{"data":[{"object":"organization","id":"org_1","name":"Acme","slug":"acme","image_url":"","members_count":3,"public_metadata":{},"max_allowed_memberships":5,"created_at":1,"updated_at":2}],"total_count":1}"#)).unwrap();
        assert_eq!(orgs.total_count, 1);
        let mut expected = ClerkOrganizationData::new(
            "org_1",
            "Acme",
            UnixTime::from_millis(1),
            UnixTime::from_millis(2),
        );
        expected.slug = Some("acme".into());
        expected.members_count = Some(3);
        assert_eq!(ClerkOrganizationData::from(&orgs.data[0]), expected);

        let members = parse_memberships_page(&response(200, br#"{"data":[{"object":"organization_membership","id":"orgmem_1","role":"org:admin","role_name":"Admin","permissions":["org:sys_memberships:read"],"public_metadata":{},"organization":{"id":"org_1","name":"Acme","object":"organization"},"public_user_data":{"user_id":"user_1","identifier":"a@example.com","first_name":"A"},"created_at":3,"updated_at":4}],"total_count":9}"#)).unwrap();
        assert_eq!(members.total_count, 9);
        let mut expected = ClerkMembershipData::new(
            "orgmem_1",
            "org_1",
            "user_1",
            "org:admin",
            UnixTime::from_millis(3),
            UnixTime::from_millis(4),
        );
        expected.permissions = vec!["org:sys_memberships:read".into()];
        assert_eq!(ClerkMembershipData::from(&members.data[0]), expected);

        let invitations = parse_invitations_page(Endpoint::ListInvitations, &response(200, br#"{"data":[{"object":"organization_invitation","id":"orginv_1","email_address":"b@example.com","role":"org:member","status":"accepted","organization_id":"org_1","user_id":"user_9","public_metadata":{},"created_at":5,"updated_at":6,"expires_at":null}],"total_count":1}"#)).unwrap();
        let data = ClerkInvitationData::from(&invitations.data[0]);
        assert_eq!(data.status, InvitationStatus::Accepted);
        assert_eq!(data.user_clerk_id.as_deref(), Some("user_9"));
        assert_eq!(data.organization_clerk_id, "org_1");
        assert_eq!(data.updated_at, UnixTime::from_millis(6));

        let err =
            parse_invitations_page(Endpoint::ListOrganizationInvitations, &response(200, b"[]"))
                .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("GET /v1/organizations/{organization_id}/invitations"),
            "{err}"
        );
    }
}
