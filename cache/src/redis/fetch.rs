//! # Implementation details
//!
//! What one process does for a key that missed its local tier. It runs as the loader of the
//! local tier's once-queue, so at most one of these runs per key per process, detached from
//! the callers (a caller that times out leaves; the fetch goes on for the others):
//!
//! 1. Tier degraded: run the loader here (the once-queue still coalesces this process's
//!    callers); nothing is written to Redis.
//! 2. `GET` the value (with its remaining time-to-live, which caps the local copy's).
//! 3. Otherwise loop: register for wake-ups, `probe` (the value again, or the lease), and
//!    either return the value, lead the load, or wait for a message, the poll interval or the
//!    end of the holder's lease, whichever comes first, then probe again. A leader that died
//!    leaves its lease to expire; the first prober after that takes the lease (`SET NX`: one
//!    winner) and loads.
//! 4. The leader runs the loader, then writes through the fenced script. A refused write means
//!    its lease expired or was deleted by an invalidation: the newer value in Redis is returned
//!    instead of the one loaded here, or if there is none, the loaded value answers this
//!    fetch's callers without being kept in the local tier. A loader error or panic gives the lease back
//!    (and publishes `fail`) so that a waiter takes over at once.
//!
//! Any Redis failure on the way marks the tier degraded and falls back to step 1.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Notify, watch};

use super::codec::Codec;
use super::l2::{Failure, L2, Probe, Written};
use super::stats::{Counters, Health, bump};
use super::wakers::Wakers;

/// A value in the local tier, with the time-to-live it gets there.
#[derive(Clone, Debug)]
pub(crate) struct Local<V> {
    pub(crate) value: V,
    pub(crate) ttl: Duration,
}

/// The timings of the tier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    pub(crate) ttl: Duration,
    pub(crate) local_ttl: Duration,
    pub(crate) lease: Duration,
    pub(crate) poll_interval: Duration,
}

/// What the cache handles share with their fetches and the monitor task.
pub(crate) struct Shared<V, C> {
    pub(crate) l2: L2,
    pub(crate) codec: C,
    pub(crate) timings: Timings,
    pub(crate) counters: Counters,
    pub(crate) wakers: Arc<Wakers>,
    /// Whether the data connection answers.
    pub(crate) redis_up: AtomicBool,
    /// Whether the events subscription is live.
    pub(crate) subscribed: AtomicBool,
    pub(crate) health: watch::Sender<Health>,
    /// Asks the monitor to probe the data connection now.
    pub(crate) probe_now: Notify,
    pub(crate) next_token: AtomicU64,
    /// What the last failed Redis call said.
    pub(crate) last_error: std::sync::Mutex<Option<Arc<str>>>,
    pub(crate) _value: std::marker::PhantomData<fn() -> V>,
}

/// A fresh random number (std's per-instance random hasher keys).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// `base` scaled by a random factor in [0.5, 1.5).
fn jitter(base: Duration) -> Duration {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a jitter factor needs no precision"
    )]
    let factor = 0.5 + (random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    base.mul_f64(factor)
}

impl<V, C> Shared<V, C>
where
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
{
    pub(crate) fn is_connected(&self) -> bool {
        self.redis_up.load(Ordering::Acquire) && self.subscribed.load(Ordering::Acquire)
    }

    /// Publishes the health the two flags make, counting a fall into degraded.
    pub(crate) fn update_health(&self) {
        let now = if self.is_connected() {
            Health::Connected
        } else {
            Health::Degraded
        };
        let before = self.health.send_replace(now);
        #[cfg(feature = "tracing")]
        if before != now {
            crate::trace::decision!(health = ?now, "cache Redis tier health changed");
        }
        if before == Health::Connected && now == Health::Degraded {
            bump(&self.counters.outages);
        }
    }

    /// Counts a failed Redis call and degrades the tier until the monitor sees it answer.
    pub(crate) fn failed(&self, failure: &Failure) {
        bump(&self.counters.redis_errors);
        let message: Arc<str> = match failure {
            Failure::Timeout => {
                bump(&self.counters.timeouts);
                Arc::from("timed out")
            }
            Failure::Redis(error) => Arc::from(error.to_string()),
        };
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message);
        if self.redis_up.swap(false, Ordering::AcqRel) {
            self.update_health();
        }
        self.probe_now.notify_one();
    }

    fn token(&self) -> String {
        format!(
            "{}-{}",
            self.l2.origin(),
            self.next_token.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn local(&self, value: V) -> Local<V> {
        Local {
            value,
            ttl: self.timings.local_ttl,
        }
    }

    /// A value read from Redis, if it decodes; its local copy lives no longer than in Redis.
    fn decoded(&self, bytes: &[u8], remaining: Option<Duration>) -> Option<Local<V>> {
        match self.codec.decode(bytes) {
            Ok(value) => Some(Local {
                value,
                ttl: remaining.map_or(self.timings.local_ttl, |r| r.min(self.timings.local_ttl)),
            }),
            Err(_) => {
                bump(&self.counters.decode_errors);
                None
            }
        }
    }

    /// The value of `key` for this process's once-queue: from Redis, or loaded under the
    /// cross-process lease, or loaded here when the tier is degraded.
    pub(crate) async fn fetch<F, Fut, E>(&self, key: &str, loader: F) -> Result<Local<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if !self.is_connected() {
            return self.load_degraded(loader).await;
        }
        match self.l2.read(key).await {
            Ok(Some((bytes, remaining))) => {
                if let Some(local) = self.decoded(&bytes, remaining) {
                    bump(&self.counters.redis_hits);
                    return Ok(local);
                }
                if let Err(failure) = self.l2.delete(key).await {
                    self.failed(&failure);
                    return self.load_degraded(loader).await;
                }
            }
            Ok(None) => {}
            Err(failure) => {
                self.failed(&failure);
                return self.load_degraded(loader).await;
            }
        }
        let token = self.token();
        let mut waited = false;
        loop {
            let mut wake = self.wakers.register(key);
            match self.l2.probe(key, &token, self.timings.lease).await {
                Err(failure) => {
                    self.failed(&failure);
                    return self.load_degraded(loader).await;
                }
                Ok(Probe::Value(bytes, remaining)) => {
                    if let Some(local) = self.decoded(&bytes, remaining) {
                        bump(&self.counters.redis_hits);
                        return Ok(local);
                    }
                    if let Err(failure) = self.l2.delete(key).await {
                        self.failed(&failure);
                        return self.load_degraded(loader).await;
                    }
                }
                Ok(Probe::Acquired) => return self.lead(key, &token, loader).await,
                Ok(Probe::Held(remaining)) => {
                    if !waited {
                        waited = true;
                        bump(&self.counters.lease_waits);
                    }
                    // Poll with jitter so that the waiters of several processes do not probe
                    // in step; never past the lease's end, where a dead leader is replaced.
                    let wait = jitter(self.timings.poll_interval)
                        .min(remaining + Duration::from_millis(1));
                    tokio::select! {
                        () = wake.changed() => bump(&self.counters.woken_by_message),
                        () = tokio::time::sleep(wait) => bump(&self.counters.woken_by_poll),
                    }
                }
            }
            if !self.is_connected() {
                return self.load_degraded(loader).await;
            }
        }
    }

    async fn load_degraded<F, Fut, E>(&self, loader: F) -> Result<Local<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        bump(&self.counters.loads);
        bump(&self.counters.degraded_loads);
        loader().await.map(|value| self.local(value))
    }

    /// Runs the loader under the lease held with `token`, then writes the value, fenced.
    async fn lead<F, Fut, E>(&self, key: &str, token: &str, loader: F) -> Result<Local<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        bump(&self.counters.loads);
        bump(&self.counters.leases_acquired);
        let outcome = AssertUnwindSafe(loader()).catch_unwind().await;
        let value = match outcome {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => {
                self.give_back(key, token).await;
                return Err(error);
            }
            Err(panic) => {
                self.give_back(key, token).await;
                std::panic::resume_unwind(panic);
            }
        };
        let bytes = match self.codec.encode(&value) {
            Ok(bytes) => bytes,
            Err(_) => {
                bump(&self.counters.encode_errors);
                self.give_back(key, token).await;
                return Ok(self.local(value));
            }
        };
        match self.l2.write(key, token, &bytes, self.timings.ttl).await {
            Ok(Written::Stored) => Ok(self.local(value)),
            Ok(Written::Fenced(newer)) => {
                bump(&self.counters.fenced_writes);
                // The callers get a value loaded after they asked, but unless Redis holds a
                // newer one, no replica keeps it: the lease was lost to an invalidation (or
                // ran out), so it may already be stale. A zero time-to-live is expired at once.
                Ok(newer
                    .and_then(|(bytes, remaining)| self.decoded(&bytes, remaining))
                    .unwrap_or(Local {
                        value,
                        ttl: Duration::ZERO,
                    }))
            }
            Err(failure) => {
                self.failed(&failure);
                Ok(self.local(value))
            }
        }
    }

    async fn give_back(&self, key: &str, token: &str) {
        if let Err(failure) = self.l2.release(key, token).await {
            self.failed(&failure);
        }
    }
}
