//! # Implementation details
//!
//! The two background tasks of a [`RedisBagpipe`](super::RedisBagpipe):
//!
//! - **The keeper** releases the slots of dropped permits and the places of abandoned waiters
//!   (in batches: every id queued since its last call, in one script), renews every lease this
//!   process holds every third of a lease (one script for all of them), tells holders whose lease
//!   is gone, and, while Redis is marked down, pings it every heartbeat (at once when asked) and
//!   marks it up when it answers. A release that fails is retried while its lease could still
//!   be alive; after that, the lease ends on its own. It runs while any handle, permit or waiter
//!   can still send it an id, then ends, and stops the listener.
//! - **The listener** keeps the subscription to the limiter's events channel and hands `g:`
//!   grants to the waiters they name. It pings the subscription every heartbeat (a half-open
//!   connection is only found by talking); whenever it subscribes again, every waiter looks at
//!   Redis again, since grants may have been missed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};

use super::shared::{Lease, Shared};
use super::store::{Granted, HeldLease, Refreshed, parse_grant};

/// How many ids one release script carries at most.
const BATCH: usize = 256;

pub(crate) struct Keeper {
    pub(crate) shared: Arc<Shared>,
    pub(crate) releases: mpsc::UnboundedReceiver<String>,
    pub(crate) listener: AbortHandle,
}

impl Keeper {
    pub(crate) async fn run(mut self) {
        let lease = self.shared.settings.lease;
        let mut renew = interval(lease / 3);
        renew.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut heartbeat = interval(self.shared.settings.heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Releases that failed, with when they were first tried.
        let mut retry: Vec<(String, Instant)> = Vec::new();
        loop {
            tokio::select! {
                biased;
                id = self.releases.recv() => {
                    let Some(id) = id else { break };
                    let mut batch = vec![id];
                    while batch.len() < BATCH {
                        match self.releases.try_recv() {
                            Ok(id) => batch.push(id),
                            Err(_) => break,
                        }
                    }
                    if !self.release(&batch).await {
                        let now = Instant::now();
                        retry.extend(batch.into_iter().map(|id| (id, now)));
                    }
                }
                _ = renew.tick() => {
                    self.renew().await;
                    if !retry.is_empty() && self.shared.redis_up() {
                        let horizon = Instant::now().checked_sub(lease);
                        retry.retain(|(_, first)| horizon.is_none_or(|h| *first > h));
                        let batch: Vec<String> = retry.iter().map(|(id, _)| id.clone()).collect();
                        if self.release(&batch).await {
                            retry.clear();
                        }
                    }
                }
                _ = heartbeat.tick() => self.check().await,
                () = self.shared.probe_now.notified() => self.check().await,
            }
        }
        self.listener.abort();
    }

    /// Frees the slots and queue places of `ids`; false when Redis did not answer.
    async fn release(&self, ids: &[String]) -> bool {
        if ids.is_empty() {
            return true;
        }
        match self.shared.store.release(ids).await {
            Ok((_, granted)) => {
                self.deliver(granted);
                true
            }
            Err(failure) => {
                self.shared.failed(&failure);
                false
            }
        }
    }

    /// Renews every lease this process holds; flags the ones that are gone.
    async fn renew(&self) {
        let leases = self.shared.held_leases();
        if leases.is_empty() {
            return;
        }
        let sent = Instant::now();
        let epochs: Vec<String> = leases.iter().map(|lease| lease.epoch()).collect();
        let held: Vec<HeldLease<'_>> = leases
            .iter()
            .zip(&epochs)
            .map(|(lease, epoch)| HeldLease {
                id: &lease.id,
                epoch,
                fence: lease.granted.fence,
            })
            .collect();
        match self.shared.store.refresh(&held).await {
            Ok(renewal) => {
                for (lease, state) in leases.iter().zip(renewal.states) {
                    match state {
                        Refreshed::Kept => lease.renewed(sent),
                        Refreshed::Reregistered => lease.reregistered(sent, &renewal.epoch),
                        Refreshed::Lost => self.shared.lost(lease),
                    }
                }
                self.deliver(renewal.granted);
            }
            Err(failure) => {
                self.shared.failed(&failure);
                self.lost_unless_renewed(&leases, sent);
            }
        }
    }

    /// Redis did not answer: a lease not renewed for a whole lease may have ended, and its
    /// slot may serve someone else. Its holder must know.
    fn lost_unless_renewed(&self, leases: &[Arc<Lease>], now: Instant) {
        let lease_length = self.shared.settings.lease;
        for lease in leases {
            if now.saturating_duration_since(lease.renewed_at()) >= lease_length {
                self.shared.lost(lease);
            }
        }
    }

    fn deliver(&self, granted: Vec<(String, Granted)>) {
        for (id, granted) in granted {
            self.shared.waiters.grant(&id, granted);
        }
    }

    /// Pings Redis while it is marked down (or not yet seen up).
    async fn check(&self) {
        if self.shared.redis_up() && *self.shared.health.borrow() == super::Health::Connected {
            return;
        }
        if self.shared.store.ping().await.is_ok() {
            self.shared.answered();
            // Waiters that fell back while Redis was away look again.
            self.shared.waiters.wake_all();
        }
    }
}

pub(crate) struct Listener {
    pub(crate) shared: Arc<Shared>,
    pub(crate) client: redis::Client,
    pub(crate) op_timeout: Duration,
}

impl Listener {
    pub(crate) async fn run(self) {
        let heartbeat = self.shared.settings.heartbeat;
        loop {
            if let Some(subscription) = self.subscribe().await {
                // Grants sent while unsubscribed were lost: every waiter looks again.
                self.shared.waiters.wake_all();
                self.listen(subscription, heartbeat).await;
            } else {
                tokio::time::sleep(heartbeat).await;
            }
        }
    }

    async fn subscribe(&self) -> Option<redis::aio::PubSub> {
        let channel = self.shared.store.channel().to_string();
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match timeout(self.op_timeout, connect).await {
            Ok(Ok(pubsub)) => Some(pubsub),
            _ => None,
        }
    }

    async fn listen(&self, subscription: redis::aio::PubSub, heartbeat: Duration) {
        let mut ping = interval(heartbeat);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.tick().await;
        let (mut sink, mut stream) = subscription.split();
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { return };
                    if let Some((id, granted)) = parse_grant(message.get_payload_bytes()) {
                        self.shared.waiters.grant(id, granted);
                    }
                }
                _ = ping.tick() => {
                    // Subscribed, PING answers `["pong", ""]`: any reply will do.
                    let pong = timeout(self.op_timeout, sink.ping::<redis::Value>()).await;
                    if !matches!(pong, Ok(Ok(_))) {
                        return;
                    }
                }
            }
        }
    }
}

/// Whether a lease flagged lost is still counted: never (for tests of the flag's meaning).
#[cfg(test)]
pub(crate) fn is_lost(lease: &Lease) -> bool {
    lease.lost.load(std::sync::atomic::Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::store::Granted;

    #[tokio::test(start_paused = true)]
    async fn a_lease_not_renewed_for_a_whole_lease_is_lost_and_reported_once() {
        let shared = super::super::builder::test_shared(Duration::from_secs(3));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        shared
            .front
            .events()
            .on(crate::Event::LEASE_LOST, move |event: &crate::Event| {
                sink.lock().unwrap().push(format!("{event:?}"));
            });
        let granted = Granted {
            fence: 9,
            epoch: "1".to_string(),
        };
        let stale = Arc::new(Lease::new("a".into(), granted.clone(), Instant::now()));
        tokio::time::advance(Duration::from_secs(2)).await;
        let recent = Arc::new(Lease::new("b".into(), granted, Instant::now()));
        shared.hold(Arc::clone(&stale));
        shared.hold(Arc::clone(&recent));
        let (_tx, releases) = mpsc::unbounded_channel();
        let keeper = Keeper {
            shared: Arc::clone(&shared),
            releases,
            listener: tokio::spawn(async {}).abort_handle(),
        };
        tokio::time::advance(Duration::from_secs(1)).await;
        let leases = shared.held_leases();
        keeper.lost_unless_renewed(&leases, Instant::now());
        assert!(is_lost(&stale), "3 s since its renewal, at a 3 s lease");
        assert!(!is_lost(&recent), "1 s since its renewal");
        keeper.lost_unless_renewed(&[Arc::clone(&stale)], Instant::now());
        assert_eq!(seen.lock().unwrap().len(), 1, "reported once");
        assert_eq!(shared.held_leases().len(), 1, "no longer renewed");
        // A permit released while its renewal was in flight is not reported.
        shared.unhold("b");
        tokio::time::advance(Duration::from_secs(3)).await;
        keeper.lost_unless_renewed(&[Arc::clone(&recent)], Instant::now());
        assert!(!is_lost(&recent));
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
