//! Session mode: "validate once, cache in session" ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)), as a pure policy.
//!
//! Stateless bearer verification is the default. In session mode an adapter, after a token
//! verifies, stores a [`SessionRecord`] in the framework's session mechanism (tower-sessions,
//! Rocket's private cookies, …) under [`SESSION_KEY`] and serves later requests from it. What
//! happens on each request is decided here, by [`RevalidationPolicy::evaluate`], from values
//! only: the record, the identity a presented token *claims* ([`TokenIdentity::peek`], not
//! verified), what the store says about the session and user ([`Standing`]) and `now`. The
//! adapter carries out the [`SessionDecision`]:
//!
//! | decision | the adapter |
//! |---|---|
//! | [`SessionDecision::Serve`] | answers from [`SessionRecord::auth`]; no signature check |
//! | [`SessionDecision::Revalidate`] | verifies the presented token; [`RevalidationPolicy::after_revalidation`] says whether it refreshes this session or ends it; without a token the request is signed out (reason [`REVALIDATION_REQUIRED`]) and the record is kept |
//! | [`SessionDecision::End`] | deletes the record and rotates the session id, then handles the request as if no session existed (a presented token may establish a new one) |
//!
//! Rules ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)):
//! - After the revalidation interval (`CLERK_SESSION_REVALIDATION_SECONDS`) a valid token must
//!   be presented again.
//! - A presented token whose `sub` or `sid` differs from the record's ends the session: two
//!   identities never mix. One of the same session whose organization context differs
//!   ([`session_context`]: organization, role, permissions, features, plan, status) is
//!   verified and refreshes the record, so served claims never disagree with the request's
//!   own token. Peeking at an unverified token is safe here because the only thing
//!   it can cause is the *end* of a session; a new one needs the token to verify.
//! - A session whose `sid` Clerk reported ended/revoked/removed, or whose user was deleted,
//!   banned or deactivated, ends at its next request — not at the next revalidation. The
//!   adapter looks these up in the store (through a cache) on every request served from a
//!   session: that is what makes a `session.revoked` webhook take effect immediately.
//! - **Revocation is final**: a token whose identity is in such a standing never
//!   *establishes* a session either ([`Standing::of_identity`]), so the `__session` cookie a
//!   browser sends with every request (the very request that ended the session, and every
//!   later one with that `sid`) is answered 401 with the [`EndReason`], not signed in again.
//! - Sessions without a record under [`SESSION_KEY`] (local password logins in hybrid mode)
//!   are not Clerk sessions; this policy never touches them.
//! - Establishing an identity rotates the session id (no fixation); cookies are HttpOnly,
//!   SameSite=Lax, `Path=/`, and `Secure` with the `__Host-` prefix by default
//!   ([`session_cookie_name`]), never decided from the `Host` header.
//!
//! ```
//! use std::time::Duration;
//! use clerk_core::session::{RevalidationPolicy, SessionDecision, Standing, TokenIdentity};
//! # use clerk_core::session::SessionRecord;
//! # fn demo(record: &SessionRecord, token: Option<&str>, now: clerk_core::time::UnixTime) {
//! let policy = RevalidationPolicy::new(Duration::from_secs(300));
//! let presented = token.and_then(TokenIdentity::peek);
//! match policy.evaluate(record, presented.as_ref(), Standing::Good, now) {
//!     SessionDecision::Serve => { /* record.auth() */ }
//!     SessionDecision::Revalidate => { /* verify the token, then policy.after_revalidation(..) */ }
//!     SessionDecision::End(why) => { /* forget the record, rotate the id: {why} */ }
//!     _ => { /* non-exhaustive: treat an unknown decision as "end" */ }
//! }
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::auth::Auth;
use crate::config::ClerkConfig;
use crate::model::User;
use crate::store::{Store, StoreError};
use crate::time::UnixTime;
use crate::verify::TokenError;

/// The key under which adapters store the [`SessionRecord`]; its presence is the "Clerk
/// marker" of [design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation).
pub const SESSION_KEY: &str = "clerk.session";

/// The reason a request is signed out when its session needs revalidation and no token came
/// with it.
pub const REVALIDATION_REQUIRED: &str = "session-revalidation-required";

/// What session mode keeps between requests: the identity a verified token established and
/// when Clerk (a verified token) last vouched for it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Clerk user id (`sub`).
    pub user_id: String,
    /// Clerk session id (`sid`), when the token carried one.
    pub session_id: Option<String>,
    /// The active organization's id when the record was written (for logs and lookups).
    pub org_id: Option<String>,
    /// The verified token's claims (JSON), re-normalized by [`SessionRecord::auth`].
    pub claims: String,
    /// When a verified token last confirmed this session.
    pub last_clerk_check: UnixTime,
    /// When the session last served a request (rewritten at most every
    /// [`SessionRecord::TOUCH_EVERY`]); the idle lifetime counts from the later of this and
    /// `last_clerk_check`.
    #[serde(default)]
    pub last_seen: Option<UnixTime>,
}

/// `CLERK_SESSION_IDLE_SECONDS` when unset: a Clerk-mode session record lives a day without a
/// request.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(86_400);

impl fmt::Debug for SessionRecord {
    // The claims snapshot may hold custom claims (emails, metadata): keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("org_id", &self.org_id)
            .field("claims", &"<redacted>")
            .field("last_clerk_check", &self.last_clerk_check)
            .field("last_seen", &self.last_seen)
            .finish()
    }
}

impl SessionRecord {
    /// The record a verified token establishes at `now`.
    #[must_use]
    pub fn establish(auth: &Auth, now: UnixTime) -> SessionRecord {
        SessionRecord {
            user_id: auth.user_id.clone(),
            session_id: auth.session_id.clone(),
            org_id: auth.org_id().map(str::to_owned),
            claims: String::from_utf8_lossy(auth.raw_claims_json()).into_owned(),
            last_clerk_check: now,
            last_seen: None,
        }
    }

    /// How often a served record's `last_seen` is rewritten: often enough for the idle
    /// lifetime, rarely enough that serving stays a read.
    pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

    /// When the session was last active: the later of `last_seen` and `last_clerk_check`.
    #[must_use]
    pub fn last_active(&self) -> UnixTime {
        self.last_seen.map_or(self.last_clerk_check, |seen| {
            seen.max(self.last_clerk_check)
        })
    }

    /// The record with `last_seen = now` when the last touch is [`Self::TOUCH_EVERY`] old,
    /// `None` while it is fresher (nothing to write).
    #[must_use]
    pub fn touched(&self, now: UnixTime) -> Option<SessionRecord> {
        let since = now
            .as_millis()
            .saturating_sub(self.last_active().as_millis());
        (since >= millis(Self::TOUCH_EVERY)).then(|| SessionRecord {
            last_seen: Some(now),
            ..self.clone()
        })
    }

    /// The session's [`Auth`], rebuilt from the claims snapshot by the verifier's own
    /// normalization (no signature or expiry check: the token verified when it was stored,
    /// and the policy bounds how long that counts).
    ///
    /// # Errors
    /// The snapshot does not normalize (a tampered or foreign record): end the session.
    pub fn auth(&self) -> Result<Auth, TokenError> {
        let auth = crate::claims::normalize(self.claims.as_bytes().to_vec())?;
        if auth.user_id != self.user_id || auth.session_id != self.session_id {
            return Err(TokenError::InvalidClaim("sub"));
        }
        Ok(auth)
    }

    /// Whether `identity` is this record's identity (same `sub`, same `sid`).
    #[must_use]
    pub fn is_identity(&self, identity: &TokenIdentity) -> bool {
        self.user_id == identity.user_id && self.session_id == identity.session_id
    }
}

/// The identity a token *claims*: `sub` and `sid` read without verifying anything, and the
/// organization context it carries.
///
/// Only for comparing with a [`SessionRecord`] (where a mismatch can only end a session, or
/// make the adapter verify the token); never for granting access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    /// `sub`.
    pub user_id: String,
    /// `sid`.
    pub session_id: Option<String>,
    /// The claims that change within one Clerk session (organization, role, permissions,
    /// features, plan, status), canonically serialized: see [`session_context`].
    pub context: String,
}

/// The claims a Clerk session's tokens may change without changing `sub` or `sid` — the
/// active organization (`o`, or v1's `org_id`, `org_slug`, `org_role`, `org_permissions`),
/// features (`fea`), plan (`pla`) and status (`sts`) — as one canonical JSON string, for
/// comparing a stored record with the request's token. `None` when `claims_json` is not a
/// JSON object.
#[must_use]
pub fn session_context(claims_json: &[u8]) -> Option<String> {
    const CONTEXT_CLAIMS: [&str; 8] = [
        "o",
        "org_id",
        "org_slug",
        "org_role",
        "org_permissions",
        "fea",
        "pla",
        "sts",
    ];
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(claims_json).ok()?;
    let picked: Vec<&serde_json::Value> = CONTEXT_CLAIMS
        .iter()
        .map(|name| claims.get(*name).unwrap_or(&serde_json::Value::Null))
        .collect();
    serde_json::to_string(&picked).ok()
}

impl TokenIdentity {
    /// Reads `sub`, `sid` and the [`session_context`] from a compact JWS's payload; `None`
    /// when it is not one or has no `sub`.
    #[must_use]
    pub fn peek(token: &str) -> Option<TokenIdentity> {
        #[derive(Deserialize)]
        struct Ids {
            sub: Option<String>,
            sid: Option<String>,
        }
        let mut parts = token.split('.');
        let (_header, payload) = (parts.next()?, parts.next()?);
        parts.next()?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()?;
        let ids: Ids = serde_json::from_slice(&json).ok()?;
        Some(TokenIdentity {
            user_id: ids.sub.filter(|s| !s.is_empty())?,
            session_id: ids.sid,
            context: session_context(&json)?,
        })
    }

    /// The identity of a verified session.
    #[must_use]
    pub fn of(auth: &Auth) -> TokenIdentity {
        TokenIdentity {
            user_id: auth.user_id.clone(),
            session_id: auth.session_id.clone(),
            context: session_context(auth.raw_claims_json()).unwrap_or_default(),
        }
    }
}

/// What the store says about a session's `sid` and user, looked up by the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Standing {
    /// Nothing against it (includes a user not mirrored locally).
    Good,
    /// Clerk reported the session ended, removed or revoked.
    SessionRevoked,
    /// The user was deleted in Clerk.
    UserDeleted,
    /// The user is banned.
    UserBanned,
    /// The user is deactivated locally (`is_active = false`) or locked.
    UserInactive,
}

impl Standing {
    /// The standing of a session from the store's answers: whether its `sid` is in the
    /// revoked set and its user's row, if any.
    #[must_use]
    pub fn from_store(session_revoked: bool, user: Option<&User>) -> Standing {
        if session_revoked {
            return Standing::SessionRevoked;
        }
        match user {
            Some(user) if user.deleted_at.is_some() => Standing::UserDeleted,
            Some(user) if user.banned => Standing::UserBanned,
            Some(user) if !user.is_active || user.locked => Standing::UserInactive,
            _ => Standing::Good,
        }
    }

    /// The standing of a stored session, read from `store`: its `sid` against the revoked
    /// set (the user is not read when it is revoked), then its user's row. The one store
    /// lookup both adapters' session mode make on each request.
    ///
    /// # Errors
    ///
    /// The store's error; the adapters answer it with 503, never "signed in" or "signed out".
    pub async fn of_record(
        store: &dyn Store,
        record: &SessionRecord,
    ) -> Result<Standing, StoreError> {
        Standing::of_identity(store, &record.user_id, record.session_id.as_deref()).await
    }

    /// The standing of a verified token's identity, read from `store` as
    /// [`Standing::of_record`] does: what session mode checks before it **establishes** a
    /// session, so a revoked `sid` or a banned user is not signed in again by the `__session`
    /// cookie every browser request carries.
    ///
    /// # Errors
    ///
    /// The store's error (503).
    pub async fn of_identity(
        store: &dyn Store,
        user_id: &str,
        session_id: Option<&str>,
    ) -> Result<Standing, StoreError> {
        if let Some(sid) = session_id {
            if store.revoked_session(sid).await?.is_some() {
                return Ok(Standing::SessionRevoked);
            }
        }
        let user = store.user_by_clerk_id(user_id).await?;
        Ok(Standing::from_store(false, user.as_ref()))
    }

    /// Why the verified `auth` may not be served or establish a session: the
    /// [`EndReason`] of [`Standing::of_identity`], `None` when it is in good standing. The
    /// check session mode makes on every token it verifies.
    ///
    /// # Errors
    ///
    /// The store's error (503).
    pub async fn refusal(store: &dyn Store, auth: &Auth) -> Result<Option<EndReason>, StoreError> {
        Ok(
            Standing::of_identity(store, &auth.user_id, auth.session_id.as_deref())
                .await?
                .end_reason(),
        )
    }

    /// Why a session in this standing may not be served or established; `None` when
    /// [`Standing::Good`].
    #[must_use]
    pub fn end_reason(self) -> Option<EndReason> {
        match self {
            Standing::Good => None,
            Standing::SessionRevoked => Some(EndReason::SessionRevoked),
            Standing::UserDeleted => Some(EndReason::UserDeleted),
            Standing::UserBanned => Some(EndReason::UserBanned),
            Standing::UserInactive => Some(EndReason::UserInactive),
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// A token for another user or session was presented.
    IdentityChanged,
    /// Clerk reported the session ended, removed or revoked.
    SessionRevoked,
    /// The user was deleted.
    UserDeleted,
    /// The user is banned.
    UserBanned,
    /// The user is deactivated or locked.
    UserInactive,
    /// The stored record could not be read back.
    Corrupt,
    /// The session went unused for longer than its idle lifetime.
    Expired,
}

impl EndReason {
    /// A stable kebab-case name, for logs and rejection bodies.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::IdentityChanged => "session-identity-changed",
            EndReason::SessionRevoked => "session-revoked",
            EndReason::UserDeleted => "user-deleted",
            EndReason::UserBanned => "user-banned",
            EndReason::UserInactive => "user-inactive",
            EndReason::Corrupt => "session-corrupt",
            EndReason::Expired => "session-expired",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a request that arrived with a Clerk session record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionDecision {
    /// Serve from the record.
    Serve,
    /// The interval elapsed: a valid token must be presented again.
    Revalidate,
    /// End the session now.
    End(EndReason),
}

/// What a successful revalidation does to the session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AfterRevalidation {
    /// Same identity: store this refreshed record.
    Refresh(SessionRecord),
    /// Another identity verified: end the old session, establish this record under a new id.
    Replace(SessionRecord),
}

/// The pure rules of [design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevalidationPolicy {
    interval: Duration,
    idle: Duration,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl RevalidationPolicy {
    /// Revalidate after `interval`; records end after [`DEFAULT_SESSION_IDLE`] unused.
    #[must_use]
    pub fn new(interval: Duration) -> RevalidationPolicy {
        RevalidationPolicy {
            interval,
            idle: DEFAULT_SESSION_IDLE,
        }
    }

    /// The idle lifetime of a record (`CLERK_SESSION_IDLE_SECONDS`).
    #[must_use]
    pub fn with_idle(mut self, idle: Duration) -> RevalidationPolicy {
        self.idle = idle;
        self
    }

    /// The policy of `CLERK_SESSION_REVALIDATION_SECONDS` and `CLERK_SESSION_IDLE_SECONDS`.
    #[must_use]
    pub fn from_config(config: &ClerkConfig) -> RevalidationPolicy {
        RevalidationPolicy::new(config.session_revalidation).with_idle(config.session_idle)
    }

    /// The idle lifetime.
    #[must_use]
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// When `record` expires unless a request comes first: its last activity plus the idle
    /// lifetime (what a session store evicts by).
    #[must_use]
    pub fn expires_at(&self, record: &SessionRecord) -> UnixTime {
        record.last_active().saturating_add(self.idle)
    }

    /// The revalidation interval.
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Decides a request carrying `record`. `presented` is [`TokenIdentity::peek`] of the
    /// request's token, if any; `standing` the store's view of the session and user.
    ///
    /// Order: standing (revocation and deactivation end the session whatever else holds), then
    /// identity (a different token ends it), then the context (a token of the same session
    /// with another organization context is verified and refreshes the record), then the
    /// interval. A clock that went backwards
    /// (`now` before the last check) counts as inside the window.
    #[must_use]
    pub fn evaluate(
        &self,
        record: &SessionRecord,
        presented: Option<&TokenIdentity>,
        standing: Standing,
        now: UnixTime,
    ) -> SessionDecision {
        if let Some(reason) = standing.end_reason() {
            return SessionDecision::End(reason);
        }
        if now >= self.expires_at(record) {
            return SessionDecision::End(EndReason::Expired);
        }
        if let Some(identity) = presented {
            if !record.is_identity(identity) {
                return SessionDecision::End(EndReason::IdentityChanged);
            }
            // Same session, another organization, role, permission set, feature, plan or
            // status (an org switch keeps the sid): never serve the stale snapshot; verify the
            // request's token and refresh the record from it.
            if session_context(record.claims.as_bytes()).as_deref() != Some(&identity.context) {
                return SessionDecision::Revalidate;
            }
        }
        let elapsed_ms = now
            .as_millis()
            .saturating_sub(record.last_clerk_check.as_millis());
        let interval_ms = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
        if elapsed_ms >= interval_ms {
            SessionDecision::Revalidate
        } else {
            SessionDecision::Serve
        }
    }

    /// After [`SessionDecision::Revalidate`], a token verified as `auth`: the record to store.
    #[must_use]
    pub fn after_revalidation(
        &self,
        record: &SessionRecord,
        auth: &Auth,
        now: UnixTime,
    ) -> AfterRevalidation {
        let fresh = SessionRecord::establish(auth, now);
        if record.is_identity(&TokenIdentity::of(auth)) {
            AfterRevalidation::Refresh(fresh)
        } else {
            AfterRevalidation::Replace(fresh)
        }
    }
}

/// How long a local staff session (hybrid mode) lasts ([design §4](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#4-sessions-and-revalidation)):
/// `idle` without a request (`CLERK_STAFF_SESSION_IDLE_SECONDS`, 3600) and `max` since the
/// login whatever happens (`CLERK_STAFF_SESSION_MAX_SECONDS`, 43200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffLifetime {
    /// The longest time between two requests of the session.
    pub idle: Duration,
    /// The longest time since the login.
    pub max: Duration,
}

/// What [`StaffLifetime::decide`] says about a staff session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StaffDecision {
    /// Serve it; the stored last-seen time is recent enough.
    Serve,
    /// Serve it and store `now` as its last-seen time (done at most every
    /// [`StaffLifetime::TOUCH_EVERY`], so a busy session is not rewritten on every request).
    ServeAndTouch,
    /// It is over: end it (the staff member logs in again).
    Expired,
}

impl StaffLifetime {
    /// The design's defaults: an hour idle, twelve hours in all.
    pub const DEFAULT: StaffLifetime = StaffLifetime {
        idle: Duration::from_secs(3600),
        max: Duration::from_secs(43_200),
    };

    /// How stale the stored last-seen time may get before a request rewrites it: the idle
    /// limit is kept to within this.
    pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

    /// The lifetimes of `config`.
    #[must_use]
    pub fn from_config(config: &ClerkConfig) -> StaffLifetime {
        config.staff_session
    }

    /// Decides a staff session logged in at `logged_in_at` and last seen at `last_seen`
    /// (`None`: a session stored before lifetimes were recorded, which is ended). A clock
    /// that went backwards counts as no time passed.
    #[must_use]
    pub fn decide(
        &self,
        logged_in_at: Option<UnixTime>,
        last_seen: Option<UnixTime>,
        now: UnixTime,
    ) -> StaffDecision {
        let Some(logged_in_at) = logged_in_at else {
            return StaffDecision::Expired;
        };
        let last_seen = last_seen.unwrap_or(logged_in_at);
        let since = |at: UnixTime| now.duration_since(at);
        if since(logged_in_at) >= self.max || since(last_seen) >= self.idle {
            StaffDecision::Expired
        } else if since(last_seen) >= Self::TOUCH_EVERY {
            StaffDecision::ServeAndTouch
        } else {
            StaffDecision::Serve
        }
    }
}

impl Default for StaffLifetime {
    fn default() -> Self {
        StaffLifetime::DEFAULT
    }
}

/// Whether `user` may hold a staff session now: staff, active, not locked, banned or
/// deleted. Both adapters read the user again on every request of a staff session and end
/// it when this turns false.
#[must_use]
pub fn may_hold_staff_session(user: &User) -> bool {
    user.is_staff && user.is_active && !user.locked && !user.banned && user.deleted_at.is_none()
}

/// The session cookie's name with `Secure` on (`CLERK_COOKIE_SECURE`, the default): the
/// `__Host-` prefix makes browsers refuse it unless it is `Secure`, has `Path=/` and no
/// `Domain`, so a sibling subdomain cannot plant or shadow it.
pub const SESSION_COOKIE_SECURE: &str = "__Host-clerk_session";

/// The session cookie's name with `Secure` off (a plain-HTTP deployment).
pub const SESSION_COOKIE_PLAIN: &str = "clerk_session";

/// The session cookie's name for `secure` ([`ClerkConfig::cookie_secure`]): both adapters
/// use it, with `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`, and `Secure` when `secure`.
#[must_use]
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE_PLAIN
    }
}
