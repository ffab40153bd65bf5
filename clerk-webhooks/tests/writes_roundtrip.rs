//! The write round trip: writes through clerk-core's `BackendApi` against the mock Clerk,
//! whose webhooks (Svix-signed, delivered over HTTP) reach a receiver that applies them with
//! the `WebhookProcessor` to a real SQLite mirror — which must converge on what was written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod processor_support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use clerk_core::backend_api::{
    BackendApi, MetadataPatch, NewOrganization, OrganizationUpdate, RetryPolicy, TokioSleeper,
};
use clerk_core::model::ClerkUserData;
use clerk_core::reqwest_client::ReqwestClient;
use clerk_core::secret::SecretKey;
use clerk_core::store::{LedgerStore, OrganizationStore, UserStore};
use clerk_core::time::UnixTime;
use clerk_store::sync::{sync_users, SyncOptions};
use clerk_store::SqliteStore;
use clerk_testkit::mock::MockClerk;
use clerk_testkit::webhooks::TEST_SECRET;
use clerk_webhooks::processor::WebhookProcessor;
use clerk_webhooks::Webhook;
use processor_support::sqlite_store;
use serde_json::json;

const SECRET: &str = "sk_test_write_roundtrip";

type Processor = Arc<WebhookProcessor<SqliteStore>>;

async fn receive(State(p): State<Processor>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let outcome = p.process(&headers, &body).await;
    StatusCode::from_u16(outcome.status_code().as_u16()).unwrap()
}

/// A webhook endpoint over `store`, like an application's; its URL.
async fn receiver(store: SqliteStore) -> String {
    let processor: Processor = Arc::new(WebhookProcessor::new(
        Webhook::new(TEST_SECRET).unwrap(),
        store,
    ));
    let app = Router::new()
        .route("/webhooks/clerk", post(receive))
        .with_state(processor);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/clerk", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn seeded(id: &str, email: &str) -> ClerkUserData {
    let t = UnixTime::from_millis(1_700_000_000_000);
    ClerkUserData::new(id, t, t).with_email(email, true)
}

async fn delivered(clerk: &MockClerk) {
    let deliveries = clerk.webhooks_delivered().await;
    for d in &deliveries {
        assert!(d.succeeded(), "the receiver refused a delivery: {d:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_converges_on_writes_made_through_the_backend_api() {
    let clerk = MockClerk::builder().secret_key(SECRET).start().await;
    clerk.seed_users(vec![
        seeded("user_ada", "ada@example.com"),
        seeded("user_bob", "bob@example.com"),
    ]);
    let api = BackendApi::new(
        Arc::new(ReqwestClient::new(Duration::from_secs(30)).unwrap()),
        clerk.url(),
        SecretKey::new(SECRET),
        Arc::new(TokioSleeper),
    )
    .with_retry_policy(RetryPolicy::never());

    // The mirror starts from a sync, then follows the webhooks.
    let store = sqlite_store().await;
    sync_users(
        &api,
        &store,
        SyncOptions::new(UnixTime::from_secs(1_800_000_000)),
        |_| {},
    )
    .await
    .unwrap();
    assert!(
        !store
            .user_by_clerk_id("user_ada")
            .await
            .unwrap()
            .unwrap()
            .banned
    );
    clerk.deliver_webhooks_to(receiver(store.clone()).await, TEST_SECRET);

    // Users: ban, lock, metadata.
    api.ban_user("user_ada").await.unwrap();
    api.lock_user("user_bob").await.unwrap();
    api.update_user_metadata(
        "user_bob",
        &MetadataPatch::new().public(json!({"plan": "pro"})),
    )
    .await
    .unwrap();
    delivered(&clerk).await;
    let ada = store.user_by_clerk_id("user_ada").await.unwrap().unwrap();
    let bob = store.user_by_clerk_id("user_bob").await.unwrap().unwrap();
    assert!(ada.banned && !ada.locked);
    assert!(bob.locked && !bob.banned);
    assert_eq!(bob.public_metadata, json!({"plan": "pro"}));
    api.unban_user("user_ada").await.unwrap();
    delivered(&clerk).await;
    assert!(
        !store
            .user_by_clerk_id("user_ada")
            .await
            .unwrap()
            .unwrap()
            .banned
    );

    // Sessions: a sign-in, then a revocation through the API.
    let sid = clerk.create_session("user_bob").unwrap();
    api.revoke_session(&sid).await.unwrap();
    delivered(&clerk).await;
    let revoked = store
        .revoked_session(&sid)
        .await
        .unwrap()
        .expect("the revocation is recorded");
    assert_eq!(revoked.status, "revoked");
    assert_eq!(revoked.user_clerk_id.as_deref(), Some("user_bob"));

    // Organizations and memberships.
    let org = api
        .create_organization(&NewOrganization::new("Acme").created_by("user_ada"))
        .await
        .unwrap();
    api.create_membership(&org.id, "user_bob", "org:member")
        .await
        .unwrap();
    delivered(&clerk).await;
    let mirrored = store
        .organization(&org.id)
        .await
        .unwrap()
        .expect("organization mirrored");
    assert_eq!(
        (mirrored.name.as_str(), mirrored.slug.as_deref()),
        ("Acme", Some("acme"))
    );
    let members = store.memberships_of_organization(&org.id).await.unwrap();
    let roles: Vec<(&str, &str)> = members
        .iter()
        .map(|m| (m.user_clerk_id.as_str(), m.role.as_str()))
        .collect();
    assert_eq!(
        roles,
        [("user_ada", "org:admin"), ("user_bob", "org:member")]
    );

    api.update_membership(&org.id, "user_bob", "org:admin")
        .await
        .unwrap();
    api.update_organization(&org.id, &OrganizationUpdate::new().name("Acme 2"))
        .await
        .unwrap();
    delivered(&clerk).await;
    assert_eq!(
        store.organization(&org.id).await.unwrap().unwrap().name,
        "Acme 2"
    );
    let bob_role = store.memberships_of_user("user_bob").await.unwrap();
    assert_eq!(bob_role.len(), 1);
    assert_eq!(bob_role[0].role, "org:admin");

    api.delete_membership(&org.id, "user_bob").await.unwrap();
    delivered(&clerk).await;
    assert!(store
        .memberships_of_user("user_bob")
        .await
        .unwrap()
        .is_empty());

    api.delete_organization(&org.id).await.unwrap();
    delivered(&clerk).await;
    assert!(store
        .organization(&org.id)
        .await
        .unwrap()
        .unwrap()
        .deleted_at
        .is_some());
    assert!(store
        .memberships_of_organization(&org.id)
        .await
        .unwrap()
        .is_empty());

    // A deleted user is tombstoned.
    api.delete_user("user_bob").await.unwrap();
    delivered(&clerk).await;
    let bob = store.user_by_clerk_id("user_bob").await.unwrap().unwrap();
    assert!(bob.deleted_at.is_some());
    assert_eq!(bob.email, None);

    // Every event the mock emitted was applied once (the ledger holds each svix id).
    for event in clerk.webhook_events() {
        assert!(
            store.webhook_event(&event.msg_id).await.unwrap().is_some(),
            "{} was not recorded",
            event.event_type
        );
    }
}
