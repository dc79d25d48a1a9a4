//! # Implementation details
//!
//! The controller between a [`Limit`] strategy and the admission machine: it turns a finished
//! call into a [`Sample`], asks the strategy, clamps the answer to `[max(min, 1), max]` and
//! sets it on the machine, and counts what it saw.
//!
//! Only a bagpipe built with an adaptive strategy has one; with [`Fixed`](crate::limit::Fixed)
//! nothing is measured, so the uncontended path reads no clock.
//!
//! Lock order: the strategy's lock, then the queue's (inside `Slots::set_limit`); nothing takes
//! the strategy's lock while holding the queue's. Events are emitted after both are dropped.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::limit::{Limit, Outcome, Sample};
use crate::slots::{Drained, Slots};

/// A user's classifier of call outputs (see `Builder::classify`).
pub(crate) type Classifier = Arc<dyn Fn(&dyn Any) -> Outcome + Send + Sync>;

/// Makes a fresh strategy for each bagpipe a builder builds.
pub(crate) type MakeLimit = Arc<dyn Fn() -> Box<dyn Limit> + Send + Sync>;

/// What a limit change was, for the `limit` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) drained: Drained,
}

pub(crate) struct Controller {
    strategy: Mutex<Box<dyn Limit>>,
    /// The start of the controller's clock: calls are stamped in microseconds since then,
    /// modulo 2^32 (see [`ticks`](Controller::ticks)).
    base: Instant,
    min: usize,
    max: usize,
    pub(crate) counters: AdaptiveCounters,
}

/// What the controller saw.
#[derive(Debug, Default)]
pub(crate) struct AdaptiveCounters {
    pub(crate) samples: AtomicU64,
    pub(crate) overloads: AtomicU64,
    pub(crate) increases: AtomicU64,
    pub(crate) decreases: AtomicU64,
}

impl Controller {
    pub(crate) fn new(strategy: Box<dyn Limit>) -> Self {
        let min = strategy.min().max(1);
        let max = strategy.max().max(min);
        Self {
            strategy: Mutex::new(strategy),
            base: Instant::now(),
            min,
            max,
            counters: AdaptiveCounters::default(),
        }
    }

    /// Now, in microseconds since the controller was made, modulo 2^32 (71 minutes): the stamp
    /// a measured call carries in its four spare bytes. A call that holds its slot for longer
    /// than that is measured modulo 71 minutes.
    #[inline]
    pub(crate) fn ticks(&self) -> u32 {
        self.base.elapsed().as_micros() as u32
    }

    /// The time since a call stamped `started`.
    pub(crate) fn since(&self, started: u32) -> Duration {
        Duration::from_micros(u64::from(self.ticks().wrapping_sub(started)))
    }

    /// The strategy's starting limit, clamped.
    pub(crate) fn initial(&self) -> usize {
        let strategy = self.strategy.lock().unwrap_or_else(PoisonError::into_inner);
        strategy.initial().clamp(self.min, self.max)
    }

    /// Feeds one finished call to the strategy and applies its answer.
    pub(crate) fn record(
        &self,
        slots: &Slots,
        latency: Duration,
        outcome: Outcome,
        in_flight: usize,
    ) -> Option<Change> {
        let bump = |counter: &AtomicU64| counter.fetch_add(1, Ordering::Relaxed);
        bump(&self.counters.samples);
        if outcome.is_overload() {
            bump(&self.counters.overloads);
        }
        // A strategy that panics leaves the limit where it was; its state is its own.
        let mut strategy = self.strategy.lock().unwrap_or_else(PoisonError::into_inner);
        let from = slots.limit();
        let sample = Sample::new(latency, outcome, in_flight, from);
        let to = strategy.update(&sample).clamp(self.min, self.max);
        if to == from {
            return None;
        }
        let drained = slots.set_limit(to);
        drop(strategy);
        bump(if to > from {
            &self.counters.increases
        } else {
            &self.counters.decreases
        });
        Some(Change { from, to, drained })
    }
}

impl fmt::Debug for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `try_lock`: a strategy's own `Debug` may be what holds the lock.
        let strategy = self.strategy.try_lock();
        let strategy: &dyn fmt::Debug = match &strategy {
            Ok(strategy) => &**strategy,
            Err(_) => &"<busy>",
        };
        f.debug_struct("Controller")
            .field("strategy", strategy)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// What a builder holds of the limit strategy and the classifier, until `build`.
#[derive(Clone, Default)]
pub(crate) struct Adaptivity {
    pub(crate) make: Option<MakeLimit>,
    pub(crate) classify: Classify,
}

/// The user's classifier, if any.
#[derive(Clone, Default)]
pub(crate) struct Classify(pub(crate) Option<Classifier>);

impl Classify {
    /// What the classifier makes of a call's output ([`Outcome::Success`] without one).
    pub(crate) fn outcome(&self, output: &dyn Any) -> Outcome {
        self.0
            .as_ref()
            .map_or(Outcome::Success, |classify| classify(output))
    }
}

impl fmt::Debug for Classify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Classify(..)"
        } else {
            "None"
        })
    }
}

impl fmt::Debug for Adaptivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adaptivity")
            .field("adaptive", &self.make.is_some())
            .field("classify", &self.classify)
            .finish()
    }
}
