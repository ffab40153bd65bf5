//! Publishable keys (`pk_test_…` / `pk_live_…`) and the issuer they imply.
//!
//! A publishable key is `pk_<env>_` followed by base64 of `<frontend API host>$`. The host is
//! the issuer (`iss`) of every session token of that instance, so decoding the key gives the
//! issuer check without any network call.

use base64::Engine as _;
use std::fmt;

/// The instance environment a publishable key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// `pk_test_`: a development instance.
    Test,
    /// `pk_live_`: a production instance.
    Live,
}

/// A decoded publishable key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishableKey {
    raw: String,
    environment: Environment,
    frontend_api_host: String,
}

/// Why a publishable key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishableKeyError {
    /// The key does not start with `pk_test_` or `pk_live_`.
    #[error("expected a key starting with pk_test_ or pk_live_")]
    UnknownPrefix,
    /// The part after the prefix is not base64.
    #[error("the part after the prefix is not base64")]
    NotBase64,
    /// The decoded text is not `<host>$`.
    #[error("the decoded key is not a frontend API host followed by `$`")]
    NotAHost,
}

impl PublishableKey {
    /// Decodes `pk_test_…` / `pk_live_…`.
    pub fn parse(key: &str) -> Result<Self, PublishableKeyError> {
        let key = key.trim();
        let (environment, encoded) = if let Some(rest) = key.strip_prefix("pk_test_") {
            (Environment::Test, rest)
        } else if let Some(rest) = key.strip_prefix("pk_live_") {
            (Environment::Live, rest)
        } else {
            return Err(PublishableKeyError::UnknownPrefix);
        };
        // Clerk's keys are standard base64, usually without padding; accept both.
        let trimmed = encoded.trim_end_matches('=');
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
            .map_err(|_| PublishableKeyError::NotBase64)?;
        let text = String::from_utf8(decoded).map_err(|_| PublishableKeyError::NotAHost)?;
        let host = text
            .strip_suffix('$')
            .ok_or(PublishableKeyError::NotAHost)?;
        let valid_host = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
        if !valid_host {
            return Err(PublishableKeyError::NotAHost);
        }
        Ok(PublishableKey {
            raw: key.to_owned(),
            environment,
            frontend_api_host: host.to_owned(),
        })
    }

    /// Development or production instance.
    #[must_use]
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The frontend API host, e.g. `clerk.example.com`.
    #[must_use]
    pub fn frontend_api_host(&self) -> &str {
        &self.frontend_api_host
    }

    /// The issuer every session token of this instance carries: `https://<host>`.
    #[must_use]
    pub fn issuer(&self) -> String {
        format!("https://{}", self.frontend_api_host)
    }

    /// The key as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Debug for PublishableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishableKey")
            .field("environment", &self.environment)
            .field("frontend_api_host", &self.frontend_api_host)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_clerk_sdk_fixture_keys() {
        let test =
            PublishableKey::parse("pk_test_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA").unwrap();
        assert_eq!(test.environment(), Environment::Test);
        assert_eq!(test.issuer(), "https://clerk.inspired.puma-74.lcl.dev");
        let live =
            PublishableKey::parse("pk_live_Y2xlcmsuaW5zcGlyZWQucHVtYS03NC5sY2wuZGV2JA==").unwrap();
        assert_eq!(live.environment(), Environment::Live);
        assert_eq!(live.frontend_api_host(), "clerk.inspired.puma-74.lcl.dev");
    }

    #[test]
    fn rejects_bad_keys_with_a_reason() {
        assert_eq!(
            PublishableKey::parse("sk_test_abc"),
            Err(PublishableKeyError::UnknownPrefix)
        );
        assert_eq!(
            PublishableKey::parse("pk_test_!!!"),
            Err(PublishableKeyError::NotBase64)
        );
        // base64("example.com") without the trailing `$`
        assert_eq!(
            PublishableKey::parse("pk_test_ZXhhbXBsZS5jb20"),
            Err(PublishableKeyError::NotAHost)
        );
        // base64("a/b$"): not a host
        assert_eq!(
            PublishableKey::parse("pk_test_YS9iJA"),
            Err(PublishableKeyError::NotAHost)
        );
    }
}
