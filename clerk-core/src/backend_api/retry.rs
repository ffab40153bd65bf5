//! [`RetryPolicy`]: when to retry a failed Backend API call, and after how long. Pure: the
//! caller supplies the jitter.

use std::time::Duration;

use super::error::ApiError;

/// Which failures are retried, how often, and how long to wait before each retry.
///
/// - 429 with `Retry-After`: wait exactly that long plus up to `base_delay` of jitter (never
///   sooner); a `Retry-After` longer than `max_delay` is not waited for (the error is returned,
///   and it says how long Clerk asked to wait).
/// - 429 without `Retry-After`, 5xx and transport failures: exponential backoff
///   `base_delay × 2^(attempt−1)`, capped at `max_delay`, with "equal jitter": half of it
///   fixed, half scaled by the jitter. Never more than `max_delay`.
/// - Anything else (404, 401/403, 4xx, a malformed body): not retried.
///
/// Reads (`GET`) and idempotent writes are retried by these rules alone. A create (a
/// [`RetryClass::CreateOnce`](super::RetryClass::CreateOnce) endpoint) is retried only when
/// [`may_retry`](super::may_retry) also allows it: after a 429 or a refused connection, never
/// after a timeout or a 5xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// The first backoff.
    pub base_delay: Duration,
    /// The longest wait: backoff cap, and the longest `Retry-After` honoured.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 6 attempts, backoff from 500 ms, at most 30 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// A bound on one Backend API call made while a client waits (just-in-time provisioning on
/// the request path): at most `tries` attempts and `total` time in all, waits included.
///
/// Within a budget, a `Retry-After` longer than half the budget is not waited for (the call
/// fails at once, carrying how long Clerk asked to wait), and the call is cut off when
/// `total` runs out ([`ApiError::BudgetExhausted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallBudget {
    /// Attempts in all, the first one included (0 counts as 1).
    pub tries: u32,
    /// The longest the call may take, retries and waits included.
    pub total: Duration,
}

impl Default for CallBudget {
    /// 2 tries, 2 s in all (`CLERK_PROVISION_TRIES`, `CLERK_PROVISION_BUDGET_MS`).
    fn default() -> Self {
        CallBudget {
            tries: 2,
            total: Duration::from_secs(2),
        }
    }
}

impl CallBudget {
    /// The retry policy within this budget, starting from `base` (its first backoff): at most
    /// `tries` attempts, no single wait longer than half the budget.
    #[must_use]
    pub fn retry_policy(&self, base: &RetryPolicy) -> RetryPolicy {
        let max_delay = (self.total / 2).min(base.max_delay);
        RetryPolicy {
            max_attempts: self.tries.max(1),
            base_delay: base.base_delay.min(max_delay),
            max_delay,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    #[must_use]
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// How long to wait before retrying after `attempt` attempts (1 after the first request)
    /// ended in `error`; `None` when the error is not retried or no attempts are left.
    ///
    /// `jitter` is a number in `0..=1` the caller draws (values outside are clamped, NaN is 0).
    #[must_use]
    pub fn next_delay(&self, attempt: u32, error: &ApiError, jitter: f64) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        match error {
            ApiError::RateLimited {
                retry_after: Some(retry_after),
                ..
            } => (*retry_after <= self.max_delay)
                .then(|| *retry_after + self.base_delay.mul_f64(jitter)),
            ApiError::RateLimited {
                retry_after: None, ..
            }
            | ApiError::Server { .. }
            | ApiError::Transport { .. } => Some(self.backoff(attempt, jitter)),
            _ => None,
        }
    }

    /// `base × 2^(attempt−1)` capped at `max_delay`, then half fixed and half jittered.
    fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        let exp = self
            .base_delay
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let half = exp / 2;
        (half + half.mul_f64(jitter)).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend_api::Endpoint;
    use crate::http::HttpError;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }

    fn server() -> ApiError {
        ApiError::Server {
            endpoint: Endpoint::ListUsers,
            status: 503,
            clerk: None,
        }
    }

    fn limited(retry_after: Option<Duration>) -> ApiError {
        ApiError::RateLimited {
            endpoint: Endpoint::ListUsers,
            retry_after,
            clerk: None,
        }
    }

    #[test]
    fn retry_after_is_never_shortened() {
        let p = policy();
        for jitter in [0.0, 0.3, 1.0, -5.0, f64::NAN] {
            let d = p
                .next_delay(1, &limited(Some(Duration::from_secs(1))), jitter)
                .unwrap();
            assert!(d >= Duration::from_secs(1), "{d:?}");
            assert!(d <= Duration::from_secs(1) + p.base_delay, "{d:?}");
        }
        // Longer than we are willing to wait: give up, with the error saying why.
        assert_eq!(
            p.next_delay(1, &limited(Some(Duration::from_secs(60))), 0.5),
            None
        );
        // Without Retry-After: backoff.
        assert_eq!(
            p.next_delay(1, &limited(None), 0.0),
            Some(Duration::from_millis(50))
        );
    }

    #[test]
    fn backoff_is_exponential_capped_and_jittered_within_bounds() {
        let p = policy();
        let at = |attempt, jitter| p.next_delay(attempt, &server(), jitter).unwrap();
        assert_eq!(at(1, 0.0), Duration::from_millis(50));
        assert_eq!(at(1, 1.0), Duration::from_millis(100));
        assert_eq!(at(2, 1.0), Duration::from_millis(200));
        assert_eq!(at(3, 0.0), Duration::from_millis(200));
        assert_eq!(at(5, 1.0), Duration::from_millis(1600));
        for attempt in 1..10 {
            for jitter in [0.0, 0.25, 0.5, 0.99, 1.0, 7.0] {
                let d = at(attempt, jitter);
                assert!(d <= p.max_delay, "attempt {attempt}: {d:?}");
            }
        }
        // The cap holds for huge attempt numbers without overflow.
        let huge = RetryPolicy {
            max_attempts: u32::MAX,
            ..p
        };
        assert_eq!(
            huge.next_delay(u32::MAX - 1, &server(), 1.0),
            Some(Duration::from_secs(2))
        );
        let transport = ApiError::Transport {
            endpoint: Endpoint::GetUser,
            source: HttpError::Timeout,
        };
        assert_eq!(
            p.next_delay(2, &transport, 0.0),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn a_call_budget_bounds_tries_and_waits() {
        let within = CallBudget::default().retry_policy(&RetryPolicy::default());
        assert_eq!(within.max_attempts, 2);
        assert_eq!(within.max_delay, Duration::from_secs(1));
        // Clerk's Retry-After: 30 is not waited for within a 2 s budget.
        assert_eq!(
            within.next_delay(1, &limited(Some(Duration::from_secs(30))), 0.5),
            None
        );
        assert!(within.next_delay(1, &server(), 1.0).unwrap() <= Duration::from_secs(1));
        assert_eq!(within.next_delay(2, &server(), 1.0), None);
        let zero = CallBudget {
            tries: 0,
            total: Duration::ZERO,
        };
        assert_eq!(zero.retry_policy(&RetryPolicy::default()).max_attempts, 1);
    }

    #[test]
    fn attempts_run_out_and_other_errors_are_not_retried() {
        let p = policy();
        assert!(p.next_delay(9, &server(), 0.5).is_some());
        assert_eq!(p.next_delay(10, &server(), 0.5), None);
        assert_eq!(RetryPolicy::never().next_delay(1, &server(), 0.5), None);
        for error in [
            ApiError::NotFound {
                endpoint: Endpoint::GetUser,
                clerk: None,
            },
            ApiError::Unauthorized {
                endpoint: Endpoint::GetUser,
                status: 401,
                clerk: None,
            },
            ApiError::Status {
                endpoint: Endpoint::ListUsers,
                status: 422,
                clerk: None,
            },
            ApiError::Malformed {
                endpoint: Endpoint::ListUsers,
                expected: "page",
                detail: String::new(),
            },
            ApiError::InvalidLimit { limit: 501 },
        ] {
            assert_eq!(p.next_delay(1, &error, 0.5), None, "{error:?}");
        }
    }
}
