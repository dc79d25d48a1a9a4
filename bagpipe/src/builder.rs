//! The builder of a bagpipe's options.

use std::any::Any;
use std::sync::Arc;

use crate::adaptive::{Adaptivity, Classify};
use crate::bagpipe::Bagpipe;
use crate::limit::{Fixed, Limit, Outcome};
use crate::options::{OnTimeout, Options, QueueDiscipline};

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
    adaptivity: Adaptivity,
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
            adaptivity: Adaptivity::default(),
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

    /// How the wait queue serves and sheds waiters under overload: FIFO by default, or adaptive
    /// LIFO and a CoDel-style deadline (see [`QueueDiscipline`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, QueueDiscipline};
    /// use std::time::Duration;
    ///
    /// let pipe = Bagpipe::builder(4)
    ///     .queue_discipline(QueueDiscipline::fifo().adaptive_lifo(Duration::from_millis(50)))
    ///     .build();
    /// # drop(pipe);
    /// ```
    pub fn queue_discipline(mut self, discipline: QueueDiscipline) -> Self {
        self.options.discipline = discipline.inner;
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

    /// The strategy that decides the limit: [`Fixed`] (the default, the limit given to
    /// [`Bagpipe::builder`]) or an adaptive one ([`Aimd`](crate::limit::Aimd),
    /// [`Vegas`](crate::limit::Vegas), [`Gradient2`](crate::limit::Gradient2), or a
    /// [`Limit`] of one's own), which replaces that limit with its own starting limit and
    /// adjusts it after every completed call (see [`crate::limit`]). Each bagpipe built gets
    /// its own clone of the strategy.
    ///
    /// The queue length defaults to the starting limit unless set; with an adaptive limit, set
    /// [`queue_length`](Builder::queue_length) or a [`queue_timeout`](Builder::queue_timeout)
    /// so the queue stays short as the limit moves.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, Event};
    /// use nodebook_bagpipe::limit::Vegas;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let pipe = Bagpipe::builder(0)
    ///     .limit(Vegas::default().initial_limit(4).max_limit(64))
    ///     .queue_timeout(Duration::from_secs(1))
    ///     .build();
    /// pipe.events().on(Event::LIMIT, |event: &Event| eprintln!("{event:?}"));
    /// let calls: Vec<_> = (0..20)
    ///     .map(|_| pipe.push(tokio::time::sleep(Duration::from_millis(10))))
    ///     .collect();
    /// for call in calls {
    ///     call.await.unwrap();
    /// }
    /// assert!(pipe.limit() > 4, "no queueing at the backend: Vegas grows the limit");
    /// # }
    /// ```
    pub fn limit<L: Limit + Clone + Sync>(mut self, strategy: L) -> Self {
        if let Some(fixed) = (&strategy as &dyn Any).downcast_ref::<Fixed>() {
            self.limit = fixed.0;
            self.options = Options {
                queue_length: fixed.0,
                ..self.options
            };
            self.adaptivity.make = None;
            return self;
        }
        self.limit = strategy.initial();
        self.adaptivity.make = Some(Arc::new(move || {
            Box::new(strategy.clone()) as Box<dyn Limit>
        }));
        self
    }

    /// Decides how each call's output counts for an adaptive limit: which errors mean the
    /// backend is overloaded ([`Outcome::Overload`]), which say nothing about load
    /// ([`Outcome::Error`]). Called with the output of every call that delivered one, through
    /// [`push`](Bagpipe::push) and the tower layer (where the output is the inner service's
    /// `Result`); outputs of another type than `T` count as [`Outcome::Success`], as every
    /// output does without a classifier. [`run`](Bagpipe::run) may return borrowed outputs,
    /// which cannot be inspected by type, so its calls count as successes; a permit reports
    /// its own with [`Permit::set_outcome`](crate::Permit::set_outcome). Timeouts and dropped
    /// calls are reported whatever the classifier says. Under a fixed limit it is never
    /// called.
    ///
    /// # Examples
    ///
    /// An HTTP 503 means overload, a 404 does not:
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    /// use nodebook_bagpipe::limit::{Aimd, Outcome};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::builder(0)
    ///     .limit(Aimd::default().initial_limit(10))
    ///     .classify(|status: &Result<&'static str, u16>| match status {
    ///         Ok(_) => Outcome::Success,
    ///         Err(503) => Outcome::Overload,
    ///         Err(_) => Outcome::Error,
    ///     })
    ///     .build();
    /// pipe.push(async { Err::<&'static str, u16>(404) }).await.unwrap().unwrap_err();
    /// assert_eq!(pipe.limit(), 10);
    /// pipe.push(async { Err::<&'static str, u16>(503) }).await.unwrap().unwrap_err();
    /// assert_eq!(pipe.limit(), 9);
    /// # }
    /// ```
    pub fn classify<T: 'static>(
        mut self,
        classify: impl Fn(&T) -> Outcome + Send + Sync + 'static,
    ) -> Self {
        self.adaptivity.classify = Classify(Some(Arc::new(move |output: &dyn Any| {
            output
                .downcast_ref::<T>()
                .map_or(Outcome::Success, &classify)
        })));
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
        Bagpipe::from_options(self.limit, self.options, self.adaptivity)
    }
}
