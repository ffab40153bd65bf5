//! The application-owned `company` survives every webhook; a re-sign-up starts fresh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};

use clerk_core::model::UserId;
use clerk_core::time::UnixTime;
use clerk_store::SqliteStore;
use clerk_testkit::webhooks::bodies::{self, SessionBody, UserBody, BASE_TIME_MS};
use clerk_testkit::webhooks::{random_msg_id, WebhookSender, TEST_SECRET};
use clerk_testkit::ManualClock;
use clerk_webhooks::{ProcessOutcome, Webhook, WebhookProcessor};
use custom_user::{ProfileOnSignUp, Profiles};
use serde_json::{json, Value};

static NEXT: AtomicUsize = AtomicUsize::new(0);

async fn fresh_store() -> SqliteStore {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("custom-user-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("t{}.db", NEXT.fetch_add(1, Ordering::Relaxed)));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

struct Harness {
    processor: WebhookProcessor<SqliteStore>,
    profiles: Profiles,
    sender: WebhookSender,
}

impl Harness {
    async fn new() -> Self {
        let store = fresh_store().await;
        let profiles = Profiles::new(&store);
        profiles.migrate().await.unwrap();
        profiles.migrate().await.unwrap(); // idempotent
        let clock = ManualClock::at(UnixTime::from_millis(BASE_TIME_MS + 60_000));
        let processor = WebhookProcessor::new(Webhook::new(TEST_SECRET).unwrap(), store)
            .with_clock(clock.clone())
            .with_listener(ProfileOnSignUp::new(profiles.clone()));
        let sender = WebhookSender::new("http://127.0.0.1:9/", TEST_SECRET).clock(clock);
        Harness {
            processor,
            profiles,
            sender,
        }
    }

    async fn send(&self, id: &str, body: &Value) -> ProcessOutcome {
        let d = self
            .sender
            .delivery(bodies::to_bytes(body))
            .msg_id(id.to_owned());
        self.processor.process(&d.headers(), &d.body()).await
    }

    async fn deliver_as(&self, id: &str, body: &Value) {
        let outcome = self.send(id, body).await;
        assert!(
            matches!(outcome, ProcessOutcome::Applied { .. }),
            "{outcome:?}"
        );
    }

    async fn deliver(&self, body: &Value) {
        self.deliver_as(&random_msg_id(), body).await;
    }

    async fn company_of(&self, clerk_id: &str) -> Option<String> {
        self.profiles
            .app_user_by_clerk_id(clerk_id)
            .await
            .unwrap()
            .unwrap()
            .company
    }
}

#[tokio::test]
async fn company_survives_every_webhook() {
    let h = Harness::new().await;
    // Sign-up: the listener seeds the profile from the sign-up form's unsafe metadata.
    let signup = UserBody::new("user_ada", "ada@example.com")
        .unsafe_metadata(json!({"company": "Initech"}))
        .event("user.created");
    h.deliver_as("msg_signup", &signup).await;
    assert_eq!(h.company_of("user_ada").await.as_deref(), Some("Initech"));

    // The application changes it.
    let id = h
        .profiles
        .app_user_by_clerk_id("user_ada")
        .await
        .unwrap()
        .unwrap()
        .user
        .id;
    h.profiles.set_company(id, Some("Acme")).await.unwrap();

    // Every kind of later webhook leaves it alone.
    let newer = UserBody::new("user_ada", "ada@new.example")
        .first_name("Ada")
        .unsafe_metadata(json!({"company": "Something else"}))
        .updated_at(BASE_TIME_MS + 50_000)
        .event("user.updated");
    h.deliver(&newer).await;
    let older = UserBody::new("user_ada", "ada@old.example")
        .first_name("Old")
        .updated_at(BASE_TIME_MS + 10_000)
        .event("user.updated");
    h.deliver(&older).await;
    let replay = h.send("msg_signup", &signup).await; // a replay
    assert!(matches!(replay, ProcessOutcome::AlreadyProcessed { .. }));
    h.deliver(&signup).await; // the same event under a new svix id: Unchanged
    h.deliver(&SessionBody::new("sess_1", "user_ada").event("session.created"))
        .await;
    h.deliver(&bodies::session_revoked("sess_1", "user_ada"))
        .await;
    let user = h
        .profiles
        .app_user_by_clerk_id("user_ada")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.company.as_deref(), Some("Acme"));
    assert_eq!(user.user.id, id);
    assert_eq!(user.user.first_name.as_deref(), Some("Ada"));
    assert_eq!(user.user.email.as_deref(), Some("ada@new.example"));
    assert!(user.user.last_login.is_some() && user.user.last_logout.is_some());

    // Deletion: the row becomes a tombstone with the same id; the profile stays (the
    // application's decision in this example), the user can no longer sign in.
    h.deliver(&bodies::user_deleted("user_ada")).await;
    let gone = h
        .profiles
        .app_user_by_clerk_id("user_ada")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.user.id, id);
    assert!(!gone.user.is_active && gone.user.email.is_none());
    assert_eq!(gone.company.as_deref(), Some("Acme"));

    // Re-sign-up with the same address: a fresh user with a fresh profile.
    let again = UserBody::new("user_ada2", "ada@new.example")
        .created_at(BASE_TIME_MS + 90_000)
        .updated_at(BASE_TIME_MS + 90_000)
        .event("user.created");
    h.deliver(&again).await;
    let fresh = h
        .profiles
        .app_user_by_clerk_id("user_ada2")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(fresh.user.id, id);
    assert!(fresh.user.is_active);
    assert_eq!(fresh.company, None);
    assert_eq!(h.company_of("user_ada").await.as_deref(), Some("Acme"));
}

/// The profile is keyed to `clerk_users.id` with a real foreign key.
#[tokio::test]
async fn profiles_reference_clerk_users() {
    let h = Harness::new().await;
    assert!(h
        .profiles
        .set_company(UserId(4242), Some("Nowhere"))
        .await
        .is_err());
}

/// An update that arrives before the creation creates the row and the profile; the late
/// creation changes neither.
#[tokio::test]
async fn out_of_order_sign_up_still_gets_one_profile() {
    let h = Harness::new().await;
    let update = UserBody::new("user_bo", "bo@example.com")
        .unsafe_metadata(json!({"company": "Globex"}))
        .updated_at(BASE_TIME_MS + 5_000)
        .event("user.updated");
    h.deliver(&update).await;
    assert_eq!(h.company_of("user_bo").await.as_deref(), Some("Globex"));
    let create = UserBody::new("user_bo", "bo@example.com")
        .unsafe_metadata(json!({"company": "Stale"}))
        .event("user.created");
    h.deliver(&create).await;
    assert_eq!(h.company_of("user_bo").await.as_deref(), Some("Globex"));
}
