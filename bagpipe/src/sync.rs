//! # Implementation details
//!
//! The synchronisation primitives of the admission machine (`slots`) and of the seats it writes,
//! from `std` normally and from loom when the crate is built with `--cfg loom`, so that the
//! model test in `tests/loom_slots.rs` explores every interleaving of the real code.
//!
//! `Arc` stays `std`'s under loom: seats are woken through `self: Arc<Self>`, a receiver that
//! loom's `Arc` cannot be, and reference counting is not part of the protocol being checked.
//! Built with `--cfg loom`, these types only work inside `loom::model`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
