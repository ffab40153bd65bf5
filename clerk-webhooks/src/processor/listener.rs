//! Application hooks run after an event's effect is committed (the Django package's signals).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use clerk_core::store::{Applied, Effect};
use futures_util::FutureExt as _;

use crate::event::Event;

/// What a listener may return on failure: any error. The processor logs that the listener
/// failed (svix id, event type, listener index — not the error's text, which may hold
/// personal data) and otherwise ignores it.
pub type ListenerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A delivery whose effect is committed: what a [`Listener`] is told.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Committed<'a> {
    /// The delivery's svix id (recorded in the ledger with the effect).
    pub svix_id: &'a str,
    /// The verified, parsed event.
    pub event: &'a Event,
    /// One entry per store change, in order: the [`Effect`] and, for user changes, the
    /// local user id (`clerk_users.id`), so an application can key its own rows on it.
    /// Empty for an event type with no store effect.
    pub applied: &'a [Applied],
}

impl Committed<'_> {
    /// The event type, e.g. `user.updated`.
    #[must_use]
    pub fn event_type(&self) -> &str {
        self.event.event_type()
    }

    /// The effects, in order.
    pub fn effects(&self) -> impl Iterator<Item = Effect> + '_ {
        self.applied.iter().map(|a| a.effect)
    }

    /// Whether any change modified the store (an older or repeated event changes nothing).
    #[must_use]
    pub fn changed(&self) -> bool {
        self.effects().any(Effect::changed)
    }
}

/// An application hook, called after each newly committed delivery.
///
/// - Called **after commit**, in registration order, once per svix id the processor
///   records (replays answered [`AlreadyProcessed`](super::ProcessOutcome::AlreadyProcessed)
///   do not call it again), for applied *and* ignored event types (so an application can act on
///   `email.created` and other types the store ignores).
/// - **At most once**: a crash between the commit and the listener loses that call (Svix does
///   not redeliver a 2xx'd event). Keep must-not-lose work in the store batch, or make the
///   listener's own writes idempotent and reconcile.
/// - A listener that returns an error **or panics** is logged with `tracing::warn!` (svix id
///   and event type only) and skipped: the stored effect stays, the outcome and the HTTP
///   status do not change, and later listeners still run.
///
/// Implement it with a plain `async fn`:
///
/// ```
/// use clerk_webhooks::processor::{Committed, Listener, ListenerError};
///
/// struct Audit;
///
/// impl Listener for Audit {
///     async fn on_event(&self, committed: &Committed<'_>) -> Result<(), ListenerError> {
///         if committed.event_type() == "user.deleted" {
///             // remove the application's own data for this user …
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Listener: Send + Sync + 'static {
    /// Reacts to a committed delivery.
    fn on_event(
        &self,
        committed: &Committed<'_>,
    ) -> impl Future<Output = Result<(), ListenerError>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe face of a [`Listener`], so a processor can hold several kinds.
pub(crate) trait DynListener: Send + Sync + 'static {
    fn on_event_boxed<'a>(
        &'a self,
        committed: &'a Committed<'a>,
    ) -> BoxFuture<'a, Result<(), ListenerError>>;
}

impl<L: Listener> DynListener for L {
    fn on_event_boxed<'a>(
        &'a self,
        committed: &'a Committed<'a>,
    ) -> BoxFuture<'a, Result<(), ListenerError>> {
        Box::pin(self.on_event(committed))
    }
}

/// Runs every listener in order; failures and panics are logged and swallowed.
pub(crate) async fn notify(listeners: &[Box<dyn DynListener>], committed: &Committed<'_>) {
    for (index, listener) in listeners.iter().enumerate() {
        let run = AssertUnwindSafe(listener.on_event_boxed(committed)).catch_unwind();
        match run.await {
            Ok(Ok(())) => {}
            // The error's text is the application's and may hold personal data: not logged.
            Ok(Err(_error)) => tracing::warn!(
                svix_id = committed.svix_id,
                event_type = committed.event_type(),
                listener = index,
                "webhook listener failed; the stored effect stays"
            ),
            Err(_panic) => tracing::warn!(
                svix_id = committed.svix_id,
                event_type = committed.event_type(),
                listener = index,
                "webhook listener panicked; the stored effect stays"
            ),
        }
    }
}
