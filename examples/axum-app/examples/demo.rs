//! The one-minute demo: no Clerk account, no network.
//!
//! Starts the test kit's mock Clerk on loopback (with a seeded user), starts the Axum app of
//! [design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications) on a temporary SQLite file, signs a `user.created` webhook into it, then calls
//! `/api/me` with a freshly minted session token, with a token for the seeded user (fetched
//! from the mock's Backend API just in time), and with a bad token.
//!
//! ```sh
//! cargo run -p axum-app --example demo
//! ```
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;

use axum_app::{AppConfig, AppState};
use clerk_core::model::ClerkUserData;
use clerk_core::time::UnixTime;
use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::webhooks::{bodies, random_secret, WebhookSender};
use clerk_testkit::{MockClerk, OrgV2, TestKeyPair};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The mock Clerk: JWKS and Backend API, with one user only Clerk knows about.
    let clerk = MockClerk::builder().start().await;
    let at = UnixTime::from_secs(1_700_000_000);
    let mut grace = ClerkUserData::new("user_grace", at, at).with_email("grace@example.com", true);
    grace.first_name = Some("Grace".into());
    grace.last_name = Some("Hopper".into());
    clerk.seed_users(vec![grace]);
    println!(
        "1. mock Clerk listening at {} (JWKS + Backend API, 1 seeded user: user_grace)",
        clerk.url()
    );

    // 2. The app, configured like in production but pointed at the mock, on a temp SQLite file.
    let db = std::env::temp_dir().join(format!("axum-app-demo-{}.db", std::process::id()));
    let webhook_secret = random_secret();
    let env = HashMap::from([
        ("CLERK_SECRET_KEY", clerk.secret_key().to_owned()),
        ("CLERK_PUBLISHABLE_KEY", clerk.publishable_key()),
        ("CLERK_API_URL", clerk.url()),
        ("CLERK_FRONTEND_HOSTS", DEFAULT_AUTHORIZED_PARTY.to_owned()),
        ("CLERK_WEBHOOK_SIGNING_KEY", webhook_secret.clone()),
        (
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        ),
    ]);
    let config = AppConfig::from_lookup(|name| env.get(name).cloned())?;
    let state = AppState::connect(&config).await?; // opens and migrates the database
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(axum_app::serve(listener, state));
    println!("2. axum-app listening at {base} on SQLite {}", db.display());

    let http = reqwest::Client::builder().no_proxy().build()?;
    let get = |path: &str, token: Option<String>| {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body = String::from_utf8_lossy(&response.bytes().await?).into_owned();
            Ok::<_, reqwest::Error>((status, body))
        }
    };

    // 3. Clerk tells the app about a new user, through a Svix-signed webhook.
    let sender = WebhookSender::new(format!("{base}/webhooks/clerk"), &webhook_secret);
    let event = bodies::UserBody::new("user_ada", "ada@example.com")
        .first_name("Ada")
        .last_name("Lovelace")
        .event("user.created");
    let sent = sender.send_json(&event).await?;
    println!(
        "3. POST /webhooks/clerk (signed user.created for user_ada, svix id {}): HTTP {} {}",
        sent.msg_id,
        sent.status,
        sent.text()
    );

    // 4. Ada signs in (in the real world, Clerk's front end mints this token).
    let token = clerk
        .token_v2()
        .subject("user_ada")
        .session_id("sess_demo")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .org_v2(OrgV2 {
            id: "org_demo",
            slug: "acme",
            role: "admin",
            permissions: vec!["read"],
            feature_permission_masks: vec!["1"],
        })
        .features("o:reports")
        .sign();
    let (status, body) = get("/api/me", Some(token.clone())).await?;
    println!("4. GET /api/me with Ada's session token: HTTP {status} {body}");
    let (status, body) = get("/api/org/reports", Some(token)).await?;
    println!("   GET /api/org/reports (org:admin of acme, org:reports:read): HTTP {status} {body}");

    // 5. Grace exists in Clerk only: the app fetches her from the Backend API and stores her.
    let token = clerk
        .token_v2()
        .subject("user_grace")
        .session_id("sess_grace")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign();
    let (status, body) = get("/api/me", Some(token)).await?;
    println!(
        "5. GET /api/me as user_grace (no webhook yet): HTTP {status} {body}\n   \
         (fetched just in time: {} Backend API request(s) to the mock)",
        clerk.backend_requests().len()
    );

    // 6. A token signed by someone else's key.
    let forged = clerk
        .token_v2()
        .subject("user_ada")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign_with(&TestKeyPair::generate());
    let (status, body) = get("/api/me", Some(forged)).await?;
    println!("6. GET /api/me with a forged token: HTTP {status} {body}");
    let (status, body) = get("/api/public", None).await?;
    println!("   GET /api/public without a token: HTTP {status} {body}");

    println!(
        "7. the mock served the JWKS {} time(s): keys are cached",
        clerk.jwks_requests()
    );
    clerk.shutdown().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
