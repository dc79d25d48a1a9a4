//! # Implementation details
//!
//! Which emit is running on this thread: a local one, or one that a [`Bridge`](crate::redis::Bridge)
//! delivers from Redis (feature `redis`).
//!
//! A bridge publishes local emits through a listener of its own; a remote event that it emits
//! locally must not go back to Redis (an echo). Every emit of a bridged emitter (one a bridge
//! was ever connected to) that runs listeners marks the thread
//! for the time its listeners run: with the delivering bridge's id, or with none for a plain
//! emit, and puts the outer mark back afterwards (also when a listener panics). So a listener
//! that reacts to a remote event by emitting a bridged event itself is published: its nested
//! emit is local, whatever the order of listeners. Emitters without a bridge skip the mark
//! (their listeners never look at it), so they pay one relaxed load. Listeners run
//! synchronously inside `emit`, with no `.await` in between, so a thread-local mark cannot
//! leak into another task.

use std::cell::Cell;

thread_local! {
    static DELIVERING: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Puts the outer mark back when the listeners are done, or panicked.
struct Restore(Option<u64>);

impl Drop for Restore {
    fn drop(&mut self) {
        DELIVERING.set(self.0);
    }
}

/// Runs `listeners` marked as delivering for `bridge` (`None`: a local emit).
#[inline]
pub(crate) fn marked<R>(bridge: Option<u64>, listeners: impl FnOnce() -> R) -> R {
    let _restore = Restore(DELIVERING.replace(bridge));
    listeners()
}

/// The bridge whose remote event the innermost emit on this thread delivers, if any.
#[inline]
pub(crate) fn delivering() -> Option<u64> {
    DELIVERING.get()
}
