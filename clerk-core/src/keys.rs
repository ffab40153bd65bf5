//! RSA verifying keys from a JWK or a PEM, and the algorithms the verifier accepts.
//!
//! Signatures are checked with `aws-lc-rs`: it was the fastest RSA verification among the
//! backends measured in `BENCHMARKS.md`, and it keeps a key parsed (Montgomery constants and
//! all) between verifications, which `ring`'s API cannot. A key is loaded once, validated
//! (RSA, 2048–8192 bits) and kept ready to verify RS256.

use base64::Engine as _;
use std::fmt;

/// A JWS algorithm the session-token verifier can accept.
///
/// Only RSA PKCS#1 v1.5 algorithms exist here: `none`, HMAC and everything else cannot even
/// be named, so they can never be allowed by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: what Clerk signs session tokens with.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
}

impl Algorithm {
    /// The JOSE name (`RS256`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
        }
    }

    /// Parses a JOSE `alg` value; `None` for anything that is not an RSA PKCS#1 v1.5 algorithm.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Algorithm::Rs256),
            "RS384" => Some(Algorithm::Rs384),
            "RS512" => Some(Algorithm::Rs512),
            _ => None,
        }
    }

    fn params(self) -> &'static aws_lc_rs::signature::RsaParameters {
        match self {
            Algorithm::Rs256 => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA512,
        }
    }
}

/// Why a key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM text has no `BEGIN PUBLIC KEY` block or its body is not base64.
    #[error("not a PEM public key (expected a `-----BEGIN PUBLIC KEY-----` block)")]
    NotPem,
    /// The DER structure is not an RSA SubjectPublicKeyInfo or RSAPublicKey.
    #[error("not an RSA public key: {0}")]
    NotRsa(&'static str),
    /// A JWK is not usable: wrong `kty`, missing `n`/`e`, bad base64.
    #[error("unusable JWK: {0}")]
    BadJwk(&'static str),
    /// The modulus is outside 2048–8192 bits.
    #[error("RSA modulus of {bits} bits is outside the accepted 2048–8192")]
    BadSize {
        /// Size of the modulus in bits.
        bits: usize,
    },
}

/// An RSA public key that verifies session-token signatures.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<String>,
    algorithm: Option<Algorithm>,
    /// PKCS#1 `RSAPublicKey` DER, for the rarer RS384/RS512 paths.
    der: Box<[u8]>,
    /// Parsed once for RS256, the algorithm Clerk signs with.
    rs256: aws_lc_rs::signature::ParsedPublicKey,
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.algorithm == other.algorithm && self.der == other.der
    }
}
impl Eq for VerifyingKey {}

impl VerifyingKey {
    /// From the big-endian modulus and exponent.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = magnitude_bits(n);
        if !(2048..=8192).contains(&bits) {
            return Err(KeyError::BadSize { bits });
        }
        if e.is_empty() || e.len() > 4 {
            return Err(KeyError::NotRsa("public exponent out of range"));
        }
        let der = der::rsa_public_key_der(n, e).into_boxed_slice();
        let rs256 = aws_lc_rs::signature::ParsedPublicKey::new(Algorithm::Rs256.params(), &der)
            .map_err(|_| KeyError::NotRsa("rejected by the crypto backend"))?;
        Ok(VerifyingKey {
            kid: None,
            algorithm: None,
            der,
            rs256,
        })
    }

    /// From a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1) block, as in
    /// `CLERK_JWT_KEY`. Literal `\n` sequences (as in one-line environment values) are accepted.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = pem.replace("\\n", "\n");
        let (label, body) = pem_body(&pem).ok_or(KeyError::NotPem)?;
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| KeyError::NotPem)?;
        let (n, e) = match label {
            "PUBLIC KEY" => der::rsa_from_spki(&der)?,
            "RSA PUBLIC KEY" => der::rsa_from_pkcs1(&der)?,
            _ => return Err(KeyError::NotPem),
        };
        VerifyingKey::from_components(n, e)
    }

    /// From one JSON Web Key of a JWKS.
    pub fn from_jwk(jwk: &crate::jwks::Jwk) -> Result<Self, KeyError> {
        if jwk.kty != "RSA" {
            return Err(KeyError::BadJwk("kty is not RSA"));
        }
        if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyError::BadJwk("use is not sig"));
        }
        let decode = |field: &Option<String>, what: &'static str| {
            let text = field.as_deref().ok_or(KeyError::BadJwk(what))?;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| KeyError::BadJwk(what))
        };
        let n = decode(&jwk.n, "n missing or not base64url")?;
        let e = decode(&jwk.e, "e missing or not base64url")?;
        let algorithm = match jwk.alg.as_deref() {
            None => None,
            Some(name) => Some(
                Algorithm::from_name(name).ok_or(KeyError::BadJwk("alg is not RS256/384/512"))?,
            ),
        };
        let mut key = VerifyingKey::from_components(&n, &e)?;
        key.kid.clone_from(&jwk.kid);
        key.algorithm = algorithm;
        Ok(key)
    }

    /// The key id (`kid`) this key was published under, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is restricted to, when its JWK said so.
    #[must_use]
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
    }

    /// Whether the key accepts signatures made with `alg` (its JWK may pin one algorithm).
    #[must_use]
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.algorithm.is_none_or(|pinned| pinned == alg)
    }

    /// Checks an RSA PKCS#1 v1.5 signature over `message`.
    #[must_use]
    pub fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.allows(alg) {
            return false;
        }
        match alg {
            Algorithm::Rs256 => self.rs256.verify_sig(message, signature).is_ok(),
            other => aws_lc_rs::signature::UnparsedPublicKey::new(other.params(), &self.der[..])
                .verify(message, signature)
                .is_ok(),
        }
    }

    /// Size of the modulus in bits.
    #[must_use]
    pub fn modulus_bits(&self) -> usize {
        der::rsa_from_pkcs1(&self.der).map_or(0, |(n, _)| magnitude_bits(strip_leading_zeros(n)))
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("bits", &self.modulus_bits())
            .finish()
    }
}

/// Bits of a big-endian magnitude without leading zero bytes; `0` for an empty one (a JWK
/// whose `n` is `""` or `"AA"` must be a [`KeyError::BadSize`], never an underflow).
fn magnitude_bits(n: &[u8]) -> usize {
    n.first().map_or(0, |b| {
        (n.len() * 8).saturating_sub(b.leading_zeros() as usize)
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn pem_body(pem: &str) -> Option<(&str, String)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body_and_end = &rest[label_end + 5..];
    let end = body_and_end.find("-----END ")?;
    let body: String = body_and_end[..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Some((label, body))
}

/// Just enough DER to read an RSA public key; anything unexpected is an error, never a panic.
mod der {
    use super::KeyError;

    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    const OID: u8 = 0x06;
    /// 1.2.840.113549.1.1.1 rsaEncryption
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

    /// Reads one TLV; returns (tag, contents, rest).
    fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), KeyError> {
        let bad = KeyError::NotRsa("truncated or malformed DER");
        let (&tag, rest) = input.split_first().ok_or(bad.clone())?;
        let (&first, mut rest) = rest.split_first().ok_or(bad.clone())?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err(bad);
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            rest = &rest[count..];
            len
        };
        if rest.len() < len {
            return Err(bad);
        }
        Ok((tag, &rest[..len], &rest[len..]))
    }

    fn expect(input: &[u8], want: u8) -> Result<(&[u8], &[u8]), KeyError> {
        let (tag, body, rest) = tlv(input)?;
        if tag != want {
            return Err(KeyError::NotRsa("unexpected DER tag"));
        }
        Ok((body, rest))
    }

    pub(super) fn rsa_from_spki(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
        let (spki, _) = expect(der, SEQUENCE)?;
        let (algorithm, rest) = expect(spki, SEQUENCE)?;
        let (oid, _) = expect(algorithm, OID)?;
        if oid != RSA_ENCRYPTION {
            return Err(KeyError::NotRsa("the key algorithm is not rsaEncryption"));
        }
        let (bits, _) = expect(rest, BIT_STRING)?;
        let (&unused, key) = bits
            .split_first()
            .ok_or(KeyError::NotRsa("empty bit string"))?;
        if unused != 0 {
            return Err(KeyError::NotRsa("bit string with unused bits"));
        }
        rsa_from_pkcs1(key)
    }

    /// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, from the
    /// big-endian magnitudes (no leading zeros).
    pub(super) fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
        fn push_len(out: &mut Vec<u8>, len: usize) {
            match len {
                0..=0x7f => out.push(len as u8), // fits, by the match arm
                0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
                _ => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
            }
        }
        fn integer(out: &mut Vec<u8>, magnitude: &[u8]) {
            // A set high bit would read as negative: prefix a zero byte.
            let pad = magnitude.first().is_some_and(|b| b & 0x80 != 0);
            out.push(INTEGER);
            push_len(out, magnitude.len() + usize::from(pad));
            if pad {
                out.push(0);
            }
            out.extend_from_slice(magnitude);
        }
        let mut body = Vec::with_capacity(n.len() + e.len() + 8);
        integer(&mut body, n);
        integer(&mut body, e);
        let mut out = Vec::with_capacity(body.len() + 4);
        out.push(SEQUENCE);
        push_len(&mut out, body.len());
        out.extend_from_slice(&body);
        out
    }

    pub(super) fn rsa_from_pkcs1(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
        let (seq, _) = expect(der, SEQUENCE)?;
        let (n, rest) = expect(seq, INTEGER)?;
        let (e, _) = expect(rest, INTEGER)?;
        Ok((n, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqYy3MY8fOneEyzNDu9lp\n6iGXKkNUF+u/dUnrlkadZYyB35efzKFJEr9fftmWv5PUj1uRHTQ3bh6X1cceOYsI\njy008dHWZJsKhGOxgdTjeK91rjaklxt7tyFXEiKHIOr1LSgKzopClOfCIjxK/oPU\nOf38pVh7WnekcSBQmU5fqA+EzKMi6k9VwvbzqKlZM4XQsiFyn28d9VubJWjTU8nN\not0n1NE+9k6TxM8nglM4RwkBH4Ni4B0LhKKOOV+AG8tBNiZVil415dpBldmJ/j0w\nk7Ad4VFi9en3Z17oCKr+K+zuT7vKMKSb1548dk0vnmi0vj2QGXSo+61wM5yQWpk6\nsQIDAQAB\n-----END PUBLIC KEY-----";

    #[test]
    fn reads_an_spki_pem_and_its_escaped_one_line_form() {
        let key = VerifyingKey::from_pem(FIXTURE_PEM).unwrap();
        assert_eq!(key.modulus_bits(), 2048);
        let one_line = FIXTURE_PEM.replace('\n', "\\n");
        assert_eq!(VerifyingKey::from_pem(&one_line).unwrap(), key);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(VerifyingKey::from_pem("hello"), Err(KeyError::NotPem));
        let truncated =
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----";
        assert!(matches!(
            VerifyingKey::from_pem(truncated),
            Err(KeyError::NotRsa(_))
        ));
        assert!(matches!(
            VerifyingKey::from_components(&[0xff; 128], &[1, 0, 1]),
            Err(KeyError::BadSize { bits: 1024 })
        ));
    }

    #[test]
    fn an_empty_or_zero_modulus_is_a_bad_size_not_a_panic() {
        for n in [&[][..], &[0][..], &[0, 0, 0][..]] {
            assert_eq!(
                VerifyingKey::from_components(n, &[1, 0, 1]),
                Err(KeyError::BadSize { bits: 0 }),
                "{n:?}"
            );
        }
        for n in ["AA", "", "AAAA"] {
            let jwk = crate::jwks::Jwk {
                kty: "RSA".into(),
                kid: Some("bad".into()),
                alg: None,
                key_use: None,
                n: Some(n.into()),
                e: Some("AQAB".into()),
            };
            assert!(VerifyingKey::from_jwk(&jwk).is_err(), "{n:?}");
        }
    }

    #[test]
    fn a_pinned_algorithm_refuses_the_others() {
        let mut key = VerifyingKey::from_pem(FIXTURE_PEM).unwrap();
        key.algorithm = Some(Algorithm::Rs256);
        assert!(key.allows(Algorithm::Rs256));
        assert!(!key.allows(Algorithm::Rs512));
    }
}
