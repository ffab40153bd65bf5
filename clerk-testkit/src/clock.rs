//! A clock that tests move by hand.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clerk_core::time::{Clock, UnixTime};

/// A [`Clock`] that stands still until the test moves it.
///
/// Clones are handles to the same instant: give one to the code under test (it implements
/// [`Clock`], so `Arc<ManualClock>`, `Box<dyn Clock>` or the value itself all work) and keep
/// another to [`advance`](Self::advance) or [`set`](Self::set) time.
///
/// ```
/// use std::time::Duration;
/// use clerk_core::time::{Clock, UnixTime};
/// use clerk_testkit::clock::ManualClock;
///
/// let clock = ManualClock::at(UnixTime::from_secs(1_700_000_000));
/// let handle = clock.clone();
/// handle.advance(Duration::from_secs(61));
/// assert_eq!(clock.now(), UnixTime::from_secs(1_700_000_061));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock showing `now`.
    #[must_use]
    pub fn at(now: UnixTime) -> Self {
        ManualClock {
            millis: Arc::new(AtomicI64::new(now.as_millis())),
        }
    }

    /// A clock showing the current wall-clock time (then standing still).
    #[must_use]
    pub fn at_system_now() -> Self {
        Self::at(clerk_core::time::SystemClock.now())
    }

    /// Moves the clock forward by `by` (saturating); returns the new instant.
    pub fn advance(&self, by: Duration) -> UnixTime {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let previous = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(by))
            })
            .expect("the update closure always returns Some");
        UnixTime::from_millis(previous.saturating_add(by))
    }

    /// Moves the clock back by `by` (saturating); returns the new instant.
    pub fn rewind(&self, by: Duration) -> UnixTime {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let previous = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_sub(by))
            })
            .expect("the update closure always returns Some");
        UnixTime::from_millis(previous.saturating_sub(by))
    }

    /// Sets the clock to `now` (forwards or backwards).
    pub fn set(&self, now: UnixTime) {
        self.millis.store(now.as_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_millis(self.millis.load(Ordering::SeqCst))
    }
}
