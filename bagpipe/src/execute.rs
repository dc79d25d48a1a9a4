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
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use pin_project::pin_project;
use tokio::time::{Instant, Sleep};

use crate::error::{Error, panic_message};
use crate::event::{Event, Outdated};
use crate::limit::Outcome;
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
pub(crate) struct Execute<S: Borrow<Shared>, F, J = Succeeded> {
    permit: Option<Held<S>>,
    #[pin]
    call: F,
    deadline: Option<Pin<Box<Sleep>>>,
    judge: PhantomData<fn() -> J>,
}

/// How a call's output is judged for an adaptive limit, chosen by type so that it costs
/// nothing to carry.
pub(crate) trait Judge<T> {
    /// Whether the output is worth looking at: a judge that calls every output a success
    /// leaves a measured call's default outcome as it is.
    const LOOKS: bool;

    fn outcome(shared: &Shared, output: &T) -> Outcome;
}

/// Every output is a success (`run`, whose output may borrow).
#[derive(Debug)]
pub(crate) enum Succeeded {}

impl<T> Judge<T> for Succeeded {
    const LOOKS: bool = false;

    fn outcome(_: &Shared, _: &T) -> Outcome {
        Outcome::Success
    }
}

/// The user's classifier judges the output.
#[derive(Debug)]
pub(crate) enum Classified {}

impl<T: 'static> Judge<T> for Classified {
    const LOOKS: bool = true;

    fn outcome(shared: &Shared, output: &T) -> Outcome {
        shared.classify(output)
    }
}

impl<S: Borrow<Shared>, F: Future> Execute<S, F, Classified>
where
    F::Output: 'static,
{
    /// As [`new`](Execute::new), with the output judged by the user's classifier.
    #[inline]
    pub(crate) fn classified(permit: Held<S>, call: F) -> Self {
        Self::judged(permit, call)
    }
}

impl<S: Borrow<Shared>, F: Future> Execute<S, F> {
    /// Runs `call` on `permit`; a call that delivers its output counts as a success.
    #[inline]
    pub(crate) fn new(permit: Held<S>, call: F) -> Self {
        Self::judged(permit, call)
    }
}

impl<S: Borrow<Shared>, F: Future, J: Judge<F::Output>> Execute<S, F, J> {
    #[inline]
    fn judged(permit: Held<S>, call: F) -> Self {
        let deadline = match permit.shared().options.timeout {
            Some(timeout) if permit.holds_slot() => Some(Box::pin(tokio::time::sleep(timeout))),
            _ => None,
        };
        Self {
            permit: Some(permit),
            call,
            deadline,
            judge: PhantomData,
        }
    }
}

impl<S: Borrow<Shared>, F: Future, J: Judge<F::Output>> Future for Execute<S, F, J> {
    type Output = Result<F::Output, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.permit.is_none() {
            return Poll::Pending;
        }
        if let Poll::Ready(output) = this.call.poll(cx) {
            if let Some(permit) = this.permit.take() {
                if J::LOOKS && permit.measured() {
                    let outcome = J::outcome(permit.shared(), &output);
                    permit.complete_as(outcome);
                } else {
                    permit.complete();
                }
            }
            return Poll::Ready(Ok(output));
        }
        let Some(deadline) = this.deadline.as_mut() else {
            return Poll::Pending;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let Some(mut permit) = this.permit.take() else {
            return Poll::Pending;
        };
        permit.set_outcome(Outcome::Timeout);
        let shared = permit.shared();
        Counters::bump(&shared.counters.timeouts);
        let timeout = shared.options.timeout.unwrap_or_default();
        crate::shared::decision!(
            ?timeout,
            "bagpipe call timeout: a call ran past its timeout"
        );
        drop(permit);
        Poll::Ready(Err(Error::Timeout { timeout }))
    }
}

impl<S: Borrow<Shared>, F, J> fmt::Debug for Execute<S, F, J> {
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
    let outcome = AssertUnwindSafe(Execute::classified(permit, call))
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
    let outcome = AssertUnwindSafe(Execute::classified(permit, late.as_mut()))
        .catch_unwind()
        .await;
    match outcome {
        Ok(Err(Error::Timeout { timeout })) => {
            tokio::spawn(async move {
                let result = AssertUnwindSafe(late).catch_unwind().await;
                let elapsed = started.elapsed();
                Counters::bump(&shared.counters.outdated);
                crate::shared::decision!(
                    ?timeout,
                    ?elapsed,
                    panicked = result.is_err(),
                    "bagpipe outdated: a call finished after its timeout"
                );
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
