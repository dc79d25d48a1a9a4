//! One limit across every replica, counted in Redis (feature `redis`).
//!
//! A [`Bagpipe`](crate::Bagpipe) limits the calls of one process: with 4 replicas at
//! `limit = 10` the database sees 40. A [`RedisBagpipe`] counts its permits in Redis, so that
//! every process naming the same limiter shares one limit of 10, with the local limiter's
//! options and errors:
//!
//! - **A permit is a lease.** Holders are members of a sorted set scored by when their lease
//!   ends, on the Redis server's clock (`TIME` inside Lua scripts; the clients' clocks are never
//!   compared). One script removes expired holders, checks the count and adds the caller,
//!   atomically. A held permit's lease is renewed in the background; dropping the permit
//!   releases it without blocking, and the same script hands the slot to the next waiter.
//! - **One queue in arrival order across processes.** A caller that has to wait takes a ticket
//!   (a counter in Redis) and waits for a grant message on the limiter's pub/sub channel, with a
//!   polling fallback; `queue_length`, `refuse`, `timeout` and `queue_timeout` mean what they
//!   mean for a [`Bagpipe`](crate::Bagpipe) and fail with the same [`Error`](crate::Error)s.
//! - **A local queue in front.** Each process admits at most
//!   [`local_limit`](RedisBagpipeBuilder::local_limit) callers to Redis at once (the global
//!   limit by default); the rest wait in a local [`Bagpipe`](crate::Bagpipe), so one
//!   replica's burst does not flood Redis with waiters and polls.
//! - **Holders that outlive their lease are told**, and writes can be fenced: see
//!   [`RedisPermit::lease_lost`], [`Event::LeaseLost`](crate::Event::LeaseLost),
//!   [`RedisPermit::fencing_token`].
//! - **Redis away is a policy**, chosen by the user ([`OutagePolicy`]): fail closed, fail open,
//!   or a local fallback limit. Every Redis call has a timeout; the limiter goes back to Redis
//!   when it answers a ping.
//!
//! # Guarantees
//!
//! | situation | what happens |
//! |---|---|
//! | N processes acquire at limit L | at most L permits granted by Redis are held at once, every lease alive |
//! | callers wait | served in the order of their tickets, across processes; a released slot goes to the head of the queue in the release's own round trip; a slot freed by an expired lease goes to it at the next script any process runs (a waiter polls at least every `poll_interval`) |
//! | a permit is dropped | its id goes to the background task, which frees the slot in Redis (one script for every id queued meanwhile); `drop` never waits |
//! | an acquire is dropped or times out while it waits | it leaves the local queue; its place (or a slot granted a moment before) in Redis is removed in the background; if Redis does not answer, it ends with its lease: no ticket blocks the queue |
//! | a process is killed holding permits | its slots come back one lease after their last renewal, so at most a lease after the kill, to the first waiter that looks then (within `poll_interval`) |
//! | a process is killed while it waits | its place leaves the queue one lease after its last poll; if its turn came first, the slot handed to it comes back a lease later |
//! | a holder stalls for a whole lease, or cannot reach Redis for that long | [`lease_lost`](RedisPermit::lease_lost) turns true and [`Event::LeaseLost`](crate::Event::LeaseLost) is emitted, at the next renewal; its slot may serve someone else |
//! | fencing tokens | every grant gets a larger token than every grant before it, also after a Redis restart that lost the data (the counter restarts at the server's time in microseconds) |
//! | Redis refuses, is killed, or does not answer within `redis_timeout` | the [`OutagePolicy`]: [`Error::Unavailable`](crate::Error::Unavailable) (fail closed), permits without a global count (fail open), or a local limit per process (fallback); [`Health::Degraded`] |
//! | Redis comes back | the next acquire after a ping answers (every `heartbeat`) uses Redis again; waiters look again |
//! | Redis restarts without its data | each holder's next renewal re-registers its permit if a slot is free and nobody waits, under the same id (so it is counted once, never twice), and otherwise reports it lost; releases of lost permits free nothing of anyone else's |
//!
//! What it does not promise: a permit granted by the outage policy is not counted in Redis,
//! and neither is a lost one, so while they finish the processes together may run more than
//! the limit (by at most their fallback or local limits). A Redis failover (replica promoted
//! without the last writes) can grant a slot twice, as the Redis documentation warns for
//! every lock on it; fence the writes that matter. Every process should give the same limiter
//! the same `limit` and `lease`: each script counts against its caller's. Every process
//! receives every grant message of the limiter (one per handed-over slot). The `full` event
//! reports this process's local queue only. A limiter's keys stay in Redis after its last
//! permit (a few bytes: the counters); they have no time-to-live, so give Redis a
//! `maxmemory-policy` that does not evict keys without one.
//!
//! # Examples
//!
//! ```no_run
//! use nodebook_bagpipe::Event;
//! use nodebook_bagpipe::redis::{GrantedBy, OutagePolicy, RedisBagpipe};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! // Every replica runs this: the database sees at most 10 queries at once in total.
//! let db = RedisBagpipe::builder(client, "orders-db", 10)
//!     .queue_length(100)
//!     .refuse(true)
//!     .queue_timeout(Duration::from_secs(2))
//!     .timeout(Duration::from_secs(5))
//!     .lease(Duration::from_secs(10))
//!     .redis_timeout(Duration::from_millis(200))
//!     // Redis away: each of the 4 replicas runs at most 10 / 4 = 2 queries.
//!     .outage(OutagePolicy::fallback_share(10, 4))
//!     .build()?;
//! db.events().on(Event::LEASE_LOST, |event: &Event| eprintln!("{event:?}"));
//!
//! let rows = db
//!     .run(async {
//!         tokio::time::sleep(Duration::from_millis(20)).await; // the query
//!         vec!["order 7"]
//!     })
//!     .await?;
//! assert_eq!(rows, ["order 7"]);
//!
//! // A transaction on one slot, with a fenced write.
//! let permit = db.acquire().await?;
//! if permit.granted_by() == GrantedBy::Redis {
//!     let token = permit.fencing_token();
//!     // UPDATE .. WHERE last_token < $token
//!     # let _ = token;
//! }
//! drop(permit);
//! # Ok(())
//! # }
//! ```

mod background;
mod builder;
mod limiter;
mod permit;
mod shared;
mod store;
mod waiters;

pub use builder::{BuildError, OutagePolicy, RedisBagpipeBuilder};
pub use limiter::{Health, RedisBagpipe};
pub use permit::{GrantedBy, RedisPermit};
