//! What the processor logs: svix ids, event types and Clerk ids — never an email address,
//! a body, a signature, a secret or a listener's error text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod processor_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use clerk_testkit::webhooks::{bodies, Signature, TEST_SECRET};
use clerk_webhooks::processor::{Committed, Listener, ListenerError};
use clerk_webhooks::ProcessOutcome;
use processor_support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Leaky;
impl Listener for Leaky {
    async fn on_event(&self, _: &Committed<'_>) -> Result<(), ListenerError> {
        Err("could not mail listener-secret@example.com".into())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_carry_ids_not_personal_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let clock = clock();
    let sender = sender(&clock);
    let p = processor(memory_store().await, &clock).with_listener(Leaky);
    // Applied (listener fails), email conflict (held), bad signature, unparseable body.
    let (id_ok, h, b) = signed(
        &sender,
        &bodies::user_created("user_log1", "hidden@example.com"),
    );
    assert!(matches!(
        p.process(&h, &b).await,
        ProcessOutcome::Applied { .. }
    ));
    let (id_conflict, h, b) = signed(
        &sender,
        &bodies::user_created("user_log2", "hidden@example.com"),
    );
    assert!(matches!(
        p.process(&h, &b).await,
        ProcessOutcome::Held { .. }
    ));
    let forged = sender
        .delivery(bodies::to_bytes(&bodies::user_created(
            "user_log3",
            "forged@example.com",
        )))
        .signature(Signature::Tampered);
    assert!(matches!(
        p.process(&forged.headers(), &forged.body()).await,
        ProcessOutcome::Rejected(_)
    ));
    let bad = sender.delivery(
        br#"{"type":"user.created","data":{"id":"user_log4","email_addresses":"bad@example.com"}}"#
            .to_vec(),
    );
    assert!(matches!(
        p.process(&bad.headers(), &bad.body()).await,
        ProcessOutcome::Rejected(_)
    ));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for wanted in [
        id_ok.as_str(),
        id_conflict.as_str(),
        "user.created",
        "user_log2",
    ] {
        assert!(logs.contains(wanted), "{wanted} missing from:\n{logs}");
    }
    assert!(logs.contains("listener failed"), "{logs}");
    for secret in ["@example.com", "whsec_", &TEST_SECRET[6..], "v1,"] {
        assert!(!logs.contains(secret), "{secret:?} leaked into:\n{logs}");
    }
}
