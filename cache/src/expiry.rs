//! # Implementation details
//!
//! How a slot records when it expires. A map without a time-to-live uses [`Never`]: its stamp
//! is `()`, so its slots carry no expiry field (8 bytes less per entry) and its reads never
//! look at the clock; every check folds to a constant. A map with a time-to-live uses [`Ttl`]:
//! the stamp is the nanosecond, counted from the map's creation on
//! [`tokio::time::Instant`] (so paused test time applies), at which the slot expires.

use std::time::Duration;

use tokio::time::Instant;

pub(crate) trait Expiry: Send + Sync + 'static {
    /// What a slot stores.
    type Stamp: Copy + Send + Sync + 'static;
    /// Whether slots can expire at all.
    const EXPIRES: bool;
    /// The current time in stamp units.
    fn now(&self) -> u64;
    /// The stamp of a slot written at `now`.
    fn stamp(&self, now: u64) -> Self::Stamp;
    /// Whether a slot with `stamp` is still live at `now`.
    fn live(stamp: Self::Stamp, now: u64) -> bool;
    fn time_to_live(&self) -> Option<Duration>;
}

/// Entries never expire.
pub(crate) struct Never;

impl Expiry for Never {
    type Stamp = ();
    const EXPIRES: bool = false;

    #[inline]
    fn now(&self) -> u64 {
        0
    }

    #[inline]
    fn stamp(&self, _now: u64) {}

    #[inline]
    fn live((): (), _now: u64) -> bool {
        true
    }

    fn time_to_live(&self) -> Option<Duration> {
        None
    }
}

/// Entries expire a fixed time after they were written.
pub(crate) struct Ttl {
    epoch: Instant,
    nanos: u64,
}

impl Ttl {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            nanos: u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX),
        }
    }
}

impl Expiry for Ttl {
    type Stamp = u64;
    const EXPIRES: bool = true;

    #[inline]
    fn now(&self) -> u64 {
        let since = Instant::now().saturating_duration_since(self.epoch);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    #[inline]
    fn stamp(&self, now: u64) -> u64 {
        now.saturating_add(self.nanos)
    }

    #[inline]
    fn live(stamp: u64, now: u64) -> bool {
        stamp > now
    }

    fn time_to_live(&self) -> Option<Duration> {
        Some(Duration::from_nanos(self.nanos))
    }
}
