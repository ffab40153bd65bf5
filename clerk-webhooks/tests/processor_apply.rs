//! The webhook processor end to end (verify → parse → map → one batch → listeners) on the
//! memory and SQLite stores, with deliveries signed by clerk-testkit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod processor_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clerk_core::model::{HoldReason, InvitationStatus, NewLocalUser};
use clerk_core::store::held::RetryError;
use clerk_core::store::{Change, Conflict, Effect, Store, WriteBatch};
use clerk_core::time::UnixTime;
use clerk_testkit::webhooks::bodies::{self, MembershipBody, UserBody, BASE_TIME_MS};
use clerk_testkit::webhooks::Signature;
use clerk_webhooks::processor::{
    map_event, Committed, Listener, ListenerError, Mapped, ProcessOutcome, ProcessorOptions,
    Rejection,
};
use clerk_webhooks::{Event, MAX_BODY_BYTES};
use processor_support::*;

/// Runs an async test body against a fresh memory store and a fresh SQLite store.
macro_rules! on_both_stores {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn memory() {
                $body(memory_store().await).await;
            }
            #[tokio::test]
            async fn sqlite() {
                $body(sqlite_store().await).await;
            }
        }
    };
}

/// (svix id, event type, effects) of one listener call.
type Seen = (String, String, Vec<Effect>);

#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Listener for Recorder {
    async fn on_event(&self, c: &Committed<'_>) -> Result<(), ListenerError> {
        self.seen.lock().unwrap().push((
            c.svix_id.to_owned(),
            c.event_type().to_owned(),
            c.effects().collect(),
        ));
        Ok(())
    }
}

impl Recorder {
    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn expected_kind(event_type: &str) -> &'static str {
    match event_type {
        "session.pending" => "ignored",
        t if t.starts_with("user.")
            || t.starts_with("session.")
            || t.starts_with("organization.")
            || t.starts_with("organizationMembership.")
            || t.starts_with("organizationInvitation.") =>
        {
            "applied"
        }
        _ => "ignored",
    }
}

/// The pure mapping, for every sample body: the documented change variants.
#[test]
fn every_event_type_maps() {
    let fallback = base_now();
    for (event_type, body) in bodies::samples() {
        let event = Event::from_slice(&bodies::to_bytes(&body)).unwrap();
        let mapped = map_event(&event, Default::default(), fallback).unwrap();
        let changes = match (&mapped, expected_kind(event_type)) {
            (Mapped::Ignored, "ignored") => continue,
            (Mapped::Changes(c), "applied") => c,
            other => panic!("{event_type}: {other:?}"),
        };
        let ok = match event_type {
            "user.created" | "user.updated" => {
                matches!(&changes[..], [Change::UpsertUser { data, .. }]
                    if data.clerk_id == "user_2aAda"
                        && data.email.as_deref() == Some("ada@example.com")
                        && data.email_verified)
            }
            "user.deleted" => matches!(&changes[..], [Change::DeleteUser { clerk_id, .. }]
                if clerk_id == "user_2aAda"),
            "session.created" => matches!(&changes[..], [Change::RecordLogin { .. }]),
            "session.ended" | "session.removed" | "session.revoked" => matches!(
                &changes[..],
                [Change::RecordLogout { .. }, Change::RevokeSession(s)]
                    if s.session_id == "sess_2aOne"
                        && s.user_clerk_id.as_deref() == Some("user_2aAda")
                        && event_type.ends_with(&s.status)
            ),
            "organization.created" | "organization.updated" => {
                matches!(&changes[..], [Change::UpsertOrganization(o)] if o.clerk_id == "org_2aAcme")
            }
            "organization.deleted" => matches!(&changes[..], [Change::DeleteOrganization { .. }]),
            "organizationMembership.created" | "organizationMembership.updated" => matches!(
                &changes[..],
                [Change::UpsertMembership(m)]
                    if m.organization_clerk_id == "org_2aAcme" && m.user_clerk_id == "user_2aAda"
            ),
            "organizationMembership.deleted" => {
                matches!(&changes[..], [Change::DeleteMembership { .. }])
            }
            "organizationInvitation.created"
            | "organizationInvitation.accepted"
            | "organizationInvitation.revoked" => matches!(
                &changes[..],
                [Change::UpsertInvitation(i)]
                    if i.organization_clerk_id == "org_2aAcme"
                        && event_type.ends_with(match i.status {
                            InvitationStatus::Pending => "created",
                            _ => i.status.as_str(),
                        })
            ),
            _ => false,
        };
        assert!(ok, "{event_type}: {changes:?}");
    }
}

/// Every sample delivered through `process` is acknowledged, recorded, and tells listeners.
async fn every_event_type_applies<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let recorder = Recorder::default();
    let p = processor(store, &clock).with_listener(recorder.clone());
    let samples = bodies::samples();
    for (event_type, body) in &samples {
        let (id, headers, bytes) = signed(&sender, body);
        let outcome = p.process(&headers, &bytes).await;
        assert_eq!(outcome.status_code(), 200, "{event_type}: {outcome:?}");
        match (expected_kind(event_type), &outcome) {
            (
                "applied",
                ProcessOutcome::Applied {
                    event_type: t,
                    svix_id,
                    applied,
                },
            ) => {
                assert_eq!(t, event_type);
                assert_eq!(svix_id, &id);
                assert!(!applied.is_empty());
            }
            ("ignored", ProcessOutcome::Ignored { event_type: t, .. }) => assert_eq!(t, event_type),
            _ => panic!("{event_type}: {outcome:?}"),
        }
        let receipt = p.store().webhook_event(&id).await.unwrap().unwrap();
        assert_eq!(&receipt.event_type, event_type);
        assert_eq!(receipt.processed_at, base_now());
    }
    assert_eq!(recorder.count(), samples.len());
    let s = p.store();
    assert!(s
        .user_by_clerk_id("user_2aAda")
        .await
        .unwrap()
        .unwrap()
        .is_deleted());
    assert!(s
        .organization("org_2aAcme")
        .await
        .unwrap()
        .unwrap()
        .is_deleted());
    assert!(s
        .membership("orgmem_2aAdaAcme")
        .await
        .unwrap()
        .unwrap()
        .is_deleted());
    assert!(s.revoked_session("sess_2aOne").await.unwrap().is_some());
    let inv = s.invitation("orginv_2aBob").await.unwrap().unwrap();
    assert_ne!(inv.status, InvitationStatus::Pending);
}
on_both_stores!(every_event_type_applies_, every_event_type_applies);

/// Clerk's user JSON lands in the row's columns.
async fn user_fields_are_mirrored<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    let body = UserBody::new("user_f", "Fay@Example.com")
        .first_name("Fay")
        .last_name("Field")
        .username("fay")
        .external_id("ext-7")
        .public_metadata(serde_json::json!({"plan": "pro"}))
        .private_metadata(serde_json::json!({"secret": 1}))
        .banned(true)
        .locked(true)
        .last_sign_in_at(BASE_TIME_MS + 500)
        .email_verified(false)
        .updated_at(BASE_TIME_MS + 2_000)
        .event("user.created");
    let (_, h, b) = signed(&sender, &body);
    assert!(matches!(
        p.process(&h, &b).await,
        ProcessOutcome::Applied { .. }
    ));
    let u = p.store().user_by_clerk_id("user_f").await.unwrap().unwrap();
    assert_eq!(u.email.as_deref(), Some("Fay@Example.com"));
    assert!(!u.email_verified);
    assert_eq!(u.first_name.as_deref(), Some("Fay"));
    assert_eq!(u.last_name.as_deref(), Some("Field"));
    assert_eq!(u.username.as_deref(), Some("fay"));
    assert_eq!(u.external_id.as_deref(), Some("ext-7"));
    assert_eq!(u.public_metadata, serde_json::json!({"plan": "pro"}));
    assert!(u.banned && u.locked && u.is_active);
    assert_eq!(
        u.last_sign_in_at,
        Some(UnixTime::from_millis(BASE_TIME_MS + 500))
    );
    assert_eq!(
        u.clerk_created_at,
        Some(UnixTime::from_millis(BASE_TIME_MS))
    );
    assert_eq!(
        u.clerk_updated_at,
        Some(UnixTime::from_millis(BASE_TIME_MS + 2_000))
    );
    assert!(u.image_url.is_some());
    // Found by email, case-insensitively.
    assert!(p
        .store()
        .user_by_email("fay@example.com")
        .await
        .unwrap()
        .is_some());
}
on_both_stores!(user_fields_are_mirrored_, user_fields_are_mirrored);

/// The same svix id twice: 2xx both times, applied (and listened to) once.
async fn replay_is_applied_once<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let recorder = Recorder::default();
    let p = processor(store, &clock).with_listener(recorder.clone());
    let (id, h, b) = signed(&sender, &bodies::user_created("user_r", "r@example.com"));
    assert!(matches!(
        p.process(&h, &b).await,
        ProcessOutcome::Applied { .. }
    ));
    let first = p.store().user_by_clerk_id("user_r").await.unwrap().unwrap();
    clock.advance(std::time::Duration::from_secs(30));
    // A newer version under the *same* svix id (a replay never re-applies, whatever it says).
    let newer = bodies::user_updated("user_r", "r2@example.com", BASE_TIME_MS + 50_000);
    let (_, h2, b2) = signed_as(&sender, &id, &newer);
    for (h, b) in [(&h, &b), (&h2, &b2)] {
        let again = p.process(h, b).await;
        assert!(
            matches!(&again, ProcessOutcome::AlreadyProcessed { svix_id, .. } if svix_id == &id)
        );
        assert_eq!(again.status_code(), 200);
    }
    let after = p.store().user_by_clerk_id("user_r").await.unwrap().unwrap();
    assert_eq!(first, after);
    assert_eq!(recorder.count(), 1);
}
on_both_stores!(replay_is_applied_once_, replay_is_applied_once);

/// Update before create, delete before update: the final state is the in-order one.
async fn out_of_order_converges<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    let created = UserBody::new("user_o", "o@example.com")
        .first_name("Old")
        .event("user.created");
    let updated = UserBody::new("user_o", "o@example.com")
        .first_name("New")
        .updated_at(BASE_TIME_MS + 9_000)
        .event("user.updated");
    for body in [&updated, &created] {
        let (_, h, b) = signed(&sender, body);
        assert!(p.process(&h, &b).await.is_success());
    }
    let u = p.store().user_by_clerk_id("user_o").await.unwrap().unwrap();
    assert_eq!(u.first_name.as_deref(), Some("New"));

    // Delete before update: the user stays deleted, the late update is Gone.
    let (_, h, b) = signed(&sender, &bodies::user_deleted("user_d"));
    assert!(p.process(&h, &b).await.is_success());
    let late = bodies::user_updated("user_d", "d@example.com", BASE_TIME_MS + 99_000);
    let (_, h, b) = signed(&sender, &late);
    let outcome = p.process(&h, &b).await;
    assert_eq!(outcome.effects().collect::<Vec<_>>(), vec![Effect::Gone]);
    let d = p.store().user_by_clerk_id("user_d").await.unwrap().unwrap();
    assert!(d.is_deleted() && !d.is_active && d.email.is_none());
    assert!(p
        .store()
        .user_by_email("d@example.com")
        .await
        .unwrap()
        .is_none());
}
on_both_stores!(out_of_order_converges_, out_of_order_converges);

/// Bad signatures, tampered bodies, stale timestamps: 400, nothing recorded.
async fn bad_signature_is_rejected<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let recorder = Recorder::default();
    let p = processor(store, &clock).with_listener(recorder.clone());
    let body = bodies::to_bytes(&bodies::user_created("user_x", "x@example.com"));
    let deliveries = [
        sender.delivery(body.clone()).signature(Signature::Tampered),
        sender
            .delivery(body.clone())
            .signature(Signature::WrongSecret),
        sender.delivery(body.clone()).tamper_body(),
        sender.delivery(body.clone()).timestamp_offset(-301),
        sender
            .delivery(body.clone())
            .omit(clerk_testkit::webhooks::SignatureHeader::Id),
    ];
    for d in deliveries {
        let outcome = p.process(&d.headers(), &d.body()).await;
        assert!(
            matches!(outcome, ProcessOutcome::Rejected(Rejection::Verify(_))),
            "{outcome:?}"
        );
        assert_eq!(outcome.status_code(), 400);
        assert_eq!(outcome.svix_id(), None);
    }
    assert!(p
        .store()
        .user_by_clerk_id("user_x")
        .await
        .unwrap()
        .is_none());
    assert_eq!(recorder.count(), 0);
}
on_both_stores!(bad_signature_is_rejected_, bad_signature_is_rejected);

/// A correctly signed body that is not a Clerk event: 400, nothing recorded.
async fn unparseable_verified_body_is_rejected<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    let cases: [&[u8]; 4] = [
        b"not json at all",
        b"{\"data\":{}}",
        b"{\"type\":\"user.created\",\"data\":{\"id\":7}}",
        // Parses, but a user with an empty id can never apply.
        b"{\"type\":\"user.updated\",\"data\":{\"id\":\"\"}}",
    ];
    for bytes in cases {
        let d = sender.delivery(bytes.to_vec()).msg_id("msg_bad");
        let outcome = p.process(&d.headers(), &d.body()).await;
        assert!(
            matches!(outcome, ProcessOutcome::Rejected(Rejection::Parse(_))),
            "{outcome:?}"
        );
        assert_eq!(outcome.status_code(), 400);
    }
    assert!(p.store().webhook_event("msg_bad").await.unwrap().is_none());
    assert!(p.store().list_users(None, 10).await.unwrap().is_empty());
}
on_both_stores!(
    unparseable_verified_body_is_rejected_,
    unparseable_verified_body_is_rejected
);

#[tokio::test]
async fn oversized_body_is_413() {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(memory_store().await, &clock);
    let d = sender.delivery(vec![b' '; MAX_BODY_BYTES + 1]);
    let outcome = p.process(&d.headers(), &d.body()).await;
    assert!(matches!(
        outcome,
        ProcessOutcome::Rejected(Rejection::TooLarge)
    ));
    assert_eq!(outcome.status_code(), 413);
}

/// An unreachable store: 503 with nothing recorded; Svix's redelivery then applies it.
async fn store_failure_retries<S: Store + Clone>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let recorder = Recorder::default();
    let flaky = FlakyStore::new(store);
    let p = processor(flaky.clone(), &clock).with_listener(recorder.clone());
    let (id, h, b) = signed(&sender, &bodies::user_created("user_u", "u@example.com"));
    let outcome = p.process(&h, &b).await;
    assert!(
        matches!(&outcome, ProcessOutcome::Retry(e) if e.is_retryable()),
        "{outcome:?}"
    );
    assert_eq!(outcome.status_code(), 503);
    assert!(flaky.inner.webhook_event(&id).await.unwrap().is_none());
    assert!(flaky
        .inner
        .user_by_clerk_id("user_u")
        .await
        .unwrap()
        .is_none());
    assert_eq!(recorder.count(), 0);
    // Ignored types need the ledger too: also 503 while it is down.
    let (_, h2, b2) = signed(&sender, &bodies::email_created("ema_1", "u@example.com"));
    assert_eq!(p.process(&h2, &b2).await.status_code(), 503);

    flaky.set_failing(false);
    let outcome = p.process(&h, &b).await;
    assert!(
        matches!(outcome, ProcessOutcome::Applied { .. }),
        "{outcome:?}"
    );
    assert!(flaky.inner.webhook_event(&id).await.unwrap().is_some());
    assert!(flaky
        .inner
        .user_by_clerk_id("user_u")
        .await
        .unwrap()
        .is_some());
    assert_eq!(recorder.count(), 1);
}
on_both_stores!(store_failure_retries_, store_failure_retries);

struct Failing;
impl Listener for Failing {
    async fn on_event(&self, _: &Committed<'_>) -> Result<(), ListenerError> {
        Err("listener broke".into())
    }
}

struct Panicking;
impl Listener for Panicking {
    async fn on_event(&self, _: &Committed<'_>) -> Result<(), ListenerError> {
        panic!("listener panicked (expected by the test)");
    }
}

/// Failing and panicking listeners: logged, the effect stays, later listeners still run.
async fn failing_listener_does_not_undo<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let recorder = Recorder::default();
    let p = processor(store, &clock)
        .with_listener(Failing)
        .with_listener(Panicking)
        .with_listener(recorder.clone());
    let (id, h, b) = signed(&sender, &bodies::user_created("user_l", "l@example.com"));
    let outcome = p.process(&h, &b).await;
    assert!(
        matches!(outcome, ProcessOutcome::Applied { .. }),
        "{outcome:?}"
    );
    assert_eq!(outcome.status_code(), 200);
    assert!(
        p.store()
            .user_by_clerk_id("user_l")
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    assert!(p.store().webhook_event(&id).await.unwrap().is_some());
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![(id, "user.created".to_owned(), vec![Effect::Created])]
    );
}
on_both_stores!(
    failing_listener_does_not_undo_,
    failing_listener_does_not_undo
);

/// After `user.deleted`, a sign-up with the same address is a fresh active user.
async fn re_sign_up_creates_a_fresh_user<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    for body in [
        bodies::user_created("user_a1", "same@example.com"),
        bodies::user_deleted("user_a1"),
        bodies::user_created("user_a2", "same@example.com"),
    ] {
        let (_, h, b) = signed(&sender, &body);
        let outcome = p.process(&h, &b).await;
        assert!(
            matches!(outcome, ProcessOutcome::Applied { .. }),
            "{outcome:?}"
        );
    }
    let old = p
        .store()
        .user_by_clerk_id("user_a1")
        .await
        .unwrap()
        .unwrap();
    let new = p
        .store()
        .user_by_clerk_id("user_a2")
        .await
        .unwrap()
        .unwrap();
    assert!(old.is_deleted() && !old.is_active && old.email.is_none());
    assert!(new.is_active && !new.is_deleted() && new.can_sign_in());
    assert_ne!(old.id, new.id);
    let by_email = p
        .store()
        .user_by_email("same@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.id, new.id);
}
on_both_stores!(
    re_sign_up_creates_a_fresh_user_,
    re_sign_up_creates_a_fresh_user
);

/// An address still held by another live user: acknowledged (200, outcome `conflict`), the
/// user written without that email, the whole user kept with the receipt; a redelivery is
/// already processed; once the holder's deletion arrives, an operator's retry applies the
/// email and releases the hold, and a second retry says so.
async fn email_conflict_is_held_then_retried<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    let (_, h, b) = signed(&sender, &bodies::user_created("user_c1", "c@example.com"));
    assert!(p.process(&h, &b).await.is_success());
    let (id, h2, b2) = signed(
        &sender,
        &UserBody::new("user_c2", "c@example.com")
            .first_name("Cleo")
            .event("user.created"),
    );
    let outcome = p.process(&h2, &b2).await;
    assert!(
        matches!(
            &outcome,
            ProcessOutcome::Held {
                reason: HoldReason::EmailConflict,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(outcome.status_code(), 200);
    assert_eq!(
        outcome.response_body(),
        serde_json::json!({"ok": true, "outcome": "conflict", "reason": "email_conflict"})
    );
    assert_eq!(outcome.effects().collect::<Vec<_>>(), vec![Effect::Created]);
    let s = p.store();
    assert!(
        s.webhook_event(&id).await.unwrap().is_some(),
        "the receipt is kept"
    );
    let held_user = s.user_by_clerk_id("user_c2").await.unwrap().unwrap();
    assert_eq!(
        held_user.email, None,
        "written without the conflicting email"
    );
    assert_eq!(
        held_user.first_name.as_deref(),
        Some("Cleo"),
        "every other field is current"
    );
    let held = s.held_event(&id).await.unwrap().expect("held");
    assert_eq!(held.event_type, "user.created");
    assert_eq!(held.user.email.as_deref(), Some("c@example.com"));
    assert_eq!(s.count_held_events().await.unwrap(), 1);

    // Svix redelivers (say the 2xx was lost): already processed, nothing changes.
    assert!(matches!(
        p.process(&h2, &b2).await,
        ProcessOutcome::AlreadyProcessed { .. }
    ));
    assert_eq!(s.count_held_events().await.unwrap(), 1);

    // Retried before the conflict is resolved: refused, nothing changed.
    let early = p.retry_held(&id).await.unwrap_err();
    assert!(
        matches!(early, RetryError::StillConflicts(Conflict::Email)),
        "{early:?}"
    );
    assert_eq!(s.count_held_events().await.unwrap(), 1);

    // The holder is deleted; the retry applies the email and releases the hold.
    let (_, h, b) = signed(&sender, &bodies::user_deleted("user_c1"));
    assert!(p.process(&h, &b).await.is_success());
    let retried = p.retry_held(&id).await.unwrap();
    assert_eq!(retried.user.effect, Effect::Updated);
    let user = s.user_by_clerk_id("user_c2").await.unwrap().unwrap();
    assert_eq!(user.email.as_deref(), Some("c@example.com"));
    assert_eq!(s.count_held_events().await.unwrap(), 0);
    assert!(s.held_event(&id).await.unwrap().unwrap().is_resolved());
    assert!(matches!(
        p.retry_held(&id).await,
        Err(RetryError::AlreadyResolved { .. })
    ));
    assert!(matches!(
        p.retry_held("msg_never_held").await,
        Err(RetryError::NotHeld { .. })
    ));
}
on_both_stores!(
    email_conflict_is_held_then_retried_,
    email_conflict_is_held_then_retried
);

/// Two Clerk users swap addresses and the first update arrives while the other still holds
/// its new address: that user is held without an email, which frees its old address, so the
/// second update applies in full; one retry then completes the swap.
async fn an_email_swap_converges_with_one_retry<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    for (id, email) in [("user_a", "a@example.com"), ("user_b", "b@example.com")] {
        let (_, h, b) = signed(&sender, &bodies::user_created(id, email));
        assert!(matches!(
            p.process(&h, &b).await,
            ProcessOutcome::Applied { .. }
        ));
    }
    let later = BASE_TIME_MS + 60_000;
    let (a_id, h, b) = signed(
        &sender,
        &bodies::user_updated("user_a", "b@example.com", later),
    );
    assert!(matches!(
        p.process(&h, &b).await,
        ProcessOutcome::Held { .. }
    ));
    let (_, h, b) = signed(
        &sender,
        &bodies::user_updated("user_b", "a@example.com", later),
    );
    assert!(matches!(
        p.process(&h, &b).await,
        ProcessOutcome::Applied { .. }
    ));
    let s = p.store();
    let email = |u: Option<clerk_core::model::User>| u.unwrap().email;
    assert_eq!(email(s.user_by_clerk_id("user_a").await.unwrap()), None);
    assert_eq!(
        email(s.user_by_clerk_id("user_b").await.unwrap()).as_deref(),
        Some("a@example.com")
    );
    assert_eq!(
        p.retry_held(&a_id).await.unwrap().user.effect,
        Effect::Updated
    );
    assert_eq!(
        email(s.user_by_clerk_id("user_a").await.unwrap()).as_deref(),
        Some("b@example.com")
    );
    assert_eq!(s.count_held_events().await.unwrap(), 0);
}
on_both_stores!(
    an_email_swap_converges_with_one_retry_,
    an_email_swap_converges_with_one_retry
);

/// A held delivery superseded by a newer one for the same user: the retry changes nothing
/// (the newer data stays) and releases the hold.
async fn a_superseded_hold_is_released_without_writing<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    let (_, h, b) = signed(&sender, &bodies::user_created("user_h1", "h@example.com"));
    assert!(p.process(&h, &b).await.is_success());
    let (held_id, h, b) = signed(&sender, &bodies::user_created("user_h2", "h@example.com"));
    assert!(matches!(
        p.process(&h, &b).await,
        ProcessOutcome::Held { .. }
    ));
    let newer = bodies::user_updated("user_h2", "h2@example.com", BASE_TIME_MS + 50_000);
    let (_, h, b) = signed(&sender, &newer);
    assert!(matches!(
        p.process(&h, &b).await,
        ProcessOutcome::Applied { .. }
    ));
    assert_eq!(
        p.retry_held(&held_id).await.unwrap().user.effect,
        Effect::Unchanged
    );
    let user = p
        .store()
        .user_by_clerk_id("user_h2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("h2@example.com"));
    assert_eq!(p.store().count_held_events().await.unwrap(), 0);
}
on_both_stores!(
    a_superseded_hold_is_released_without_writing_,
    a_superseded_hold_is_released_without_writing
);

/// Sessions: login on `session.created`, logout and the revoked set on end/remove/revoke.
async fn sessions_record_login_logout_and_revocation<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    let (_, h, b) = signed(&sender, &bodies::user_created("user_s", "s@example.com"));
    assert!(p.process(&h, &b).await.is_success());
    let created = bodies::SessionBody::new("sess_1", "user_s")
        .created_at(BASE_TIME_MS + 5_000)
        .event("session.created");
    let (_, h, b) = signed(&sender, &created);
    let outcome = p.process(&h, &b).await;
    assert_eq!(outcome.effects().collect::<Vec<_>>(), vec![Effect::Updated]);
    let u = p.store().user_by_clerk_id("user_s").await.unwrap().unwrap();
    assert_eq!(
        u.last_login,
        Some(UnixTime::from_millis(BASE_TIME_MS + 5_000))
    );
    for (n, kind) in ["ended", "removed", "revoked"].into_iter().enumerate() {
        let session = format!("sess_{kind}");
        let at = BASE_TIME_MS + 10_000 + i64::try_from(n).unwrap();
        let body = bodies::SessionBody::new(&session, "user_s")
            .status(kind)
            .updated_at(at)
            .event(&format!("session.{kind}"));
        let (_, h, b) = signed(&sender, &body);
        assert!(matches!(
            p.process(&h, &b).await,
            ProcessOutcome::Applied { .. }
        ));
        let revoked = p.store().revoked_session(&session).await.unwrap().unwrap();
        assert_eq!(revoked.status, kind);
        assert_eq!(revoked.user_clerk_id.as_deref(), Some("user_s"));
        assert_eq!(revoked.revoked_at, UnixTime::from_millis(at));
        let u = p.store().user_by_clerk_id("user_s").await.unwrap().unwrap();
        assert_eq!(u.last_logout, Some(UnixTime::from_millis(at)));
    }
    // A session of a user the mirror does not know yet: still acknowledged and revoked.
    let (_, h, b) = signed(&sender, &bodies::session_revoked("sess_z", "user_unknown"));
    assert!(p.process(&h, &b).await.is_success());
    assert!(p.store().revoked_session("sess_z").await.unwrap().is_some());
}
on_both_stores!(
    sessions_record_login_logout_and_revocation_,
    sessions_record_login_logout_and_revocation
);

/// Organizations, memberships and invitations reach their tables; deleting the organization
/// ends its memberships.
async fn organizations_memberships_invitations<S: Store>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = processor(store, &clock);
    let events = [
        bodies::organization_created("org_1", "Acme", "acme"),
        bodies::organization_updated("org_1", "Acme Inc", "acme-inc", BASE_TIME_MS + 5_000),
        MembershipBody::new("orgmem_1", "org_1", "user_m", "org:admin")
            .event("organizationMembership.created"),
        bodies::invitation_created("orginv_1", "org_1", "inv@example.com"),
        bodies::invitation_accepted("orginv_1", "org_1", "inv@example.com", "user_i"),
    ];
    for body in &events {
        let (_, h, b) = signed(&sender, body);
        let outcome = p.process(&h, &b).await;
        assert!(
            matches!(outcome, ProcessOutcome::Applied { .. }),
            "{outcome:?}"
        );
    }
    let s = p.store();
    let org = s.organization("org_1").await.unwrap().unwrap();
    assert_eq!(
        (org.name.as_str(), org.slug.as_deref()),
        ("Acme Inc", Some("acme-inc"))
    );
    let members = s.memberships_of_organization("org_1").await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].role, "org:admin");
    assert!(!members[0].permissions.is_empty());
    let inv = s.invitation("orginv_1").await.unwrap().unwrap();
    assert_eq!(inv.status, InvitationStatus::Accepted);
    assert_eq!(inv.user_clerk_id.as_deref(), Some("user_i"));
    let (_, h, b) = signed(&sender, &bodies::organization_deleted("org_1"));
    assert!(p.process(&h, &b).await.is_success());
    assert!(s.organization("org_1").await.unwrap().unwrap().is_deleted());
    assert!(s
        .memberships_of_organization("org_1")
        .await
        .unwrap()
        .is_empty());
    assert!(s.memberships_of_user("user_m").await.unwrap().is_empty());
}
on_both_stores!(
    organizations_memberships_invitations_,
    organizations_memberships_invitations
);

/// Account linking by email is off by default (the Clerk user is held, written without the
/// local account's email) and wired through the options when on.
async fn linking_is_opt_in<S: Store + Clone>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let mut local_ids = Vec::new();
    for name in ["lena", "lina"] {
        let mut local = NewLocalUser::new(name);
        local.email = Some(format!("{name}@example.com"));
        let created = store
            .apply(WriteBatch::single(
                base_now(),
                Change::CreateLocalUser(local),
            ))
            .await
            .unwrap();
        local_ids.push(created.applied()[0].user_id.unwrap());
    }

    let off = processor(store.clone(), &clock);
    let (_, h, b) = signed(
        &sender,
        &bodies::user_created("user_lena", "lena@example.com"),
    );
    let outcome = off.process(&h, &b).await;
    assert!(
        matches!(outcome, ProcessOutcome::Held { .. }),
        "{outcome:?}"
    );
    let held = store.user_by_clerk_id("user_lena").await.unwrap().unwrap();
    assert_ne!(
        held.id, local_ids[0],
        "not linked: a new row without the email"
    );
    assert_eq!(held.email, None);
    let local = store.user(local_ids[0]).await.unwrap().unwrap();
    assert_eq!(local.clerk_id, None);
    assert_eq!(
        local.email.as_deref(),
        Some("lena@example.com"),
        "the local account keeps it"
    );

    let on = processor(store.clone(), &clock)
        .with_options(ProcessorOptions::default().link_by_verified_email(true));
    let (_, h, b) = signed(
        &sender,
        &bodies::user_created("user_lina", "lina@example.com"),
    );
    let outcome = on.process(&h, &b).await;
    assert_eq!(outcome.effects().collect::<Vec<_>>(), vec![Effect::Linked]);
    let linked = store.user_by_clerk_id("user_lina").await.unwrap().unwrap();
    assert_eq!(linked.id, local_ids[1]);
}
on_both_stores!(linking_is_opt_in_, linking_is_opt_in);

/// 50 different `user.updated` events for one user from 8 tasks: the newest wins.
async fn concurrent_updates_converge<S: Store + Clone + 'static>(store: S) {
    let clock = clock();
    let sender = sender(&clock);
    let p = Arc::new(processor(store, &clock));
    let (_, h, b) = signed(&sender, &bodies::user_created("user_cc", "cc@example.com"));
    assert!(p.process(&h, &b).await.is_success());
    let deliveries: Vec<_> = (0..50)
        .map(|i| {
            let body = UserBody::new("user_cc", "cc@example.com")
                .first_name(&format!("v{i}"))
                .updated_at(BASE_TIME_MS + 10_000 + i)
                .event("user.updated");
            signed(&sender, &body)
        })
        .collect();
    let deliveries = Arc::new(Mutex::new(deliveries));
    let retries = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (p, deliveries, retries) = (p.clone(), deliveries.clone(), retries.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = deliveries.lock().unwrap().pop();
                let Some((id, h, b)) = next else { break };
                loop {
                    match p.process(&h, &b).await {
                        ProcessOutcome::Applied { .. } => break,
                        ProcessOutcome::Retry(e) if e.is_retryable() => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            tokio::task::yield_now().await;
                        }
                        other => panic!("{id}: {other:?}"),
                    }
                }
                assert!(p.store().webhook_event(&id).await.unwrap().is_some());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let u = p
        .store()
        .user_by_clerk_id("user_cc")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.first_name.as_deref(), Some("v49"));
    assert_eq!(
        u.clerk_updated_at,
        Some(UnixTime::from_millis(BASE_TIME_MS + 10_049))
    );
    assert!(u.is_active);
    assert_eq!(p.store().list_users(None, 10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_updates_converge_on_sqlite() {
    concurrent_updates_converge(sqlite_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_updates_converge_on_memory() {
    concurrent_updates_converge(Arc::new(memory_store().await)).await;
}
