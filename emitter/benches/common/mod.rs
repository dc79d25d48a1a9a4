//! What both emitter benches share: the floor's listener type, the counting listener every
//! workload registers, and a subscriber task's read.

use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use nodebook_emitter::Subscription;

/// The floor: what a hand-written listener list stores.
pub(crate) type PlainListener = Box<dyn Fn(&u64) + Send + Sync>;

/// A listener that adds each payload to `counter` (one relaxed `fetch_add`).
pub(crate) fn counting_listener(counter: &Arc<AtomicU64>) -> impl Fn(&u64) + Send + Sync + 'static {
    let counter = Arc::clone(counter);
    move |n| {
        counter.fetch_add(*n, Ordering::Relaxed);
    }
}

/// A listener that does a plain add of the payload and a constant of its own, and hands the
/// sum to `black_box` so that it is computed: the cheapest listener that does any work, where
/// the emit's own cost shows most.
pub(crate) fn adding_listener(k: u64) -> impl Fn(&u64) + Send + Sync + 'static {
    move |n| {
        black_box(*n + k);
    }
}

/// Reads one payload from each subscription, as a task polling its stream would, and checks
/// that each read one.
pub(crate) fn read_each(subscriptions: &mut [Subscription<u64>], expected: usize) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut sum = 0;
    for subscription in subscriptions {
        if let Poll::Ready(Some(Ok(n))) = Pin::new(subscription).poll_next(&mut cx) {
            sum += n;
        }
    }
    assert_eq!(sum, expected as u64);
}
