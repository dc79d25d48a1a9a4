//! Vegas: queueing estimated from the no-load latency.

use std::time::Duration;

use super::window::Window;
use super::{Limit, Sample, log10_step};

/// How many round trips' calls (`L` completed calls each) one window holds.
const ROUND_TRIPS_PER_WINDOW: f64 = 2.0;

/// Delay-based limit after TCP Vegas and Netflix's `VegasLimit`: estimates how many calls queue
/// at the backend from how far the latency has risen above the no-load latency,
/// `queue = limit × (1 − no_load / latency)`, and steers that estimate between `alpha` and
/// `beta`.
///
/// | queue estimate            | change                                          |
/// |---------------------------|-------------------------------------------------|
/// | ≤ `threshold` (log10 L)   | + `beta` (6·log10 L)                            |
/// | < `alpha` (3·log10 L)     | + log10 L                                       |
/// | > `beta` (6·log10 L)      | − half the excess over `beta`, at least log10 L |
/// | otherwise                 | unchanged                                       |
/// | a congestion signal       | − log10 L                                       |
///
/// where L is the current limit and log10 L is at least 1. Netflix's steps down by log10 L
/// whatever the excess: after a backend loses most of its capacity that takes seconds, and a
/// queue of dozens of calls waits meanwhile.
///
/// The limit moves once per window of two round trips' calls (`2 L` completed calls, at least
/// 10; TCP Vegas moves once per round trip), and the windows' mean latency, averaged over the
/// last windows (an exponential average, each window weighing a quarter), is compared with the
/// no-load latency. One call's latency says little when service times vary (an exponential
/// service time is as often under 70% of its mean as over 1.4 times it), and one round trip's
/// mean still varies by a fifth at a limit of 25. In the crate's simulation (three capacities,
/// six seeds, with and without a queue discipline: 36 phases), the limit failed to settle
/// within 2 s of a change in 6 phases with windows of one round trip, in 1 with windows of two,
/// and in 3 with windows of three, which also took over a second for every change.
///
/// The no-load latency is the lowest value of a slower average of the windows (a plain mean
/// over the first 8, then each weighing an eighth): the lowest of noisy values sits well under
/// the true one, which would make every limit look queued, and the first windows of a burst
/// hold its fastest calls only. The lowest value is kept per epoch of `probe_multiplier`
/// windows, and the no-load latency is the lower of this epoch's and the last one's: a backend
/// that became slower for good is adopted within two epochs, while a queue that built up
/// meanwhile is not taken for the no-load latency (Netflix's resets it to the next sample,
/// queued or not). The limit does not move while less than half of it is in use.
///
/// | parameter          | default | meaning                                               |
/// |--------------------|---------|-------------------------------------------------------|
/// | `initial_limit`    | 20      | the limit to start with                               |
/// | `min_limit`        | 1       | the lowest limit                                      |
/// | `max_limit`        | 1000    | the highest limit                                     |
/// | `smoothing`        | 1.0     | how much of a step is taken, in `(0, 1]`              |
/// | `probe_multiplier` | 30      | windows per epoch of the no-load latency              |
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
/// use nodebook_bagpipe::limit::Vegas;
///
/// let pipe = Bagpipe::builder(0)
///     .limit(Vegas::default().initial_limit(10).max_limit(500))
///     .build();
/// assert_eq!(pipe.limit(), 10);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Vegas {
    limit: f64,
    min: usize,
    max: usize,
    smoothing: f64,
    probe_multiplier: usize,
    /// The lowest baseline of this epoch of `probe_multiplier` windows, and of the one
    /// before: the no-load latency is the lower of the two.
    no_load: Option<Duration>,
    previous_no_load: Option<Duration>,
    smoothed: Option<Duration>,
    /// A slow average of the windows' latency (a plain mean over the first 8 windows, then
    /// each weighing an eighth), whose lowest value is the no-load latency.
    baseline: Option<Duration>,
    windows: u32,
    since_probe: usize,
    window: Window,
}

impl Default for Vegas {
    fn default() -> Self {
        Self {
            limit: 20.0,
            min: 1,
            max: 1000,
            smoothing: 1.0,
            probe_multiplier: 30,
            no_load: None,
            previous_no_load: None,
            smoothed: None,
            baseline: None,
            windows: 0,
            since_probe: 0,
            window: Window::default(),
        }
    }
}

impl Vegas {
    /// The limit to start with (20 by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::limit::{Limit, Vegas};
    /// assert_eq!(Vegas::default().initial_limit(4).initial(), 4);
    /// ```
    #[must_use]
    pub fn initial_limit(mut self, limit: usize) -> Self {
        self.limit = limit as f64;
        self
    }

    /// The lowest limit (1 by default; 0 acts as 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::limit::{Limit, Vegas};
    /// assert_eq!(Vegas::default().min_limit(5).min(), 5);
    /// ```
    #[must_use]
    pub fn min_limit(mut self, min: usize) -> Self {
        self.min = min;
        self
    }

    /// The highest limit (1000 by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::limit::{Limit, Vegas};
    /// assert_eq!(Vegas::default().max_limit(50).max(), 50);
    /// ```
    #[must_use]
    pub fn max_limit(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    /// How much of each step is taken (1.0, all of it, by default), clamped to `[0.01, 1]`.
    ///
    /// # Examples
    ///
    /// ```
    /// let vegas = nodebook_bagpipe::limit::Vegas::default().smoothing(0.5);
    /// # drop(vegas);
    /// ```
    #[must_use]
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = if smoothing.is_nan() {
            1.0
        } else {
            smoothing.clamp(0.01, 1.0)
        };
        self
    }

    /// The windows in one epoch of the no-load latency (30 by default; at least 1): a backend
    /// that became slower for good is adopted within two epochs.
    ///
    /// # Examples
    ///
    /// ```
    /// let vegas = nodebook_bagpipe::limit::Vegas::default().probe_multiplier(60);
    /// # drop(vegas);
    /// ```
    #[must_use]
    pub fn probe_multiplier(mut self, multiplier: usize) -> Self {
        self.probe_multiplier = multiplier.max(1);
        self
    }
}

impl Vegas {
    fn clamped(&mut self) -> usize {
        self.limit = self
            .limit
            .clamp(self.min.max(1) as f64, self.max.max(self.min).max(1) as f64);
        self.limit as usize
    }
}

impl Limit for Vegas {
    fn initial(&self) -> usize {
        self.limit as usize
    }

    fn update(&mut self, sample: &Sample) -> usize {
        let limit = super::follow(self.limit, sample.limit);
        self.limit = limit;
        let Some(window) = self.window.add(sample, ROUND_TRIPS_PER_WINDOW * limit) else {
            return self.clamped();
        };
        self.since_probe += 1;
        if self.since_probe >= self.probe_multiplier {
            self.since_probe = 0;
            self.previous_no_load = self.no_load.take();
        }
        if let Some(latency) = window.latency {
            let smoothed = self.smoothed.map_or(latency, |smoothed| {
                smoothed.mul_f64(0.75) + latency.mul_f64(0.25)
            });
            self.smoothed = Some(smoothed);
            self.windows = self.windows.saturating_add(1);
            let weight = 1.0 / f64::from(self.windows.min(8));
            let baseline = self.baseline.map_or(latency, |baseline| {
                baseline.mul_f64(1.0 - weight) + latency.mul_f64(weight)
            });
            self.baseline = Some(baseline);
            // The first windows are the fastest calls of a burst: their plain mean stands in
            // for the no-load latency until it spans 8 windows.
            self.no_load = Some(match self.no_load {
                Some(low) if self.windows > 8 => low.min(baseline),
                _ => baseline,
            });
        }
        let no_load = match (self.no_load, self.previous_no_load) {
            (Some(now), Some(before)) => Some(now.min(before)),
            (now, before) => now.or(before),
        };
        let step = log10_step(limit);
        let target = if window.overload {
            limit - step
        } else if window.in_flight * 2 < sample.limit {
            limit
        } else if let (Some(latency), Some(no_load)) = (self.smoothed, no_load) {
            let queue = (limit * (1.0 - no_load.as_secs_f64() / latency.as_secs_f64())).ceil();
            let beta = 6.0 * step;
            if queue <= step {
                limit + beta
            } else if queue < 3.0 * step {
                limit + step
            } else if queue > beta {
                limit - step.max((queue - beta) / 2.0)
            } else {
                limit
            }
        } else {
            limit
        };
        self.limit = (1.0 - self.smoothing) * limit + self.smoothing * target;
        self.clamped()
    }

    fn min(&self) -> usize {
        self.min
    }

    fn max(&self) -> usize {
        self.max
    }
}
