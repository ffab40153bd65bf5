//! Svix / Standard Webhooks signature verification (HMAC-SHA256, `v1`).
//!
//! The signed content is `{id}.{timestamp}.{raw body}`; the key is the base64 text after
//! `whsec_`. See the crate docs for the full contract.

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use clerk_core::secret::WebhookSigningKey;
use clerk_core::time::UnixTime;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::event::{Event, ParseError};

/// The prefix Clerk and Svix put in front of the base64 signing key.
pub const SECRET_PREFIX: &str = "whsec_";

/// Default tolerance between the message timestamp and the verifier's clock: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// `svix-id`: the message id (stable across retries; use it for de-duplication).
pub const SVIX_ID: &str = "svix-id";
/// `svix-timestamp`: Unix seconds at which the message was signed.
pub const SVIX_TIMESTAMP: &str = "svix-timestamp";
/// `svix-signature`: space-separated `version,base64` signatures.
pub const SVIX_SIGNATURE: &str = "svix-signature";
/// `webhook-id`: the Standard Webhooks (unbranded) spelling of [`SVIX_ID`].
pub const WEBHOOK_ID: &str = "webhook-id";
/// `webhook-timestamp`: the Standard Webhooks spelling of [`SVIX_TIMESTAMP`].
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// `webhook-signature`: the Standard Webhooks spelling of [`SVIX_SIGNATURE`].
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Length of an HMAC-SHA256 tag.
const MAC_LEN: usize = 32;
/// Length of a padded base64 encoding of [`MAC_LEN`] bytes.
const MAC_B64_LEN: usize = 44;
/// Longest decimal `i64` (19 digits) plus room for a sign.
const TS_BUF_LEN: usize = 20;

/// Secrets are base64 with or without padding (the dashboard shows padded text when needed).
const SECRET_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a signing secret could not be used. Never contains the secret or any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No secret was given at all.
    #[error("no webhook signing secret was given")]
    NoSecrets,
    /// The secret (after removing `whsec_`) is empty.
    #[error("webhook signing secret #{index} is empty")]
    EmptySecret {
        /// Position of the offending secret in the list (0-based).
        index: usize,
    },
    /// The secret (after removing `whsec_`) is not standard base64.
    #[error("webhook signing secret #{index} is not valid base64 (expected `whsec_<base64>`)")]
    InvalidBase64 {
        /// Position of the offending secret in the list (0-based).
        index: usize,
    },
}

/// Why a delivery failed verification. Carries names and timestamps, never a secret or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent in both families. `name` is the `svix-*` spelling.
    #[error("missing webhook header `{name}` (or its `webhook-*` equivalent)")]
    MissingHeader {
        /// The header's `svix-*` name.
        name: &'static str,
    },
    /// A header value is not visible ASCII.
    #[error("webhook header `{name}` is not visible ASCII")]
    InvalidHeader {
        /// The header's `svix-*` name.
        name: &'static str,
    },
    /// The timestamp header is not a non-negative integer number of seconds.
    #[error("webhook timestamp header is not a Unix time in seconds")]
    InvalidTimestamp,
    /// The message was signed longer ago than the tolerance allows.
    #[error("webhook timestamp {timestamp} is too old (now {now}, tolerance {tolerance_secs} s)")]
    TimestampTooOld {
        /// The message's timestamp (Unix seconds).
        timestamp: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
        /// The tolerance in seconds.
        tolerance_secs: u64,
    },
    /// The message claims to be signed further in the future than the tolerance allows.
    #[error("webhook timestamp {timestamp} is too far in the future (now {now}, tolerance {tolerance_secs} s)")]
    TimestampTooNew {
        /// The message's timestamp (Unix seconds).
        timestamp: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
        /// The tolerance in seconds.
        tolerance_secs: u64,
    },
    /// No `v1` entry of the signature header matches any configured secret.
    #[error("no webhook signature matches")]
    NoMatchingSignature,
}

/// The three signature headers, borrowed from wherever the framework keeps them.
///
/// Use [`SignatureHeaders::from_header_map`] with `http` types, or fill it by hand from
/// another header representation (for example Rocket's) and call
/// [`Webhook::verify_headers_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    /// The `svix-id` / `webhook-id` value.
    pub id: &'a str,
    /// The `svix-timestamp` / `webhook-timestamp` value, exactly as received.
    pub timestamp: &'a str,
    /// The `svix-signature` / `webhook-signature` value: space-separated `version,base64`.
    pub signature: &'a str,
}

impl<'a> SignatureHeaders<'a> {
    /// Reads the headers, preferring `svix-*` and falling back to `webhook-*` for each one.
    ///
    /// # Errors
    /// [`VerifyError::MissingHeader`] (checked in the order id, timestamp, signature) and
    /// [`VerifyError::InvalidHeader`] for values that are not visible ASCII.
    pub fn from_header_map(headers: &'a HeaderMap) -> Result<Self, VerifyError> {
        Ok(SignatureHeaders {
            id: header(headers, SVIX_ID, WEBHOOK_ID)?,
            timestamp: header(headers, SVIX_TIMESTAMP, WEBHOOK_TIMESTAMP)?,
            signature: header(headers, SVIX_SIGNATURE, WEBHOOK_SIGNATURE)?,
        })
    }
}

fn header<'a>(
    headers: &'a HeaderMap,
    svix: &'static str,
    unbranded: &'static str,
) -> Result<&'a str, VerifyError> {
    headers
        .get(svix)
        .or_else(|| headers.get(unbranded))
        .ok_or(VerifyError::MissingHeader { name: svix })?
        .to_str()
        .map_err(|_| VerifyError::InvalidHeader { name: svix })
}

/// A delivery whose signature and timestamp checked out.
///
/// Borrowed from the request: no copy of the body is made. Parse the body with
/// [`Verified::event`] (typed Clerk event) or [`Verified::json`] (any type). `Debug` shows
/// the body's length, not its content (it holds personal data such as email addresses).
#[derive(Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Verified<'a> {
    id: &'a str,
    timestamp: i64,
    body: &'a [u8],
}

impl fmt::Debug for Verified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<'a> Verified<'a> {
    /// The Svix message id (`svix-id`), identical across retries of one message.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// When the message was signed (whole seconds).
    pub fn timestamp(&self) -> UnixTime {
        UnixTime::from_secs(self.timestamp)
    }

    /// The verified raw body.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Parses the body as a typed Clerk event.
    ///
    /// # Errors
    /// [`ParseError`] when the body is not a Clerk event envelope, or when a known event
    /// type carries data of the wrong shape.
    pub fn event(&self) -> Result<Event, ParseError> {
        Event::from_slice(self.body)
    }

    /// Parses the body as JSON into any type.
    ///
    /// # Errors
    /// serde's error when the body does not deserialize into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.body)
    }
}

/// One signing secret, kept as a keyed HMAC whose key schedule is already done.
#[derive(Clone)]
struct Secret {
    mac: Hmac<Sha256>,
}

impl Secret {
    fn parse(secret: &str, index: usize) -> Result<Self, SecretError> {
        let text = secret.trim();
        let text = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        if text.is_empty() {
            return Err(SecretError::EmptySecret { index });
        }
        let mut key = SECRET_ENGINE
            .decode(text)
            .map_err(|_| SecretError::InvalidBase64 { index })?;
        if key.is_empty() {
            return Err(SecretError::EmptySecret { index });
        }
        // HMAC takes keys of any length (long ones are hashed, short ones padded), so this
        // cannot fail; the key schedule is done once here, not per verification.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key);
        // Best effort: do not leave the decoded key lying around in freed memory.
        key.fill(0);
        let mac = mac.map_err(|_| SecretError::EmptySecret { index })?;
        Ok(Secret { mac })
    }

    /// HMAC-SHA256 over `{id}.{timestamp}.{body}`, streamed: no copy of the body.
    fn mac(&self, id: &str, timestamp: &[u8], body: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp);
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// A Svix webhook verifier (and signer) for one or more signing secrets.
///
/// Several secrets are accepted at once so that a secret can be rotated without dropping
/// deliveries: a message verifies when any `v1` signature matches any secret. The first
/// secret is the one [`Webhook::sign`] uses.
///
/// `Debug` shows how many secrets there are, never their values.
#[derive(Clone)]
pub struct Webhook {
    secrets: Vec<Secret>,
    tolerance: Duration,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Webhook {
    /// A verifier for one secret, `whsec_<base64>` (the prefix is optional).
    ///
    /// # Errors
    /// [`SecretError::EmptySecret`] or [`SecretError::InvalidBase64`].
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        Self::from_secrets([secret])
    }

    /// A verifier accepting any of several secrets (rotation). The first one signs.
    ///
    /// # Errors
    /// [`SecretError::NoSecrets`] for an empty list, otherwise the first bad secret's error.
    pub fn from_secrets<I, S>(secrets: I) -> Result<Self, SecretError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let secrets = secrets
            .into_iter()
            .enumerate()
            .map(|(index, s)| Secret::parse(s.as_ref(), index))
            .collect::<Result<Vec<_>, _>>()?;
        if secrets.is_empty() {
            return Err(SecretError::NoSecrets);
        }
        Ok(Webhook {
            secrets,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// A verifier from the configured signing key (`CLERK_WEBHOOK_SIGNING_KEY`).
    ///
    /// The value may hold several secrets separated by commas or whitespace (base64 uses
    /// neither), which is how a rotation is configured: `whsec_new,whsec_old`.
    ///
    /// # Errors
    /// As [`Webhook::from_secrets`]; a blank value is [`SecretError::NoSecrets`].
    pub fn from_signing_key(key: &WebhookSigningKey) -> Result<Self, SecretError> {
        Self::from_secrets(
            key.expose_secret()
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty()),
        )
    }

    /// Replaces the timestamp tolerance (default [`DEFAULT_TOLERANCE`], 5 minutes).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The timestamp tolerance in force.
    #[must_use]
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// How many secrets this verifier accepts.
    #[must_use]
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// Verifies a delivery against `now`: headers (either family), timestamp within the
    /// tolerance, then a constant-time match of a `v1` signature over the raw body.
    ///
    /// `body` must be the bytes exactly as received, before any JSON parsing.
    ///
    /// # Errors
    /// [`VerifyError`]; header problems first, then the timestamp, then the signature.
    pub fn verify_at<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a [u8],
        now: UnixTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let parts = SignatureHeaders::from_header_map(headers)?;
        // A repeated signature header is legal HTTP: the entries of every copy count.
        let name = if headers.contains_key(SVIX_SIGNATURE) {
            SVIX_SIGNATURE
        } else {
            WEBHOOK_SIGNATURE
        };
        let signatures = || headers.get_all(name).iter().map(HeaderValue::as_bytes);
        self.verify_parts(parts.id, parts.timestamp, signatures, body, now)
    }

    /// Like [`Webhook::verify_at`], with the headers already extracted.
    ///
    /// # Errors
    /// As [`Webhook::verify_at`] (except the header-presence errors).
    pub fn verify_headers_at<'a>(
        &self,
        headers: SignatureHeaders<'a>,
        body: &'a [u8],
        now: UnixTime,
    ) -> Result<Verified<'a>, VerifyError> {
        let signatures = || std::iter::once(headers.signature.as_bytes());
        self.verify_parts(headers.id, headers.timestamp, signatures, body, now)
    }

    fn verify_parts<'a, 's, I>(
        &self,
        id: &'a str,
        timestamp: &str,
        signatures: impl Fn() -> I,
        body: &'a [u8],
        now: UnixTime,
    ) -> Result<Verified<'a>, VerifyError>
    where
        I: Iterator<Item = &'s [u8]>,
    {
        let ts = parse_timestamp(timestamp)?;
        self.check_timestamp(ts, now)?;

        let candidates = || {
            signatures()
                .flat_map(|value| value.split(|b| *b == b' '))
                .filter_map(|entry| entry.strip_prefix(b"v1,"))
                .filter(|sig| sig.len() == MAC_B64_LEN)
        };
        // Nothing that could match: do not hash the body at all.
        if candidates().next().is_none() {
            return Err(VerifyError::NoMatchingSignature);
        }

        let mut ts_buf = [0u8; TS_BUF_LEN];
        let ts_text = format_i64(ts, &mut ts_buf);
        for secret in &self.secrets {
            let expected = secret.mac(id, ts_text, body);
            for candidate in candidates() {
                let mut decoded = [0u8; 48];
                match STANDARD.decode_slice(candidate, &mut decoded) {
                    Ok(MAC_LEN) => {}
                    _ => continue,
                }
                if bool::from(expected.ct_eq(&decoded[..MAC_LEN])) {
                    return Ok(Verified {
                        id,
                        timestamp: ts,
                        body,
                    });
                }
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }

    fn check_timestamp(&self, ts: i64, now: UnixTime) -> Result<(), VerifyError> {
        let now = now.as_secs();
        let tolerance_secs = self.tolerance.as_secs();
        let tol = i64::try_from(tolerance_secs).unwrap_or(i64::MAX);
        if ts < now.saturating_sub(tol) {
            Err(VerifyError::TimestampTooOld {
                timestamp: ts,
                now,
                tolerance_secs,
            })
        } else if ts > now.saturating_add(tol) {
            Err(VerifyError::TimestampTooNew {
                timestamp: ts,
                now,
                tolerance_secs,
            })
        } else {
            Ok(())
        }
    }

    /// The signature header value for a message, `v1,<base64>`, made with the first secret.
    ///
    /// `timestamp` is Unix seconds; the same number must go in the timestamp header.
    #[must_use]
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut ts_buf = [0u8; TS_BUF_LEN];
        let ts_text = format_i64(timestamp, &mut ts_buf);
        // `secrets` is never empty: every constructor rejects an empty list.
        let mac = self
            .secrets
            .first()
            .map(|s| s.mac(msg_id, ts_text, body))
            .unwrap_or_default();
        let mut out = String::with_capacity(3 + MAC_B64_LEN);
        out.push_str("v1,");
        STANDARD.encode_string(mac, &mut out);
        out
    }

    /// Ready-made `svix-id`, `svix-timestamp` and `svix-signature` headers for a message.
    ///
    /// Handy in tests; a message id that is not a valid header value yields no `svix-id`.
    #[must_use]
    pub fn sign_headers(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(3);
        let pairs = [
            (SVIX_ID, msg_id.to_owned()),
            (SVIX_TIMESTAMP, timestamp.to_string()),
            (SVIX_SIGNATURE, self.sign(msg_id, timestamp, body)),
        ];
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        headers
    }
}

/// Unix seconds from the header: ASCII digits only (no sign, no spaces), fitting an `i64`.
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp);
    }
    text.parse::<i64>()
        .map_err(|_| VerifyError::InvalidTimestamp)
}

/// Decimal text of `n` in `buf`, without allocating. The signed content uses the number's
/// canonical form, as the Svix libraries do.
fn format_i64(n: i64, buf: &mut [u8; TS_BUF_LEN]) -> &[u8] {
    let mut pos = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        pos -= 1;
        // `rest % 10` is a single digit, so the cast is lossless.
        buf[pos] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_integers_like_display() {
        for n in [0, 7, 10, 1_614_265_330, -1, -42, i64::MAX, i64::MIN] {
            let mut buf = [0u8; TS_BUF_LEN];
            assert_eq!(format_i64(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
    }

    #[test]
    fn timestamps_are_digits_only() {
        assert_eq!(parse_timestamp("1614265330"), Ok(1_614_265_330));
        for bad in [
            "",
            "hello",
            "-5",
            "+5",
            " 5",
            "5 ",
            "1.5",
            "99999999999999999999",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                Err(VerifyError::InvalidTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        let wh = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret");
        let shown = format!("{wh:?}");
        assert!(!shown.contains("MfKQ9r8"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}
