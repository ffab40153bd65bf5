//! The test kit's sender against a tiny loopback server that verifies with this crate.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use clerk_core::time::{Clock, UnixTime};
use clerk_testkit::webhooks::{
    bodies, HeaderStyle, Signature, SignatureHeader, WebhookSender, TEST_SECRET,
};
use clerk_testkit::ManualClock;
use clerk_webhooks::{EventData, Webhook};

/// The (svix id, raw body) pairs the server accepted.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// What the server saw, and the clock it verifies against.
#[derive(Clone)]
struct Server {
    webhook: Webhook,
    clock: ManualClock,
    received: Received,
}

async fn receive(
    State(server): State<Server>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    match server
        .webhook
        .verify_at(&headers, &body, server.clock.now())
    {
        Ok(verified) => {
            let event_type = match verified.event() {
                Ok(event) => event.event_type().to_owned(),
                Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()),
            };
            server
                .received
                .lock()
                .expect("lock")
                .push((verified.id().to_owned(), body.to_vec()));
            (StatusCode::OK, event_type)
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn start(server: Server) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route("/webhooks/clerk", post(receive))
        .with_state(server);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}/webhooks/clerk")
}

fn server(clock: &ManualClock) -> Server {
    Server {
        webhook: Webhook::new(TEST_SECRET).expect("secret"),
        clock: clock.clone(),
        received: Arc::default(),
    }
}

#[tokio::test]
async fn sent_webhooks_verify_on_the_receiving_end() {
    let clock = ManualClock::at(UnixTime::from_secs(1_700_000_000));
    let server = server(&clock);
    let url = start(server.clone()).await;
    let sender = WebhookSender::new(&url, TEST_SECRET).clock(clock.clone());

    // A valid delivery: verified, parsed, and received byte for byte.
    let body = bodies::user_created("user_1", "ada@example.com");
    let sent = sender.send_json(&body).await.expect("send");
    assert_eq!(
        (sent.status, sent.text()),
        (StatusCode::OK, "user.created".to_owned())
    );
    assert!(
        sent.msg_id.starts_with("msg_") && sent.msg_id.len() == 31,
        "{}",
        sent.msg_id
    );
    assert_eq!(sent.timestamp, 1_700_000_000);
    {
        let received = server.received.lock().expect("lock");
        assert_eq!(
            received.as_slice(),
            &[(sent.msg_id.clone(), bodies::to_bytes(&body))]
        );
    }

    // Every event type of the catalog goes through.
    for (event_type, body) in bodies::samples() {
        let sent = sender.send_json(&body).await.expect("send");
        assert_eq!(
            (sent.status, sent.text()),
            (StatusCode::OK, event_type.to_owned())
        );
    }

    // Replays: a chosen id and timestamp are signed as such.
    let replay = sender
        .delivery(bodies::to_bytes(&body))
        .msg_id(&sent.msg_id)
        .timestamp_offset(-60)
        .send()
        .await
        .expect("send");
    assert_eq!(
        (replay.status, replay.msg_id.as_str(), replay.timestamp),
        (StatusCode::OK, sent.msg_id.as_str(), 1_699_999_940)
    );

    // The Standard Webhooks header family, and a rotation-era multi-signature header.
    let std_family = sender
        .delivery(bodies::to_bytes(&body))
        .header_style(HeaderStyle::Webhook)
        .send()
        .await
        .expect("send");
    assert_eq!(std_family.status, StatusCode::OK);
    let decoys = sender
        .delivery(bodies::to_bytes(&body))
        .signature(Signature::WithDecoys)
        .send()
        .await
        .expect("send");
    assert_eq!(decoys.status, StatusCode::OK);
}

#[tokio::test]
async fn broken_deliveries_are_rejected() {
    let clock = ManualClock::at(UnixTime::from_secs(1_700_000_000));
    let server = server(&clock);
    let url = start(server.clone()).await;
    let sender = WebhookSender::new(&url, TEST_SECRET).clock(clock.clone());
    let body = bodies::to_bytes(&bodies::user_deleted("user_1"));

    let cases = [
        (
            "tampered signature",
            sender.delivery(body.clone()).signature(Signature::Tampered),
            "no webhook signature matches",
        ),
        (
            "wrong secret",
            sender
                .delivery(body.clone())
                .signature(Signature::WrongSecret),
            "no webhook signature matches",
        ),
        (
            "v2 label",
            sender
                .delivery(body.clone())
                .signature(Signature::WrongVersion),
            "no webhook signature matches",
        ),
        (
            "custom",
            sender
                .delivery(body.clone())
                .signature(Signature::Custom("v1,AAAA".into())),
            "no webhook signature matches",
        ),
        (
            "tampered body",
            sender.delivery(body.clone()).tamper_body(),
            "no webhook signature matches",
        ),
        (
            "too old",
            sender.delivery(body.clone()).timestamp_offset(-301),
            "too old",
        ),
        (
            "too new",
            sender.delivery(body.clone()).timestamp_offset(301),
            "too far in the future",
        ),
        (
            "no id",
            sender.delivery(body.clone()).omit(SignatureHeader::Id),
            "svix-id",
        ),
        (
            "no timestamp",
            sender
                .delivery(body.clone())
                .omit(SignatureHeader::Timestamp),
            "svix-timestamp",
        ),
        (
            "no signature",
            sender
                .delivery(body.clone())
                .omit(SignatureHeader::Signature),
            "svix-signature",
        ),
    ];
    for (name, delivery, expected) in cases {
        let sent = delivery.send().await.expect("send");
        assert_eq!(sent.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(sent.text().contains(expected), "{name}: {}", sent.text());
    }
    assert!(
        server.received.lock().expect("lock").is_empty(),
        "nothing unverified was accepted"
    );

    // Signed with the right secret but not a Clerk event: verified, then a parse error.
    let sent = sender.send(b"not json".to_vec()).await.expect("send");
    assert_eq!(sent.status, StatusCode::BAD_REQUEST);
    assert!(sent.text().contains("not a Clerk event"), "{}", sent.text());

    // Boundaries: exactly 300 s each way still verify.
    for offset in [-300, 300] {
        let sent = sender
            .delivery(body.clone())
            .timestamp_offset(offset)
            .send()
            .await
            .expect("send");
        assert_eq!(sent.status, StatusCode::OK, "offset {offset}");
    }
}

#[tokio::test]
async fn deliveries_can_be_built_without_a_network() {
    let sender = WebhookSender::new("http://localhost/webhooks/clerk", TEST_SECRET);
    let delivery = sender
        .delivery(bodies::to_bytes(&bodies::session_ended("sess_1", "user_1")))
        .msg_id("msg_fixed")
        .timestamp(1_700_000_000);
    let request = delivery.to_request();
    assert_eq!(
        (request.method(), request.uri().path()),
        (&http::Method::POST, "/webhooks/clerk")
    );
    assert_eq!(request.headers()["content-type"], "application/json");
    let webhook = Webhook::new(TEST_SECRET).expect("secret");
    let verified = webhook
        .verify_at(
            request.headers(),
            request.body(),
            UnixTime::from_secs(1_700_000_100),
        )
        .expect("the built request verifies");
    assert_eq!(verified.id(), "msg_fixed");
    assert!(matches!(
        verified.event().expect("event").data,
        EventData::SessionEnded(_)
    ));
    assert_eq!(
        delivery.signature_value(),
        webhook.sign("msg_fixed", 1_700_000_000, request.body())
    );
}
