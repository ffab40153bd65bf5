//! Minting Clerk session tokens — well-formed ones and deliberately broken ones.
//!
//! [`TokenBuilder::v2`] and [`TokenBuilder::v1`] start from the default claims Clerk puts in a
//! session token of that version; every header field and claim can then be overridden
//! ([`header`](TokenBuilder::header), [`claim`](TokenBuilder::claim)) or removed
//! ([`remove_header`](TokenBuilder::remove_header), [`remove_claim`](TokenBuilder::remove_claim)).
//!
//! # Defaults
//!
//! | where  | field | default |
//! |--------|-------|---------|
//! | header | `alg` | `"RS256"` (or the [`alg`](TokenBuilder::alg) chosen; `"HS256"`/`"none"` for the attack signers) |
//! | header | `typ` | `"JWT"` |
//! | header | `kid` | the signing key's [`kid`](crate::keys::TestKeyPair::kid) |
//! | claims | `iss` | [`DEFAULT_ISSUER`] (`https://` + [`DEFAULT_FRONTEND_HOST`]) |
//! | claims | `sub` | [`DEFAULT_USER_ID`] |
//! | claims | `sid` | [`DEFAULT_SESSION_ID`] |
//! | claims | `azp` | [`DEFAULT_AUTHORIZED_PARTY`] |
//! | claims | `iat` | [`issued_at`](TokenBuilder::issued_at), else the system clock when signing (Unix seconds) |
//! | claims | `nbf` | `iat` − 10 s, as Clerk does ([`not_before_leeway`](TokenBuilder::not_before_leeway)) |
//! | claims | `exp` | `iat` + 60 s ([`expires_in`](TokenBuilder::expires_in)) |
//! | claims | `v`   | `2` for [`TokenBuilder::v2`]; absent for [`TokenBuilder::v1`] |
//!
//! Precedence: explicit [`claim`](TokenBuilder::claim)/[`header`](TokenBuilder::header) values
//! (and the typed setters, which are shorthands for them) replace derived defaults; a removal
//! removes whatever value the field would have had. For the same field, the last call wins.
//!
//! # Attacks
//!
//! Besides [`sign`](TokenBuilder::sign) (RSASSA-PKCS1-v1_5 with the builder's key), a token can be
//! finished with [`sign_with`](TokenBuilder::sign_with) (another key, header `kid` unchanged),
//! [`sign_with_hs256`](TokenBuilder::sign_with_hs256) (algorithm confusion),
//! [`sign_unsigned`](TokenBuilder::sign_unsigned) (`alg: none`) or
//! [`sign_with_raw_signature`](TokenBuilder::sign_with_raw_signature); [`encode_parts`] and
//! [`encode_raw_parts`] assemble anything at all.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use clerk_core::time::{Clock, SystemClock, UnixTime};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::keys::{Alg, TestKeyPair};

/// The Frontend API host the test kit uses unless told otherwise (also the mock's default).
pub const DEFAULT_FRONTEND_HOST: &str = "clerk.mock.test";
/// `https://` + [`DEFAULT_FRONTEND_HOST`]: the default `iss` claim.
pub const DEFAULT_ISSUER: &str = "https://clerk.mock.test";
/// The default `azp` claim (the origin of a local front end).
pub const DEFAULT_AUTHORIZED_PARTY: &str = "http://localhost:3000";
/// The default `sub` claim.
pub const DEFAULT_USER_ID: &str = "user_test_1";
/// The default `sid` claim.
pub const DEFAULT_SESSION_ID: &str = "sess_test_1";

/// The publishable key Clerk issues for Frontend API `host`: `pk_test_` (or `pk_live_`) followed by
/// the standard base64 of `<host>$`, without padding (like the keys in Clerk's own fixtures,
/// e.g. `pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA`).
///
/// ```
/// assert_eq!(
///     clerk_testkit::mint::publishable_key_for("clerk.inspired.puma-74.lcl.dev", false),
///     "pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA",
/// );
/// ```
#[must_use]
pub fn publishable_key_for(host: &str, live: bool) -> String {
    format!(
        "{}{}",
        pk_prefix(live),
        STANDARD_NO_PAD.encode(format!("{host}$"))
    )
}

/// [`publishable_key_for`] with `=` padding kept (what a plain `btoa` gives): parsers must accept
/// both forms.
#[must_use]
pub fn publishable_key_padded_for(host: &str, live: bool) -> String {
    format!("{}{}", pk_prefix(live), STANDARD.encode(format!("{host}$")))
}

fn pk_prefix(live: bool) -> &'static str {
    if live {
        "pk_live_"
    } else {
        "pk_test_"
    }
}

/// The active organization as Clerk puts it in a v2 token's `o` claim.
///
/// Generic over the string type so both `OrgV2 { id: "org_1", … permissions: vec!["read"], … }`
/// and owned `String`s work.
///
/// Serialized as `{"id", "slg", "rol", "per", "fpm"}`: `per` and `fpm` are comma-separated
/// strings (`"read,manage"`, `"3,2"`), and are left out when empty. `role` is unprefixed
/// (`"admin"`), as Clerk sends it in v2; `feature_permission_masks` are decimal strings because a
/// mask can be wider than 64 bits. The n-th mask belongs to the n-th feature of the `fea` claim
/// ([`TokenBuilder::features`]). As in Clerk's own SDK (`@clerk/shared`'s `jwtPayloadParser`),
/// bit `j` of a mask, counted from the least significant, grants the `j`-th permission: with
/// `permissions: ["read", "manage"]`, mask `"1"` grants `read`, `"2"` grants `manage`, `"3"` both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgV2<S = String> {
    /// Organization id (`org_…`) — the `id` field.
    pub id: S,
    /// Organization slug — the `slg` field.
    pub slug: S,
    /// Role key without the `org:` prefix (`"admin"`) — the `rol` field.
    pub role: S,
    /// Permission names without the feature (`"read"`, `"manage"`) — joined into `per`.
    pub permissions: Vec<S>,
    /// One decimal bitmask per feature in `fea` — joined into `fpm`.
    pub feature_permission_masks: Vec<S>,
}

impl<S: AsRef<str>> OrgV2<S> {
    /// The `o` claim value.
    #[must_use]
    pub fn to_claim(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), Value::from(self.id.as_ref()));
        o.insert("slg".into(), Value::from(self.slug.as_ref()));
        o.insert("rol".into(), Value::from(self.role.as_ref()));
        if !self.permissions.is_empty() {
            o.insert("per".into(), Value::from(join(&self.permissions)));
        }
        if !self.feature_permission_masks.is_empty() {
            o.insert(
                "fpm".into(),
                Value::from(join(&self.feature_permission_masks)),
            );
        }
        Value::Object(o)
    }
}

fn join<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}

/// Which default claim set a [`TokenBuilder`] starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimsVersion {
    /// Session token v1: no `v` claim; organization as `org_id`, `org_slug`, `org_role`,
    /// `org_permissions`.
    V1,
    /// Session token v2: `v: 2`; organization under `o`, plus `fea`, `pla`, `fva`, `sts`.
    V2,
}

/// Builds a Clerk session token (a compact JWS), well-formed or deliberately broken.
/// See the [module docs](self) for the defaults and precedence.
///
/// ```
/// use std::time::Duration;
/// use clerk_core::time::UnixTime;
/// use clerk_testkit::keys::TestKeyPair;
/// use clerk_testkit::mint::{OrgV2, TokenBuilder};
///
/// let key = TestKeyPair::fixed(0);
/// let token = TokenBuilder::v2(&key)
///     .issuer("https://clerk.example.test")
///     .subject("user_1")
///     .session_id("sess_1")
///     .authorized_party("http://localhost:3000")
///     .issued_at(UnixTime::from_secs(1_700_000_000))
///     .expires_in(Duration::from_secs(60))
///     .org_v2(OrgV2 {
///         id: "org_1",
///         slug: "acme",
///         role: "admin",
///         permissions: vec!["read", "manage"],
///         feature_permission_masks: vec!["3"],
///     })
///     .features("o:reports")
///     .sign();
/// assert_eq!(token.split('.').count(), 3);
/// ```
#[derive(Clone)]
#[must_use = "a TokenBuilder does nothing until signed"]
pub struct TokenBuilder {
    key: TestKeyPair,
    alg: Alg,
    version: ClaimsVersion,
    issued_at: Option<UnixTime>,
    lifetime: Duration,
    not_before_leeway: Duration,
    header_set: Map<String, Value>,
    header_removed: BTreeSet<String>,
    claims_set: Map<String, Value>,
    claims_removed: BTreeSet<String>,
}

impl fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("kid", &self.key.kid())
            .field("alg", &self.alg)
            .field("version", &self.version)
            .field("header", &self.header_json())
            .field("claims", &self.claims_json())
            .finish()
    }
}

impl TokenBuilder {
    /// A v2 session token (`v: 2`) signed by `key`.
    pub fn v2(key: &TestKeyPair) -> Self {
        Self::new(key, ClaimsVersion::V2)
    }

    /// A v2 session token shaped like a production one (about 950 bytes signed): an active
    /// session in organization `acme-corp` as `admin` with three permissions over two features,
    /// a user feature, a plan and a factor-verification age; issuer [`DEFAULT_ISSUER`]. Benchmarks
    /// use it so their figures describe real tokens, not minimal ones.
    pub fn realistic_v2(key: &TestKeyPair) -> Self {
        Self::v2(key)
            .issuer(DEFAULT_ISSUER)
            .subject("user_2NNEqL2nrIRdJ194ndJqAHwEfxC")
            .session_id("sess_2NNEqL2nrIRdJ194ndJqAHwEfxC")
            .features("o:reports,o:billing,u:beta")
            .plan("o:pro")
            .factor_verification_age(7, -1)
            .session_status("active")
            .org_v2(OrgV2 {
                id: "org_2NNEqL2nrIRdJ194ndJqAHwEfxC",
                slug: "acme-corp",
                role: "admin",
                permissions: vec!["read", "manage", "delete"],
                // reports: read + manage (bits 0 and 1); billing: read (bit 0).
                feature_permission_masks: vec!["3", "1"],
            })
    }

    /// A v1 session token (no `v` claim) signed by `key`.
    pub fn v1(key: &TestKeyPair) -> Self {
        Self::new(key, ClaimsVersion::V1)
    }

    /// A token of `version` signed by `key`.
    pub fn new(key: &TestKeyPair, version: ClaimsVersion) -> Self {
        TokenBuilder {
            key: key.clone(),
            alg: Alg::Rs256,
            version,
            issued_at: None,
            lifetime: Duration::from_secs(60),
            not_before_leeway: Duration::from_secs(10),
            header_set: Map::new(),
            header_removed: BTreeSet::new(),
            claims_set: Map::new(),
            claims_removed: BTreeSet::new(),
        }
    }

    // ---- header -------------------------------------------------------------------------

    /// Sets header field `name` to `value` (overriding any default, e.g. `alg`, `kid`, `typ`,
    /// or adding `cat`, `jku`, …).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header_removed.remove(name);
        self.header_set.insert(name.to_owned(), value.into());
        self
    }

    /// Leaves header field `name` out of the token.
    pub fn remove_header(mut self, name: &str) -> Self {
        self.header_set.remove(name);
        self.header_removed.insert(name.to_owned());
        self
    }

    /// Signs with `alg` (RS256 by default) and puts it in the header's `alg`.
    pub fn alg(mut self, alg: Alg) -> Self {
        self.alg = alg;
        self
    }

    /// Sets the header `kid` (by default the signing key's id). The signature is still made with
    /// the builder's key.
    pub fn kid(self, kid: &str) -> Self {
        self.header("kid", kid)
    }

    // ---- standard claims --------------------------------------------------------------------

    /// Sets claim `name` to `value` (any JSON: wrong types are welcome in attack tests).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims_removed.remove(name);
        self.claims_set.insert(name.to_owned(), value.into());
        self
    }

    /// Leaves claim `name` out of the token (e.g. `exp`, `sub`, `azp`).
    pub fn remove_claim(mut self, name: &str) -> Self {
        self.claims_set.remove(name);
        self.claims_removed.insert(name.to_owned());
        self
    }

    /// `iss`: the Frontend API URL, `https://<frontend host>`.
    pub fn issuer(self, iss: &str) -> Self {
        self.claim("iss", iss)
    }

    /// `sub`: the user id.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// `sid`: the session id.
    pub fn session_id(self, sid: &str) -> Self {
        self.claim("sid", sid)
    }

    /// `azp`: the authorized party (the front end's origin).
    pub fn authorized_party(self, azp: &str) -> Self {
        self.claim("azp", azp)
    }

    /// `aud` (Clerk session tokens carry none by default).
    pub fn audience(self, aud: impl Into<Value>) -> Self {
        self.claim("aud", aud)
    }

    /// `jti`.
    pub fn jwt_id(self, jti: &str) -> Self {
        self.claim("jti", jti)
    }

    /// The instant the token is issued: `iat`, and the base of the derived `nbf` and `exp`.
    /// Without it, the system clock is read when signing.
    pub fn issued_at(mut self, now: UnixTime) -> Self {
        self.issued_at = Some(now);
        self
    }

    /// [`issued_at`](Self::issued_at) the current time of `clock` (e.g. a
    /// [`ManualClock`](crate::clock::ManualClock)).
    pub fn issued_now_by(self, clock: &dyn Clock) -> Self {
        let now = clock.now();
        self.issued_at(now)
    }

    /// Lifetime: `exp` = `iat` + `lifetime` (60 s by default, as Clerk's session tokens).
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// `exp` set to an absolute instant (overrides [`expires_in`](Self::expires_in)).
    pub fn expires_at(self, exp: UnixTime) -> Self {
        self.claim("exp", exp.as_secs())
    }

    /// `nbf` = `iat` − `leeway` (10 s by default, as Clerk's allowed clock skew).
    pub fn not_before_leeway(mut self, leeway: Duration) -> Self {
        self.not_before_leeway = leeway;
        self
    }

    /// `nbf` set to an absolute instant.
    pub fn not_before(self, nbf: UnixTime) -> Self {
        self.claim("nbf", nbf.as_secs())
    }

    // ---- Clerk claims ------------------------------------------------------------------------

    /// `sts`: the session status (`"active"`, `"pending"`). Absent by default.
    pub fn session_status(self, sts: &str) -> Self {
        self.claim("sts", sts)
    }

    /// `v`: the claims version number (set to `2` by [`TokenBuilder::v2`]).
    pub fn version_claim(self, v: impl Into<Value>) -> Self {
        self.claim("v", v)
    }

    /// v2 `o`: the active organization.
    pub fn org_v2<S: AsRef<str>>(self, org: OrgV2<S>) -> Self {
        self.claim("o", org.to_claim())
    }

    /// v1 organization claims: `org_id`, `org_slug`, `org_role` (prefixed, e.g. `"org:admin"`, as
    /// Clerk sends it in v1) and `org_permissions` (an array, e.g. `["org:reports:read"]`).
    pub fn org_v1<P, I>(self, id: &str, slug: &str, role: &str, permissions: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let permissions: Vec<String> = permissions.into_iter().map(Into::into).collect();
        self.claim("org_id", id)
            .claim("org_slug", slug)
            .claim("org_role", role)
            .claim("org_permissions", permissions)
    }

    /// v2 `fea`: comma-separated scoped features, e.g. `"o:reports,o:dashboard"`.
    pub fn features(self, fea: &str) -> Self {
        self.claim("fea", fea)
    }

    /// v2 `pla`: the active plan, e.g. `"u:free"` or `"o:pro"`.
    pub fn plan(self, pla: &str) -> Self {
        self.claim("pla", pla)
    }

    /// `fva`: minutes since the first and second factor were verified (`-1`: never / none).
    pub fn factor_verification_age(self, first: i64, second: i64) -> Self {
        self.claim("fva", json!([first, second]))
    }

    /// `act`: the actor of an impersonation session, e.g. `json!({"sub": "user_admin"})`.
    pub fn actor(self, act: Value) -> Self {
        self.claim("act", act)
    }

    // ---- inspection -------------------------------------------------------------------------

    /// The key the token is signed with by [`sign`](Self::sign).
    pub fn key(&self) -> &TestKeyPair {
        &self.key
    }

    /// The header as it would be signed by [`sign`](Self::sign).
    #[must_use]
    pub fn header_json(&self) -> Value {
        self.header_with_alg(self.alg.as_str())
    }

    /// The claims (payload) as they would be signed. Without [`issued_at`](Self::issued_at) this
    /// reads the system clock, so two calls may differ.
    #[must_use]
    pub fn claims_json(&self) -> Value {
        let iat = self.issued_at.unwrap_or_else(|| SystemClock.now());
        let mut claims = Map::new();
        claims.insert("iss".into(), DEFAULT_ISSUER.into());
        claims.insert("sub".into(), DEFAULT_USER_ID.into());
        claims.insert("sid".into(), DEFAULT_SESSION_ID.into());
        claims.insert("azp".into(), DEFAULT_AUTHORIZED_PARTY.into());
        claims.insert("iat".into(), iat.as_secs().into());
        claims.insert(
            "nbf".into(),
            iat.saturating_sub(self.not_before_leeway).as_secs().into(),
        );
        claims.insert(
            "exp".into(),
            iat.saturating_add(self.lifetime).as_secs().into(),
        );
        if self.version == ClaimsVersion::V2 {
            claims.insert("v".into(), 2.into());
        }
        apply(claims, &self.claims_set, &self.claims_removed)
    }

    fn header_with_alg(&self, alg: &str) -> Value {
        let mut header = Map::new();
        header.insert("alg".into(), alg.into());
        header.insert("typ".into(), "JWT".into());
        header.insert("kid".into(), self.key.kid().into());
        apply(header, &self.header_set, &self.header_removed)
    }

    // ---- finishing --------------------------------------------------------------------------

    /// Signs with the builder's key and [`alg`](Self::alg): a token a correct verifier accepts
    /// (given matching issuer, parties and time).
    #[must_use]
    pub fn sign(&self) -> String {
        self.sign_with(&self.key)
    }

    /// Signs with `other` while the header keeps the builder key's `kid` (a forged signature:
    /// `token-invalid-signature`).
    #[must_use]
    pub fn sign_with(&self, other: &TestKeyPair) -> String {
        let input = signing_input(&self.header_json(), &self.claims_json());
        let sig = other.sign(self.alg, input.as_bytes());
        finish(input, &sig)
    }

    /// HMAC-SHA256 over `header.payload` with `secret` (algorithm-confusion attack, e.g. with
    /// the public key PEM as the secret). The header `alg` defaults to `"HS256"` here.
    #[must_use]
    pub fn sign_with_hs256(&self, secret: &[u8]) -> String {
        let input = signing_input(&self.header_with_alg("HS256"), &self.claims_json());
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC-SHA256 accepts keys of any length");
        mac.update(input.as_bytes());
        let sig = mac.finalize().into_bytes();
        finish(input, &sig)
    }

    /// An unsecured JWS: header `alg` defaults to `"none"`, the signature is empty (the token
    /// ends with a dot).
    #[must_use]
    pub fn sign_unsigned(&self) -> String {
        let input = signing_input(&self.header_with_alg("none"), &self.claims_json());
        finish(input, &[])
    }

    /// The configured header and claims with `signature` as the signature part.
    #[must_use]
    pub fn sign_with_raw_signature(&self, signature: &[u8]) -> String {
        let input = signing_input(&self.header_json(), &self.claims_json());
        finish(input, signature)
    }
}

fn apply(
    mut base: Map<String, Value>,
    set: &Map<String, Value>,
    removed: &BTreeSet<String>,
) -> Value {
    for (k, v) in set {
        base.insert(k.clone(), v.clone());
    }
    for k in removed {
        base.remove(k);
    }
    Value::Object(base)
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn finish(input: String, sig: &[u8]) -> String {
    let mut token = input;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(sig));
    token
}

/// A compact JWS from arbitrary JSON parts: base64url (no padding) of the serialized header and
/// payload, and of the raw `signature` bytes, joined by dots.
#[must_use]
pub fn encode_parts(header: &Value, payload: &Value, signature: &[u8]) -> String {
    finish(signing_input(header, payload), signature)
}

/// A compact JWS from arbitrary bytes (header and payload need not be JSON, or UTF-8).
#[must_use]
pub fn encode_raw_parts(header: &[u8], payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// A token taken apart without verifying anything (for assertions in tests).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedToken {
    /// The decoded JOSE header.
    pub header: Value,
    /// The decoded payload (claims).
    pub claims: Value,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
    /// `header.payload` as it appears in the token: the bytes the signature covers.
    pub signing_input: String,
}

/// Splits and decodes a compact JWS without verifying it.
///
/// # Errors
///
/// When the token does not have three dot-separated base64url parts with JSON header and payload.
pub fn decode_unverified(token: &str) -> Result<DecodedToken, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a compact JWS has exactly three dot-separated parts".into());
    };
    let part = |name: &str, text: &str| {
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| format!("{name} is not base64url without padding: {e}"))
    };
    let header = serde_json::from_slice(&part("header", h)?)
        .map_err(|e| format!("header is not JSON: {e}"))?;
    let claims = serde_json::from_slice(&part("payload", p)?)
        .map_err(|e| format!("payload is not JSON: {e}"))?;
    Ok(DecodedToken {
        header,
        claims,
        signature: part("signature", s)?,
        signing_input: format!("{h}.{p}"),
    })
}
