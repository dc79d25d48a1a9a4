//! Waiting for a slot: the one waiting path every caller takes.
//!
//! A caller that cannot be admitted at once gets a place in the queue (a `slots::Node`) and
//! waits on it through a [`Waiter`]; `acquire`, `run`, `push` and the tower layer all wait this
//! way. The queue deadline (`queue_timeout`) is part of the waiter, measured from the admission,
//! so it is written once: when it passes, the waiter leaves the queue under the queue lock,
//! unless the machine granted it a slot or closed it out first, which then wins.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::time::Sleep;

use crate::error::Error;
use crate::permit::{Held, OwnedPermit, Permit};
use crate::shared::{Decision, Shared};
use crate::slots::{GRANTED, Left, Node, SHED, wake_registered};
use crate::stats::Counters;

/// A place in the queue; resolves to a held slot once one is granted.
///
/// Dropped before that, it leaves the queue; dropped after a grant it did not deliver, it
/// releases the granted slot, which goes on to the next waiter.
#[must_use = "futures do nothing unless you .await or poll them"]
pub(crate) struct Waiter<S: Borrow<Shared>> {
    shared: Option<S>,
    node: Option<Arc<Node<AtomicWaker>>>,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S: Borrow<Shared>> Waiter<S> {
    /// Waits on `node`, a place the machine gave to a caller of `shared`, under the bagpipe's
    /// queue deadline if `timed` (measured from now).
    pub(crate) fn new(shared: S, node: Arc<Node<AtomicWaker>>, timed: bool) -> Self {
        let deadline = match shared.borrow().options.queue_timeout {
            Some(wait) if timed => Some(Box::pin(tokio::time::sleep(wait))),
            _ => None,
        };
        Self {
            shared: Some(shared),
            node: Some(node),
            deadline,
        }
    }

    /// The node, if the waiter has not resolved yet.
    pub(crate) fn node(&self) -> Option<&Arc<Node<AtomicWaker>>> {
        self.node.as_ref()
    }

    fn resolve(&mut self, state: u8) -> Result<Held<S>, Error> {
        self.node = None;
        self.deadline = None;
        match (state, self.shared.take()) {
            (GRANTED, Some(shared)) => Ok(Held::new(shared)),
            (SHED, Some(shared)) => Err(shared.borrow().shed()),
            _ => Err(Error::Closed),
        }
    }
}

impl<S: Borrow<Shared> + Unpin> Future for Waiter<S> {
    type Output = Result<Held<S>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(node) = this.node.as_ref() else {
            return Poll::Pending;
        };
        if let Poll::Ready(state) = node.poll_decided(cx.waker()) {
            return Poll::Ready(this.resolve(state));
        }
        let Some(deadline) = this.deadline.as_mut() else {
            return Poll::Pending;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let Some(shared) = this.shared.as_ref() else {
            return Poll::Pending;
        };
        let shared = shared.borrow();
        match shared.slots.leave(node) {
            Left::Waiting(drained) => {
                node.forget_waker();
                this.node = None;
                this.deadline = None;
                shared.drained(drained);
                Counters::bump(&shared.counters.queue_timeouts);
                crate::shared::decision!(
                    queue_timeout = ?shared.options.queue_timeout.unwrap_or_default(),
                    "bagpipe queue timeout: a call waited too long for a slot"
                );
                Poll::Ready(Err(Error::QueueTimeout {
                    queue_timeout: shared.options.queue_timeout.unwrap_or_default(),
                }))
            }
            // Decided at the deadline: the decision wins.
            Left::Granted => Poll::Ready(this.resolve(GRANTED)),
            Left::Gone => {
                let state = node.state();
                Poll::Ready(this.resolve(state))
            }
        }
    }
}

impl<S: Borrow<Shared>> Drop for Waiter<S> {
    fn drop(&mut self) {
        let (Some(node), Some(shared)) = (self.node.take(), self.shared.take()) else {
            return;
        };
        match shared.borrow().slots.leave(&node) {
            Left::Waiting(drained) => {
                node.forget_waker();
                shared.borrow().drained(drained);
            }
            Left::Granted => drop(Held::unused(shared)),
            Left::Gone => {}
        }
    }
}

impl<S: Borrow<Shared>> fmt::Debug for Waiter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// What admission hands out: a held slot at once, or a place to wait in.
#[derive(Debug)]
pub(crate) enum Ticket<S: Borrow<Shared>> {
    Admitted(Option<Held<S>>),
    Queued(Waiter<S>),
}

impl<S: Borrow<Shared>> Ticket<S> {
    /// Decides at once: a held slot, a place in the queue, or an error. A disabled bagpipe
    /// admits everyone with a stand-in that holds no slot.
    #[inline]
    pub(crate) fn admit(shared: S) -> Result<Self, Error> {
        let shared = match Held::try_take(shared) {
            Ok(held) => return Ok(Self::Admitted(Some(held))),
            Err(shared) => shared,
        };
        let this = shared.borrow();
        match this.decide(AtomicWaker::new(), wake_registered)? {
            Decision::Admitted(_) => Ok(Self::Admitted(Some(Held::new(shared)))),
            Decision::Queued(node) => Ok(Self::Queued(Waiter::new(shared, node, true))),
        }
    }
}

impl<S: Borrow<Shared> + Unpin> Future for Ticket<S> {
    type Output = Result<Held<S>, Error>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            Self::Admitted(held) => match held.take() {
                Some(held) => Poll::Ready(Ok(held)),
                None => Poll::Pending,
            },
            Self::Queued(waiter) => Pin::new(waiter).poll(cx),
        }
    }
}

/// Admission on the first poll, then the wait: the body of `acquire`, `acquire_owned` and `run`.
#[derive(Debug)]
pub(crate) enum Acquiring<S: Borrow<Shared>> {
    Start(Option<S>),
    Waiting(Ticket<S>),
}

impl<S: Borrow<Shared>> Acquiring<S> {
    pub(crate) fn new(shared: S) -> Self {
        Self::Start(Some(shared))
    }
}

impl<S: Borrow<Shared> + Unpin> Future for Acquiring<S> {
    type Output = Result<Held<S>, Error>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A limiter with free slots is ready at every call: it takes part in tokio's cooperative
        // budget, as tokio's semaphore does, so a loop of uncontended acquires still yields.
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        if let Self::Start(shared) = &mut *self {
            let Some(shared) = shared.take() else {
                return Poll::Pending;
            };
            match Ticket::admit(shared) {
                Ok(Ticket::Admitted(Some(held))) => {
                    coop.made_progress();
                    return Poll::Ready(Ok(held));
                }
                Ok(ticket) => *self = Self::Waiting(ticket),
                Err(err) => {
                    coop.made_progress();
                    return Poll::Ready(Err(err));
                }
            }
        }
        let polled = match &mut *self {
            Self::Waiting(ticket) => Pin::new(ticket).poll(cx),
            Self::Start(_) => Poll::Pending,
        };
        if polled.is_ready() {
            coop.made_progress();
        }
        polled
    }
}

/// The future of [`Bagpipe::acquire`](crate::Bagpipe::acquire).
///
/// # Cancel safety
///
/// Dropping it before its first poll costs nothing; while it waits, it leaves the queue; if a
/// slot was granted to it a moment before, the slot goes on to the next waiter. Nothing leaks
/// and the queue's order is kept.
///
/// # Examples
///
/// See [`Bagpipe::acquire`](crate::Bagpipe::acquire).
#[must_use = "futures do nothing unless you .await or poll them"]
#[derive(Debug)]
pub struct Acquire<'a> {
    inner: Acquiring<&'a Shared>,
}

impl<'a> Acquire<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Self {
        Self {
            inner: Acquiring::new(shared),
        }
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Permit<'a>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx).map_ok(Permit::new)
    }
}

/// The future of [`Bagpipe::acquire_owned`](crate::Bagpipe::acquire_owned).
///
/// # Cancel safety
///
/// As [`Acquire`]: dropping it at any point leaks nothing and keeps the queue's order.
///
/// # Examples
///
/// See [`Bagpipe::acquire_owned`](crate::Bagpipe::acquire_owned).
#[must_use = "futures do nothing unless you .await or poll them"]
#[derive(Debug)]
pub struct AcquireOwned {
    inner: Acquiring<Arc<Shared>>,
}

impl AcquireOwned {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            inner: Acquiring::new(shared),
        }
    }
}

impl Future for AcquireOwned {
    type Output = Result<OwnedPermit, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx).map_ok(OwnedPermit::new)
    }
}
