//! RSA key pairs for signing test tokens and serving them as a JWKS.
//!
//! [`TestKeyPair::generate`] makes a fresh random RSA-2048 key; [`TestKeyPair::fixed`] loads one of
//! [`FIXED_KEY_COUNT`] deterministic keys committed under `clerk-testkit/keys/` (test keys,
//! public to anyone: never use them for anything real). Fixed keys have stable key ids
//! (`ins_testkit_fixed_<index>`), moduli and signatures, so they suit snapshot-style tests and
//! fixtures; generated keys get a key id derived from their modulus.
//!
//! A [`TestKeyPair`] is an `Arc` inside: cloning it is cheap and clones share the key.

use std::fmt;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// How many fixed keys [`TestKeyPair::fixed`] offers (indices `0..FIXED_KEY_COUNT`).
pub const FIXED_KEY_COUNT: usize = 3;

const FIXED_PEMS: [&str; FIXED_KEY_COUNT] = [
    include_str!("../keys/fixed-0.pem"),
    include_str!("../keys/fixed-1.pem"),
    include_str!("../keys/fixed-2.pem"),
];

/// The RSA signature algorithms a [`TestKeyPair`] can sign with (RSASSA-PKCS1-v1_5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 — what Clerk uses for session tokens.
    #[default]
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
}

impl Alg {
    /// The JOSE name: `"RS256"`, `"RS384"` or `"RS512"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

struct Inner {
    private: RsaPrivateKey,
    public: RsaPublicKey,
}

/// An RSA key pair with a key id (`kid`), for signing test tokens and publishing the public half.
///
/// Cheap to clone (the key material sits behind an `Arc`); [`with_kid`](Self::with_kid) returns a
/// handle to the same key under another id.
#[derive(Clone)]
pub struct TestKeyPair {
    inner: Arc<Inner>,
    kid: Arc<str>,
}

impl fmt::Debug for TestKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print private key material, even in tests.
        f.debug_struct("TestKeyPair")
            .field("kid", &&*self.kid)
            .field("bits", &(self.inner.public.size() * 8))
            .finish_non_exhaustive()
    }
}

impl PartialEq for TestKeyPair {
    /// Same key id and same public key.
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.inner.public == other.inner.public
    }
}

impl Eq for TestKeyPair {}

impl TestKeyPair {
    /// A fresh random RSA-2048 key pair, with a key id derived from its modulus
    /// (`ins_testkit_` followed by 22 base64url characters of a SHA-256 fingerprint).
    ///
    /// Takes tens to hundreds of milliseconds; prefer [`fixed`](Self::fixed) where any key will do.
    ///
    /// # Panics
    ///
    /// If the `rsa` crate fails to generate a key (it does not for 2048 bits with a working RNG).
    #[must_use]
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 2048)
            .expect("RSA-2048 key generation with the thread RNG cannot fail");
        Self::from_private(private, None)
    }

    /// The fixed test key number `index` (`0..FIXED_KEY_COUNT`), with key id
    /// `ins_testkit_fixed_<index>`. Parsed once per process; later calls clone the handle.
    ///
    /// # Panics
    ///
    /// If `index >= FIXED_KEY_COUNT`.
    #[must_use]
    pub fn fixed(index: usize) -> Self {
        static CACHE: [OnceLock<TestKeyPair>; FIXED_KEY_COUNT] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        assert!(
            index < FIXED_KEY_COUNT,
            "TestKeyPair::fixed({index}): only {FIXED_KEY_COUNT} fixed keys exist (indices 0..{FIXED_KEY_COUNT})"
        );
        CACHE[index]
            .get_or_init(|| {
                let pem = FIXED_PEMS[index];
                Self::from_pkcs8_pem(pem, &format!("ins_testkit_fixed_{index}"))
                    .expect("the committed fixed key PEM files are valid PKCS#8 RSA keys")
            })
            .clone()
    }

    /// All fixed keys, in index order.
    #[must_use]
    pub fn all_fixed() -> Vec<Self> {
        (0..FIXED_KEY_COUNT).map(Self::fixed).collect()
    }

    /// Loads an RSA private key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) under key id `kid`.
    ///
    /// # Errors
    ///
    /// When the PEM is not a PKCS#8 RSA private key; the message says why.
    pub fn from_pkcs8_pem(pem: &str, kid: &str) -> Result<Self, String> {
        let private = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| format!("not a PKCS#8 RSA private key: {e}"))?;
        Ok(Self::from_private(private, Some(kid)))
    }

    fn from_private(private: RsaPrivateKey, kid: Option<&str>) -> Self {
        let public = private.to_public_key();
        let kid: Arc<str> = match kid {
            Some(kid) => kid.into(),
            None => {
                let fingerprint = Sha256::digest(public.n().to_bytes_be());
                format!("ins_testkit_{}", &URL_SAFE_NO_PAD.encode(fingerprint)[..22]).into()
            }
        };
        TestKeyPair {
            inner: Arc::new(Inner { private, public }),
            kid,
        }
    }

    /// The same key pair under another key id (shares the key material).
    #[must_use]
    pub fn with_kid(&self, kid: impl Into<String>) -> Self {
        TestKeyPair {
            inner: Arc::clone(&self.inner),
            kid: kid.into().into(),
        }
    }

    /// The key id, as put in the JWK and in minted token headers.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK: `{"kty":"RSA","use":"sig","alg":"RS256","kid",n,e}` with `n` and `e`
    /// big-endian, base64url without padding — the shape Clerk's `/v1/jwks` returns.
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid(),
            "n": self.modulus_b64(),
            "e": URL_SAFE_NO_PAD.encode(self.inner.public.e().to_bytes_be()),
        })
    }

    /// The modulus `n`, base64url without padding (as in the JWK).
    #[must_use]
    pub fn modulus_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.inner.public.n().to_bytes_be())
    }

    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`, LF line endings), the format of
    /// `CLERK_JWT_KEY` for networkless verification.
    #[must_use]
    pub fn public_key_pem(&self) -> String {
        self.inner
            .public
            .to_public_key_pem(LineEnding::LF)
            .expect("encoding an RSA public key as SPKI PEM cannot fail")
    }

    /// The public key as SPKI DER.
    #[must_use]
    pub fn public_key_der(&self) -> Vec<u8> {
        self.inner
            .public
            .to_public_key_der()
            .expect("encoding an RSA public key as SPKI DER cannot fail")
            .as_bytes()
            .to_vec()
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF line endings).
    #[must_use]
    pub fn private_key_pem(&self) -> String {
        self.inner
            .private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("encoding an RSA private key as PKCS#8 PEM cannot fail")
            .to_string()
    }

    /// The public key as an `rsa` crate value (to verify signatures in tests).
    #[must_use]
    pub fn rsa_public_key(&self) -> &RsaPublicKey {
        &self.inner.public
    }

    /// Signs `msg` with RSASSA-PKCS1-v1_5 and the hash of `alg`; returns the raw signature
    /// (256 bytes for RSA-2048). Deterministic: the same key, algorithm and message give the
    /// same signature.
    #[must_use]
    pub fn sign(&self, alg: Alg, msg: &[u8]) -> Vec<u8> {
        let (scheme, digest) = match alg {
            Alg::Rs256 => (Pkcs1v15Sign::new::<Sha256>(), Sha256::digest(msg).to_vec()),
            Alg::Rs384 => (Pkcs1v15Sign::new::<Sha384>(), Sha384::digest(msg).to_vec()),
            Alg::Rs512 => (Pkcs1v15Sign::new::<Sha512>(), Sha512::digest(msg).to_vec()),
        };
        self.inner
            .private
            .sign(scheme, &digest)
            .expect("PKCS#1 v1.5 signing of a digest with an RSA-2048 key cannot fail")
    }
}

/// A JWKS document `{"keys":[…]}` holding the public JWKs of `keys`, in order.
#[must_use]
pub fn jwks(keys: &[&TestKeyPair]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() })
}

/// [`jwks`] for an owned slice (`&[TestKeyPair]`, e.g. a `Vec`).
#[must_use]
pub fn jwks_of(keys: &[TestKeyPair]) -> Value {
    json!({ "keys": keys.iter().map(TestKeyPair::public_jwk).collect::<Vec<_>>() })
}
