//! A bounded FIFO cache and a single-flight guard against cache avalanches.
//!
//! Ports two patterns from the book: `LimitableMap` (section 5.3.1), a cache that evicts its
//! oldest-inserted key once `limit` keys are held, and the once-queue (section 4.2.1), which lets
//! one database query serve every identical request that arrives while it runs.
#![doc(test(attr(deny(warnings))))]

mod builder;
mod counters;
mod error;
mod flight;
mod limitable_map;
mod once_queue;
mod stats;
mod store;

pub use builder::Builder;
pub use error::Error;
pub use limitable_map::LimitableMap;
pub use once_queue::{AbandonPolicy, OnceQueue};
pub use stats::{CacheStats, LoadStats, RemovalCause};
