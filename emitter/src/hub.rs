//! # Implementation details
//!
//! The hub behind [`Emitter::subscribe`](crate::Emitter::subscribe) and
//! [`EventHandle`](crate::EventHandle): one event's payloads, stored once for all of its
//! subscriptions in a ring, each subscription's reading position, and the wake-ups.
//!
//! Lock order: the registry's lock, then a ring's (an emit by name stores under both); nothing
//! takes them the other way round. Wakers are woken, and evicted payloads dropped, after the
//! ring's lock is released.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::list::{Publish, Stored, Subscriber};
use crate::registry::Inner;
use crate::{Error, EventName};

/// The payloads of one event, stored once for all of its subscriptions (a broadcast ring, as in
/// tokio's broadcast channel), and each subscription's reading position.
///
/// Invariants: `items` holds the payloads numbered `head - items.len() .. head`; it keeps the
/// `retain` newest, where `retain` is the largest capacity among the subscriptions, so every
/// subscription's unread window (at most its own capacity) is still in the ring. A
/// subscription that stops receiving (an `"error"`, or its listener removed) copies its unread
/// window out, so later payloads of the others cannot push it out.
pub(crate) struct Hub<T> {
    ring: Mutex<Ring<T>>,
}

pub(crate) struct Ring<T> {
    items: VecDeque<T>,
    head: u64,
    retain: usize,
    readers: Vec<Option<Reader<T>>>,
    free: Vec<usize>,
    next_id: u64,
    waiting: usize,
    /// Whether the event has these subscriptions and nothing else (kept by the registry): an
    /// [`EventHandle`](crate::EventHandle) emit may then store here without the registry.
    direct: bool,
}

/// Which reader a subscription is: a slot, and the id of the reader in it. Slots are reused,
/// so a late call for a departed subscription (a stale snapshot's listener) must not reach the
/// subscription now in its slot.
#[derive(Clone, Copy)]
pub(crate) struct Seat {
    slot: usize,
    id: u64,
}

/// Where a reader is, shared by its subscription (whose common read goes straight to it) and
/// its slot in the ring (for [`Hub::end`], which stops the reader from elsewhere). Touched only
/// under the ring's lock, so relaxed accesses suffice.
#[derive(Default)]
pub(crate) struct Position {
    /// The number of the next payload to read.
    cursor: AtomicU64,
    /// Whether the reader stopped receiving ([`Reader::ended`] is set).
    ended: AtomicBool,
}

struct Reader<T> {
    id: u64,
    position: Arc<Position>,
    capacity: usize,
    /// Payloads skipped and not yet reported. Zero whenever the ring is unlocked, unless the
    /// reader has ended: a read that finds some reports them at once.
    missed: u64,
    ended: Option<Ended<T>>,
    finished: bool,
    waker: Option<Waker>,
}

/// What is left to read once a subscription stopped receiving.
struct Ended<T> {
    rest: VecDeque<T>,
    error: Option<T>,
}

impl<T> Reader<T> {
    /// Skips what no longer fits in the reader's capacity, counting it as missed.
    fn catch_up(&mut self, head: u64) {
        let unread = head - self.cursor();
        let capacity = self.capacity as u64;
        if unread > capacity {
            self.missed += unread - capacity;
            self.set_cursor(head - capacity);
        }
    }

    fn cursor(&self) -> u64 {
        self.position.cursor.load(Ordering::Relaxed)
    }

    fn set_cursor(&self, cursor: u64) {
        self.position.cursor.store(cursor, Ordering::Relaxed);
    }
}

impl<T> Ring<T> {
    fn seated(&self, seat: Seat) -> Option<&Reader<T>> {
        self.readers[seat.slot]
            .as_ref()
            .filter(|reader| reader.id == seat.id)
    }

    fn seated_mut(&mut self, seat: Seat) -> Option<&mut Reader<T>> {
        self.readers[seat.slot]
            .as_mut()
            .filter(|reader| reader.id == seat.id)
    }

    /// The reader of a live subscription (present from `join` until `leave`).
    fn reader(&mut self, seat: Seat) -> &mut Reader<T> {
        self.seated_mut(seat)
            .expect("a subscription's reader lives until it is dropped")
    }

    fn take_waker(&mut self, seat: Seat) -> Option<Waker> {
        let waker = self.reader(seat).waker.take();
        if waker.is_some() {
            self.waiting -= 1;
        }
        waker
    }

    /// Takes up to [`WAKE_BATCH`] registered wakers; `true` if more are left.
    fn take_wakers(&mut self, batch: &mut [Option<Waker>; WAKE_BATCH]) -> bool {
        let mut taken = 0;
        for waker in self
            .readers
            .iter_mut()
            .flatten()
            .filter_map(|r| r.waker.take())
        {
            batch[taken] = Some(waker);
            taken += 1;
            if taken == WAKE_BATCH {
                break;
            }
        }
        self.waiting -= taken;
        self.waiting > 0
    }

    fn push(&mut self, payload: T) -> Stored<T> {
        self.items.push_back(payload);
        self.head += 1;
        let evicted = if self.items.len() > self.retain {
            self.items.pop_front()
        } else {
            None
        };
        Stored {
            evicted,
            waiting: self.waiting > 0,
        }
    }
}

impl<T: Clone> Ring<T> {
    /// Payload number `seq`, which the invariants keep inside the ring.
    fn item(&self, seq: u64) -> T {
        let first = self.head - self.items.len() as u64;
        self.items[(seq - first) as usize].clone()
    }
}

impl<T> Hub<T> {
    fn lock(&self) -> MutexGuard<'_, Ring<T>> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn leave(&self, seat: Seat) {
        let released = {
            let mut ring = self.lock();
            if ring.seated(seat).is_none() {
                return;
            }
            let released = ring.readers[seat.slot].take();
            if released
                .as_ref()
                .is_some_and(|reader| reader.waker.is_some())
            {
                ring.waiting -= 1;
            }
            ring.free.push(seat.slot);
            let retain = ring
                .readers
                .iter()
                .flatten()
                .map(|r| r.capacity)
                .max()
                .unwrap_or(0);
            ring.retain = retain;
            let excess = ring.items.len().saturating_sub(retain);
            let dropped: Vec<T> = ring.items.drain(..excess).collect();
            (released, dropped)
        };
        drop(released);
    }

    pub(crate) fn is_finished(&self, seat: Seat) -> bool {
        self.lock()
            .seated(seat)
            .is_none_or(|reader| reader.finished)
    }

    pub(crate) fn buffered(&self, seat: Seat) -> usize {
        let ring = self.lock();
        let Some(reader) = ring.seated(seat) else {
            return 0;
        };
        match &reader.ended {
            Some(ended) => ended.rest.len(),
            None => (ring.head - reader.cursor()).min(reader.capacity as u64) as usize,
        }
    }

    /// Stores the payload if the event has only subscriptions (an
    /// [`EventHandle`](crate::EventHandle)'s direct emit); hands it back otherwise. The evicted
    /// payload's drop and the wake-ups run after the lock is released.
    pub(crate) fn store_direct(&self, payload: T) -> Result<(), T> {
        let Stored { evicted, waiting } = {
            let mut ring = self.lock();
            if !ring.direct {
                return Err(payload);
            }
            ring.push(payload)
        };
        drop(evicted);
        if waiting {
            self.wake_waiting();
        }
        Ok(())
    }

    /// Whether an emit through a handle would store here directly (for tests of the mark).
    #[cfg(test)]
    pub(crate) fn is_direct(&self) -> bool {
        self.lock().direct
    }

    /// Wakes the subscriptions waiting for a payload, a batch at a time. Kept out of line: a
    /// batch on the stack costs its initialisation, which an emit that finds nobody waiting
    /// should not pay.
    #[cold]
    #[inline(never)]
    fn wake_waiting(&self) {
        loop {
            let mut batch: [Option<Waker>; WAKE_BATCH] = Default::default();
            let more = self.lock().take_wakers(&mut batch);
            wake_batch(&mut batch);
            if !more {
                return;
            }
        }
    }
}

impl<T: Clone> Hub<T> {
    fn new() -> Self {
        Self {
            ring: Mutex::new(Ring {
                items: VecDeque::new(),
                head: 0,
                retain: 0,
                readers: Vec::new(),
                free: Vec::new(),
                next_id: 0,
                waiting: 0,
                direct: false,
            }),
        }
    }

    pub(crate) fn join(&self, capacity: usize) -> (Seat, Arc<Position>) {
        let mut ring = self.lock();
        ring.retain = ring.retain.max(capacity);
        let id = ring.next_id;
        ring.next_id += 1;
        let position = Arc::new(Position::default());
        position.cursor.store(ring.head, Ordering::Relaxed);
        let reader = Reader {
            id,
            position: Arc::clone(&position),
            capacity,
            missed: 0,
            ended: None,
            finished: false,
            waker: None,
        };
        let slot = match ring.free.pop() {
            Some(slot) => {
                ring.readers[slot] = Some(reader);
                slot
            }
            None => {
                ring.readers.push(Some(reader));
                ring.readers.len() - 1
            }
        };
        (Seat { slot, id }, position)
    }

    /// Stops a reader receiving: an `"error"` (with the payload) or its listener removed
    /// (`None`). Its unread window is copied out of the ring.
    pub(crate) fn end(&self, seat: Seat, error: Option<T>) {
        let waker = {
            let mut ring = self.lock();
            let head = ring.head;
            let Some(reader) = ring.seated_mut(seat) else {
                return;
            };
            if reader.ended.is_some() || reader.finished {
                return;
            }
            reader.catch_up(head);
            reader.position.ended.store(true, Ordering::Relaxed);
            let from = reader.cursor();
            let rest = (from..head).map(|seq| ring.item(seq)).collect();
            ring.reader(seat).ended = Some(Ended { rest, error });
            ring.take_waker(seat)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next payload in the common case (still receiving, nothing skipped, a payload
    /// waiting), read through the subscription's own position without looking up its reader;
    /// otherwise the locked ring, for [`poll_read`](Self::poll_read).
    pub(crate) fn next_ready(
        &self,
        position: &Position,
        capacity: usize,
    ) -> Result<T, MutexGuard<'_, Ring<T>>> {
        let ring = self.lock();
        let cursor = position.cursor.load(Ordering::Relaxed);
        let unread = ring.head - cursor;
        if unread == 0 || unread > capacity as u64 || position.ended.load(Ordering::Relaxed) {
            return Err(ring);
        }
        position.cursor.store(cursor + 1, Ordering::Relaxed);
        Ok(ring.item(cursor))
    }

    /// Every case of a read, on the locked ring: an ended subscription, missed payloads, the
    /// next payload, or nothing to read yet. Out of line, so that the common case stays small.
    #[inline(never)]
    pub(crate) fn poll_read(
        mut ring: MutexGuard<'_, Ring<T>>,
        seat: Seat,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<T, Error<T>>>> {
        let head = ring.head;
        let reader = ring.reader(seat);
        if reader.finished {
            return Poll::Ready(None);
        }
        if let Some(ended) = &mut reader.ended {
            if reader.missed > 0 {
                let missed = std::mem::take(&mut reader.missed);
                return Poll::Ready(Some(Err(Error::Lagged { missed })));
            }
            if let Some(item) = ended.rest.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            let error = ended.error.take();
            reader.finished = true;
            return Poll::Ready(error.map(|error| Err(Error::ErrorEvent(error))));
        }
        reader.catch_up(head);
        if reader.missed > 0 {
            let missed = std::mem::take(&mut reader.missed);
            return Poll::Ready(Some(Err(Error::Lagged { missed })));
        }
        let cursor = reader.cursor();
        if cursor < head {
            reader.set_cursor(cursor + 1);
            return Poll::Ready(Some(Ok(ring.item(cursor))));
        }
        let had_waker = reader.waker.is_some();
        if !reader
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            reader.waker = Some(cx.waker().clone());
        }
        if !had_waker {
            ring.waiting += 1;
        }
        Poll::Pending
    }
}

/// Wakers woken per batch: collected under the lock into an array on the stack, so that an
/// emit that finds subscriptions waiting does not allocate.
const WAKE_BATCH: usize = 16;

fn wake_batch(batch: &mut [Option<Waker>; WAKE_BATCH]) {
    for waker in batch.iter_mut().filter_map(Option::take) {
        waker.wake();
    }
}

impl<T: Clone + Send> Publish<T> for Hub<T> {
    fn publish(&self, payload: &T) {
        let Stored { evicted, waiting } = self.store(payload.clone());
        // The evicted payload's drop and the wake-ups run after the lock is released.
        drop(evicted);
        if waiting {
            Hub::wake_waiting(self);
        }
    }

    fn store(&self, payload: T) -> Stored<T> {
        self.lock().push(payload)
    }

    fn wake_waiting(&self) {
        Hub::wake_waiting(self);
    }

    fn set_direct(&self, direct: bool) {
        self.lock().direct = direct;
    }
}

/// The registration side of one subscription. Dropped when the registration is removed (by
/// anyone, or with the emitter), which ends the subscription after its unread payloads.
pub(crate) struct Link<T: Clone> {
    pub(crate) hub: Arc<Hub<T>>,
    pub(crate) seat: Seat,
}

impl<T: Clone + Send + 'static> Subscriber<T> for Link<T> {
    fn hub(&self) -> Arc<dyn Publish<T>> {
        self.hub.clone()
    }
}

impl<T: Clone> Drop for Link<T> {
    fn drop(&mut self) {
        self.hub.end(self.seat, None);
    }
}

/// The hub that the subscriptions of `name` share, made if it does not exist yet.
pub(crate) fn shared_hub<T: Clone + Send + 'static>(
    inner: &Inner<T>,
    name: &EventName,
) -> Arc<Hub<T>> {
    inner.hub(name, Hub::new)
}
