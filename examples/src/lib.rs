//! The toolkit at work: a tour of every crate on the book's scenarios, a tokio service over an
//! embedded database, and integration tests against a mock database.
//!
//! # Run it
//!
//! ```text
//! cargo run --release -p examples --bin tour      # every crate, measured, in a few seconds
//! cargo run --release -p examples --bin service   # http://127.0.0.1:3000 over SQLite
//! cargo run --release -p examples --bin load -- --requests 10000   # against the running service
//! cargo run --release -p examples --bin service-soak -- --duration 300   # hostile clients, RSS
//! ```
//!
//! Each scene of the tour says in one line what it shows, prints its measured figures, and ends
//! with a line saying whether those figures support the claim (plainly, when they do not). A
//! scene whose figures depend on the machine (its clock, page cache or core count) says so.
//!
//! # The book's scenario: an avalanche on a cold key
//!
//! Section 4.2.1 of the book: when a popular page is not cached, every request runs the same
//! query at once and the database drowns. [`ArticleStore`] is the answer the book builds,
//! made of the toolkit's crates: a `nodebook_cache::LimitableMap` with a time-to-live, its once-queue so
//! that concurrent misses share one query, a `nodebook_bagpipe::Bagpipe` that caps concurrent queries at
//! the connection count and refuses beyond its queue, and an `nodebook_emitter::Emitter` that announces
//! updates.
//!
//! A database drowns because its capacity is finite: a few connections, each busy for the
//! length of a query. [`MockDatabase::with_pool`] gives the mock that shape, so a crowd of
//! identical queries queues up as it would on a real database, and the guard's effect shows in
//! the time the crowd waits, not only in the query count:
//!
//! ```
//! use examples::{ArticleSource, ArticleStore, MockDatabase, StoreConfig};
//! use std::num::NonZeroUsize;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), examples::Error> {
//! let four = NonZeroUsize::new(4).expect("not zero");
//! let db = MockDatabase::with_pool(four, Duration::from_millis(5));
//! let store = ArticleStore::new(db.clone(), StoreConfig::default())?;
//!
//! let arrival = tokio::time::Instant::now();
//! let requests = (0..10_000).map(|_| store.get(1));
//! let answers = futures::future::join_all(requests).await;
//!
//! assert!(answers.iter().all(|row| row.is_ok()));
//! assert_eq!(db.queries(), 1); // not 10,000
//! assert_eq!(arrival.elapsed(), Duration::from_millis(5)); // not 10,000 / 4 x 5 ms
//! # Ok(())
//! # }
//! ```
//!
//! The tour's first scene, [`Avalanche`], measures the same crowd side by side: every caller
//! querying, the once-queue alone, and the once-queue with a cache, each with its queries, its
//! callers' waits (p50, p99), its wall time and the callers that gave up ([`CrowdReport`]).
//!
//! The same store runs over SQLite ([`SqliteDatabase`]) or PostgreSQL ([`PostgresDatabase`],
//! for replicas sharing one database; [`Database`] chooses) in the [`Service`], and over the
//! [`MockDatabase`] (a connection pool, a per-query cost, failure injection, query counting) in
//! the tests.
//!
//! # The service
//!
//! | route                       | what it does                                        | errors |
//! |-----------------------------|-----------------------------------------------------|--------|
//! | `GET /articles/{id}`        | [`ArticleStore::get`]: cache, once-queue, limiter; an absent id is remembered for `negative_ttl` | 400 bad id, 404, 503 + `Retry-After` when the limiter refuses, 504 on a database timeout |
//! | `PUT /articles/{id}`        | [`ArticleStore::update`]: create (201) or replace (200), invalidate, emit `article.updated` | 400 bad id or JSON, 413 over `put_limit`, 503, 504 |
//! | `GET /events`               | server-sent events from an emitter subscription, each at most `event_limit` bytes; with `--redis`, the updates of every replica | 503 + `Retry-After` beyond `max_subscribers` |
//! | `POST /import?charset=gbk&strict=true` | body streamed through `streams` with a size limit, decoded by `decoder` (charset from the query or the `Content-Type`), stored as UTF-8 | 400 unknown or conflicting charset, 413 too large, 422 + byte offset for malformed input when strict |
//! | `GET /files/{name}`         | a regular file of `DATA_DIR/files` (no links, FIFOs or folders) streamed by `nodebook_streams::ReadStream` | 400 for `/`, `\`, `..`, NUL, over 255 bytes; 404 |
//! | `GET /stats`                | counters of the limiter, the cache, the emitter, SQLite and HTTP as JSON | |
//! | `GET /metrics`              | the same and request latencies by route, in Prometheus text | |
//! | `GET /healthz`, `GET /readyz` | live; ready (the database answers, with `--redis` the cache tier, the global limit and the event bridge reach Redis, and no drain has begun) | 503 when not ready |
//!
//! Every error body is JSON, `{"error": "..."}`, including unknown routes (404) and methods (405).
//! A request head must arrive within `header_timeout`, a body may not stall past
//! `body_timeout`, a handler may not run past `request_timeout` (408), a client that reads
//! nothing of its answer for `write_timeout` is disconnected, and at most
//! `max_connections` connections are served at once (see [`ServiceConfig`]).
//!
//! Ctrl-C or SIGTERM drains: no new connections, event streams end, running requests finish
//! for up to `drain_timeout`, and then what is still open is dropped; a second signal drops it
//! at once. A write is acknowledged only once SQLite committed it, so nothing acknowledged is
//! lost either way. Logs go to standard error, filtered by `RUST_LOG`; the crates' own
//! decisions are debug events of the targets `nodebook_bagpipe`, `nodebook_cache` and
//! `nodebook_streams`.
//!
//! # Replicas
//!
//! [`ServiceConfig::database_url`] (`--database-url`) keeps the rows in PostgreSQL
//! ([`PostgresDatabase`]) instead of SQLite, so that replicas share them;
//! [`ServiceConfig::redis_url`] (`--redis`) makes the article cache the cache's Redis tier
//! ([`ArticleStore::clustered`], [`Cluster`]): one query per cold article across every replica,
//! and a write invalidates the article on all of them. The database limiter becomes one limit
//! across the replicas ([`Limiter::Global`]: `--connections L` means L calls at once on the
//! database from every replica together), with an outage policy for when Redis does not answer
//! ([`LimitOutage`], `--redis-outage`). `GET /events` is bridged across the replicas through
//! Redis pub/sub (the emitter's `Bridge`): an update written on one replica reaches the event
//! subscribers of every replica.
//!
//! [`QueryProbe`] (`--db-latency`, `--query-log`) adds a latency to each database call and
//! logs its interval, so that the `cluster` binary can measure how many calls ran at once
//! across the replicas without asking the limiter it checks.

//! # From the book to the toolkit
//!
//! | Node (the book)                                   | here                                   |
//! |---------------------------------------------------|----------------------------------------|
//! | `proxy.once("selected", cb)` + `status` (4.2.1)   | `nodebook_cache::OnceQueue`, `LimitableMap::get_or_load`, [`ArticleStore::get`] |
//! | `LimitableMap` (5.3.1)                            | `nodebook_cache::LimitableMap`                  |
//! | `new Bagpipe(10)`, `TooMuchAsyncCallError` (4.3.1) | `nodebook_bagpipe::Bagpipe`, [`Error::Overloaded`] → 503 |
//! | `emitter.on("full")`, `setMaxListeners`           | `nodebook_emitter::Emitter`                     |
//! | `rs.setEncoding("utf8")`, `StringDecoder` (6.3)   | `nodebook_streams::ReadStream::set_encoding`, `nodebook_decoder::StringDecoder` |
//! | `createReadStream(path, {highWaterMark})` (6.4)   | `nodebook_streams::ReadStream::open` with `ReadOptions::high_water_mark` |
//! | `Buffer.concat(chunks, size)`                     | `nodebook_streams::concat` with a limit         |
//!
//! # Feature flags
//!
//! None: this crate is not published, and everything it shows is always built.
#![doc(test(attr(deny(warnings))))]

mod article;
mod article_cache;
mod avalanche;
mod cli;
mod client;
mod database;
mod error;
mod event_bridge;
mod files;
mod handlers;
mod limiter;
mod load;
mod mock;
mod postgres;
mod query_probe;
mod server;
mod service;
mod shutdown;
mod source;
mod sqlite;
mod store;
mod store_config;
mod store_stats;
mod telemetry;
mod write_timeout;

pub use article::{ARTICLE_COUNT, Article, ArticleUpdate};
pub use article_cache::Cluster;
pub use avalanche::{Avalanche, AvalancheReport, Crowd, CrowdReport};
pub use cli::Flags;
pub use client::{HttpAnswer, HttpClient};
pub use database::Database;
pub use error::Error;
pub use files::{
    BadFileName, MAX_FILE_NAME, POEM, Unservable, check_file_name, files_dir, open_served_file,
    seed_files,
};
pub use limiter::{GlobalLimit, GlobalLimitSettings, LimitOutage, Limiter};
pub use load::{DEFAULT_CONCURRENCY, DEFAULT_REQUEST_TIMEOUT, LoadPlan, LoadReport};
pub use mock::MockDatabase;
pub use postgres::PostgresDatabase;
pub use query_probe::{QueryProbe, peak_concurrency, read_query_log};
pub use server::ShutdownReport;
pub use service::{Service, ServiceConfig, status_of};
pub use shutdown::{shutdown_signal, shutdown_signals};
pub use source::ArticleSource;
pub use sqlite::{DATABASE_FILE, SqliteDatabase, WAL_LIMIT};
pub use store::{ARTICLE_UPDATED, ArticleStore, SYNC_LISTENER_ALLOWANCE};
pub use store_config::StoreConfig;
pub use store_stats::{
    BridgeCounters, CacheCounters, EventCounters, GlobalLimitStats, LimiterStats, RedisCounters,
    StoreStats,
};
pub use telemetry::install_log_subscriber;
