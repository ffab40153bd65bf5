//! Checks on how code uses the async runtime.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Runs `work` and counts how often another task on the same runtime got to run meanwhile.
///
/// On a current-thread runtime (`#[tokio::test]`'s default) a count of 0 means `work` held the
/// only thread the whole time, e.g. hashing a password inline instead of on the blocking pool.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use clerk_testkit::runtime::other_tasks_ran_during;
///
/// let (_, ran) = other_tasks_ran_during(async {
///     std::thread::sleep(std::time::Duration::from_millis(20)); // blocks the runtime
/// })
/// .await;
/// assert_eq!(ran, 0);
///
/// let (_, ran) = other_tasks_ran_during(tokio::task::spawn_blocking(|| {
///     std::thread::sleep(std::time::Duration::from_millis(20)); // does not
/// }))
/// .await;
/// assert!(ran > 0);
/// # }
/// ```
pub async fn other_tasks_ran_during<T>(work: impl Future<Output = T>) -> (T, usize) {
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = Arc::clone(&ticks);
        async move {
            loop {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    // Let the ticker start before the work does.
    tokio::task::yield_now().await;
    let before = ticks.load(Ordering::Relaxed);
    let output = work.await;
    let ran = ticks.load(Ordering::Relaxed) - before;
    ticker.abort();
    (output, ran)
}
