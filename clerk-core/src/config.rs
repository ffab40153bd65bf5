//! [`ClerkConfig`]: settings with the Django package's names, validated once at start-up.
//!
//! Build one in code with [`ClerkConfig::builder`], or load the `CLERK_*` settings through any
//! lookup function with [`ClerkConfigBuilder::from_lookup`] (the environment, a figment
//! section, a test map). Every invalid value fails [`ClerkConfigBuilder::build`] with a
//! [`ConfigError`] that names the setting and says what was expected; secret values are
//! never echoed.
//!
//! ```
//! use clerk_core::ClerkConfig;
//! use std::collections::HashMap;
//!
//! let settings = HashMap::from([
//!     ("CLERK_SECRET_KEY", "sk_test_abc123"),
//!     ("CLERK_PUBLISHABLE_KEY", "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"),
//!     ("CLERK_FRONTEND_HOSTS", "https://app.example.com, http://localhost:3000"),
//!     ("CLERK_CACHE_TIMEOUT", "soon"),
//! ]);
//! let err = ClerkConfig::from_lookup(|name| settings.get(name).map(|v| v.to_string())).unwrap_err();
//! assert_eq!(err.setting(), "CLERK_CACHE_TIMEOUT");
//! ```

use crate::keys::VerifyingKey;
use crate::publishable_key::PublishableKey;
use crate::secret::{SecretKey, WebhookSigningKey};
use crate::verify::{normalize_origin, IssuerCheck, PartyCheck, VerifyOptions, DEFAULT_CLOCK_SKEW};
use std::sync::Arc;
use std::time::Duration;

/// Default Backend API base URL.
pub const DEFAULT_API_URL: &str = "https://api.clerk.com";

/// A setting is missing or invalid. `Display` reads `CLERK_X: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is not set (placeholders such as `sk_live_...` count as unset).
    #[error("{setting}: required but not set; {hint}")]
    Missing {
        /// The setting's name.
        setting: &'static str,
        /// How to fix it.
        hint: &'static str,
    },
    /// A setting has a value that is not acceptable.
    #[error("{setting}: {expected}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What was expected (and, for non-secret settings, what was found).
        expected: String,
    },
}

impl ConfigError {
    /// The name of the setting at fault.
    #[must_use]
    pub fn setting(&self) -> &'static str {
        match self {
            ConfigError::Missing { setting, .. } | ConfigError::Invalid { setting, .. } => setting,
        }
    }
}

/// Validated configuration shared by the authenticator, the adapters and the CLI.
#[derive(Debug, Clone)]
pub struct ClerkConfig {
    secret_key: Option<SecretKey>,
    publishable_key: Option<PublishableKey>,
    jwt_key: Option<Arc<VerifyingKey>>,
    api_url: String,
    api_version: String,
    webhook_signing_key: Option<WebhookSigningKey>,
    verify: VerifyOptions,
    /// `CLERK_SESSION_REVALIDATION_SECONDS`.
    pub session_revalidation: Duration,
    /// `CLERK_SESSION_IDLE_SECONDS` (86400): how long a Clerk-mode session record lives
    /// without a request before it is ended and evicted.
    pub session_idle: Duration,
    /// `CLERK_STAFF_SESSION_IDLE_SECONDS` (3600) and `CLERK_STAFF_SESSION_MAX_SECONDS`
    /// (43200): how long a local staff session lasts without a request, and in all.
    pub staff_session: crate::session::StaffLifetime,
    /// `CLERK_CACHE_TIMEOUT`: user lookups.
    pub cache_timeout: Duration,
    /// `CLERK_ORG_CACHE_TIMEOUT`: organization lookups.
    pub org_cache_timeout: Duration,
    /// `CLERK_WEBHOOK_DEDUP_TIMEOUT`.
    pub webhook_dedup_timeout: Duration,
    /// `CLERK_MACHINE_CACHE_SECONDS` (60): the longest a verified machine credential (API key,
    /// M2M or OAuth token) is served from the cache; never past the credential's own expiry
    /// ([`machine::MachineCachePolicy`](crate::machine::MachineCachePolicy)).
    pub machine_cache_timeout: Duration,
    /// `CLERK_API_TIMEOUT_MS`: every Backend API request.
    pub api_timeout: Duration,
    /// `CLERK_PROVISION_BUDGET_MS` (default 2000) and `CLERK_PROVISION_TRIES` (default 2):
    /// how long, and in how many attempts, just-in-time provisioning may call the Backend API
    /// while the request waits (see [`UserProvisioning::with_budget`](crate::provision::UserProvisioning::with_budget)).
    pub provision_budget: crate::backend_api::CallBudget,
    /// Read the `__session` cookie when no `Authorization` header is present.
    pub cookie_auth: bool,
    /// `CLERK_COOKIE_SECURE` (default on): session cookies are `Secure` and named with the
    /// `__Host-` prefix ([`session_cookie_name`](crate::session::session_cookie_name)). Never
    /// decided from the `Host` header: behind a proxy it says nothing about the browser's
    /// scheme. Browsers accept Secure cookies on `http://localhost`; only a plain-HTTP
    /// deployment on another host turns it off (the apps log that at start).
    pub cookie_secure: bool,
    /// `CLERK_STAFF_LOGIN_CONCURRENCY`: how many staff password checks may run at once
    /// (hybrid mode's [`LoginGate`](crate::login_gate)); `None`: the number of CPUs.
    pub staff_login_concurrency: Option<std::num::NonZeroUsize>,
}

impl ClerkConfig {
    /// A builder with every default.
    #[must_use]
    pub fn builder() -> ClerkConfigBuilder {
        ClerkConfigBuilder::default()
    }

    /// Loads and validates the `CLERK_*` settings through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        ClerkConfigBuilder::from_lookup(lookup)?.build()
    }

    /// Loads and validates the `CLERK_*` settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        #[allow(clippy::disallowed_methods)] // The edge where the environment is read.
        let lookup = |name: &str| std::env::var(name).ok();
        Self::from_lookup(lookup)
    }

    /// The Backend API secret key, when configured.
    #[must_use]
    pub fn secret_key(&self) -> Option<&SecretKey> {
        self.secret_key.as_ref()
    }

    /// The decoded publishable key, when configured.
    #[must_use]
    pub fn publishable_key(&self) -> Option<&PublishableKey> {
        self.publishable_key.as_ref()
    }

    /// The networkless verification key (`CLERK_JWT_KEY`), when configured.
    #[must_use]
    pub fn jwt_key(&self) -> Option<&Arc<VerifyingKey>> {
        self.jwt_key.as_ref()
    }

    /// Backend API base URL without a trailing slash.
    #[must_use]
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// `CLERK_API_VERSION`: the Backend API version every request pins with
    /// `Clerk-API-Version` (default
    /// [`DEFAULT_API_VERSION`](crate::backend_api::DEFAULT_API_VERSION)).
    #[must_use]
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The webhook signing secret, when configured.
    #[must_use]
    pub fn webhook_signing_key(&self) -> Option<&WebhookSigningKey> {
        self.webhook_signing_key.as_ref()
    }

    /// What the verifier checks.
    #[must_use]
    pub fn verify_options(&self) -> &VerifyOptions {
        &self.verify
    }
}

/// Builder for [`ClerkConfig`]. Setters take raw values; [`build`](Self::build) validates them.
///
/// Its `Debug` shows which secrets are set, never their values.
#[derive(Clone, Default)]
pub struct ClerkConfigBuilder {
    secret_key: Option<String>,
    publishable_key: Option<String>,
    jwt_key: Option<String>,
    api_url: Option<String>,
    api_version: Option<String>,
    webhook_signing_key: Option<String>,
    frontend_hosts: Vec<String>,
    issuer: Option<String>,
    audience: Option<Vec<String>>,
    skip_issuer_check: bool,
    allow_any_party: bool,
    allow_missing_azp: bool,
    accept_pending: bool,
    clock_skew: Option<Duration>,
    session_revalidation: Option<Duration>,
    session_idle: Option<Duration>,
    staff_session_idle: Option<Duration>,
    staff_session_max: Option<Duration>,
    cache_timeout: Option<Duration>,
    org_cache_timeout: Option<Duration>,
    webhook_dedup_timeout: Option<Duration>,
    machine_cache_timeout: Option<Duration>,
    api_timeout: Option<Duration>,
    provision_budget: Option<Duration>,
    provision_tries: Option<u64>,
    cookie_auth: Option<bool>,
    cookie_secure: Option<bool>,
    staff_login_concurrency: Option<u64>,
}

impl std::fmt::Debug for ClerkConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |value: &Option<String>| value.as_ref().map(|_| "[redacted]");
        f.debug_struct("ClerkConfigBuilder")
            .field("secret_key", &set(&self.secret_key))
            .field("publishable_key", &self.publishable_key)
            .field("jwt_key", &self.jwt_key.as_ref().map(|_| "[set]"))
            .field(
                "api_url",
                &self.api_url.as_deref().map(crate::secret::redact_url),
            )
            .field("webhook_signing_key", &set(&self.webhook_signing_key))
            .field("frontend_hosts", &self.frontend_hosts)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("skip_issuer_check", &self.skip_issuer_check)
            .field("allow_any_party", &self.allow_any_party)
            .field("allow_missing_azp", &self.allow_missing_azp)
            .field("accept_pending", &self.accept_pending)
            .field("clock_skew", &self.clock_skew)
            .field("session_revalidation", &self.session_revalidation)
            .field("session_idle", &self.session_idle)
            .field("staff_session_idle", &self.staff_session_idle)
            .field("staff_session_max", &self.staff_session_max)
            .field("cache_timeout", &self.cache_timeout)
            .field("org_cache_timeout", &self.org_cache_timeout)
            .field("webhook_dedup_timeout", &self.webhook_dedup_timeout)
            .field("machine_cache_timeout", &self.machine_cache_timeout)
            .field("api_timeout", &self.api_timeout)
            .field("cookie_auth", &self.cookie_auth)
            .field("cookie_secure", &self.cookie_secure)
            .field("staff_login_concurrency", &self.staff_login_concurrency)
            .finish()
    }
}

/// A lookup value, with blanks and dashboard placeholders (`sk_live_...`) treated as unset.
fn present(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && !v.ends_with("..."))
}

fn seconds(setting: &'static str, value: Option<String>) -> Result<Option<Duration>, ConfigError> {
    whole_number(setting, value, "seconds").map(|n| n.map(Duration::from_secs))
}

fn whole_number(
    setting: &'static str,
    value: Option<String>,
    unit: &str,
) -> Result<Option<u64>, ConfigError> {
    match present(value) {
        None => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ConfigError::Invalid {
                setting,
                expected: format!("expected a whole number of {unit}, got {text:?}"),
            }),
    }
}

fn boolean(setting: &'static str, value: Option<String>) -> Result<Option<bool>, ConfigError> {
    match present(value).map(|v| v.to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(Some(true)),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(Some(false)),
        Some(v) => Err(ConfigError::Invalid {
            setting,
            expected: format!("expected true or false, got {v:?}"),
        }),
    }
}

/// Comma-separated list (the environment form); JSON-ish brackets and quotes are tolerated.
fn list(value: Option<String>) -> Vec<String> {
    present(value)
        .map(|v| {
            v.trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl ClerkConfigBuilder {
    /// Reads every `CLERK_*` setting through `lookup`. Type errors (a number that is not a
    /// number) are reported here; cross-setting rules are checked by [`build`](Self::build).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name);
        let mut hosts = list(get("CLERK_FRONTEND_HOSTS"));
        for party in list(get("CLERK_AUTH_PARTIES")) {
            if !hosts.contains(&party) {
                hosts.push(party);
            }
        }
        Ok(ClerkConfigBuilder {
            secret_key: present(get("CLERK_SECRET_KEY")),
            publishable_key: present(get("CLERK_PUBLISHABLE_KEY")),
            jwt_key: present(get("CLERK_JWT_KEY")),
            api_url: present(get("CLERK_API_URL")),
            api_version: present(get("CLERK_API_VERSION")),
            webhook_signing_key: present(get("CLERK_WEBHOOK_SIGNING_KEY")),
            frontend_hosts: hosts,
            session_revalidation: seconds(
                "CLERK_SESSION_REVALIDATION_SECONDS",
                get("CLERK_SESSION_REVALIDATION_SECONDS"),
            )?,
            session_idle: seconds(
                "CLERK_SESSION_IDLE_SECONDS",
                get("CLERK_SESSION_IDLE_SECONDS"),
            )?,
            staff_session_idle: seconds(
                "CLERK_STAFF_SESSION_IDLE_SECONDS",
                get("CLERK_STAFF_SESSION_IDLE_SECONDS"),
            )?,
            staff_session_max: seconds(
                "CLERK_STAFF_SESSION_MAX_SECONDS",
                get("CLERK_STAFF_SESSION_MAX_SECONDS"),
            )?,
            cache_timeout: seconds("CLERK_CACHE_TIMEOUT", get("CLERK_CACHE_TIMEOUT"))?,
            org_cache_timeout: seconds("CLERK_ORG_CACHE_TIMEOUT", get("CLERK_ORG_CACHE_TIMEOUT"))?,
            webhook_dedup_timeout: seconds(
                "CLERK_WEBHOOK_DEDUP_TIMEOUT",
                get("CLERK_WEBHOOK_DEDUP_TIMEOUT"),
            )?,
            machine_cache_timeout: seconds(
                "CLERK_MACHINE_CACHE_SECONDS",
                get("CLERK_MACHINE_CACHE_SECONDS"),
            )?,
            api_timeout: whole_number(
                "CLERK_API_TIMEOUT_MS",
                get("CLERK_API_TIMEOUT_MS"),
                "milliseconds",
            )?
            .map(Duration::from_millis),
            provision_budget: whole_number(
                "CLERK_PROVISION_BUDGET_MS",
                get("CLERK_PROVISION_BUDGET_MS"),
                "milliseconds",
            )?
            .map(Duration::from_millis),
            provision_tries: whole_number(
                "CLERK_PROVISION_TRIES",
                get("CLERK_PROVISION_TRIES"),
                "attempts",
            )?,
            clock_skew: whole_number(
                "CLERK_CLOCK_SKEW_MS",
                get("CLERK_CLOCK_SKEW_MS"),
                "milliseconds",
            )?
            .map(Duration::from_millis),
            cookie_auth: boolean("CLERK_COOKIE_AUTH", get("CLERK_COOKIE_AUTH"))?,
            cookie_secure: boolean("CLERK_COOKIE_SECURE", get("CLERK_COOKIE_SECURE"))?,
            staff_login_concurrency: whole_number(
                "CLERK_STAFF_LOGIN_CONCURRENCY",
                get("CLERK_STAFF_LOGIN_CONCURRENCY"),
                "password checks",
            )?,
            allow_missing_azp: boolean("CLERK_ALLOW_MISSING_AZP", get("CLERK_ALLOW_MISSING_AZP"))?
                .unwrap_or(false),
            ..ClerkConfigBuilder::default()
        })
    }

    /// `CLERK_SECRET_KEY` (`sk_test_…` / `sk_live_…`).
    #[must_use]
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_key = present(Some(key.into()));
        self
    }

    /// `CLERK_PUBLISHABLE_KEY`: gives the expected issuer.
    #[must_use]
    pub fn publishable_key(mut self, key: impl Into<String>) -> Self {
        self.publishable_key = present(Some(key.into()));
        self
    }

    /// `CLERK_JWT_KEY`: a PEM public key for networkless verification.
    #[must_use]
    pub fn jwt_key(mut self, pem: impl Into<String>) -> Self {
        self.jwt_key = present(Some(pem.into()));
        self
    }

    /// `CLERK_API_VERSION`: the `Clerk-API-Version` every Backend API request pins.
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = present(Some(version.into()));
        self
    }

    /// `CLERK_API_URL`.
    #[must_use]
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = present(Some(url.into()));
        self
    }

    /// `CLERK_WEBHOOK_SIGNING_KEY`.
    #[must_use]
    pub fn webhook_signing_key(mut self, key: impl Into<String>) -> Self {
        self.webhook_signing_key = present(Some(key.into()));
        self
    }

    /// Adds an authorized party (`CLERK_FRONTEND_HOSTS`), an origin like `https://app.example.com`.
    #[must_use]
    pub fn frontend_host(mut self, origin: impl Into<String>) -> Self {
        self.frontend_hosts.push(origin.into());
        self
    }

    /// An explicit issuer, instead of the one the publishable key implies.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Require `aud` to contain one of these.
    #[must_use]
    pub fn audience<I: IntoIterator<Item = S>, S: Into<String>>(mut self, audience: I) -> Self {
        self.audience = Some(audience.into_iter().map(Into::into).collect());
        self
    }

    /// Accept tokens without `azp` (Clerk omits it on some cookie tokens). A present `azp` must still match.
    #[must_use]
    pub fn allow_missing_azp(mut self, allow: bool) -> Self {
        self.allow_missing_azp = allow;
        self
    }

    /// Treat `sts: pending` sessions as signed in.
    #[must_use]
    pub fn accept_pending_sessions(mut self, accept: bool) -> Self {
        self.accept_pending = accept;
        self
    }

    /// Tolerance for `exp`/`nbf`/`iat` (default 5 s).
    #[must_use]
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = Some(skew);
        self
    }

    /// Read the `__session` cookie when there is no `Authorization` header (default on).
    #[must_use]
    pub fn cookie_auth(mut self, enabled: bool) -> Self {
        self.cookie_auth = Some(enabled);
        self
    }

    /// `CLERK_COOKIE_SECURE`: `Secure`, `__Host-`-prefixed session cookies (default on).
    #[must_use]
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.cookie_secure = Some(secure);
        self
    }

    /// `CLERK_SESSION_REVALIDATION_SECONDS`.
    #[must_use]
    pub fn session_revalidation(mut self, every: Duration) -> Self {
        self.session_revalidation = Some(every);
        self
    }

    /// `CLERK_SESSION_IDLE_SECONDS`.
    #[must_use]
    pub fn session_idle(mut self, idle: Duration) -> Self {
        self.session_idle = Some(idle);
        self
    }

    /// `CLERK_CACHE_TIMEOUT`.
    #[must_use]
    pub fn cache_timeout(mut self, ttl: Duration) -> Self {
        self.cache_timeout = Some(ttl);
        self
    }

    /// `CLERK_ORG_CACHE_TIMEOUT`.
    #[must_use]
    pub fn org_cache_timeout(mut self, ttl: Duration) -> Self {
        self.org_cache_timeout = Some(ttl);
        self
    }

    /// `CLERK_MACHINE_CACHE_SECONDS`.
    #[must_use]
    pub fn machine_cache_timeout(mut self, ttl: Duration) -> Self {
        self.machine_cache_timeout = Some(ttl);
        self
    }

    /// `CLERK_WEBHOOK_DEDUP_TIMEOUT`.
    #[must_use]
    pub fn webhook_dedup_timeout(mut self, ttl: Duration) -> Self {
        self.webhook_dedup_timeout = Some(ttl);
        self
    }

    /// `CLERK_API_TIMEOUT_MS`.
    #[must_use]
    pub fn api_timeout(mut self, timeout: Duration) -> Self {
        self.api_timeout = Some(timeout);
        self
    }

    /// `CLERK_PROVISION_BUDGET_MS`: the longest just-in-time provisioning waits for the
    /// Backend API, retries included (default 2 s).
    #[must_use]
    pub fn provision_budget(mut self, budget: Duration) -> Self {
        self.provision_budget = Some(budget);
        self
    }

    /// `CLERK_STAFF_LOGIN_CONCURRENCY`: staff password checks at once (1 to 1024; default the
    /// number of CPUs).
    #[must_use]
    pub fn staff_login_concurrency(mut self, checks: usize) -> Self {
        self.staff_login_concurrency = Some(checks as u64);
        self
    }

    /// `CLERK_PROVISION_TRIES`: attempts of just-in-time provisioning's Backend API call,
    /// the first included (default 2).
    #[must_use]
    pub fn provision_tries(mut self, tries: u32) -> Self {
        self.provision_tries = Some(u64::from(tries));
        self
    }

    /// Accept tokens from any authorized party. Clerk's docs call the `azp` check essential
    /// against CSRF-style token reuse; use only where tokens never come from browsers.
    #[must_use]
    pub fn insecure_allow_any_authorized_party(mut self) -> Self {
        self.allow_any_party = true;
        self
    }

    /// Do not check `iss`. Only for setups where the key itself pins the instance (a
    /// `CLERK_JWT_KEY` of one instance).
    #[must_use]
    pub fn insecure_skip_issuer_check(mut self) -> Self {
        self.skip_issuer_check = true;
        self
    }

    /// Validates everything and builds the configuration.
    pub fn build(self) -> Result<ClerkConfig, ConfigError> {
        let secret_key = self
            .secret_key
            .as_deref()
            .map(validate_secret_key)
            .transpose()?;
        let jwt_key = self
            .jwt_key
            .as_deref()
            .map(|pem| {
                VerifyingKey::from_pem(pem)
                    .map(Arc::new)
                    .map_err(|e| ConfigError::Invalid {
                        setting: "CLERK_JWT_KEY",
                        expected: format!("expected an RSA public key in PEM form: {e}"),
                    })
            })
            .transpose()?;
        if secret_key.is_none() && jwt_key.is_none() {
            return Err(ConfigError::Missing {
                setting: "CLERK_SECRET_KEY",
                hint: "set it to the secret key from the Clerk dashboard (or set CLERK_JWT_KEY for networkless verification)",
            });
        }
        let publishable_key = self
            .publishable_key
            .as_deref()
            .map(|key| {
                PublishableKey::parse(key).map_err(|e| ConfigError::Invalid {
                    setting: "CLERK_PUBLISHABLE_KEY",
                    expected: e.to_string(),
                })
            })
            .transpose()?;
        let issuer = match (self.issuer, &publishable_key, self.skip_issuer_check) {
            (Some(explicit), _, _) => IssuerCheck::Exact(explicit.trim_end_matches('/').to_owned()),
            (None, Some(pk), _) => IssuerCheck::Exact(pk.issuer()),
            (None, None, true) => IssuerCheck::Skip,
            (None, None, false) => {
                return Err(ConfigError::Missing {
                    setting: "CLERK_PUBLISHABLE_KEY",
                    hint: "it gives the issuer every session token must carry (or set an explicit issuer in code)",
                })
            }
        };
        let api_url = validate_api_url(self.api_url.as_deref().unwrap_or(DEFAULT_API_URL))?;
        let api_version = self
            .api_version
            .as_deref()
            .map(str::trim)
            .unwrap_or(crate::backend_api::DEFAULT_API_VERSION);
        if !is_api_version(api_version) {
            return Err(ConfigError::Invalid {
                setting: "CLERK_API_VERSION",
                expected: format!("expected a date such as 2026-05-12, got {api_version:?}"),
            });
        }
        let api_version = api_version.to_owned();
        let mut parties = Vec::new();
        for host in &self.frontend_hosts {
            parties.push(validate_origin(host)?);
        }
        let parties = match (parties.is_empty(), self.allow_any_party) {
            (_, true) => PartyCheck::Any,
            (false, false) => PartyCheck::OneOf { parties, allow_missing: self.allow_missing_azp },
            (true, false) => {
                return Err(ConfigError::Missing {
                    setting: "CLERK_FRONTEND_HOSTS",
                    hint: "list the origins of your frontends, comma-separated (e.g. https://app.example.com); \
                           the alias CLERK_AUTH_PARTIES works too",
                })
            }
        };
        let positive =
            |setting: &'static str, value: Option<Duration>, default: Duration| match value {
                Some(d) if d.is_zero() => Err(ConfigError::Invalid {
                    setting,
                    expected: "expected a value above zero".into(),
                }),
                Some(d) => Ok(d),
                None => Ok(default),
            };
        Ok(ClerkConfig {
            secret_key,
            publishable_key,
            jwt_key,
            api_url,
            api_version,
            webhook_signing_key: self.webhook_signing_key.map(WebhookSigningKey::new),
            verify: VerifyOptions {
                algorithms: vec![crate::keys::Algorithm::Rs256],
                issuer,
                parties,
                audience: self.audience,
                clock_skew: self.clock_skew.unwrap_or(DEFAULT_CLOCK_SKEW),
                accept_pending: self.accept_pending,
            },
            session_revalidation: positive(
                "CLERK_SESSION_REVALIDATION_SECONDS",
                self.session_revalidation,
                Duration::from_secs(300),
            )?,
            session_idle: positive(
                "CLERK_SESSION_IDLE_SECONDS",
                self.session_idle,
                crate::session::DEFAULT_SESSION_IDLE,
            )?,
            staff_session: crate::session::StaffLifetime {
                idle: positive(
                    "CLERK_STAFF_SESSION_IDLE_SECONDS",
                    self.staff_session_idle,
                    crate::session::StaffLifetime::DEFAULT.idle,
                )?,
                max: positive(
                    "CLERK_STAFF_SESSION_MAX_SECONDS",
                    self.staff_session_max,
                    crate::session::StaffLifetime::DEFAULT.max,
                )?,
            },
            cache_timeout: positive(
                "CLERK_CACHE_TIMEOUT",
                self.cache_timeout,
                Duration::from_secs(300),
            )?,
            org_cache_timeout: positive(
                "CLERK_ORG_CACHE_TIMEOUT",
                self.org_cache_timeout,
                Duration::from_secs(900),
            )?,
            webhook_dedup_timeout: positive(
                "CLERK_WEBHOOK_DEDUP_TIMEOUT",
                self.webhook_dedup_timeout,
                Duration::from_secs(45),
            )?,
            machine_cache_timeout: positive(
                "CLERK_MACHINE_CACHE_SECONDS",
                self.machine_cache_timeout,
                crate::machine::DEFAULT_MACHINE_CACHE_TTL,
            )?,
            api_timeout: positive(
                "CLERK_API_TIMEOUT_MS",
                self.api_timeout,
                Duration::from_millis(10_000),
            )?,
            provision_budget: crate::backend_api::CallBudget {
                total: positive(
                    "CLERK_PROVISION_BUDGET_MS",
                    self.provision_budget,
                    crate::backend_api::CallBudget::default().total,
                )?,
                tries: match self.provision_tries {
                    None => crate::backend_api::CallBudget::default().tries,
                    Some(n @ 1..=10) => u32::try_from(n).unwrap_or(1),
                    Some(_) => {
                        return Err(ConfigError::Invalid {
                            setting: "CLERK_PROVISION_TRIES",
                            expected: "expected 1 to 10 attempts".into(),
                        })
                    }
                },
            },
            cookie_auth: self.cookie_auth.unwrap_or(true),
            cookie_secure: self.cookie_secure.unwrap_or(true),
            staff_login_concurrency: match self.staff_login_concurrency {
                None => None,
                Some(n) => Some(
                    usize::try_from(n)
                        .ok()
                        .and_then(std::num::NonZeroUsize::new)
                        .filter(|n| n.get() <= 1024)
                        .ok_or_else(|| ConfigError::Invalid {
                            setting: "CLERK_STAFF_LOGIN_CONCURRENCY",
                            expected: format!("expected 1 to 1024 password checks, got {n}"),
                        })?,
                ),
            },
        })
    }
}

fn validate_secret_key(key: &str) -> Result<SecretKey, ConfigError> {
    let well_formed = (key.starts_with("sk_test_") || key.starts_with("sk_live_"))
        && key.len() > "sk_test_".len()
        && key.bytes().all(|b| b.is_ascii_graphic());
    if well_formed {
        Ok(SecretKey::new(key))
    } else {
        // Never echo the value: it may be a real secret pasted into the wrong setting.
        Err(ConfigError::Invalid {
            setting: "CLERK_SECRET_KEY",
            expected: "expected a key starting with sk_test_ or sk_live_ (value not shown)".into(),
        })
    }
}

/// Whether plain `http` may be used for `uri`: only for a literal loopback host, so the secret
/// key never crosses a network unencrypted. `localhost`, `[::1]` and IPv4 literals in
/// `127.0.0.0/8` qualify; a name that merely starts with `127.` (`127.evil.example`), a
/// `*.localhost` name (resolved by whatever DNS is configured) or a URL with userinfo
/// (`http://127.0.0.1@evil.example`) does not.
fn is_loopback(uri: &http::Uri) -> bool {
    let Some(authority) = uri.authority() else {
        return false;
    };
    if authority.as_str().contains('@') {
        return false;
    }
    let host = authority.host();
    if host == "localhost" {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// A Backend API version as Clerk names them: `YYYY-MM-DD`.
fn is_api_version(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

fn validate_api_url(url: &str) -> Result<String, ConfigError> {
    let invalid = |expected: String| ConfigError::Invalid {
        setting: "CLERK_API_URL",
        expected,
    };
    let trimmed = url.trim().trim_end_matches('/');
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| {
        invalid(format!(
            "expected an http(s) URL such as {DEFAULT_API_URL}, got {url:?}"
        ))
    })?;
    let host = rest.split('/').next().unwrap_or_default();
    let uri = match trimmed.parse::<http::Uri>() {
        Ok(uri) if !host.is_empty() => uri,
        _ => {
            return Err(invalid(format!(
                "expected an http(s) URL such as {DEFAULT_API_URL}, got {url:?}"
            )))
        }
    };
    let loopback = is_loopback(&uri);
    match scheme {
        "https" => Ok(trimmed.to_owned()),
        "http" if loopback => Ok(trimmed.to_owned()),
        "http" => Err(invalid(format!(
            "plain http is only allowed for literal loopback hosts (localhost, 127.0.0.1, [::1]: a local mock); use https, got {url:?}"
        ))),
        _ => Err(invalid(format!("expected an http(s) URL, got {url:?}"))),
    }
}

fn validate_origin(origin: &str) -> Result<String, ConfigError> {
    let normalized = normalize_origin(origin);
    let ok = normalized.split_once("://").is_some_and(|(scheme, host)| {
        matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
    });
    if ok {
        Ok(normalized)
    } else {
        Err(ConfigError::Invalid {
            setting: "CLERK_FRONTEND_HOSTS",
            expected: format!("expected origins like https://app.example.com (scheme and host, no path), got {origin:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const PK: &str = "pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA";

    fn load(pairs: &[(&str, &str)]) -> Result<ClerkConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ClerkConfig::from_lookup(|name| map.get(name).cloned())
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("CLERK_SECRET_KEY", "sk_test_123"),
            ("CLERK_PUBLISHABLE_KEY", PK),
            (
                "CLERK_FRONTEND_HOSTS",
                "https://app.example.com/, http://localhost:3000",
            ),
        ]
    }

    #[test]
    fn the_api_version_is_pinned_by_default_and_settable_as_a_date() {
        assert_eq!(
            load(&base()).unwrap().api_version(),
            crate::backend_api::DEFAULT_API_VERSION
        );
        let mut pairs = base();
        pairs.push(("CLERK_API_VERSION", "2025-11-10"));
        assert_eq!(load(&pairs).unwrap().api_version(), "2025-11-10");
        for bad in ["latest", "2025-1-10", "20251110", "2025-11-10x", "v1"] {
            let mut pairs = base();
            pairs.push(("CLERK_API_VERSION", bad));
            let error = load(&pairs).unwrap_err();
            assert_eq!(error.setting(), "CLERK_API_VERSION", "{bad}");
        }
    }

    #[test]
    fn staff_login_concurrency_is_a_bounded_positive_number() {
        assert_eq!(load(&base()).unwrap().staff_login_concurrency, None);
        let mut pairs = base();
        pairs.push(("CLERK_STAFF_LOGIN_CONCURRENCY", "3"));
        assert_eq!(
            load(&pairs)
                .unwrap()
                .staff_login_concurrency
                .map(|n| n.get()),
            Some(3)
        );
        for bad in ["0", "-1", "lots", "5000"] {
            let mut pairs = base();
            pairs.push(("CLERK_STAFF_LOGIN_CONCURRENCY", bad));
            let error = load(&pairs).unwrap_err();
            assert_eq!(error.setting(), "CLERK_STAFF_LOGIN_CONCURRENCY", "{bad}");
        }
    }

    #[test]
    fn debug_of_builder_and_config_shows_no_secret() {
        let secret = "sk_test_SECRETVALUE42";
        let webhook = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let builder = ClerkConfig::builder()
            .secret_key(secret)
            .webhook_signing_key(webhook)
            .publishable_key(PK)
            .frontend_host("https://app.example.com");
        let shown_builder = format!("{builder:?}");
        let config = builder.build().unwrap();
        let shown_config = format!("{config:?} {config:#?}");
        for shown in [&shown_builder, &shown_config] {
            assert!(!shown.contains("SECRETVALUE42"), "{shown}");
            assert!(!shown.contains("MfKQ9r8GKYqr"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn defaults_match_the_django_package() {
        let config = load(&base()).unwrap();
        assert_eq!(config.api_url(), "https://api.clerk.com");
        assert_eq!(config.session_revalidation, Duration::from_secs(300));
        assert_eq!(config.cache_timeout, Duration::from_secs(300));
        assert_eq!(config.org_cache_timeout, Duration::from_secs(900));
        assert_eq!(config.webhook_dedup_timeout, Duration::from_secs(45));
        assert_eq!(config.api_timeout, Duration::from_millis(10_000));
        assert_eq!(
            config.provision_budget,
            crate::backend_api::CallBudget {
                tries: 2,
                total: Duration::from_secs(2)
            }
        );
        assert_eq!(
            config.verify_options().issuer,
            IssuerCheck::Exact("https://clerk.inspired.puma-74.lcl.dev".into())
        );
        assert_eq!(
            config.verify_options().parties,
            PartyCheck::OneOf {
                parties: vec![
                    "https://app.example.com".into(),
                    "http://localhost:3000".into()
                ],
                allow_missing: false
            }
        );
    }

    #[test]
    fn auth_parties_is_an_alias_merged_with_frontend_hosts() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "CLERK_FRONTEND_HOSTS");
        pairs.push((
            "CLERK_AUTH_PARTIES",
            "[\"https://a.example\", \"https://b.example\"]",
        ));
        let config = load(&pairs).unwrap();
        assert!(
            matches!(&config.verify_options().parties, PartyCheck::OneOf { parties, .. } if parties.len() == 2)
        );
    }

    #[test]
    fn every_error_names_its_setting() {
        let cases: &[(&str, &str)] = &[
            ("CLERK_SECRET_KEY", "pk_test_wrong"),
            ("CLERK_PUBLISHABLE_KEY", "pk_test_!!"),
            ("CLERK_JWT_KEY", "not a pem"),
            ("CLERK_API_URL", "ftp://api.clerk.com"),
            ("CLERK_API_URL", "http://api.clerk.com"),
            ("CLERK_FRONTEND_HOSTS", "app.example.com"),
            ("CLERK_SESSION_REVALIDATION_SECONDS", "five"),
            ("CLERK_CACHE_TIMEOUT", "-1"),
            ("CLERK_ORG_CACHE_TIMEOUT", "0"),
            ("CLERK_WEBHOOK_DEDUP_TIMEOUT", "1.5"),
            ("CLERK_API_TIMEOUT_MS", "10s"),
            ("CLERK_PROVISION_BUDGET_MS", "0"),
            ("CLERK_PROVISION_BUDGET_MS", "2s"),
            ("CLERK_PROVISION_TRIES", "0"),
            ("CLERK_PROVISION_TRIES", "100"),
            ("CLERK_COOKIE_AUTH", "maybe"),
            ("CLERK_COOKIE_SECURE", "sometimes"),
            ("CLERK_STAFF_SESSION_IDLE_SECONDS", "0"),
            ("CLERK_STAFF_SESSION_MAX_SECONDS", "1h"),
        ];
        for (setting, value) in cases {
            let mut pairs = base();
            pairs.retain(|(k, _)| k != setting);
            pairs.push((setting, value));
            let err = load(&pairs).unwrap_err();
            assert_eq!(err.setting(), *setting, "{setting}={value}: {err}");
            assert!(err.to_string().starts_with(setting), "{err}");
        }
    }

    #[test]
    fn secrets_are_never_echoed_in_errors() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "CLERK_SECRET_KEY");
        pairs.push(("CLERK_SECRET_KEY", "whsec_topsecretvalue"));
        let err = load(&pairs).unwrap_err();
        assert!(!err.to_string().contains("topsecretvalue"), "{err}");
    }

    #[test]
    fn placeholders_count_as_unset() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "CLERK_SECRET_KEY");
        pairs.push(("CLERK_SECRET_KEY", "sk_live_..."));
        assert!(matches!(
            load(&pairs),
            Err(ConfigError::Missing {
                setting: "CLERK_SECRET_KEY",
                ..
            })
        ));
    }

    #[test]
    fn frontend_hosts_are_required_unless_opted_out_in_code() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "CLERK_FRONTEND_HOSTS");
        assert!(matches!(
            load(&pairs),
            Err(ConfigError::Missing {
                setting: "CLERK_FRONTEND_HOSTS",
                ..
            })
        ));
        let config = ClerkConfig::builder()
            .secret_key("sk_test_1")
            .publishable_key(PK)
            .insecure_allow_any_authorized_party()
            .build()
            .unwrap();
        assert_eq!(config.verify_options().parties, PartyCheck::Any);
    }

    #[test]
    fn issuer_is_required_unless_opted_out_in_code() {
        let missing = ClerkConfig::builder()
            .secret_key("sk_test_1")
            .frontend_host("https://a.example")
            .build();
        assert!(matches!(
            missing,
            Err(ConfigError::Missing {
                setting: "CLERK_PUBLISHABLE_KEY",
                ..
            })
        ));
        let skipped = ClerkConfig::builder()
            .secret_key("sk_test_1")
            .frontend_host("https://a.example")
            .insecure_skip_issuer_check()
            .build()
            .unwrap();
        assert_eq!(skipped.verify_options().issuer, IssuerCheck::Skip);
    }

    #[test]
    fn loopback_http_is_allowed_for_a_local_mock() {
        let mut pairs = base();
        pairs.push(("CLERK_API_URL", "http://127.0.0.1:4010/"));
        assert_eq!(load(&pairs).unwrap().api_url(), "http://127.0.0.1:4010");
    }

    #[test]
    fn the_provisioning_budget_is_configurable() {
        let mut pairs = base();
        pairs.push(("CLERK_PROVISION_BUDGET_MS", "750"));
        pairs.push(("CLERK_PROVISION_TRIES", "3"));
        assert_eq!(
            load(&pairs).unwrap().provision_budget,
            crate::backend_api::CallBudget {
                tries: 3,
                total: Duration::from_millis(750)
            }
        );
    }

    #[test]
    fn plain_http_only_for_literal_loopback_hosts() {
        for good in [
            "http://127.0.0.1",
            "http://127.0.0.1:4010",
            "http://127.1.2.3:80/",
            "http://localhost:4010",
            "http://[::1]:4010",
            "http://[::1]",
        ] {
            assert!(validate_api_url(good).is_ok(), "{good} is loopback");
        }
        for evil in [
            "http://127.evil.example",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1.nip.io:4010",
            "http://127.0.0.1@evil.example",
            "http://localhost@evil.example",
            "http://localhost.evil.example",
            "http://evil.localhost",
            "http://[::2]",
            "http://[::ffff:7f00:1]",
            "http://128.0.0.1",
            "http://0.0.0.0",
        ] {
            let err = validate_api_url(evil).expect_err(evil);
            assert_eq!(err.setting(), "CLERK_API_URL");
        }
        // https stays fine for any host.
        assert!(validate_api_url("https://127.evil.example").is_ok());
    }
}
