//! Structure of a compact JWS: size limit, three segments, header, signature bytes.
//!
//! Only the header is parsed before the signature is checked; the payload stays opaque bytes
//! until then, so unauthenticated JSON never reaches the claim logic.

use super::error::{truncated, TokenError};
use crate::keys::Algorithm;
use base64::Engine as _;
use std::borrow::Cow;

/// Tokens longer than this are rejected before any parsing or crypto ([design §3](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#3-token-verification)).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Clerk's `cat` header for session tokens.
pub const CATEGORY_SESSION_TOKEN: &str = "cl_B7d4PD111AAA";
/// Clerk's `cat` header for JWT-template tokens (not accepted as sessions).
pub const CATEGORY_JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
/// Clerk's `cat` header for machine-to-machine tokens (not accepted as sessions).
pub const CATEGORY_M2M_TOKEN: &str = "cl_B7d4PD333AAA";
/// Clerk's `cat` for instances that stamp every token alike: it says nothing of the kind.
pub const CATEGORY_IGNORE: &str = "cl_I7d4PD111III";

/// What the header says the token is. Decided while parsing, enforced only after the
/// signature verified (an unauthenticated header decides nothing on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// A session token: `typ` absent or exactly `JWT`, `cat` absent, the session category or
    /// the category-less `cl_I7d4PD111III`.
    Session,
    /// `typ` is `at+jwt` or `application/at+jwt`: an OAuth access token.
    OtherType,
    /// `typ` is neither `JWT` nor an OAuth access token's (`jwt` in lower case included, as
    /// Clerk compares it exactly): not a valid Clerk token (`token-invalid`).
    InvalidType,
    /// `cat` of a JWT-template token.
    JwtTemplate,
    /// `cat` of a machine-to-machine token.
    MachineToMachine,
    /// A `cat` this verifier does not know.
    UnknownCategory,
}

/// The protected header fields the verifier uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signing algorithm (already checked against the allow-list).
    pub alg: Algorithm,
    /// Key id.
    pub kid: Option<String>,
    /// What `typ` and `cat` say the token is.
    pub kind: TokenKind,
}

#[derive(serde::Deserialize)]
struct RawHeader<'a> {
    /// Any JSON value; only a string can name an allowed algorithm.
    #[serde(default, borrow)]
    alg: Option<AlgName<'a>>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    cat: Option<Cow<'a, str>>,
}

/// The header's `alg` if it is a string; `None` for any other JSON value (which then fails
/// the allow-list as `token-invalid-algorithm`, not as a malformed header).
struct AlgName<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for AlgName<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = AlgName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<AlgName<'de>, E> {
                Ok(AlgName(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<AlgName<'de>, E> {
                Ok(AlgName(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<AlgName<'de>, E> {
                Ok(AlgName(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<AlgName<'de>, E> {
                Ok(AlgName(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<AlgName<'de>, E> {
                Ok(AlgName(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<AlgName<'de>, E> {
                Ok(AlgName(None))
            }
            fn visit_unit<E>(self) -> Result<AlgName<'de>, E> {
                Ok(AlgName(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AlgName<'de>, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(AlgName(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AlgName<'de>, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(AlgName(None))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

impl RawHeader<'_> {
    fn kind(&self) -> TokenKind {
        match self.typ.as_deref() {
            None | Some("JWT") => {}
            Some("at+jwt" | "application/at+jwt") => return TokenKind::OtherType,
            Some(_) => return TokenKind::InvalidType,
        }
        match self.cat.as_deref() {
            None | Some(CATEGORY_SESSION_TOKEN | CATEGORY_IGNORE) => TokenKind::Session,
            Some(CATEGORY_JWT_TEMPLATE) => TokenKind::JwtTemplate,
            Some(CATEGORY_M2M_TOKEN) => TokenKind::MachineToMachine,
            Some(_) => TokenKind::UnknownCategory,
        }
    }
}

/// Large enough for the signature of an RSA-8192 key and for any header Clerk sends.
const SEGMENT_BUFFER: usize = 1024;

/// A token whose structure and algorithm passed; the signature is not checked yet.
#[derive(Debug)]
pub struct ParsedToken<'a> {
    header: Header,
    signing_input: &'a str,
    payload_b64: &'a str,
    signature: [u8; SEGMENT_BUFFER],
    signature_len: usize,
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
        let mut header_buffer = [0u8; SEGMENT_BUFFER];
        let header_len = decode_into(header_b64, &mut header_buffer).ok_or(
            TokenError::Malformed("header is not base64url (or is too long)"),
        )?;
        let header_json = &header_buffer[..header_len];
        // serde reads a struct from a JSON array too (fields by position): the JOSE header
        // must be an object (RFC 7515 §4).
        let first = header_json
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        if first != Some(&b'{') {
            return Err(TokenError::Malformed("header is not a JSON object"));
        }
        let raw: RawHeader<'_> = serde_json::from_slice(header_json)
            .map_err(|_| TokenError::Malformed("header is not a JSON object"))?;
        let alg_name = raw
            .alg
            .as_ref()
            .and_then(|a| a.0.as_deref())
            .unwrap_or_default();
        let alg = Algorithm::from_name(alg_name)
            .filter(|a| allowed.contains(a))
            .ok_or_else(|| TokenError::AlgorithmNotAllowed {
                alg: truncated(alg_name, 32),
            })?;
        let mut signature = [0u8; SEGMENT_BUFFER];
        let signature_len = decode_into(signature_b64, &mut signature).ok_or(
            TokenError::Malformed("signature is not base64url (or is too long)"),
        )?;
        if signature_len == 0 {
            return Err(TokenError::Malformed("empty signature"));
        }
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        Ok(ParsedToken {
            header: Header {
                alg,
                kid: raw.kid.as_deref().map(str::to_owned),
                kind: raw.kind(),
            },
            signing_input,
            payload_b64,
            signature,
            signature_len,
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
            &self.signature[..self.signature_len],
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

/// Decodes a base64url segment into `out`; `None` if it is not base64url or does not fit.
fn decode_into(segment: &str, out: &mut [u8]) -> Option<usize> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode_slice(segment.trim_end_matches('='), out)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_that_is_not_an_object_is_malformed() {
        // serde reads a struct from a JSON array too (fields by position): `["RS256"]` parsed
        // as a header with `alg` RS256 (RFC 7515 §4: the header is a JSON object).
        let token = format!(
            "{}.e30.AA",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#" ["RS256", "kid"]"#)
        );
        assert_eq!(
            ParsedToken::parse(&token, &[Algorithm::Rs256]).unwrap_err(),
            TokenError::Malformed("header is not a JSON object")
        );
        let object = format!(
            "{}.e30.AA",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#" {"alg":"RS256"}"#)
        );
        assert!(ParsedToken::parse(&object, &[Algorithm::Rs256]).is_ok());
    }
}
