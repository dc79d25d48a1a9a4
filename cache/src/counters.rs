//! # Implementation details
//!
//! Striped event counters. A single shared `AtomicU64` bumped on every `get` would put one cache
//! line in every reader's path and make reads on two cores slower than on one; that is the
//! global lock the map promises not to take. Instead each thread picks one of [`STRIPES`]
//! cache-line-aligned stripes (round robin, once per thread) and bumps its own counter; a
//! snapshot sums the stripes. Counters only grow, so a sum taken while others work is a value
//! the counter held at some instant between the first and the last read, per counter.
//!
//! Every bump is an atomic read-modify-write, so the counters are exact however many threads
//! share a stripe; with a stripe per thread of a small pool, the cache line it touches is
//! almost never contended, which is what keeps the read path cheap.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How many stripes a counter set has: enough that threads of a small pool rarely share one.
const STRIPES: usize = 32;

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The stripe this thread uses.
fn stripe() -> usize {
    STRIPE.with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
            s.set(i);
        }
        i
    })
}

/// One stripe of `N` counters, alone on its cache lines.
#[repr(align(128))]
struct Stripe<const N: usize>([AtomicU64; N]);

/// `N` striped counters, addressed by index.
pub(crate) struct Counters<const N: usize> {
    stripes: Box<[Stripe<N>]>,
}

impl<const N: usize> Counters<N> {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES)
                .map(|_| Stripe(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
        }
    }

    /// Adds `n` to counter `which`.
    #[inline]
    pub(crate) fn add(&self, which: usize, n: u64) {
        self.stripes[stripe()].0[which].fetch_add(n, Ordering::Relaxed);
    }

    /// Sums every counter over the stripes.
    pub(crate) fn snapshot(&self) -> [u64; N] {
        let mut out = [0u64; N];
        for s in self.stripes.iter() {
            for (o, c) in out.iter_mut().zip(s.0.iter()) {
                *o += c.load(Ordering::Relaxed);
            }
        }
        out
    }
}
