//! Time as a value: [`UnixTime`] and the [`Clock`] that only drivers and adapters hold.
//!
//! Every pure function in this workspace takes `now: UnixTime` as an argument, so tests can
//! put any instant in front of the verifier without sleeping or patching the system clock.

use std::fmt;
use std::time::Duration;

/// An instant as milliseconds since the Unix epoch (UTC).
///
/// Millisecond resolution covers both JWT claims (seconds) and Clerk's Backend API and
/// webhook timestamps (milliseconds). Signed, so instants before 1970 and arithmetic that
/// overshoots stay representable; an `i64` of milliseconds reaches past the year 292 million.
/// Serialized as the integer number of milliseconds.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixTime(i64);

impl UnixTime {
    /// The Unix epoch.
    pub const EPOCH: UnixTime = UnixTime(0);

    /// From whole seconds since the epoch (saturating on overflow).
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        UnixTime(secs.saturating_mul(1000))
    }

    /// From milliseconds since the epoch.
    #[must_use]
    pub const fn from_millis(millis: i64) -> Self {
        UnixTime(millis)
    }

    /// Whole seconds since the epoch, rounded towards negative infinity.
    #[must_use]
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// This instant moved forward by `d` (saturating).
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        UnixTime(self.0.saturating_add(duration_millis(d)))
    }

    /// This instant moved back by `d` (saturating).
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        UnixTime(self.0.saturating_sub(duration_millis(d)))
    }

    /// How long ago `earlier` was, seen from `self`; zero when `earlier` is not earlier.
    #[must_use]
    pub fn duration_since(self, earlier: UnixTime) -> Duration {
        let diff = self.0.saturating_sub(earlier.0);
        Duration::from_millis(u64::try_from(diff).unwrap_or(0))
    }
}

fn duration_millis(d: Duration) -> i64 {
    // In 64-bit arithmetic (`as_millis` is a 128-bit division on every clock read).
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|secs| secs.checked_mul(1000))
        .and_then(|millis| millis.checked_add(i64::from(d.subsec_millis())))
        .unwrap_or(i64::MAX)
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UnixTime({}.{:03}s)",
            self.as_secs(),
            self.0.rem_euclid(1000)
        )
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.rem_euclid(1000) == 0 {
            write!(f, "{}", self.as_secs())
        } else {
            write!(f, "{}.{:03}", self.as_secs(), self.0.rem_euclid(1000))
        }
    }
}

/// A source of the current time, held by drivers and adapters (never by pure code).
///
/// Implemented by [`SystemClock`] for production and by the test kit's manual clock for
/// tests that move time by hand.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> UnixTime;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one place that reads the wall clock.
    fn now(&self) -> UnixTime {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixTime(duration_millis(since_epoch))
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> UnixTime {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_towards_negative_infinity() {
        assert_eq!(UnixTime::from_millis(1_999).as_secs(), 1);
        assert_eq!(UnixTime::from_millis(-1).as_secs(), -1);
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let far = UnixTime::from_secs(i64::MAX);
        assert_eq!(
            far.saturating_add(Duration::from_secs(10)).as_millis(),
            i64::MAX
        );
        assert_eq!(
            UnixTime::from_secs(10).duration_since(UnixTime::from_secs(20)),
            Duration::ZERO
        );
        assert_eq!(
            UnixTime::from_secs(20).duration_since(UnixTime::from_secs(10)),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn durations_convert_to_millis_exactly_or_saturate() {
        let cases = [
            (Duration::ZERO, 0),
            (Duration::from_nanos(999_999), 0),
            (Duration::from_millis(1_999), 1_999),
            (Duration::new(1_750_000_000, 123_999_999), 1_750_000_000_123),
            (
                Duration::from_secs(i64::MAX as u64 / 1000),
                (i64::MAX / 1000) * 1000,
            ),
            (Duration::from_secs(i64::MAX as u64 / 1000 + 1), i64::MAX),
            (Duration::from_secs(u64::MAX), i64::MAX),
        ];
        for (duration, millis) in cases {
            assert_eq!(duration_millis(duration), millis, "{duration:?}");
            assert_eq!(
                i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
                millis,
                "{duration:?}"
            );
        }
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > UnixTime::from_secs(1_577_836_800));
    }
}
