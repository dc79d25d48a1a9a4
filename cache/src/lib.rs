//! A bounded cache (S3-FIFO, SIEVE or the book's FIFO) and a single-flight guard against cache
//! avalanches, for tokio services.
//!
//! # The avalanche
//!
//! The book (section 4.2.1) tells of a site whose cache is cold, at start-up or just after a
//! flush, when a crowd of visitors arrives. Each request misses the cache and sends the same SQL
//! to the database, which drowns under identical queries: a *cache avalanche*. Its fix is a
//! once-queue: the first request runs the query, every identical request that arrives meanwhile
//! waits in an `EventEmitter.once("selected", …)` queue, and one result answers them all:
//!
//! ```js
//! var proxy = new events.EventEmitter();
//! var status = "ready";
//! var select = function (callback) {
//!   proxy.once("selected", callback);
//!   if (status === "ready") {
//!     status = "pending";
//!     db.select("SQL", function (results) {
//!       proxy.emit("selected", results);
//!       status = "ready";
//!     });
//!   }
//! };
//! ```
//!
//! Here is the same service with this crate: a [`LimitableMap`] (the book's bounded cache of
//! section 5.3.1) whose [`get_or_load`](LimitableMap::get_or_load) puts the once-queue in front
//! of the database. Ten thousand requests on a cold key run one query:
//!
//! ```
//! use nodebook_cache::LimitableMap;
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let queries = Arc::new(AtomicUsize::new(0));
//! let cache: LimitableMap<String, Arc<str>> = LimitableMap::new(10_000)?;
//!
//! // The database: 5 ms per query.
//! let select = |sql: String, queries: Arc<AtomicUsize>| async move {
//!     queries.fetch_add(1, Ordering::SeqCst);
//!     tokio::time::sleep(Duration::from_millis(5)).await;
//!     Ok::<_, std::io::Error>(Arc::<str>::from(format!("rows of {sql}")))
//! };
//!
//! let sql = "SELECT * FROM table".to_string();
//! let crowd = (0..10_000).map(|_| {
//!     let (sql, queries) = (sql.clone(), Arc::clone(&queries));
//!     cache.get_or_load(sql.clone(), move || select(sql, queries))
//! });
//! let pages = futures_util::future::join_all(crowd).await;
//!
//! assert!(pages.iter().all(|p| p.as_deref().ok() == Some("rows of SELECT * FROM table")));
//! assert_eq!(queries.load(Ordering::SeqCst), 1); // one query for the whole crowd
//! assert!(cache.contains_key(&sql)); // and the next visitors hit the cache
//! # Ok(())
//! # }
//! ```
//!
//! # What it promises beyond the book
//!
//! - **Detached loads.** The load runs on its own tokio task, not inside any caller. A caller
//!   that is cancelled or times out leaves; the load goes on for the others and fills the map.
//!   moka's `get_with` and quick_cache restart the load in the next caller instead, so callers
//!   whose timeout is shorter than the load never fill the cache (moka#240). [`AbandonPolicy`]
//!   chooses between finishing and aborting a load nobody waits for any more.
//! - **Errors shared, not remembered.** One failed load gives every waiter the same
//!   [`Error::Load`]`(Arc<E>)`; the next call loads again. quick_cache runs N failing loads one
//!   after another instead; Go's singleflight lets a cancelled leader fail everyone.
//! - **Panics contained.** A panicking loader gives its waiters [`Error::LoaderPanicked`];
//!   nobody hangs and no entry is left behind.
//! - **Newer state wins.** A load that started before an [`insert`](LimitableMap::insert),
//!   [`remove`](LimitableMap::remove) or [`invalidate`](LimitableMap::invalidate) of its key
//!   does not store its (stale) result.
//! - **A concurrent map that keeps its hot keys.** Reads take no global lock (a sharded map;
//!   the eviction order is kept apart and touched only when keys come and go; a read only
//!   marks its entry), every operation is O(1) amortized where the book's `shift`/`splice` are
//!   O(n), and [`len`](LimitableMap::len) never exceeds the limit. The default
//!   [`EvictionPolicy::S3Fifo`] hits far more often than FIFO on skewed traffic (within a point
//!   of moka's on Zipf traces), survives one-off scans and follows a moving hot set;
//!   [`EvictionPolicy::Fifo`] keeps the book's exact order. Keys are
//!   hashed with foldhash, seeded per map ([`DefaultHashBuilder`]).
//! - **What a service needs around it.** A weight budget ([`Builder::weigher`],
//!   [`Builder::max_weight`]); time-to-live for the map and per entry
//!   ([`LimitableMap::insert_with_ttl`], [`Builder::loaded_time_to_live`]);
//!   stale-while-revalidate ([`Builder::refresh_after`]: the stale value answers at once while
//!   one background load replaces it); negative caching ([`Builder::negative_caching`]: a
//!   missing row does not send every request to the database); an eviction listener with a
//!   [`RemovalCause`]; counters ([`CacheStats`], [`LoadStats`]).
//!
//! [`OnceQueue`] is the once-queue alone, for work whose results are not kept.
//!
//! # Node name → Rust name
//!
//! | The book (Node) | This crate |
//! |---|---|
//! | `new LimitableMap(limit)` | [`LimitableMap::new`]`(limit)` (0 is an error, not the book's default of 10) |
//! | `map.set(key, value)` | [`LimitableMap::insert`] (returns the old value) |
//! | `map.get(key)` | [`LimitableMap::get`] (a clone; store `Arc<V>` for large values) |
//! | `proxy.once("selected", cb)` + `status` | [`OnceQueue::run`]`(key, loader)` |
//! | cache lookup, then `select` on a miss | [`LimitableMap::get_or_load`]`(key, loader)` |
//!
//! # Feature flags
//!
//! Off by default. Without them the crate needs tokio's `rt`, `sync` and `time` only.
//!
//! - `redis`: the module `nodebook_cache::redis`, a Redis tier behind the local map, with one load per
//!   key across every replica (redis-rs).
//! - `serde`: `redis::JsonCodec`, values stored in Redis as JSON.
//! - `tracing`: the cache's decisions as `tracing` events, target `nodebook_cache`: a load
//!   started, failed, panicked or discarded (its key changed while it ran), a stale value
//!   served while it refreshes, a failed refresh and a cached error answered, at debug level;
//!   each eviction at trace level; the Redis tier's health changes at debug level. Without
//!   the feature they are not compiled in at all.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod counters;
mod error;
mod eviction;
mod expiry;
mod flight;
mod limitable_map;
mod loading;
mod once_queue;
mod policy;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod stats;
mod store;
mod trace;

pub use builder::{Builder, DefaultHashBuilder};
pub use error::Error;
pub use limitable_map::LimitableMap;
pub use once_queue::{AbandonPolicy, OnceQueue};
pub use policy::EvictionPolicy;
pub use stats::{CacheStats, LoadStats, RemovalCause};

// The README's examples run as doc tests, so the first code a crates.io reader sees compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
