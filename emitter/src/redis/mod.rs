//! Events that cross processes: a [`Bridge`] connects an [`Emitter`](crate::Emitter) to a Redis
//! namespace (feature `redis`).
//!
//! The book spreads updates with an `EventEmitter`, which stops at the process boundary: with
//! four replicas behind a load balancer, an update on one fires no event on the other three. A
//! bridge carries the events it names across: a local `emit` of such an event reaches the local
//! listeners at once and is published; every other bridge of the namespace emits it on its own
//! emitter. Payloads travel through a [`Codec`] ([`BytesCodec`], [`StrCodec`], `JsonCodec` with
//! the `serde` feature).
//!
//! Two [`Delivery`] modes:
//!
//! - **Pub/sub** (the default): at most once, one hop, nothing stored in Redis; needs Redis 6
//!   or later (the subscription speaks RESP3). Messages wait for the listeners in a bounded
//!   intake; past [`intake_capacity`](BridgeBuilder::intake_capacity), new ones are dropped
//!   and reported ([`Gap::Overflowed`]). When the subscription drops, the bridge reports a `"gap"` ([`Gap::Disconnected`]) as soon as it
//!   finds out (at once when the server closes it, within
//!   [`heartbeat`](BridgeBuilder::heartbeat) + [`timeout`](BridgeBuilder::timeout) when the
//!   connection dies silently) and resubscribes by itself; each hole that later messages
//!   reveal is reported too ([`Gap::Missed`], per origin and sequence range).
//! - **Streams**: entries in one stream per namespace, trimmed with `MAXLEN ~`. A bridge reads
//!   from the last entry it read, so a dropped connection loses nothing; repeats on the wire
//!   (a write retried after a timeout) are dropped by sequence number, so listeners get each
//!   event exactly once and in order per origin. Entries trimmed before a bridge read them are
//!   reported as a `"gap"` ([`Gap::Trimmed`], and [`Gap::Missed`] for origins it knows).
//!
//! # Guarantees
//!
//! | situation | pub/sub | Streams |
//! |---|---|---|
//! | a local emit of a bridged event | local listeners at once; queued for Redis | the same |
//! | a remote event | emitted on the bridge's task, in per-origin order, once | the same |
//! | this bridge's own event comes back from Redis | skipped (no echo) | skipped |
//! | a listener reacts to a remote event by emitting a bridged event | published (it is a local emit) | the same |
//! | a write to Redis fails or times out | the batch is sent again, in order; receivers drop repeats | the same |
//! | the receiving connection drops (`CLIENT KILL`, restart) | `"gap"` (at once on a close, within heartbeat + timeout on a silent death); events published until `"connected"` are lost; holes reported per origin | resumes from its last id: nothing lost; `"connected"` |
//! | listeners slower than the namespace's message rate | up to [`intake_capacity`](BridgeBuilder::intake_capacity) messages wait; past that, new ones are dropped: `"gap"` ([`Gap::Overflowed`] with the count, where it happened; then [`Gap::Missed`] per origin), counted in [`BridgeStats::overflowed`] | read at the listeners' pace: entries wait in Redis (see the next row) |
//! | entries trimmed before they were read | — | `"gap"` ([`Gap::Trimmed`]) |
//! | the outgoing queue is full | the newest event is not published: `"error"` [`BridgeError::QueueFull`]; receivers see a hole ([`Gap::Missed`]) | the same |
//! | a payload does not encode / decode | `"error"`, that event is skipped, the next goes through | the same |
//! | a listener panics on a remote event | caught; `"error"` [`BridgeError::ListenerPanicked`]; the next event is delivered | the same |
//! | Redis does not answer | every call gives up after [`timeout`](BridgeBuilder::timeout), and is retried with a backoff up to 1 s | the same |
//! | [`shutdown`](Bridge::shutdown) | writes what is queued, or says how many were not written | the same |
//!
//! Memory is bounded: the outgoing queue by [`queue_capacity`](BridgeBuilder::queue_capacity)
//! events, the pub/sub intake by [`intake_capacity`](BridgeBuilder::intake_capacity) messages
//! (see [`Bridge::backlog`]), a write and a Streams read by [`batch`](BridgeBuilder::batch)
//! entries, the de-duplication by [`max_origins`](BridgeBuilder::max_origins) origins, the
//! stream in Redis by [`max_len`](BridgeBuilder::max_len). The bounds count messages, not
//! bytes: a payload's size is the application's to bound.
//!
//! What it does not promise: delivery while the emitting process is down (queued events die
//! with it; in Streams mode, written ones wait in the stream); order across origins (each
//! origin's events keep their order, the interleaving is Redis's); a hole at the very end of an
//! origin's messages shows only as the connection's [`Gap::Disconnected`] or the intake's
//! [`Gap::Overflowed`] (pub/sub), or as [`Gap::Trimmed`] (Streams, Redis 7), since no later
//! message reveals it. Every bridge of a
//! namespace must use the same [`Delivery`].
//!
//! # Examples
//!
//! Two replicas, each with its own emitter and bridge (here in one process):
//!
//! ```no_run
//! use nodebook_emitter::Emitter;
//! use nodebook_emitter::redis::{Bridge, BridgeEvent, Delivery, StrCodec};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! let connect = |emitter: &Emitter<String>| {
//!     Bridge::builder(client.clone(), "inventory", StrCodec)
//!         .event("restocked")
//!         .delivery(Delivery::Streams)
//!         .connect(emitter)
//! };
//! let (here, there) = (Emitter::new(), Emitter::new());
//! let (bridge_here, bridge_there) = (connect(&here).await?, connect(&there).await?);
//!
//! // Remote events may be lost (pub/sub) or trimmed (Streams): reload what they carry.
//! bridge_there.events().on(BridgeEvent::GAP, |gap: &BridgeEvent| {
//!     eprintln!("{gap:?}: reloading the inventory");
//! });
//! let arrived = there.once_event("restocked");
//! here.emit("restocked", "sku-7".to_string())?; // local listeners of `here` run now
//! assert_eq!(arrived.await?, "sku-7"); // and `there` gets it through Redis
//!
//! bridge_here.shutdown(Duration::from_secs(1)).await?; // writes what is queued
//! # drop(bridge_there);
//! # Ok(())
//! # }
//! ```

mod bridge;
mod builder;
mod codec;
mod error;
mod event;
mod inbox;
mod intake;
mod outbox;
mod pubsub;
mod stats;
mod streams;
mod wire;

pub use bridge::Bridge;
pub use builder::{BridgeBuilder, Delivery};
#[cfg(feature = "serde")]
pub use codec::JsonCodec;
pub use codec::{BytesCodec, Codec, CodecError, StrCodec};
pub use error::{BridgeError, ConnectError, FlushError};
pub use event::{BridgeEvent, Gap};
pub use stats::BridgeStats;
