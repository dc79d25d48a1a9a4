//! A concurrency limiter for async calls, after npm's `bagpipe`.
//!
//! Ports the book's bagpipe (sections 4.3.1 and 5.3.2): at most `limit` calls run at once, the
//! rest wait in a bounded FIFO queue, `refuse` mode rejects when the queue is full, timeouts free
//! the slot of a call that takes too long, and `full` / `outdated` events tell the application.
//!
//! **Under construction:** the API lands with the bagpipe issue.
#![doc(test(attr(deny(warnings))))]
