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
