//! A bound on concurrent password checks ([design §8](https://github.com/clerk-rs/clerk-rs-workspace/blob/main/docs/design.md#8-the-example-applications)).
//!
//! An argon2 check of a staff login takes ~19 MiB and tens of milliseconds of one CPU, and it
//! runs for every attempt, known username or not. Without a bound, a flood of anonymous
//! `POST /admin/login` requests queues hundreds of checks on the blocking pool at once (600
//! need ~9.5 GiB) and takes the process down. A [`LoginGate`] lets `concurrency` checks run
//! and `queue` more wait; an attempt beyond that is refused at once with [`GateFull`], which
//! the adapters answer with 503 and `Retry-After`, so memory stays bounded by
//! `concurrency × 19 MiB` whatever arrives.
//!
//! The gate is runtime-agnostic (an `async-lock` semaphore); the adapters hold a
//! [`LoginPermit`] for the whole check, inside the blocking task, so a client that hangs up
//! mid-check does not free a slot while argon2 is still running.
//!
//! ```
//! # futures_util::FutureExt::now_or_never(async {
//! use std::num::NonZeroUsize;
//! use clerk_core::login_gate::LoginGate;
//!
//! let gate = LoginGate::new(NonZeroUsize::new(1).unwrap(), 1);
//! let running = gate.enter().await?;   // runs now
//! let waiting = gate.enter();          // would wait for `running`…
//! let refused = gate.try_enter();      // …and a third is refused
//! assert!(refused.is_err());
//! drop(running);
//! let _now_running = waiting.await?;
//! # Ok::<(), clerk_core::login_gate::GateFull>(())
//! # }).unwrap().unwrap();
//! ```

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::model::User;
use crate::password::{LocalLoginError, PendingLogin};
use crate::store::UserStore;

/// How long a refused client is told to wait (`Retry-After`): a few checks' worth.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The bound; cheap to clone (clones share it).
#[derive(Debug, Clone)]
pub struct LoginGate {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    running: Arc<async_lock::Semaphore>,
    /// Running plus waiting.
    admitted: AtomicUsize,
    capacity: usize,
    concurrency: usize,
}

/// The gate is full: `concurrency` checks run and `queue` wait. Answer 503 with
/// `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once; retry after {retry_after:?}")]
pub struct GateFull {
    /// The `Retry-After` to answer with.
    pub retry_after: Duration,
}

/// One admitted check; the slot is freed when it drops.
#[derive(Debug)]
#[must_use = "the check is admitted only while the permit lives"]
pub struct LoginPermit {
    _running: async_lock::SemaphoreGuardArc,
    _admitted: Admitted,
}

/// Counts one admitted attempt until dropped (also while it still waits for a run slot, so a
/// waiter whose request is cancelled leaves the count right).
#[derive(Debug)]
struct Admitted(Arc<Inner>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl LoginGate {
    /// At most `concurrency` checks at once and `queue` more waiting.
    #[must_use]
    pub fn new(concurrency: NonZeroUsize, queue: usize) -> Self {
        let concurrency = concurrency.get();
        LoginGate {
            inner: Arc::new(Inner {
                running: Arc::new(async_lock::Semaphore::new(concurrency)),
                admitted: AtomicUsize::new(0),
                capacity: concurrency.saturating_add(queue),
                concurrency,
            }),
        }
    }

    /// [`new`](Self::new) with the default queue: twice `concurrency` (a short queue, so a
    /// burst of honest logins waits a little instead of being refused).
    #[must_use]
    pub fn with_default_queue(concurrency: NonZeroUsize) -> Self {
        Self::new(concurrency, concurrency.get().saturating_mul(2))
    }

    /// The gate for `CLERK_STAFF_LOGIN_CONCURRENCY` ([`ClerkConfig::staff_login_concurrency`](crate::ClerkConfig::staff_login_concurrency)):
    /// `checks` at once, or the number of CPUs when `None`, with the default queue.
    #[must_use]
    pub fn from_setting(checks: Option<NonZeroUsize>) -> Self {
        let checks = checks
            .or_else(|| std::thread::available_parallelism().ok())
            .unwrap_or(NonZeroUsize::MIN);
        Self::with_default_queue(checks)
    }

    /// How many checks may run at once.
    #[must_use]
    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    fn admit(&self) -> Result<Admitted, GateFull> {
        let inner = &self.inner;
        let mut admitted = inner.admitted.load(Ordering::Acquire);
        loop {
            if admitted >= inner.capacity {
                return Err(GateFull {
                    retry_after: RETRY_AFTER,
                });
            }
            match inner.admitted.compare_exchange_weak(
                admitted,
                admitted + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(Admitted(Arc::clone(inner))),
                Err(now) => admitted = now,
            }
        }
    }

    /// Admits one check, waiting in the queue for a run slot if need be.
    ///
    /// # Errors
    /// [`GateFull`] at once when the queue is full too.
    pub async fn enter(&self) -> Result<LoginPermit, GateFull> {
        let admitted = self.admit()?;
        let running = self.inner.running.acquire_arc().await;
        Ok(LoginPermit {
            _running: running,
            _admitted: admitted,
        })
    }

    /// Admits one check only if a run slot is free now.
    ///
    /// # Errors
    /// [`GateFull`] when every run slot is taken (whatever the queue holds).
    pub fn try_enter(&self) -> Result<LoginPermit, GateFull> {
        let admitted = self.admit()?;
        match self.inner.running.try_acquire_arc() {
            Some(running) => Ok(LoginPermit {
                _running: running,
                _admitted: admitted,
            }),
            None => Err(GateFull {
                retry_after: RETRY_AFTER,
            }),
        }
    }
}

/// Why a [`gated_staff_login`] did not return a user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatedLoginError {
    /// The gate is full: answer 503 with `Retry-After`.
    #[error(transparent)]
    Busy(#[from] GateFull),
    /// The lookup or the check refused or failed (see [`LocalLoginError`]).
    #[error(transparent)]
    Login(#[from] LocalLoginError),
    /// The blocking task did not complete (it panicked, or the runtime is shutting down).
    #[error("the password check did not complete")]
    NotCompleted,
}

/// A password check to run off the async executor: what [`gated_staff_login`] hands to its
/// `run_blocking` argument.
pub type BlockingCheck = Box<dyn FnOnce() -> Result<User, LocalLoginError> + Send>;

/// A staff login through `gate`: admission first (a full gate refuses at once, before any
/// store or argon2 work), then the store lookup ([`PendingLogin::staff`]), then the argon2
/// check handed to `run_blocking` (the adapters pass tokio's `spawn_blocking`; `None` when the
/// task did not complete). The permit lives inside the blocking job, so a client that hangs up
/// does not free its slot while argon2 still runs.
///
/// # Errors
/// [`GatedLoginError`].
pub async fn gated_staff_login<S, F, Fut>(
    gate: &LoginGate,
    store: &S,
    username: &str,
    password: &str,
    run_blocking: F,
) -> Result<User, GatedLoginError>
where
    S: UserStore + ?Sized,
    F: FnOnce(BlockingCheck) -> Fut,
    Fut: std::future::Future<Output = Option<Result<User, LocalLoginError>>>,
{
    let permit = gate.enter().await?;
    let pending = PendingLogin::staff(store, username).await?;
    let password = password.to_owned();
    let job: BlockingCheck = Box::new(move || {
        let _permit = permit;
        pending.check(&password)
    });
    match run_blocking(job).await {
        Some(checked) => Ok(checked?),
        None => Err(GatedLoginError::NotCompleted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn gate(concurrency: usize, queue: usize) -> LoginGate {
        LoginGate::new(NonZeroUsize::new(concurrency).unwrap(), queue)
    }

    #[test]
    fn runs_concurrency_checks_queues_the_next_and_refuses_the_rest() {
        let gate = gate(2, 1);
        let a = gate.enter().now_or_never().unwrap().unwrap();
        let b = gate.enter().now_or_never().unwrap().unwrap();
        let mut queued = Box::pin(gate.enter());
        assert!(queued.as_mut().now_or_never().is_none(), "the third waits");
        let refused = gate.enter().now_or_never().unwrap();
        assert_eq!(refused.unwrap_err().retry_after, RETRY_AFTER);
        drop(a);
        let c = queued.now_or_never().unwrap().unwrap();
        drop((b, c));
        assert_eq!(gate.inner.admitted.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_cancelled_waiter_gives_its_queue_place_back() {
        let gate = gate(1, 1);
        let running = gate.enter().now_or_never().unwrap().unwrap();
        let mut waiter = Box::pin(gate.enter());
        assert!(waiter.as_mut().now_or_never().is_none());
        assert!(gate.enter().now_or_never().unwrap().is_err(), "queue full");
        drop(waiter); // the client hung up while waiting
        let mut again = Box::pin(gate.enter());
        assert!(
            again.as_mut().now_or_never().is_none(),
            "queued again, not refused"
        );
        drop(running);
        assert!(again.now_or_never().unwrap().is_ok());
    }

    #[test]
    fn many_attempts_never_admit_more_than_the_capacity() {
        let gate = gate(3, 5);
        let mut held = Vec::new();
        let mut refused = 0;
        let mut waiting = Vec::new();
        for _ in 0..600 {
            let mut attempt = Box::pin(gate.enter());
            match attempt.as_mut().now_or_never() {
                Some(Ok(permit)) => held.push(permit),
                Some(Err(_)) => refused += 1,
                None => waiting.push(attempt),
            }
        }
        assert_eq!((held.len(), waiting.len(), refused), (3, 5, 592));
    }
}
