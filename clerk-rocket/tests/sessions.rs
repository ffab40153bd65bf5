//! Session mode and hybrid mode on a test clock ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)), through
//! `rocket::local::asynchronous::Client` (a tracked client keeps cookies like a browser).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clerk_core::model::{ClerkUserData, NewLocalUser, RevokedSession};
use clerk_core::store::{Change, LinkPolicy, Store, WriteBatch};
use clerk_core::time::Clock;
use clerk_core::time::UnixTime;
use clerk_rocket::session::staff::{LocalStaff, StaffSession};
use clerk_rocket::session::{
    MemorySessionStore, SessionStore, SessionStoreError, StoredSession, COOKIE_NAME,
};
use clerk_rocket::{ClerkAuth, ClerkFairing, OptionalClerkAuth};
use clerk_store::MemoryStore;
use clerk_testkit::clock::ManualClock;
use clerk_testkit::mint::{self, DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_HOST};
use clerk_testkit::{offline, TestKeyPair, TokenBuilder};
use rocket::http::{Cookie, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::Json;
use rocket::{get, post, routes};
use serde_json::{json, Value};

const WINDOW: Duration = Duration::from_secs(300);
const PASSWORD: &str = "correct horse battery staple";

#[get("/me")]
fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "user_id": auth.user_id, "session_id": auth.session_id }))
}

#[get("/public")]
fn public(auth: OptionalClerkAuth) -> Json<Value> {
    Json(json!({ "user_id": auth.as_ref().map(|a| a.user_id.clone()) }))
}

#[get("/staff")]
fn staff(staff: LocalStaff) -> Json<Value> {
    Json(json!({ "username": staff.username }))
}

#[post("/login/<username>/<password>")]
async fn login(session: StaffSession<'_>, username: &str, password: &str) -> Status {
    match session.login(username, password).await {
        Ok(_) => Status::NoContent,
        Err(error) if error.is_unavailable() => Status::ServiceUnavailable,
        Err(clerk_rocket::session::staff::StaffLoginError::Throttled { .. }) => {
            Status::TooManyRequests
        }
        Err(_) => Status::Unauthorized,
    }
}

#[post("/logout")]
async fn logout(session: StaffSession<'_>) -> Status {
    match session.logout().await {
        Ok(()) => Status::NoContent,
        Err(_) => Status::ServiceUnavailable,
    }
}

/// Sessions in memory, switchable to failing.
#[derive(Default)]
struct Sessions {
    inner: MemorySessionStore,
    down: AtomicBool,
}

impl Sessions {
    fn check(&self) -> Result<(), SessionStoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(SessionStoreError("down for the test".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl SessionStore for Sessions {
    async fn load(&self, id: &str, now: UnixTime) -> Result<Option<Vec<u8>>, SessionStoreError> {
        self.check()?;
        self.inner.load(id, now).await
    }

    async fn save(
        &self,
        id: &str,
        session: StoredSession,
        now: UnixTime,
    ) -> Result<(), SessionStoreError> {
        self.check()?;
        self.inner.save(id, session, now).await
    }

    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        self.check()?;
        self.inner.delete(id).await
    }

    async fn sweep(&self, now: UnixTime) -> Result<u64, SessionStoreError> {
        self.check()?;
        self.inner.sweep(now).await
    }
}

struct Harness {
    client: Client,
    clock: ManualClock,
    key: TestKeyPair,
    store: Arc<dyn Store>,
    sessions: Arc<Sessions>,
}

async fn harness_with(from_header: bool) -> Harness {
    let key = TestKeyPair::fixed(0);
    let clock = ManualClock::at_system_now();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let sessions = Arc::new(Sessions::default());
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("clerk.secret_key", "sk_test_sessions"))
        .merge((
            "clerk.publishable_key",
            mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false),
        ))
        .merge(("clerk.frontend_hosts", DEFAULT_AUTHORIZED_PARTY))
        .merge(("clerk.session_revalidation_seconds", WINDOW.as_secs()));
    let fairing = ClerkFairing::new()
        .ignore_environment()
        .http_client(Arc::new(offline::jwks_client(&[&key])))
        .clock(Arc::new(clock.clone()))
        .store(Arc::clone(&store))
        .sessions(sessions.clone())
        .establish_sessions_from_header(from_header);
    if let Err(error) = fairing.build_state(&figment) {
        panic!("{error}");
    }
    let rocket = rocket::custom(figment)
        .attach(fairing)
        .register("/", clerk_rocket::catchers())
        .mount("/", routes![me, public, staff, login, logout]);
    Harness {
        client: Client::tracked(rocket).await.unwrap(),
        clock,
        key,
        store,
        sessions,
    }
}

async fn harness() -> Harness {
    harness_with(true).await
}

struct Answer {
    status: Status,
    body: Value,
    set_cookie: Option<String>,
}

async fn answer(response: LocalResponse<'_>) -> Answer {
    let status = response.status();
    let set_cookie = response
        .headers()
        .get("Set-Cookie")
        .find(|c| c.starts_with(&format!("{COOKIE_NAME}=")))
        .map(str::to_owned);
    let body = response
        .into_string()
        .await
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Answer {
        status,
        body,
        set_cookie,
    }
}

impl Harness {
    fn token(&self, user: &str, sid: &str) -> String {
        TokenBuilder::v2(&self.key)
            .subject(user)
            .session_id(sid)
            .authorized_party(DEFAULT_AUTHORIZED_PARTY)
            .issued_now_by(&self.clock)
            .sign()
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(path.to_owned());
        if let Some(token) = token {
            request = request.header(Header::new("Authorization", format!("Bearer {token}")));
        }
        answer(request.dispatch().await).await
    }

    fn session_cookie(&self) -> Option<String> {
        self.client
            .cookies()
            .get(COOKIE_NAME)
            .map(|c| c.value().to_owned())
    }

    async fn apply(&self, change: Change) {
        let _ = self
            .store
            .apply(WriteBatch::single(self.clock.now(), change))
            .await
            .unwrap();
    }

    async fn mirror_user(&self, clerk_id: &str, banned: bool) {
        let now = self.clock.now();
        let mut data = ClerkUserData::new(clerk_id, now, now)
            .with_email(format!("{clerk_id}@example.com"), true);
        data.banned = banned;
        self.apply(Change::UpsertUser {
            data,
            link: LinkPolicy::Never,
        })
        .await;
    }

    async fn staff_user(&self, username: &str, is_staff: bool) {
        let hash = clerk_core::password::hash_password(PASSWORD, &[7; 16]).unwrap();
        let mut user = NewLocalUser::new(username);
        user.password_hash = Some(hash);
        user.is_staff = is_staff;
        self.apply(Change::CreateLocalUser(user)).await;
    }

    /// A login from the peer `remote`.
    async fn login_from(&self, remote: &str, username: &str, password: &str) -> Answer {
        let path = format!("/login/{username}/{}", password.replace(' ', "%20"));
        let remote: std::net::SocketAddr = remote.parse().unwrap();
        answer(self.client.post(path).remote(remote).dispatch().await).await
    }

    async fn login(&self, username: &str, password: &str) -> Answer {
        let path = format!("/login/{username}/{}", password.replace(' ', "%20"));
        answer(self.client.post(path).dispatch().await).await
    }
}

#[tokio::test]
async fn a_session_is_served_inside_the_window_without_a_token() {
    let h = harness().await;
    let token = h.token("user_a", "sess_a");
    let first = h.get("/me", Some(&token)).await;
    assert_eq!(first.status, Status::Ok);
    let cookie = first.set_cookie.expect("a session cookie");
    let attributes = cookie.to_ascii_lowercase();
    assert!(attributes.contains("httponly"), "{cookie}");
    assert!(attributes.contains("samesite=lax"), "{cookie}");
    assert!(attributes.contains("path=/"), "{cookie}");

    h.clock.advance(WINDOW - Duration::from_secs(1));
    let served = h.get("/me", None).await;
    assert_eq!(served.status, Status::Ok, "{}", served.body);
    assert_eq!(
        served.body,
        json!({ "user_id": "user_a", "session_id": "sess_a" })
    );
    assert_eq!(served.set_cookie, None, "serving does not touch the cookie");
}

#[tokio::test]
async fn after_the_window_a_valid_token_is_required_and_refreshes_the_session() {
    let h = harness().await;
    assert_eq!(
        h.get("/me", Some(&h.token("user_a", "sess_a")))
            .await
            .status,
        Status::Ok
    );
    let id = h.session_cookie().unwrap();
    h.clock.advance(WINDOW);

    let stale = h.get("/me", None).await;
    assert_eq!(stale.status, Status::Unauthorized);
    assert_eq!(
        stale.body,
        json!({ "error": "unauthenticated", "reason": "session-revalidation-required" })
    );
    // Optional routes see a signed-out request; the record is kept.
    assert_eq!(
        h.get("/public", None).await.body,
        json!({ "user_id": null })
    );
    assert_eq!(h.session_cookie().as_deref(), Some(id.as_str()));

    // A fresh token for the same identity refreshes the record under the same id.
    let fresh = h.get("/me", Some(&h.token("user_a", "sess_a"))).await;
    assert_eq!(fresh.status, Status::Ok);
    assert_eq!(h.session_cookie().as_deref(), Some(id.as_str()));
    h.clock.advance(WINDOW - Duration::from_secs(1));
    assert_eq!(h.get("/me", None).await.status, Status::Ok);
}

#[tokio::test]
async fn a_token_for_another_user_replaces_the_session_under_a_new_id() {
    let h = harness().await;
    assert_eq!(
        h.get("/me", Some(&h.token("user_a", "sess_a")))
            .await
            .status,
        Status::Ok
    );
    let first = h.session_cookie().unwrap();
    let other = h.get("/me", Some(&h.token("user_b", "sess_b"))).await;
    assert_eq!(other.body["user_id"], "user_b");
    let second = h.session_cookie().unwrap();
    assert_ne!(first, second, "a new identity gets a new session id");
    assert!(h
        .sessions
        .inner
        .load(&first, h.clock.now())
        .await
        .unwrap()
        .is_none());
    let served = h.get("/me", None).await;
    assert_eq!(served.body["user_id"], "user_b", "identities never mix");
}

#[tokio::test]
async fn a_forged_token_for_another_user_ends_the_session_without_signing_in() {
    let h = harness().await;
    assert_eq!(
        h.get("/me", Some(&h.token("user_a", "sess_a")))
            .await
            .status,
        Status::Ok
    );
    let forged = TokenBuilder::v2(&h.key)
        .subject("user_b")
        .session_id("sess_b")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .issued_now_by(&h.clock)
        .sign_with(&TestKeyPair::fixed(2));
    let answer = h.get("/me", Some(&forged)).await;
    assert_eq!(answer.status, Status::Unauthorized);
    assert_eq!(answer.body["reason"], "token-invalid-signature");
    // The old session is gone too.
    let answer = h.get("/me", None).await;
    assert_eq!(answer.status, Status::Unauthorized);
    assert_eq!(answer.body["reason"], "session-token-missing");
}

#[tokio::test]
async fn a_revoked_session_ends_at_the_next_request() {
    let h = harness().await;
    assert_eq!(
        h.get("/me", Some(&h.token("user_a", "sess_a")))
            .await
            .status,
        Status::Ok
    );
    let id = h.session_cookie().unwrap();
    h.apply(Change::RevokeSession(RevokedSession::new(
        "sess_a",
        Some("user_a".into()),
        "revoked",
        h.clock.now(),
    )))
    .await;
    let answer = h.get("/me", None).await;
    assert_eq!(answer.status, Status::Unauthorized);
    assert_eq!(answer.body["reason"], "session-token-missing");
    assert!(h
        .sessions
        .inner
        .load(&id, h.clock.now())
        .await
        .unwrap()
        .is_none());
    assert_eq!(h.session_cookie(), None, "the cookie is removed");
}

#[tokio::test]
async fn a_banned_user_is_signed_out_at_the_next_request() {
    let h = harness().await;
    h.mirror_user("user_a", false).await;
    assert_eq!(
        h.get("/me", Some(&h.token("user_a", "sess_a")))
            .await
            .status,
        Status::Ok
    );
    assert_eq!(h.get("/me", None).await.status, Status::Ok);
    h.clock.advance(Duration::from_secs(1));
    h.mirror_user("user_a", true).await;
    let answer = h.get("/me", None).await;
    assert_eq!(answer.status, Status::Unauthorized, "{}", answer.body);
}

#[tokio::test]
async fn with_establish_from_header_off_only_the_session_cookie_starts_sessions() {
    let h = harness_with(false).await;
    let bearer = h.get("/me", Some(&h.token("user_a", "sess_a"))).await;
    assert_eq!(bearer.status, Status::Ok);
    assert_eq!(bearer.set_cookie, None, "API clients stay stateless");
    assert_eq!(h.get("/me", None).await.status, Status::Unauthorized);

    let browser = h
        .client
        .get("/me")
        .cookie(Cookie::new("__session", h.token("user_c", "sess_c")))
        .dispatch()
        .await;
    let browser = answer(browser).await;
    assert_eq!(browser.status, Status::Ok);
    assert!(browser.set_cookie.is_some());
    assert_eq!(h.get("/me", None).await.body["user_id"], "user_c");
}

#[tokio::test]
async fn a_session_store_outage_is_503_never_signed_in_or_out() {
    let h = harness().await;
    assert_eq!(
        h.get("/me", Some(&h.token("user_a", "sess_a")))
            .await
            .status,
        Status::Ok
    );
    h.sessions.down.store(true, Ordering::SeqCst);
    for path in ["/me", "/public"] {
        let answer = h.get(path, None).await;
        assert_eq!(answer.status, Status::ServiceUnavailable, "{path}");
        assert_eq!(
            answer.body,
            json!({ "error": "service_unavailable", "reason": "session-store-unavailable" })
        );
    }
    h.sessions.down.store(false, Ordering::SeqCst);
    assert_eq!(h.get("/me", None).await.status, Status::Ok);
}

#[tokio::test]
async fn staff_login_rotates_the_id_and_a_local_session_ignores_clerk_tokens() {
    let h = harness().await;
    h.staff_user("ada", true).await;
    // A Clerk session first: the staff login replaces it.
    assert_eq!(
        h.get("/me", Some(&h.token("user_a", "sess_a")))
            .await
            .status,
        Status::Ok
    );
    let clerk_id = h.session_cookie().unwrap();
    let login = h.login("ada", PASSWORD).await;
    assert_eq!(login.status, Status::NoContent);
    let staff_id = h.session_cookie().unwrap();
    assert_ne!(clerk_id, staff_id, "login rotates the session id");
    assert!(h
        .sessions
        .inner
        .load(&clerk_id, h.clock.now())
        .await
        .unwrap()
        .is_none());

    let answer = h.get("/staff", None).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.body, json!({ "username": "ada" }));
    // A local login is not a Clerk session...
    let answer = h.get("/me", None).await;
    assert_eq!(answer.status, Status::Unauthorized);
    assert_eq!(answer.body["reason"], "session-token-missing");
    // ...and a Clerk token is verified per request without touching it.
    let answer = h.get("/me", Some(&h.token("user_b", "sess_b"))).await;
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.set_cookie, None);
    assert_eq!(h.session_cookie().as_deref(), Some(staff_id.as_str()));
    assert_eq!(h.get("/staff", None).await.status, Status::Ok);

    let logout = answer_of(&h, "/logout").await;
    assert_eq!(logout.status, Status::NoContent);
    assert!(h
        .sessions
        .inner
        .load(&staff_id, h.clock.now())
        .await
        .unwrap()
        .is_none());
    let answer = h.get("/staff", None).await;
    assert_eq!(answer.status, Status::Unauthorized);
    assert_eq!(
        answer.body,
        json!({ "error": "unauthenticated", "reason": "staff-login-required" })
    );
}

/// A staff session ends after an hour without a request, and twelve hours after the login
/// however busy (the defaults of `CLERK_STAFF_SESSION_IDLE_SECONDS` / `_MAX_SECONDS`).
#[tokio::test]
async fn staff_sessions_end_idle_and_at_their_absolute_limit() {
    let h = harness().await;
    h.staff_user("ada", true).await;
    assert_eq!(h.login("ada", PASSWORD).await.status, Status::NoContent);
    h.clock.advance(Duration::from_secs(3599));
    assert_eq!(h.get("/staff", None).await.status, Status::Ok);
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        h.get("/staff", None).await.status,
        Status::Unauthorized,
        "idle"
    );

    assert_eq!(h.login("ada", PASSWORD).await.status, Status::NoContent);
    for _ in 0..23 {
        h.clock.advance(Duration::from_secs(30 * 60));
        assert_eq!(h.get("/staff", None).await.status, Status::Ok, "busy");
    }
    h.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        h.get("/staff", None).await.status,
        Status::Unauthorized,
        "max"
    );
}

// `#[tokio::test]` runs one thread: an argon2 check on it would stop every other task.
#[tokio::test]
async fn the_password_check_leaves_the_runtime_free_for_other_requests() {
    let h = harness().await;
    h.staff_user("ada", true).await;
    let (login, ran) =
        clerk_testkit::runtime::other_tasks_ran_during(h.login("ada", PASSWORD)).await;
    assert_eq!(login.status, Status::NoContent);
    assert!(
        ran > 100,
        "other tasks ran {ran} times during a login: the password check blocked the runtime"
    );
}

async fn answer_of(h: &Harness, path: &str) -> Answer {
    answer(h.client.post(path.to_owned()).dispatch().await).await
}

#[tokio::test]
async fn clerk_tokens_never_open_staff_routes_and_bad_logins_change_nothing() {
    let h = harness().await;
    h.staff_user("ada", true).await;
    h.staff_user("bob", false).await;
    let token = h.token("user_a", "sess_a");
    assert_eq!(h.get("/me", Some(&token)).await.status, Status::Ok);
    let clerk_id = h.session_cookie().unwrap();
    // Neither the Clerk session nor a Clerk token is a staff login.
    for token in [None, Some(token.as_str())] {
        let answer = h.get("/staff", token).await;
        assert_eq!(answer.status, Status::Unauthorized);
        assert_eq!(answer.body["reason"], "staff-login-required");
    }

    for (username, password) in [
        ("ada", "wrong password here"),
        ("nobody", PASSWORD),
        ("bob", PASSWORD),
    ] {
        let answer = h.login(username, password).await;
        assert_eq!(answer.status, Status::Unauthorized, "{username}");
        assert_eq!(answer.set_cookie, None, "{username}");
        assert_eq!(h.session_cookie().as_deref(), Some(clerk_id.as_str()));
    }
    assert_eq!(h.get("/staff", None).await.status, Status::Unauthorized);
    assert_eq!(
        h.get("/me", None).await.status,
        Status::Ok,
        "the Clerk session stays"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_whatever_the_host() {
    let h = harness().await;
    let response = h
        .client
        .get("/me")
        .header(Header::new("Host", "app.example.com"))
        .header(Header::new(
            "Authorization",
            format!("Bearer {}", h.token("user_a", "sess_a")),
        ))
        .dispatch()
        .await;
    let cookie = answer(response).await.set_cookie.unwrap();
    assert!(cookie.to_ascii_lowercase().contains("secure"), "{cookie}");
    let response = h
        .client
        .get("/me")
        .header(Header::new("Host", "localhost:8000"))
        .header(Header::new(
            "Authorization",
            format!("Bearer {}", h.token("user_b", "sess_b")),
        ))
        .dispatch()
        .await;
    let cookie = answer(response).await.set_cookie.unwrap();
    assert!(
        cookie.starts_with("__Host-clerk_session=")
            && cookie.to_ascii_lowercase().contains("secure"),
        "Secure on loopback too (never decided from Host): {cookie}"
    );
}

#[tokio::test]
async fn session_guards_without_session_mode_abort_the_launch() {
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("clerk.secret_key", "sk_test_sessions"))
        .merge((
            "clerk.publishable_key",
            mint::publishable_key_for(DEFAULT_FRONTEND_HOST, false),
        ))
        .merge(("clerk.frontend_hosts", DEFAULT_AUTHORIZED_PARTY));
    let rocket = rocket::custom(figment)
        .attach(ClerkFairing::new().ignore_environment())
        .mount("/", routes![staff]);
    let error = rocket.ignite().await.unwrap_err();
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::SentinelAborts(s) if s[0].type_name.contains("LocalStaff")),
        "{:?}",
        error.kind()
    );
}

#[tokio::test]
async fn failed_staff_logins_lock_the_username_then_the_peer_address() {
    let h = harness().await;
    h.staff_user("ada", true).await;
    h.staff_user("grace", true).await;
    let peer = "192.0.2.7:50000";
    for _ in 0..5 {
        assert_eq!(
            h.login_from(peer, "ada", "wrong").await.status,
            Status::Unauthorized
        );
    }
    // The right password, from any address: locked for 15 minutes.
    assert_eq!(
        h.login_from(peer, "ada", PASSWORD).await.status,
        Status::TooManyRequests
    );
    assert_eq!(
        h.login_from("192.0.2.99:1", "ada", PASSWORD).await.status,
        Status::TooManyRequests
    );
    h.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        h.login_from(peer, "ada", PASSWORD).await.status,
        Status::NoContent
    );

    // 20 failures from one peer (the 5 above are 15 minutes old) lock it for every username.
    for i in 0..20 {
        let name = format!("nobody{i}");
        assert_eq!(
            h.login_from(peer, &name, "x").await.status,
            Status::Unauthorized
        );
    }
    assert_eq!(
        h.login_from(peer, "grace", PASSWORD).await.status,
        Status::TooManyRequests
    );
    // A spoofed X-Real-IP does not make a new address: the peer is what counts.
    let path = format!("/login/grace/{}", PASSWORD.replace(' ', "%20"));
    let spoofed = h
        .client
        .post(path)
        .remote(peer.parse().unwrap())
        .header(rocket::http::Header::new("X-Real-IP", "203.0.113.5"))
        .dispatch()
        .await;
    assert_eq!(spoofed.status(), Status::TooManyRequests);
    assert_eq!(
        h.login_from("192.0.2.8:50000", "grace", PASSWORD)
            .await
            .status,
        Status::NoContent
    );
}
