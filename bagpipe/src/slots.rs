//! # Implementation details
//!
//! The admission machine: an atomic word for the uncontended path, a mutex-protected FIFO queue
//! of waiter nodes for the contended one.
//!
//! The word `state` packs three things: bit 0 (`WAITERS`) is set while the queue holds a live
//! waiter, bit 1 (`CLOSED`) once `close` ran, and the rest counts the slots held (`active`).
//!
//! Invariants, all maintained while holding the queue lock:
//!
//! - `WAITERS` is set if and only if `queue.live > 0`.
//! - A live waiter exists only while `active >= limit`: whenever `active` drops or `limit` rises
//!   under the lock, the head waiters are granted slots until that holds again.
//! - A granted slot is counted in `active` at the moment it is granted, before its waiter wakes,
//!   so a slot is never free and owned at once; the waiter that does not claim it (dropped or
//!   timed out after the grant) releases it.
//!
//! The fast paths never take the lock: admission is a compare-and-swap from a word without
//! `WAITERS`/`CLOSED` and `active < limit` to `active + 1`; release is a compare-and-swap from a
//! word without `WAITERS` to `active - 1`. Because every change to the word is a read-modify-write,
//! a releaser and an enqueuer cannot both miss each other: the enqueuer sets `WAITERS` only with a
//! compare-and-swap that also sees `active >= limit`, so either the release lands first (and the
//! enqueuer takes the slot instead of waiting) or the flag lands first (and the release takes the
//! slow path and hands the slot over).
//!
//! Fairness: once anyone waits, every new arrival queues behind it (the fast path is closed by
//! `WAITERS`), and freed slots go to the head of the queue, so admission is FIFO. Wakers are
//! called after the lock is dropped.
//!
//! Cancelled waiters are marked in place and skipped when they reach the head. To keep memory
//! bounded when many waiters give up while nothing is released, the queue is compacted when dead
//! entries outnumber live ones.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::task::AtomicWaker;

const WAITERS: usize = 0b01;
const CLOSED: usize = 0b10;
const ONE: usize = 0b100;

/// Compact the queue once this many dead entries outnumber the live ones.
const COMPACT_MIN_DEAD: usize = 32;

/// A waiter's state, written only under the queue lock.
pub(crate) const WAITING: u8 = 0;
pub(crate) const GRANTED: u8 = 1;
const CANCELLED: u8 = 2;
pub(crate) const CLOSED_OUT: u8 = 3;

/// One queued caller.
#[derive(Debug)]
pub(crate) struct Node {
    state: AtomicU8,
    waker: AtomicWaker,
}

impl Node {
    /// The state as the waiter sees it; `WAITING`, `GRANTED` or `CLOSED_OUT`.
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// Registers the waiter's waker.
    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }
}

/// What an admission attempt decided.
#[derive(Debug)]
pub(crate) enum Admission {
    /// A slot is held; release it with [`Slots::release`].
    Admitted,
    /// The caller waits in the queue; `queued` counts the waiters including this one.
    Queued { node: Arc<Node>, queued: usize },
    /// The queue was full (`queued` waiters) and refusal is on.
    Refused { queued: usize },
    /// The machine is closed.
    Closed,
}

#[derive(Debug, Default)]
struct Queue {
    entries: VecDeque<Arc<Node>>,
    live: usize,
    dead: usize,
}

/// The admission machine.
#[derive(Debug)]
pub(crate) struct Slots {
    state: AtomicUsize,
    limit: AtomicUsize,
    queue: Mutex<Queue>,
}

/// Whether an operation emptied the queue (the `drain` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drained(pub(crate) bool);

impl Slots {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            state: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
            queue: Mutex::new(Queue::default()),
        }
    }

    pub(crate) fn active(&self) -> usize {
        self.state.load(Ordering::Acquire) / ONE
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    pub(crate) fn queued(&self) -> usize {
        if self.state.load(Ordering::Acquire) & WAITERS == 0 {
            return 0;
        }
        self.lock().live
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The lock guards plain bookkeeping that no panic can leave half-written.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a slot without waiting, if one is free and nobody waits.
    #[inline]
    fn try_fast(&self) -> bool {
        let limit = self.limit.load(Ordering::Acquire);
        let mut current = self.state.load(Ordering::Relaxed);
        while current & (WAITERS | CLOSED) == 0 && current / ONE < limit {
            match self.state.compare_exchange_weak(
                current,
                current + ONE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
        false
    }

    /// Admits, queues or refuses one caller. `refuse_at` is the queue length at which new
    /// callers are refused instead of queued.
    pub(crate) fn admit(&self, refuse_at: Option<usize>) -> Admission {
        if self.try_fast() {
            return Admission::Admitted;
        }
        let mut queue = self.lock();
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            if current & CLOSED != 0 {
                return Admission::Closed;
            }
            if refuse_at.is_some_and(|cap| queue.live >= cap)
                && (current & WAITERS != 0 || current / ONE >= self.limit())
            {
                return Admission::Refused { queued: queue.live };
            }
            if current & WAITERS != 0 {
                break;
            }
            let next = if current / ONE < self.limit() {
                current + ONE
            } else {
                current | WAITERS
            };
            match self
                .state
                .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next & WAITERS == 0 => return Admission::Admitted,
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let node = Arc::new(Node {
            state: AtomicU8::new(WAITING),
            waker: AtomicWaker::new(),
        });
        queue.entries.push_back(Arc::clone(&node));
        queue.live += 1;
        Admission::Queued {
            node,
            queued: queue.live,
        }
    }

    /// Gives back one slot; the head waiter, if any, gets it.
    #[inline]
    pub(crate) fn release(&self) -> Drained {
        let mut current = self.state.load(Ordering::Relaxed);
        while current & WAITERS == 0 {
            match self.state.compare_exchange_weak(
                current,
                current - ONE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Drained(false),
                Err(actual) => current = actual,
            }
        }
        self.release_slow()
    }

    #[cold]
    fn release_slow(&self) -> Drained {
        let mut queue = self.lock();
        self.state.fetch_sub(ONE, Ordering::AcqRel);
        let mut woken = Vec::new();
        let drained = self.grant_locked(&mut queue, &mut woken);
        drop(queue);
        wake_all(woken);
        drained
    }

    /// Grants slots to head waiters while `active < limit`; clears `WAITERS` when the queue
    /// empties. Returns whether it emptied the queue.
    fn grant_locked(&self, queue: &mut Queue, woken: &mut Vec<Arc<Node>>) -> Drained {
        if queue.live == 0 {
            return Drained(false);
        }
        let limit = self.limit();
        while queue.live > 0 && self.active() < limit {
            let Some(node) = queue.entries.pop_front() else {
                break;
            };
            if node.state.load(Ordering::Acquire) == CANCELLED {
                queue.dead -= 1;
                continue;
            }
            self.state.fetch_add(ONE, Ordering::AcqRel);
            node.state.store(GRANTED, Ordering::Release);
            queue.live -= 1;
            woken.push(node);
        }
        self.clear_if_empty(queue)
    }

    fn clear_if_empty(&self, queue: &mut Queue) -> Drained {
        if queue.live == 0 {
            queue.entries = VecDeque::new();
            queue.dead = 0;
            self.state.fetch_and(!WAITERS, Ordering::AcqRel);
            Drained(true)
        } else {
            Drained(false)
        }
    }

    /// A waiter gives up. If its slot was granted meanwhile, the slot is released; otherwise
    /// it leaves the queue.
    pub(crate) fn cancel(&self, node: &Node) -> Drained {
        self.leave(node, true)
    }

    /// The state is read under the lock, so a grant cannot slip between the check and the
    /// change; only the node's owner (`release_granted`) may release a granted slot.
    fn leave(&self, node: &Node, release_granted: bool) -> Drained {
        let mut queue = self.lock();
        match node.state.load(Ordering::Acquire) {
            WAITING => {
                node.state.store(CANCELLED, Ordering::Release);
                queue.live -= 1;
                queue.dead += 1;
                let drained = self.clear_if_empty(&mut queue);
                if !drained.0 && queue.dead > queue.live && queue.dead >= COMPACT_MIN_DEAD {
                    queue
                        .entries
                        .retain(|entry| entry.state.load(Ordering::Acquire) != CANCELLED);
                    queue.dead = 0;
                }
                drained
            }
            GRANTED if release_granted => {
                drop(queue);
                self.release()
            }
            _ => Drained(false),
        }
    }

    /// Takes a waiter out of the queue if it still waits; leaves a granted slot alone.
    pub(crate) fn cancel_waiting(&self, node: &Node) -> Drained {
        self.leave(node, false)
    }

    /// Changes the limit; raising it admits head waiters at once, lowering it only stops new
    /// admissions until enough running calls finish.
    pub(crate) fn set_limit(&self, limit: usize) -> Drained {
        let mut queue = self.lock();
        self.limit.store(limit, Ordering::Release);
        let mut woken = Vec::new();
        let drained = self.grant_locked(&mut queue, &mut woken);
        drop(queue);
        wake_all(woken);
        drained
    }

    /// Closes the machine: every waiter is turned away, no new caller is admitted. Returns
    /// how many waiters were turned away.
    pub(crate) fn close(&self) -> usize {
        let mut queue = self.lock();
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        let mut woken = Vec::with_capacity(queue.live);
        for node in queue.entries.drain(..) {
            if node.state.load(Ordering::Acquire) == WAITING {
                node.state.store(CLOSED_OUT, Ordering::Release);
                woken.push(node);
            }
        }
        let turned_away = queue.live;
        queue.live = 0;
        let _ = self.clear_if_empty(&mut queue);
        drop(queue);
        wake_all(woken);
        turned_away
    }
}

fn wake_all(woken: Vec<Arc<Node>>) {
    for node in woken {
        node.waker.wake();
    }
}
