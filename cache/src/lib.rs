//! A bounded FIFO cache and a single-flight guard against cache avalanches.
//!
//! Ports two patterns from the book: `LimitableMap` (section 5.3.1), a cache that evicts its
//! oldest-inserted key once `limit` keys are held, and the once-queue (section 4.2.1), which lets
//! one database query serve every identical request that arrives while it runs.
//!
//! **Under construction:** the API lands with the cache issue.
#![doc(test(attr(deny(warnings))))]
