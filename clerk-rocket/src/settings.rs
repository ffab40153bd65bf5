//! The `clerk` section of Rocket's configuration, merged with the `CLERK_*` environment.
//!
//! Every setting of [design §7](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#7-configuration) can be written in the section under its environment name or
//! without the `CLERK_` prefix, in any case: `secret_key`, `SECRET_KEY`, `clerk_secret_key`
//! and `CLERK_SECRET_KEY` all mean `CLERK_SECRET_KEY`.
//!
//! ```toml
//! # Rocket.toml
//! [default.clerk]
//! publishable_key = "pk_test_…"
//! frontend_hosts = ["https://app.example.com", "https://admin.example.com"]
//! session_revalidation_seconds = 120
//! ```
//!
//! Precedence: a setting in the section wins; the process environment (`CLERK_SECRET_KEY`,
//! …) fills the settings the section leaves out. Rocket's own `ROCKET_CLERK={…}` variable
//! lands in the section, as Rocket merges it into the figment. Numbers and booleans may be
//! written as TOML values, lists (of origins) as arrays or comma-separated strings. A key of
//! the section that names no setting is an error (a typo must not silently keep a default).

use std::collections::BTreeMap;

use clerk_core::{ClerkConfig, ConfigError};
use rocket::figment::value::{Dict, Value};
use rocket::figment::Figment;

/// The figment key of the section.
pub const SECTION: &str = "clerk";

/// The section could not be turned into a [`ClerkConfig`]. `Display` names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A setting is missing or invalid (clerk-core's validation).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The section has a key that names no Clerk setting.
    #[error("{SECTION}.{key}: not a Clerk setting (known: {known})")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The settings the section accepts.
        known: String,
    },
    /// A key holds a value of a kind no setting takes (a table, say).
    #[error("{SECTION}.{key}: expected a string, number, boolean or list of strings")]
    Unsupported {
        /// The key as written.
        key: String,
    },
    /// Two keys of the section name the same setting (`secret_key` and `SECRET_KEY`, say).
    #[error("{SECTION}.{first} and {SECTION}.{second}: both set {setting}; keep one")]
    Duplicate {
        /// The setting.
        setting: &'static str,
        /// One key.
        first: String,
        /// The other.
        second: String,
    },
    /// `clerk` is not a table.
    #[error("{SECTION}: expected a table of Clerk settings")]
    NotATable,
}

/// Where settings come from besides the section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Environment {
    /// The process environment fills the gaps.
    Process,
    /// The section alone (tests, applications that configure Clerk only through Rocket).
    Ignore,
}

/// Reads and validates the settings: the `clerk` section of `figment`, then the process
/// environment for whatever the section leaves out.
///
/// # Errors
/// [`SettingsError`] naming the setting or key at fault.
pub fn from_figment(figment: &Figment) -> Result<ClerkConfig, SettingsError> {
    read(figment, Environment::Process)
}

/// Like [`from_figment`], without the process environment.
///
/// # Errors
/// [`SettingsError`] naming the setting or key at fault.
pub fn from_figment_only(figment: &Figment) -> Result<ClerkConfig, SettingsError> {
    read(figment, Environment::Ignore)
}

pub(crate) fn read(figment: &Figment, env: Environment) -> Result<ClerkConfig, SettingsError> {
    let section = match figment.find_value(SECTION) {
        Ok(Value::Dict(_, dict)) => dict,
        Ok(_) => return Err(SettingsError::NotATable),
        Err(_) => Dict::new(),
    };
    // Keys are checked before any value is used: a typo is reported even when clerk-core
    // would have complained about something else first.
    let mut values: BTreeMap<&'static str, (String, String)> = BTreeMap::new();
    for (key, value) in &section {
        let Some(name) = find_setting(key) else {
            return Err(SettingsError::UnknownKey {
                key: key.clone(),
                known: SETTINGS
                    .iter()
                    .map(|k| k.trim_start_matches("CLERK_").to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let text = scalar(value).ok_or_else(|| SettingsError::Unsupported { key: key.clone() })?;
        if let Some((first, _)) = values.insert(name, (key.clone(), text)) {
            return Err(SettingsError::Duplicate {
                setting: name,
                first,
                second: key.clone(),
            });
        }
    }
    Ok(ClerkConfig::from_lookup(|name| match values.get(name) {
        Some((_, text)) => Some(text.clone()),
        None if env == Environment::Process => std::env::var(name).ok(),
        None => None,
    })?)
}

/// Every setting `ClerkConfig::from_lookup` reads, by its environment name (checked against
/// it by a test).
pub const SETTINGS: &[&str] = &[
    "CLERK_SECRET_KEY",
    "CLERK_PUBLISHABLE_KEY",
    "CLERK_JWT_KEY",
    "CLERK_API_URL",
    "CLERK_WEBHOOK_SIGNING_KEY",
    "CLERK_FRONTEND_HOSTS",
    "CLERK_AUTH_PARTIES",
    "CLERK_SESSION_REVALIDATION_SECONDS",
    "CLERK_CACHE_TIMEOUT",
    "CLERK_ORG_CACHE_TIMEOUT",
    "CLERK_WEBHOOK_DEDUP_TIMEOUT",
    "CLERK_MACHINE_CACHE_SECONDS",
    "CLERK_API_TIMEOUT_MS",
    "CLERK_PROVISION_BUDGET_MS",
    "CLERK_PROVISION_TRIES",
    "CLERK_CLOCK_SKEW_MS",
    "CLERK_COOKIE_AUTH",
    "CLERK_COOKIE_SECURE",
    "CLERK_STAFF_LOGIN_CONCURRENCY",
    "CLERK_API_VERSION",
    "CLERK_SESSION_IDLE_SECONDS",
    "CLERK_STAFF_SESSION_IDLE_SECONDS",
    "CLERK_STAFF_SESSION_MAX_SECONDS",
    "CLERK_ALLOW_MISSING_AZP",
];

/// The setting a section key means, if any.
fn find_setting(key: &str) -> Option<&'static str> {
    SETTINGS.iter().copied().find(|name| matches(key, name))
}

fn matches(key: &str, name: &str) -> bool {
    key.eq_ignore_ascii_case(name)
        || name
            .strip_prefix("CLERK_")
            .is_some_and(|short| key.eq_ignore_ascii_case(short))
}

/// A section value as the text the environment would carry.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(_, s) => Some(s.clone()),
        Value::Char(_, c) => Some(c.to_string()),
        Value::Bool(_, b) => Some(b.to_string()),
        // Unsigned and signed numbers answer different conversions.
        Value::Num(_, n) => n
            .to_u128()
            .map(|u| u.to_string())
            .or_else(|| n.to_i128().map(|i| i.to_string()))
            .or_else(|| n.to_f64().map(|f| f.to_string())),
        Value::Empty(_, _) => Some(String::new()),
        Value::Array(_, items) => items
            .iter()
            .map(|item| match item {
                Value::String(_, s) => Some(s.clone()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|items| items.join(",")),
        Value::Dict(_, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[test]
    fn the_known_settings_are_exactly_what_clerk_core_reads() {
        let asked = RefCell::new(Vec::new());
        let _ = ClerkConfig::from_lookup(|name| {
            asked.borrow_mut().push(name.to_owned());
            None
        });
        let mut asked = asked.into_inner();
        asked.sort();
        asked.dedup();
        let mut known: Vec<String> = SETTINGS.iter().map(|k| (*k).to_owned()).collect();
        known.sort();
        assert_eq!(asked, known);
    }

    #[test]
    fn keys_match_with_or_without_the_prefix_in_any_case() {
        for key in [
            "secret_key",
            "SECRET_KEY",
            "clerk_secret_key",
            "CLERK_SECRET_KEY",
            "Secret_Key",
        ] {
            assert_eq!(find_setting(key), Some("CLERK_SECRET_KEY"), "{key}");
        }
        assert_eq!(find_setting("secret"), None);
        assert_eq!(find_setting("clerk_clerk_secret_key"), None);
    }
}
