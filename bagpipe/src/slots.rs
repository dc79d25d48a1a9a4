//! # Implementation details
//!
//! The admission machine: an atomic word for the uncontended path, a mutex-protected FIFO queue
//! of waiter nodes for the contended one.
//!
//! The 64-bit word `state` packs four things: bit 0 (`WAITERS`) is set while the queue holds a
//! live waiter, bit 1 (`CLOSED`) once `close` ran, bits 2..34 count the slots held (`active`),
//! and bits 34..64 count releases modulo 2^30. The release count rides in the word so that the
//! uncontended path keeps statistics without a second atomic operation: `admitted` is
//! `released + active`. When the low count would wrap, the release takes the lock and carries
//! 2^30 into `Queue::released_high`, which readers also read under the lock. The active count
//! holds 2^32 - 1 slots, so limits above that act as 2^32 - 1.
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
//! A queued caller is a [`Seat`]: a `run` future or a pushed call's own task waits on a [`Node`]
//! and its waker; a pushed call without a task of its own is a seat that spawns its task when
//! `wake` finds it granted (see `queued_push`). Either way the machine only writes the state word
//! under the lock and calls `wake` once after it.
//!
//! Cancelled waiters are marked in place and skipped when they reach the head. To keep memory
//! bounded when many waiters give up while nothing is released, the queue is compacted when dead
//! entries outnumber live ones.
//!
//! The atomics and the lock come from `crate::sync`, which swaps in loom's under `--cfg loom`:
//! `tests/loom_slots.rs` compiles this file into a model test that races releases against new
//! callers, `set_limit`, `cancel` and `close`, and checks that no slot leaks, no waiter is
//! stranded and every waiter is woken exactly once.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, PoisonError};

use futures_util::task::AtomicWaker;

use crate::sync::{AtomicU8, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering};

const WAITERS: u64 = 0b01;
const CLOSED: u64 = 0b10;
const ONE: u64 = 0b100;
const ACTIVE_MAX: u64 = u32::MAX as u64;
const RELEASE_SHIFT: u32 = 34;
const RELEASED: u64 = 1 << RELEASE_SHIFT;
const RELEASE_MASK: u64 = !((1 << RELEASE_SHIFT) - 1);
const RELEASE_CARRY: u64 = 1 << (64 - RELEASE_SHIFT);

fn active_of(state: u64) -> u64 {
    (state >> 2) & ACTIVE_MAX
}

/// Compact the queue once this many dead entries outnumber the live ones.
const COMPACT_MIN_DEAD: usize = 32;

/// A waiter's state, written only under the queue lock.
pub(crate) const WAITING: u8 = 0;
pub(crate) const GRANTED: u8 = 1;
pub(crate) const CANCELLED: u8 = 2;
pub(crate) const CLOSED_OUT: u8 = 3;

/// A place in the queue as the admission machine sees it: a state word, written only under
/// the queue lock, and what to do once the place is granted a slot or turned away.
pub(crate) trait Seat: Send + Sync {
    /// `WAITING`, `GRANTED`, `CANCELLED` or `CLOSED_OUT`.
    fn seat(&self) -> &AtomicU8;

    /// Called once, after the queue lock is dropped, when the seat was granted or closed out.
    fn wake(self: Arc<Self>);
}

/// Builds the seat of a caller that has to wait; handed back unused to a caller admitted at
/// once, so that what it carries (a pushed future) is not lost.
pub(crate) trait Enqueue {
    type Seat: Seat + 'static;

    fn enqueue(self) -> Arc<Self::Seat>;
}

/// One queued caller that polls for its slot (a `run` future, or a pushed call's task).
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

impl Seat for Node {
    fn seat(&self) -> &AtomicU8 {
        &self.state
    }

    fn wake(self: Arc<Self>) {
        self.waker.wake();
    }
}

/// Enqueues a plain [`Node`].
#[derive(Debug)]
pub(crate) struct NewNode;

impl Enqueue for NewNode {
    type Seat = Node;

    fn enqueue(self) -> Arc<Node> {
        Arc::new(Node {
            state: AtomicU8::new(WAITING),
            waker: AtomicWaker::new(),
        })
    }
}

/// What an admission attempt decided.
#[derive(Debug)]
pub(crate) enum Admission<E: Enqueue> {
    /// A slot is held; release it with [`Slots::release`]. The seat builder comes back unused.
    Admitted(E),
    /// The caller waits in the queue; `queued` counts the waiters including this one.
    Queued { node: Arc<E::Seat>, queued: usize },
    /// The queue was full (`queued` waiters) and refusal is on.
    Refused { queued: usize },
    /// The machine is closed.
    Closed,
}

#[derive(Default)]
struct Queue {
    entries: VecDeque<Arc<dyn Seat>>,
    live: usize,
    dead: usize,
    released_high: u64,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("live", &self.live)
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

/// The admission machine.
#[derive(Debug)]
pub(crate) struct Slots {
    state: AtomicU64,
    limit: AtomicUsize,
    queue: Mutex<Queue>,
}

/// Whether an operation emptied the queue (the `drain` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drained(pub(crate) bool);

impl Slots {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            state: AtomicU64::new(0),
            limit: AtomicUsize::new(limit),
            queue: Mutex::new(Queue::default()),
        }
    }

    pub(crate) fn active(&self) -> usize {
        usize::try_from(active_of(self.state.load(Ordering::Acquire))).unwrap_or(usize::MAX)
    }

    /// How many slots were released since the start, and how many are held now.
    pub(crate) fn released_and_active(&self) -> (u64, u64) {
        let queue = self.lock();
        let state = self.state.load(Ordering::Acquire);
        (
            queue.released_high + (state >> RELEASE_SHIFT),
            active_of(state),
        )
    }

    /// The limit as the active count can hold it.
    fn effective_limit(&self) -> u64 {
        u64::try_from(self.limit.load(Ordering::Acquire))
            .unwrap_or(ACTIVE_MAX)
            .min(ACTIVE_MAX)
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
    pub(crate) fn try_fast(&self) -> bool {
        let limit = self.effective_limit();
        let mut current = self.state.load(Ordering::Relaxed);
        while current & (WAITERS | CLOSED) == 0 && active_of(current) < limit {
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
    pub(crate) fn admit<E: Enqueue>(&self, refuse_at: Option<usize>, seat: E) -> Admission<E> {
        if self.try_fast() {
            return Admission::Admitted(seat);
        }
        let mut queue = self.lock();
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            if current & CLOSED != 0 {
                return Admission::Closed;
            }
            if refuse_at.is_some_and(|cap| queue.live >= cap)
                && (current & WAITERS != 0 || active_of(current) >= self.effective_limit())
            {
                return Admission::Refused { queued: queue.live };
            }
            if current & WAITERS != 0 {
                break;
            }
            let next = if active_of(current) < self.effective_limit() {
                current + ONE
            } else {
                current | WAITERS
            };
            match self
                .state
                .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next & WAITERS == 0 => return Admission::Admitted(seat),
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let node = seat.enqueue();
        queue.entries.push_back(Arc::clone(&node) as Arc<dyn Seat>);
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
        while current & WAITERS == 0 && current & RELEASE_MASK != RELEASE_MASK {
            match self.state.compare_exchange_weak(
                current,
                current - ONE + RELEASED,
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
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let wraps = current & RELEASE_MASK == RELEASE_MASK;
            let next = if wraps {
                (current - ONE) & !RELEASE_MASK
            } else {
                current - ONE + RELEASED
            };
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if wraps {
                        queue.released_high += RELEASE_CARRY;
                    }
                    break;
                }
                Err(actual) => current = actual,
            }
        }
        let mut woken = Vec::new();
        let drained = self.grant_locked(&mut queue, &mut woken);
        drop(queue);
        wake_all(woken);
        drained
    }

    /// Grants slots to head waiters while `active < limit`; clears `WAITERS` when the queue
    /// empties. Returns whether it emptied the queue.
    fn grant_locked(&self, queue: &mut Queue, woken: &mut Vec<Arc<dyn Seat>>) -> Drained {
        if queue.live == 0 {
            return Drained(false);
        }
        let limit = self.effective_limit();
        while queue.live > 0 && active_of(self.state.load(Ordering::Acquire)) < limit {
            let Some(node) = queue.entries.pop_front() else {
                break;
            };
            if node.seat().load(Ordering::Acquire) == CANCELLED {
                queue.dead -= 1;
                continue;
            }
            self.state.fetch_add(ONE, Ordering::AcqRel);
            node.seat().store(GRANTED, Ordering::Release);
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
    pub(crate) fn cancel(&self, seat: &AtomicU8) -> Drained {
        self.leave(seat, true)
    }

    /// The state is read under the lock, so a grant cannot slip between the check and the
    /// change; only the node's owner (`release_granted`) may release a granted slot.
    fn leave(&self, seat: &AtomicU8, release_granted: bool) -> Drained {
        let mut queue = self.lock();
        match seat.load(Ordering::Acquire) {
            WAITING => {
                seat.store(CANCELLED, Ordering::Release);
                queue.live -= 1;
                queue.dead += 1;
                let drained = self.clear_if_empty(&mut queue);
                if !drained.0 && queue.dead > queue.live && queue.dead >= COMPACT_MIN_DEAD {
                    queue
                        .entries
                        .retain(|entry| entry.seat().load(Ordering::Acquire) != CANCELLED);
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
    pub(crate) fn cancel_waiting(&self, seat: &AtomicU8) -> Drained {
        self.leave(seat, false)
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
            if node.seat().load(Ordering::Acquire) == WAITING {
                node.seat().store(CLOSED_OUT, Ordering::Release);
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

fn wake_all(woken: Vec<Arc<dyn Seat>>) {
    for node in woken {
        node.wake();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_release_count_carries_past_its_field() {
        let slots = Slots::new(2);
        let almost = (1u64 << (64 - RELEASE_SHIFT)) - 1;
        slots
            .state
            .store(almost << RELEASE_SHIFT, Ordering::Release);
        assert_eq!(slots.released_and_active(), (almost, 0));
        assert!(slots.try_fast());
        assert!(slots.try_fast());
        assert_eq!(slots.released_and_active(), (almost, 2));
        let _ = slots.release();
        assert_eq!(slots.released_and_active(), (almost + 1, 1));
        let _ = slots.release();
        assert_eq!(slots.released_and_active(), (almost + 2, 0));
        assert_eq!(slots.active(), 0);
    }

    #[test]
    fn a_limit_beyond_the_active_field_acts_as_its_maximum() {
        let slots = Slots::new(usize::MAX);
        assert_eq!(slots.effective_limit(), ACTIVE_MAX);
        assert!(slots.try_fast());
        assert_eq!(slots.active(), 1);
    }
}
