//! The handle of a pushed call.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::task::JoinHandle;

use crate::error::{Error, panic_message};
use crate::shared::QueuedCall;

/// A call handed to [`Bagpipe::push`](crate::Bagpipe::push): a future that resolves to the
/// call's output, or to the [`Error`] that kept it from one.
///
/// The call itself runs on its own tokio task whether or not the handle is polled. Dropping the
/// handle cancels the call: if it still waits, it leaves the queue at once and never runs; if it
/// runs, its task is aborted, so its future is dropped and its slot freed as soon as the runtime
/// handles the abort (at once if the task is idle, after its current poll if it is being polled).
/// [`detach`](Push::detach) lets it finish instead. A handle polled again after it resolved stays
/// pending.
///
/// # Examples
///
/// ```
/// use bagpipe::Bagpipe;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::new(2);
/// let call = pipe.push(async { 6 * 7 });
/// assert_eq!(call.await.unwrap(), 42);
/// # }
/// ```
#[must_use = "dropping a push handle cancels its call; use `detach` to let it run"]
pub struct Push<T> {
    state: State<T>,
    queued: Option<QueuedCall>,
}

enum State<T> {
    Failed(Option<Error>),
    Running(JoinHandle<Result<T, Error>>),
    Detached,
}

impl<T> Push<T> {
    pub(crate) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed(Some(error)),
            queued: None,
        }
    }

    pub(crate) fn running(
        handle: JoinHandle<Result<T, Error>>,
        queued: Option<QueuedCall>,
    ) -> Self {
        Self {
            state: State::Running(handle),
            queued,
        }
    }

    /// Lets the call run to its end without anyone awaiting it (the book's `push` without a
    /// callback). Its slot is released when it ends, as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// use bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(1);
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// pipe.push(async move { tx.send("done").unwrap() }).detach();
    /// assert_eq!(rx.await.unwrap(), "done");
    /// # }
    /// ```
    pub fn detach(mut self) {
        self.state = State::Detached;
    }

    /// Whether the call has ended (or was refused), so that awaiting the handle will not wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(1);
    /// pipe.close();
    /// let refused = pipe.push(async {});
    /// assert!(refused.is_finished());
    /// # }
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        match &self.state {
            State::Failed(_) | State::Detached => true,
            State::Running(handle) => handle.is_finished(),
        }
    }
}

impl<T> Future for Push<T> {
    type Output = Result<T, Error>;

    /// Polls the call.
    ///
    /// A handle polled again after it resolved stays pending.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Failed(error) => match error.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
            State::Running(handle) => {
                let joined = ready!(Pin::new(handle).poll(cx));
                self.state = State::Failed(None);
                Poll::Ready(match joined {
                    Ok(result) => result,
                    Err(error) if error.is_panic() => Err(Error::Panicked {
                        message: panic_message(&*error.into_panic()),
                    }),
                    Err(_) => Err(Error::Cancelled),
                })
            }
            State::Detached => Poll::Pending,
        }
    }
}

impl<T> Drop for Push<T> {
    fn drop(&mut self) {
        if let State::Running(handle) = &self.state {
            handle.abort();
            if let Some(queued) = &self.queued {
                queued.cancel();
            }
        }
    }
}

impl<T> fmt::Debug for Push<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Failed(Some(_)) => "failed",
            State::Failed(None) => "resolved",
            State::Running(_) => "running",
            State::Detached => "detached",
        };
        f.debug_struct("Push")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
