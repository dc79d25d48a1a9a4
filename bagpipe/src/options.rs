//! A bagpipe's options, set once by its builder.

use std::time::Duration;

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

/// The options a bagpipe was built with.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) queue_length: usize,
    pub(crate) refuse: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) queue_timeout: Option<Duration>,
    pub(crate) on_timeout: OnTimeout,
    pub(crate) disabled: bool,
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
        }
    }

    /// The queue length at which new callers are refused, when refusal is on.
    pub(crate) fn refuse_at(&self) -> Option<usize> {
        self.refuse.then_some(self.queue_length)
    }
}
