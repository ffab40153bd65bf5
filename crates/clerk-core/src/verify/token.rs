//! Structure of a compact JWS: size limit, three segments, header, signature bytes.
//!
//! Only the header is parsed before the signature is checked; the payload stays opaque bytes
//! until then, so unauthenticated JSON never reaches the claim logic.

use super::error::{truncated, TokenError};
use crate::keys::Algorithm;
use base64::Engine as _;

/// Tokens longer than this are rejected before any parsing or crypto (DESIGN §3).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Clerk's `cat` header for session tokens.
pub const CATEGORY_SESSION_TOKEN: &str = "cl_B7d4PD111AAA";
/// Clerk's `cat` header for JWT-template tokens (not accepted as sessions).
pub const CATEGORY_JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
/// Clerk's `cat` header for machine-to-machine tokens (not accepted as sessions).
pub const CATEGORY_M2M_TOKEN: &str = "cl_B7d4PD333AAA";
/// Clerk's `cat` for instances that stamp every token alike: it says nothing of the kind.
pub const CATEGORY_IGNORE: &str = "cl_I7d4PD111III";

/// The protected header fields the verifier uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signing algorithm (already checked against the allow-list).
    pub alg: Algorithm,
    /// Key id.
    pub kid: Option<String>,
    /// Token type (`JWT`, or `at+jwt` for OAuth access tokens).
    pub typ: Option<String>,
    /// Clerk's token category.
    pub cat: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawHeader {
    #[serde(default)]
    alg: Option<serde_json::Value>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    cat: Option<String>,
}

/// A token whose structure and algorithm passed; the signature is not checked yet.
#[derive(Debug)]
pub struct ParsedToken<'a> {
    header: Header,
    signing_input: &'a str,
    payload_b64: &'a str,
    signature: Vec<u8>,
}

impl<'a> ParsedToken<'a> {
    /// Size → structure → `alg` in `allowed`. Never touches a key.
    pub fn parse(token: &'a str, allowed: &[Algorithm]) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge {
                size: token.len(),
                limit: MAX_TOKEN_BYTES,
            });
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed(
                "expected three dot-separated segments",
            ));
        };
        if header_b64.is_empty() || payload_b64.is_empty() {
            return Err(TokenError::Malformed("empty header or payload segment"));
        }
        let header_bytes =
            decode_segment(header_b64).ok_or(TokenError::Malformed("header is not base64url"))?;
        let raw: RawHeader = serde_json::from_slice(&header_bytes)
            .map_err(|_| TokenError::Malformed("header is not a JSON object"))?;
        let alg_name = match &raw.alg {
            Some(serde_json::Value::String(s)) => s.as_str(),
            _ => "",
        };
        let alg = Algorithm::from_name(alg_name)
            .filter(|a| allowed.contains(a))
            .ok_or_else(|| TokenError::AlgorithmNotAllowed {
                alg: truncated(alg_name, 32),
            })?;
        let signature = decode_segment(signature_b64)
            .ok_or(TokenError::Malformed("signature is not base64url"))?;
        if signature.is_empty() {
            return Err(TokenError::Malformed("empty signature"));
        }
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        Ok(ParsedToken {
            header: Header {
                alg,
                kid: raw.kid,
                typ: raw.typ,
                cat: raw.cat,
            },
            signing_input,
            payload_b64,
            signature,
        })
    }

    /// The protected header.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `kid` from the header.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// Checks the signature with `key`.
    pub fn check_signature(&self, key: &crate::keys::VerifyingKey) -> Result<(), TokenError> {
        if key.verify(
            self.header.alg,
            self.signing_input.as_bytes(),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(TokenError::InvalidSignature)
        }
    }

    /// The payload's JSON bytes. Call only after [`check_signature`](Self::check_signature).
    pub fn decode_payload(&self) -> Result<Vec<u8>, TokenError> {
        decode_segment(self.payload_b64).ok_or(TokenError::Malformed("payload is not base64url"))
    }
}

/// base64url without padding, as JWS requires; trailing `=` is tolerated as some encoders add it.
fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .ok()
}
