//! The webhook processor: verified event → one store transaction → listeners.
//!
//! [`WebhookProcessor::process`] takes the raw request headers and body and returns a
//! [`ProcessOutcome`], a decision value that adapters turn into a response with
//! [`ProcessOutcome::status_code`] ([design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks)):
//!
//! | outcome | status | recorded in the ledger |
//! |---|---|---|
//! | [`Applied`](ProcessOutcome::Applied) | 200 | yes, with the effect, in one transaction |
//! | [`Ignored`](ProcessOutcome::Ignored) (no store effect) | 200 | yes (so listeners run once) |
//! | [`AlreadyProcessed`](ProcessOutcome::AlreadyProcessed) (same svix id) | 200 | already |
//! | [`Held`](ProcessOutcome::Held): a permanent conflict (the email is held by another row) | 200 `conflict` | yes, with the user written without the email and the whole user kept for `clerk webhooks retry` |
//! | [`Rejected`](ProcessOutcome::Rejected): bad signature, stale timestamp, non-JSON or malformed verified body | 400 | no |
//! | [`Rejected`](ProcessOutcome::Rejected): body over [`MAX_BODY_BYTES`] | 413 | no |
//! | [`Retry`](ProcessOutcome::Retry): any other store error (unavailable, a Clerk-id race, a backend failure) | 503 | no: Svix redelivers |
//!
//! # Steps
//!
//! 1. Verify the Svix signature at the [`Clock`]'s `now` ([`Webhook::verify_at`]).
//! 2. Parse the verified body ([`Event`]) and map it purely to store changes
//!    ([`mapping::map_event`]).
//! 3. Apply the changes **and** the receipt (svix id, event type, processed at) as one
//!    [`WriteBatch`]: all or nothing. A svix id already in the ledger writes nothing and
//!    answers [`ProcessOutcome::AlreadyProcessed`] — across processes sharing a SQL store.
//! 4. After the commit, run the [`Listener`]s in order; their failures are logged and change
//!    nothing.
//!
//! # Decisions
//!
//! - **Ignored event types are recorded** in the ledger (an empty batch with a receipt), so a
//!   replay of, say, `email.created` is answered like any replay and listeners see each svix
//!   id once. The cost is one small write per ignored delivery; a store outage therefore
//!   answers 503 to ignored types too, and Svix redelivers them.
//! - **A permanent conflict is acknowledged and held, not retried**
//!   ([`clerk_core::store::held`]): an email held by another row that may not be linked
//!   would fail on every Svix retry, for days, and then be dropped. The delivery is answered
//!   200 with outcome `conflict`; the user is written without that email (every other field
//!   current), and the whole user is kept beside the receipt in the same transaction until an
//!   operator retries it. In the email-swap case this frees the held user's old address, so
//!   the other user's delivery applies in full.
//! - **Every other store error is [`ProcessOutcome::Retry`] (503)**: `Unavailable` obviously;
//!   a Clerk-id race ([`Conflict::ClerkId`]: a concurrent insert won, the retry updates);
//!   `Backend` (a schema mismatch) because nothing was recorded and an operator can fix it
//!   before Svix gives up. A body that can never apply (an empty id) is rejected with 400 at
//!   the mapping step instead, so it does not retry forever.
//! - Older or equal Clerk `updated_at` changes nothing ([`Effect::Unchanged`]) but the delivery
//!   is still recorded and answered 200: the store already holds newer data.
//! - Logs and spans carry the svix id, the event type and Clerk object ids — never emails,
//!   bodies, signatures or secrets.
//!
//! ```
//! use clerk_core::time::UnixTime;
//! use clerk_store::MemoryStore;
//! use clerk_webhooks::processor::{ProcessOutcome, WebhookProcessor};
//! use clerk_webhooks::Webhook;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let webhook = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let body = br#"{"type":"user.deleted","object":"event","timestamp":1700000000000,
//!                 "data":{"deleted":true,"id":"user_1","object":"user"}}"#;
//! let headers = webhook.sign_headers("msg_1", 1_700_000_000, body);
//!
//! struct Fixed;
//! impl clerk_core::time::Clock for Fixed {
//!     fn now(&self) -> UnixTime { UnixTime::from_secs(1_700_000_010) }
//! }
//! let processor = WebhookProcessor::new(webhook, MemoryStore::new()).with_clock(Fixed);
//!
//! let outcome = processor.process(&headers, body).await;
//! assert!(matches!(outcome, ProcessOutcome::Applied { .. }));
//! assert_eq!(outcome.status_code(), 200);
//! // The same delivery again: answered 2xx, applied once.
//! let again = processor.process(&headers, body).await;
//! assert!(matches!(again, ProcessOutcome::AlreadyProcessed { .. }));
//! # Ok(())
//! # }
//! ```

mod listener;
pub mod mapping;

use std::sync::Arc;

use clerk_core::model::HoldReason;
use clerk_core::store::held::{self, Retried, RetryError};
use clerk_core::store::{
    Applied, BatchOutcome, Conflict, Effect, LinkPolicy, Store, StoreError, WriteBatch,
};
use clerk_core::time::{Clock, SystemClock, UnixTime};
use http::{HeaderMap, StatusCode};
use tracing::Instrument as _;

use crate::event::{Event, ParseError};
use crate::signature::{VerifyError, Webhook};

use listener::{notify, DynListener};
pub use listener::{Committed, Listener, ListenerError};
pub use mapping::{map_event, Mapped};

/// The largest webhook body accepted: 1 MiB ([design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks)). Adapters answer 413 to a larger
/// body without reading the rest; [`WebhookProcessor::process`] rejects one too.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Processor settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessorOptions {
    /// Account linking by email for users Clerk reports for the first time (off by default;
    /// the store enforces the guard: verified primary email, never onto staff, superuser or
    /// rows holding another Clerk id).
    pub link: LinkPolicy,
}

impl ProcessorOptions {
    /// Turns account linking by verified email on or off.
    #[must_use]
    pub fn link_by_verified_email(mut self, on: bool) -> Self {
        self.link = if on {
            LinkPolicy::VerifiedEmail
        } else {
            LinkPolicy::Never
        };
        self
    }
}

/// Why a delivery was refused without touching the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The signature, timestamp or headers did not verify (400).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The verified body is not a usable Clerk event (400).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The body is larger than [`MAX_BODY_BYTES`] (413).
    #[error("webhook body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// What [`WebhookProcessor::process`] decided. Turn it into a response with
/// [`ProcessOutcome::status_code`].
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum ProcessOutcome {
    /// The event's effect and its receipt were committed; listeners ran.
    Applied {
        /// The delivery's svix id.
        svix_id: String,
        /// The event type.
        event_type: String,
        /// One entry per change (an older event is applied as [`Effect::Unchanged`]).
        applied: Vec<Applied>,
    },
    /// This svix id was already recorded: nothing was written, listeners did not run.
    AlreadyProcessed {
        /// The delivery's svix id.
        svix_id: String,
        /// The event type (of this delivery).
        event_type: String,
    },
    /// The event type has no store effect; the receipt was recorded and listeners ran.
    Ignored {
        /// The delivery's svix id.
        svix_id: String,
        /// The event type.
        event_type: String,
    },
    /// A permanent conflict (the user's email is held by another row that may not be
    /// linked): acknowledged (200, outcome `conflict`) so Svix stops retrying; the user was
    /// written without the email, and the delivery is kept with its receipt
    /// ([`HeldEvent`](clerk_core::model::HeldEvent)) until `clerk webhooks retry` (or
    /// [`WebhookProcessor::retry_held`]) applies it. Listeners ran.
    Held {
        /// The delivery's svix id.
        svix_id: String,
        /// The event type.
        event_type: String,
        /// Why it was held.
        reason: HoldReason,
        /// What the store did with the changes (the user written without its email).
        applied: Vec<Applied>,
    },
    /// Refused before the store: nothing recorded, Svix should not retry.
    Rejected(Rejection),
    /// The store failed: nothing was recorded, Svix should deliver again (503).
    Retry(StoreError),
}

impl ProcessOutcome {
    /// The HTTP status [design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks) prescribes: 200 for applied, already processed and ignored;
    /// 200 for a held delivery too; 400 for a verification or parse failure; 413 for an
    /// oversized body; 503 for any other store failure (so Svix retries).
    #[must_use]
    pub fn status_code(&self) -> StatusCode {
        match self {
            ProcessOutcome::Applied { .. }
            | ProcessOutcome::AlreadyProcessed { .. }
            | ProcessOutcome::Ignored { .. }
            | ProcessOutcome::Held { .. } => StatusCode::OK,
            ProcessOutcome::Rejected(Rejection::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            ProcessOutcome::Rejected(_) => StatusCode::BAD_REQUEST,
            ProcessOutcome::Retry(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The JSON body adapters answer with (the same in `clerk-axum` and `clerk-rocket`):
    /// `{"ok":true,"outcome":"applied"|"already_processed"|"ignored"}`;
    /// `{"ok":true,"outcome":"conflict","reason":"email_conflict"}` (held);
    /// `{"error":"invalid_webhook","reason":"verification_failed"|"unparseable_body"}` (400);
    /// `{"error":"payload_too_large"}` (413); `{"error":"store_unavailable"}` (503). It never
    /// echoes the request.
    #[must_use]
    pub fn response_body(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            ProcessOutcome::Applied { .. } => json!({ "ok": true, "outcome": "applied" }),
            ProcessOutcome::AlreadyProcessed { .. } => {
                json!({ "ok": true, "outcome": "already_processed" })
            }
            ProcessOutcome::Ignored { .. } => json!({ "ok": true, "outcome": "ignored" }),
            ProcessOutcome::Held { reason, .. } => {
                json!({ "ok": true, "outcome": "conflict", "reason": reason.as_str() })
            }
            ProcessOutcome::Rejected(Rejection::TooLarge) => {
                json!({ "error": "payload_too_large" })
            }
            ProcessOutcome::Rejected(Rejection::Verify(_)) => {
                json!({ "error": "invalid_webhook", "reason": "verification_failed" })
            }
            ProcessOutcome::Rejected(Rejection::Parse(_)) => {
                json!({ "error": "invalid_webhook", "reason": "unparseable_body" })
            }
            ProcessOutcome::Retry(_) => json!({ "error": "store_unavailable" }),
        }
    }

    /// Whether the delivery is acknowledged (2xx): applied, already processed, ignored or
    /// held.
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.status_code().is_success()
    }

    /// The svix id, for outcomes that got past verification.
    #[must_use]
    pub fn svix_id(&self) -> Option<&str> {
        match self {
            ProcessOutcome::Applied { svix_id, .. }
            | ProcessOutcome::AlreadyProcessed { svix_id, .. }
            | ProcessOutcome::Ignored { svix_id, .. }
            | ProcessOutcome::Held { svix_id, .. } => Some(svix_id),
            ProcessOutcome::Rejected(_) | ProcessOutcome::Retry(_) => None,
        }
    }

    /// The effects of an applied delivery (empty otherwise).
    pub fn effects(&self) -> impl Iterator<Item = Effect> + '_ {
        let applied: &[Applied] = match self {
            ProcessOutcome::Applied { applied, .. } | ProcessOutcome::Held { applied, .. } => {
                applied
            }
            _ => &[],
        };
        applied.iter().map(|a| a.effect)
    }
}

/// Verifies, parses and applies Clerk webhooks to a [`Store`], then runs listeners.
///
/// Cheap to share behind an `Arc`; `process` takes `&self` and may run concurrently (the
/// store serializes writes; ordering by Clerk `updated_at` makes the result independent of
/// the interleaving).
pub struct WebhookProcessor<S> {
    webhook: Webhook,
    store: S,
    clock: Arc<dyn Clock>,
    listeners: Vec<Box<dyn DynListener>>,
    options: ProcessorOptions,
}

impl<S> std::fmt::Debug for WebhookProcessor<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookProcessor")
            .field("webhook", &self.webhook)
            .field("listeners", &self.listeners.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl WebhookProcessor<Arc<dyn Store>> {
    /// The processor the settings ask for: verifying with `CLERK_WEBHOOK_SIGNING_KEY` and
    /// writing to `store`; `None` without the key (logged: the webhook route then answers
    /// 503, so Svix retries once the key is set).
    ///
    /// # Errors
    /// The signing key is not a valid `whsec_…` secret.
    pub fn from_config(
        config: &clerk_core::ClerkConfig,
        store: Arc<dyn Store>,
    ) -> Result<Option<Self>, crate::SecretError> {
        match config.webhook_signing_key() {
            Some(key) => Ok(Some(WebhookProcessor::new(
                Webhook::from_signing_key(key)?,
                store,
            ))),
            None => {
                tracing::warn!("CLERK_WEBHOOK_SIGNING_KEY unset: the webhook route answers 503");
                Ok(None)
            }
        }
    }
}

impl<S: Store> WebhookProcessor<S> {
    /// A processor verifying with `webhook` and writing to `store`, on the system clock, with
    /// no listeners and default options (no account linking).
    #[must_use]
    pub fn new(webhook: Webhook, store: S) -> Self {
        WebhookProcessor {
            webhook,
            store,
            clock: Arc::new(SystemClock),
            listeners: Vec::new(),
            options: ProcessorOptions::default(),
        }
    }

    /// Uses `clock` for signature tolerance and the batch's `now` (tests: a manual clock).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds a listener; listeners run in the order they were added.
    #[must_use]
    pub fn with_listener(mut self, listener: impl Listener) -> Self {
        self.listeners.push(Box::new(listener));
        self
    }

    /// Replaces the options.
    #[must_use]
    pub fn with_options(mut self, options: ProcessorOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in force.
    #[must_use]
    pub fn options(&self) -> &ProcessorOptions {
        &self.options
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The verifier.
    #[must_use]
    pub fn webhook(&self) -> &Webhook {
        &self.webhook
    }

    /// Processes one delivery: the request headers and the raw body bytes.
    ///
    /// Never panics and never returns early with half a write: see [`ProcessOutcome`].
    pub async fn process(&self, headers: &HeaderMap, body: &[u8]) -> ProcessOutcome {
        if body.len() > MAX_BODY_BYTES {
            tracing::debug!(len = body.len(), "webhook body over the limit");
            return ProcessOutcome::Rejected(Rejection::TooLarge);
        }
        let now = self.clock.now();
        let verified = match self.webhook.verify_at(headers, body, now) {
            Ok(v) => v,
            Err(error) => {
                tracing::info!(error = %error, "webhook rejected: verification failed");
                return ProcessOutcome::Rejected(Rejection::Verify(error));
            }
        };
        let svix_id = verified.id();
        let span =
            tracing::info_span!("clerk_webhook", svix_id, event_type = tracing::field::Empty);
        let fallback = verified.timestamp();
        async move {
            let event = match verified.event() {
                Ok(event) => event,
                Err(error) => {
                    tracing::info!(error = %error, "webhook rejected: unparseable body");
                    return ProcessOutcome::Rejected(Rejection::Parse(error));
                }
            };
            tracing::Span::current().record("event_type", event.event_type());
            self.apply_event(svix_id, &event, now, fallback).await
        }
        .instrument(span)
        .await
    }

    /// Applies an already verified and parsed event delivered as `svix_id` (what
    /// [`WebhookProcessor::process`] does after verification): for adapters that verify
    /// themselves, and for replaying a stored delivery. `fallback` dates a deletion when the
    /// envelope has no `timestamp` (normally the svix timestamp).
    pub async fn process_event(
        &self,
        svix_id: &str,
        event: &Event,
        fallback: UnixTime,
    ) -> ProcessOutcome {
        let now = self.clock.now();
        self.apply_event(svix_id, event, now, fallback).await
    }

    /// Applies the held delivery `svix_id` again, with this processor's linking option, and
    /// releases it ([`held::retry_held`]): for an operator who resolved its conflict (the
    /// `clerk webhooks retry` command does the same). Listeners do not run again: they ran
    /// when the delivery was first committed.
    ///
    /// # Errors
    /// [`RetryError`]: nothing changed.
    pub async fn retry_held(&self, svix_id: &str) -> Result<Retried, RetryError> {
        held::retry_held(&self.store, svix_id, self.options.link, self.clock.now()).await
    }

    async fn apply_event(
        &self,
        svix_id: &str,
        event: &Event,
        now: UnixTime,
        fallback: UnixTime,
    ) -> ProcessOutcome {
        let event_type = event.event_type();
        let mapped = match mapping::map_event(event, self.options.link, fallback) {
            Ok(mapped) => mapped,
            Err(error) => {
                tracing::info!(error = %error, "webhook rejected: event cannot apply");
                return ProcessOutcome::Rejected(Rejection::Parse(error));
            }
        };
        let (changes, ignored) = match mapped {
            Mapped::Changes(changes) => (changes, false),
            Mapped::Ignored => (Vec::new(), true),
        };
        let mut batch = WriteBatch::new(now).with_receipt(svix_id, event_type);
        for change in &changes {
            batch.push(change.clone());
        }
        let mut held = None;
        let outcome = match self.store.apply(batch).await {
            // A permanent conflict: acknowledge, write the user without the email, keep it.
            Err(StoreError::Conflict(conflict)) if conflict != Conflict::ClerkId => {
                match held::withhold_email(&changes) {
                    Some((user, withheld)) => {
                        tracing::warn!(
                            svix_id,
                            event_type,
                            object_id = event.data.object_id(),
                            %conflict,
                            "webhook held: the user was written without its email; \
                             `clerk webhooks retry` applies it once resolved"
                        );
                        held = Some(HoldReason::EmailConflict);
                        let mut batch = WriteBatch::new(now)
                            .with_receipt(svix_id, event_type)
                            .with_hold(HoldReason::EmailConflict, user);
                        for change in withheld {
                            batch.push(change);
                        }
                        self.store.apply(batch).await
                    }
                    None => Err(StoreError::Conflict(conflict)),
                }
            }
            other => other,
        };
        let applied = match outcome {
            Ok(BatchOutcome::Applied(applied)) => applied,
            Ok(BatchOutcome::AlreadyProcessed(_)) => {
                tracing::debug!(svix_id, event_type, "webhook already processed");
                return ProcessOutcome::AlreadyProcessed {
                    svix_id: svix_id.to_owned(),
                    event_type: event_type.to_owned(),
                };
            }
            Err(error) => {
                tracing::warn!(
                    svix_id,
                    event_type,
                    object_id = event.data.object_id(),
                    retryable = error.is_retryable(),
                    error = %error,
                    "webhook not applied; nothing recorded, asking Svix to retry"
                );
                return ProcessOutcome::Retry(error);
            }
        };
        tracing::debug!(
            svix_id,
            event_type,
            object_id = event.data.object_id(),
            changed = applied.iter().any(|a| a.effect.changed()),
            "webhook applied"
        );
        let committed = Committed {
            svix_id,
            event,
            applied: &applied,
        };
        notify(&self.listeners, &committed).await;
        if let Some(reason) = held {
            return ProcessOutcome::Held {
                svix_id: svix_id.to_owned(),
                event_type: event_type.to_owned(),
                reason,
                applied,
            };
        }
        if ignored {
            ProcessOutcome::Ignored {
                svix_id: svix_id.to_owned(),
                event_type: event_type.to_owned(),
            }
        } else {
            ProcessOutcome::Applied {
                svix_id: svix_id.to_owned(),
                event_type: event_type.to_owned(),
                applied,
            }
        }
    }
}
