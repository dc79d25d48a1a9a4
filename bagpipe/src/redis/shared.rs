//! # Implementation details
//!
//! What a [`RedisBagpipe`](super::RedisBagpipe)'s handles, permits and background tasks share:
//! the store, the options, this process's waiters and held leases, and whether Redis answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::Health;
use super::builder::OutagePolicy;
use super::store::{Failure, Granted, Store};
use super::waiters::Waiters;
use crate::bagpipe::Bagpipe;

/// The options a builder fixed.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) limit: usize,
    pub(crate) queue_length: usize,
    pub(crate) refuse: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) queue_timeout: Option<Duration>,
    pub(crate) lease: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) outage: OutagePolicy,
}

/// A slot held in Redis by a permit of this process.
#[derive(Debug)]
pub(crate) struct Lease {
    pub(crate) id: String,
    pub(crate) granted: Granted,
    /// The data set the lease is registered in: the grant's, or the one it re-registered in
    /// after Redis lost its data (so that a later loss in that data set is reported, not
    /// re-registered).
    epoch: Mutex<String>,
    pub(crate) lost: AtomicBool,
    /// When the last call that set or renewed the lease was sent: the lease ends no earlier
    /// than this plus its length (the server's clock started it later).
    renewed: Mutex<Instant>,
}

impl Lease {
    pub(crate) fn new(id: String, granted: Granted, sent: Instant) -> Self {
        Self {
            id,
            epoch: Mutex::new(granted.epoch.clone()),
            granted,
            lost: AtomicBool::new(false),
            renewed: Mutex::new(sent),
        }
    }

    pub(crate) fn renewed(&self, sent: Instant) {
        *self.renewed.lock().unwrap_or_else(PoisonError::into_inner) = sent;
    }

    pub(crate) fn epoch(&self) -> String {
        self.epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn reregistered(&self, sent: Instant, epoch: &str) {
        self.renewed(sent);
        epoch.clone_into(&mut self.epoch.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn renewed_at(&self) -> Instant {
        *self.renewed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) name: String,
    pub(crate) settings: Settings,
    /// The local queue in front of Redis.
    pub(crate) front: Bagpipe,
    /// The local limit used while Redis is away, under [`OutagePolicy::Fallback`].
    pub(crate) fallback: Option<Bagpipe>,
    pub(crate) waiters: Waiters,
    pub(crate) held: Mutex<HashMap<String, Arc<Lease>>>,
    redis_up: AtomicBool,
    pub(crate) health: watch::Sender<Health>,
    /// Asks the background task to ping Redis now.
    pub(crate) probe_now: Notify,
    origin: u64,
    next_id: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn new(
        store: Store,
        name: String,
        settings: Settings,
        front: Bagpipe,
        fallback: Option<Bagpipe>,
    ) -> Self {
        Self {
            store,
            name,
            settings,
            front,
            fallback,
            waiters: Waiters::default(),
            held: Mutex::new(HashMap::new()),
            redis_up: AtomicBool::new(true),
            health: watch::Sender::new(Health::Degraded),
            probe_now: Notify::new(),
            origin: random_u64(),
            next_id: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// A permit id no other process or attempt uses.
    pub(crate) fn next_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}-{n}", self.origin)
    }

    pub(crate) fn redis_up(&self) -> bool {
        self.redis_up.load(Ordering::Acquire)
    }

    /// A Redis call failed: use the outage policy until the background task's ping answers.
    pub(crate) fn failed(&self, failure: &Failure) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(failure.to_string());
        if self.redis_up.swap(false, Ordering::AcqRel) {
            self.health.send_replace(Health::Degraded);
        }
        self.probe_now.notify_one();
    }

    /// Redis answered a ping: back to the shared limit.
    pub(crate) fn answered(&self) {
        self.redis_up.store(true, Ordering::Release);
        self.health.send_if_modified(|health| {
            let changed = *health != Health::Connected;
            *health = Health::Connected;
            changed
        });
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn hold(&self, lease: Arc<Lease>) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(lease.id.clone(), lease);
    }

    pub(crate) fn unhold(&self, id: &str) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    pub(crate) fn held_leases(&self) -> Vec<Arc<Lease>> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// A lease this holder can no longer count on: flag it and tell the application. Not if
    /// the permit was released meanwhile (a renewal that raced its release finds it gone).
    pub(crate) fn lost(&self, lease: &Lease) {
        let held = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&lease.id)
            .is_some();
        if held && !lease.lost.swap(true, Ordering::AcqRel) {
            let event = crate::Event::LeaseLost {
                fencing_token: lease.granted.fence,
            };
            let _ = self.front.events().emit(crate::Event::LEASE_LOST, event);
        }
    }
}

/// A random number, from the standard library's seeded hasher (no dependency).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// `base` scaled by a random factor in [0.5, 1.5), so that processes do not poll in step.
pub(crate) fn jitter(base: Duration) -> Duration {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a jitter factor needs no precision"
    )]
    let factor = 0.5 + (random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_one_and_a_half_times() {
        let base = Duration::from_millis(100);
        for _ in 0..1_000 {
            let d = jitter(base);
            assert!(d >= base / 2 && d < base * 3 / 2, "{d:?}");
        }
    }
}
