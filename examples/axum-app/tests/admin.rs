//! `/admin` (hybrid mode, [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)) in process (`tower::ServiceExt::oneshot`, the session
//! cookie carried by hand), against the mock Clerk and a temporary SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use axum_app::{app, AppConfig, AppState};
use clerk_core::model::NewLocalUser;
use clerk_core::password::hash_password;
use clerk_core::store::{Change, WriteBatch};
use clerk_core::time::{Clock, SystemClock};
use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::webhooks::bodies::{self, UserBody};
use clerk_testkit::webhooks::{WebhookSender, TEST_SECRET};
use clerk_testkit::MockClerk;
use http_body_util::BodyExt;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse & battery=staple%";
// The same password, form-encoded.
const PASSWORD_FORM: &str = "correct+horse+%26+battery%3Dstaple%25";

struct TempDb(PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

struct Harness {
    clerk: MockClerk,
    app: Router,
    state: AppState,
    _db: TempDb,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .map_or("", |v| v.to_str().unwrap())
    }

    fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|v| v.starts_with("__Host-clerk_session="))
            .map(str::to_owned)
    }
}

async fn harness() -> Harness {
    let clerk = MockClerk::builder().start().await;
    let db = TempDb(std::env::temp_dir().join(format!(
        "axum-app-admin-{}-{}.db",
        std::process::id(),
        clerk_testkit::webhooks::random_msg_id()
    )));
    let env = HashMap::from([
        ("CLERK_SECRET_KEY", clerk.secret_key().to_owned()),
        ("CLERK_PUBLISHABLE_KEY", clerk.publishable_key()),
        ("CLERK_API_URL", clerk.url()),
        ("CLERK_FRONTEND_HOSTS", DEFAULT_AUTHORIZED_PARTY.to_owned()),
        ("CLERK_WEBHOOK_SIGNING_KEY", TEST_SECRET.to_owned()),
        (
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.0.display()),
        ),
    ]);
    let config = AppConfig::from_lookup(|name| env.get(name).cloned()).unwrap();
    let state = AppState::connect(&config).await.unwrap();
    let h = Harness {
        clerk,
        app: app(state.clone()),
        state,
        _db: db,
    };
    h.local_user("staff", true).await;
    h.local_user("plain", false).await;
    h
}

impl Harness {
    async fn local_user(&self, username: &str, is_staff: bool) {
        let mut user = NewLocalUser::new(username);
        user.password_hash = Some(hash_password(PASSWORD, &[3; 16]).unwrap());
        user.is_staff = is_staff;
        let batch = WriteBatch::single(SystemClock.now(), Change::CreateLocalUser(user));
        let _ = self.state.store().apply(batch).await.unwrap();
    }

    async fn send(&self, request: Request<Body>) -> Page {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Page {
        let mut request = Request::get(path).header("host", "127.0.0.1:3000");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &str) -> Page {
        let mut request = Request::post(path)
            .header("host", "127.0.0.1:3000")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request.body(Body::from(form.to_owned())).unwrap())
            .await
    }

    async fn webhook(&self, event: &serde_json::Value) {
        let sender = WebhookSender::new("http://app.test/webhooks/clerk", TEST_SECRET);
        let request = sender.delivery(bodies::to_bytes(event)).to_request();
        let page = self.send(request.map(Body::from)).await;
        assert_eq!(page.status, 200, "{}", page.text);
    }

    /// Logs `staff` in; returns the `Cookie` header value.
    async fn login(&self) -> String {
        let page = self
            .post(
                "/admin/login",
                None,
                &format!("username=staff&password={PASSWORD_FORM}"),
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
        assert_eq!(page.location(), "/admin");
        let cookie = page.session_cookie().expect("a session cookie");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
        cookie.split(';').next().unwrap().to_owned()
    }
}

fn assert_login_page(page: &Page, status: StatusCode) {
    assert_eq!(page.status, status, "{}", page.text);
    assert_eq!(
        page.headers["content-type"], "text/html; charset=utf-8",
        "{:?}",
        page.headers
    );
    for needle in [
        r#"<form method="post" action="/admin/login">"#,
        r#"name="username""#,
        r#"name="password""#,
    ] {
        assert!(page.text.contains(needle), "{needle} in {}", page.text);
    }
}

#[tokio::test]
async fn admin_without_a_staff_session_redirects_to_the_login_form() {
    let h = harness().await;
    let page = h.get("/admin", None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/admin/login");

    // Clerk credentials never open it: a bearer token, the __session cookie, or the Clerk
    // session that cookie established.
    let token = h
        .clerk
        .token_v2()
        .subject("user_1")
        .session_id("sess_1")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign();
    let bearer = h
        .send(
            Request::get("/admin")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(bearer.location(), "/admin/login");
    let cookie = h.get("/admin", Some(&format!("__session={token}"))).await;
    assert_eq!(cookie.status, StatusCode::SEE_OTHER);
    assert_eq!(cookie.location(), "/admin/login");
    let clerk_session = cookie
        .session_cookie()
        .expect("a Clerk session was established");
    let clerk_session = clerk_session.split(';').next().unwrap();
    let page = h.get("/api/public", Some(clerk_session)).await;
    assert!(
        page.text.contains(r#""user_id":"user_1""#),
        "the Clerk session works for Clerk routes: {}",
        page.text
    );
    assert_eq!(
        h.get("/admin", Some(clerk_session)).await.location(),
        "/admin/login"
    );

    assert_login_page(&h.get("/admin/login", None).await, StatusCode::OK);
}

#[tokio::test]
async fn refused_logins_are_401_with_the_form_and_open_nothing() {
    let h = harness().await;
    for form in [
        "username=staff&password=wrong".to_owned(),
        "username=staff&password=".to_owned(),
        format!("username=nobody&password={PASSWORD_FORM}"),
        format!("username=plain&password={PASSWORD_FORM}"),
        // Not decoded, the password differs.
        "username=staff&password=correct horse & battery=staple%25".to_owned(),
    ] {
        let page = h.post("/admin/login", None, &form).await;
        assert_login_page(&page, StatusCode::UNAUTHORIZED);
        assert!(
            page.text.contains("Invalid username or password."),
            "{form}"
        );
        assert_eq!(page.session_cookie(), None, "{form}");
    }
    let page = h.post("/admin/login", None, "username=%zz").await;
    assert_login_page(&page, StatusCode::BAD_REQUEST);
    assert!(page.text.contains("invalid percent-escape"));
}

#[tokio::test]
async fn staff_log_in_see_users_and_organizations_and_log_out() {
    let h = harness().await;
    let user = UserBody::new("user_seen", "seen@example.com")
        .set("first_name", "<script>alert(1)</script>")
        .set("last_name", "Lovelace")
        .event("user.created");
    h.webhook(&user).await;
    h.webhook(&bodies::organization_created(
        "org_seen",
        "Acme & Sons",
        "acme",
    ))
    .await;

    let cookie = h.login().await;
    let page = h.get("/admin", Some(&cookie)).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    for needle in [
        "<td>seen@example.com</td>",
        "<td><a href=\"/admin/users/user_seen\">user_seen</a></td>",
        "<td>&lt;script&gt;alert(1)&lt;/script&gt; Lovelace</td>",
        "<td>Acme &amp; Sons</td><td>acme</td>",
        "<td>staff</td>",
    ] {
        assert!(page.text.contains(needle), "{needle} in {}", page.text);
    }
    assert!(!page.text.contains("<script>"));
    assert!(!page.text.contains("$argon2"));

    let logout = h.post("/admin/logout", Some(&cookie), "").await;
    assert_eq!(logout.status, StatusCode::SEE_OTHER);
    assert_eq!(logout.location(), "/admin/login");
    let after = h.get("/admin", Some(&cookie)).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), "/admin/login");
}

#[tokio::test]
async fn a_staff_session_is_not_a_clerk_session() {
    let h = harness().await;
    let cookie = h.login().await;
    let page = h.get("/api/me", Some(&cookie)).await;
    assert_eq!(page.status, 401, "{}", page.text);
    let public = h.get("/api/public", Some(&cookie)).await;
    assert!(
        public.text.contains("\"signed_in\":false"),
        "{}",
        public.text
    );
}
