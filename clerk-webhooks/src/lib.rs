//! Svix-signed Clerk webhooks: sans-IO signature verification and typed Clerk events.
//!
//! Clerk delivers webhooks through [Svix](https://www.svix.com/). Each delivery carries
//! three headers — `svix-id`, `svix-timestamp`, `svix-signature` (or the Standard Webhooks
//! spelling `webhook-id`, `webhook-timestamp`, `webhook-signature`) — and a JSON body.
//! This crate
//!
//! 1. **verifies** a delivery with [`Webhook::verify_at`]: HMAC-SHA256 over
//!    `{id}.{timestamp}.{raw body}` with the base64 key after `whsec_`, any `v1` entry of
//!    the space-separated signature list may match (other versions such as `v1a` are
//!    ignored), the timestamp must be within ±5 minutes of `now` (exactly 300 s passes),
//!    and the MACs are compared in constant time. Several secrets can be active at once
//!    for rotation;
//! 2. **parses** the verified body into a typed [`Event`] with one [`EventData`] variant per
//!    documented Clerk event type, and [`EventData::Unknown`] for anything newer.
//!
//! 3. **processes** them into the local mirror with [`WebhookProcessor`] (module
//!    [`processor`]): one store transaction per delivery holding the effect and the svix id,
//!    then application [`processor::Listener`]s, answered with a [`ProcessOutcome`].
//!
//! Verification and parsing do no I/O and never read the clock: the caller passes `now` (see
//! [`clerk_core::time::Clock`]), which keeps it usable from any framework and trivially
//! testable. Verification streams the MAC over the body and allocates nothing
//! proportional to it; each secret's HMAC key schedule is computed once, at construction.
//!
//! # Quick start
//!
//! ```
//! use clerk_core::time::UnixTime;
//! use clerk_webhooks::{EventData, Webhook};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let webhook = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//!
//! // What Clerk would send (here signed with the same secret, as a test would).
//! let body = br#"{"type":"user.deleted","object":"event","timestamp":1614265330000,
//!                 "data":{"deleted":true,"id":"user_29w83sxmDNGwOuEthce5gg56FcC","object":"user"}}"#;
//! let headers = webhook.sign_headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
//!
//! // In a handler: the raw body bytes, the request headers and the current time.
//! let now = UnixTime::from_secs(1_614_265_400);
//! let verified = webhook.verify_at(&headers, body, now)?;
//! assert_eq!(verified.id(), "msg_p5jXN8AQM9LWM0D4loKWxJek"); // de-duplicate on this
//!
//! match verified.event()?.data {
//!     EventData::UserDeleted(deleted) => assert_eq!(deleted.id, "user_29w83sxmDNGwOuEthce5gg56FcC"),
//!     EventData::UserCreated(user) | EventData::UserUpdated(user) => {
//!         let _email = user.primary_email(); // address + whether it is verified
//!     }
//!     _ => {} // ignored event types still get a 2xx
//! }
//!
//! // A tampered body does not verify.
//! assert!(webhook.verify_at(&headers, b"{}", now).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! # Responses ([design §6](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#6-webhooks))
//!
//! An adapter answers 400 to any [`VerifyError`] and to a [`ParseError`] of a verified body,
//! and 2xx to [`EventData::Unknown`] (an ignored event type), so Svix does not retry it.
//! With the processor, [`ProcessOutcome::status_code`] gives the whole mapping: 200 for
//! applied, already processed (same svix id) and ignored deliveries, 400 for verification and
//! parse failures, 413 over [`MAX_BODY_BYTES`], 503 when the store failed and nothing was
//! recorded (Svix delivers again).
//!
//! # Secrets
//!
//! [`Webhook::new`] takes `whsec_<base64>`; the prefix is optional and surrounding
//! whitespace is ignored. An empty or non-base64 secret is a [`SecretError`] at
//! construction, never a verification failure later. [`Webhook::from_signing_key`] reads
//! `CLERK_WEBHOOK_SIGNING_KEY`, which may list several secrets separated by commas or
//! whitespace. Neither errors nor `Debug` output ever contain a secret or the body.
//!
//! # Decisions
//!
//! - The timestamp header must be plain ASCII digits (no sign, no spaces); the signed
//!   content uses the number's canonical decimal form, as the Svix libraries do.
//! - `svix-*` headers win over `webhook-*` ones, header by header; a repeated signature
//!   header contributes all its entries.
//! - Only `v1` entries whose value is exactly 44 base64 characters (a 32-byte tag) are
//!   decoded and compared; anything else is skipped.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod event;
pub mod model;
pub mod processor;
mod signature;

pub use event::{Event, EventAttributes, EventData, HttpRequest, ParseError, KNOWN_EVENT_TYPES};
pub use model::{
    DeletedObject, Email, Organization, OrganizationDomain, OrganizationInvitation,
    OrganizationMembership, Permission, PrimaryEmail, Role, Session, SmsMessage, User,
    WaitlistEntry,
};
pub use processor::{ProcessOutcome, WebhookProcessor, MAX_BODY_BYTES};
pub use signature::{
    SecretError, SignatureHeaders, Verified, VerifyError, Webhook, DEFAULT_TOLERANCE,
    SECRET_PREFIX, SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
