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
//! The gate also carries the [`LoginThrottle`] (failed logins per username and per client
//! address, counted in the store): [`gated_staff_login`] asks it before admission, so a
//! locked username or address costs two store reads and no argon2 work.
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

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::login_throttle::{
    address_key, username_key, LoginThrottle, ThrottleDecision, ThrottleScope,
};
use crate::model::User;
use crate::password::{LocalLoginError, PendingLogin};
use crate::store::{LoginAttemptStore, StoreError, UserStore};
use crate::time::UnixTime;

/// How long a refused client is told to wait (`Retry-After`): a few checks' worth.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The bound, and the failed-login policy; cheap to clone (clones share the bound).
#[derive(Debug, Clone)]
pub struct LoginGate {
    inner: Arc<Inner>,
    throttle: LoginThrottle,
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
            throttle: LoginThrottle::DEFAULT,
        }
    }

    /// This gate with another failed-login policy (the default is
    /// [`LoginThrottle::DEFAULT`]: 5 failures per username, 20 per address, in 15 minutes).
    /// The bound stays shared with the gate's clones.
    #[must_use]
    pub fn with_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.throttle = throttle;
        self
    }

    /// The failed-login policy [`gated_staff_login`] applies.
    #[must_use]
    pub fn throttle(&self) -> &LoginThrottle {
        &self.throttle
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
    /// Too many recent failures for the username or from the client address
    /// ([`LoginThrottle`]): answer 429 with `Retry-After`, whatever the password; nothing was
    /// checked.
    #[error("too many failed logins; retry after {retry_after:?}")]
    Throttled {
        /// The `Retry-After` to answer with (whole seconds, at least 1 s).
        retry_after: Duration,
        /// Which limit was reached (for logs; tell the client the same either way).
        scope: ThrottleScope,
    },
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

/// A staff login through `gate`, from `client` (the peer address the adapter saw; `None`:
/// only the username is throttled), at `now`:
///
/// 1. the throttle first ([`LoginGate::throttle`]): the recent failures for the username
///    ([`username_key`]) and the address ([`address_key`]) are read from `store`, and a
///    locked attempt is refused with [`GatedLoginError::Throttled`] before admission, the
///    lookup or any argon2 work — even with the right password;
/// 2. admission (a full gate refuses at once, before any lookup or argon2 work);
/// 3. the store lookup ([`PendingLogin::staff`]) and the argon2 check handed to
///    `run_blocking` (the adapters pass tokio's `spawn_blocking`; `None` when the task did
///    not complete). The permit lives inside the blocking job, so a client that hangs up
///    does not free its slot while argon2 still runs;
/// 4. a refused login (unknown user, wrong password, not staff, inactive, an unusable hash)
///    records a failure under both keys (forgetting failures older than the longest window);
///    a successful one clears the username's failures (not the address's).
///
/// The throttle fails closed: when the failures cannot be read or recorded the login answers
/// [`LocalLoginError::Store`] (503), so an unavailable counter never grants free guesses.
///
/// # Errors
/// [`GatedLoginError`].
pub async fn gated_staff_login<S, F, Fut>(
    gate: &LoginGate,
    store: &S,
    username: &str,
    password: &str,
    client: Option<IpAddr>,
    now: UnixTime,
    run_blocking: F,
) -> Result<User, GatedLoginError>
where
    S: UserStore + LoginAttemptStore + ?Sized,
    F: FnOnce(BlockingCheck) -> Fut,
    Fut: std::future::Future<Output = Option<Result<User, LocalLoginError>>>,
{
    let throttle = gate.throttle();
    let user_key = username_key(username);
    let address_key = client.map(address_key);
    let (name_limit, address_limit) = (throttle.username, throttle.address);
    let by_name = store
        .recent_login_failures(
            &user_key,
            now.saturating_sub(name_limit.window),
            name_limit.failures,
        )
        .await
        .map_err(store_failed)?;
    let by_address = match &address_key {
        Some(key) => store
            .recent_login_failures(
                key,
                now.saturating_sub(address_limit.window),
                address_limit.failures,
            )
            .await
            .map_err(store_failed)?,
        None => Vec::new(),
    };
    if let ThrottleDecision::Locked { retry_after, scope } =
        throttle.decide(&by_name, &by_address, now)
    {
        return Err(GatedLoginError::Throttled { retry_after, scope });
    }

    let permit = gate.enter().await?;
    let pending = PendingLogin::staff(store, username).await?;
    let password = password.to_owned();
    let job: BlockingCheck = Box::new(move || {
        let _permit = permit;
        pending.check(&password)
    });
    match run_blocking(job).await {
        None => Err(GatedLoginError::NotCompleted),
        Some(Ok(user)) => {
            if let Err(error) = store.clear_login_failures(&user_key).await {
                // The login stands; the old failures only age out instead.
                tracing::warn!(%error, "could not clear a staff user's failed logins");
            }
            Ok(user)
        }
        Some(Err(LocalLoginError::Store(error))) => Err(store_failed(error)),
        Some(Err(refused)) => {
            let mut keys = vec![user_key.as_str()];
            keys.extend(address_key.as_deref());
            let forget_before = now.saturating_sub(throttle.longest_window());
            store
                .record_login_failure(&keys, now, forget_before)
                .await
                .map_err(store_failed)?;
            Err(GatedLoginError::Login(refused))
        }
    }
}

fn store_failed(error: StoreError) -> GatedLoginError {
    GatedLoginError::Login(LocalLoginError::Store(error))
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

    /// One staff user (`staff`, password [`GOOD`]) and a failure log, counting argon2 checks.
    struct Staffed {
        staff: User,
        failures: std::sync::Mutex<Vec<(String, UnixTime)>>,
        down: std::sync::atomic::AtomicBool,
    }

    const GOOD: &str = "a long enough password";

    fn staffed() -> Staffed {
        let mut new = crate::model::NewLocalUser::new("staff");
        new.is_staff = true;
        new.password_hash = Some(crate::password::hash_password(GOOD, &[7; 16]).unwrap());
        Staffed {
            staff: User::from_local(crate::model::UserId(1), &new, UnixTime::from_secs(1)),
            failures: std::sync::Mutex::default(),
            down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    #[crate::store::async_trait]
    impl UserStore for Staffed {
        async fn user(&self, _: crate::model::UserId) -> Result<Option<User>, StoreError> {
            Ok(None)
        }
        async fn user_by_clerk_id(&self, _: &str) -> Result<Option<User>, StoreError> {
            Ok(None)
        }
        async fn user_by_email(&self, _: &str) -> Result<Option<User>, StoreError> {
            Ok(None)
        }
        async fn local_user_by_username(&self, name: &str) -> Result<Option<User>, StoreError> {
            Ok((name == "staff").then(|| self.staff.clone()))
        }
        async fn list_users(
            &self,
            _: Option<crate::model::UserId>,
            _: usize,
        ) -> Result<Vec<User>, StoreError> {
            Ok(Vec::new())
        }
    }

    #[crate::store::async_trait]
    impl LoginAttemptStore for Staffed {
        async fn record_login_failure(
            &self,
            keys: &[&str],
            at: UnixTime,
            forget_before: UnixTime,
        ) -> Result<(), StoreError> {
            if self.down.load(Ordering::Acquire) {
                return Err(StoreError::unavailable("down"));
            }
            let mut failures = self.failures.lock().unwrap();
            failures.retain(|(_, t)| *t >= forget_before);
            failures.extend(keys.iter().map(|k| ((*k).to_owned(), at)));
            Ok(())
        }
        async fn recent_login_failures(
            &self,
            key: &str,
            since: UnixTime,
            limit: usize,
        ) -> Result<Vec<UnixTime>, StoreError> {
            let failures = self.failures.lock().unwrap();
            let mut found: Vec<UnixTime> = failures
                .iter()
                .filter(|(k, t)| k == key && *t >= since)
                .map(|(_, t)| *t)
                .collect();
            found.sort_unstable_by(|a, b| b.cmp(a));
            found.truncate(limit);
            Ok(found)
        }
        async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
            self.failures.lock().unwrap().retain(|(k, _)| k != key);
            Ok(())
        }
    }

    /// A login at `now` (seconds) from `client`; the check runs inline and is counted.
    fn attempt(
        store: &Staffed,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
        now: i64,
        checks: &AtomicUsize,
    ) -> Result<User, GatedLoginError> {
        let gate = gate(1, 0);
        gated_staff_login(
            &gate,
            store,
            username,
            password,
            client,
            UnixTime::from_secs(now),
            |job| async move {
                checks.fetch_add(1, Ordering::AcqRel);
                Some(job())
            },
        )
        .now_or_never()
        .expect("nothing waits")
    }

    fn throttled(result: Result<User, GatedLoginError>) -> Option<(Duration, ThrottleScope)> {
        match result {
            Err(GatedLoginError::Throttled { retry_after, scope }) => Some((retry_after, scope)),
            _ => None,
        }
    }

    #[test]
    fn five_failures_lock_the_username_even_with_the_right_password() {
        let store = staffed();
        let checks = AtomicUsize::new(0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..5 {
            let refused = attempt(&store, "staff", "wrong", Some(ip), 1000 + i, &checks);
            assert!(matches!(
                refused,
                Err(GatedLoginError::Login(LocalLoginError::InvalidCredentials))
            ));
        }
        assert_eq!(checks.load(Ordering::Acquire), 5);
        // The right password now: refused unchecked, until the first failure is 15 min old.
        let locked = attempt(&store, "Staff ", GOOD, Some(ip), 1010, &checks);
        assert_eq!(
            throttled(locked),
            Some((Duration::from_secs(890), ThrottleScope::Username))
        );
        assert_eq!(checks.load(Ordering::Acquire), 5, "no argon2 work");
        let still = attempt(&store, "staff", GOOD, None, 1000 + 899, &checks);
        assert_eq!(
            throttled(still),
            Some((Duration::from_secs(1), ThrottleScope::Username))
        );
        // The first failure has left the window: four remain, the login succeeds and clears.
        let user = attempt(&store, "staff", GOOD, Some(ip), 1900, &checks).unwrap();
        assert_eq!(user.username.as_deref(), Some("staff"));
        let failures = store.failures.lock().unwrap().clone();
        assert!(
            failures.iter().all(|(k, _)| k != "user:staff"),
            "{failures:?}"
        );
        assert_eq!(
            failures
                .iter()
                .filter(|(k, _)| k == "addr:192.0.2.1")
                .count(),
            5,
            "a success does not clear the address"
        );
    }

    #[test]
    fn twenty_failures_from_one_address_lock_it_for_every_username() {
        let store = staffed();
        let checks = AtomicUsize::new(0);
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for i in 0..20 {
            let name = format!("nobody{i}");
            let refused = attempt(&store, &name, "guess", Some(ip), 1000, &checks);
            assert!(throttled(refused).is_none(), "attempt {i} is not throttled");
        }
        let locked = attempt(&store, "staff", GOOD, Some(ip), 1001, &checks);
        assert_eq!(
            throttled(locked),
            Some((Duration::from_secs(899), ThrottleScope::Address))
        );
        // Another address, or none, is not locked.
        let other: IpAddr = "192.0.2.10".parse().unwrap();
        assert!(attempt(&store, "staff", GOOD, Some(other), 1001, &checks).is_ok());
        assert!(attempt(&store, "staff", GOOD, None, 1001, &checks).is_ok());
    }

    #[test]
    fn refusals_of_every_kind_count_and_old_failures_are_forgotten() {
        let store = staffed();
        let checks = AtomicUsize::new(0);
        let _ = attempt(&store, "ghost", GOOD, None, 1000, &checks);
        let _ = attempt(&store, "staff", "", None, 1000, &checks);
        let failures = store.failures.lock().unwrap().clone();
        assert_eq!(failures.len(), 2, "{failures:?}");
        // An hour later, a failure forgets the rows older than the window.
        let _ = attempt(&store, "staff", "wrong", None, 4600, &checks);
        let failures = store.failures.lock().unwrap().clone();
        assert_eq!(
            failures,
            vec![("user:staff".to_owned(), UnixTime::from_secs(4600))]
        );
    }

    #[test]
    fn a_failure_that_cannot_be_recorded_is_a_store_failure() {
        let store = staffed();
        store.down.store(true, Ordering::Release);
        let checks = AtomicUsize::new(0);
        let refused = attempt(&store, "staff", "wrong", None, 1000, &checks);
        assert!(matches!(
            refused,
            Err(GatedLoginError::Login(LocalLoginError::Store(_)))
        ));
    }
}
