//! # Implementation details
//!
//! Time as the map keeps it: nanoseconds since the map was built, on [`tokio::time::Instant`]
//! (so paused test time applies). A slot stores instants in these units; [`NEVER`] marks an
//! entry that does not expire (or is never refreshed), and such a slot is checked without
//! reading the clock, so a map whose entries never expire never reads it on a `get`.

use std::time::Duration;

use tokio::time::Instant;

/// The stamp of an instant that never comes.
pub(crate) const NEVER: u64 = u64::MAX;

/// Nanoseconds in `d`, saturating.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NEVER)
}

/// The map's clock.
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }

    /// Nanoseconds since the map was built.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        nanos(Instant::now().saturating_duration_since(self.epoch))
    }
}

/// The instant `after` from `now`, or [`NEVER`] without a duration.
pub(crate) fn deadline(now: u64, after: Option<Duration>) -> u64 {
    after.map_or(NEVER, |d| now.saturating_add(nanos(d)).min(NEVER - 1))
}

/// Reads the clock at most once, and only when a stamp needs it.
pub(crate) struct LazyNow<'a> {
    clock: &'a Clock,
    now: Option<u64>,
}

impl<'a> LazyNow<'a> {
    pub(crate) fn new(clock: &'a Clock) -> Self {
        Self { clock, now: None }
    }

    pub(crate) fn known(clock: &'a Clock, now: u64) -> Self {
        Self {
            clock,
            now: Some(now),
        }
    }

    #[inline]
    pub(crate) fn get(&mut self) -> u64 {
        *self.now.get_or_insert_with(|| self.clock.now())
    }

    /// Whether the instant `stamp` has come.
    #[inline]
    pub(crate) fn reached(&mut self, stamp: u64) -> bool {
        stamp != NEVER && self.get() >= stamp
    }
}
