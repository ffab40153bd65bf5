//! Svix-signed Clerk webhooks for tests: a sender that signs and POSTs, and realistic bodies.
//!
//! - [`WebhookSender`] signs a body with a `whsec_` secret exactly as Clerk (through Svix)
//!   does and POSTs it, returning the response. A [`Delivery`] chooses the svix id and the
//!   timestamp (replays, stale or future messages), the header family, tampered or missing
//!   signatures, a tampered body and missing headers. [`Delivery::to_request`] builds the
//!   same request as an `http::Request` for in-process tests (`tower::ServiceExt::oneshot`).
//! - [`bodies`] builds realistic event bodies for every Clerk event type, shaped like
//!   Clerk's Backend API JSON, with overrides for ids, emails and `updated_at`.
//!
//! ```no_run
//! use clerk_testkit::webhooks::{bodies, Signature, WebhookSender};
//!
//! # async fn demo() -> Result<(), reqwest::Error> {
//! let sender = WebhookSender::new("http://127.0.0.1:3000/webhooks/clerk", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
//! let sent = sender.send_json(&bodies::user_created("user_1", "ada@example.com")).await?;
//! assert!(sent.status.is_success());
//!
//! // Replay the same message id, then a forged signature.
//! let replay = sender.delivery(bodies::to_bytes(&bodies::user_deleted("user_1"))).msg_id(&sent.msg_id);
//! assert!(replay.send().await?.status.is_success());
//! let forged = sender.delivery(b"{}".to_vec()).signature(Signature::Tampered).send().await?;
//! assert_eq!(forged.status, 400);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use clerk_core::time::{Clock, SystemClock};
use clerk_webhooks::{Webhook, SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID};
use clerk_webhooks::{WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use rand::distributions::{Alphanumeric, DistString};

#[path = "webhook_bodies/mod.rs"]
pub mod bodies;

/// A fixed test secret (the one in the Svix documentation), handy when any secret will do.
pub const TEST_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A fresh Svix-style message id: `msg_` and 27 random alphanumerics.
#[must_use]
pub fn random_msg_id() -> String {
    format!(
        "msg_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 27)
    )
}

/// A random `whsec_` secret (24 random bytes, like the ones Clerk issues).
#[must_use]
pub fn random_secret() -> String {
    use base64::Engine as _;
    let bytes: [u8; 24] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Which header names a delivery uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderStyle {
    /// `svix-id`, `svix-timestamp`, `svix-signature` (what Clerk sends).
    #[default]
    Svix,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` (Standard Webhooks).
    Webhook,
}

/// One of the three signature headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureHeader {
    /// The message id header.
    Id,
    /// The timestamp header.
    Timestamp,
    /// The signature header.
    Signature,
}

impl SignatureHeader {
    fn name(self, style: HeaderStyle) -> &'static str {
        match (self, style) {
            (SignatureHeader::Id, HeaderStyle::Svix) => SVIX_ID,
            (SignatureHeader::Timestamp, HeaderStyle::Svix) => SVIX_TIMESTAMP,
            (SignatureHeader::Signature, HeaderStyle::Svix) => SVIX_SIGNATURE,
            (SignatureHeader::Id, HeaderStyle::Webhook) => WEBHOOK_ID,
            (SignatureHeader::Timestamp, HeaderStyle::Webhook) => WEBHOOK_TIMESTAMP,
            (SignatureHeader::Signature, HeaderStyle::Webhook) => WEBHOOK_SIGNATURE,
        }
    }
}

/// What goes in the signature header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Signature {
    /// The correct `v1` signature.
    #[default]
    Valid,
    /// The correct signature with one bit of the MAC flipped (still well-formed base64).
    Tampered,
    /// A well-formed signature made with another, random secret.
    WrongSecret,
    /// The correct signature labelled `v2` instead of `v1`.
    WrongVersion,
    /// Decoy `v1` signatures first, then the correct one (a rotation-era header).
    WithDecoys,
    /// This exact header value.
    Custom(String),
}

/// The server's answer to a delivery.
#[derive(Debug, Clone)]
pub struct SentWebhook {
    /// Response status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// The svix id that was sent.
    pub msg_id: String,
    /// The timestamp that was sent (Unix seconds).
    pub timestamp: i64,
}

impl SentWebhook {
    /// The response body as text (lossy).
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The response body as JSON.
    ///
    /// # Errors
    /// When the body is not JSON of that shape.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// Signs bodies with a webhook secret and POSTs them to one URL.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    url: String,
    webhook: Webhook,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSender")
            .field("url", &self.url)
            .field("webhook", &self.webhook)
            .finish()
    }
}

impl WebhookSender {
    /// A sender to `url` signing with `secret` (`whsec_…`). Timestamps come from the system
    /// clock unless [`WebhookSender::clock`] sets another.
    ///
    /// # Panics
    /// When `secret` is not a usable signing secret (a test set-up error).
    #[must_use]
    pub fn new(url: impl Into<String>, secret: &str) -> Self {
        let webhook = Webhook::new(secret).expect("WebhookSender::new: invalid whsec_ secret");
        Self::with_webhook(url, webhook)
    }

    /// A sender signing with an existing [`Webhook`] (its first secret signs).
    ///
    /// # Panics
    /// When the HTTP client cannot be built (no TLS backend), which does not happen with the
    /// features this crate enables.
    #[must_use]
    pub fn with_webhook(url: impl Into<String>, webhook: Webhook) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy() // Loopback tests must never go through an environment proxy.
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        WebhookSender {
            client,
            url: url.into(),
            webhook,
            clock: Arc::new(SystemClock),
        }
    }

    /// Takes timestamps from `clock` (for example a [`crate::ManualClock`]).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The target URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The signer.
    #[must_use]
    pub fn webhook(&self) -> &Webhook {
        &self.webhook
    }

    /// A delivery of `body` with a fresh svix id, the clock's current time and a valid
    /// signature; adjust it, then [`Delivery::send`].
    pub fn delivery(&self, body: impl Into<Vec<u8>>) -> Delivery<'_> {
        Delivery {
            sender: self,
            body: body.into(),
            msg_id: random_msg_id(),
            timestamp: self.clock.now().as_secs(),
            signature: Signature::Valid,
            style: HeaderStyle::Svix,
            omit: Vec::new(),
            tamper_body: false,
            extra: HeaderMap::new(),
        }
    }

    /// Signs and POSTs `body` (fresh svix id, current time).
    ///
    /// # Errors
    /// Transport errors (connection refused, timeout).
    pub async fn send(&self, body: impl Into<Vec<u8>>) -> Result<SentWebhook, reqwest::Error> {
        self.delivery(body).send().await
    }

    /// Signs and POSTs a JSON event (see [`bodies`]).
    ///
    /// # Errors
    /// Transport errors (connection refused, timeout).
    pub async fn send_json(
        &self,
        event: &serde_json::Value,
    ) -> Result<SentWebhook, reqwest::Error> {
        self.send(bodies::to_bytes(event)).await
    }
}

/// One delivery being prepared: every part of it can be chosen or broken.
#[derive(Debug, Clone)]
#[must_use]
pub struct Delivery<'a> {
    sender: &'a WebhookSender,
    body: Vec<u8>,
    msg_id: String,
    timestamp: i64,
    signature: Signature,
    style: HeaderStyle,
    omit: Vec<SignatureHeader>,
    tamper_body: bool,
    extra: HeaderMap,
}

impl Delivery<'_> {
    /// Uses this svix id (for replay / de-duplication tests).
    pub fn msg_id(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = msg_id.into();
        self
    }

    /// Uses this timestamp (Unix seconds), signed as such.
    pub fn timestamp(mut self, secs: i64) -> Self {
        self.timestamp = secs;
        self
    }

    /// Moves the timestamp by `secs` (negative: into the past).
    pub fn timestamp_offset(mut self, secs: i64) -> Self {
        self.timestamp = self.timestamp.saturating_add(secs);
        self
    }

    /// What to put in the signature header.
    pub fn signature(mut self, signature: Signature) -> Self {
        self.signature = signature;
        self
    }

    /// Which header family to use.
    pub fn header_style(mut self, style: HeaderStyle) -> Self {
        self.style = style;
        self
    }

    /// Leaves out one of the three headers.
    pub fn omit(mut self, header: SignatureHeader) -> Self {
        self.omit.push(header);
        self
    }

    /// Signs the body as given, then flips one byte of what is sent.
    pub fn tamper_body(mut self) -> Self {
        self.tamper_body = true;
        self
    }

    /// Adds another request header.
    ///
    /// # Panics
    /// When the name or value is not a valid header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("valid header name");
        let value = HeaderValue::try_from(value).expect("valid header value");
        self.extra.append(name, value);
        self
    }

    /// The signature header value this delivery carries.
    #[must_use]
    pub fn signature_value(&self) -> String {
        let webhook = &self.sender.webhook;
        let valid = webhook.sign(&self.msg_id, self.timestamp, &self.body);
        match &self.signature {
            Signature::Valid => valid,
            Signature::Tampered => flip_mac_bit(&valid),
            Signature::WrongSecret => Webhook::new(&random_secret()).expect("random secret").sign(
                &self.msg_id,
                self.timestamp,
                &self.body,
            ),
            Signature::WrongVersion => valid.replacen("v1,", "v2,", 1),
            Signature::WithDecoys => {
                let decoy = flip_mac_bit(&valid);
                format!("{decoy} v1a,{} {valid}", &valid[3..])
            }
            Signature::Custom(value) => value.clone(),
        }
    }

    /// The request headers (`content-type: application/json` plus the signature headers).
    ///
    /// # Panics
    /// When a chosen id or custom signature is not a valid header value.
    #[must_use]
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let values = [
            (SignatureHeader::Id, self.msg_id.clone()),
            (SignatureHeader::Timestamp, self.timestamp.to_string()),
            (SignatureHeader::Signature, self.signature_value()),
        ];
        for (which, value) in values {
            if !self.omit.contains(&which) {
                let value = HeaderValue::try_from(value).expect("valid header value");
                headers.insert(HeaderName::from_static(which.name(self.style)), value);
            }
        }
        for (name, value) in &self.extra {
            headers.append(name, value.clone());
        }
        headers
    }

    /// The body as it will be sent (tampered if asked).
    #[must_use]
    pub fn body(&self) -> Vec<u8> {
        let mut body = self.body.clone();
        if self.tamper_body {
            match body.last_mut() {
                Some(last) => *last ^= 0x01,
                None => body.push(b' '),
            }
        }
        body
    }

    /// This delivery as an `http::Request` (POST to the sender's URL), for in-process tests.
    ///
    /// # Panics
    /// When the sender's URL is not a valid URI.
    #[must_use]
    pub fn to_request(&self) -> http::Request<Vec<u8>> {
        let mut request = http::Request::new(self.body());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.sender.url.parse().expect("valid URL");
        *request.headers_mut() = self.headers();
        request
    }

    /// POSTs the delivery and collects the response.
    ///
    /// # Errors
    /// Transport errors (connection refused, timeout).
    pub async fn send(self) -> Result<SentWebhook, reqwest::Error> {
        let response = self
            .sender
            .client
            .post(&self.sender.url)
            .headers(self.headers())
            .body(self.body())
            .send()
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(SentWebhook {
            status,
            headers,
            body,
            msg_id: self.msg_id,
            timestamp: self.timestamp,
        })
    }
}

/// `v1,<base64>` with one bit of the decoded MAC flipped, re-encoded.
fn flip_mac_bit(signature: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    let encoded = signature.strip_prefix("v1,").unwrap_or(signature);
    let mut mac = STANDARD.decode(encoded).unwrap_or_default();
    if let Some(first) = mac.first_mut() {
        *first ^= 0x01;
    }
    format!("v1,{}", STANDARD.encode(mac))
}
