//! # Implementation details
//!
//! The synchronisation primitives of the admission machine (`slots`), from `std` normally and
//! from loom when the crate is built with `--cfg bagpipe_loom`, so that the model tests in
//! `src/tests/` explore every interleaving of the real code. The cfg is the crate's own, not
//! plain `loom`, so that a downstream crate's loom build does not switch these internals.
//!
//! `Arc` stays `std`'s under loom: wakers are built from `Arc<Self>` receivers, which loom's
//! `Arc` cannot be, and reference counting is not part of the protocol being checked. Built with
//! `--cfg bagpipe_loom`, the crate only works inside `loom::model`.

#[cfg(bagpipe_loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
#[cfg(bagpipe_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(bagpipe_loom))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(bagpipe_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
