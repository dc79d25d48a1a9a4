//! [`RedisStats`] and [`Health`]: what the Redis tier reports.

use std::sync::atomic::{AtomicU64, Ordering};

/// Whether the Redis tier is in use, from [`RedisCache::health`](super::RedisCache::health).
///
/// # Examples
///
/// ```
/// use nodebook_cache::redis::Health;
///
/// assert_ne!(Health::Connected, Health::Degraded);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Health {
    /// Redis answers and this replica is subscribed to the namespace's events: both tiers and
    /// the cross-process lease are in use.
    Connected,
    /// Redis did not answer in time, refused, or the subscription is down: the cache serves
    /// from the local tier and coalesces loads inside this process only, while a background
    /// task reconnects. Nothing fails because of it.
    Degraded,
}

/// A snapshot of a [`RedisCache`](super::RedisCache)'s counters. Counters only grow.
///
/// # Examples
///
/// ```
/// use nodebook_cache::redis::RedisStats;
///
/// let stats = RedisStats::default();
/// assert_eq!(stats.loads, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Reads answered by the local tier.
    pub local_hits: u64,
    /// Reads answered by Redis (the local tier missed).
    pub redis_hits: u64,
    /// Loader runs in this process: as the lease holder, or degraded.
    pub loads: u64,
    /// Loads that held the cross-process lease.
    pub leases_acquired: u64,
    /// Loads that waited for another process's lease holder.
    pub lease_waits: u64,
    /// Waits ended by a `done`, `fail` or `inval` message.
    pub woken_by_message: u64,
    /// Waits ended by the polling fallback or the lease's expiry.
    pub woken_by_poll: u64,
    /// Writes refused because this process's lease had expired (a newer value was kept).
    pub fenced_writes: u64,
    /// Loads run without Redis because the tier was degraded.
    pub degraded_loads: u64,
    /// Redis calls that failed or timed out.
    pub redis_errors: u64,
    /// Redis calls among them that timed out.
    pub timeouts: u64,
    /// Times the tier went from connected to degraded.
    pub outages: u64,
    /// Times the subscription came back after being lost (each flushed the local tier).
    pub reconnects: u64,
    /// Invalidations from other replicas that dropped a local copy.
    pub invalidations_received: u64,
    /// Values in Redis that did not decode (treated as misses).
    pub decode_errors: u64,
    /// Values that did not encode (kept locally only).
    pub encode_errors: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) local_hits: AtomicU64,
    pub(crate) redis_hits: AtomicU64,
    pub(crate) loads: AtomicU64,
    pub(crate) leases_acquired: AtomicU64,
    pub(crate) lease_waits: AtomicU64,
    pub(crate) woken_by_message: AtomicU64,
    pub(crate) woken_by_poll: AtomicU64,
    pub(crate) fenced_writes: AtomicU64,
    pub(crate) degraded_loads: AtomicU64,
    pub(crate) redis_errors: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) outages: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) invalidations_received: AtomicU64,
    pub(crate) decode_errors: AtomicU64,
    pub(crate) encode_errors: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RedisStats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisStats {
            local_hits: read(&self.local_hits),
            redis_hits: read(&self.redis_hits),
            loads: read(&self.loads),
            leases_acquired: read(&self.leases_acquired),
            lease_waits: read(&self.lease_waits),
            woken_by_message: read(&self.woken_by_message),
            woken_by_poll: read(&self.woken_by_poll),
            fenced_writes: read(&self.fenced_writes),
            degraded_loads: read(&self.degraded_loads),
            redis_errors: read(&self.redis_errors),
            timeouts: read(&self.timeouts),
            outages: read(&self.outages),
            reconnects: read(&self.reconnects),
            invalidations_received: read(&self.invalidations_received),
            decode_errors: read(&self.decode_errors),
            encode_errors: read(&self.encode_errors),
        }
    }
}
