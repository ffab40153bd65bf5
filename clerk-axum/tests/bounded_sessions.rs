//! Bounded sessions ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation))
//! through the one-liner builder: at most 16 records per Clerk session however often one
//! token is replayed without the app's cookie, and records that go unused for
//! `CLERK_SESSION_IDLE_SECONDS` end and are evicted. A manual clock drives the lifetimes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use clerk_axum::session::{ClerkSessionStore, MemorySessionStore, COOKIE_NAME};
use clerk_axum::{Clerk, ClerkAuth};
use clerk_core::ClerkConfig;
use clerk_store::MemoryStore;
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};
use clerk_testkit::{offline, ManualClock, TestKeyPair, TokenBuilder};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const IDLE: Duration = Duration::from_secs(600);

async fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id }))
}

struct Harness {
    app: Router,
    clock: ManualClock,
    key: TestKeyPair,
    records: Arc<MemorySessionStore>,
}

fn harness() -> Harness {
    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let config = ClerkConfig::builder()
        .secret_key("sk_test_bounded")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .session_revalidation(Duration::from_secs(3600))
        .session_idle(IDLE)
        .build()
        .unwrap();
    let records = Arc::new(MemorySessionStore::new());
    let sessions =
        ClerkSessionStore::new(records.clone(), &config).with_clock(Arc::new(clock.clone()));
    let clerk = Clerk::builder(config, Arc::new(MemoryStore::new()))
        .http_client(Arc::new(offline::jwks_client(&[&key])))
        .clock(Arc::new(clock.clone()))
        .sessions(sessions)
        .build()
        .unwrap();
    let app = clerk.install(Router::new().route("/me", get(me)));
    Harness {
        app,
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

    /// `GET /me` with the given cookies; the answer's status, body and new session cookie.
    async fn get(&self, cookie: &str) -> (StatusCode, Value, Option<String>) {
        let request = Request::get("/me")
            .header(COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let set = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{COOKIE_NAME}=")))
            .map(|rest| rest.split(';').next().unwrap_or_default().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            set,
        )
    }
}

#[tokio::test]
async fn replaying_one_token_without_the_app_cookie_keeps_at_most_16_records() {
    let h = harness();
    let clerk_cookie = format!("__session={}", h.token());
    for n in 0..500 {
        let (status, body, set) = h.get(&clerk_cookie).await;
        assert_eq!(status, StatusCode::OK, "replay {n}: {body}");
        assert!(set.is_some(), "replay {n} established a session");
    }
    assert_eq!(h.records.len(), 16, "{:?}", h.records);
}

#[tokio::test]
async fn an_idle_session_ends_and_is_evicted() {
    let h = harness();
    let (status, _, set) = h.get(&format!("__session={}", h.token())).await;
    assert_eq!(status, StatusCode::OK);
    let app_cookie = format!("{COOKIE_NAME}={}", set.unwrap());
    // Served from the session alone, well inside the idle time.
    h.clock.advance(Duration::from_secs(300));
    let (status, body, _) = h.get(&app_cookie).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Unused for the idle time: ended (not "revalidate"), and gone from the store.
    h.clock.advance(IDLE);
    let (status, body, _) = h.get(&app_cookie).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["reason"], "session-token-missing", "{body}");
    assert_eq!(h.records.len(), 0, "the expired record was evicted");
}

#[tokio::test]
async fn activity_keeps_a_session_alive_past_the_idle_time() {
    let h = harness();
    let (_, _, set) = h.get(&format!("__session={}", h.token())).await;
    let app_cookie = format!("{COOKIE_NAME}={}", set.unwrap());
    // A request every 5 minutes for 55 minutes (the revalidation interval is an hour): five
    // idle times, never idle for one.
    for step in 0..11 {
        h.clock.advance(Duration::from_secs(300));
        let (status, body, _) = h.get(&app_cookie).await;
        assert_eq!(status, StatusCode::OK, "step {step}: {body}");
    }
    assert_eq!(h.records.len(), 1);
}

/// The stateless path (no session mode) with a mirror: a revoked `sid` or a banned user is
/// refused at once, not when the token expires (`clerk_testkit::standing`, shared with
/// clerk-rocket).
#[tokio::test]
async fn stateless_requests_with_a_mirror_refuse_revoked_sessions_and_banned_users() {
    use clerk_core::store::Store;

    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let config = ClerkConfig::builder()
        .secret_key("sk_test_stateless")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clerk = Clerk::builder(config, Arc::clone(&store))
        .http_client(Arc::new(offline::jwks_client(&[&key])))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let app = clerk.install(Router::new().route("/me", get(me)));
    clerk_testkit::standing::run(&*store, &clock, &key, |token| {
        let request = Request::get("/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    })
    .await;
}
