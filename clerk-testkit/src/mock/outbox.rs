//! The webhooks the mock sends after its writes, as Clerk does (through Svix): signed with
//! the configured secret, POSTed one at a time in the order of the writes, asynchronously
//! (the write is answered first), each retried a few times on a failure.
//!
//! Tests point the mock at a receiver with [`MockClerk::deliver_webhooks_to`] and wait for
//! the queue to drain with [`MockClerk::webhooks_delivered`]; every event emitted, delivered
//! or not, is in [`MockClerk::webhook_events`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_webhooks::Webhook;
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::backend::lock;
use super::MockClerk;
use crate::webhooks::random_msg_id;

/// Attempts per delivery (Svix retries for days; the mock a few times, quickly).
const ATTEMPTS: u32 = 3;
/// The wait before the second attempt (doubled for each further one).
const RETRY_DELAY: Duration = Duration::from_millis(50);
/// The `instance_id` of the mock's envelopes.
pub const MOCK_INSTANCE_ID: &str = "ins_mockClerkInstance0000000";

/// A webhook event the mock emitted after a write.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EmittedWebhook {
    /// The svix id it is (or would be) delivered with.
    pub msg_id: String,
    /// The event type, e.g. `user.updated`.
    pub event_type: String,
    /// The whole event (`{"data", "object": "event", "type", "timestamp", …}`).
    pub body: Value,
}

/// The outcome of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The svix id.
    pub msg_id: String,
    /// The event type.
    pub event_type: String,
    /// The receiver's last status (`None`: no response at all).
    pub status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
}

impl WebhookDelivery {
    /// Whether the receiver answered 2xx.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

struct Target {
    url: String,
    webhook: Webhook,
}

#[derive(Default)]
struct Inner {
    target: Option<Arc<Target>>,
    queue: VecDeque<(Arc<Target>, EmittedWebhook)>,
    running: bool,
    events: Vec<EmittedWebhook>,
    deliveries: Vec<WebhookDelivery>,
}

/// The queue of webhooks to deliver.
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    idle: Notify,
    runtime: Option<tokio::runtime::Handle>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    /// An outbox that spawns its deliveries on the current runtime (the mock's).
    pub(crate) fn new() -> Self {
        Outbox {
            inner: Mutex::new(Inner::default()),
            idle: Notify::new(),
            runtime: tokio::runtime::Handle::try_current().ok(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Emits `event_type` with `data` at `now_ms` (the envelope's `timestamp`): logged, and
    /// queued for delivery when a target is set.
    pub(crate) fn emit(self: &Arc<Self>, event_type: &str, data: Value, now_ms: i64) {
        let body = json!({
            "data": data,
            "event_attributes": {"http_request": {"client_ip": "", "user_agent": ""}},
            "instance_id": MOCK_INSTANCE_ID,
            "object": "event",
            "timestamp": now_ms,
            "type": event_type,
        });
        let event = EmittedWebhook {
            msg_id: random_msg_id(),
            event_type: event_type.to_owned(),
            body,
        };
        let spawn = {
            let mut inner = lock(&self.inner);
            inner.events.push(event.clone());
            let Some(target) = inner.target.clone() else {
                return;
            };
            inner.queue.push_back((target, event));
            !std::mem::replace(&mut inner.running, true)
        };
        if spawn {
            let me = Arc::clone(self);
            let worker = async move { me.drain().await };
            match tokio::runtime::Handle::try_current()
                .ok()
                .or_else(|| self.runtime.clone())
            {
                Some(handle) => {
                    handle.spawn(worker);
                }
                None => {
                    lock(&self.inner).running = false;
                    tracing::warn!("the mock Clerk has no runtime to deliver webhooks on");
                }
            }
        }
    }

    async fn drain(self: Arc<Self>) {
        loop {
            let next = {
                let mut inner = lock(&self.inner);
                let next = inner.queue.pop_front();
                if next.is_none() {
                    inner.running = false;
                }
                next
            };
            let Some((target, event)) = next else {
                self.idle.notify_waiters();
                return;
            };
            let delivery = self.deliver(&target, &event).await;
            lock(&self.inner).deliveries.push(delivery);
        }
    }

    async fn deliver(&self, target: &Target, event: &EmittedWebhook) -> WebhookDelivery {
        let bytes = event.body.to_string().into_bytes();
        let mut status = None;
        let mut attempts = 0;
        let mut delay = RETRY_DELAY;
        while attempts < ATTEMPTS {
            attempts += 1;
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let mut headers = target
                .webhook
                .sign_headers(&event.msg_id, timestamp, &bytes);
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            let sent = self
                .client
                .post(&target.url)
                .headers(headers)
                .body(bytes.clone())
                .send()
                .await;
            status = sent.ok().map(|r| r.status().as_u16());
            if status.is_some_and(|s| (200..300).contains(&s)) {
                break;
            }
            if attempts < ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        WebhookDelivery {
            msg_id: event.msg_id.clone(),
            event_type: event.event_type.clone(),
            status,
            attempts,
        }
    }

    fn set_target(&self, target: Option<Target>) {
        lock(&self.inner).target = target.map(Arc::new);
    }

    async fn wait_idle(&self) -> Vec<WebhookDelivery> {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let inner = lock(&self.inner);
                if !inner.running && inner.queue.is_empty() {
                    return inner.deliveries.clone();
                }
            }
            notified.await;
        }
    }

    pub(crate) fn clear(&self) {
        let mut inner = lock(&self.inner);
        inner.events.clear();
        inner.deliveries.clear();
    }
}

impl MockClerk {
    /// Delivers the webhooks of the writes from now on to `url`, signed with
    /// `signing_secret` (`whsec_…`) as Svix does (`svix-id`, `svix-timestamp`,
    /// `svix-signature`), in the order of the writes, after each write is answered.
    ///
    /// # Panics
    /// When `signing_secret` is not a valid `whsec_` secret (a test set-up error).
    pub fn deliver_webhooks_to(&self, url: impl Into<String>, signing_secret: &str) {
        let webhook = Webhook::new(signing_secret)
            .expect("MockClerk::deliver_webhooks_to: invalid whsec_ secret");
        self.state().webhooks.set_target(Some(Target {
            url: url.into(),
            webhook,
        }));
    }

    /// Stops delivering webhooks (they are still logged in [`webhook_events`](Self::webhook_events)).
    pub fn stop_delivering_webhooks(&self) {
        self.state().webhooks.set_target(None);
    }

    /// Waits until every queued webhook has been delivered (or has run out of attempts) and
    /// returns every delivery so far, in order.
    pub async fn webhooks_delivered(&self) -> Vec<WebhookDelivery> {
        self.state().webhooks.wait_idle().await
    }

    /// Every webhook event emitted since the start (or [`clear_webhook_log`](Self::clear_webhook_log)),
    /// delivered or not, in order.
    #[must_use]
    pub fn webhook_events(&self) -> Vec<EmittedWebhook> {
        lock(&self.state().webhooks.inner).events.clone()
    }

    /// Forgets the emitted events and the deliveries.
    pub fn clear_webhook_log(&self) {
        self.state().webhooks.clear();
    }
}
