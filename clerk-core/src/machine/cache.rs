//! The verified-credential cache's lifetime rule, pure: an answer is kept at most the
//! configured bound, never past the credential's expiry; definitive refusals (unknown,
//! revoked, expired) a short while; outages and JWT defects not at all.

use std::sync::Arc;
use std::time::Duration;

use super::{MachineAuth, MachineError};
use crate::time::UnixTime;

/// Default bound of a cached positive answer (`CLERK_MACHINE_CACHE_SECONDS`).
pub const DEFAULT_MACHINE_CACHE_TTL: Duration = Duration::from_secs(60);
/// Default bound of a cached refusal.
pub const DEFAULT_MACHINE_NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// Default number of credentials kept.
pub const DEFAULT_MACHINE_CACHE_CAPACITY: usize = 4096;

/// How long verify answers are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineCachePolicy {
    /// The bound of a positive answer (default 60 s).
    pub ttl: Duration,
    /// The bound of a definitive refusal (default 5 s).
    pub negative_ttl: Duration,
    /// How many credentials are kept (0: no cache).
    pub capacity: usize,
}

impl Default for MachineCachePolicy {
    fn default() -> Self {
        MachineCachePolicy {
            ttl: DEFAULT_MACHINE_CACHE_TTL,
            negative_ttl: DEFAULT_MACHINE_NEGATIVE_TTL,
            capacity: DEFAULT_MACHINE_CACHE_CAPACITY,
        }
    }
}

/// A verify answer as the verifier shares it.
pub type Verified = Result<Arc<MachineAuth>, MachineError>;

impl MachineCachePolicy {
    /// Until when `answer`, obtained at `now`, may be served from the cache; `None`: not
    /// cached.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use clerk_core::machine::{MachineAuth, MachineCachePolicy, TokenType};
    /// use clerk_core::time::UnixTime;
    ///
    /// let policy = MachineCachePolicy { ttl: Duration::from_secs(60), ..Default::default() };
    /// let now = UnixTime::from_secs(1000);
    /// let key = MachineAuth::new(TokenType::ApiKey, "ak_1", "user_1")
    ///     .with_expiry(UnixTime::from_secs(1010));
    /// // Ten seconds left: kept ten seconds, not sixty.
    /// assert_eq!(policy.cache_until(&Ok(Arc::new(key)), now), Some(UnixTime::from_secs(1010)));
    /// ```
    #[must_use]
    pub fn cache_until(&self, answer: &Verified, now: UnixTime) -> Option<UnixTime> {
        if self.capacity == 0 {
            return None;
        }
        let (bound, expiry) = match answer {
            Ok(auth) => (self.ttl, auth.expires_at),
            Err(e) if e.is_definitive() => (self.negative_ttl, None),
            Err(_) => return None,
        };
        let until = now.saturating_add(bound);
        let until = match expiry {
            Some(at) if at < until => at,
            _ => until,
        };
        (until > now).then_some(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::TokenType;

    const NOW: UnixTime = UnixTime::from_secs(1_000);

    fn ok(expiry: Option<i64>) -> Verified {
        let mut auth = MachineAuth::new(TokenType::M2mToken, "mt_1", "mch_1");
        auth.expires_at = expiry.map(UnixTime::from_secs);
        Ok(Arc::new(auth))
    }

    #[test]
    fn a_positive_answer_lives_the_bound_or_until_expiry_whichever_is_first() {
        let p = MachineCachePolicy::default();
        assert_eq!(
            p.cache_until(&ok(None), NOW),
            Some(UnixTime::from_secs(1_060))
        );
        assert_eq!(
            p.cache_until(&ok(Some(5_000)), NOW),
            Some(UnixTime::from_secs(1_060))
        );
        assert_eq!(
            p.cache_until(&ok(Some(1_001)), NOW),
            Some(UnixTime::from_secs(1_001))
        );
        assert_eq!(p.cache_until(&ok(Some(1_000)), NOW), None, "expires now");
        assert_eq!(p.cache_until(&ok(Some(10)), NOW), None);
    }

    #[test]
    fn refusals_are_kept_briefly_and_outages_never() {
        let p = MachineCachePolicy::default();
        for definitive in [
            MachineError::NotFound(TokenType::ApiKey),
            MachineError::Revoked(TokenType::ApiKey),
            MachineError::Expired(TokenType::ApiKey),
        ] {
            assert_eq!(
                p.cache_until(&Err(definitive), NOW),
                Some(UnixTime::from_secs(1_005))
            );
        }
        for transient in [
            MachineError::Unexpected {
                status: Some(503),
                detail: String::new(),
            },
            MachineError::SecretKeyInvalid { status: 401 },
            MachineError::VerificationFailed("JWT is not active yet"),
            MachineError::NoSecretKey,
        ] {
            assert_eq!(p.cache_until(&Err(transient), NOW), None);
        }
        let off = MachineCachePolicy { capacity: 0, ..p };
        assert_eq!(off.cache_until(&ok(None), NOW), None);
    }
}
