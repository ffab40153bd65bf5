//! Tests of the mock's Backend API (`clerk_testkit::mock`), driven by clerk-core's Backend API
//! client over reqwest: paging, Clerk's limit bounds, 404s, rate limits and faults.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use clerk_core::backend_api::{
    parse_users_page, ApiError, BackendApi, Endpoint, PageParams, RetryPolicy, TokioSleeper,
    UserOrder,
};
use clerk_core::model::{ClerkMembershipData, ClerkOrganizationData, ClerkUserData};
use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::secret::SecretKey;
use clerk_core::time::UnixTime;
use clerk_testkit::mock::{generated_user, generated_user_id, Fault, MockClerk};

const SECRET: &str = "sk_test_backend_tests";

async fn mock() -> MockClerk {
    MockClerk::builder().secret_key(SECRET).start().await
}

fn api_with_timeout(clerk: &MockClerk, timeout: Duration) -> BackendApi {
    BackendApi::new(
        Arc::new(ReqwestClient::new(timeout).unwrap()),
        clerk.url(),
        SecretKey::new(SECRET),
        Arc::new(TokioSleeper),
    )
    .with_retry_policy(RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(5),
    })
}

fn api(clerk: &MockClerk) -> BackendApi {
    api_with_timeout(clerk, Duration::from_secs(30))
}

async fn get(clerk: &MockClerk, path: &str) -> common::Response {
    let auth = format!("Bearer {SECRET}");
    common::get(clerk.addr(), path, &[("Authorization", &auth)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_100_000_generated_users_gets_each_once_in_order() {
    let clerk = mock().await;
    assert_eq!(clerk.generate_users(100_000), 0..100_000);
    let api = api(&clerk);
    assert_eq!(api.count_users().await.unwrap(), 100_000);

    let mut pager = api.users_pager(UserOrder::CreatedAtAsc, 500).unwrap();
    let mut next: u32 = 0;
    let mut last_created = UnixTime::EPOCH;
    while let Some(page) = pager.next_page().await.unwrap() {
        assert!(page.len() <= 500);
        for user in page {
            assert_eq!(user.id, generated_user_id(next), "user {next} out of order");
            assert!(user.created_at > last_created);
            last_created = user.created_at;
            if next % 9_973 == 0 {
                // What the client reads back is exactly what the mock holds.
                assert_eq!(ClerkUserData::from(&user), generated_user(next));
            }
            next += 1;
        }
    }
    assert_eq!(next, 100_000);
    assert_eq!(pager.offset(), 100_000);
    // 200 full pages and the empty one that ends the walk.
    assert_eq!(clerk.backend_request_count(Endpoint::ListUsers), 201);
    assert_eq!(clerk.backend_request_count_ok(Endpoint::ListUsers), 201);
}

#[tokio::test]
async fn seeded_users_round_trip_and_unknown_ids_are_404s_with_clerk_s_body() {
    let clerk = mock().await;
    let mut ada = ClerkUserData::new(
        "user_ada",
        UnixTime::from_millis(1_600_000_000_123),
        UnixTime::from_millis(1_600_000_100_456),
    )
    .with_email("ada@example.com", true);
    ada.username = Some("ada".into());
    ada.first_name = Some("Ada".into());
    ada.last_name = Some("Lovelace".into());
    ada.image_url = Some("https://img.example.test/ada.png".into());
    ada.public_metadata = serde_json::json!({"plan": "pro", "seats": 3});
    ada.external_id = Some("ext-1".into());
    ada.locked = true;
    ada.last_sign_in_at = Some(UnixTime::from_millis(1_600_000_050_000));
    let bare = ClerkUserData::new(
        "user_bare",
        UnixTime::from_millis(1),
        UnixTime::from_millis(2),
    );
    clerk.seed_users(vec![ada.clone(), bare.clone()]);
    clerk.generate_users(3);
    assert_eq!(clerk.user_count(), 5);

    let api = api(&clerk);
    let got = api.get_user("user_ada").await.unwrap();
    assert_eq!(ClerkUserData::from(&got), ada);
    assert_eq!(
        ClerkUserData::from(&api.get_user("user_bare").await.unwrap()),
        bare
    );
    assert_eq!(
        ClerkUserData::from(&api.get_user(&generated_user_id(2)).await.unwrap()),
        generated_user(2)
    );

    let err = api.get_user("user_missing").await.unwrap_err();
    let ApiError::NotFound {
        endpoint: Endpoint::GetUser,
        clerk: Some(body),
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(body.errors[0].code, "resource_not_found");
    // Not retried.
    assert_eq!(clerk.backend_request_count(Endpoint::GetUser), 4);

    // Oldest first: bare (t=1), ada (2020), then the generated users (2023).
    let page = api
        .list_users(PageParams::new(500, 0).unwrap(), UserOrder::CreatedAtAsc)
        .await
        .unwrap();
    let ids: Vec<&str> = page.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "user_bare",
            "user_ada",
            "user_gen_00000000",
            "user_gen_00000001",
            "user_gen_00000002"
        ]
    );
    let page = api
        .list_users(PageParams::new(2, 1).unwrap(), UserOrder::CreatedAtDesc)
        .await
        .unwrap();
    let ids: Vec<&str> = page.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["user_gen_00000001", "user_gen_00000000"]);
}

#[tokio::test]
async fn clerk_s_limit_bounds_and_paging_defaults() {
    let clerk = mock().await;
    clerk.generate_users(25);

    let response = get(&clerk, "/v1/users?limit=501").await;
    assert_eq!(response.status, 422);
    let body = response.json();
    assert_eq!(body["errors"][0]["code"], "form_param_value_invalid");
    assert_eq!(body["errors"][0]["meta"]["param_name"], "limit");
    assert_eq!(body["errors"][0]["message"], "is invalid");
    assert_eq!(
        body["errors"][0]["long_message"],
        "501 does not match one of the allowed values for parameter limit"
    );
    // The client's parser reads it as a 422 that keeps Clerk's body.
    let parsed = parse_users_page(
        &http::Response::builder()
            .status(response.status)
            .body(response.body.clone())
            .unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(parsed, ApiError::Status { status: 422, clerk: Some(ref c), .. } if c.errors[0].code == "form_param_value_invalid"),
        "{parsed:?}"
    );
    for bad in [
        "/v1/users?limit=0",
        "/v1/users?limit=-1",
        "/v1/users?limit=ten",
        "/v1/users?offset=-5",
        "/v1/users?order_by=email_address",
        "/v1/organizations?limit=1000",
        "/v1/organization_invitations?limit=501",
    ] {
        let response = get(&clerk, bad).await;
        assert_eq!(response.status, 422, "{bad}");
        assert_eq!(
            response.json()["errors"][0]["code"],
            "form_param_value_invalid"
        );
    }

    // No limit: Clerk's 10, newest first.
    let users = get(&clerk, "/v1/users").await.json();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 10);
    assert_eq!(users[0]["id"], generated_user_id(24));
    assert_eq!(users[0]["object"], "user");
    // `+created_at` (escaped) and an offset past the end.
    let users = get(&clerk, "/v1/users?limit=500&order_by=%2Bcreated_at")
        .await
        .json();
    assert_eq!(users[0]["id"], generated_user_id(0));
    assert_eq!(users.as_array().unwrap().len(), 25);
    let users = get(&clerk, "/v1/users?limit=5&offset=100").await.json();
    assert_eq!(users, serde_json::json!([]));
    assert_eq!(
        get(&clerk, "/v1/users/count").await.json(),
        serde_json::json!({"object": "total_count", "total_count": 25})
    );
}

#[tokio::test]
async fn the_secret_key_is_checked_like_the_jwks() {
    let clerk = mock().await;
    let response = common::get(clerk.addr(), "/v1/users", &[]).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        response.json()["errors"][0]["code"],
        "authentication_invalid"
    );
    let other_key = common::get(
        clerk.addr(),
        "/v1/users",
        &[("Authorization", "Bearer sk_test_wrong")],
    )
    .await;
    assert_eq!(other_key.status, 401);
    assert_eq!(other_key.json()["errors"][0]["code"], "clerk_key_invalid");
    let wrong = BackendApi::new(
        Arc::new(ReqwestClient::new(Duration::from_secs(10)).unwrap()),
        clerk.url(),
        SecretKey::new("sk_test_wrong"),
        Arc::new(TokioSleeper),
    );
    let err = wrong.count_users().await.unwrap_err();
    assert!(
        matches!(err, ApiError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("CLERK_SECRET_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_honoured_no_request_before_retry_after() {
    let clerk = mock().await;
    clerk.generate_users(2_000);
    // Two requests a second, plus an injected 429 burst at the start.
    clerk.set_rate_limit(2, Duration::from_secs(1));
    clerk.fail_next(
        2,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let api = api(&clerk);
    let mut pager = api.users_pager(UserOrder::CreatedAtAsc, 500).unwrap();
    let mut seen = 0;
    while let Some(page) = pager.next_page().await.unwrap() {
        seen += page.len();
    }
    assert_eq!(seen, 2_000);

    let mut log = clerk.backend_requests();
    log.sort_by_key(|r| r.at);
    let limited = log.iter().filter(|r| r.status == 429).count();
    assert!(limited >= 3, "expected a storm, got {log:#?}");
    assert_eq!(log.iter().filter(|r| r.status == 200).count(), 5);
    for pair in log.windows(2) {
        if pair[0].status == 429 {
            let retry_after = pair[0].retry_after.expect("a 429 carries Retry-After");
            assert!(retry_after >= Duration::from_secs(1));
            let waited = pair[1].at.duration_since(pair[0].at);
            assert!(
                waited >= retry_after,
                "a request came {waited:?} after a 429 asking for {retry_after:?}: {log:#?}"
            );
        }
    }
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_policy_allows_is_reported_not_waited_for() {
    let clerk = mock().await;
    clerk.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 3600,
        },
    );
    let err = api(&clerk).count_users().await.unwrap_err();
    assert!(
        matches!(err, ApiError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3600)),
        "{err:?}"
    );
    assert!(err.to_string().contains("Retry-After: 3600s"), "{err}");
    assert_eq!(clerk.backend_request_count(Endpoint::CountUsers), 1);
}

#[tokio::test]
async fn a_5xx_burst_and_a_slow_response_are_survived() {
    let clerk = mock().await;
    clerk.generate_users(1_200);
    let api = api_with_timeout(&clerk, Duration::from_millis(500));
    let mut pager = api.users_pager(UserOrder::CreatedAtAsc, 500).unwrap();
    assert_eq!(pager.next_page().await.unwrap().unwrap().len(), 500);

    clerk.fail_next(3, Fault::Status(503));
    clerk.fail_next(1, Fault::Status(500));
    clerk.fail_next(1, Fault::Delay(Duration::from_secs(5))); // longer than the client's timeout
    let page = pager.next_page().await.unwrap().unwrap();
    assert_eq!(page[0].id, generated_user_id(500));
    assert_eq!(pager.next_page().await.unwrap().unwrap().len(), 200);
    assert!(pager.next_page().await.unwrap().is_none());

    // The timed-out request was never answered (status 0): the client gave up first.
    let statuses: Vec<u16> = clerk.backend_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 503, 503, 503, 500, 0, 200, 200]);
    assert_eq!(clerk.backend_request_count(Endpoint::ListUsers), 8);
    assert_eq!(clerk.backend_request_count_ok(Endpoint::ListUsers), 3);

    // A burst longer than the policy's attempts fails with the last error.
    clerk.fail_next(10, Fault::Status(502));
    let err = api.count_users().await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Server {
                status: 502,
                endpoint: Endpoint::CountUsers,
                ..
            }
        ),
        "{err:?}"
    );
    clerk.clear_faults();
}

#[tokio::test]
async fn a_malformed_page_is_a_clear_error_naming_the_endpoint() {
    let clerk = mock().await;
    clerk.generate_users(1_200);
    let api = api(&clerk);
    let mut pager = api.users_pager(UserOrder::CreatedAtAsc, 500).unwrap();
    pager.next_page().await.unwrap().unwrap();

    clerk.fail_next(1, Fault::Garbage);
    let err = pager.next_page().await.unwrap_err();
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
    let message = err.to_string();
    assert!(message.starts_with("GET /v1/users: "), "{message}");
    assert!(message.contains("page of users"), "{message}");
    // Not retried; the pager stays where it was and goes on when asked again.
    assert_eq!(pager.offset(), 500);
    assert_eq!(
        pager.next_page().await.unwrap().unwrap()[0].id,
        generated_user_id(500)
    );

    clerk.generate_organizations(2, 1);
    clerk.fail_next(1, Fault::WrongShape);
    let err = api
        .list_organizations(PageParams::first(10).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("GET /v1/organizations: "),
        "{err}"
    );
}

#[tokio::test]
async fn organizations_memberships_and_invitations() {
    let clerk = mock().await;
    clerk.generate_users(10);
    clerk.generate_organizations(3, 4);
    let mut acme = ClerkOrganizationData::new(
        "org_acme",
        "Acme",
        UnixTime::from_millis(5),
        UnixTime::from_millis(6),
    );
    acme.slug = Some("acme".into());
    clerk.seed_organizations(vec![acme.clone()]);
    let mut member = ClerkMembershipData::new(
        "orgmem_acme_1",
        "org_acme",
        generated_user_id(7),
        "org:admin",
        UnixTime::from_millis(7),
        UnixTime::from_millis(8),
    );
    member.permissions = vec!["org:sys_memberships:manage".into()];
    clerk.seed_memberships(vec![member.clone()]);

    let api = api(&clerk);
    let mut pager = api.organizations_pager(2).unwrap();
    let mut orgs = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        orgs.extend(page);
    }
    assert_eq!(pager.total_count(), Some(4));
    let ids: Vec<&str> = orgs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "org_acme",
            "org_gen_000000",
            "org_gen_000001",
            "org_gen_000002"
        ]
    );
    let mut expected = acme.clone();
    expected.members_count = Some(1);
    assert_eq!(ClerkOrganizationData::from(&orgs[0]), expected);
    assert_eq!(orgs[1].members_count, Some(4));

    let page = api
        .list_memberships("org_acme", PageParams::first(10).unwrap())
        .await
        .unwrap();
    assert_eq!(page.total_count, 1);
    assert_eq!(ClerkMembershipData::from(&page.data[0]), member);
    let mut members = api.memberships_pager("org_gen_000001", 3).unwrap();
    let mut users = Vec::new();
    while let Some(page) = members.next_page().await.unwrap() {
        users.extend(
            page.into_iter()
                .map(|m| (m.public_user_data.user_id, m.role)),
        );
    }
    assert_eq!(users.len(), 4);
    assert_eq!(users[0], (generated_user_id(4), "org:admin".to_owned()));
    assert_eq!(users[1].1, "org:member");
    let err = api
        .list_memberships("org_nope", PageParams::first(10).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::NotFound {
                endpoint: Endpoint::ListMemberships,
                ..
            }
        ),
        "{err:?}"
    );

    let all = api
        .list_invitations(PageParams::first(500).unwrap())
        .await
        .unwrap();
    assert_eq!(all.total_count, 3);
    assert!(all.data.iter().all(|i| i.status.as_str() == "pending"));
    let one = api
        .list_organization_invitations("org_gen_000002", PageParams::first(500).unwrap())
        .await
        .unwrap();
    assert_eq!(one.data.len(), 1);
    assert_eq!(one.data[0].organization_id, "org_gen_000002");
    assert_eq!(one.data[0].email_address, "invitee2@example.test");
    assert!(get(&clerk, "/v1/organization_invitations?status=accepted")
        .await
        .json()["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        get(&clerk, "/v1/organizations/org_nope/invitations")
            .await
            .status,
        404
    );

    // Counters per endpoint, and their reset.
    assert_eq!(clerk.backend_request_count(Endpoint::ListMemberships), 4);
    assert_eq!(clerk.backend_request_count(Endpoint::ListInvitations), 2);
    clerk.reset_counters();
    assert!(clerk.backend_requests().is_empty());
    clerk.clear_backend_data();
    assert_eq!(clerk.user_count(), 0);
}

#[tokio::test]
async fn one_organization_by_id() {
    let clerk = mock().await;
    clerk.generate_users(4);
    clerk.generate_organizations(2, 3);
    let org = get(&clerk, "/v1/organizations/org_gen_000001").await;
    assert_eq!(org.status, 200);
    let org = org.json();
    assert_eq!(org["object"], "organization");
    assert_eq!(org["id"], "org_gen_000001");
    assert_eq!(org["slug"], "org-1");
    assert!(org.get("members_count").is_none());
    let counted = get(
        &clerk,
        "/v1/organizations/org_gen_000001?include_members_count=true",
    )
    .await
    .json();
    assert_eq!(counted["members_count"], 3);
    let missing = get(&clerk, "/v1/organizations/org_nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["errors"][0]["code"], "resource_not_found");
    assert_eq!(clerk.backend_request_count(Endpoint::GetOrganization), 3);
    assert_eq!(clerk.backend_request_count_ok(Endpoint::GetOrganization), 2);
}

/// The fields Clerk's official SDKs require (the Python `clerk-backend-api` models reject an
/// object without them; conformance/sdk-mock checks the rest against the SDKs themselves).
#[tokio::test]
async fn shapes_carry_the_fields_clerk_s_sdks_require() {
    let clerk = mock().await;
    clerk.generate_users(2);
    clerk.generate_organizations(1, 2);
    let user = get(&clerk, "/v1/users/user_gen_00000001").await.json();
    for field in [
        "passkeys",
        "enterprise_accounts",
        "saml_accounts",
        "external_accounts",
    ] {
        assert_eq!(user[field], serde_json::json!([]), "{field}");
    }
    for field in ["mfa_enabled_at", "mfa_disabled_at"] {
        assert!(user[field].is_null(), "{field}");
        assert!(user.get(field).is_some(), "{field} must be present");
    }
    assert_eq!(
        user["email_addresses"][0]["verification"]["object"],
        "verification_otp"
    );
    assert_eq!(
        user["email_addresses"][0]["verification"]["strategy"],
        "email_code"
    );
    let memberships = get(&clerk, "/v1/organizations/org_gen_000000/memberships")
        .await
        .json();
    let public = &memberships["data"][0]["public_user_data"];
    assert_eq!(public["profile_image_url"], public["image_url"]);
    assert!(public.get("username").is_some());
    let invitations = get(&clerk, "/v1/organization_invitations").await.json();
    let invitation = &invitations["data"][0];
    for field in ["inviter_id", "public_inviter_data", "url", "expires_at"] {
        assert!(invitation.get(field).is_some(), "{field} must be present");
    }
}
