//! # Implementation details
//!
//! The receiving task in pub/sub mode: one dedicated subscription to the namespace's channel.
//!
//! - The subscription is a RESP3 connection (Redis 6 or later, whatever protocol the user's
//!   client names) whose push messages go into a bounded intake (`intake.rs`), not redis-rs's
//!   `aio::PubSub`, which reads them into an unbounded channel. The task takes each message from
//!   the intake and hands it to the inbox; a loss the intake reports becomes a
//!   [`Gap::Overflowed`](super::Gap) at the place it happened.
//! - It pings the subscription every heartbeat: a half-open connection is only found by
//!   talking. A ping that fails or does not answer in time ends the subscription at once, and
//!   the messages still in the intake go with the connection (the
//!   [`Gap::Disconnected`](super::Gap) reported next covers them). The server closing it
//!   (`CLIENT KILL`, a restart) ends it once the intake's messages are delivered.
//! - Pub/sub is at most once: what is published while the subscription is down is lost. So the
//!   moment the subscription is found lost, a [`Gap::Disconnected`](super::Gap) is reported;
//!   then it subscribes again, with a backoff and a fresh intake, until it succeeds, and
//!   reports `"connected"`. Holes that later messages reveal are reported by the inbox, per
//!   origin.
//! - The first subscription is made by `connect`, before it returns, so no event published
//!   after `connect` returned is missed by a healthy bridge.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ProtocolVersion};
use tokio::time::{MissedTickBehavior, interval};

use super::codec::Codec;
use super::event::Gap;
use super::inbox::Inbox;
use super::intake::{self, Arrival, Drain};
use super::outbox::{backoff, bounded};
use super::stats::Counters;
use super::{BridgeError, wire};

pub(crate) struct Subscriber {
    /// The user's client, made to speak RESP3.
    client: redis::Client,
    channel: String,
    timeout: Duration,
    heartbeat: Duration,
    intake_capacity: usize,
    origin: String,
    counters: Arc<Counters>,
}

/// `client`, speaking RESP3: push messages on an ordinary connection.
fn resp3(client: &redis::Client) -> redis::Client {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    // Opening a client from a `ConnectionInfo` checks nothing, so it does not fail; were it to,
    // the subscription would fail with redis-rs's "RESP3 needed" error, and be reported.
    redis::Client::open(info.set_redis_settings(settings)).unwrap_or_else(|_| client.clone())
}

/// A confirmed subscription: the connection, and the intake its messages go into.
pub(crate) struct Subscription {
    conn: MultiplexedConnection,
    drain: Drain,
}

impl Subscriber {
    pub(crate) fn new(
        client: &redis::Client,
        channel: String,
        timeout: Duration,
        heartbeat: Duration,
        intake_capacity: usize,
        origin: String,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            client: resp3(client),
            channel,
            timeout,
            heartbeat,
            intake_capacity,
            origin,
            counters,
        }
    }

    /// A new subscription to the channel, confirmed by the server, with a fresh intake.
    pub(crate) async fn subscribe(&self) -> Result<Subscription, BridgeError> {
        let (feed, drain) = intake::open(self.intake_capacity, &self.origin, &self.counters);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_push_sender(feed);
        let client = &self.client;
        let channel = &self.channel;
        let conn = bounded("SUBSCRIBE", self.timeout, async move {
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            conn.subscribe(channel).await?;
            Ok(conn)
        })
        .await?;
        Ok(Subscription { conn, drain })
    }

    pub(crate) async fn run<T, C>(self, first: Subscription, mut inbox: Inbox<T, C>)
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let mut subscription = Some(first);
        loop {
            let current = match subscription.take() {
                Some(current) => current,
                None => self.resubscribe(&inbox).await,
            };
            let why = self.listen(current, &mut inbox).await;
            inbox.notices.gap(Gap::Disconnected);
            inbox.notices.error(why);
        }
    }

    async fn resubscribe<T, C>(&self, inbox: &Inbox<T, C>) -> Subscription
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let mut attempt = 0;
        loop {
            match self.subscribe().await {
                Ok(subscription) => {
                    inbox.notices.connected();
                    return subscription;
                }
                Err(error) => {
                    if attempt == 0 {
                        inbox.notices.error(error);
                    }
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }

    /// Hands messages to the inbox until the subscription is lost; returns why.
    async fn listen<T, C>(&self, subscription: Subscription, inbox: &mut Inbox<T, C>) -> BridgeError
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let mut heartbeat = interval(self.heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let Subscription {
            mut conn,
            mut drain,
        } = subscription;
        loop {
            tokio::select! {
                arrival = drain.next() => match arrival {
                    None => return BridgeError::SubscriptionClosed,
                    Some(Arrival::Dropped(lost)) => inbox.notices.gap(Gap::Overflowed { lost }),
                    Some(Arrival::Message { dropped_before, payload }) => {
                        if dropped_before > 0 {
                            inbox.notices.gap(Gap::Overflowed { lost: dropped_before });
                        }
                        match wire::unframe(&payload) {
                            Ok(message) => inbox.accept(&message),
                            Err(what) => inbox.notices.error(BridgeError::Malformed(what)),
                        }
                    }
                },
                _ = heartbeat.tick() => {
                    // Subscribed on RESP3, PING answers as usual: any reply will do.
                    let ping = redis::cmd("PING");
                    let pong = ping.query_async::<redis::Value>(&mut conn);
                    if let Err(error) = bounded("PING", self.timeout, pong).await {
                        return error;
                    }
                }
            }
        }
    }
}
