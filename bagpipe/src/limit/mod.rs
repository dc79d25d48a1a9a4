//! Limit strategies: what decides the limit a bagpipe admits calls under.
//!
//! A bagpipe's limit is either fixed ([`Fixed`], the default, today's behaviour at today's cost)
//! or adapted to the backend by a strategy that sees every completed call's latency and
//! [`Outcome`]: [`Aimd`] (loss-based), [`Vegas`] (queueing estimated from the no-load latency)
//! and [`Gradient2`] (long-term against short-term latency), after Netflix's
//! `concurrency-limits`. A user's own strategy implements [`Limit`].
//!
//! A strategy is consulted once per completed call, under a lock of its own (never the queue's),
//! and its answer is clamped to `[min, max]` (and to at least 1) before it becomes the limit.
//! A new limit takes effect as [`Bagpipe::set_limit`](crate::Bagpipe::set_limit) does: raising
//! it admits waiters at once, lowering it never preempts running calls. Every change is
//! reported as [`Event::Limit`](crate::Event::Limit).
//!
//! What a call's outcome is:
//!
//! | the call                                                   | [`Outcome`]                 |
//! |------------------------------------------------------------|-----------------------------|
//! | delivered its output (`push`, `run`, the tower layer)      | [`Outcome::Success`], or what the [classifier](crate::Builder::classify) says |
//! | ran past the execution [`timeout`](crate::Builder::timeout)| [`Outcome::Timeout`]        |
//! | was dropped while running (caller gone, panic)             | [`Outcome::Dropped`]        |
//! | a [`Permit`](crate::Permit) given back                     | [`Outcome::Success`], or what [`Permit::set_outcome`](crate::Permit::set_outcome) said |
//!
//! Latency is measured from the moment the call got its slot to the moment it gave it back, on
//! tokio's clock (so a paused clock in tests applies): time spent in the bagpipe's queue is not
//! the backend's latency and is not counted.

mod aimd;
mod gradient2;
mod vegas;
mod window;

use std::fmt;
use std::time::Duration;

pub use aimd::Aimd;
pub use gradient2::Gradient2;
pub use vegas::Vegas;

/// How a completed call ended, as a limit strategy sees it.
///
/// [`Overload`](Outcome::Overload) and [`Timeout`](Outcome::Timeout) are the congestion
/// signals ([`is_overload`](Outcome::is_overload)); the built-in strategies take latency from
/// [`Success`](Outcome::Success) (and, as a lower bound, from the congestion signals) and
/// ignore [`Error`](Outcome::Error) and [`Dropped`](Outcome::Dropped).
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::limit::Outcome;
///
/// assert!(Outcome::Timeout.is_overload());
/// assert!(!Outcome::Error.is_overload());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The call succeeded (or failed in a way that says nothing about load).
    Success,
    /// The call failed for a reason unrelated to load (a 404, a bad request): its latency is
    /// no measure of the backend's load.
    Error,
    /// The call failed because the backend is overloaded (a 503, "too many connections").
    Overload,
    /// The call ran past the bagpipe's execution timeout.
    Timeout,
    /// The call was dropped before it finished (its caller went away, or it panicked).
    Dropped,
}

impl Outcome {
    /// Whether this outcome says the backend is overloaded ([`Overload`](Outcome::Overload)
    /// or [`Timeout`](Outcome::Timeout)).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::limit::Outcome;
    ///
    /// assert!(Outcome::Overload.is_overload());
    /// assert!(!Outcome::Dropped.is_overload());
    /// ```
    #[must_use]
    pub fn is_overload(self) -> bool {
        matches!(self, Outcome::Overload | Outcome::Timeout)
    }
}

/// One completed call, as a [`Limit`] strategy sees it.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::limit::{Outcome, Sample};
/// use std::time::Duration;
///
/// let sample = Sample::new(Duration::from_millis(12), Outcome::Success, 7, 10);
/// assert_eq!((sample.in_flight, sample.limit), (7, 10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sample {
    /// From the moment the call got its slot to the moment it gave it back.
    pub latency: Duration,
    /// How the call ended.
    pub outcome: Outcome,
    /// How many slots were held when the call ended, its own included (a strategy compares it
    /// with `limit` to tell a busy limiter from an idle one).
    pub in_flight: usize,
    /// The limit when the call ended.
    pub limit: usize,
}

impl Sample {
    /// A sample, for testing a strategy of one's own.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::limit::{Aimd, Limit, Outcome, Sample};
    /// use std::time::Duration;
    ///
    /// let mut aimd = Aimd::default().initial_limit(20);
    /// let next = aimd.update(&Sample::new(Duration::from_millis(5), Outcome::Overload, 20, 20));
    /// assert_eq!(next, 18, "backs off by 10%");
    /// ```
    #[must_use]
    pub fn new(latency: Duration, outcome: Outcome, in_flight: usize, limit: usize) -> Self {
        Self {
            latency,
            outcome,
            in_flight,
            limit,
        }
    }
}

/// A strategy that decides a bagpipe's limit; install one with
/// [`Builder::limit`](crate::Builder::limit).
///
/// [`update`](Limit::update) is called once for every completed call (see the [module
/// docs](crate::limit) for what completed means), one call at a time, and returns the limit to
/// use from then on. The bagpipe clamps the answer to `[min(), max()]`, and to at least 1, so a
/// strategy cannot stall the bagpipe by answering 0. Keep `update` cheap: it runs in the task
/// that ended the call, under the strategy's lock.
///
/// # Examples
///
/// A strategy of one's own: halve the limit on every overload, grow by one on every success.
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
/// use nodebook_bagpipe::limit::{Limit, Sample};
///
/// #[derive(Debug, Clone)]
/// struct Halving(usize);
///
/// impl Limit for Halving {
///     fn initial(&self) -> usize {
///         self.0
///     }
///     fn update(&mut self, sample: &Sample) -> usize {
///         self.0 = if sample.outcome.is_overload() { self.0 / 2 } else { self.0 + 1 };
///         self.0
///     }
///     fn max(&self) -> usize {
///         100
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::builder(0).limit(Halving(8)).build();
/// assert_eq!(pipe.limit(), 8);
/// pipe.run(async {}).await.unwrap();
/// assert_eq!(pipe.limit(), 9);
/// # }
/// ```
pub trait Limit: fmt::Debug + Send + 'static {
    /// The limit to start with.
    fn initial(&self) -> usize;

    /// Sees one completed call and returns the limit to use from now on.
    fn update(&mut self, sample: &Sample) -> usize;

    /// The lowest limit the bagpipe will use (at least 1 whatever this says); 1 by default.
    fn min(&self) -> usize {
        1
    }

    /// The highest limit the bagpipe will use; unbounded by default.
    fn max(&self) -> usize {
        usize::MAX
    }
}

/// A fixed limit: the default, with no measurement and no cost on the uncontended path.
///
/// `Bagpipe::builder(n)` is `Bagpipe::builder(n).limit(Fixed(n))`.
/// [`Bagpipe::set_limit`](crate::Bagpipe::set_limit) still changes it at runtime.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
/// use nodebook_bagpipe::limit::Fixed;
///
/// let pipe = Bagpipe::builder(0).limit(Fixed(16)).build();
/// assert_eq!(pipe.limit(), 16);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed(pub usize);

impl Limit for Fixed {
    fn initial(&self) -> usize {
        self.0
    }

    fn update(&mut self, sample: &Sample) -> usize {
        sample.limit
    }

    fn min(&self) -> usize {
        0
    }
}

/// `max(1, log10(limit))`, the step the Vegas family uses.
pub(crate) fn log10_step(limit: f64) -> f64 {
    limit.max(1.0).log10().max(1.0)
}

/// A strategy's own estimate, kept with its fraction between samples, unless the limit in use
/// differs from it (set with `set_limit`, or clamped): then the limit in use.
pub(crate) fn follow(estimate: f64, in_use: usize) -> f64 {
    if estimate as usize == in_use {
        estimate
    } else {
        in_use as f64
    }
}
