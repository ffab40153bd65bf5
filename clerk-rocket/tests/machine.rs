//! `MachineAuth<A>` and `RequireScope<A, S>` guards against the mock Clerk: the accepted set,
//! the reasons, the scope guard, `AnyToken` with a session, and the sentinel.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use clerk_rocket::machine::{AnyToken, ApiKeys, ApiKeysOrM2m, MachineAuth, RequireScope};
use clerk_rocket::ClerkFairing;
use clerk_testkit::mint::DEFAULT_AUTHORIZED_PARTY;
use clerk_testkit::mock::MachineGrant;
use clerk_testkit::MockClerk;
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;
use rocket::serde::json::Json;
use rocket::{get, routes};
use serde_json::{json, Value};

clerk_rocket::machine::scope!(WriteReports = "write:reports");

#[get("/machine")]
fn machine(auth: MachineAuth<ApiKeysOrM2m>) -> Json<Value> {
    Json(
        json!({ "token_type": auth.token_type().as_str(), "subject": auth.subject(), "scopes": auth.scopes() }),
    )
}

#[get("/any")]
fn any(auth: MachineAuth<AnyToken>) -> Json<Value> {
    Json(json!({ "token_type": auth.token_type().as_str(), "subject": auth.subject() }))
}

#[get("/write")]
fn write(auth: RequireScope<ApiKeys, WriteReports>) -> Json<Value> {
    Json(json!({ "subject": auth.subject() }))
}

fn figment(clerk: &MockClerk) -> Figment {
    rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("clerk.secret_key", clerk.secret_key()))
        .merge(("clerk.publishable_key", clerk.publishable_key()))
        .merge(("clerk.api_url", clerk.url()))
        .merge(("clerk.frontend_hosts", [DEFAULT_AUTHORIZED_PARTY]))
}

async fn get(client: &Client, path: &str, token: &str) -> (Status, Option<String>, Value) {
    let response = client
        .get(path.to_owned())
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .dispatch()
        .await;
    let status = response.status();
    let challenge = response
        .headers()
        .get_one("WWW-Authenticate")
        .map(str::to_owned);
    let body = response.into_json::<Value>().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

#[rocket::async_test]
async fn machine_guards_accept_what_they_declare() {
    let clerk = MockClerk::builder().start().await;
    let rocket = rocket::custom(figment(&clerk))
        .attach(ClerkFairing::new().ignore_environment())
        .register("/", clerk_rocket::catchers())
        .mount("/", routes![machine, any, write]);
    let client = Client::tracked(rocket).await.unwrap();

    let key = clerk.issue_api_key(MachineGrant::new("user_1", ["read:reports"]));
    let (status, _, body) = get(&client, "/machine", &key.token).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(
        body,
        json!({"token_type": "api_key", "subject": "user_1", "scopes": ["read:reports"]})
    );
    let jwt = clerk.issue_m2m_token(MachineGrant::new("mch_1", ["a"]).jwt());
    let (status, _, body) = get(&client, "/machine", &jwt.token).await;
    assert_eq!(
        (status, body["token_type"].clone()),
        (Status::Ok, json!("m2m_token"))
    );

    let oauth = clerk.issue_oauth_token(MachineGrant::new("user_1", ["p"]));
    let (status, challenge, body) = get(&client, "/machine", &oauth.token).await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert_eq!(
        body,
        json!({"error": "unauthenticated", "reason": "token-type-mismatch"})
    );
    let (_, _, body) = get(&client, "/machine", "mt_unknown").await;
    assert_eq!(body["reason"], "token-invalid");

    let session = clerk
        .token_v2()
        .subject("user_session")
        .authorized_party(DEFAULT_AUTHORIZED_PARTY)
        .sign();
    let (_, _, body) = get(&client, "/machine", &session).await;
    assert_eq!(body["reason"], "token-type-mismatch");
    let (status, _, body) = get(&client, "/any", &session).await;
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(
        body,
        json!({"token_type": "session_token", "subject": "user_session"})
    );

    let (status, _, body) = get(&client, "/write", &key.token).await;
    assert_eq!(status, Status::Forbidden);
    assert_eq!(
        body,
        json!({"error": "forbidden", "reason": "missing_scope", "required": "write:reports"})
    );
    let writer = clerk.issue_api_key(MachineGrant::new("user_2", ["write:reports"]));
    let (status, _, body) = get(&client, "/write", &writer.token).await;
    assert_eq!((status, body), (Status::Ok, json!({"subject": "user_2"})));
}

#[rocket::async_test]
async fn a_machine_guard_without_the_fairing_aborts_the_launch() {
    let rocket = rocket::custom(rocket::Config::figment().merge(("log_level", "off")))
        .mount("/", routes![machine, write]);
    let error = rocket.ignite().await.unwrap_err();
    match error.kind() {
        rocket::error::ErrorKind::SentinelAborts(sentries) => {
            assert_eq!(sentries.len(), 2, "{sentries:?}");
            assert!(sentries.iter().any(|s| s.type_name.contains("MachineAuth")));
            assert!(sentries
                .iter()
                .any(|s| s.type_name.contains("RequireScope")));
        }
        other => panic!("expected a sentinel abort, got {other:?}"),
    }
}
