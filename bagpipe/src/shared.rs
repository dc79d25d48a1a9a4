//! # Implementation details
//!
//! The state one bagpipe shares between its handles, its permits, its waiters and its running
//! calls: the admission machine, the options, the counters and the event emitter.
//!
//! Events are emitted after every lock is dropped, so a listener may call back into the bagpipe.
//!
//! The state also counts the [`Bagpipe`](crate::Bagpipe) handles, apart from the `Arc`'s own
//! count (permits, waiters and running calls hold the `Arc` too). When the last handle goes,
//! nobody can raise the limit again: if it is 0, no queued call could ever get a slot, so the
//! machine is closed and every waiter ends with `Error::Closed`. With a limit above 0 a waiter
//! exists only while slots are held, and each of those is released by a permit, so the waiters
//! still get their turn.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use nodebook_emitter::Emitter;

use crate::adaptive::{Adaptivity, Classify, Controller};
use crate::error::Error;
use crate::event::Event;
use crate::limit::Outcome;
use crate::options::Options;
use crate::slots::{Admission, Drained, Node, Notify, Slots};
use crate::stats::Counters;

/// A decision as a `tracing` event at debug level (feature `tracing`); without the feature it
/// expands to nothing, arguments included.
macro_rules! decision {
    ($($field:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::debug!(target: "nodebook_bagpipe", $($field)*);
    }};
}
pub(crate) use decision;

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) slots: Slots,
    pub(crate) options: Options,
    pub(crate) counters: Counters,
    pub(crate) events: Emitter<Event>,
    /// The adaptive strategy's controller; `None` under a fixed limit.
    pub(crate) adaptive: Option<Controller>,
    /// What taking a slot involves, from `options.disabled` and `adaptive`.
    pub(crate) mode: Mode,
    classify: Classify,
    handles: AtomicUsize,
}

/// What taking a slot involves, decided when the bagpipe is built, so that the uncontended path
/// tells the common case (a fixed limit) from the others with one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A fixed limit: a slot is all there is.
    Fixed,
    /// An adaptive limit: the call is measured from the moment it gets its slot.
    Adaptive,
    /// A disabled bagpipe: no slot is taken.
    Disabled,
}

/// What [`Shared::decide`] decided for a caller that was not turned away.
#[derive(Debug)]
pub(crate) enum Decision<P> {
    /// A slot is held (to be put in a permit); the payload comes back.
    Admitted(P),
    /// The caller waits in the queue, on this node.
    Queued(Arc<Node<P>>),
}

impl Shared {
    /// The state of a new bagpipe, with one handle.
    pub(crate) fn new(limit: usize, options: Options, adaptivity: Adaptivity) -> Self {
        let discipline = options.discipline;
        let adaptive = adaptivity.make.map(|make| Controller::new(make()));
        let limit = adaptive.as_ref().map_or(limit, Controller::initial);
        let mode = if options.disabled {
            Mode::Disabled
        } else if adaptive.is_some() {
            Mode::Adaptive
        } else {
            Mode::Fixed
        };
        Self {
            slots: Slots::with_discipline(limit, discipline),
            options,
            counters: Counters::default(),
            events: Emitter::new(),
            adaptive,
            mode,
            classify: adaptivity.classify,
            handles: AtomicUsize::new(1),
        }
    }

    /// What the user's classifier makes of a call's output ([`Outcome::Success`] without one).
    pub(crate) fn classify(&self, output: &dyn Any) -> Outcome {
        self.classify.outcome(output)
    }

    /// Feeds a finished call to the adaptive strategy, if there is one, and reports a change.
    pub(crate) fn record(&self, started: u32, outcome: Outcome, in_flight: usize) {
        let Some(controller) = &self.adaptive else {
            return;
        };
        let latency = controller.since(started);
        if let Some(change) = controller.record(&self.slots, latency, outcome, in_flight) {
            self.emit(Event::Limit {
                from: change.from,
                to: change.to,
            });
            self.drained(change.drained);
        }
    }

    pub(crate) fn emit(&self, event: Event) {
        #[cfg(feature = "tracing")]
        if let Event::Limit { from, to } = event {
            decision!(from, to, "bagpipe limit changed");
        }
        let name = event.name();
        let _ = self.events.emit(name, event);
    }

    #[inline]
    pub(crate) fn drained(&self, drained: Drained) {
        if drained.0 {
            self.emit(Event::Drain);
        }
    }

    /// Decides at once for a caller that carries `payload` into the queue if it has to wait
    /// (and is told of the decision through `notify`): admitted (a slot is held), queued, or an
    /// error. Emits `full`.
    pub(crate) fn decide<P: Send + Sync + 'static>(
        &self,
        payload: P,
        notify: Notify,
    ) -> Result<Decision<P>, Error> {
        match self.slots.admit(self.options.refuse_at(), payload, notify) {
            Admission::Admitted(payload) => Ok(Decision::Admitted(payload)),
            Admission::Queued { node, queued } => {
                if queued > 1 {
                    self.emit(Event::Full { queued });
                }
                Ok(Decision::Queued(node))
            }
            Admission::Refused { queued } => {
                Counters::bump(&self.counters.refused);
                decision!(
                    limit = self.slots.limit(),
                    queue_length = self.options.queue_length,
                    queued,
                    "bagpipe refused a call: the queue is full"
                );
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

    /// The error of a waiter the queue discipline shed, counted as a queue timeout.
    pub(crate) fn shed(&self) -> Error {
        Counters::bump(&self.counters.queue_timeouts);
        decision!("bagpipe shed a waiting call: the queue discipline's deadline passed");
        Error::QueueTimeout {
            queue_timeout: self
                .options
                .discipline
                .codel
                .map_or(std::time::Duration::ZERO, |(target, _)| target),
        }
    }

    pub(crate) fn close(&self) {
        if self.slots.close() > 0 {
            self.emit(Event::Drain);
        }
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        let from = self.slots.limit();
        let drained = self.slots.set_limit(limit);
        if from != limit {
            self.emit(Event::Limit { from, to: limit });
        }
        self.drained(drained);
    }

    /// A handle was cloned.
    pub(crate) fn handle_cloned(&self) {
        self.handles
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A handle was dropped; the last one closes a bagpipe whose limit is 0 (see the module
    /// docs).
    pub(crate) fn handle_dropped(&self) {
        if self
            .handles
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
            && self.slots.limit() == 0
        {
            self.close();
        }
    }
}
