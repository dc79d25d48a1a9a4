//! Running a call on a held slot, under the execution timeout.
//!
//! [`Execute`] is the one place the execution timeout is applied: `run`, pushed calls and the
//! tower layer all poll their call through it. When the deadline passes, the slot is released
//! at once (counted apart from completed calls), the timeout is counted, and the caller gets
//! [`Error::Timeout`]; what happens to the late future is the caller's business (dropped, or
//! detached by a pushed call, see [`pushed`]).

use std::any::Any;
use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use pin_project::pin_project;
use tokio::time::{Instant, Sleep};

use crate::error::{Error, panic_message};
use crate::event::{Event, Outdated};
use crate::options::OnTimeout;
use crate::permit::Held;
use crate::shared::Shared;
use crate::stats::Counters;
use crate::waiter::Ticket;

/// A call polled on its held slot, under the execution timeout (armed when this is made).
///
/// The call is polled before the deadline is checked, so a call that is ready on the poll at
/// its deadline succeeds. On success the slot is released as a completed call.
#[pin_project]
#[must_use = "futures do nothing unless you .await or poll them"]
pub(crate) struct Execute<S: Borrow<Shared>, F> {
    permit: Option<Held<S>>,
    #[pin]
    call: F,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S: Borrow<Shared>, F: Future> Execute<S, F> {
    #[inline]
    pub(crate) fn new(permit: Held<S>, call: F) -> Self {
        let deadline = match permit.shared().options.timeout {
            Some(timeout) if permit.holds_slot() => Some(Box::pin(tokio::time::sleep(timeout))),
            _ => None,
        };
        Self {
            permit: Some(permit),
            call,
            deadline,
        }
    }
}

impl<S: Borrow<Shared>, F: Future> Future for Execute<S, F> {
    type Output = Result<F::Output, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.permit.is_none() {
            return Poll::Pending;
        }
        if let Poll::Ready(output) = this.call.poll(cx) {
            if let Some(permit) = this.permit.take() {
                permit.complete();
            }
            return Poll::Ready(Ok(output));
        }
        let Some(deadline) = this.deadline.as_mut() else {
            return Poll::Pending;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let Some(permit) = this.permit.take() else {
            return Poll::Pending;
        };
        let shared = permit.shared();
        Counters::bump(&shared.counters.timeouts);
        let timeout = shared.options.timeout.unwrap_or_default();
        drop(permit);
        Poll::Ready(Err(Error::Timeout { timeout }))
    }
}

impl<S: Borrow<Shared>, F> fmt::Debug for Execute<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Execute")
            .field("permit", &self.permit)
            .finish_non_exhaustive()
    }
}

/// The body of a pushed call's task that waits for its slot in the task (a bagpipe with a
/// queue deadline, whose timer needs a task to run in).
pub(crate) async fn waited<F>(ticket: Ticket<Arc<Shared>>, call: F) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let permit = ticket.await?;
    pushed(permit, call).await
}

/// The body of a pushed call's task once its slot is held: runs the call under the execution
/// timeout and turns a panic into [`Error::Panicked`]. Under [`OnTimeout::Detach`] the rest is
/// [`detached`], boxed so that its larger state does not size every pushed call's task.
pub(crate) async fn pushed<F>(permit: Held<Arc<Shared>>, call: F) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let shared = permit.shared();
    if permit.holds_slot()
        && shared.options.timeout.is_some()
        && shared.options.on_timeout == OnTimeout::Detach
    {
        return Box::pin(detached(permit, call)).await;
    }
    let shared = Arc::clone(permit.shared_arc());
    let outcome = AssertUnwindSafe(Execute::new(permit, call))
        .catch_unwind()
        .await;
    outcome.unwrap_or_else(|payload| Err(panicked(&shared, &*payload)))
}

/// As [`pushed`], but a call that runs past its timeout finishes on a task of its own, outside
/// the limit, and its late result is reported as `outdated`.
async fn detached<F>(permit: Held<Arc<Shared>>, call: F) -> Result<F::Output, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let shared = Arc::clone(permit.shared_arc());
    let started = Instant::now();
    let mut late = Box::pin(call);
    let outcome = AssertUnwindSafe(Execute::new(permit, late.as_mut()))
        .catch_unwind()
        .await;
    match outcome {
        Ok(Err(Error::Timeout { timeout })) => {
            tokio::spawn(async move {
                let result = AssertUnwindSafe(late).catch_unwind().await;
                let elapsed = started.elapsed();
                Counters::bump(&shared.counters.outdated);
                let outdated = match result {
                    Ok(output) => Outdated::finished(timeout, elapsed, output),
                    Err(payload) => {
                        Outdated::panicked::<F::Output>(timeout, elapsed, panic_message(&*payload))
                    }
                };
                shared.emit(Event::Outdated(outdated));
            });
            Err(Error::Timeout { timeout })
        }
        Ok(result) => result,
        Err(payload) => Err(panicked(&shared, &*payload)),
    }
}

/// Counts a panicked call (a disabled bagpipe counts nothing) and names its panic.
fn panicked(shared: &Shared, payload: &(dyn Any + Send)) -> Error {
    if !shared.options.disabled {
        Counters::bump(&shared.counters.panicked);
    }
    Error::Panicked {
        message: panic_message(payload),
    }
}
