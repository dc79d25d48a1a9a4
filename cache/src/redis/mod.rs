//! Two tiers and one load per key across every replica: this process's [`LimitableMap`](crate::LimitableMap)
//! in front of Redis (feature `redis`).
//!
//! A service that runs as several replicas behind a load balancer gets, from a plain local
//! cache, one database query per replica for a cold key, stale copies on the other replicas
//! after an invalidation, and an empty cache after every restart. The book's answer (sections
//! 5.3.1 and 9.3.4) is an out-of-process store; [`RedisCache`] puts Redis behind the local
//! tier and keeps the once-queue's promise across processes:
//!
//! - **Two tiers.** A hit in the local tier costs what a [`LimitableMap`](crate::LimitableMap)
//!   read costs. A miss reads Redis; the value comes back through a [`Codec`] ([`BytesCodec`],
//!   [`StrCodec`], `JsonCodec` with the `serde` feature). A local copy never lives longer than
//!   the value in Redis.
//! - **One load per key, cluster-wide.** Inside a process, concurrent misses share one fetch
//!   (the once-queue). Across processes, the fetch that wins `SET ns:lock:key token NX PX lease`
//!   runs the loader; the others wait for its `done` message, with a polling fallback, never
//!   past the lease's end. The winner's write is fenced: a Lua script stores the value only
//!   while the lease still holds its token.
//! - **Invalidation across replicas.** [`RedisCache::invalidate`] deletes the value (and any
//!   lease) in Redis and publishes it on the namespace's channel; every replica drops its local
//!   copy. [`RedisCache::insert`] writes a new value through in the same way. A replica whose
//!   subscription was lost flushes its local tier when it comes back.
//! - **Redis down is not the service down.** Every Redis call has a timeout. When one fails,
//!   the cache serves from the local tier and loads through the in-process once-queue, reports
//!   [`Health::Degraded`] and counts it ([`RedisStats`]), while a background task reconnects;
//!   it comes back by itself. No caller gets an error because of Redis.
//!
//! # Guarantees
//!
//! | situation | what happens |
//! |---|---|
//! | N processes x M callers miss one key at once | one load in total; every caller gets its value |
//! | the lease holder is killed mid-load | its lease expires; the next process to look takes it and loads: at most two loads; waiters wait at most lease + load time + one poll interval |
//! | the lease holder stalls past its lease, then writes | its write is refused; it answers with the newer value in Redis |
//! | a key is invalidated or inserted while a load for it runs elsewhere | the lease is deleted with the value, so that load's write is refused and its value is not kept |
//! | [`invalidate`](RedisCache::invalidate) or [`insert`](RedisCache::insert) | every subscribed replica drops its older local copy (at most once: see below) |
//! | the loader fails or panics | this process's callers get the error (not cached); the lease is given back and another process may load at once |
//! | Redis refuses, is killed or does not answer in `timeout` | callers are served from the local tier or a local load (one per key per process), within `timeout` + load time; [`Health::Degraded`], counted |
//! | Redis comes back | the background task reconnects, flushes the local tier (invalidations may have been missed), and the tier is used again |
//! | a value in Redis does not decode | treated as a miss: deleted and loaded again, counted |
//!
//! What it does not promise: pub/sub is at most once, so a replica whose subscription stays up
//! but drops a message keeps its local copy until the local time-to-live ends (keep
//! [`local_time_to_live`](RedisCacheBuilder::local_time_to_live) short where that matters); a
//! Redis failover can grant a lease twice (one duplicate load, still fenced). Errors of a
//! remote leader are not shared across processes: a waiting process loads itself after the
//! leader gives the lease back. Every replica receives every `done`, `fail` and `inval` message
//! of its namespace (one per load or invalidation), so give each data set its own namespace
//! rather than one for the whole company. RESP3 client tracking is not used.
//!
//! # Examples
//!
//! ```no_run
//! use nodebook_cache::redis::{Health, RedisCache, StrCodec};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = redis::Client::open("redis://127.0.0.1:6379")?;
//! let users: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
//!     .time_to_live(Duration::from_secs(300))
//!     .local_time_to_live(Duration::from_secs(30))
//!     .lease(Duration::from_secs(5)) // longer than the slowest query
//!     .timeout(Duration::from_millis(200))
//!     .build()?;
//!
//! // Every replica running this asks the database once for user 7.
//! let name = users
//!     .get_or_load("7", || async {
//!         tokio::time::sleep(Duration::from_millis(50)).await; // the query
//!         Ok::<_, std::io::Error>("Ada".to_string())
//!     })
//!     .await?;
//! assert_eq!(name, "Ada");
//!
//! // The row changed: drop it here, in Redis and on every other replica.
//! users.invalidate("7").await;
//!
//! // Report outages.
//! let mut health = users.health_changes();
//! tokio::spawn(async move {
//!     while health.changed().await.is_ok() {
//!         if *health.borrow() == Health::Degraded {
//!             eprintln!("cache: Redis unavailable, serving from the local tier");
//!         }
//!     }
//! });
//! # Ok(())
//! # }
//! ```

mod builder;
mod codec;
mod fetch;
mod l2;
mod monitor;
mod stats;
mod tier;
mod wakers;

pub use builder::{BuildError, RedisCacheBuilder};
#[cfg(feature = "serde")]
pub use codec::JsonCodec;
pub use codec::{BytesCodec, Codec, CodecError, StrCodec};
pub use stats::{Health, RedisStats};
pub use tier::{Reach, RedisCache};
