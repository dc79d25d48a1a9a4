//! The builder of a bagpipe's options.

use crate::bagpipe::Bagpipe;
use crate::options::{OnTimeout, Options};

/// Sets a bagpipe's options; made by [`Bagpipe::builder`].
///
/// Every combination is valid, so [`build`](Builder::build) cannot fail.
///
/// | npm bagpipe                       | here                                   |
/// |-----------------------------------|----------------------------------------|
/// | `new Bagpipe(limit)`              | [`Bagpipe::new`], [`Bagpipe::builder`] |
/// | `{ratio: r}` (queue = limit × r)  | [`queue_length`](Builder::queue_length)|
/// | `{refuse: true}`                  | [`refuse`](Builder::refuse)            |
/// | `{timeout: ms}`                   | [`timeout`](Builder::timeout)          |
/// | (none)                            | [`queue_timeout`](Builder::queue_timeout) |
/// | (always detaches)                 | [`on_timeout`](Builder::on_timeout)    |
/// | `{disabled: true}`, `limit < 1`   | [`disabled`](Builder::disabled)        |
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
/// use std::time::Duration;
///
/// let pipe = Bagpipe::builder(10)
///     .queue_length(20)
///     .refuse(true)
///     .timeout(Duration::from_secs(3))
///     .queue_timeout(Duration::from_millis(500))
///     .build();
/// assert_eq!((pipe.limit(), pipe.queue_length()), (10, 20));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    limit: usize,
    queue_length: Option<usize>,
    options: Options,
}

impl Bagpipe {
    /// A builder for a bagpipe with options (queue length, refusal, timeouts).
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::builder(10).refuse(true).build();
    /// assert_eq!(pipe.queue_length(), 10);
    /// ```
    pub fn builder(limit: usize) -> Builder {
        Builder {
            limit,
            queue_length: None,
            options: Options::new(limit),
        }
    }
}

impl Builder {
    /// How many calls may wait before `refuse` mode turns new ones away (Node's
    /// `queueLength`, there `limit × ratio`). Defaults to the limit, as in the book. Without
    /// `refuse` the queue grows past it and the length only shapes the error text.
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::builder(2).queue_length(4).build();
    /// assert_eq!(pipe.queue_length(), 4);
    /// ```
    pub fn queue_length(mut self, queue_length: usize) -> Self {
        self.queue_length = Some(queue_length);
        self
    }

    /// Refuse calls with [`Error::TooMuchAsyncCall`](crate::Error::TooMuchAsyncCall) while
    /// the queue holds `queue_length` waiters, instead of queueing them. Off by default.
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::builder(2).refuse(true).build();
    /// # drop(pipe);
    /// ```
    pub fn refuse(mut self, refuse: bool) -> Self {
        self.options.refuse = refuse;
        self
    }

    /// The execution timeout of each call, measured from dispatch (when it gets its slot), as
    /// the book's code does. The future is polled before the deadline is checked, so a call
    /// that is ready on the poll at its deadline succeeds. None by default.
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::builder(2)
    ///     .timeout(std::time::Duration::from_secs(1))
    ///     .build();
    /// # drop(pipe);
    /// ```
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// How long a call may wait in the queue, measured from the push, before it gives up
    /// with [`Error::QueueTimeout`](crate::Error::QueueTimeout) without running. A slot
    /// granted at the deadline wins over the deadline. None by default.
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::builder(2)
    ///     .queue_timeout(std::time::Duration::from_millis(200))
    ///     .build();
    /// # drop(pipe);
    /// ```
    pub fn queue_timeout(mut self, queue_timeout: std::time::Duration) -> Self {
        self.options.queue_timeout = Some(queue_timeout);
        self
    }

    /// What to do with a call that runs past the execution timeout; [`OnTimeout::Cancel`]
    /// by default.
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::builder(2)
    ///     .on_timeout(nodebook_bagpipe::OnTimeout::Detach)
    ///     .build();
    /// # drop(pipe);
    /// ```
    pub fn on_timeout(mut self, on_timeout: OnTimeout) -> Self {
        self.options.on_timeout = on_timeout;
        self
    }

    /// Turn limiting off: every call runs at once, with no queue, no timeouts, no events and
    /// no counters (Node's `disabled`, which the book's code also applies when `limit < 1`).
    /// Off by default.
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::builder(1).disabled(true).build();
    /// assert!(pipe.is_disabled());
    /// ```
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.options.disabled = disabled;
        self
    }

    /// Builds the bagpipe.
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::builder(3).build();
    /// assert_eq!(pipe.limit(), 3);
    /// ```
    #[must_use]
    pub fn build(mut self) -> Bagpipe {
        self.options.queue_length = self.queue_length.unwrap_or(self.limit);
        Bagpipe::from_options(self.limit, self.options)
    }
}
