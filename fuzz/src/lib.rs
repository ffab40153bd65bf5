//! Fixtures shared by the fuzz targets: fixed keys, a token signer and the work-arounds for
//! bugs that are known and fixed elsewhere (each names its bug; delete it once the fix lands).

use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use clerk_core::keys::{Algorithm, VerifyingKey};

/// The test kit's fixed RSA-2048 key 0 (PKCS#8 PEM): public test key, never for real use.
const FIXED_PEM: &str = include_str!("../../clerk-testkit/keys/fixed-0.pem");
/// Clerk's JavaScript SDK fixtures: real tokens, their JWKS and PEM keys.
const CLERK_JS: &str = include_str!("../../clerk-core/tests/fixtures/clerk-js-tokens.json");

/// The `kid` the fuzz targets sign under.
pub const FIXED_KID: &str = "ins_fuzz_fixed_0";

/// The fixed signing key and its public half.
pub struct Keys {
    pair: RsaKeyPair,
    /// `fixed-0`'s public key, as the verifier loads it.
    pub fixed_public: VerifyingKey,
    /// The public key of Clerk's JavaScript SDK fixtures (their real tokens verify with it).
    pub clerk_js_public: VerifyingKey,
    /// The issuer of the Clerk JS fixture tokens.
    pub clerk_js_issuer: String,
    /// The authorized party of the Clerk JS fixture tokens.
    pub clerk_js_party: String,
    rng: SystemRandom,
}

/// The keys, loaded once per process.
///
/// # Panics
/// When the committed fixtures are unreadable (a broken checkout, not a finding).
#[must_use]
#[allow(clippy::expect_used)]
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let der = pem_der(FIXED_PEM).expect("fixed-0.pem is PEM");
        let pair = RsaKeyPair::from_pkcs8(&der).expect("fixed-0.pem is a PKCS#8 RSA key");
        let public_pem = format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            STANDARD.encode(pair.public_key().as_ref())
        );
        let fixed_public = VerifyingKey::from_pem(&public_pem).expect("fixed-0 public key");
        let js: serde_json::Value = serde_json::from_str(CLERK_JS).expect("clerk-js fixture JSON");
        let text = |name: &str| js[name].as_str().expect("fixture field").to_owned();
        let clerk_js_public =
            VerifyingKey::from_pem(&text("public_key_pem")).expect("clerk-js fixture key");
        Keys {
            pair,
            fixed_public,
            clerk_js_public,
            clerk_js_issuer: text("expected_issuer"),
            clerk_js_party: text("authorized_party"),
            rng: SystemRandom::new(),
        }
    })
}

impl Keys {
    /// A compact JWS of `header` and `claims` (raw bytes, any content) signed with `alg`.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn sign(&self, alg: Algorithm, header: &[u8], claims: &[u8]) -> String {
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let params = match alg {
            Algorithm::Rs256 => &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            Algorithm::Rs384 => &aws_lc_rs::signature::RSA_PKCS1_SHA384,
            Algorithm::Rs512 => &aws_lc_rs::signature::RSA_PKCS1_SHA512,
        };
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(params, &self.rng, token.as_bytes(), &mut signature)
            .expect("RSA signing");
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        token
    }
}

/// The DER body of the first PEM block.
#[must_use]
pub fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start..];
    let body_start = rest.find('\n')? + 1;
    let end = rest.find("-----END ")?;
    let body: String = rest
        .get(body_start..end)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

/// Work-around for a known bug, fixed in another branch (`faults`):
/// `VerifyingKey::from_components` computes `n.len() * 8 - leading_zeros` and underflows when
/// the modulus is empty once leading zero bytes are stripped (`"n":"AA"`, `"n":""`). True when
/// `n` is such a modulus; the targets skip those keys instead of reporting that panic again.
/// Set `CLERK_FUZZ_KNOWN_BUGS=1` to turn the work-around off (and see the target find the bug).
#[must_use]
pub fn known_empty_modulus(n: &[u8]) -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    let off = *OFF.get_or_init(|| std::env::var_os("CLERK_FUZZ_KNOWN_BUGS").is_some());
    !off && n.iter().all(|&b| b == 0)
}

/// [`known_empty_modulus`] for a JWK's base64url `n` (`false` when it is not base64url: the
/// key is refused before the modulus is looked at).
#[must_use]
pub fn jwk_has_known_empty_modulus(n: Option<&str>) -> bool {
    n.and_then(|n| URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')).ok())
        .is_some_and(|n| known_empty_modulus(&n))
}

/// [`known_empty_modulus`] for a PEM text as `VerifyingKey::from_pem` reads it: true when its
/// DER (SubjectPublicKeyInfo or PKCS#1, read as leniently as clerk-core does) holds a modulus
/// INTEGER that is empty or all zeros.
#[must_use]
pub fn pem_has_known_empty_modulus(pem: &str) -> bool {
    let pem = pem.replace("\\n", "\n");
    let Some(start) = pem.find("-----BEGIN ") else {
        return false;
    };
    let rest = &pem[start + "-----BEGIN ".len()..];
    let Some(label_end) = rest.find("-----") else {
        return false;
    };
    let label = &rest[..label_end];
    let body_and_end = &rest[label_end + 5..];
    let Some(end) = body_and_end.find("-----END ") else {
        return false;
    };
    let body: String = body_and_end[..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let Ok(der) = STANDARD.decode(body) else {
        return false;
    };
    let pkcs1 = match label {
        "PUBLIC KEY" => spki_key(&der),
        "RSA PUBLIC KEY" => Some(&der[..]),
        _ => None,
    };
    pkcs1
        .and_then(|key| {
            let (seq, _) = tlv(key, 0x30)?;
            let (n, rest) = tlv(seq, 0x02)?;
            tlv(rest, 0x02)?;
            Some(known_empty_modulus(n))
        })
        .unwrap_or(false)
}

fn spki_key(der: &[u8]) -> Option<&[u8]> {
    let (spki, _) = tlv(der, 0x30)?;
    let (algorithm, rest) = tlv(spki, 0x30)?;
    let (oid, _) = tlv(algorithm, 0x06)?;
    if oid != [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] {
        return None;
    }
    let (bits, _) = tlv(rest, 0x03)?;
    let (&unused, key) = bits.split_first()?;
    (unused == 0).then_some(key)
}

/// One DER TLV of tag `want`, read as clerk-core's reader does: (contents, rest).
fn tlv(input: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[count..];
        len
    };
    if rest.len() < len || tag != want {
        return None;
    }
    Some((&rest[..len], &rest[len..]))
}
