//! # Implementation details
//!
//! The state one bagpipe shares between its clones and its running calls: the admission
//! machine, the options, the counters and the event emitter.
//!
//! Slots are held by RAII values only. A [`Ticket`] is what admission hands out: either a
//! [`Permit`] (a slot is held) or a [`Waiter`] (a place in the queue). Dropping a permit releases
//! its slot; dropping a waiter leaves the queue, or releases the slot it was granted in the
//! meantime. So a call that is cancelled, panics or times out anywhere frees exactly what it
//! held, and nothing else: there is no code path that counts a slot by hand.
//!
//! Both types are generic over how they reach the shared state (`&Shared` for `run`, which
//! borrows, and `Arc<Shared>` for `push`, whose task is `'static`), so `run` costs no reference
//! count traffic.
//!
//! Events are emitted after every lock is dropped, so a listener may call back into the bagpipe.
//!
//! Timers are boxed where they are used (`Box::pin(timeout(..))`): a tokio `Sleep` is large, and
//! inline it would size every `run` future and every pushed task for the timeout case, even on
//! a bagpipe without timeouts and even while the call only waits in the queue. The allocation is
//! paid only by calls that really arm a deadline.

use std::borrow::Borrow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use nodebook_emitter::Emitter;
use tokio::time::Instant;

use crate::builder::Options;
use crate::error::Error;
use crate::event::Event;

use crate::slots::{Admission, CLOSED_OUT, Drained, Enqueue, GRANTED, NewNode, Node, Slots};
use crate::stats::Counters;
use crate::sync::{AtomicU8, Ordering};

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) slots: Slots,
    pub(crate) options: Options,
    pub(crate) counters: Counters,
    pub(crate) events: Emitter<Event>,
}

impl Shared {
    pub(crate) fn new(limit: usize, options: Options) -> Self {
        Self {
            slots: Slots::new(limit),
            options,
            counters: Counters::default(),
            events: Emitter::new(),
        }
    }

    pub(crate) fn emit(&self, event: Event) {
        let name = event.name();
        let _ = self.events.emit(name, event);
    }

    pub(crate) fn drained(&self, drained: Drained) {
        if drained.0 {
            self.emit(Event::Drain);
        }
    }

    /// The uncontended path: a slot if one is free and nobody waits.
    #[inline]
    pub(crate) fn try_permit<S: Borrow<Self>>(shared: S) -> Option<Permit<S>> {
        shared
            .borrow()
            .slots
            .try_fast()
            .then(|| Permit::new(shared))
    }

    /// Decides at once: a held slot, a place in the queue, or an error.
    pub(crate) fn admit<S: Borrow<Self>>(shared: S) -> Result<Ticket<S>, Error> {
        let this = shared.borrow();
        match this.decide(NewNode)? {
            Decision::Admitted(NewNode) => Ok(Ticket::Admitted(Permit::new(shared))),
            Decision::Queued(node) => {
                let deadline = this
                    .options
                    .queue_timeout
                    .map(|wait| (Instant::now() + wait, wait));
                Ok(Ticket::Queued {
                    waiter: Waiter {
                        shared: Some(shared),
                        node: Some(node),
                    },
                    deadline,
                })
            }
        }
    }

    /// Decides at once for a caller whose seat `seat` builds: admitted (a slot is held, to be
    /// put in a [`Permit`], and the builder comes back), queued, or an error. Emits `full`.
    pub(crate) fn decide<E: Enqueue>(&self, seat: E) -> Result<Decision<E>, Error> {
        let refuse_at = self.options.refuse.then_some(self.options.queue_length);
        match self.slots.admit(refuse_at, seat) {
            Admission::Admitted(seat) => Ok(Decision::Admitted(seat)),
            Admission::Queued { node, queued } => {
                if queued > 1 {
                    self.emit(Event::Full { queued });
                }
                Ok(Decision::Queued(node))
            }
            Admission::Refused { queued } => {
                Counters::bump(&self.counters.refused);
                if queued > 1 {
                    self.emit(Event::Full { queued });
                }
                Err(Error::TooMuchAsyncCall {
                    limit: self.slots.limit(),
                    queue_length: self.options.queue_length,
                    queued,
                })
            }
            Admission::Closed => Err(Error::Closed),
        }
    }

    /// A queued caller gives up: it leaves the queue, or releases the slot it was granted
    /// meanwhile (counted as a release without a call).
    pub(crate) fn give_up(&self, seat: &AtomicU8) {
        let drained = self.slots.cancel(seat);
        if seat.load(Ordering::Acquire) == GRANTED {
            Counters::bump(&self.counters.other_releases);
        }
        self.drained(drained);
    }

    pub(crate) fn close(&self) {
        if self.slots.close() > 0 {
            self.emit(Event::Drain);
        }
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        let drained = self.slots.set_limit(limit);
        self.drained(drained);
    }
}

/// What [`Shared::decide`] decided for a caller that was not turned away.
#[derive(Debug)]
pub(crate) enum Decision<E: Enqueue> {
    Admitted(E),
    Queued(Arc<E::Seat>),
}

/// What admission hands out.
#[derive(Debug)]
pub(crate) enum Ticket<S: Borrow<Shared>> {
    Admitted(Permit<S>),
    Queued {
        waiter: Waiter<S>,
        deadline: Option<(Instant, std::time::Duration)>,
    },
}

impl<S: Borrow<Shared> + Clone + Unpin> Ticket<S> {
    /// Waits for the slot, up to the queue deadline.
    pub(crate) async fn ready(self) -> Result<Permit<S>, Error> {
        match self {
            Self::Admitted(permit) => Ok(permit),
            Self::Queued {
                waiter,
                deadline: None,
            } => waiter.await,
            Self::Queued {
                waiter,
                deadline: Some((deadline, queue_timeout)),
            } => {
                let shared = waiter.shared.clone();
                match Box::pin(tokio::time::timeout_at(deadline, waiter)).await {
                    Ok(permit) => permit,
                    Err(_elapsed) => {
                        if let Some(shared) = shared {
                            Counters::bump(&shared.borrow().counters.queue_timeouts);
                        }
                        Err(Error::QueueTimeout { queue_timeout })
                    }
                }
            }
        }
    }
}

/// A held slot; dropping it releases the slot. A permit released through
/// [`complete`](Permit::complete) counts as a completed call; any other release (timeout, panic,
/// cancellation) is counted apart, so `completed = released - other releases`.
#[derive(Debug)]
#[must_use]
pub(crate) struct Permit<S: Borrow<Shared>> {
    shared: S,
    completed: bool,
}

impl<S: Borrow<Shared>> Permit<S> {
    /// Wraps a slot the caller already holds.
    pub(crate) fn new(shared: S) -> Self {
        Self {
            shared,
            completed: false,
        }
    }

    /// Releases the slot of a call that delivered its output.
    pub(crate) fn complete(mut self) {
        self.completed = true;
    }
}

impl Permit<Arc<Shared>> {
    pub(crate) fn shared_arc(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl<S: Borrow<Shared>> Drop for Permit<S> {
    fn drop(&mut self) {
        let shared = self.shared.borrow();
        if !self.completed {
            Counters::bump(&shared.counters.other_releases);
        }
        let drained = shared.slots.release();
        shared.drained(drained);
    }
}

/// A place in the queue; resolves to a permit once a slot is granted.
#[derive(Debug)]
#[must_use = "futures do nothing unless you .await or poll them"]
pub(crate) struct Waiter<S: Borrow<Shared>> {
    shared: Option<S>,
    node: Option<Arc<Node>>,
}

impl<S: Borrow<Shared> + Unpin> Future for Waiter<S> {
    type Output = Result<Permit<S>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(node) = self.node.as_ref() else {
            return Poll::Pending;
        };
        let mut state = node.state();
        if state != GRANTED && state != CLOSED_OUT {
            node.register(cx.waker());
            state = node.state();
        }
        match state {
            GRANTED => {
                self.node = None;
                match self.shared.take() {
                    Some(shared) => Poll::Ready(Ok(Permit::new(shared))),
                    None => Poll::Pending,
                }
            }
            CLOSED_OUT => {
                self.node = None;
                Poll::Ready(Err(Error::Closed))
            }
            _ => Poll::Pending,
        }
    }
}

impl<S: Borrow<Shared>> Drop for Waiter<S> {
    fn drop(&mut self) {
        if let (Some(node), Some(shared)) = (self.node.take(), self.shared.as_ref()) {
            shared.borrow().give_up(crate::slots::Seat::seat(&*node));
        }
    }
}

/// Lets a push handle take its call out of the queue at once when the handle is dropped,
/// rather than when the runtime gets round to dropping the aborted task.
#[derive(Debug)]
pub(crate) struct QueuedCall {
    shared: Arc<Shared>,
    node: Arc<Node>,
}

impl QueuedCall {
    pub(crate) fn of(ticket: &Ticket<Arc<Shared>>) -> Option<Self> {
        match ticket {
            Ticket::Admitted(_) => None,
            Ticket::Queued { waiter, .. } => Some(Self {
                shared: Arc::clone(waiter.shared.as_ref()?),
                node: Arc::clone(waiter.node.as_ref()?),
            }),
        }
    }

    /// Leaves the queue if still waiting; a slot granted meanwhile is left to the task, which
    /// releases it when it is dropped.
    pub(crate) fn cancel(&self) {
        if self.node.state() == crate::slots::WAITING {
            let drained = self
                .shared
                .slots
                .cancel_waiting(crate::slots::Seat::seat(&*self.node));
            self.shared.drained(drained);
        }
    }
}
