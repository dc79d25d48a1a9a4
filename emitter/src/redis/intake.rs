//! # Implementation details
//!
//! Pub/sub mode's intake: the bounded queue between the subscription's connection and the
//! receiving task, which runs the listeners.
//!
//! - The subscription is a RESP3 connection: redis-rs hands each push message to the sender
//!   given when connecting (`AsyncConnectionConfig::set_push_sender`), from the connection's own
//!   task, as soon as it is read. The sender must not wait, so [`Feed`] puts the message into a
//!   tokio channel of `capacity` messages and, when the channel is full, drops the message and
//!   counts it. The connection keeps reading at the network's pace whatever the listeners do:
//!   memory holds at most `capacity` messages, and the server's output buffer does not grow.
//! - Overflow is reported where it happened. The number of messages dropped since the last one
//!   queued travels with the next one queued, so the receiving task reports the loss just
//!   before that message, and the sequence numbers of what follows show which events were lost.
//!   Messages dropped with no message queued after them are reported when the receiving task
//!   finds the intake empty. Both sides look at the count under one lock, so a count is never
//!   reported ahead of messages queued before the loss.
//! - This bridge's own messages, which come back from Redis like every other, are skipped
//!   here, before they take room (the inbox would skip them anyway).
//! - The connection closing (redis-rs sends a `Disconnection` push, or drops the sender) closes
//!   the channel: the receiving task delivers what is queued, then learns that the subscription
//!   is lost.
//! - `held`, the messages queued and not yet taken, is a gauge of the whole bridge
//!   ([`Bridge::backlog`](super::Bridge::backlog)); it is raised before a message is queued and
//!   only when there is room, so it never exceeds `capacity`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use redis::aio::{AsyncPushSender, SendError};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::stats::Counters;
use super::wire;

/// What the receiving task takes from the intake.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// A message's payload, after `dropped_before` messages that found the intake full.
    Message {
        dropped_before: u64,
        payload: Vec<u8>,
    },
    /// Messages that found the intake full, with none queued after them.
    Dropped(u64),
}

/// The state both ends of one subscription's channel look at under one lock.
struct Link {
    /// `None` once the connection is gone.
    tx: Option<mpsc::Sender<(u64, Vec<u8>)>>,
    /// Messages dropped since the last one queued.
    dropped: u64,
}

struct Shared {
    link: Mutex<Link>,
    counters: Arc<Counters>,
    /// This bridge's origin: its own messages are not queued.
    origin: String,
}

impl Shared {
    fn link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A new intake for one subscription: the sender for redis-rs, and the receiving end.
pub(crate) fn open(capacity: usize, origin: &str, counters: &Arc<Counters>) -> (Feed, Drain) {
    let (tx, rx) = mpsc::channel(capacity);
    let shared = Arc::new(Shared {
        link: Mutex::new(Link {
            tx: Some(tx),
            dropped: 0,
        }),
        counters: Arc::clone(counters),
        origin: origin.to_string(),
    });
    let drain = Drain {
        rx,
        shared: Arc::clone(&shared),
    };
    (Feed { shared }, drain)
}

/// The connection's end: queues each message, or drops and counts it when the intake is full.
pub(crate) struct Feed {
    shared: Arc<Shared>,
}

impl Feed {
    fn offer(&self, payload: Vec<u8>) {
        if wire::unframe(&payload).is_ok_and(|message| message.origin == self.shared.origin) {
            return;
        }
        let mut link = self.shared.link();
        let Link { tx, dropped } = &mut *link;
        let Some(tx) = tx else {
            return;
        };
        // The only sender, under the lock: room now is room when `try_send` runs.
        if tx.capacity() == 0 {
            *dropped += 1;
            self.shared.counters.overflowed();
            return;
        }
        self.shared.counters.held_add();
        if tx.try_send((std::mem::take(dropped), payload)).is_err() {
            // The receiving end is gone (the bridge is stopping): nobody holds the message.
            self.shared.counters.held_sub(1);
        }
    }

    fn close(&self) {
        self.shared.link().tx = None;
    }
}

impl AsyncPushSender for Feed {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        match info.kind {
            PushKind::Message => {
                // `[channel, payload]`; anything else is handed on empty, and reported as not
                // being a bridge message.
                let payload = match info.data.into_iter().nth(1) {
                    Some(Value::BulkString(bytes)) => bytes,
                    _ => Vec::new(),
                };
                self.offer(payload);
            }
            PushKind::Disconnection => self.close(),
            // Confirmations of SUBSCRIBE: redis-rs hands their replies to the caller too.
            _ => {}
        }
        Ok(())
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.close();
    }
}

/// The receiving task's end.
pub(crate) struct Drain {
    rx: mpsc::Receiver<(u64, Vec<u8>)>,
    shared: Arc<Shared>,
}

impl Drain {
    /// The next arrival; `None` once the connection is gone and everything was taken.
    ///
    /// Cancel-safe: only the wait for a message is an `.await`, and it is `recv`'s.
    pub(crate) async fn next(&mut self) -> Option<Arrival> {
        if let Some(dropped) = self.dropped_at_the_end() {
            return Some(Arrival::Dropped(dropped));
        }
        match self.rx.recv().await {
            Some((dropped_before, payload)) => {
                self.shared.counters.held_sub(1);
                Some(Arrival::Message {
                    dropped_before,
                    payload,
                })
            }
            None => self.dropped_at_the_end().map(Arrival::Dropped),
        }
    }

    /// The messages dropped after the last one queued, once every queued one was taken.
    fn dropped_at_the_end(&self) -> Option<u64> {
        if !self.rx.is_empty() {
            return None;
        }
        let mut link = self.shared.link();
        // Under the lock the feed cannot queue: empty now means nothing was queued after them.
        if !self.rx.is_empty() || link.dropped == 0 {
            return None;
        }
        Some(std::mem::take(&mut link.dropped))
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        let mut link = self.shared.link();
        link.tx = None;
        // Nothing can be queued any more: what is left is no longer held.
        self.shared.counters.held_sub(self.rx.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &[u8]) -> PushInfo {
        PushInfo {
            kind: PushKind::Message,
            data: vec![
                Value::BulkString(b"ns:events".to_vec()),
                Value::BulkString(payload.to_vec()),
            ],
        }
    }

    fn feed(feed: &Feed, payload: &[u8]) {
        AsyncPushSender::send(feed, message(payload)).unwrap();
    }

    fn message_arrival(dropped_before: u64, payload: &[u8]) -> Option<Arrival> {
        Some(Arrival::Message {
            dropped_before,
            payload: payload.to_vec(),
        })
    }

    #[tokio::test]
    async fn a_full_intake_drops_and_counts_and_reports_the_loss_where_it_happened() {
        let counters = Arc::new(Counters::default());
        let (tx, mut rx) = open(2, "me", &counters);
        for payload in [b"1", b"2", b"3", b"4"] {
            feed(&tx, payload);
        }
        assert_eq!(counters.snapshot().overflowed, 2);
        assert_eq!(counters.backlog(), 2, "never more than the capacity");
        assert_eq!(rx.next().await, message_arrival(0, b"1"));
        feed(&tx, b"5");
        assert_eq!(rx.next().await, message_arrival(0, b"2"));
        assert_eq!(
            rx.next().await,
            message_arrival(2, b"5"),
            "3 and 4 were lost between 2 and 5"
        );
        assert_eq!(counters.backlog(), 0);
    }

    #[tokio::test]
    async fn a_loss_with_nothing_after_it_is_reported_once_the_intake_is_empty() {
        let counters = Arc::new(Counters::default());
        let (tx, mut rx) = open(1, "me", &counters);
        for payload in [b"1", b"2", b"3"] {
            feed(&tx, payload);
        }
        assert_eq!(rx.next().await, message_arrival(0, b"1"));
        assert_eq!(rx.next().await, Some(Arrival::Dropped(2)));
        feed(&tx, b"4");
        assert_eq!(
            rx.next().await,
            message_arrival(0, b"4"),
            "reported once only"
        );
    }

    #[tokio::test]
    async fn a_disconnection_ends_the_intake_after_what_it_holds() {
        let counters = Arc::new(Counters::default());
        let (tx, mut rx) = open(1, "me", &counters);
        feed(&tx, b"1");
        feed(&tx, b"2");
        let disconnection = PushInfo {
            kind: PushKind::Disconnection,
            data: Vec::new(),
        };
        AsyncPushSender::send(&tx, disconnection).unwrap();
        feed(&tx, b"after");
        assert_eq!(rx.next().await, message_arrival(0, b"1"));
        assert_eq!(rx.next().await, Some(Arrival::Dropped(1)));
        assert_eq!(rx.next().await, None);
        assert_eq!(counters.snapshot().overflowed, 1, "`after` was never read");
    }

    #[tokio::test]
    async fn this_bridges_own_messages_take_no_room() {
        let counters = Arc::new(Counters::default());
        let (tx, mut rx) = open(1, "me", &counters);
        feed(&tx, &wire::frame("me", 1, "tick", b"mine"));
        feed(&tx, &wire::frame("other", 1, "tick", b"theirs"));
        assert_eq!(counters.snapshot().overflowed, 0);
        assert_eq!(
            rx.next().await,
            message_arrival(0, &wire::frame("other", 1, "tick", b"theirs"))
        );
    }

    #[tokio::test]
    async fn dropping_either_end_releases_what_was_held() {
        let counters = Arc::new(Counters::default());
        let (tx, rx) = open(4, "me", &counters);
        feed(&tx, b"1");
        feed(&tx, b"2");
        drop(rx);
        assert_eq!(counters.backlog(), 0);
        feed(&tx, b"3");
        assert_eq!(counters.backlog(), 0);

        let (tx, mut rx) = open(4, "me", &counters);
        drop(tx);
        assert_eq!(rx.next().await, None);
    }
}
