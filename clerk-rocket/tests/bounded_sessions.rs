//! Bounded sessions ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)):
//! at most 16 records per Clerk session however often one token is replayed without the app's
//! cookie, and records unused for `CLERK_SESSION_IDLE_SECONDS` end and are evicted; the same
//! cases as clerk-axum's, on a manual clock.
//! And the stateless path with a mirror refuses revoked sessions and banned users at once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use clerk_rocket::session::{MemorySessionStore, COOKIE_NAME};
use clerk_rocket::{ClerkAuth, ClerkFairing};
use clerk_store::MemoryStore;
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};
use clerk_testkit::{offline, ManualClock, TestKeyPair, TokenBuilder};
use rocket::get;
use rocket::http::{Cookie, Status};
use rocket::local::asynchronous::Client;
use rocket::routes;
use rocket::serde::json::Json;
use serde_json::{json, Value};

const IDLE: Duration = Duration::from_secs(600);

#[get("/me")]
fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id }))
}

struct Harness {
    client: Client,
    clock: ManualClock,
    key: TestKeyPair,
    records: Arc<MemorySessionStore>,
}

async fn harness() -> Harness {
    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let records = Arc::new(MemorySessionStore::new());
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("clerk.secret_key", "sk_test_bounded"))
        .merge((
            "clerk.publishable_key",
            mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false),
        ))
        .merge(("clerk.frontend_hosts", DEFAULT_AUTHORIZED_PARTY))
        .merge(("clerk.session_revalidation_seconds", 3600))
        .merge(("clerk.session_idle_seconds", IDLE.as_secs()));
    let fairing = ClerkFairing::new()
        .ignore_environment()
        .http_client(Arc::new(offline::jwks_client(&[&key])))
        .clock(Arc::new(clock.clone()))
        .store(Arc::new(MemoryStore::new()))
        .sessions(records.clone());
    let rocket = rocket::custom(figment)
        .attach(fairing)
        .register("/", clerk_rocket::catchers())
        .mount("/", routes![me]);
    Harness {
        // Untracked: cookies are sent only as each test says.
        client: Client::untracked(rocket).await.unwrap(),
        clock,
        key,
        records,
    }
}

impl Harness {
    fn token(&self) -> String {
        TokenBuilder::v2(&self.key)
            .subject("user_1")
            .session_id("sess_1")
            .issued_now_by(&self.clock)
            .sign()
    }

    async fn get(&self, cookie: Cookie<'static>) -> (Status, Value, Option<String>) {
        let response = self.client.get("/me").cookie(cookie).dispatch().await;
        let status = response.status();
        let set = response
            .cookies()
            .get(COOKIE_NAME)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty());
        let body = response.into_string().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::Null),
            set,
        )
    }
}

#[rocket::async_test]
async fn replaying_one_token_without_the_app_cookie_keeps_at_most_16_records() {
    let h = harness().await;
    let token = h.token();
    for n in 0..500 {
        let (status, body, set) = h.get(Cookie::new("__session", token.clone())).await;
        assert_eq!(status, Status::Ok, "replay {n}: {body}");
        assert!(set.is_some(), "replay {n} established a session");
    }
    assert_eq!(h.records.len(), 16, "{:?}", h.records);
}

#[rocket::async_test]
async fn an_idle_session_ends_and_is_evicted() {
    let h = harness().await;
    let (status, _, set) = h.get(Cookie::new("__session", h.token())).await;
    assert_eq!(status, Status::Ok);
    let id = set.unwrap();
    h.clock.advance(Duration::from_secs(300));
    let (status, body, _) = h.get(Cookie::new(COOKIE_NAME, id.clone())).await;
    assert_eq!(status, Status::Ok, "{body}");
    h.clock.advance(IDLE);
    let (status, body, _) = h.get(Cookie::new(COOKIE_NAME, id)).await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(body["reason"], "session-token-missing", "{body}");
    assert_eq!(h.records.len(), 0, "the expired record was evicted");
}

#[rocket::async_test]
async fn activity_keeps_a_session_alive_past_the_idle_time() {
    let h = harness().await;
    let (_, _, set) = h.get(Cookie::new("__session", h.token())).await;
    let id = set.unwrap();
    for step in 0..11 {
        h.clock.advance(Duration::from_secs(300));
        let (status, body, _) = h.get(Cookie::new(COOKIE_NAME, id.clone())).await;
        assert_eq!(status, Status::Ok, "step {step}: {body}");
    }
    assert_eq!(h.records.len(), 1);
}

/// The stateless path (no session mode) with a mirror: a revoked `sid` or a banned user is
/// refused at once, not when the token expires (`clerk_testkit::standing`, shared with
/// clerk-axum).
#[rocket::async_test]
async fn stateless_requests_with_a_mirror_refuse_revoked_sessions_and_banned_users() {
    use clerk_core::store::Store;
    use rocket::http::Header;

    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("clerk.secret_key", "sk_test_stateless"))
        .merge((
            "clerk.publishable_key",
            mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false),
        ))
        .merge(("clerk.frontend_hosts", DEFAULT_AUTHORIZED_PARTY));
    let fairing = ClerkFairing::new()
        .ignore_environment()
        .http_client(Arc::new(offline::jwks_client(&[&key])))
        .clock(Arc::new(clock.clone()))
        .store(Arc::clone(&store));
    let rocket = rocket::custom(figment)
        .attach(fairing)
        .register("/", clerk_rocket::catchers())
        .mount("/", routes![me]);
    let client = Client::untracked(rocket).await.unwrap();
    clerk_testkit::standing::run(&*store, &clock, &key, |token| {
        let request = client
            .get("/me")
            .header(Header::new("Authorization", format!("Bearer {token}")));
        async move {
            let response = request.dispatch().await;
            let status = response.status().code;
            let body = response.into_string().await.unwrap_or_default();
            (
                status,
                serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    })
    .await;
}
