//! The Redis bridge against a real Redis (feature `redis`): in-process behaviour, and events
//! across OS processes through a `CLIENT KILL`. Without Redis on 127.0.0.1:6379 the tests are
//! skipped with a printed reason, unless `NODEBOOK_REQUIRE_REDIS=1` (CI) makes that a failure.
#![cfg(feature = "redis")]

mod bridge;
mod crowd;
mod overflow;
