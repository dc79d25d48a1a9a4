//! [`RedisPermit`]: a slot of the shared limit, and how it was granted.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::shared::{Lease, Shared};
use super::store::Granted;
use crate::permit::OwnedPermit;

/// How a [`RedisPermit`] was granted: by the shared limit in Redis, or by the
/// [`OutagePolicy`](super::OutagePolicy) while Redis was away.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::redis::GrantedBy;
///
/// assert_ne!(GrantedBy::Redis, GrantedBy::Fallback);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantedBy {
    /// A slot of the shared limit, counted in Redis.
    Redis,
    /// Redis was away and the policy is [`FailOpen`](super::OutagePolicy::FailOpen): no slot
    /// is counted anywhere but in this process's local queue in front.
    Open,
    /// Redis was away and the policy is [`Fallback`](super::OutagePolicy::Fallback): a slot of
    /// this process's local fallback limit.
    Fallback,
}

enum Kind {
    Redis(Arc<Lease>),
    /// Released in Redis already, by [`RedisPermit::release`].
    Released,
    Open,
    Fallback(#[allow(dead_code, reason = "held for its drop")] OwnedPermit),
}

/// A slot of a [`RedisBagpipe`](super::RedisBagpipe), held until the permit is dropped; from
/// [`acquire`](super::RedisBagpipe::acquire).
///
/// Dropping it releases the slot without waiting: the id goes to the limiter's background
/// task, which frees it in Redis and hands it to the next waiter in the same round trip (if
/// Redis does not answer, the lease ends on its own). It owns its handles, so it can move into
/// a spawned task.
///
/// While it is held, the background task renews its lease. A holder that outlived its lease
/// (its process stalled, or Redis was away for a whole lease) may share its slot with another
/// holder by now: [`lease_lost`](Self::lease_lost) turns true and
/// [`Event::LeaseLost`](crate::Event::LeaseLost) is emitted. A write that must not come from
/// a stale holder carries [`fencing_token`](Self::fencing_token) for the backend to check.
///
/// # Examples
///
/// ```no_run
/// use nodebook_bagpipe::redis::{GrantedBy, RedisBagpipe};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let pipe = RedisBagpipe::builder(client, "orders-db", 10).build()?;
/// let permit = pipe.acquire().await?;
/// assert_eq!(permit.granted_by(), GrantedBy::Redis);
/// // UPDATE orders SET .. WHERE fence < $token, with the token:
/// let token = permit.fencing_token().expect("granted by Redis");
/// assert!(!permit.lease_lost());
/// # let _ = token;
/// # Ok(())
/// # }
/// ```
#[must_use = "the slot is released as soon as the permit is dropped"]
#[clippy::has_significant_drop]
pub struct RedisPermit {
    kind: Kind,
    shared: Arc<Shared>,
    releases: mpsc::UnboundedSender<String>,
    // Dropped after the release is queued: the local slot in front.
    _front: OwnedPermit,
}

impl RedisPermit {
    pub(crate) fn redis(pending: Pending, granted: Granted, front: OwnedPermit) -> Self {
        let (shared, releases, id, sent) = pending.disarm();
        let lease = Arc::new(Lease::new(id, granted, sent));
        shared.hold(Arc::clone(&lease));
        Self {
            kind: Kind::Redis(lease),
            shared,
            releases,
            _front: front,
        }
    }

    pub(crate) fn open(
        shared: Arc<Shared>,
        releases: mpsc::UnboundedSender<String>,
        front: OwnedPermit,
    ) -> Self {
        Self {
            kind: Kind::Open,
            shared,
            releases,
            _front: front,
        }
    }

    pub(crate) fn fallback(
        shared: Arc<Shared>,
        releases: mpsc::UnboundedSender<String>,
        front: OwnedPermit,
        local: OwnedPermit,
    ) -> Self {
        Self {
            kind: Kind::Fallback(local),
            shared,
            releases,
            _front: front,
        }
    }

    /// Whether the slot came from Redis or from the outage policy.
    ///
    /// # Examples
    ///
    /// See [`RedisPermit`].
    #[must_use]
    pub fn granted_by(&self) -> GrantedBy {
        match self.kind {
            Kind::Redis(_) => GrantedBy::Redis,
            Kind::Open | Kind::Released => GrantedBy::Open,
            Kind::Fallback(_) => GrantedBy::Fallback,
        }
    }

    /// The fencing token of a slot granted by Redis: every grant of the limiter gets a larger
    /// one than every grant before it (also across a Redis restart that lost the data, see the
    /// [module docs](super#guarantees)). A backend that remembers the largest token it saw and
    /// refuses writes with a smaller one is safe from a holder that lost its lease. `None` for
    /// a permit granted by the outage policy.
    ///
    /// # Examples
    ///
    /// See [`RedisPermit`].
    #[must_use]
    pub fn fencing_token(&self) -> Option<u64> {
        match &self.kind {
            Kind::Redis(lease) => Some(lease.granted.fence),
            _ => None,
        }
    }

    /// Whether this holder's lease was found gone (expired or lost with Redis's data, and not
    /// taken back), or could not be renewed for a whole lease: its slot may serve another
    /// holder now. It never turns false again. Always false for permits granted by the outage
    /// policy.
    ///
    /// # Examples
    ///
    /// See [`RedisPermit`].
    #[must_use]
    pub fn lease_lost(&self) -> bool {
        match &self.kind {
            Kind::Redis(lease) => lease.lost.load(Ordering::Acquire),
            _ => false,
        }
    }
}

impl RedisPermit {
    /// Releases the slot now and waits until Redis has freed it (and handed it to the next
    /// waiter), instead of leaving it to the background task as dropping does: one task switch
    /// less before the next holder runs. [`RedisBagpipe::run`](super::RedisBagpipe::run)
    /// releases this way.
    ///
    /// If Redis does not answer (or this future is dropped first), the release is left to the
    /// background task, as a drop's is.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use nodebook_bagpipe::redis::RedisBagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let pipe = RedisBagpipe::builder(client, "orders-db", 10).build()?;
    /// let permit = pipe.acquire().await?;
    /// permit.release().await;
    /// assert_eq!(pipe.held(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release(mut self) {
        let Kind::Redis(lease) = &self.kind else {
            return;
        };
        self.shared.unhold(&lease.id);
        let ids = [lease.id.clone()];
        match self.shared.store.release(&ids).await {
            Ok((_, granted)) => {
                self.kind = Kind::Released;
                for (id, granted) in granted {
                    self.shared.waiters.grant(&id, granted);
                }
            }
            Err(failure) => self.shared.failed(&failure),
        }
    }
}

impl Drop for RedisPermit {
    fn drop(&mut self) {
        if let Kind::Redis(lease) = &self.kind {
            self.shared.unhold(&lease.id);
            // The keeper lives while this permit does (it holds a sender).
            let _ = self.releases.send(lease.id.clone());
        }
    }
}

impl fmt::Debug for RedisPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisPermit")
            .field("limiter", &self.shared.name)
            .field("granted_by", &self.granted_by())
            .field("fencing_token", &self.fencing_token())
            .field("lease_lost", &self.lease_lost())
            .finish()
    }
}

/// An acquire that may have a place (or, granted a moment ago, a slot) in Redis. Dropped
/// before it became a permit (cancelled, timed out, failed), it leaves this process's waiters
/// and has the background task remove its id from the queue and the holders, so nothing stays
/// taken past that round trip (and never past a lease).
pub(crate) struct Pending {
    shared: Option<Arc<Shared>>,
    releases: mpsc::UnboundedSender<String>,
    id: String,
    /// When the last attempt was sent (a grant came no earlier).
    pub(crate) sent: Instant,
}

impl Pending {
    pub(crate) fn new(shared: &Arc<Shared>, releases: &mpsc::UnboundedSender<String>) -> Self {
        Self {
            shared: Some(Arc::clone(shared)),
            releases: releases.clone(),
            id: shared.next_id(),
            sent: Instant::now(),
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Nothing of this acquire is in Redis (it was refused): leave without a release.
    pub(crate) fn refused(mut self) {
        if let Some(shared) = self.shared.take() {
            shared.waiters.unregister(&self.id);
        }
    }

    fn disarm(mut self) -> (Arc<Shared>, mpsc::UnboundedSender<String>, String, Instant) {
        let shared = self
            .shared
            .take()
            .expect("a pending acquire is disarmed once");
        shared.waiters.unregister(&self.id);
        (
            shared,
            self.releases.clone(),
            std::mem::take(&mut self.id),
            self.sent,
        )
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.waiters.unregister(&self.id);
            let _ = self.releases.send(std::mem::take(&mut self.id));
        }
    }
}
