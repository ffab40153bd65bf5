//! [`Auth`]: who a verified session token says the caller is, normalized from claims v1 and v2,
//! and [`Auth::has`]: Clerk's authorization checks ([`Check`]) on it.
//!
//! # Clerk's semantics, and where Clerk's SDKs disagree
//!
//! Every decision here is the one Clerk's JavaScript SDK makes (`@clerk/shared`'s
//! `jwtPayloadParser` and `createCheckAuthorization`, `@clerk/backend`'s `verifyToken` and
//! `authenticateRequest`); `clerk-core/tests/clerk_js_oracle.rs` checks it on a corpus
//! recorded from that SDK (`conformance/clerk-js/`). In short:
//!
//! - v2 permissions: permission `per[j]` is granted for organization feature `i` when bit `j`
//!   of `fpm[i]`, **counted from the least significant bit**, is set. `fpm` is a string of
//!   comma-separated decimals of any width (the SDK divides the decimal strings itself, so it
//!   loses no precision beyond 2^53 or 2^64; neither do we). An entry that is not a plain
//!   decimal (`x3`, `-1`, empty) grants nothing for its feature and keeps the positions of the
//!   others; `per` entries are trimmed, and empty ones keep their position.
//! - Only `v: 2` (the number) reads v2 claims; any other `v` reads the v1 claims.
//! - Features and plans (`fea`, `pla`) are `scope:name` entries with scope `o`, `u`, `ou` or
//!   `uo`; other scopes are ignored. An entry without a colon makes the SDK throw: with an
//!   active v2 organization while building the auth object (no session: we refuse the token as
//!   `token-invalid`), otherwise in every feature or plan check (which then fail).
//! - Roles compare after `prefixWithOrg` (`admin`, `org:admin` and `org:org:admin` are the
//!   same role), and [`ActiveOrganization::role`] is stored in that form. Permissions compare
//!   the stored names with the query after `prefixWithOrg`.
//! - `has()` fails without a user id; role and permission checks fail without an active
//!   organization id; every requested dimension must pass.
//! - Session tokens without `sid` are accepted (the SDK does; [`Auth::session_id`] is `None`).
//!
//! Clerk's other SDKs differ in details, and we follow the JavaScript one. Python's
//! `clerk-backend-api` 7.0.0 (`clerk_backend_api/security/authenticaterequest.py` and
//! `verifytoken.py`, read from the published wheel):
//!
//! - pairs `fpm[i]` with the `i`-th entry of **all** of `fea` and skips the non-organization
//!   ones, where JavaScript pairs it with the `i`-th **organization** feature: with
//!   `fea=o:a,u:b,o:c` and `fpm=1,2`, JavaScript grants `c` the second mask, Python grants `c`
//!   nothing. Both read bit `j` from the least significant end, with arbitrary precision.
//! - takes any scope containing `o` as an organization scope (`org:x` included), skips `fea`
//!   entries that do not split into exactly two parts instead of throwing, and leaves the v2
//!   role unprefixed (`admin`, not `org:admin`).
//! - verifies with PyJWT: RS256 only, `iss` never checked, `azp` checked when authorized
//!   parties are given; it tells session tokens from machine tokens by prefix only (an
//!   `at+jwt` or `mch_` JWT is verified as a session), and has no pending-session rule and no
//!   `has()`.
//!
//! Go's `clerk-sdk-go` could not be consulted here (its module proxy was unreachable).
//!
//! Where the JavaScript SDK itself is looser than this crate, we stay strict and say so in the
//! oracle test's list of divergences (an empty `sub`; the order in which a forged machine
//! token's reasons are reported; RS384/RS512 with a networkless key).

use crate::time::UnixTime;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};

/// The token's claims as JSON text, parsed into a map only when someone asks: most requests
/// never read a custom claim, so verification does not pay for building the map.
#[derive(Debug, Default)]
pub(crate) struct RawClaims {
    json: Vec<u8>,
    parsed: OnceLock<Map<String, Value>>,
}

impl RawClaims {
    pub(crate) fn new(json: Vec<u8>) -> Self {
        RawClaims {
            json,
            parsed: OnceLock::new(),
        }
    }

    fn json(&self) -> &[u8] {
        &self.json
    }

    fn map(&self) -> &Map<String, Value> {
        // The payload already parsed as a JSON object during verification.
        self.parsed
            .get_or_init(|| serde_json::from_slice(&self.json).unwrap_or_default())
    }
}

/// The organization a session has active.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActiveOrganization {
    /// Clerk organization id (`org_…`).
    pub id: String,
    /// Organization slug, when the token carries it.
    pub slug: Option<String>,
    /// The member's role, always `org:`-prefixed (`org:admin`). `None` when the token has no role.
    pub role: Option<String>,
    /// The member's permissions, `org:<feature>:<permission>`, in the order the token lists them.
    pub permissions: Vec<String>,
}

/// Minutes since the first and second factor were last verified (`fva`); `-1` means never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FactorVerificationAge {
    /// Minutes since the first factor was verified.
    pub first_factor_minutes: i64,
    /// Minutes since the second factor was verified, `-1` if never or not enrolled.
    pub second_factor_minutes: i64,
}

/// A verified Clerk session.
///
/// Built only by the verifier. Equality compares the normalized identity (user, session,
/// organization, permissions, features, plan, actor, factor age, issuer, party and times), not
/// the raw claim map, so a v1 token and its v2 equivalent give equal values.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Auth {
    /// Clerk user id (`sub`, `user_…`).
    pub user_id: String,
    /// Clerk session id (`sid`, `sess_…`).
    pub session_id: Option<String>,
    /// Session status (`sts`): `active`, `pending`, or absent on older instances.
    pub session_status: Option<String>,
    /// The active organization, if the session has one.
    pub org: Option<ActiveOrganization>,
    /// User-scoped features (`fea` entries with scope `u`).
    pub user_features: Vec<String>,
    /// Organization-scoped features (`fea` entries with scope `o`).
    pub org_features: Vec<String>,
    /// Billing plan (`pla`), e.g. `u:free` or `o:pro`.
    pub plan: Option<String>,
    /// Impersonation actor (`act`), raw, when an admin acts as this user; typed by
    /// [`Auth::impersonator`], tested by [`Auth::is_impersonated`].
    pub actor: Option<Value>,
    /// Factor verification age (`fva`): set for two whole numbers that are each `-1` or `>= 0`
    /// (the values Clerk's checks accept); [`Check::Reverification`] reads the claim itself,
    /// fractional minutes included, as Clerk does.
    pub factor_verification_age: Option<FactorVerificationAge>,
    /// Issuer (`iss`).
    pub issuer: Option<String>,
    /// Authorized party (`azp`).
    pub authorized_party: Option<String>,
    /// Issued at (`iat`).
    pub issued_at: Option<UnixTime>,
    /// Not before (`nbf`).
    pub not_before: Option<UnixTime>,
    /// Expiry (`exp`).
    pub expires_at: UnixTime,
    /// Audience (`aud`): a string or an array of strings, as the token has it.
    pub audience: Option<Value>,
    /// Claims format: 1 or 2.
    pub claims_version: u8,
    #[serde(skip)]
    pub(crate) claims: Arc<RawClaims>,
}

/// The impersonator of an impersonated session (`act`), typed.
///
/// Clerk puts `{"sub": "user_…", "iss": "https://dashboard.clerk.com", "sid": "sess_…"}` there
/// when a dashboard user (or an actor token) acts as someone else.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Actor {
    /// Who is acting (`sub`).
    pub sub: String,
    /// Where the actor comes from (`iss`), when present.
    pub iss: Option<String>,
    /// The actor's own session (`sid`), when present.
    pub sid: Option<String>,
    /// Every other member of `act`.
    pub other: serde_json::Map<String, Value>,
}

impl Actor {
    /// Reads `act`: an object with a string `sub`; anything else is not a typed actor.
    #[must_use]
    pub fn from_claim(act: &Value) -> Option<Actor> {
        let mut object = act.as_object()?.clone();
        let sub = match object.remove("sub")? {
            Value::String(sub) => sub,
            _ => return None,
        };
        let mut text = |name: &str| match object.get(name) {
            Some(Value::String(_)) => object
                .remove(name)
                .and_then(|v| v.as_str().map(str::to_owned)),
            _ => None,
        };
        let iss = text("iss");
        let sid = text("sid");
        Some(Actor {
            sub,
            iss,
            sid,
            other: object,
        })
    }
}

/// The factor a reverification check requires (`level` in Clerk's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerificationLevel {
    /// `first_factor`: the first factor verified recently enough.
    FirstFactor,
    /// `second_factor`: the second factor (or, without one enrolled, the first) recently enough.
    SecondFactor,
    /// `multi_factor`: both factors recently enough (only the first when no second is enrolled).
    MultiFactor,
}

impl VerificationLevel {
    /// Clerk's name (`first_factor`, `second_factor`, `multi_factor`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationLevel::FirstFactor => "first_factor",
            VerificationLevel::SecondFactor => "second_factor",
            VerificationLevel::MultiFactor => "multi_factor",
        }
    }

    /// The level Clerk names `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "first_factor" => Some(VerificationLevel::FirstFactor),
            "second_factor" => Some(VerificationLevel::SecondFactor),
            "multi_factor" => Some(VerificationLevel::MultiFactor),
            _ => None,
        }
    }
}

/// How recently the user must have verified (Clerk's reverification presets, or a level and
/// an age).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reverification {
    /// `strict_mfa`: multi-factor within 10 minutes.
    StrictMfa,
    /// `strict`: second factor within 10 minutes.
    Strict,
    /// `moderate`: second factor within 60 minutes.
    Moderate,
    /// `lax`: second factor within 1,440 minutes (a day).
    Lax,
    /// An explicit level and age; build it with [`Reverification::custom`].
    Custom {
        /// The factor required.
        level: VerificationLevel,
        /// The verification must be younger than this many minutes (more than zero).
        after_minutes: u32,
    },
}

impl Reverification {
    /// The preset Clerk names `name` (`strict_mfa`, `strict`, `moderate`, `lax`).
    #[must_use]
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "strict_mfa" => Some(Reverification::StrictMfa),
            "strict" => Some(Reverification::Strict),
            "moderate" => Some(Reverification::Moderate),
            "lax" => Some(Reverification::Lax),
            _ => None,
        }
    }

    /// An explicit level and age; `None` for an age of zero (Clerk requires more than zero).
    #[must_use]
    pub fn custom(level: VerificationLevel, after_minutes: u32) -> Option<Self> {
        (after_minutes > 0).then_some(Reverification::Custom {
            level,
            after_minutes,
        })
    }

    /// The preset's name, `None` for [`Reverification::Custom`].
    #[must_use]
    pub fn preset_name(self) -> Option<&'static str> {
        match self {
            Reverification::StrictMfa => Some("strict_mfa"),
            Reverification::Strict => Some("strict"),
            Reverification::Moderate => Some("moderate"),
            Reverification::Lax => Some("lax"),
            Reverification::Custom { .. } => None,
        }
    }

    /// The factor required.
    #[must_use]
    pub fn level(self) -> VerificationLevel {
        match self {
            Reverification::StrictMfa => VerificationLevel::MultiFactor,
            Reverification::Strict | Reverification::Moderate | Reverification::Lax => {
                VerificationLevel::SecondFactor
            }
            Reverification::Custom { level, .. } => level,
        }
    }

    /// The maximum age, in minutes.
    #[must_use]
    pub fn after_minutes(self) -> u32 {
        match self {
            Reverification::StrictMfa | Reverification::Strict => 10,
            Reverification::Moderate => 60,
            Reverification::Lax => 1440,
            Reverification::Custom { after_minutes, .. } => after_minutes,
        }
    }
}

/// One of Clerk's authorization checks, for [`Auth::has`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The active organization's role (`admin` or `org:admin`).
    Role(String),
    /// A permission of the active organization (`org:reports:read` or `reports:read`).
    Permission(String),
    /// A feature (`fea`): `x`, `o:x`/`org:x`/`organization:x` or `u:x`/`user:x`.
    Feature(String),
    /// A plan (`pla`), scoped like a feature.
    Plan(String),
    /// A recent enough factor verification (`fva`).
    Reverification(Reverification),
}

impl Check {
    /// A role check.
    pub fn role(role: impl Into<String>) -> Self {
        Check::Role(role.into())
    }
    /// A permission check.
    pub fn permission(permission: impl Into<String>) -> Self {
        Check::Permission(permission.into())
    }
    /// A feature check.
    pub fn feature(feature: impl Into<String>) -> Self {
        Check::Feature(feature.into())
    }
    /// A plan check.
    pub fn plan(plan: impl Into<String>) -> Self {
        Check::Plan(plan.into())
    }
    /// A reverification check.
    #[must_use]
    pub fn reverification(reverification: Reverification) -> Self {
        Check::Reverification(reverification)
    }
}

/// Clerk's `prefixWithOrg`: any run of leading `org:` becomes exactly one.
pub(crate) fn prefix_with_org(value: &str) -> String {
    let mut rest = value;
    while let Some(r) = rest.strip_prefix("org:") {
        rest = r;
    }
    let mut out = String::with_capacity(rest.len() + 4);
    out.push_str("org:");
    out.push_str(rest);
    out
}

/// Clerk's `splitByScope` (`o:a,u:b,ou:c` into organization and user names); `Err` where the
/// SDK throws (an entry without a colon).
pub(crate) fn split_by_scope(claim: &str) -> Result<(Vec<&str>, Vec<&str>), ()> {
    let (mut org, mut user) = (Vec::new(), Vec::new());
    if claim.is_empty() {
        return Ok((org, user));
    }
    for part in claim.split(',').map(str::trim) {
        let (scope, value) = part.split_once(':').ok_or(())?;
        match scope {
            "o" => org.push(value),
            "u" => user.push(value),
            "ou" | "uo" => {
                org.push(value);
                user.push(value);
            }
            _ => {}
        }
    }
    Ok((org, user))
}

/// Clerk's `checkForFeatureOrPlan` on a `fea` or `pla` claim.
fn has_feature_or_plan(claim: Option<&Value>, wanted: &str) -> bool {
    // `sessionClaims.fea || ""`, and a non-string or empty claim fails.
    let Some(claim) = claim.and_then(Value::as_str).filter(|c| !c.is_empty()) else {
        return false;
    };
    let Ok((org, user)) = split_by_scope(claim) else {
        return false;
    };
    // `const [rawScope, rawId] = featureOrPlan.split(":")`: only the first two pieces count.
    let mut pieces = wanted.split(':');
    let raw_scope = pieces.next().unwrap_or_default();
    let raw_id = pieces.next();
    let id = match raw_id {
        Some(id) if !id.is_empty() => id,
        _ => raw_scope,
    };
    match raw_id.map(|_| raw_scope) {
        Some("o" | "org" | "organization") => org.contains(&id),
        Some("u" | "user") => user.contains(&id),
        Some(_) => false,
        None => org.contains(&id) || user.contains(&id),
    }
}

/// Clerk's `isValidFactorAge` on both members of `fva`.
fn factor_ages(fva: Option<&Value>) -> Option<(f64, f64)> {
    let ages = fva?.as_array().filter(|a| a.len() == 2)?;
    let age = |v: &Value| {
        v.as_f64()
            .filter(|a| a.is_finite() && (*a == -1.0 || *a >= 0.0))
    };
    Some((age(&ages[0])?, age(&ages[1])?))
}

/// Clerk's `checkReverificationAuthorization`.
fn reverified(fva: Option<&Value>, wanted: Reverification) -> bool {
    let Some((first, second)) = factor_ages(fva) else {
        return false;
    };
    if first == -1.0 && second == -1.0 {
        return false;
    }
    let after = f64::from(wanted.after_minutes());
    let first_fresh = first != -1.0 && after > first;
    let second_fresh = second != -1.0 && after > second;
    match wanted.level() {
        VerificationLevel::FirstFactor => first_fresh,
        VerificationLevel::SecondFactor if second == -1.0 => first_fresh,
        VerificationLevel::SecondFactor => second_fresh,
        VerificationLevel::MultiFactor if second == -1.0 => first_fresh,
        VerificationLevel::MultiFactor => first != -1.0 && first_fresh && second_fresh,
    }
}

impl PartialEq for Auth {
    fn eq(&self, other: &Self) -> bool {
        self.user_id == other.user_id
            && self.session_id == other.session_id
            && self.session_status == other.session_status
            && self.org == other.org
            && self.user_features == other.user_features
            && self.org_features == other.org_features
            && self.plan == other.plan
            && self.actor == other.actor
            && self.factor_verification_age == other.factor_verification_age
            && self.issuer == other.issuer
            && self.authorized_party == other.authorized_party
            && self.issued_at == other.issued_at
            && self.not_before == other.not_before
            && self.audience == other.audience
            && self.expires_at == other.expires_at
    }
}
impl Eq for Auth {}

impl Auth {
    /// All claims of the token, for custom claims from session-token templates.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.map()
    }

    /// The verified payload as JSON text (what session mode snapshots).
    #[must_use]
    pub(crate) fn raw_claims_json(&self) -> &[u8] {
        self.claims.json()
    }

    /// One claim by name.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.map().get(name)
    }

    /// The active organization's id.
    #[must_use]
    pub fn org_id(&self) -> Option<&str> {
        self.org.as_ref().map(|o| o.id.as_str())
    }

    /// Whether the active organization role is `role` (`admin` and `org:admin` are the same):
    /// [`Auth::has`] with [`Check::Role`].
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.check(&Check::Role(role.to_owned()))
    }

    /// Whether the active organization grants `permission` (`org:<feature>:<permission>`; the
    /// `org:` prefix may be left out): [`Auth::has`] with [`Check::Permission`].
    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.check(&Check::Permission(permission.to_owned()))
    }

    /// Clerk's `has()` for one check ([`Auth::has_all`] for several, which must all pass).
    ///
    /// ```
    /// use clerk_core::auth::{Check, Reverification};
    /// # fn example(auth: &clerk_core::Auth) {
    /// let admin = auth.has(&Check::role("admin"));
    /// let fresh = auth.has(&Check::reverification(Reverification::Strict));
    /// # }
    /// ```
    #[must_use]
    pub fn has(&self, check: &Check) -> bool {
        self.check(check)
    }

    /// Clerk's `has()` with several dimensions at once: every one must pass, and an empty list
    /// passes nothing (as Clerk answers `has({})` with `false`).
    #[must_use]
    pub fn has_all(&self, checks: &[Check]) -> bool {
        !checks.is_empty() && checks.iter().all(|c| self.check(c))
    }

    fn check(&self, check: &Check) -> bool {
        if self.user_id.is_empty() {
            return false;
        }
        match check {
            Check::Role(role) => self
                .org
                .as_ref()
                .and_then(|o| o.role.as_deref())
                .is_some_and(|have| prefix_with_org(have) == prefix_with_org(role)),
            Check::Permission(permission) => self.org.as_ref().is_some_and(|o| {
                let wanted = prefix_with_org(permission);
                o.permissions.contains(&wanted)
            }),
            Check::Feature(feature) => has_feature_or_plan(self.claim("fea"), feature),
            Check::Plan(plan) => has_feature_or_plan(self.claim("pla"), plan),
            Check::Reverification(wanted) => reverified(self.claim("fva"), *wanted),
        }
    }

    /// The impersonator (`act`), typed; `None` when `act` is absent or not an object with a
    /// string `sub`. The raw claim stays in [`Auth::actor`].
    #[must_use]
    pub fn impersonator(&self) -> Option<Actor> {
        self.actor.as_ref().and_then(Actor::from_claim)
    }

    /// Whether someone is acting as this user: `act` is present and truthy, as Clerk's SDKs
    /// test it (`null`, `false`, `0` and `""` are not an actor).
    #[must_use]
    pub fn is_impersonated(&self) -> bool {
        match &self.actor {
            None | Some(Value::Null | Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
            Some(_) => true,
        }
    }

    /// Whether the session is `pending` (signed in, with tasks left such as choosing an organization).
    #[must_use]
    pub fn is_pending(&self) -> bool {
        self.session_status.as_deref() == Some("pending")
    }
}

/// A `clerk` span for one request, with empty `user_id`, `session_id`, `org_id` and `actor`
/// fields that [`record_in`](Auth::record_in) fills once the request is authenticated. The
/// adapters run each request inside one, so every log line of a handler names who asked (ids
/// only: never a token, a secret or an email).
///
/// A disabled span, made without any work, while no `tracing` subscriber has been set: with
/// `tracing`'s `log` feature on (axum's default features turn it on) even a span no subscriber
/// wants costs ~300 instructions per request (BENCHMARKS.md).
#[must_use]
pub fn request_span() -> tracing::Span {
    if !tracing::dispatcher::has_been_set() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "clerk",
        user_id = tracing::field::Empty,
        session_id = tracing::field::Empty,
        org_id = tracing::field::Empty,
        actor = tracing::field::Empty,
    )
}

impl Auth {
    /// Records the session's ids in a span made by [`request_span`]: the user, the session,
    /// the active organization and, for an impersonation, the actor's user id.
    pub fn record_in(&self, span: &tracing::Span) {
        if span.is_disabled() {
            return;
        }
        span.record("user_id", self.user_id.as_str());
        if let Some(session_id) = self.session_id.as_deref() {
            span.record("session_id", session_id);
        }
        if let Some(org_id) = self.org_id() {
            span.record("org_id", org_id);
        }
        if let Some(actor) = self.impersonator() {
            span.record("actor", actor.sub.as_str());
        }
    }
}
