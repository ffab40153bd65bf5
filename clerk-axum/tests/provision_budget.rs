//! Just-in-time provisioning on the request path: bounded by its budget whatever Clerk does,
//! one Backend API call for concurrent requests of one new user, and 503 with `Retry-After`
//! when Clerk is unavailable.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use axum::{Extension, Json, Router};
use clerk_axum::{ClerkLayer, ClerkUser, UserProvisioning};
use clerk_core::backend_api::{BackendApi, CallBudget};
use clerk_core::secret::SecretKey;
use clerk_core::{Authenticator, ClerkConfig, HttpError};
use clerk_store::MemoryStore;
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};
use clerk_testkit::webhooks::bodies::UserBody;
use clerk_testkit::{offline, TestKeyPair, TokenBuilder};
use futures_util::future::{join_all, BoxFuture};
use futures_util::FutureExt as _;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const SECRET: &str = "sk_test_clerk_axum_budget";

type Answer = Result<Response<Vec<u8>>, HttpError>;

fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    Ok(builder.body(body.as_bytes().to_vec()).unwrap())
}

fn user_json(id: &str) -> String {
    UserBody::new(id, &format!("{id}@example.com"))
        .first_name("Ada")
        .build()
        .to_string()
}

struct Harness {
    app: Router,
    key: TestKeyPair,
    fetches: Arc<AtomicUsize>,
}

/// The app with a Backend API whose `GET /v1/users/{id}` is `clerk(id)`, using the Backend
/// API's default (sync) retry policy: the provisioning budget alone must bound the request.
fn harness(
    budget: Option<CallBudget>,
    clerk: impl Fn(String) -> BoxFuture<'static, Answer> + Send + Sync + 'static,
) -> Harness {
    let key = TestKeyPair::fixed(0);
    let config = ClerkConfig::builder()
        .secret_key(SECRET)
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(offline::jwks_client(&[&key]))
        .build()
        .unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let http = move |request: Request<Vec<u8>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let id = request
            .uri()
            .path()
            .strip_prefix("/v1/users/")
            .expect("only GET /v1/users/{id}")
            .to_owned();
        clerk(id)
    };
    let api = BackendApi::new(
        Arc::new(http),
        "https://api.clerk.test",
        SecretKey::new(SECRET),
        Arc::new(tokio::time::sleep),
    );
    let mut users = UserProvisioning::new(MemoryStore::new()).with_backend_api(api);
    if let Some(budget) = budget {
        users = users.with_budget(budget);
    }
    let app = Router::new()
        .route("/me", get(me))
        .layer(Extension(users))
        .layer(ClerkLayer::new(authenticator));
    Harness { app, key, fetches }
}

async fn me(user: ClerkUser) -> Json<Value> {
    Json(json!({ "clerk_id": user.clerk_id }))
}

impl Harness {
    /// `GET /me` as `sub`: status, `Retry-After`, body, and how long it took.
    async fn me(&self, sub: &str) -> (StatusCode, Option<String>, Value, Duration) {
        let token = TokenBuilder::v2(&self.key).subject(sub).sign();
        let request = Request::get("/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let started = Instant::now();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let took = started.elapsed();
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            retry_after,
            serde_json::from_slice(&bytes).unwrap(),
            took,
        )
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

const DEFAULT_BUDGET: Duration = Duration::from_secs(2);
/// Slack for a loaded CI machine.
const SLACK: Duration = Duration::from_millis(500);

#[tokio::test]
async fn clerk_answering_500_costs_at_most_two_tries_within_the_default_budget() {
    let h = harness(None, |_| async { respond(500, &[], "") }.boxed());
    let (status, retry_after, body, took) = h.me("user_new").await;
    assert!(took < DEFAULT_BUDGET + SLACK, "took {took:?}");
    assert_eq!(h.fetches(), 2, "the default budget allows two tries");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"error": "service_unavailable", "reason": "clerk-unavailable"})
    );
    assert_eq!(retry_after.as_deref(), Some("5"));
}

#[tokio::test]
async fn a_429_with_retry_after_30_is_not_waited_for_and_is_passed_on() {
    let h = harness(None, |_| {
        async { respond(429, &[("retry-after", "30")], "") }.boxed()
    });
    let (status, retry_after, body, took) = h.me("user_new").await;
    assert!(took < DEFAULT_BUDGET + SLACK, "took {took:?}");
    assert_eq!(
        h.fetches(),
        1,
        "a Retry-After past the budget is not waited for"
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reason"], "clerk-unavailable");
    assert_eq!(retry_after.as_deref(), Some("30"));
}

#[tokio::test]
async fn a_hanging_clerk_is_cut_off_by_the_configured_budget() {
    let budget = CallBudget {
        tries: 2,
        total: Duration::from_millis(300),
    };
    let h = harness(Some(budget), |_| futures_util::future::pending().boxed());
    let (status, retry_after, body, took) = h.me("user_new").await;
    assert!(took < budget.total + SLACK, "took {took:?}");
    assert!(took >= budget.total, "took {took:?}");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reason"], "clerk-unavailable");
    assert!(retry_after.is_some());
}

#[tokio::test]
async fn twenty_concurrent_requests_for_one_new_user_make_one_backend_api_call() {
    let h = harness(None, |id| {
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            respond(
                200,
                &[("content-type", "application/json")],
                &user_json(&id),
            )
        }
        .boxed()
    });
    let answers = join_all((0..20).map(|_| h.me("user_popular"))).await;
    for (status, _, body, _) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body["clerk_id"], "user_popular");
    }
    assert_eq!(h.fetches(), 1);
    // Stored now: later requests are served from the store.
    let (status, ..) = h.me("user_popular").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.fetches(), 1);
}

#[tokio::test]
async fn twenty_concurrent_requests_while_clerk_is_down_share_its_tries() {
    let h = harness(None, |_| async { respond(503, &[], "") }.boxed());
    let answers = join_all((0..20).map(|_| h.me("user_unlucky"))).await;
    for (status, retry_after, ..) in &answers {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(retry_after.is_some());
    }
    assert_eq!(h.fetches(), 2, "one provisioning, its two tries");
}
