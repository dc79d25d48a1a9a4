//! # Implementation details
//!
//! The cache's decisions as `tracing` events (feature `tracing`). Each macro expands to nothing,
//! arguments included, without the feature, so a build without it carries no trace of them.
//! Keys are generic and need not be `Debug`, so events carry the decision and its figures,
//! never the key.

/// A decision worth seeing while debugging (a load, a failure, a stale or negative answer),
/// at debug level, target `nodebook_cache`.
macro_rules! decision {
    ($($field:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::debug!(target: "nodebook_cache", $($field)*);
    }};
}

/// A decision frequent enough to drown the debug level (an eviction), at trace level.
macro_rules! detail {
    ($($field:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::trace!(target: "nodebook_cache", $($field)*);
    }};
}

pub(crate) use {decision, detail};
