//! What the family's tests share, as a dev-dependency of each crate (never published):
//!
//! - [`redis`]: finding the machine's Redis server, or skipping with a printed reason (failing
//!   instead under `NODEBOOK_REQUIRE_REDIS=1`, as CI runs), a private `redis-server` that a test
//!   may kill, pause and restart, and names no other test uses;
//! - [`processes`]: the test binary run again as worker processes, reporting in `@` lines;
//! - [`Captured`]: a `tracing` subscriber whose output a test reads back;
//! - [`within`]: a failure bound on a future.

#![allow(
    clippy::missing_panics_doc,
    clippy::missing_errors_doc,
    clippy::must_use_candidate,
    reason = "a test harness: a panic here is the test's failure, with its message"
)]

pub mod processes;
pub mod redis;
mod trace;

pub use trace::Captured;

use std::time::Duration;

/// Awaits `f` for at most `bound` (a failure bound, not an ordering tool).
///
/// # Panics
///
/// When `f` does not finish within `bound`, naming `what`.
pub async fn within<T>(bound: Duration, what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(bound, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {bound:?}"))
}
