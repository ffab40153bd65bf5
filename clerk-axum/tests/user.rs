//! [`ClerkUser`]: stored users, just-in-time provisioning through the Backend API, and every
//! rejection, in process.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use axum::{Extension, Json, Router};
use clerk_axum::{ClerkLayer, ClerkUser, UserProvisioning};
use clerk_core::backend_api::{BackendApi, RetryPolicy};
use clerk_core::model::ClerkUserData;
use clerk_core::secret::SecretKey;
use clerk_core::store::{Change, LinkPolicy, StoreWriter, UserStore, WriteBatch};
use clerk_core::time::UnixTime;
use clerk_core::{Authenticator, ClerkConfig, HttpError};
use clerk_store::MemoryStore;
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};
use clerk_testkit::webhooks::bodies::UserBody;
use clerk_testkit::{offline, TestKeyPair, TokenBuilder};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const SECRET: &str = "sk_test_clerk_axum_users";

/// What the fake Backend API answers for `GET /v1/users/{id}`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Clerk {
    /// The user, as Clerk's JSON.
    Serves,
    /// 404 with Clerk's error body.
    NotFound,
    /// 503 every time.
    Down,
}

struct Harness {
    app: Router,
    store: MemoryStore,
    key: TestKeyPair,
    mode: Arc<Mutex<Clerk>>,
    fetches: Arc<AtomicUsize>,
}

fn respond(status: u16, body: &str) -> Result<Response<Vec<u8>>, HttpError> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap())
}

fn harness(with_api: bool) -> Harness {
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
    let store = MemoryStore::new();
    let mode = Arc::new(Mutex::new(Clerk::Serves));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (m, f) = (Arc::clone(&mode), Arc::clone(&fetches));
    let http = move |request: Request<Vec<u8>>| {
        f.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            request.headers()["authorization"],
            format!("Bearer {SECRET}")
        );
        let path = request.uri().path().to_owned();
        let mode = *m.lock().unwrap();
        async move {
            let id = path
                .strip_prefix("/v1/users/")
                .expect("only GET /v1/users/{id}");
            match mode {
                Clerk::Serves => {
                    let user = UserBody::new(id, &format!("{id}@example.com"))
                        .first_name("Ada")
                        .last_name("Lovelace")
                        .username("ada")
                        .build();
                    respond(200, &user.to_string())
                }
                Clerk::NotFound => respond(
                    404,
                    r#"{"errors":[{"code":"resource_not_found","message":"not found"}]}"#,
                ),
                Clerk::Down => respond(503, ""),
            }
        }
    };
    let api = BackendApi::new(
        Arc::new(http),
        "https://api.clerk.test",
        SecretKey::new(SECRET),
        Arc::new(|_d: Duration| async {}),
    )
    .with_retry_policy(RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    });
    let mut users = UserProvisioning::new(store.clone());
    if with_api {
        users = users.with_backend_api(api);
    }
    let app = Router::new()
        .route("/me", get(me))
        .layer(Extension(users))
        .layer(ClerkLayer::new(authenticator));
    Harness {
        app,
        store,
        key,
        mode,
        fetches,
    }
}

async fn me(user: ClerkUser) -> Json<Value> {
    Json(json!({
        "clerk_id": user.clerk_id,
        "email": user.email,
        "first_name": user.first_name,
        "session_id": user.auth.session_id,
    }))
}

impl Harness {
    async fn get(&self, token: Option<&str>) -> (StatusCode, Option<String>, Value) {
        get_from(&self.app, token).await
    }

    fn token(&self, sub: &str) -> String {
        TokenBuilder::v2(&self.key)
            .subject(sub)
            .session_id("sess_1")
            .sign()
    }
}

async fn get_from(app: &Router, token: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::get("/me");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, challenge, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_stored_user_is_served_from_the_store_without_calling_clerk() {
    let h = harness(true);
    let now = UnixTime::from_secs(1_700_000_000);
    let data = ClerkUserData::new("user_1", now, now).with_email("grace@example.com", true);
    let change = Change::UpsertUser {
        data,
        link: LinkPolicy::Never,
    };
    let _ = h
        .store
        .apply(WriteBatch::single(now, change))
        .await
        .unwrap();
    let (status, _, body) = h.get(Some(&h.token("user_1"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "grace@example.com");
    assert_eq!(body["session_id"], "sess_1");
    assert_eq!(h.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_missing_user_is_fetched_once_and_stored() {
    let h = harness(true);
    let token = h.token("user_new");
    let (status, _, body) = h.get(Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["clerk_id"], "user_new");
    assert_eq!(body["email"], "user_new@example.com");
    assert_eq!(body["first_name"], "Ada");
    assert_eq!(h.fetches.load(Ordering::SeqCst), 1);
    let stored = h.store.user_by_clerk_id("user_new").await.unwrap().unwrap();
    assert_eq!(stored.last_name.as_deref(), Some("Lovelace"));
    assert!(stored.clerk_updated_at.is_some());

    // Now it is local: Clerk is not asked again, even when it is down.
    *h.mode.lock().unwrap() = Clerk::Down;
    let (status, _, _) = h.get(Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(h.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn clerk_404_is_401_user_not_found() {
    let h = harness(true);
    *h.mode.lock().unwrap() = Clerk::NotFound;
    let (status, challenge, body) = h.get(Some(&h.token("user_ghost"))).await;
    assert_eq!(status, 401);
    assert!(challenge.unwrap().starts_with("Bearer"));
    assert_eq!(
        body,
        json!({ "error": "unauthenticated", "reason": "user-not-found" })
    );
    assert!(h
        .store
        .user_by_clerk_id("user_ghost")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn clerk_down_is_503_and_nothing_is_stored() {
    let h = harness(true);
    *h.mode.lock().unwrap() = Clerk::Down;
    let (status, _, body) = h.get(Some(&h.token("user_x"))).await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({ "error": "service_unavailable", "reason": "clerk-unavailable" })
    );
    assert_eq!(h.fetches.load(Ordering::SeqCst), 2, "retried per policy");
    assert!(h.store.user_by_clerk_id("user_x").await.unwrap().is_none());
}

#[tokio::test]
async fn signed_out_and_bad_tokens_are_401_before_any_lookup() {
    let h = harness(true);
    let (status, challenge, body) = h.get(None).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert_eq!(body["reason"], "session-token-missing");
    let forged = TokenBuilder::v2(&h.key)
        .subject("user_1")
        .sign_with(&TestKeyPair::fixed(1));
    let (status, _, body) = h.get(Some(&forged)).await;
    assert_eq!(status, 401);
    assert_eq!(body["reason"], "token-invalid-signature");
    assert_eq!(h.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_deleted_user_is_401_user_deleted_and_clerk_is_not_asked() {
    let h = harness(true);
    let now = UnixTime::from_secs(1_700_000_000);
    let change = Change::DeleteUser {
        clerk_id: "user_gone".into(),
        at: now,
    };
    let _ = h
        .store
        .apply(WriteBatch::single(now, change))
        .await
        .unwrap();
    let (status, _, body) = h.get(Some(&h.token("user_gone"))).await;
    assert_eq!(status, 401);
    assert_eq!(body["reason"], "user-deleted");
    assert_eq!(h.fetches.load(Ordering::SeqCst), 0);
}

/// The fetched user's email is held by a local account (which Clerk data never takes over):
/// a permanent conflict, answered 409 `user-conflict`, not 503 (retrying changes nothing).
#[tokio::test]
async fn a_fetched_user_whose_email_a_local_account_holds_is_409() {
    let h = harness(true);
    let now = UnixTime::from_secs(1_700_000_000);
    let mut local = clerk_core::model::NewLocalUser::new("taken");
    local.email = Some("user_clash@example.com".into());
    let _ = h
        .store
        .apply(WriteBatch::single(now, Change::CreateLocalUser(local)))
        .await
        .unwrap();
    let (status, _, body) = h.get(Some(&h.token("user_clash"))).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body,
        json!({"error": "conflict", "reason": "user-conflict"})
    );
    assert!(h
        .store
        .user_by_clerk_id("user_clash")
        .await
        .unwrap()
        .is_none());
}

/// On the stateless path too, a stored user refuses a banned user and a revoked `sid`
/// (401 with the reason), however valid the token.
#[tokio::test]
async fn a_banned_user_or_a_revoked_session_is_401_with_the_reason() {
    let h = harness(true);
    let now = UnixTime::from_secs(1_700_000_000);
    let mut banned = clerk_core::model::ClerkUserData::new("user_banned", now, now);
    banned.banned = true;
    let ok = clerk_core::model::ClerkUserData::new("user_ok", now, now);
    for data in [banned, ok] {
        let _ = h
            .store
            .apply(WriteBatch::single(
                now,
                Change::UpsertUser {
                    data,
                    link: clerk_core::store::LinkPolicy::Never,
                },
            ))
            .await
            .unwrap();
    }
    let (status, _, body) = h.get(Some(&h.token("user_banned"))).await;
    assert_eq!(
        (status.as_u16(), body["reason"].as_str()),
        (401, Some("user-banned"))
    );

    let token = h.token("user_ok");
    assert_eq!(h.get(Some(&token)).await.0, 200);
    let sid = clerk_core::session::TokenIdentity::peek(&token)
        .and_then(|identity| identity.session_id)
        .expect("the token has a sid");
    let _ = h
        .store
        .apply(WriteBatch::single(
            now,
            Change::RevokeSession(clerk_core::model::RevokedSession::new(
                sid,
                Some("user_ok".into()),
                "revoked",
                now,
            )),
        ))
        .await
        .unwrap();
    let (status, _, body) = h.get(Some(&token)).await;
    assert_eq!(
        (status.as_u16(), body["reason"].as_str()),
        (401, Some("session-revoked"))
    );
}

#[tokio::test]
async fn without_a_backend_api_a_missing_user_is_401() {
    let h = harness(false);
    let (status, _, body) = h.get(Some(&h.token("user_1"))).await;
    assert_eq!(status, 401);
    assert_eq!(body["reason"], "user-not-found");
}

#[tokio::test]
async fn without_the_extension_the_extractor_is_a_clear_500() {
    let h = harness(true);
    let key = h.key.clone();
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
    let app = Router::new()
        .route("/me", get(me))
        .layer(ClerkLayer::new(authenticator));
    let (status, _, body) = get_from(&app, Some(&h.token("user_1"))).await;
    assert_eq!(status, 500);
    assert_eq!(body["reason"], "user-provisioning-missing");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("ClerkUser needs a store"));
}
