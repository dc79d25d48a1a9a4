//! # Implementation details
//!
//! The sending half of a bridge: a bounded queue that the bridge's listeners fill, and the
//! writer task that empties it into Redis.
//!
//! - **Sequence numbers** are given out under the queue's lock, in queue order, starting at 1
//!   per bridge, so an origin's numbers reach Redis in increasing order. An event refused by a
//!   full queue still uses its number: receivers see the hole and report a
//!   [`Gap::Missed`](super::Gap::Missed).
//! - **Bounded.** The queue holds at most `capacity` events, the batch being written included;
//!   the listener never waits (it runs inside a synchronous `emit`). Overflow policy: the newest
//!   event is refused and reported.
//! - **At least once on the wire.** The writer takes up to a batch of events, sends them as
//!   one pipeline and keeps the batch until Redis confirmed all of it; on an error or a timeout
//!   it sends the same batch again, in the same order, after a backoff. Redis runs a
//!   connection's commands in order, so what a failed attempt wrote is a prefix of the batch,
//!   and receivers drop the repeats by sequence number. While it retries, the queue fills and
//!   its overflow policy applies.
//! - `written` is the highest sequence number at or below which everything queued is in Redis;
//!   `flush` waits for it to reach the last number queued when it was called.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::{Notify, watch};

use super::builder::Delivery;
use super::stats::Counters;
use super::wire;
use crate::EventName;

/// One event waiting to be written.
pub(crate) struct Outgoing {
    pub(crate) seq: u64,
    pub(crate) event: EventName,
    pub(crate) payload: Vec<u8>,
}

struct Queue {
    items: VecDeque<Outgoing>,
    next_seq: u64,
    last_queued: u64,
    in_flight: usize,
    closed: bool,
}

/// Why an event was not queued.
pub(crate) enum Refused {
    Full,
    Closed,
}

pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    capacity: usize,
    more: Notify,
    written: watch::Sender<u64>,
}

impl Outbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                next_seq: 1,
                last_queued: 0,
                in_flight: 0,
                closed: false,
            }),
            capacity,
            more: Notify::new(),
            written: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queues an event without waiting.
    pub(crate) fn push(&self, event: &EventName, payload: Vec<u8>) -> Result<(), Refused> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(Refused::Closed);
        }
        let seq = queue.next_seq;
        queue.next_seq += 1;
        if queue.items.len() + queue.in_flight >= self.capacity {
            return Err(Refused::Full);
        }
        queue.items.push_back(Outgoing {
            seq,
            event: event.clone(),
            payload,
        });
        queue.last_queued = seq;
        drop(queue);
        self.more.notify_one();
        Ok(())
    }

    /// Takes the next batch, waiting for one; `None` once closed and empty.
    async fn next_batch(&self, max: usize) -> Option<Vec<Outgoing>> {
        loop {
            {
                let mut queue = self.lock();
                if !queue.items.is_empty() {
                    let take = queue.items.len().min(max);
                    queue.in_flight = take;
                    return Some(queue.items.drain(..take).collect());
                }
                if queue.closed {
                    return None;
                }
            }
            // `notify_one` keeps a permit when the writer is not waiting yet: no lost wake-up.
            self.more.notified().await;
        }
    }

    fn confirm(&self, seq: u64) {
        self.lock().in_flight = 0;
        self.written.send_replace(seq);
    }

    /// Refuses new events; the writer ends once the queue is empty.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.more.notify_one();
    }

    /// Events queued or in flight.
    pub(crate) fn unsent(&self) -> usize {
        let queue = self.lock();
        queue.items.len() + queue.in_flight
    }

    pub(crate) fn queued(&self) -> usize {
        self.lock().items.len()
    }

    /// Waits until every event queued before the call is in Redis.
    pub(crate) async fn flushed(&self) {
        let target = self.lock().last_queued;
        let mut written = self.written.subscribe();
        // The sender lives in `self`, which outlives this borrow.
        let _ = written.wait_for(|&seq| seq >= target).await;
    }
}

/// Where and how the writer sends.
pub(crate) struct Writer {
    pub(crate) conn: ConnectionManager,
    pub(crate) delivery: Delivery,
    pub(crate) origin: String,
    pub(crate) channel: String,
    pub(crate) stream: String,
    pub(crate) max_len: usize,
    pub(crate) batch: usize,
    pub(crate) timeout: Duration,
}

impl Writer {
    /// Writes batches until the outbox is closed and empty; retries a failed batch (the
    /// caller reports the failure) until it is written.
    pub(crate) async fn run(
        mut self,
        outbox: &Outbox,
        counters: &Counters,
        mut failed: impl FnMut(super::BridgeError),
    ) {
        while let Some(batch) = outbox.next_batch(self.batch).await {
            let mut attempt = 0;
            while let Err(error) = self.send(&batch).await {
                if attempt == 0 {
                    failed(error);
                }
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
            }
            counters.add_published(batch.len());
            if let Some(last) = batch.last() {
                outbox.confirm(last.seq);
            }
        }
    }

    async fn send(&mut self, batch: &[Outgoing]) -> Result<(), super::BridgeError> {
        let mut pipe = redis::pipe();
        for item in batch {
            match self.delivery {
                Delivery::PubSub => {
                    pipe.cmd("PUBLISH")
                        .arg(&self.channel)
                        .arg(wire::frame(
                            &self.origin,
                            item.seq,
                            &item.event,
                            &item.payload,
                        ))
                        .ignore();
                }
                Delivery::Streams => {
                    pipe.cmd("XADD")
                        .arg(&self.stream)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(self.max_len)
                        .arg("*")
                        .arg("o")
                        .arg(&self.origin)
                        .arg("s")
                        .arg(item.seq)
                        .arg("e")
                        .arg(item.event.as_str())
                        .arg("p")
                        .arg(&item.payload)
                        .ignore();
                }
            }
        }
        let operation = match self.delivery {
            Delivery::PubSub => "PUBLISH",
            Delivery::Streams => "XADD",
        };
        bounded(operation, self.timeout, pipe.exec_async(&mut self.conn)).await
    }
}

/// The wait before the `attempt`th retry: 10 ms doubling up to 1 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(10u64 << attempt.min(7)).min(Duration::from_secs(1))
}

/// `call`, bounded by `timeout`, with its failure as a [`BridgeError`](super::BridgeError).
pub(crate) async fn bounded<T>(
    operation: &'static str,
    timeout: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, super::BridgeError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) if error.is_timeout() => Err(super::BridgeError::Timeout {
            operation,
            after: timeout,
        }),
        Ok(Err(source)) => Err(super::BridgeError::Redis { operation, source }),
        Err(_) => Err(super::BridgeError::Timeout {
            operation,
            after: timeout,
        }),
    }
}
