//! Throttling failed staff logins ([design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)):
//! after 5 failed logins for one username within 15 minutes that username is refused (429
//! with `Retry-After`) until enough of those failures are 15 minutes old, even with the right
//! password; 20 failures from one client address do the same for that address.
//!
//! The failures are counted in the store ([`LoginAttemptStore`](crate::store::LoginAttemptStore)),
//! so the limits hold across instances sharing a database. This module is the pure decision:
//! [`LoginThrottle::decide`] takes the recent failures and `now` and says whether to let the
//! attempt through. [`gated_staff_login`](crate::login_gate::gated_staff_login) reads the
//! failures, asks it, and records or clears them.
//!
//! The count is read before a check and written after it, not in one transaction: attempts
//! already past the read when the limit is reached still get their answer, so a burst of
//! concurrent guesses can check a few more passwords than the limit — at most what the
//! [`LoginGate`](crate::login_gate::LoginGate) admits at once — before the lock holds.
//!
//! ```
//! use std::time::Duration;
//! use clerk_core::login_throttle::{LoginThrottle, ThrottleDecision, ThrottleScope};
//! use clerk_core::time::UnixTime;
//!
//! let throttle = LoginThrottle::default();
//! let now = UnixTime::from_secs(10_000);
//! // Five failures in the last ten minutes, at 9_500 s, 9_560 s, …
//! let failures: Vec<UnixTime> = (0..5).map(|i| UnixTime::from_secs(9_500 + i * 60)).collect();
//! assert_eq!(
//!     throttle.decide(&failures, &[], now),
//!     // The oldest leaves the 15-minute window at 10_400 s.
//!     ThrottleDecision::Locked {
//!         retry_after: Duration::from_secs(400),
//!         scope: ThrottleScope::Username,
//!     }
//! );
//! assert_eq!(throttle.decide(&failures[1..], &[], now), ThrottleDecision::Allow);
//! ```

use std::time::Duration;

use crate::time::UnixTime;

/// The shortest `Retry-After` a locked attempt is told.
pub const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// One limit: at most `failures - 1` failures inside a sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThrottleLimit {
    /// How many failures inside the window lock (at least 1).
    pub failures: usize,
    /// The window's length.
    pub window: Duration,
}

impl ThrottleLimit {
    /// `failures` failures within `window` lock (`failures` of 0 is taken as 1).
    #[must_use]
    pub const fn new(failures: usize, window: Duration) -> Self {
        ThrottleLimit {
            failures: if failures == 0 { 1 } else { failures },
            window,
        }
    }

    /// `Some(retry_after)` when `failures` (any order) hold at least the limit inside the
    /// window ending at `now`.
    ///
    /// A failure at `t` is inside while `now - window < t`: it leaves the window at
    /// `t + window`. The count drops below the limit when the `failures`-th most recent one
    /// leaves, so that is what `retry_after` waits for, rounded up to whole seconds and at
    /// least [`MIN_RETRY_AFTER`] (at most `window`, should another instance's clock run
    /// ahead).
    #[must_use]
    pub fn locked(&self, failures: &[UnixTime], now: UnixTime) -> Option<Duration> {
        let start = now.saturating_sub(self.window);
        let mut inside: Vec<UnixTime> = failures.iter().copied().filter(|t| *t > start).collect();
        if inside.len() < self.failures {
            return None;
        }
        // Newest first: the limit-th newest is the one whose leaving unlocks.
        inside.sort_unstable_by(|a, b| b.cmp(a));
        let pivot = inside[self.failures - 1];
        let leaves = pivot.saturating_add(self.window);
        let wait = leaves.duration_since(now).min(self.window);
        let secs = wait.as_millis().div_ceil(1000);
        let wait = Duration::from_secs(u64::try_from(secs).unwrap_or(u64::MAX));
        Some(wait.max(MIN_RETRY_AFTER))
    }
}

/// Which limit locked an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleScope {
    /// Too many failures for the username.
    Username,
    /// Too many failures from the client address.
    Address,
}

/// What [`LoginThrottle::decide`] says about a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleDecision {
    /// Check the password.
    Allow,
    /// Refuse without checking (429 with `Retry-After`).
    Locked {
        /// How long until the count drops below the limit (whole seconds, at least 1 s).
        retry_after: Duration,
        /// Which limit was reached (the username's when both are).
        scope: ThrottleScope,
    },
}

/// The policy: a limit per username and one per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoginThrottle {
    /// Failures for one username.
    pub username: ThrottleLimit,
    /// Failures from one client address.
    pub address: ThrottleLimit,
}

impl LoginThrottle {
    /// The design's defaults: 5 failures per username and 20 per address, each within
    /// 15 minutes.
    pub const DEFAULT: LoginThrottle = LoginThrottle {
        username: ThrottleLimit::new(5, Duration::from_secs(15 * 60)),
        address: ThrottleLimit::new(20, Duration::from_secs(15 * 60)),
    };

    /// Other numbers: `username` failures for one username and `address` failures from one
    /// address, each within `window`.
    #[must_use]
    pub const fn new(username: usize, address: usize, window: Duration) -> Self {
        LoginThrottle {
            username: ThrottleLimit::new(username, window),
            address: ThrottleLimit::new(address, window),
        }
    }

    /// Decides an attempt from the recent failures recorded for its username and for its
    /// client address (pass `&[]` when the address is unknown), at `now`. Locked when either
    /// holds at least its limit inside its window; the longer wait wins when both do.
    #[must_use]
    pub fn decide(
        &self,
        username_failures: &[UnixTime],
        address_failures: &[UnixTime],
        now: UnixTime,
    ) -> ThrottleDecision {
        let by_name = self.username.locked(username_failures, now);
        let by_address = self.address.locked(address_failures, now);
        match (by_name, by_address) {
            (None, None) => ThrottleDecision::Allow,
            (Some(name), Some(address)) if address > name => ThrottleDecision::Locked {
                retry_after: address,
                scope: ThrottleScope::Address,
            },
            (Some(retry_after), _) => ThrottleDecision::Locked {
                retry_after,
                scope: ThrottleScope::Username,
            },
            (None, Some(retry_after)) => ThrottleDecision::Locked {
                retry_after,
                scope: ThrottleScope::Address,
            },
        }
    }

    /// The longer of the two windows: failures older than `now` minus this can be forgotten.
    #[must_use]
    pub fn longest_window(&self) -> Duration {
        self.username.window.max(self.address.window)
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::DEFAULT
    }
}

/// How many characters of a username its key keeps: a longer name (a client may post
/// anything) shares its counter with the names it begins like, and keys stay short enough
/// for every backend's column (at most 133 characters).
pub const KEY_USERNAME_CHARS: usize = 128;

/// The store key counting failures for `username`: `user:` and the trimmed, lower-cased
/// name (so `Admin` and `admin ` share one counter), cut to [`KEY_USERNAME_CHARS`].
#[must_use]
pub fn username_key(username: &str) -> String {
    let name: String = username
        .trim()
        .to_lowercase()
        .chars()
        .take(KEY_USERNAME_CHARS)
        .collect();
    format!("user:{name}")
}

/// The store key counting failures from `address`: `addr:` and the address (IPv4-mapped IPv6
/// addresses as their IPv4 form, so one client has one key).
#[must_use]
pub fn address_key(address: std::net::IpAddr) -> String {
    let address = match address {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    };
    format!("addr:{address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn at(ms: i64) -> UnixTime {
        UnixTime::from_millis(1_700_000_000_000 + ms)
    }

    fn locked(retry_secs: u64, scope: ThrottleScope) -> ThrottleDecision {
        ThrottleDecision::Locked {
            retry_after: Duration::from_secs(retry_secs),
            scope,
        }
    }

    #[test]
    fn four_failures_allow_the_fifth_locks() {
        let throttle = LoginThrottle::default();
        let now = at(10 * MIN);
        let four: Vec<_> = (0..4).map(|i| at(i * MIN)).collect();
        assert_eq!(throttle.decide(&four, &[], now), ThrottleDecision::Allow);
        let five: Vec<_> = (0..5).map(|i| at(i * MIN)).collect();
        // The oldest (at 0) leaves at 15 min: 5 minutes from now.
        assert_eq!(
            throttle.decide(&five, &[], now),
            locked(300, ThrottleScope::Username)
        );
    }

    #[test]
    fn a_failure_exactly_a_window_old_has_left() {
        let throttle = LoginThrottle::default();
        let five: Vec<_> = (0..5).map(|i| at(i * 1000)).collect();
        // One millisecond before the oldest is 15 minutes old: still locked, for 1 s.
        assert_eq!(
            throttle.decide(&five, &[], at(15 * MIN - 1)),
            locked(1, ThrottleScope::Username)
        );
        // Exactly 15 minutes old: out of the window, four left.
        assert_eq!(
            throttle.decide(&five, &[], at(15 * MIN)),
            ThrottleDecision::Allow
        );
    }

    #[test]
    fn retry_after_waits_for_the_limit_th_newest_and_rounds_up() {
        let throttle = LoginThrottle::default();
        // Seven failures, unsorted; the 5th newest is at 2 min + 500 ms.
        let failures: Vec<_> = [6, 0, 5, 1, 4, 3, 2]
            .iter()
            .map(|i| at(i * MIN + 500))
            .collect();
        let now = at(7 * MIN);
        // Leaves at 17 min + 500 ms: 10 min 0.5 s from now, rounded up to 601 s.
        assert_eq!(
            throttle.decide(&failures, &[], now),
            locked(601, ThrottleScope::Username)
        );
    }

    #[test]
    fn failures_just_now_lock_for_the_whole_window() {
        let throttle = LoginThrottle::default();
        let now = at(0);
        let five = vec![now; 5];
        assert_eq!(
            throttle.decide(&five, &[], now),
            locked(900, ThrottleScope::Username)
        );
        // A clock ahead elsewhere never makes the wait longer than the window.
        let ahead = vec![at(5 * MIN); 5];
        assert_eq!(
            throttle.decide(&ahead, &[], now),
            locked(900, ThrottleScope::Username)
        );
    }

    #[test]
    fn the_address_limit_is_separate_and_the_longer_wait_wins() {
        let throttle = LoginThrottle::default();
        let now = at(20 * MIN);
        let nineteen: Vec<_> = (0..19).map(|i| at(10 * MIN + i)).collect();
        assert_eq!(
            throttle.decide(&[], &nineteen, now),
            ThrottleDecision::Allow
        );
        let twenty: Vec<_> = (0..20).map(|i| at(10 * MIN + i * 1000)).collect();
        // The 20th newest is the oldest, at 10 min: leaves at 25 min.
        assert_eq!(
            throttle.decide(&[], &twenty, now),
            locked(300, ThrottleScope::Address)
        );
        let name: Vec<_> = (0..5).map(|i| at(6 * MIN + i)).collect();
        assert_eq!(
            throttle.decide(&name, &twenty, now),
            locked(300, ThrottleScope::Address),
            "the address waits longer (25 min vs 21 min)"
        );
        let name: Vec<_> = (0..5).map(|_| at(19 * MIN)).collect();
        assert_eq!(
            throttle.decide(&name, &twenty, now),
            locked(840, ThrottleScope::Username)
        );
    }

    #[test]
    fn other_numbers() {
        let throttle = LoginThrottle::new(2, 3, Duration::from_secs(60));
        assert_eq!(
            throttle.decide(&[at(0), at(30_000)], &[], at(45_000)),
            locked(15, ThrottleScope::Username)
        );
        assert_eq!(
            throttle.decide(&[at(30_000)], &[at(1), at(2), at(3)], at(MIN + 3)),
            ThrottleDecision::Allow,
            "address failures a minute old have left"
        );
        assert_eq!(ThrottleLimit::new(0, Duration::ZERO).failures, 1);
    }

    #[test]
    fn keys() {
        assert_eq!(username_key(" Admin "), "user:admin");
        let long = "É".repeat(1000);
        assert_eq!(username_key(&long), format!("user:{}", "é".repeat(128)));
        assert_eq!(address_key("127.0.0.1".parse().unwrap()), "addr:127.0.0.1");
        assert_eq!(
            address_key("::ffff:10.0.0.1".parse().unwrap()),
            "addr:10.0.0.1"
        );
        assert_eq!(address_key("::1".parse().unwrap()), "addr:::1");
    }
}
