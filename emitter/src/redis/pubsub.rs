//! # Implementation details
//!
//! The receiving task in pub/sub mode: one dedicated subscription to the namespace's channel.
//!
//! - Subscribed, it hands each message to the inbox and pings the subscription every
//!   heartbeat: a half-open connection is only found by talking. A ping that fails or does not
//!   answer in time ends the subscription, as does the server closing it (`CLIENT KILL`, a
//!   restart, the output buffer limit of a slow reader).
//! - Pub/sub is at most once: what is published while the subscription is down is lost. So the
//!   moment the subscription is found lost, a [`Gap::Disconnected`](super::Gap) is reported;
//!   then it subscribes again, with a backoff, until it succeeds, and reports `"connected"`.
//!   Holes that later messages reveal are reported by the inbox, per origin.
//! - The first subscription is made by `connect`, before it returns, so no event published
//!   after `connect` returned is missed by a healthy bridge.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::{MissedTickBehavior, interval};

use super::codec::Codec;
use super::event::Gap;
use super::inbox::Inbox;
use super::outbox::{backoff, bounded};
use super::{BridgeError, wire};

pub(crate) struct Subscriber {
    pub(crate) client: redis::Client,
    pub(crate) channel: String,
    pub(crate) timeout: Duration,
    pub(crate) heartbeat: Duration,
}

impl Subscriber {
    /// A new subscription to the channel, confirmed by the server.
    pub(crate) async fn subscribe(&self) -> Result<redis::aio::PubSub, BridgeError> {
        let client = &self.client;
        let channel = &self.channel;
        bounded("SUBSCRIBE", self.timeout, async move {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok(pubsub)
        })
        .await
    }

    pub(crate) async fn run<T, C>(self, first: redis::aio::PubSub, mut inbox: Inbox<T, C>)
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let mut subscription = Some(first);
        loop {
            let pubsub = match subscription.take() {
                Some(pubsub) => pubsub,
                None => self.resubscribe(&inbox).await,
            };
            let why = self.listen(pubsub, &mut inbox).await;
            inbox.notices.gap(Gap::Disconnected);
            inbox.notices.error(why);
        }
    }

    async fn resubscribe<T, C>(&self, inbox: &Inbox<T, C>) -> redis::aio::PubSub
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let mut attempt = 0;
        loop {
            match self.subscribe().await {
                Ok(pubsub) => {
                    inbox.notices.connected();
                    return pubsub;
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
    async fn listen<T, C>(&self, pubsub: redis::aio::PubSub, inbox: &mut Inbox<T, C>) -> BridgeError
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let mut heartbeat = interval(self.heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let (mut sink, mut stream) = pubsub.split();
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else {
                        return BridgeError::SubscriptionClosed;
                    };
                    match wire::unframe(message.get_payload_bytes()) {
                        Ok(message) => inbox.accept(&message),
                        Err(what) => inbox.notices.error(BridgeError::Malformed(what)),
                    }
                }
                _ = heartbeat.tick() => {
                    // Subscribed, PING answers `["pong", ""]`: any reply will do.
                    let ping = bounded("PING", self.timeout, sink.ping::<redis::Value>()).await;
                    if let Err(error) = ping {
                        return error;
                    }
                }
            }
        }
    }
}
