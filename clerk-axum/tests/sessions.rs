//! Session mode and hybrid mode, in process (`Router::oneshot` with a cookie jar carried by
//! hand) on a ManualClock: every [design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation) rule, local staff sessions, and 503s when a store
//! is down.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use clerk_axum::session::{cookie_layer, LocalStaff, SessionMode, StaffSession, COOKIE_NAME};
use clerk_axum::{ClerkAuth, ClerkLayer};
use clerk_core::model::{
    Invitation, Membership, NewLocalUser, Organization, RevokedSession, User, UserId, WebhookEvent,
};
use clerk_core::password::hash_password;
use clerk_core::session::RevalidationPolicy;
use clerk_core::store::{
    BatchOutcome, Change, LedgerStore, LoginAttemptStore, OrganizationStore, Store, StoreError,
    StoreWriter, UserStore, WriteBatch,
};
use clerk_core::time::{Clock, UnixTime};
use clerk_core::{Authenticator, ClerkConfig, HttpClient, HttpError};
use clerk_store::MemoryStore;
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};
use clerk_testkit::webhooks::bodies::{self, UserBody};
use clerk_testkit::webhooks::{WebhookSender, TEST_SECRET};
use clerk_testkit::{offline, ManualClock, TestKeyPair, TokenBuilder};
use clerk_webhooks::{Webhook, WebhookProcessor};
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;
use tower_sessions::Session;

const WINDOW: Duration = Duration::from_secs(300);
const STAFF_PASSWORD: &str = "a long staff passphrase";

/// A store that can be switched off: every call fails with an "unavailable" error.
#[derive(Clone)]
struct Switchable {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
}

impl Switchable {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("switched off"))
        } else {
            Ok(())
        }
    }
}

macro_rules! forward {
    ($self:ident, $method:ident($($arg:expr),*)) => {{
        $self.check()?;
        $self.inner.$method($($arg),*).await
    }};
}

#[clerk_core::store::async_trait]
impl UserStore for Switchable {
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        forward!(self, user(id))
    }
    async fn user_by_clerk_id(&self, clerk_id: &str) -> Result<Option<User>, StoreError> {
        forward!(self, user_by_clerk_id(clerk_id))
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        forward!(self, user_by_email(email))
    }
    async fn local_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        forward!(self, local_user_by_username(username))
    }
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        forward!(self, list_users(after, limit))
    }
}

#[clerk_core::store::async_trait]
impl OrganizationStore for Switchable {
    async fn organization(&self, clerk_id: &str) -> Result<Option<Organization>, StoreError> {
        forward!(self, organization(clerk_id))
    }
    async fn list_organizations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        forward!(self, list_organizations(after, limit))
    }
    async fn membership(&self, clerk_id: &str) -> Result<Option<Membership>, StoreError> {
        forward!(self, membership(clerk_id))
    }
    async fn memberships_of_user(
        &self,
        user_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        forward!(self, memberships_of_user(user_clerk_id))
    }
    async fn memberships_of_organization(
        &self,
        organization_clerk_id: &str,
    ) -> Result<Vec<Membership>, StoreError> {
        forward!(self, memberships_of_organization(organization_clerk_id))
    }
    async fn invitation(&self, clerk_id: &str) -> Result<Option<Invitation>, StoreError> {
        forward!(self, invitation(clerk_id))
    }
}

#[clerk_core::store::async_trait]
impl LedgerStore for Switchable {
    async fn webhook_event(&self, svix_id: &str) -> Result<Option<WebhookEvent>, StoreError> {
        forward!(self, webhook_event(svix_id))
    }
    async fn revoked_session(
        &self,
        session_id: &str,
    ) -> Result<Option<RevokedSession>, StoreError> {
        forward!(self, revoked_session(session_id))
    }
    async fn held_event(
        &self,
        svix_id: &str,
    ) -> Result<Option<clerk_core::model::HeldEvent>, StoreError> {
        forward!(self, held_event(svix_id))
    }
    async fn held_events(
        &self,
        limit: usize,
    ) -> Result<Vec<clerk_core::model::HeldEvent>, StoreError> {
        forward!(self, held_events(limit))
    }
    async fn count_held_events(&self) -> Result<u64, StoreError> {
        forward!(self, count_held_events())
    }
}

#[clerk_core::store::async_trait]
impl LoginAttemptStore for Switchable {
    async fn record_login_failure(
        &self,
        keys: &[&str],
        at: UnixTime,
        forget_before: UnixTime,
    ) -> Result<(), StoreError> {
        forward!(self, record_login_failure(keys, at, forget_before))
    }
    async fn recent_login_failures(
        &self,
        key: &str,
        since: UnixTime,
        limit: usize,
    ) -> Result<Vec<UnixTime>, StoreError> {
        forward!(self, recent_login_failures(key, since, limit))
    }
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        forward!(self, clear_login_failures(key))
    }
}

#[clerk_core::store::async_trait]
impl StoreWriter for Switchable {
    async fn apply(&self, batch: WriteBatch) -> Result<BatchOutcome, StoreError> {
        forward!(self, apply(batch))
    }
}

/// tower-sessions' MemoryStore that can be switched off.
#[derive(Debug, Clone, Default)]
struct SessionBackend {
    inner: tower_sessions::MemoryStore,
    down: Arc<AtomicBool>,
    loads: Arc<AtomicUsize>,
}

impl SessionBackend {
    fn check(&self) -> session_store::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(session_store::Error::Backend("switched off".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl session_store::SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.check()?;
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.check()?;
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.check()?;
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.check()?;
        self.inner.delete(id).await
    }
}

/// Counts JWKS fetches and every call reaching the key source.
#[derive(Clone)]
struct CountingJwks<C> {
    inner: C,
    calls: Arc<AtomicUsize>,
}

impl<C: HttpClient> HttpClient for CountingJwks<C> {
    fn send(
        &self,
        request: axum::http::Request<Vec<u8>>,
    ) -> BoxFuture<'static, Result<axum::http::Response<Vec<u8>>, HttpError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.send(request)
    }
}

struct Harness {
    app: Router,
    clock: ManualClock,
    key: TestKeyPair,
    store: MemoryStore,
    users_down: Arc<AtomicBool>,
    sessions: SessionBackend,
    processor: WebhookProcessor<MemoryStore>,
    sender: WebhookSender,
}

async fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id, "session_id": auth.session_id }))
}

async fn public(auth: Option<ClerkAuth>) -> Json<Value> {
    Json(json!({ "signed_in": auth.is_some() }))
}

async fn staff(staff: LocalStaff) -> Json<Value> {
    Json(json!({ "username": staff.username }))
}

async fn login(staff: StaffSession, Json(form): Json<Value>) -> StatusCode {
    let username = form["username"].as_str().unwrap_or_default();
    let password = form["password"].as_str().unwrap_or_default();
    match staff.login(username, password).await {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        Err(clerk_axum::session::StaffLoginError::Throttled { .. }) => {
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(_) => StatusCode::UNAUTHORIZED,
    }
}

async fn logout(staff: StaffSession) -> StatusCode {
    match staff.logout().await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A route that puts application data in an anonymous session (to watch the id rotate).
async fn visit(session: Session) -> StatusCode {
    let visits: u32 = session.get("visits").await.unwrap().unwrap_or(0);
    session.insert("visits", visits + 1).await.unwrap();
    StatusCode::NO_CONTENT
}

fn harness() -> Harness {
    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let config = ClerkConfig::builder()
        .secret_key("sk_test_sessions")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(offline::jwks_client(&[&key]))
        .clock(clock.clone())
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let users_down = Arc::new(AtomicBool::new(false));
    let switchable: Arc<dyn Store> = Arc::new(Switchable {
        inner: store.clone(),
        down: Arc::clone(&users_down),
    });
    let sessions = SessionBackend::default();
    let mode = SessionMode::new(switchable, RevalidationPolicy::new(WINDOW));
    let app = Router::new()
        .route("/me", get(me))
        .route("/public", get(public))
        .route("/staff", get(staff))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/visit", post(visit))
        .layer(ClerkLayer::new(authenticator).with_sessions(mode))
        .layer(cookie_layer(sessions.clone()));
    let processor = WebhookProcessor::new(Webhook::new(TEST_SECRET).unwrap(), store.clone())
        .with_clock(clock.clone());
    let sender =
        WebhookSender::new("http://app.test/webhooks/clerk", TEST_SECRET).clock(clock.clone());
    Harness {
        app,
        clock,
        key,
        store,
        users_down,
        sessions,
        processor,
        sender,
    }
}

/// One answer, with the session cookie the response set (`Some("")` when it removed it).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    set_cookie: Option<String>,
}

impl Answer {
    fn set_cookie_attributes(&self) -> String {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with(&format!("{COOKIE_NAME}=")))
            .unwrap_or_default()
    }
}

/// A browser's cookie jar for the one session cookie.
#[derive(Default, Clone)]
struct Jar(Option<String>);

impl Harness {
    fn token(&self, user: &str, sid: &str) -> String {
        TokenBuilder::v2(&self.key)
            .subject(user)
            .session_id(sid)
            .issued_now_by(&self.clock)
            .sign()
    }

    async fn send(
        &self,
        jar: &mut Jar,
        request: axum::http::request::Builder,
        body: Body,
    ) -> Answer {
        let mut request = request.header("host", "localhost:3000");
        if let Some(value) = &jar.0 {
            request = request.header(COOKIE, format!("{COOKIE_NAME}={value}"));
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let set_cookie = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{COOKIE_NAME}=")))
            .map(|rest| {
                let value = rest.split(';').next().unwrap_or_default().to_owned();
                let removed = rest.contains("Max-Age=0") || value.is_empty();
                if removed {
                    String::new()
                } else {
                    value
                }
            });
        if let Some(value) = &set_cookie {
            jar.0 = (!value.is_empty()).then(|| value.clone());
        }
        Answer {
            status,
            headers,
            body,
            set_cookie,
        }
    }

    async fn get(&self, jar: &mut Jar, path: &str, token: Option<&str>) -> Answer {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(jar, request, Body::empty()).await
    }

    async fn post_json(&self, jar: &mut Jar, path: &str, body: Value) -> Answer {
        let request = Request::post(path).header("content-type", "application/json");
        self.send(jar, request, Body::from(body.to_string())).await
    }

    async fn webhook(&self, body: Value) {
        let delivery = self.sender.delivery(bodies::to_bytes(&body));
        let outcome = self
            .processor
            .process(&delivery.headers(), &delivery.body())
            .await;
        assert!(outcome.is_success(), "{outcome:?}");
    }

    /// A signed-in session for `user` (session `sid`); returns the jar.
    async fn signed_in(&self, user: &str, sid: &str) -> Jar {
        let mut jar = Jar::default();
        let answer = self
            .get(&mut jar, "/me", Some(&self.token(user, sid)))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(jar.0.is_some(), "a verified token establishes a session");
        jar
    }

    async fn staff_user(&self, username: &str, is_staff: bool) -> UserId {
        let mut user = NewLocalUser::new(username);
        user.password_hash = Some(hash_password(STAFF_PASSWORD, &[9; 16]).unwrap());
        user.is_staff = is_staff;
        let outcome = self
            .store
            .apply(WriteBatch::single(
                self.clock.now(),
                Change::CreateLocalUser(user),
            ))
            .await
            .unwrap();
        outcome.applied()[0].user_id.unwrap()
    }

    /// A staff login from `peer`, as `into_make_service_with_connect_info` would pass it.
    async fn staff_login_from(
        &self,
        peer: std::net::SocketAddr,
        username: &str,
        password: &str,
    ) -> Answer {
        let request = Request::post("/login")
            .header("content-type", "application/json")
            .extension(axum::extract::ConnectInfo(peer));
        let body = json!({ "username": username, "password": password });
        let mut jar = Jar::default();
        self.send(&mut jar, request, Body::from(body.to_string()))
            .await
    }

    async fn staff_login(&self, jar: &mut Jar, username: &str, password: &str) -> Answer {
        self.post_json(
            jar,
            "/login",
            json!({ "username": username, "password": password }),
        )
        .await
    }
}

#[tokio::test]
async fn a_session_is_served_inside_the_window_without_verifying_a_token() {
    let h = harness();
    let token = h.token("user_1", "sess_1");
    let mut jar = Jar::default();
    let first = h.get(&mut jar, "/me", Some(&token)).await;
    assert_eq!(first.status, 200);
    let attributes = first.set_cookie_attributes();
    assert!(attributes.contains("HttpOnly"), "{attributes}");
    assert!(attributes.contains("SameSite=Lax"), "{attributes}");
    assert!(
        attributes.contains("Secure"),
        "Secure on loopback too (never decided from Host): {attributes}"
    );

    // The token (60 s) has expired; the session (300 s) has not.
    h.clock.advance(Duration::from_secs(200));
    let stateless = h.get(&mut Jar::default(), "/me", Some(&token)).await;
    assert_eq!(stateless.status, 401);
    assert_eq!(stateless.body["reason"], "token-expired");

    // The same expired token, and no token at all, are served from the session: nothing was
    // verified (an expired token cannot verify).
    let with_token = h.get(&mut jar, "/me", Some(&token)).await;
    assert_eq!(with_token.status, 200, "{}", with_token.body);
    assert_eq!(with_token.body["user_id"], "user_1");
    assert_eq!(with_token.body["session_id"], "sess_1");
    let without = h.get(&mut jar, "/me", None).await;
    assert_eq!(without.status, 200);
    assert_eq!(without.body["user_id"], "user_1");
    assert_eq!(
        without.set_cookie, None,
        "serving does not rewrite the cookie"
    );
    assert_eq!(
        h.get(&mut jar, "/public", None).await.body["signed_in"],
        true
    );
}

#[tokio::test]
async fn after_the_window_a_valid_token_is_required_and_refreshes_the_session() {
    let h = harness();
    let mut jar = h.signed_in("user_1", "sess_1").await;
    let id = jar.0.clone();
    h.clock.advance(WINDOW + Duration::from_secs(1));

    let none = h.get(&mut jar, "/me", None).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.body["reason"], "session-revalidation-required");
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    assert_eq!(
        none.set_cookie, None,
        "the record is kept for the next token"
    );
    assert_eq!(
        h.get(&mut jar, "/public", None).await.body["signed_in"],
        false
    );

    // A stale token does not revalidate.
    let stale = TokenBuilder::v2(&h.key)
        .subject("user_1")
        .session_id("sess_1")
        .issued_at(h.clock.now().saturating_sub(Duration::from_secs(120)))
        .sign();
    let answer = h.get(&mut jar, "/me", Some(&stale)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["reason"], "token-expired");

    let fresh = h
        .get(&mut jar, "/me", Some(&h.token("user_1", "sess_1")))
        .await;
    assert_eq!(fresh.status, 200);
    assert_eq!(jar.0, id, "same identity: refreshed under the same id");
    // A new window starts at the revalidation.
    h.clock.advance(WINDOW - Duration::from_secs(10));
    assert_eq!(h.get(&mut jar, "/me", None).await.status, 200);
}

#[tokio::test]
async fn a_token_for_another_user_replaces_the_session_under_a_new_id() {
    let h = harness();
    let mut jar = h.signed_in("user_1", "sess_1").await;
    let old = jar.clone();
    let other = h
        .get(&mut jar, "/me", Some(&h.token("user_2", "sess_2")))
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body["user_id"], "user_2");
    assert_ne!(jar.0, old.0, "a new identity gets a new session id");
    let later = h.get(&mut jar, "/me", None).await;
    assert_eq!(later.body["user_id"], "user_2");
    assert_eq!(later.body["session_id"], "sess_2");
    // The old id is gone: it is no session at all, never user_1 again.
    let mut old = old;
    let stale = h.get(&mut old, "/me", None).await;
    assert_eq!(stale.status, 401);
    assert_eq!(stale.body["reason"], "session-token-missing");

    // Another sid of the same user is another identity too.
    let third = h
        .get(&mut jar, "/me", Some(&h.token("user_2", "sess_3")))
        .await;
    assert_eq!(third.body["session_id"], "sess_3");
}

#[tokio::test]
async fn an_unverifiable_token_for_another_user_ends_the_session_without_signing_in() {
    let h = harness();
    let mut jar = h.signed_in("user_1", "sess_1").await;
    let forged = TokenBuilder::v2(&TestKeyPair::fixed(1))
        .subject("user_2")
        .session_id("sess_2")
        .issued_now_by(&h.clock)
        .sign();
    let answer = h.get(&mut jar, "/me", Some(&forged)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.set_cookie.as_deref(),
        Some(""),
        "the session was ended"
    );
    assert_eq!(h.get(&mut jar, "/me", None).await.status, 401);
}

#[tokio::test]
async fn a_session_revoked_webhook_ends_the_session_at_the_next_request() {
    let h = harness();
    let mut jar = h.signed_in("user_1", "sess_1").await;
    let mut other = h.signed_in("user_1", "sess_other").await;
    h.webhook(bodies::session_revoked("sess_1", "user_1")).await;

    let answer = h.get(&mut jar, "/me", None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["reason"], "session-token-missing");
    assert_eq!(
        answer.set_cookie.as_deref(),
        Some(""),
        "the cookie is removed"
    );
    // The user's other session is untouched.
    assert_eq!(h.get(&mut other, "/me", None).await.status, 200);
}

#[tokio::test]
async fn a_banned_user_is_signed_out_at_the_next_request() {
    let h = harness();
    h.webhook(bodies::user_created("user_1", "ada@example.com"))
        .await;
    let mut jar = h.signed_in("user_1", "sess_1").await;
    assert_eq!(h.get(&mut jar, "/me", None).await.status, 200);

    let banned = UserBody::new("user_1", "ada@example.com")
        .banned(true)
        .updated_at(h.clock.now().as_millis())
        .event("user.updated");
    h.webhook(banned).await;
    let answer = h.get(&mut jar, "/me", None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.set_cookie.as_deref(), Some(""));
    assert_eq!(
        h.get(&mut jar, "/public", None).await.body["signed_in"],
        false
    );
}

#[tokio::test]
async fn a_deleted_user_is_signed_out_at_the_next_request() {
    let h = harness();
    h.webhook(bodies::user_created("user_1", "ada@example.com"))
        .await;
    let mut jar = h.signed_in("user_1", "sess_1").await;
    h.webhook(bodies::user_deleted("user_1")).await;
    assert_eq!(h.get(&mut jar, "/me", None).await.status, 401);
}

#[tokio::test]
async fn establishing_an_identity_rotates_the_session_id() {
    let h = harness();
    let mut jar = Jar::default();
    assert_eq!(h.post_json(&mut jar, "/visit", json!({})).await.status, 204);
    let anonymous = jar.0.clone().expect("an anonymous session with data");

    let answer = h
        .get(&mut jar, "/me", Some(&h.token("user_1", "sess_1")))
        .await;
    assert_eq!(answer.status, 200);
    let signed_in = jar.0.clone().unwrap();
    assert_ne!(signed_in, anonymous, "no fixation: the id changed");
    // The anonymous id no longer loads anything.
    let mut fixed = Jar(Some(anonymous));
    assert_eq!(h.get(&mut fixed, "/me", None).await.status, 401);
    // The application's data moved along with the rotation.
    assert_eq!(h.post_json(&mut jar, "/visit", json!({})).await.status, 204);
}

#[tokio::test]
async fn a_local_staff_session_ignores_clerk_tokens() {
    let h = harness();
    h.staff_user("admin", true).await;
    let mut jar = Jar::default();
    let login = h.staff_login(&mut jar, "admin", STAFF_PASSWORD).await;
    assert_eq!(login.status, 204);
    let id = jar.0.clone().expect("a staff session");
    assert_eq!(
        h.get(&mut jar, "/staff", None).await.body["username"],
        "admin"
    );

    // A local login is no Clerk session.
    let me = h.get(&mut jar, "/me", None).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.body["reason"], "session-token-missing");

    // A Clerk token on it is verified for that request only: the session is not touched.
    let token = h.token("user_1", "sess_1");
    let with_token = h.get(&mut jar, "/me", Some(&token)).await;
    assert_eq!(with_token.status, 200);
    assert_eq!(with_token.set_cookie, None);
    assert_eq!(jar.0.as_ref(), Some(&id));
    assert_eq!(h.get(&mut jar, "/me", None).await.status, 401);
    assert_eq!(h.get(&mut jar, "/staff", None).await.status, 200);

    // A Clerk token or a Clerk session never opens a staff route.
    let bearer_only = h.get(&mut Jar::default(), "/staff", Some(&token)).await;
    assert_eq!(bearer_only.status, 401);
    assert_eq!(bearer_only.body["reason"], "staff-login-required");
    let mut clerk = h.signed_in("user_1", "sess_1").await;
    assert_eq!(h.get(&mut clerk, "/staff", None).await.status, 401);

    // Logout ends it and records it.
    assert_eq!(
        h.post_json(&mut jar, "/logout", json!({})).await.status,
        204
    );
    assert_eq!(jar.0, None);
    let mut old = Jar(Some(id));
    assert_eq!(h.get(&mut old, "/staff", None).await.status, 401);
    let admin = h
        .store
        .local_user_by_username("admin")
        .await
        .unwrap()
        .unwrap();
    assert!(admin.last_login.is_some() && admin.last_logout.is_some());
}

// `#[tokio::test]` runs one thread: an argon2 check on it would stop every other task.
#[tokio::test]
async fn the_password_check_leaves_the_runtime_free_for_other_requests() {
    let h = harness();
    h.staff_user("admin", true).await;
    let (login, ran) = clerk_testkit::runtime::other_tasks_ran_during(h.staff_login(
        &mut Jar::default(),
        "admin",
        STAFF_PASSWORD,
    ))
    .await;
    assert_eq!(login.status, 204);
    assert!(
        ran > 100,
        "other tasks ran {ran} times during a login: the password check blocked the runtime"
    );
}

/// A staff session ends after an hour without a request, and after twelve hours in all
/// however busy ([design §4]'s defaults): the next request needs a new login.
#[tokio::test]
async fn staff_sessions_end_idle_and_at_their_absolute_limit() {
    let h = harness();
    h.staff_user("admin", true).await;
    let mut jar = Jar::default();
    assert_eq!(
        h.staff_login(&mut jar, "admin", STAFF_PASSWORD)
            .await
            .status,
        204
    );
    h.clock.advance(Duration::from_secs(3599));
    assert_eq!(
        h.get(&mut jar, "/staff", None).await.status,
        200,
        "inside the idle limit"
    );
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        h.get(&mut jar, "/staff", None).await.status,
        401,
        "idle for an hour"
    );

    let mut jar = Jar::default();
    assert_eq!(
        h.staff_login(&mut jar, "admin", STAFF_PASSWORD)
            .await
            .status,
        204
    );
    for _ in 0..23 {
        h.clock.advance(Duration::from_secs(30 * 60));
        assert_eq!(h.get(&mut jar, "/staff", None).await.status, 200, "busy");
    }
    h.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        h.get(&mut jar, "/staff", None).await.status,
        401,
        "twelve hours after the login"
    );
}

#[tokio::test]
async fn staff_login_rotates_the_id_and_replaces_a_clerk_session() {
    let h = harness();
    h.staff_user("admin", true).await;
    let mut jar = h.signed_in("user_1", "sess_1").await;
    let clerk_id = jar.0.clone();
    assert_eq!(
        h.staff_login(&mut jar, "admin", STAFF_PASSWORD)
            .await
            .status,
        204
    );
    assert_ne!(jar.0, clerk_id);
    assert_eq!(h.get(&mut jar, "/staff", None).await.status, 200);
    assert_eq!(
        h.get(&mut jar, "/me", None).await.status,
        401,
        "never mixed"
    );
}

#[tokio::test]
async fn bad_staff_logins_are_refused_and_change_nothing() {
    let h = harness();
    h.staff_user("admin", true).await;
    h.staff_user("clerk", false).await;
    let inactive = h.staff_user("gone", true).await;
    let outcome = h
        .store
        .apply(WriteBatch::single(
            h.clock.now(),
            Change::UpdateLocalFields {
                id: inactive,
                patch: clerk_core::model::LocalUserPatch::default().active(false),
            },
        ))
        .await
        .unwrap();
    assert!(outcome.applied()[0].effect.changed());

    let mut jar = h.signed_in("user_1", "sess_1").await;
    let before = jar.0.clone();
    for (username, password) in [
        ("nobody", STAFF_PASSWORD),
        ("admin", "wrong password"),
        ("clerk", STAFF_PASSWORD),
        ("gone", STAFF_PASSWORD),
        ("", ""),
    ] {
        let answer = h.staff_login(&mut jar, username, password).await;
        assert_eq!(answer.status, 401, "{username}");
        assert_eq!(
            jar.0, before,
            "a refused login leaves the session as it was"
        );
    }
    assert_eq!(h.get(&mut jar, "/me", None).await.status, 200);
    let admin = h
        .store
        .local_user_by_username("admin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.last_login, None);
}

#[tokio::test]
async fn a_staff_user_who_loses_staff_is_signed_out_at_the_next_request() {
    let h = harness();
    let id = h.staff_user("admin", true).await;
    let mut jar = Jar::default();
    h.staff_login(&mut jar, "admin", STAFF_PASSWORD).await;
    assert_eq!(h.get(&mut jar, "/staff", None).await.status, 200);
    let _ = h
        .store
        .apply(WriteBatch::single(
            h.clock.now(),
            Change::UpdateLocalFields {
                id,
                patch: clerk_core::model::LocalUserPatch::default().staff(false),
            },
        ))
        .await
        .unwrap();
    let answer = h.get(&mut jar, "/staff", None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.set_cookie.as_deref(), Some(""));
}

#[tokio::test]
async fn a_user_store_outage_is_503_never_signed_in_or_out() {
    let h = harness();
    h.staff_user("admin", true).await;
    let mut clerk = h.signed_in("user_1", "sess_1").await;
    let mut staff = Jar::default();
    h.staff_login(&mut staff, "admin", STAFF_PASSWORD).await;

    h.users_down.store(true, Ordering::SeqCst);
    for (staff_jar, path) in [(false, "/me"), (false, "/public"), (true, "/staff")] {
        let jar = if staff_jar { &mut staff } else { &mut clerk };
        let answer = h.get(jar, path, None).await;
        assert_eq!(answer.status, 503, "{path}");
        assert_eq!(answer.body["reason"], "user-store-unavailable");
    }
    let login = h
        .staff_login(&mut Jar::default(), "admin", STAFF_PASSWORD)
        .await;
    assert_eq!(login.status, 503);

    // Nothing was lost: back up, both sessions serve again.
    h.users_down.store(false, Ordering::SeqCst);
    assert_eq!(h.get(&mut clerk, "/me", None).await.status, 200);
    assert_eq!(h.get(&mut staff, "/staff", None).await.status, 200);
}

#[tokio::test]
async fn a_session_store_outage_is_503() {
    let h = harness();
    let mut jar = h.signed_in("user_1", "sess_1").await;
    h.sessions.down.store(true, Ordering::SeqCst);
    let answer = h.get(&mut jar, "/me", None).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.body["reason"], "session-store-unavailable");
    let answer = h.get(&mut jar, "/public", None).await;
    assert_eq!(answer.status, 503);
    h.sessions.down.store(false, Ordering::SeqCst);
    assert_eq!(h.get(&mut jar, "/me", None).await.status, 200);
    assert!(h.sessions.loads.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn a_tampered_session_record_ends_the_session() {
    let h = harness();
    let mut jar = h.signed_in("user_1", "sess_1").await;
    // Rewrite the stored record's claims so they name another user than the record.
    let id: Id = jar.0.as_deref().unwrap().parse().unwrap();
    use tower_sessions::SessionStore as _;
    let mut record = h.sessions.inner.load(&id).await.unwrap().unwrap();
    let stored = record
        .data
        .get_mut(clerk_core::session::SESSION_KEY)
        .unwrap();
    stored["claims"] = Value::String(
        stored["claims"]
            .as_str()
            .unwrap()
            .replace("\"user_1\"", "\"user_9\""),
    );
    h.sessions.inner.save(&record).await.unwrap();
    let answer = h.get(&mut jar, "/me", None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.set_cookie.as_deref(), Some(""));
}

#[tokio::test]
async fn without_a_session_manager_extractors_answer_500() {
    let key = TestKeyPair::fixed(0);
    let config = ClerkConfig::builder()
        .secret_key("sk_test_sessions")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(offline::jwks_client(&[&key]))
        .build()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let app = Router::new()
        .route("/me", get(me))
        .route("/staff", get(staff))
        .layer(
            ClerkLayer::new(authenticator)
                .with_sessions(SessionMode::new(store, RevalidationPolicy::new(WINDOW))),
        );
    for path in ["/me", "/staff"] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 500, "{path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["reason"], "session-layer-missing");
    }
}

#[tokio::test]
async fn the_cookie_is_secure_whatever_the_host() {
    let h = harness();
    let request = Request::get("/me")
        .header("host", "app.example.com")
        .header(
            "authorization",
            format!("Bearer {}", h.token("user_1", "sess_1")),
        )
        .body(Body::empty())
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("{COOKIE_NAME}=")), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert_eq!(COOKIE_NAME, "__Host-clerk_session");
}

/// `CLERK_COOKIE_SECURE=false` (a plain-HTTP deployment): no `Secure`, so no `__Host-` prefix.
#[tokio::test]
async fn the_secure_attribute_can_be_turned_off() {
    use tower_sessions::Session;
    async fn touch(session: Session) -> &'static str {
        session.insert("k", 1).await.unwrap();
        "ok"
    }
    let app = Router::new()
        .route("/", get(touch))
        .layer(clerk_axum::session::cookie_layer_with(
            tower_sessions::MemoryStore::default(),
            false,
        ));
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("clerk_session="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn the_revalidation_check_needs_no_key_fetch_while_serving() {
    // Serving from a session never reaches the key source: a JWKS that counts its calls stays
    // at the count the establishing request left.
    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let calls = Arc::new(AtomicUsize::new(0));
    let config = ClerkConfig::builder()
        .secret_key("sk_test_sessions_jwks")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(CountingJwks {
            inner: offline::jwks_client(&[&key]),
            calls: Arc::clone(&calls),
        })
        .clock(clock.clone())
        .build()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let app = Router::new()
        .route("/me", get(me))
        .layer(
            ClerkLayer::new(authenticator)
                .with_sessions(SessionMode::new(store, RevalidationPolicy::new(WINDOW))),
        )
        .layer(cookie_layer(tower_sessions::MemoryStore::default()));
    let token = TokenBuilder::v2(&key)
        .subject("user_1")
        .session_id("sess_1")
        .issued_now_by(&clock)
        .sign();
    let response = app
        .clone()
        .oneshot(
            Request::get("/me")
                .header("host", "localhost")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let after_establishing = calls.load(Ordering::SeqCst);
    assert!(after_establishing >= 1);
    clock.advance(Duration::from_secs(100));
    // A token from an unknown key would make the authenticator fetch the JWKS again; served
    // from the session it is never looked at.
    let unknown = TokenBuilder::v2(&TestKeyPair::fixed(2))
        .subject("user_1")
        .session_id("sess_1")
        .issued_now_by(&clock)
        .sign();
    for _ in 0..3 {
        let response = app
            .clone()
            .oneshot(
                Request::get("/me")
                    .header("host", "localhost")
                    .header("cookie", &cookie)
                    .header("authorization", format!("Bearer {unknown}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), after_establishing);
}

#[tokio::test]
async fn with_establish_from_header_off_only_the_session_cookie_starts_sessions() {
    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let config = ClerkConfig::builder()
        .secret_key("sk_test_sessions_header")
        .publishable_key(mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false))
        .frontend_host(DEFAULT_AUTHORIZED_PARTY)
        .build()
        .unwrap();
    let authenticator = Authenticator::builder(config)
        .http_client(offline::jwks_client(&[&key]))
        .clock(clock.clone())
        .build()
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mode =
        SessionMode::new(store, RevalidationPolicy::new(WINDOW)).establish_from_header(false);
    let app = Router::new()
        .route("/me", get(me))
        .layer(ClerkLayer::new(authenticator).with_sessions(mode))
        .layer(cookie_layer(tower_sessions::MemoryStore::default()));
    let token = TokenBuilder::v2(&key)
        .subject("user_1")
        .session_id("sess_1")
        .issued_now_by(&clock)
        .sign();
    let call = |request: Request<Body>| {
        let app = app.clone();
        async move { app.oneshot(request).await.unwrap() }
    };
    let bearer = call(
        Request::get("/me")
            .header("host", "localhost")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(bearer.status(), 200, "verified statelessly");
    assert!(
        bearer.headers().get(SET_COOKIE).is_none(),
        "no session for an API client"
    );

    let browser = call(
        Request::get("/me")
            .header("host", "localhost")
            .header("cookie", format!("__session={token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(browser.status(), 200);
    let cookie = browser.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    clock.advance(Duration::from_secs(120));
    let served = call(
        Request::get("/me")
            .header("host", "localhost")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        served.status(),
        200,
        "served from the session after the token expired"
    );
}

#[tokio::test]
async fn failed_staff_logins_lock_the_username_then_the_peer_address() {
    let h = harness();
    h.staff_user("ada", true).await;
    h.staff_user("grace", true).await;
    let peer: std::net::SocketAddr = "192.0.2.7:50000".parse().unwrap();
    for _ in 0..5 {
        assert_eq!(h.staff_login_from(peer, "ada", "wrong").await.status, 401);
    }
    // The right password, with or without a peer address: locked for 15 minutes.
    assert_eq!(
        h.staff_login_from(peer, "ada", STAFF_PASSWORD).await.status,
        429
    );
    let mut jar = Jar::default();
    assert_eq!(
        h.staff_login(&mut jar, "ada", STAFF_PASSWORD).await.status,
        429
    );
    h.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        h.staff_login_from(peer, "ada", STAFF_PASSWORD).await.status,
        204
    );

    // 20 failures from one peer (the 5 above are 15 minutes old) lock it for every username.
    for i in 0..20 {
        let name = format!("nobody{i}");
        assert_eq!(h.staff_login_from(peer, &name, "x").await.status, 401);
    }
    assert_eq!(
        h.staff_login_from(peer, "grace", STAFF_PASSWORD)
            .await
            .status,
        429
    );
    let other: std::net::SocketAddr = "192.0.2.8:50000".parse().unwrap();
    assert_eq!(
        h.staff_login_from(other, "grace", STAFF_PASSWORD)
            .await
            .status,
        204
    );
}
