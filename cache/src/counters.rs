//! # Implementation details
//!
//! Per-thread event counters. A single shared `AtomicU64` bumped on every `get` would put one
//! cache line in every reader's path and make reads on two cores slower than on one; that is the
//! global lock the map promises not to take. Instead each counter set has [`OWNED`] stripes, each
//! alone on its cache lines, plus one shared stripe; a snapshot sums them all. Counters only
//! grow, so a sum taken while others work is a value the counter held at some instant between
//! the first and the last read, per counter.
//!
//! A thread claims a stripe number on its first count, from one process-wide pool (the same
//! number for every counter set), and gives it back when it exits. While a thread holds a
//! number, no other thread writes that stripe, so a bump is a plain load and store of an atomic
//! (no read-modify-write, no locked instruction on the read path) and still exact. The next
//! holder of a returned number takes it through the pool's mutex, after the last store of the
//! previous holder, so it sees every count that thread made. Threads beyond [`OWNED`] alive at
//! once, and a thread whose exit already returned its number, count on the shared stripe with
//! an atomic read-modify-write: slower, still exact.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// How many threads at once get a stripe of their own: enough for a small pool.
const OWNED: usize = 32;

/// The stripe of threads without one of their own: bumped with read-modify-writes.
const SHARED: usize = OWNED;

/// This thread has not claimed a number yet.
const UNCLAIMED: usize = usize::MAX;

/// Numbers given back by exited threads, and the lowest never handed out.
struct Pool {
    free: Vec<usize>,
    next: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    next: 0,
});

thread_local! {
    /// This thread's stripe number: below [`OWNED`] when it owns one, [`SHARED`] when it counts
    /// on the shared stripe, [`UNCLAIMED`] before its first count. No destructor, so it stays
    /// readable while other thread-locals are dropped at thread exit.
    static STRIPE: Cell<usize> = const { Cell::new(UNCLAIMED) };
    /// Returns the owned number to the pool when the thread exits.
    static RETURN: Claim = const { Claim };
}

/// Gives the thread's owned stripe number back when dropped at thread exit.
struct Claim;

impl Drop for Claim {
    fn drop(&mut self) {
        give_back(STRIPE.with(|s| s.replace(SHARED)));
    }
}

/// Returns an owned stripe number to the pool (the shared number is nobody's to return).
fn give_back(stripe: usize) {
    if stripe < OWNED {
        POOL.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .free
            .push(stripe);
    }
}

/// Claims a stripe number for this thread, on its first count.
#[cold]
fn claim() -> usize {
    let stripe = {
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        match pool.free.pop() {
            Some(stripe) => stripe,
            None if pool.next < OWNED => {
                pool.next += 1;
                pool.next - 1
            }
            None => SHARED,
        }
    };
    // Registering the destructor fails only while the thread is already exiting; then the
    // number must not be owned, since nobody would give it back.
    let registered = stripe < OWNED && RETURN.try_with(|_| ()).is_ok();
    let stripe = if registered {
        stripe
    } else {
        give_back(stripe);
        SHARED
    };
    STRIPE.with(|s| s.set(stripe));
    stripe
}

/// One stripe of `N` counters, alone on its cache lines.
#[repr(align(128))]
struct Stripe<const N: usize>([AtomicU64; N]);

/// `N` counters, addressed by index.
pub(crate) struct Counters<const N: usize> {
    stripes: Box<[Stripe<N>; OWNED + 1]>,
}

impl<const N: usize> Counters<N> {
    pub(crate) fn new() -> Self {
        Self {
            stripes: Box::new(std::array::from_fn(|_| {
                Stripe(std::array::from_fn(|_| AtomicU64::new(0)))
            })),
        }
    }

    /// Adds `n` to counter `which`.
    #[inline]
    pub(crate) fn add(&self, which: usize, n: u64) {
        let mut stripe = STRIPE.with(Cell::get);
        if stripe == UNCLAIMED {
            stripe = claim();
        }
        if stripe < OWNED {
            // Only this thread writes its owned stripe: a load and a store are exact.
            let c = &self.stripes[stripe].0[which];
            c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        } else {
            self.stripes[SHARED].0[which].fetch_add(n, Ordering::Relaxed);
        }
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
