//! The mock's shared state: configuration, served keys, fault plan and request counters.
//!
//! One `Arc<MockState>` is shared by every route handler and every [`MockClerk`](super::MockClerk)
//! handle. New endpoints add their counters to [`Counters`] and read whatever else they need here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use tokio::sync::watch;

use super::backend::BackendState;
use super::fault::Fault;
use crate::keys::TestKeyPair;

/// Requests received by one endpoint.
#[derive(Debug, Default)]
pub(crate) struct EndpointCounter {
    total: AtomicU64,
    ok: AtomicU64,
}

impl EndpointCounter {
    /// A request arrived (counted before faults and authentication are applied).
    pub(crate) fn hit(&self) {
        self.total.fetch_add(1, Ordering::SeqCst);
    }

    /// The request was answered successfully (2xx with the real body).
    pub(crate) fn ok(&self) {
        self.ok.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    pub(crate) fn succeeded(&self) -> u64 {
        self.ok.load(Ordering::SeqCst)
    }

    fn reset(&self) {
        self.total.store(0, Ordering::SeqCst);
        self.ok.store(0, Ordering::SeqCst);
    }
}

/// One counter per endpoint.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// `GET /v1/jwks`.
    pub(crate) jwks: EndpointCounter,
}

impl Counters {
    fn reset(&self) {
        self.jwks.reset();
    }
}

/// Which fault the next requests get.
#[derive(Debug, Default)]
struct FaultPlan {
    /// Consumed one per request, before `steady` applies.
    burst: VecDeque<Fault>,
    /// Applies whenever the burst is empty.
    steady: Fault,
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct MockState {
    pub(crate) secret_key: String,
    pub(crate) frontend_host: String,
    keys: RwLock<Vec<TestKeyPair>>,
    faults: Mutex<FaultPlan>,
    pub(crate) counters: Counters,
    /// The Backend API's data set, rate limit and request log.
    pub(crate) backend: BackendState,
    /// The webhooks the writes send.
    pub(crate) webhooks: std::sync::Arc<super::outbox::Outbox>,
    /// The machine credentials tests issued (`machine.rs`).
    pub(crate) backend_machine: super::machine::MachineState,
    /// Flips to `true` when the server shuts down (cuts injected delays short).
    pub(crate) shutting_down: watch::Receiver<bool>,
}

impl MockState {
    pub(crate) fn new(
        secret_key: String,
        frontend_host: String,
        keys: Vec<TestKeyPair>,
        shutting_down: watch::Receiver<bool>,
    ) -> Self {
        MockState {
            secret_key,
            frontend_host,
            keys: RwLock::new(keys),
            faults: Mutex::new(FaultPlan::default()),
            counters: Counters::default(),
            backend: BackendState::default(),
            webhooks: std::sync::Arc::new(super::outbox::Outbox::new()),
            backend_machine: super::machine::MachineState::default(),
            shutting_down,
        }
    }

    // A panic while holding one of these locks cannot leave the data half-updated (every
    // critical section is a single assignment or push), so a poisoned lock is still usable.

    pub(crate) fn keys(&self) -> Vec<TestKeyPair> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn replace_keys(&self, keys: Vec<TestKeyPair>) -> Vec<TestKeyPair> {
        let mut guard = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *guard, keys)
    }

    pub(crate) fn add_key(&self, key: TestKeyPair) {
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key);
    }

    pub(crate) fn remove_key(&self, kid: &str) -> Option<TestKeyPair> {
        let mut guard = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let index = guard.iter().position(|k| k.kid() == kid)?;
        Some(guard.remove(index))
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, FaultPlan> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_fault(&self, fault: Fault) {
        self.plan().steady = fault;
    }

    pub(crate) fn steady_fault(&self) -> Fault {
        self.plan().steady.clone()
    }

    pub(crate) fn push_burst(&self, n: usize, fault: Fault) {
        let mut plan = self.plan();
        for _ in 0..n {
            plan.burst.push_back(fault.clone());
        }
    }

    pub(crate) fn pending_burst(&self) -> usize {
        self.plan().burst.len()
    }

    pub(crate) fn clear_faults(&self) {
        let mut plan = self.plan();
        plan.burst.clear();
        plan.steady = Fault::None;
    }

    /// The fault for the request that just arrived: the next burst entry, else the steady one.
    pub(crate) fn next_fault(&self) -> Fault {
        let mut plan = self.plan();
        match plan.burst.pop_front() {
            Some(fault) => fault,
            None => plan.steady.clone(),
        }
    }

    pub(crate) fn reset_counters(&self) {
        self.counters.reset();
        self.backend.reset_counters();
        self.backend_machine.reset_counters();
    }
}
