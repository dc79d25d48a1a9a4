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
//! A queued caller is a [`Node`]: its state word and a way to tell its owner. The machine only
//! writes the state word under the lock and tells the owner once after it; every waiter reads
//! its fate from the node. The node also carries an opaque payload, so that a pushed call
//! waiting without a task of its own costs one allocation: its future lives in its node, and
//! being told spawns the task (see `launch`). The machine never looks at the payload.
//!
//! Cancelled waiters are marked in place and skipped when they reach the head. To keep memory
//! bounded when many waiters give up while nothing is released, the queue is compacted when dead
//! entries outnumber live ones.
//!
//! The atomics and the lock come from `crate::sync`, which swaps in loom's under
//! `--cfg bagpipe_loom`: the models in `src/tests/loom_slots.rs` race releases against new
//! callers, `set_limit`, `leave` and `close` on this machine, and those in
//! `src/tests/loom_handoff.rs` do the same through the waiting future and the permits, checking
//! that no slot leaks, no waiter is stranded and every waiter is woken exactly once.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::time::Instant;

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
/// Turned away by the queue discipline's deadline (CoDel) before it got a slot.
pub(crate) const SHED: u8 = 4;

/// How the queue picks, and sheds, waiters under overload (see `crate::QueueDiscipline`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Discipline {
    /// Serve the newest waiter first while the oldest has waited longer than this.
    pub(crate) lifo_after: Option<Duration>,
    /// Shed waiters that waited longer than `target` once the waiters granted over a whole
    /// `interval` all had (CoDel's target and interval).
    pub(crate) codel: Option<(Duration, Duration)>,
}

impl Discipline {
    fn timed(&self) -> bool {
        self.lifo_after.is_some() || self.codel.is_some()
    }
}

/// What a queued node carries besides its state, as the queue sees it.
pub(crate) type AnyPayload = dyn Any + Send + Sync;

/// Tells a node's owner, once, that the machine decided its place.
pub(crate) type Notify = fn(&Node);

/// One place in the queue: its state (written only under the queue lock), how to tell its owner
/// once, after the lock is dropped, that the place was granted a slot or closed out, and what
/// the owner keeps with it.
///
/// A waiting future's payload is the [`AtomicWaker`] its task registers, and it is told through
/// [`wake_registered`]; a parked push keeps its future in the payload and is told through its
/// own function (see `launch`).
pub(crate) struct Node<P: ?Sized = AnyPayload> {
    state: AtomicU8,
    notify: Notify,
    /// When it joined the queue, if a queue discipline needs to know.
    enqueued: Option<Instant>,
    payload: P,
}

impl<P> Node<P> {
    fn new(payload: P, notify: Notify, enqueued: Option<Instant>) -> Self {
        Self {
            state: AtomicU8::new(WAITING),
            notify,
            enqueued,
            payload,
        }
    }
}

impl<P: ?Sized> Node<P> {
    /// `WAITING`, `GRANTED`, `CANCELLED`, `CLOSED_OUT` or `SHED`.
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    /// What the owner keeps with its place.
    pub(crate) fn payload(&self) -> &P {
        &self.payload
    }
}

impl Node<AtomicWaker> {
    /// Ready with `GRANTED`, `CLOSED_OUT` or `SHED` once the machine decided; otherwise registers
    /// `waker` to be woken when it does. The state is read again after the registration, so a
    /// decision that lands in between is not missed.
    pub(crate) fn poll_decided(&self, waker: &Waker) -> Poll<u8> {
        let state = self.state();
        if state == GRANTED || state == CLOSED_OUT || state == SHED {
            return Poll::Ready(state);
        }
        self.payload.register(waker);
        match self.state() {
            state @ (GRANTED | CLOSED_OUT | SHED) => Poll::Ready(state),
            _ => Poll::Pending,
        }
    }

    /// Forgets the registered waker, which a node that left the queue will never wake.
    pub(crate) fn forget_waker(&self) {
        drop(self.payload.take());
    }
}

/// How the machine tells a waiting future: through the waker its task registered.
pub(crate) fn wake_registered(node: &Node) {
    if let Some(waker) = node.payload().downcast_ref::<AtomicWaker>() {
        waker.wake();
    }
}

impl<P: ?Sized> fmt::Debug for Node<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// How a node left the queue when its owner gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Left {
    /// It was still waiting and is now cancelled; it never held a slot.
    Waiting(Drained),
    /// It had been granted a slot, which its owner now holds and must release.
    Granted,
    /// It had been closed out, or had left before.
    Gone,
}

/// What an admission attempt decided.
#[derive(Debug)]
pub(crate) enum Admission<P> {
    /// A slot is held; release it with [`Slots::release`]. The payload comes back unused.
    Admitted(P),
    /// The caller waits in the queue; `queued` counts the waiters including this one.
    Queued { node: Arc<Node<P>>, queued: usize },
    /// The queue was full (`queued` waiters) and refusal is on.
    Refused { queued: usize },
    /// The machine is closed.
    Closed,
}

#[derive(Default)]
struct Queue {
    entries: VecDeque<Arc<Node>>,
    live: usize,
    dead: usize,
    released_high: u64,
    /// Since when every waiter granted has waited longer than CoDel's target.
    above_target_since: Option<Instant>,
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
    discipline: Discipline,
}

/// Whether an operation emptied the queue (the `drain` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drained(pub(crate) bool);

impl Slots {
    #[cfg(test)]
    pub(crate) fn new(limit: usize) -> Self {
        Self::with_discipline(limit, Discipline::default())
    }

    pub(crate) fn with_discipline(limit: usize, discipline: Discipline) -> Self {
        Self {
            state: AtomicU64::new(0),
            limit: AtomicUsize::new(limit),
            queue: Mutex::new(Queue::default()),
            discipline,
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
    #[inline]
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
    pub(crate) fn admit<P: Send + Sync + 'static>(
        &self,
        refuse_at: Option<usize>,
        payload: P,
        notify: Notify,
    ) -> Admission<P> {
        if self.try_fast() {
            return Admission::Admitted(payload);
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
                Ok(_) if next & WAITERS == 0 => return Admission::Admitted(payload),
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let enqueued = self.discipline.timed().then(Instant::now);
        let node = Arc::new(Node::new(payload, notify, enqueued));
        queue.entries.push_back(Arc::clone(&node) as Arc<Node>);
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
    fn grant_locked(&self, queue: &mut Queue, woken: &mut Vec<Arc<Node>>) -> Drained {
        if queue.live == 0 {
            return Drained(false);
        }
        let limit = self.effective_limit();
        let now = self.discipline.timed().then(Instant::now);
        while queue.live > 0 && active_of(self.state.load(Ordering::Acquire)) < limit {
            let Some(node) = self.next_waiter(queue, now) else {
                break;
            };
            if node.state() == CANCELLED {
                queue.dead -= 1;
                continue;
            }
            if self.sheds(queue, &node, now) {
                node.state.store(SHED, Ordering::Release);
                queue.live -= 1;
                woken.push(node);
                continue;
            }
            self.state.fetch_add(ONE, Ordering::AcqRel);
            node.state.store(GRANTED, Ordering::Release);
            queue.live -= 1;
            woken.push(node);
        }
        self.clear_if_empty(queue)
    }

    /// The waiter to serve next: the oldest, or under adaptive LIFO the newest while the
    /// oldest has waited longer than the threshold. Cancelled entries come out too (the caller
    /// skips them).
    fn next_waiter(&self, queue: &mut Queue, now: Option<Instant>) -> Option<Arc<Node>> {
        let (Some(now), Some(after)) = (now, self.discipline.lifo_after) else {
            return queue.entries.pop_front();
        };
        while queue
            .entries
            .front()
            .is_some_and(|node| node.state() == CANCELLED)
        {
            queue.entries.pop_front();
            queue.dead -= 1;
        }
        let oldest_waited = queue
            .entries
            .front()
            .and_then(|node| node.enqueued)
            .map_or(Duration::ZERO, |enqueued| {
                now.saturating_duration_since(enqueued)
            });
        if oldest_waited > after {
            queue.entries.pop_back()
        } else {
            queue.entries.pop_front()
        }
    }

    /// Whether CoDel sheds `node` instead of granting it: it waited longer than the target,
    /// and so did every waiter granted for a whole interval.
    fn sheds(&self, queue: &mut Queue, node: &Node, now: Option<Instant>) -> bool {
        let (Some(now), Some((target, interval))) = (now, self.discipline.codel) else {
            return false;
        };
        let waited = node.enqueued.map_or(Duration::ZERO, |enqueued| {
            now.saturating_duration_since(enqueued)
        });
        if waited <= target {
            queue.above_target_since = None;
            return false;
        }
        let since = *queue.above_target_since.get_or_insert(now);
        now.saturating_duration_since(since) >= interval
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

    /// A waiter gives up. If it still waits it leaves the queue; if its slot was granted meanwhile, the caller now holds that slot and must release it.
    /// The state is read under the lock, so a grant cannot slip between the check and the
    /// change.
    pub(crate) fn leave<P: ?Sized>(&self, node: &Node<P>) -> Left {
        let mut queue = self.lock();
        let left = match node.state() {
            WAITING => {
                node.state.store(CANCELLED, Ordering::Release);
                queue.live -= 1;
                queue.dead += 1;
                let drained = self.clear_if_empty(&mut queue);
                if !drained.0 && queue.dead > queue.live && queue.dead >= COMPACT_MIN_DEAD {
                    queue.entries.retain(|entry| entry.state() != CANCELLED);
                    queue.dead = 0;
                }
                Left::Waiting(drained)
            }
            GRANTED => Left::Granted,
            _ => Left::Gone,
        };
        drop(queue);
        left
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
            if node.state() == WAITING {
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
        (node.notify)(&node);
    }
}

#[cfg(all(test, not(bagpipe_loom)))]
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
