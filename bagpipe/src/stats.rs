//! Counters of what a bagpipe did since it was built.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::adaptive::AdaptiveCounters;

/// A snapshot of a bagpipe's counters, from [`Bagpipe::stats`](crate::Bagpipe::stats).
///
/// Every count starts at zero when the bagpipe is built. A disabled bagpipe counts nothing.
/// The counts are read without stopping the bagpipe: while calls start and end concurrently,
/// `admitted` and `completed` may be off by the calls in flight (and `completed` may step back
/// by one); once the bagpipe is quiet they are exact.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::new(2);
/// pipe.run(async {}).await.unwrap();
/// let stats = pipe.stats();
/// assert_eq!((stats.admitted, stats.completed), (1, 1));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Slots handed out: calls that started running and permits, plus waiters granted a slot
    /// that were dropped before they could use it.
    pub admitted: u64,
    /// Calls refused because the queue was full ([`Error::TooMuchAsyncCall`](crate::Error)).
    pub refused: u64,
    /// Calls that gave up waiting in the queue ([`Error::QueueTimeout`](crate::Error)).
    pub queue_timeouts: u64,
    /// Calls that ran past the execution timeout ([`Error::Timeout`](crate::Error)).
    pub timeouts: u64,
    /// Detached calls that finished after their timeout (`outdated` events).
    pub outdated: u64,
    /// Calls that ran to the end within their timeout and delivered their output, and permits
    /// that were given back (a permit's work ends when it is dropped).
    pub completed: u64,
    /// Pushed calls that panicked ([`Error::Panicked`](crate::Error)).
    pub panicked: u64,
    /// Calls an adaptive [`Limit`](crate::limit::Limit) measured (0 under a fixed limit).
    pub samples: u64,
    /// Measured calls that signalled overload: timeouts and
    /// [`Outcome::Overload`](crate::limit::Outcome::Overload).
    pub overloads: u64,
    /// Times the adaptive strategy raised the limit.
    pub limit_increases: u64,
    /// Times the adaptive strategy lowered the limit.
    pub limit_decreases: u64,
}

/// The counters kept apart from the admission word. `admitted` and `completed` are derived from
/// the release count that the admission machine keeps in its state word (see `slots`), so the
/// uncontended path bumps no counter of its own.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) other_releases: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) queue_timeouts: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) outdated: AtomicU64,
    pub(crate) panicked: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(
        &self,
        released: u64,
        active: u64,
        adaptive: Option<&AdaptiveCounters>,
    ) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            admitted: released + active,
            refused: read(&self.refused),
            queue_timeouts: read(&self.queue_timeouts),
            timeouts: read(&self.timeouts),
            outdated: read(&self.outdated),
            completed: released.saturating_sub(read(&self.other_releases)),
            panicked: read(&self.panicked),
            samples: adaptive.map_or(0, |counters| read(&counters.samples)),
            overloads: adaptive.map_or(0, |counters| read(&counters.overloads)),
            limit_increases: adaptive.map_or(0, |counters| read(&counters.increases)),
            limit_decreases: adaptive.map_or(0, |counters| read(&counters.decreases)),
        }
    }
}
