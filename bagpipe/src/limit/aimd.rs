//! AIMD: additive increase, multiplicative decrease.

use std::time::Duration;

use super::{Limit, Sample};

/// Loss-based limit, as TCP Reno's congestion avoidance: grows by one per round trip (each
/// success adds `1 / limit`) while the limit is in use, shrinks by `backoff_ratio` on a
/// congestion signal (an
/// [`Outcome::Overload`](super::Outcome::Overload), an [`Outcome::Timeout`](super::Outcome::Timeout),
/// or a call slower than `latency_threshold`).
///
/// It needs a loss signal to find the backend's capacity: set the bagpipe's
/// [`timeout`](crate::Builder::timeout), a [`classify`](crate::Builder::classify)er, or a
/// `latency_threshold`. Without one, it grows to `max`.
///
/// | parameter            | default | meaning                                                  |
/// |----------------------|---------|----------------------------------------------------------|
/// | `initial_limit`      | 20      | the limit to start with                                  |
/// | `min_limit`          | 1       | the lowest limit                                         |
/// | `max_limit`          | 1000    | the highest limit                                        |
/// | `backoff_ratio`      | 0.9     | the factor applied on a congestion signal, in `[0.5, 1)` |
/// | `latency_threshold`  | none    | a success slower than this counts as congestion          |
///
/// A success grows the limit only while at least half of it is in use (`in_flight * 2 >=
/// limit`), so an idle period does not inflate it. After a decrease, the congestion signals of
/// the calls that were in flight then (one round trip's worth) do not decrease it again, as TCP
/// backs off once per round trip: otherwise one burst of timeouts would drive the limit to
/// `min`. (Netflix's `AIMDLimit` adds one per success: under a steady overload that grows the
/// limit by the request rate every second, far past the backend's capacity before the first
/// timeout reports it.)
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
/// use nodebook_bagpipe::limit::Aimd;
/// use std::time::Duration;
///
/// let pipe = Bagpipe::builder(0)
///     .limit(Aimd::default().initial_limit(10).max_limit(100).backoff_ratio(0.8))
///     .timeout(Duration::from_secs(1))
///     .build();
/// assert_eq!(pipe.limit(), 10);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Aimd {
    limit: f64,
    min: usize,
    max: usize,
    backoff_ratio: f64,
    latency_threshold: Option<Duration>,
    recovering: usize,
}

impl Default for Aimd {
    fn default() -> Self {
        Self {
            limit: 20.0,
            min: 1,
            max: 1000,
            backoff_ratio: 0.9,
            latency_threshold: None,
            recovering: 0,
        }
    }
}

impl Aimd {
    /// The limit to start with (20 by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::limit::{Aimd, Limit};
    /// assert_eq!(Aimd::default().initial_limit(4).initial(), 4);
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
    /// use nodebook_bagpipe::limit::{Aimd, Limit};
    /// assert_eq!(Aimd::default().min_limit(5).min(), 5);
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
    /// use nodebook_bagpipe::limit::{Aimd, Limit};
    /// assert_eq!(Aimd::default().max_limit(50).max(), 50);
    /// ```
    #[must_use]
    pub fn max_limit(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    /// The factor the limit is multiplied by on a congestion signal (0.9 by default), clamped
    /// to `[0.5, 0.99]`.
    ///
    /// # Examples
    ///
    /// ```
    /// let aimd = nodebook_bagpipe::limit::Aimd::default().backoff_ratio(0.5);
    /// # drop(aimd);
    /// ```
    #[must_use]
    pub fn backoff_ratio(mut self, ratio: f64) -> Self {
        self.backoff_ratio = if ratio.is_nan() {
            0.9
        } else {
            ratio.clamp(0.5, 0.99)
        };
        self
    }

    /// A success slower than this counts as congestion (none by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let aimd = nodebook_bagpipe::limit::Aimd::default()
    ///     .latency_threshold(Duration::from_millis(250));
    /// # drop(aimd);
    /// ```
    #[must_use]
    pub fn latency_threshold(mut self, threshold: Duration) -> Self {
        self.latency_threshold = Some(threshold);
        self
    }
}

impl Limit for Aimd {
    fn initial(&self) -> usize {
        self.limit as usize
    }

    fn update(&mut self, sample: &Sample) -> usize {
        let slow = self
            .latency_threshold
            .is_some_and(|threshold| sample.latency > threshold);
        let limit = super::follow(self.limit, sample.limit);
        let congested =
            sample.outcome.is_overload() || (slow && sample.outcome == super::Outcome::Success);
        self.recovering = self.recovering.saturating_sub(1);
        if congested && self.recovering > 0 {
            // The calls that were in flight at the last decrease report the same congestion.
            self.limit = limit;
        } else if congested {
            self.limit = (limit * self.backoff_ratio).floor();
            self.recovering = sample.in_flight.max(1);
        } else if sample.outcome == super::Outcome::Success && sample.in_flight * 2 >= sample.limit
        {
            // One per round trip: a limit's worth of successes adds one.
            self.limit = limit + 1.0 / limit.max(1.0);
        } else {
            self.limit = limit;
        }
        self.limit = self
            .limit
            .clamp(self.min.max(1) as f64, self.max.max(self.min).max(1) as f64);
        self.limit as usize
    }

    fn min(&self) -> usize {
        self.min
    }

    fn max(&self) -> usize {
        self.max
    }
}
