//! The errors of the crate: [`Error`] for calls and waits, and one precise type for each
//! operation that can fail in fewer ways.

use std::time::Duration;

/// Why a call through a [`Bagpipe`](crate::Bagpipe) did not produce its output.
///
/// Each variant says what happened and carries what the caller needs to react: the limit and
/// queue length that were hit, the deadline that passed, the panic message.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::{Bagpipe, Error};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::new(1);
/// pipe.close();
/// let err = pipe.run(async { 1 }).await.unwrap_err();
/// assert!(matches!(err, Error::Closed));
/// assert_eq!(err.to_string(), "the bagpipe is closed");
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The wait queue was full and the bagpipe runs in `refuse` mode.
    ///
    /// Node's `TooMuchAsyncCallError`. Retry later, shed the request, or raise the limit.
    #[error(
        "too much async call in queue: {queued} waiting, queue length {queue_length}, limit {limit}"
    )]
    TooMuchAsyncCall {
        /// The limit on running calls at the time of the refusal.
        limit: usize,
        /// The configured queue length.
        queue_length: usize,
        /// How many calls were waiting.
        queued: usize,
    },
    /// The call ran longer than the execution `timeout`, measured from dispatch.
    ///
    /// Node's `BagpipeTimeoutError`. Its slot has been freed; the late future was cancelled or
    /// detached as [`OnTimeout`](crate::OnTimeout) says.
    #[error("{}ms timeout", timeout.as_millis())]
    Timeout {
        /// The execution timeout that passed.
        timeout: Duration,
    },
    /// The call waited in the queue longer than `queue_timeout` and never ran.
    #[error("waited {}ms in the queue without a free slot", queue_timeout.as_millis())]
    QueueTimeout {
        /// The queue timeout that passed.
        queue_timeout: Duration,
    },
    /// The bagpipe was closed before the call got a slot; the call never ran.
    #[error("the bagpipe is closed")]
    Closed,
    /// The call panicked; its slot has been freed.
    #[error("the call panicked: {message}")]
    Panicked {
        /// The panic message, when the payload was a string.
        message: String,
    },
    /// The call's task was cancelled by the tokio runtime (it shut down) before it finished.
    #[error("the call's task was cancelled by the runtime")]
    Cancelled,
    /// [`Bagpipe::push`](crate::Bagpipe::push) was called outside a tokio runtime, so nothing
    /// could run the call.
    #[error("push needs a tokio runtime: call it from within a runtime context")]
    NoRuntime,
    /// The shared limit could not be reached and its outage policy is to fail closed: a
    /// `RedisBagpipe` (feature `redis`) whose Redis did not answer. The call never ran. Retry
    /// later, or choose another `OutagePolicy`.
    #[cfg_attr(
        feature = "redis",
        doc = "\n\nSee [`RedisBagpipe`](crate::redis::RedisBagpipe) and \
               [`OutagePolicy`](crate::redis::OutagePolicy)."
    )]
    #[error("the shared limit is unavailable, and it fails closed: {cause}")]
    Unavailable {
        /// Why: the last Redis error, or the timeout that passed.
        cause: String,
    },
    /// The service wrapped by the tower layer failed.
    #[error("the inner service failed: {0}")]
    Service(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why [`Bagpipe::try_acquire`](crate::Bagpipe::try_acquire) returned no permit.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::{Bagpipe, TryAcquireError};
///
/// let pipe = Bagpipe::new(0);
/// let err = pipe.try_acquire().unwrap_err();
/// assert_eq!(err, TryAcquireError::NoSlot);
/// assert_eq!(err.to_string(), "no free slot: every slot is held or callers wait for one");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Every slot is held, or callers already wait for one (a permit never overtakes them).
    /// Wait with [`acquire`](crate::Bagpipe::acquire) instead, or shed the work.
    #[error("no free slot: every slot is held or callers wait for one")]
    NoSlot,
    /// The bagpipe was closed.
    #[error("the bagpipe is closed")]
    Closed,
}

/// Why [`Outdated::output`](crate::Outdated::output) could not show the late output.
///
/// # Examples
///
/// See [`Outdated::output`](crate::Outdated::output).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The output is of another type than the one asked for: ask for `actual`.
    #[error("the late output is a `{actual}`, not a `{expected}`")]
    WrongType {
        /// The type that was asked for.
        expected: &'static str,
        /// The type of the output, as `std::any::type_name` spells it.
        actual: &'static str,
    },
    /// The late call panicked, so there is no output; the panic message is here.
    #[error("the late call panicked instead of finishing: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
}

/// Turns a panic payload into a message for [`Error::Panicked`].
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic payload that is not a string".to_owned()
    }
}
