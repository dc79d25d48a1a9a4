//! Samples gathered over one round trip, for the delay-based strategies.

use std::time::Duration;

use super::{Outcome, Sample};

/// The fewest samples a window holds.
const MIN_SAMPLES: usize = 10;

/// A number of completed calls (at least 10), a round trip's worth or more, whose mean latency
/// the delay-based strategies compare.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Window {
    count: usize,
    measured: usize,
    total: Duration,
    in_flight: usize,
    overload: bool,
}

/// A closed window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Closed {
    /// The mean latency of the calls that measure the backend (successes and congestion
    /// signals), if any.
    pub(crate) latency: Option<Duration>,
    /// The most slots held at any call's end.
    pub(crate) in_flight: usize,
    /// Whether any call signalled overload.
    pub(crate) overload: bool,
    /// How many samples measured the latency.
    pub(crate) samples: usize,
}

impl Window {
    /// Adds a sample; closes and returns the window once it holds `size` samples (at least
    /// 10).
    pub(crate) fn add(&mut self, sample: &Sample, size: f64) -> Option<Closed> {
        self.count += 1;
        if matches!(
            sample.outcome,
            Outcome::Success | Outcome::Overload | Outcome::Timeout
        ) && !sample.latency.is_zero()
        {
            self.measured += 1;
            self.total = self.total.saturating_add(sample.latency);
        }
        self.in_flight = self.in_flight.max(sample.in_flight);
        self.overload |= sample.outcome.is_overload();
        if self.count < MIN_SAMPLES.max(size as usize) {
            return None;
        }
        let closed = Closed {
            latency: (self.measured > 0)
                .then(|| self.total / u32::try_from(self.measured).unwrap_or(u32::MAX)),
            in_flight: self.in_flight,
            overload: self.overload,
            samples: self.measured,
        };
        *self = Self::default();
        Some(closed)
    }
}
