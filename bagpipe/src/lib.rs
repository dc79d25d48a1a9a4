//! A concurrency limiter for async calls, after npm's `bagpipe`.
//!
//! The book (sections 4.3.1 and 5.3.2) protects an overloaded backend with bagpipe: at most
//! `limit` async calls run at once, the rest wait in a FIFO queue, `refuse` mode turns calls away
//! when the queue is full, a `timeout` frees the slot of a call that takes too long, and `full` /
//! `outdated` events tell the application. This crate is that, for tokio, with what the original
//! and today's Rust limiters lack: a queue deadline as well as an execution deadline, a choice
//! between cancelling and detaching late calls, live resizing, `close`, counters, and slots that
//! no panic, timeout or dropped caller can leak.
//!
//! # The book's scenario: a database behind a limit
//!
//! A burst of requests must not open a burst of queries. Ten run at once, ten more may wait,
//! anything beyond is refused at once, and a query that runs for more than three seconds is
//! answered with a timeout so the next one can run.
//!
//! ```
//! use nodebook_bagpipe::{Bagpipe, Error, Event};
//! use std::time::Duration;
//!
//! async fn query(sql: String) -> Result<Vec<String>, String> {
//!     tokio::time::sleep(Duration::from_millis(5)).await;
//!     Ok(vec![sql])
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let pipe = Bagpipe::builder(10)
//!     .queue_length(10)
//!     .refuse(true)
//!     .timeout(Duration::from_secs(3))
//!     .queue_timeout(Duration::from_secs(1))
//!     .build();
//! pipe.events().on(Event::FULL, |event: &Event| {
//!     if let Event::Full { queued } = event {
//!         eprintln!("the database is busy: {queued} queries wait");
//!     }
//! });
//!
//! let calls: Vec<_> = (0..25)
//!     .map(|n| pipe.push(query(format!("SELECT {n}"))))
//!     .collect();
//! let mut answered = 0;
//! let mut refused = 0;
//! for call in calls {
//!     match call.await {
//!         Ok(rows) => answered += rows.unwrap().len(),
//!         Err(Error::TooMuchAsyncCall { .. }) => refused += 1,
//!         Err(other) => panic!("unexpected: {other}"),
//!     }
//! }
//! assert_eq!((answered, refused), (20, 5));
//! # }
//! ```
//!
//! # Three ways in
//!
//! - [`Bagpipe::push`] decides before it returns (admitted, queued or refused, like the book's
//!   `push`) and returns a [`Push`] handle that resolves to the output. The call runs on its
//!   own tokio task, so it needs `Send + 'static`; a queued call gets that task only when its
//!   slot is granted, and waits as its future and a few words in the queue. Dropping the handle
//!   cancels the call.
//! - [`Bagpipe::run`] waits for a slot in the caller's task and polls the future there, so it
//!   may borrow.
//! - [`Bagpipe::acquire`] (and [`acquire_owned`](Bagpipe::acquire_owned),
//!   [`try_acquire`](Bagpipe::try_acquire)) hands out the slot itself as a [`Permit`] that frees
//!   it when dropped, in tokio's `Semaphore` shape, for work that spans several awaits (a
//!   database transaction).
//!
//! All three wait in one FIFO queue, the same way: `push`, `run` and the tower layer are thin
//! layers over the permits, so `queue_length`, `refuse`, `queue_timeout`, `close` and
//! `set_limit` mean the same for each. Every queued call ends: it runs, or it fails with
//! [`Error::Closed`] once no slot can free for it (the bagpipe was closed, or its last handle was
//! dropped at limit 0), or with [`Error::Cancelled`] when its runtime shuts down.
//!
//! # Adaptive limits
//!
//! A fixed limit is either too low for the backend (capacity wasted) or too high (queueing,
//! timeouts, collapse), and a backend's capacity moves with its load. [`Builder::limit`] installs
//! a strategy that moves the limit after every completed call, from its latency and outcome:
//! [`limit::Aimd`] (loss-based), [`limit::Vegas`] (queueing estimated from the no-load latency),
//! [`limit::Gradient2`] (long-term against short-term latency), or a [`limit::Limit`] of one's
//! own. [`Builder::classify`] tells it which errors mean overload, [`Event::Limit`] reports every
//! change, and [`QueueDiscipline`] keeps the queue from serving callers who already gave up.
//!
//! Which one: start with [`limit::Vegas`]. The crate's `adaptive_sim` bench runs every strategy
//! against a simulated backend, offered more calls than it can serve, whose capacity moves from
//! 50 to 20 to 80 calls at once (the table and plots are in the repository's `BENCHMARKS.md`): Vegas found each
//! new capacity within 0.8 s and kept at least 92% of the goodput of the best fixed limit chosen
//! in hindsight. [`limit::Gradient2`] settles where the latency is `tolerance` times its
//! long-term average, 1.6 to 1.9 times the capacity there, and took 2.25 s after the drop.
//! [`limit::Aimd`] sees only losses (timeouts, overload errors): it settles where they begin,
//! three times the capacity after the drop, with full goodput and three times the latency. With
//! [`QueueDiscipline`]'s adaptive LIFO and CoDel, every strategy's p99 fell by a fifth to a
//! third.
//!
//! ```
//! use nodebook_bagpipe::{Bagpipe, QueueDiscipline};
//! use nodebook_bagpipe::limit::{Outcome, Vegas};
//! use std::time::Duration;
//!
//! let ms = Duration::from_millis;
//! let pipe = Bagpipe::builder(0)
//!     .limit(Vegas::default().min_limit(4).max_limit(200))
//!     .classify(|reply: &Result<String, u16>| match reply {
//!         Err(503) => Outcome::Overload,
//!         Err(_) => Outcome::Error,
//!         Ok(_) => Outcome::Success,
//!     })
//!     .queue_timeout(ms(100))
//!     .timeout(ms(400))
//!     .queue_discipline(QueueDiscipline::fifo().adaptive_lifo(ms(20)).codel(ms(20), ms(100)))
//!     .build();
//! assert_eq!(pipe.limit(), 20, "Vegas starts at 20");
//! ```
//!
//! # From npm bagpipe
//!
//! | npm bagpipe                                   | here                                          |
//! |-----------------------------------------------|-----------------------------------------------|
//! | `new Bagpipe(limit)`                          | [`Bagpipe::new`]                              |
//! | `new Bagpipe(limit, {refuse, timeout, ratio})`| [`Bagpipe::builder`] → [`Builder`]            |
//! | `ratio` (queue length = limit × ratio)        | [`Builder::queue_length`]                     |
//! | `refuse: true`                                | [`Builder::refuse`]                           |
//! | `timeout: ms` (from dispatch)                 | [`Builder::timeout`]                          |
//! | (queue wait is unbounded)                     | [`Builder::queue_timeout`]                    |
//! | (late call keeps running)                     | [`Builder::on_timeout`] with [`OnTimeout`]    |
//! | `disabled: true`, or `limit < 1`              | [`Builder::disabled`]                         |
//! | `bagpipe.push(fn, args..., callback)`         | [`Bagpipe::push`] → [`Push`], [`Bagpipe::run`]|
//! | (none)                                        | [`Bagpipe::acquire`] → [`Permit`]             |
//! | `bagpipe.on('full', fn(length))`              | `events().on("full", ..)`, [`Event::Full`]    |
//! | `bagpipe.on('outdated', fn(err))`             | `events().on("outdated", ..)`, [`Event::Outdated`] |
//! | (none)                                        | `events().on("drain", ..)`, [`Event::Drain`]  |
//! | `TooMuchAsyncCallError`                       | [`Error::TooMuchAsyncCall`]                   |
//! | `BagpipeTimeoutError`                         | [`Error::Timeout`]                            |
//! | `bagpipe.active`, `bagpipe.queue.length`      | [`Bagpipe::active`], [`Bagpipe::queued`]      |
//! | `bagpipe.limit = n`                           | [`Bagpipe::set_limit`]                        |
//! | (none)                                        | [`Bagpipe::close`], [`Bagpipe::stats`]        |
//!
//! # Deliberate differences from npm bagpipe
//!
//! Each where npm's behaviour is a defect or a limit of callbacks; the book's scenarios behave
//! as in npm (the `book_scenarios` test replays them step by step).
//!
//! | situation                                     | npm bagpipe                      | here                                   |
//! |-----------------------------------------------|----------------------------------|----------------------------------------|
//! | `refuse` on, `queue_length(0)`, a slot free   | every push refused               | the call takes the free slot; only a call that would wait is refused |
//! | `limit < 1`                                   | limiting off                     | admission paused until [`Bagpipe::set_limit`] raises it; [`Builder::disabled`] turns limiting off |
//! | a call throws (panics)                        | its slot leaks                   | its slot is freed; `push` resolves to [`Error::Panicked`] |
//! | a call completes twice                        | `active` drops below the truth   | impossible: a slot is a value, freed once |
//! | a late call (after its timeout) succeeds      | silently dropped                 | reported as `outdated`, like a late error |
//! | `outdated` listeners                          | each gets the error              | each sees the same late result, typed ([`Outdated::output`]) |
//! | the limiter is dropped with calls queued      | (garbage collected, callbacks never called) | queued calls run if a slot can still free, else end with [`Error::Closed`] |
//!
//! # Feature flags
//!
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    feature = "tower",
    doc = "- `tower` (off by default): [`BagpipeLayer`], a tower `Layer` that takes its slot in \
           `call`, not in `poll_ready`, so idle connections hold no slot."
)]
#![cfg_attr(
    not(feature = "tower"),
    doc = "- `tower` (off by default): `BagpipeLayer`, a tower `Layer` that takes its slot in \
           `call`, not in `poll_ready`, so idle connections hold no slot."
)]
#![cfg_attr(
    feature = "redis",
    doc = "- `redis` (off by default): [`RedisBagpipe`](crate::redis::RedisBagpipe), one limit counted in Redis across \
           every process that names the same limiter: leases on the server's clock, one queue in \
           arrival order across processes, fencing tokens, a chosen outage policy."
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = "- `redis` (off by default): `redis::RedisBagpipe`, one limit counted in Redis across \
           every process that names the same limiter: leases on the server's clock, one queue in \
           arrival order across processes, fencing tokens, a chosen outage policy."
)]
//! - `tracing` (off by default): each decision (a refusal, a queue timeout, a call timeout, an
//!   outdated call, a limit change) as a `tracing` event at debug level, target
//!   `nodebook_bagpipe`, with its figures as fields (`limit`, `queued`, `timeout`, ...).
//!   Without it the calls are not compiled in at all.
#![doc(test(attr(deny(warnings))))]

mod adaptive;
mod bagpipe;
mod builder;
mod error;
mod event;
mod execute;
mod launch;
#[cfg(feature = "tower")]
mod layer;
pub mod limit;
mod options;
mod permit;
mod push;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod shared;
mod slots;
mod stats;
mod sync;
#[cfg(all(test, bagpipe_loom))]
mod tests;
mod waiter;

pub use crate::bagpipe::Bagpipe;
pub use crate::builder::Builder;
pub use crate::error::{Error, OutputError, TryAcquireError};
pub use crate::event::{Event, LateOutput, Outdated};
#[cfg(feature = "tower")]
pub use crate::layer::{BagpipeLayer, BagpipeService, ResponseFuture};
pub use crate::options::{OnTimeout, QueueDiscipline};
pub use crate::permit::{OwnedPermit, Permit};
pub use crate::push::Push;
pub use crate::stats::Stats;
pub use crate::waiter::{Acquire, AcquireOwned};

// The README's examples run as doc tests, so the first code a crates.io reader sees compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
