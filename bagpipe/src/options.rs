//! A bagpipe's options, set once by its builder.

use std::time::Duration;

use crate::slots::Discipline;

/// What happens to a call that runs past the execution timeout.
///
/// Either way its caller gets [`Error::Timeout`](crate::Error::Timeout) and its slot is freed
/// at once, so the next waiter runs.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::{Bagpipe, OnTimeout};
/// use std::time::Duration;
///
/// let pipe = Bagpipe::builder(4)
///     .timeout(Duration::from_secs(1))
///     .on_timeout(OnTimeout::Detach)
///     .build();
/// # drop(pipe);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnTimeout {
    /// Drop the late future: its work stops at its next `.await` (tower's `Timeout` does this).
    #[default]
    Cancel,
    /// Let the late future finish on its own task, outside the limit, and report its result as
    /// an [`Event::Outdated`](crate::Event::Outdated) (the book's behaviour). Applies to
    /// [`Bagpipe::push`](crate::Bagpipe::push); [`Bagpipe::run`](crate::Bagpipe::run) borrows its future and cannot outlive it, so it
    /// always cancels.
    Detach,
}

/// How the wait queue serves, and sheds, waiters under overload; set with
/// [`Builder::queue_discipline`](crate::Builder::queue_discipline). FIFO by default.
///
/// A FIFO queue under a steady overload serves every caller late: each waits behind everyone
/// who arrived before it, and by the time its turn comes its own caller may have given up.
/// Two remedies, which combine with each other and with `queue_length`, `refuse` and
/// `queue_timeout`:
///
/// - **Adaptive LIFO** ([`adaptive_lifo`](QueueDiscipline::adaptive_lifo)), as Facebook's
///   servers do: while the oldest waiter has waited longer than a threshold, a freed slot
///   goes to the newest waiter, whose caller is still there; the old ones wait on until the
///   queue is short again or their `queue_timeout` ends them. Without overload the oldest has
///   never waited that long and the queue is FIFO.
/// - **A CoDel-style queue deadline** ([`codel`](QueueDiscipline::codel)): when every waiter
///   granted a slot for a whole `interval` had waited longer than `target` (the queue's
///   minimum sojourn time stayed above its target: a standing queue, not a burst), a freed
///   slot skips the waiters that waited longer than `target` and ends them with
///   [`Error::QueueTimeout`](crate::Error::QueueTimeout) carrying `target`.
///
/// Both decide when a slot frees, under the queue's lock, and read the clock only when one of
/// them is on.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::{Bagpipe, QueueDiscipline};
/// use std::time::Duration;
///
/// let ms = Duration::from_millis;
/// let pipe = Bagpipe::builder(10)
///     .queue_timeout(ms(500))
///     .queue_discipline(
///         QueueDiscipline::fifo()
///             .adaptive_lifo(ms(50))
///             .codel(ms(20), ms(100)),
///     )
///     .build();
/// # drop(pipe);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDiscipline {
    pub(crate) inner: Discipline,
}

impl QueueDiscipline {
    /// First come, first served: the default.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::QueueDiscipline;
    /// assert_eq!(QueueDiscipline::fifo(), QueueDiscipline::default());
    /// ```
    #[must_use]
    pub fn fifo() -> Self {
        Self::default()
    }

    /// Serve the newest waiter first while the oldest has waited longer than `after`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::QueueDiscipline;
    /// let lifo = QueueDiscipline::fifo().adaptive_lifo(std::time::Duration::from_millis(50));
    /// assert_ne!(lifo, QueueDiscipline::fifo());
    /// ```
    #[must_use]
    pub fn adaptive_lifo(mut self, after: std::time::Duration) -> Self {
        self.inner.lifo_after = Some(after);
        self
    }

    /// Shed waiters that waited longer than `target` once every waiter granted over a whole
    /// `interval` had (CoDel's defaults for packets are 5 ms and 100 ms; for calls, pick a
    /// target well under the callers' deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::QueueDiscipline;
    /// use std::time::Duration;
    /// let codel = QueueDiscipline::fifo().codel(Duration::from_millis(20), Duration::from_millis(100));
    /// assert_ne!(codel, QueueDiscipline::fifo());
    /// ```
    #[must_use]
    pub fn codel(mut self, target: std::time::Duration, interval: std::time::Duration) -> Self {
        self.inner.codel = Some((target, interval));
        self
    }
}

/// The options a bagpipe was built with.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) queue_length: usize,
    pub(crate) refuse: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) queue_timeout: Option<Duration>,
    pub(crate) on_timeout: OnTimeout,
    pub(crate) disabled: bool,
    pub(crate) discipline: Discipline,
}

impl Options {
    /// The defaults: a queue as long as the limit, no refusal, no deadlines, limiting on.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            queue_length: limit,
            refuse: false,
            timeout: None,
            queue_timeout: None,
            on_timeout: OnTimeout::Cancel,
            disabled: false,
            discipline: Discipline::default(),
        }
    }

    /// The queue length at which new callers are refused, when refusal is on.
    pub(crate) fn refuse_at(&self) -> Option<usize> {
        self.refuse.then_some(self.queue_length)
    }
}
