//! # Implementation details
//!
//! The background task of a [`RedisCache`](super::RedisCache): it keeps the subscription to the
//! namespace's events channel and watches the data connection.
//!
//! - Subscribed, it drops local copies named by other replicas' `inval` messages and wakes
//!   the waiters of every key a message names. It pings the subscription every heartbeat, since
//!   a half-open connection is only found by talking; a ping that fails or times out ends the
//!   subscription.
//! - Pub/sub is at most once: messages sent while the subscription was down are lost. So every
//!   time the subscription comes back (not the first time), the local tier is flushed *after*
//!   the new subscription is confirmed, and every waiter is woken to look again.
//! - While the data connection is marked down (a call failed), it pings it every heartbeat
//!   (and at once when asked); the first answer marks it up. redis-rs's `ConnectionManager`
//!   does the reconnecting.
//!
//! The task holds the shared state and ends when the last cache handle is dropped (its guard
//! aborts it).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::{MissedTickBehavior, interval, timeout};

use super::codec::Codec;
use super::fetch::{Local, Shared};
use super::l2::parse_message;
use super::stats::bump;
use crate::LimitableMap;

pub(crate) struct Monitor<V, C> {
    pub(crate) shared: Arc<Shared<V, C>>,
    pub(crate) local: LimitableMap<String, Local<V>>,
    pub(crate) client: redis::Client,
    pub(crate) op_timeout: Duration,
    pub(crate) heartbeat: Duration,
}

impl<V, C> Monitor<V, C>
where
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
{
    pub(crate) async fn run(self) {
        let mut first = true;
        loop {
            if let Some(subscription) = self.subscribe().await {
                if !first {
                    // Invalidations may have been missed while unsubscribed.
                    self.local.clear();
                    bump(&self.shared.counters.reconnects);
                }
                first = false;
                // Make the data connection reconnect now rather than on a caller's command.
                if let Err(failure) = self.shared.l2.ping().await {
                    self.shared.failed(&failure);
                }
                self.shared.subscribed.store(true, Ordering::Release);
                self.shared.wakers.wake_all();
                self.shared.update_health();
                self.listen(subscription).await;
                self.shared.subscribed.store(false, Ordering::Release);
                self.shared.update_health();
            } else {
                self.check_data().await;
                tokio::time::sleep(self.heartbeat).await;
            }
        }
    }

    async fn subscribe(&self) -> Option<redis::aio::PubSub> {
        let channel = self.shared.l2.channel().to_string();
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

    /// Handles messages until the subscription is lost.
    async fn listen(&self, subscription: redis::aio::PubSub) {
        let mut heartbeat = interval(self.heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let (mut sink, mut stream) = subscription.split();
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { return };
                    self.handle(message.get_payload_bytes());
                }
                _ = heartbeat.tick() => {
                    // Subscribed, PING answers `["pong", ""]`: any reply will do.
                    let ping = timeout(self.op_timeout, sink.ping::<redis::Value>()).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        return;
                    }
                    self.check_data().await;
                }
                () = self.shared.probe_now.notified() => {
                    self.check_data().await;
                }
            }
        }
    }

    fn handle(&self, payload: &[u8]) {
        let Some((kind, origin, key)) = parse_message(payload) else {
            return;
        };
        if kind == "inval" && origin != self.shared.l2.origin() {
            self.local.invalidate(key);
            bump(&self.shared.counters.invalidations_received);
        }
        self.shared.wakers.wake(key);
    }

    /// Pings the data connection if it is marked down; marks it up when it answers.
    async fn check_data(&self) {
        if self.shared.redis_up.load(Ordering::Acquire) {
            return;
        }
        if self.shared.l2.ping().await.is_ok() {
            self.shared.redis_up.store(true, Ordering::Release);
            self.shared.update_health();
        }
    }
}
