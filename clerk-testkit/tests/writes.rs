//! The mock's writes, driven by clerk-core's Backend API client over reqwest: Clerk's shapes
//! and errors, the retry classes against injected faults, and the Svix-signed webhooks the
//! mock delivers after each write (verified by a small receiver with clerk-webhooks).
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use clerk_core::backend_api::{
    ApiError, BackendApi, Endpoint, MetadataPatch, NewInvitation, NewOrganization,
    OrganizationUpdate, PageParams, RetryPolicy, SessionStatus, TokioSleeper, UserUpdate,
};
use clerk_core::model::{ClerkUserData, InvitationStatus};
use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::secret::SecretKey;
use clerk_core::time::UnixTime;
use clerk_testkit::mock::{Fault, MockClerk};
use clerk_testkit::webhooks::TEST_SECRET;
use clerk_webhooks::Webhook;
use serde_json::{json, Value};

const SECRET: &str = "sk_test_writes_tests";

fn api(clerk: &MockClerk) -> BackendApi {
    BackendApi::new(
        Arc::new(ReqwestClient::new(Duration::from_secs(30)).unwrap()),
        clerk.url(),
        SecretKey::new(SECRET),
        Arc::new(TokioSleeper),
    )
    .with_retry_policy(RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
    })
}

fn user(id: &str, email: &str) -> ClerkUserData {
    let t = UnixTime::from_millis(1_700_000_000_000);
    ClerkUserData::new(id, t, t).with_email(email, true)
}

/// A receiver that verifies every delivery's Svix signature and keeps the verified events.
#[derive(Clone, Default)]
struct Receiver {
    events: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let webhook = Webhook::new(TEST_SECRET).unwrap();
        let events = Arc::clone(&self.events);
        let app = Router::new().route(
            "/webhooks",
            post(move |headers: HeaderMap, body: Bytes| {
                let webhook = webhook.clone();
                let events = Arc::clone(&events);
                async move {
                    let now = UnixTime::from_secs(
                        i64::try_from(
                            std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap()
                                .as_secs(),
                        )
                        .unwrap(),
                    );
                    match webhook.verify_at(&headers, &body, now) {
                        Ok(_) => {
                            events
                                .lock()
                                .unwrap()
                                .push(serde_json::from_slice(&body).unwrap());
                            StatusCode::OK
                        }
                        Err(_) => StatusCode::BAD_REQUEST,
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn types(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    fn last(&self) -> Value {
        self.events.lock().unwrap().last().unwrap().clone()
    }
}

async fn setup() -> (MockClerk, BackendApi, Receiver) {
    let clerk = MockClerk::builder().secret_key(SECRET).start().await;
    clerk.seed_users(vec![
        user("user_ada", "ada@example.com"),
        user("user_bob", "bob@example.com"),
    ]);
    let receiver = Receiver::default();
    clerk.deliver_webhooks_to(receiver.start().await, TEST_SECRET);
    let api = api(&clerk);
    (clerk, api, receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_writes_answer_the_user_and_send_signed_user_updated() {
    let (clerk, api, receiver) = setup().await;
    let s1 = clerk.create_session("user_ada").unwrap();
    let s2 = clerk.create_session("user_ada").unwrap();
    assert!(clerk.create_session("user_nobody").is_none());

    let banned = api.ban_user("user_ada").await.unwrap();
    assert!(banned.banned);
    assert!(banned.updated_at > UnixTime::from_millis(1_700_000_000_000));
    let deliveries = clerk.webhooks_delivered().await;
    assert!(deliveries.iter().all(|d| d.succeeded()), "{deliveries:?}");
    // Banning revokes the sessions first (Clerk's ban ends every session).
    assert_eq!(
        receiver.types(),
        [
            "session.created",
            "session.created",
            "session.revoked",
            "session.revoked",
            "user.updated"
        ]
    );
    assert_eq!(receiver.last()["data"]["banned"], true);
    assert_eq!(
        receiver.last()["timestamp"],
        json!(banned.updated_at.as_millis())
    );
    assert_eq!(
        clerk.sessions_of("user_ada"),
        [(s1, "revoked".to_owned()), (s2, "revoked".to_owned())]
    );

    assert!(!api.unban_user("user_ada").await.unwrap().banned);
    assert!(api.lock_user("user_ada").await.unwrap().locked);
    let unlocked = api.unlock_user("user_ada").await.unwrap();
    assert!(!unlocked.locked);
    clerk.webhooks_delivered().await;
    assert_eq!(receiver.last()["data"]["locked"], false);

    // Metadata: replaced by PATCH /users/{id}, deep-merged by PATCH /users/{id}/metadata.
    let updated = api
        .update_user(
            "user_ada",
            &UserUpdate::new()
                .first_name("Ada")
                .public_metadata(json!({"plan": "free", "prefs": {"theme": "dark", "lang": "en"}})),
        )
        .await
        .unwrap();
    assert_eq!(updated.first_name.as_deref(), Some("Ada"));
    let merged = api
        .update_user_metadata(
            "user_ada",
            &MetadataPatch::new()
                .public(json!({"plan": "pro", "prefs": {"lang": null, "tz": "UTC"}}))
                .private(json!({"stripe": "cus_1"})),
        )
        .await
        .unwrap();
    assert_eq!(
        merged.public_metadata,
        json!({"plan": "pro", "prefs": {"theme": "dark", "tz": "UTC"}})
    );
    clerk.webhooks_delivered().await;
    assert_eq!(
        receiver.last()["data"]["private_metadata"],
        json!({"stripe": "cus_1"})
    );
    assert_eq!(
        api.get_user("user_ada").await.unwrap().public_metadata,
        merged.public_metadata
    );
    let read = reqwest::Client::new()
        .get(format!("{}/v1/users/user_ada", clerk.url()))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let read: Value = serde_json::from_slice(&read).unwrap();
    assert_eq!(read["private_metadata"], json!({"stripe": "cus_1"}));

    let deleted = api.delete_user("user_ada").await.unwrap();
    assert_eq!(
        (deleted.object.as_str(), deleted.id.as_deref()),
        ("user", Some("user_ada"))
    );
    assert!(matches!(
        api.get_user("user_ada").await,
        Err(ApiError::NotFound { .. })
    ));
    assert!(matches!(
        api.ban_user("user_ada").await,
        Err(ApiError::NotFound { .. })
    ));
    clerk.webhooks_delivered().await;
    assert_eq!(
        receiver.last()["data"],
        json!({"object": "user", "id": "user_ada", "deleted": true})
    );
    assert_eq!(api.count_users().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_users_can_be_written_and_keep_their_place() {
    let (clerk, api, _receiver) = setup().await;
    clerk.generate_users(3);
    let id = clerk_testkit::mock::generated_user_id(1);
    assert!(api.lock_user(&id).await.unwrap().locked);
    let page = api
        .list_users(
            PageParams::first(10).unwrap(),
            clerk_core::backend_api::UserOrder::CreatedAtAsc,
        )
        .await
        .unwrap();
    let ids: Vec<&str> = page.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids.len(), 5);
    assert!(page.iter().find(|u| u.id == id).unwrap().locked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_by_status_and_revoked() {
    let (clerk, api, receiver) = setup().await;
    let ids: Vec<String> = (0..3)
        .map(|_| clerk.create_session("user_bob").unwrap())
        .collect();
    clerk.create_session("user_ada").unwrap();
    let page = api
        .list_sessions(
            "user_bob",
            Some(SessionStatus::Active),
            PageParams::first(2).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((page.data.len(), page.total_count), (2, 3));
    assert!(page
        .data
        .iter()
        .all(|s| s.user_id == "user_bob" && s.is_active()));
    let revoked = api.revoke_session(&ids[0]).await.unwrap();
    assert_eq!(revoked.status, "revoked");
    // Revoking again answers the session unchanged, with no second webhook.
    assert_eq!(api.revoke_session(&ids[0]).await.unwrap().status, "revoked");
    clerk.webhooks_delivered().await;
    assert_eq!(
        receiver
            .types()
            .iter()
            .filter(|t| *t == "session.revoked")
            .count(),
        1
    );
    assert_eq!(receiver.last()["data"]["id"], json!(ids[0]));

    let rest = api.revoke_user_sessions("user_bob").await.unwrap();
    assert_eq!((rest.revoked.len(), rest.failed.len()), (2, 0));
    assert!(api
        .all_sessions("user_bob", Some(SessionStatus::Active))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(api.all_sessions("user_bob", None).await.unwrap().len(), 3);
    assert!(matches!(
        api.revoke_session("sess_unknown").await,
        Err(ApiError::NotFound {
            endpoint: Endpoint::RevokeSession,
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_created_once_refused_when_duplicate_and_revoked() {
    let (clerk, api, receiver) = setup().await;
    let inv = api
        .create_invitation(
            &NewInvitation::new("new@example.com")
                .public_metadata(json!({"team": "a"}))
                .expires_in_days(7),
        )
        .await
        .unwrap();
    assert_eq!(inv.status, InvitationStatus::Pending);
    assert_eq!(inv.public_metadata, json!({"team": "a"}));
    assert_eq!(
        inv.expires_at.unwrap().as_millis() - inv.created_at.as_millis(),
        7 * 86_400_000
    );
    // Already invited, or already a user: Clerk's 422, unless ignore_existing.
    for email in ["new@example.com", "bob@example.com"] {
        let err = api
            .create_invitation(&NewInvitation::new(email))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(422), "{err}");
        assert_eq!(err.clerk_body().unwrap().errors[0].code, "duplicate_record");
    }
    api.create_invitation(&NewInvitation::new("bob@example.com").ignore_existing(true))
        .await
        .unwrap();
    let revoked = api.revoke_invitation(&inv.id).await.unwrap();
    assert_eq!(revoked.status, InvitationStatus::Revoked);
    let page = api
        .list_app_invitations(
            Some(&InvitationStatus::Pending),
            PageParams::first(10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(page.total_count, 1);
    // Application invitations send no webhooks.
    clerk.webhooks_delivered().await;
    assert!(receiver.types().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_retry_on_429_but_never_after_a_5xx_while_idempotent_writes_do() {
    let (clerk, api, _receiver) = setup().await;
    clerk.fail_next(1, Fault::Status(503));
    let err = api
        .create_organization(&NewOrganization::new("Acme"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::Server { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(clerk.backend_request_count(Endpoint::CreateOrganization), 1);

    clerk.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 0,
        },
    );
    api.create_organization(&NewOrganization::new("Acme"))
        .await
        .unwrap();
    assert_eq!(clerk.backend_request_count(Endpoint::CreateOrganization), 3);

    clerk.fail_next(2, Fault::Status(502));
    assert!(api.ban_user("user_bob").await.unwrap().banned);
    assert_eq!(clerk.backend_request_count(Endpoint::BanUser), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_and_memberships_round_trip_with_their_webhooks() {
    let (clerk, api, receiver) = setup().await;
    let org = api
        .create_organization(
            &NewOrganization::new("Acme Inc.")
                .created_by("user_ada")
                .public_metadata(json!({"tier": 1})),
        )
        .await
        .unwrap();
    assert_eq!(org.slug.as_deref(), Some("acme-inc"));
    assert_eq!(org.members_count, Some(1));
    // What a create sets is what a read serves.
    let read = reqwest::Client::new()
        .get(format!("{}/v1/organizations/{}", clerk.url(), org.id))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let read: Value = serde_json::from_slice(&read).unwrap();
    assert_eq!(read["created_by"], "user_ada");
    assert_eq!(read["public_metadata"], json!({"tier": 1}));
    let taken = api
        .create_organization(&NewOrganization::new("Other").slug("acme-inc"))
        .await
        .unwrap_err();
    assert_eq!(
        taken.clerk_body().unwrap().errors[0].code,
        "form_identifier_exists"
    );

    let m = api
        .create_membership(&org.id, "user_bob", "org:member")
        .await
        .unwrap();
    assert_eq!(
        (m.role.as_str(), m.public_user_data.user_id.as_str()),
        ("org:member", "user_bob")
    );
    let again = api
        .create_membership(&org.id, "user_bob", "org:member")
        .await
        .unwrap_err();
    assert_eq!(
        again.clerk_body().unwrap().errors[0].code,
        "already_a_member_in_organization"
    );
    let m = api
        .update_membership(&org.id, "user_bob", "org:admin")
        .await
        .unwrap();
    assert_eq!(m.role, "org:admin");
    let org2 = api
        .update_organization(&org.id, &OrganizationUpdate::new().name("Acme 2"))
        .await
        .unwrap();
    assert_eq!(org2.name, "Acme 2");
    assert!(org2.updated_at > org.updated_at);
    let removed = api.delete_membership(&org.id, "user_bob").await.unwrap();
    assert_eq!(removed.public_user_data.user_id, "user_bob");
    assert!(matches!(
        api.delete_membership(&org.id, "user_bob").await,
        Err(ApiError::NotFound { .. })
    ));
    let deleted = api.delete_organization(&org.id).await.unwrap();
    assert!(deleted.deleted);
    assert!(matches!(
        api.update_organization(&org.id, &OrganizationUpdate::new().name("x"))
            .await,
        Err(ApiError::NotFound { .. })
    ));
    clerk.webhooks_delivered().await;
    assert_eq!(
        receiver.types(),
        [
            "organization.created",
            "organizationMembership.created",
            "organizationMembership.created",
            "organizationMembership.updated",
            "organization.updated",
            "organizationMembership.deleted",
            "organization.deleted",
        ]
    );
    assert_eq!(receiver.last()["data"]["id"], json!(org.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bodies_get_clerk_s_422_and_unknown_ids_404() {
    let (clerk, _api, _receiver) = setup().await;
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{}{path}", clerk.url()))
            .bearer_auth(SECRET)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let r = send(
        reqwest::Method::PATCH,
        "/v1/users/user_bob/metadata",
        json!({"public_metadata": [1]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["errors"][0]["code"], "form_param_format_invalid");
    assert_eq!(body["errors"][0]["meta"]["param_name"], "public_metadata");
    let r = send(reqwest::Method::POST, "/v1/invitations", json!({}))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["errors"][0]["code"], "form_param_missing");
    let r = send(
        reqwest::Method::POST,
        "/v1/organizations/org_nope/memberships",
        json!({"user_id": "user_bob", "role": "org:member"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let r = send(
        reqwest::Method::PATCH,
        "/v1/users/user_nope",
        json!({"first_name": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["errors"][0]["code"], "resource_not_found");
    // The writes check the secret key like the reads.
    let r = client
        .post(format!("{}/v1/users/user_bob/ban", clerk.url()))
        .bearer_auth("sk_test_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(clerk.webhook_events().is_empty());
}
