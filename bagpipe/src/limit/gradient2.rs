//! Gradient2: long-term against short-term latency.

use super::window::Window;
use super::{Limit, Sample};

/// How much more slowly the long-term average follows a rising short term than a falling one.
const RISE_DAMPING: f64 = 100.0;

/// Delay-based limit after Netflix's `Gradient2Limit`: compares the short-term latency with an
/// exponential average over many calls (the long term). The short term is the mean latency of
/// one round trip's calls (a window of `L` completed calls, at least 10), and the limit moves
/// once per window: Netflix's takes each call's latency as the short term, which with
/// high-variance service times shrinks the limit on noise.
///
/// ```text
/// gradient  = clamp(tolerance × long / short, 0.5, tolerance)
/// target    = limit × gradient + queue_size
/// new limit = limit × (1 − smoothing) + target × smoothing
/// ```
///
/// At `short = tolerance × long` the limit grows by `queue_size` per window; beyond it, it
/// shrinks in proportion, never by more than half a step; below it, it grows in proportion, up
/// to `tolerance` times when the short term is no slower than the long term (Netflix's stops at
/// `queue_size`, one step per call, which per window would take a limit of 20 a second and a half
/// to reach a backend's capacity of 50).
///
/// Two departures from Netflix's keep the long term a measure of the backend rather than of the
/// queue in front of it. Once it spans `long_window` samples, it follows a short term above it
/// 100 times more slowly than one below it: Netflix's follows both alike, so under a lasting
/// overload it rises to the queued latency, the gradient returns to 1 and the limit grows back
/// past the backend's capacity (in the crate's simulation it settled at 4.6 times the capacity
/// after the backend lost 60% of it). A backend that became slower for good is still adopted,
/// over about 100 long windows. And when the long-term average has drifted above twice the
/// short term (the backend got faster, or a burst of slow calls inflated the average), it
/// decays by 5% per window so the limit can grow again. The limit does not move while less
/// than half of it is in use.
///
/// | parameter       | default | meaning                                                |
/// |-----------------|---------|--------------------------------------------------------|
/// | `initial_limit` | 20      | the limit to start with                                |
/// | `min_limit`     | 1       | the lowest limit                                       |
/// | `max_limit`     | 1000    | the highest limit                                      |
/// | `smoothing`     | 0.2     | how much of a step is taken, in `(0, 1]`               |
/// | `tolerance`     | 1.5     | how much slower than the long term is still fine (≥ 1) |
/// | `long_window`   | 600     | samples in the long-term average                       |
/// | `queue_size`    | 4       | the headroom added on top of `limit × gradient`        |
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
/// use nodebook_bagpipe::limit::Gradient2;
///
/// let pipe = Bagpipe::builder(0)
///     .limit(Gradient2::default().initial_limit(10).max_limit(200).tolerance(2.0))
///     .build();
/// assert_eq!(pipe.limit(), 10);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient2 {
    limit: f64,
    min: usize,
    max: usize,
    smoothing: f64,
    tolerance: f64,
    long_window: usize,
    queue_size: f64,
    long: Option<f64>,
    seen: usize,
    window: Window,
}

impl Default for Gradient2 {
    fn default() -> Self {
        Self {
            limit: 20.0,
            min: 1,
            max: 1000,
            smoothing: 0.2,
            tolerance: 1.5,
            long_window: 600,
            queue_size: 4.0,
            long: None,
            seen: 0,
            window: Window::default(),
        }
    }
}

impl Gradient2 {
    /// The limit to start with (20 by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::limit::{Gradient2, Limit};
    /// assert_eq!(Gradient2::default().initial_limit(4).initial(), 4);
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
    /// use nodebook_bagpipe::limit::{Gradient2, Limit};
    /// assert_eq!(Gradient2::default().min_limit(5).min(), 5);
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
    /// use nodebook_bagpipe::limit::{Gradient2, Limit};
    /// assert_eq!(Gradient2::default().max_limit(50).max(), 50);
    /// ```
    #[must_use]
    pub fn max_limit(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    /// How much of each step is taken (0.2 by default), clamped to `[0.01, 1]`.
    ///
    /// # Examples
    ///
    /// ```
    /// let gradient = nodebook_bagpipe::limit::Gradient2::default().smoothing(0.5);
    /// # drop(gradient);
    /// ```
    #[must_use]
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = if smoothing.is_nan() {
            0.2
        } else {
            smoothing.clamp(0.01, 1.0)
        };
        self
    }

    /// How much slower than the long-term average a call may be before the limit shrinks (1.5
    /// by default; at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let gradient = nodebook_bagpipe::limit::Gradient2::default().tolerance(2.0);
    /// # drop(gradient);
    /// ```
    #[must_use]
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = if tolerance.is_nan() {
            1.5
        } else {
            tolerance.max(1.0)
        };
        self
    }

    /// How many samples the long-term average spans (600 by default; at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let gradient = nodebook_bagpipe::limit::Gradient2::default().long_window(100);
    /// # drop(gradient);
    /// ```
    #[must_use]
    pub fn long_window(mut self, samples: usize) -> Self {
        self.long_window = samples.max(1);
        self
    }

    /// The headroom added on top of `limit × gradient` (4 by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let gradient = nodebook_bagpipe::limit::Gradient2::default().queue_size(8);
    /// # drop(gradient);
    /// ```
    #[must_use]
    pub fn queue_size(mut self, queue_size: usize) -> Self {
        self.queue_size = queue_size as f64;
        self
    }
}

impl Gradient2 {
    fn clamped(&mut self) -> usize {
        self.limit = self
            .limit
            .clamp(self.min.max(1) as f64, self.max.max(self.min).max(1) as f64);
        self.limit as usize
    }
}

impl Limit for Gradient2 {
    fn initial(&self) -> usize {
        self.limit as usize
    }

    fn update(&mut self, sample: &Sample) -> usize {
        let limit = super::follow(self.limit, sample.limit);
        self.limit = limit;
        let Some(window) = self.window.add(sample, limit) else {
            return self.clamped();
        };
        let Some(latency) = window.latency else {
            return self.clamped();
        };
        let short = latency.as_secs_f64();
        // The long-term average: a plain mean until the window is full, then exponential,
        // each window weighing as many samples as it holds, and a slower window (a queue
        // building up) a hundredth of that.
        self.seen = self.seen.saturating_add(window.samples);
        let mut weight =
            (window.samples as f64 / self.seen.min(self.long_window).max(1) as f64).min(1.0);
        if self.seen > self.long_window && self.long.is_some_and(|long| short > long) {
            weight /= RISE_DAMPING;
        }
        let mut long = self
            .long
            .map_or(short, |long| long * (1.0 - weight) + short * weight);
        if long / short > 2.0 {
            long *= 0.95;
        }
        self.long = Some(long);
        if window.in_flight * 2 < sample.limit {
            return self.clamped();
        }
        let gradient = (self.tolerance * long / short).clamp(0.5, self.tolerance);
        let target = limit * gradient + self.queue_size;
        self.limit = limit * (1.0 - self.smoothing) + target * self.smoothing;
        self.clamped()
    }

    fn min(&self) -> usize {
        self.min
    }

    fn max(&self) -> usize {
        self.max
    }
}
