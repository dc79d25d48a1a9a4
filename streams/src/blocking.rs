//! # Implementation details
//!
//! The read-ahead engine behind file streams and
//! [`ReadStream::from_blocking_reader`](crate::ReadStream::from_blocking_reader): a job on
//! tokio's blocking pool reads with plain `std::io::Read` calls straight into recycled chunk
//! buffers and hands the chunks to the stream over a `tokio::sync::mpsc` channel of capacity 1.
//!
//! Why: `tokio::fs::File` runs one `spawn_blocking` job per read and copies every byte once more
//! from its own buffer into the caller's. Here one job keeps reading as long as the consumer
//! keeps up, and the bytes read are the bytes handed out.
//!
//! Invariants:
//! - The job takes a channel permit *before* each read, so it reads only while the channel is
//!   empty: at most one chunk (at most `high_water_mark` bytes) waits for the consumer. That is
//!   the whole read-ahead, however long the consumer stays away.
//! - A job that waits longer than [`IDLE`] for a permit gives its thread back to the pool: it
//!   parks itself (reader, buffers, position) in the stream's `parked` slot and returns. The
//!   stream resumes it (a new `spawn_blocking`) when a poll finds the channel empty. So a slow
//!   or stalled consumer holds no blocking thread; only streams being read do.
//! - No lost wake-up between parking and resuming: the job stores itself in the slot and *then*
//!   checks the channel; the stream takes a chunk from the channel and *then* (on its next poll
//!   that finds the channel empty) checks the slot. Whichever comes second sees the other's
//!   step, both under the slot's mutex or the channel's own synchronisation.
//! - The hand-over is where the time goes: the job may not start read k+2 before the consumer
//!   has taken chunk k+1, so a consumer asleep in `Pending` would put its wake-up latency on
//!   every read. Both sides therefore wait a few microseconds actively first: the job for a
//!   permit (spin, then `yield_now`, then park), the stream for the chunk being read (about twice
//!   as long as reads have been taking, within [`CONSUMER_SPIN`] and [`CONSUMER_SPIN_MAX`],
//!   without registering its waker, so the job's `send` wakes nobody). A
//!   stream whose spins keep missing (a slow source) stops spinning for a while, so it wastes
//!   at most a few spins per [`CONSUMER_SPIN_PAUSE`] polls.
//! - The slot is owned by the stream; the job holds only a `Weak` to it, so a parked job is
//!   dropped (and its file closed) with the stream, and there is no reference cycle.
//! - The job ends when the data ends, after the first error (sent as the last item), or as soon
//!   as the receiver is gone: a dropped stream stops reading at the latest after the read in
//!   progress, and the reader is dropped on the blocking thread.

use std::future::Future;
use std::io::{self, Read};
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::mpsc::{self, Permit, Receiver, Sender};

use crate::Error;
use crate::recycle::Recycler;

/// Tries for a channel slot this many times before parking: the first half with a few
/// `spin_loop` hints in between (the consumer usually takes the chunk within a microsecond or
/// two), the second half yielding the CPU in between.
const SPINS: usize = 512;

/// The fewest tries before parking, for a consumer that is slow between chunks.
const MIN_SPINS: usize = 8;

/// The shortest time a poll that finds the channel empty waits for the chunk being read before
/// returning `Pending`. The budget adapts: twice the last wait that ended within it, doubled
/// after one that did not, up to [`CONSUMER_SPIN_MAX`] (a 64 KiB read from the page cache takes
/// about 6 µs, a 1 MiB read about 60). Real time: a CPU budget, not a timer.
const CONSUMER_SPIN: Duration = Duration::from_micros(20);

/// The longest a poll spins. With the budget fixed at 20 µs, nearly every 1 MiB chunk missed
/// the spin and paid for the consumer's wake-up.
const CONSUMER_SPIN_MAX: Duration = Duration::from_micros(200);

/// Channel checks between two looks at the clock (a clock read costs more than a check).
const CLOCK_EVERY: u32 = 16;

/// After this many spins in a row that found nothing (a slow source), the stream stops
/// spinning for a while.
const CONSUMER_SPIN_MISSES: u32 = 8;

/// Polls without spinning after [`CONSUMER_SPIN_MISSES`]; then one spin is tried again (a miss
/// pauses again at once, a hit resumes spinning).
const CONSUMER_SPIN_PAUSE: u32 = 64;

/// How long a job waits for the consumer before giving its blocking thread back. Long enough
/// that a consumer doing real work between chunks rarely causes a respawn (which costs one
/// `spawn_blocking`), short enough that stalled streams do not hold threads for long. Real time
/// (`std::time::Instant`): the job runs on a plain thread, outside tokio's clock.
const IDLE: Duration = Duration::from_millis(10);

type Item = Result<Bytes, Error>;

/// A parked job, ready to be put back on the blocking pool.
type Resume = Box<dyn FnOnce() + Send>;

/// Where a job that stopped waiting parks itself.
type Slot = Mutex<Option<Resume>>;

/// The stream's end of the engine.
pub(crate) struct Ahead {
    rx: Receiver<Item>,
    parked: Arc<Slot>,
    /// Spins in a row that ran out of budget; at [`CONSUMER_SPIN_MISSES`] the stream stops
    /// spinning for [`CONSUMER_SPIN_PAUSE`] polls, then tries once more.
    spin_misses: u32,
    /// Polls left before spinning is tried again.
    spin_paused: u32,
    /// How long the next spin may last: twice the last wait that a spin saw end, doubled after
    /// a spin that ran out, within [`CONSUMER_SPIN`] and [`CONSUMER_SPIN_MAX`].
    spin_budget: Duration,
}

/// The job's end of the engine.
pub(crate) struct Link {
    tx: Sender<Item>,
    parked: Weak<Slot>,
    handle: Handle,
}

impl Ahead {
    /// A new engine: the stream's end and the job's end.
    ///
    /// Panics outside a tokio runtime (the job needs its blocking pool).
    pub(crate) fn new() -> (Self, Link) {
        let (tx, rx) = mpsc::channel(1);
        let parked = Arc::new(Slot::default());
        let link = Link {
            tx,
            parked: Arc::downgrade(&parked),
            handle: Handle::current(),
        };
        (
            Self {
                rx,
                parked,
                spin_misses: 0,
                spin_paused: 0,
                spin_budget: CONSUMER_SPIN,
            },
            link,
        )
    }

    /// The next chunk; resumes a parked job when the channel is empty.
    ///
    /// The waker is registered only when the chunk is not there after a short spin: a
    /// registered waker makes the job's `send` wake this task, which costs the job a syscall
    /// when it comes from another thread, on its path to the next read.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        if let Some(ready) = self.try_recv() {
            return Poll::Ready(ready);
        }
        let resume = self
            .parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(resume) = resume {
            resume();
        } else if self.spin_paused > 0 {
            self.spin_paused -= 1;
        } else if let Poll::Ready(ready) = self.spin() {
            return Poll::Ready(ready);
        }
        self.rx.poll_recv(cx)
    }

    /// The next item if the channel holds one, `Some(None)` when the job is gone.
    fn try_recv(&mut self) -> Option<Option<Item>> {
        match self.rx.try_recv() {
            Ok(item) => Some(Some(item)),
            Err(TryRecvError::Disconnected) => Some(None),
            Err(TryRecvError::Empty) => None,
        }
    }

    /// The channel is empty and the job is reading the next chunk right now: waits for it a
    /// few microseconds instead of going to sleep, which would put the wake-up latency on the
    /// reader's path (it may not start the following read until this chunk is taken).
    fn spin(&mut self) -> Poll<Option<Item>> {
        let start = Instant::now();
        loop {
            for _ in 0..CLOCK_EVERY {
                for _ in 0..4 {
                    std::hint::spin_loop();
                }
                if let Some(ready) = self.try_recv() {
                    self.spin_misses = 0;
                    self.spin_budget =
                        (start.elapsed() * 2).clamp(CONSUMER_SPIN, CONSUMER_SPIN_MAX);
                    return Poll::Ready(ready);
                }
            }
            if start.elapsed() >= self.spin_budget {
                break;
            }
        }
        self.spin_budget = (self.spin_budget * 2).min(CONSUMER_SPIN_MAX);
        self.spin_misses += 1;
        if self.spin_misses >= CONSUMER_SPIN_MISSES {
            self.spin_misses -= 1;
            self.spin_paused = CONSUMER_SPIN_PAUSE;
        }
        Poll::Pending
    }
}

impl Link {
    /// Runs `job` on the blocking pool.
    pub(crate) fn spawn<R, F>(job: Job<R, F>)
    where
        R: Read + Send + 'static,
        F: Fn(io::Error) -> Error + Send + 'static,
    {
        let handle = job.link.handle.clone();
        handle.spawn_blocking(move || job.run());
    }
}

/// One stream's reader and everything needed to go on reading it.
pub(crate) struct Job<R, F: Fn(io::Error) -> Error> {
    reader: R,
    pool: Recycler,
    link: Link,
    /// Bytes to read and drop before the first chunk (`start` on a reader that cannot seek).
    skip: u64,
    /// The source's byte offset of the next read (where reads land in their buffers depends
    /// on it, see `recycle.rs`).
    position: u64,
    /// Bytes left in the range, `None` for "to the end".
    remaining: Option<u64>,
    /// Turns an I/O error into the crate error naming the source.
    map_err: F,
    /// The stream has seen its end (data, error, or its own drop); set before a normal drop.
    finished: bool,
}

/// Why the read loop stopped.
enum Stop {
    /// Nothing more to do: end of data, error delivered, or stream gone.
    Finished,
    /// The consumer did not take the waiting chunk within [`IDLE`].
    Idle,
}

/// The outcome of waiting for a channel permit.
enum Reserved<'a> {
    Permit(Permit<'a, Item>),
    Closed,
    Idle,
}

impl<R, F> Job<R, F>
where
    R: Read + Send + 'static,
    F: Fn(io::Error) -> Error + Send + 'static,
{
    pub(crate) fn new(
        reader: R,
        link: Link,
        high_water_mark: usize,
        position: u64,
        skip: u64,
        remaining: Option<u64>,
        map_err: F,
    ) -> Self {
        Self {
            reader,
            pool: Recycler::new(high_water_mark),
            link,
            skip,
            position,
            remaining,
            map_err,
            finished: false,
        }
    }

    /// Reads until the end of the range, an error, the receiver going away, or [`IDLE`] (then
    /// parks the job in the stream).
    pub(crate) fn run(mut self) {
        match self.read() {
            Stop::Finished => self.finished = true,
            Stop::Idle => self.park(),
        }
    }

    /// The read loop of [`run`](Self::run).
    fn read(&mut self) -> Stop {
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut spins = SPINS;
        while self.skip > 0 {
            let buf = self.pool.buffer(clamp(self.skip), self.position);
            match self.reader.read(buf) {
                Ok(0) => return Stop::Finished,
                Ok(n) => {
                    self.skip -= n as u64;
                    self.position += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = self.link.tx.blocking_send(Err((self.map_err)(e)));
                    return Stop::Finished;
                }
            }
        }
        loop {
            let want = match self.remaining {
                Some(0) => return Stop::Finished,
                Some(left) => clamp(left),
                None => usize::MAX,
            };
            let permit = match reserve(&self.link.tx, &waker, &mut spins) {
                Reserved::Permit(permit) => permit,
                Reserved::Closed => return Stop::Finished,
                Reserved::Idle => return Stop::Idle,
            };
            let buf = self.pool.buffer(want, self.position);
            match self.reader.read(buf) {
                Ok(0) => return Stop::Finished,
                Ok(n) => {
                    self.position += n as u64;
                    if let Some(left) = &mut self.remaining {
                        *left -= n as u64;
                    }
                    permit.send(Ok(self.pool.take(n)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    permit.send(Err((self.map_err)(e)));
                    return Stop::Finished;
                }
            }
        }
    }

    /// Gives the thread back: stores the job in the stream's slot, unless the stream is gone.
    fn park(self) {
        let Some(slot) = self.link.parked.upgrade() else {
            return;
        };
        let tx = self.link.tx.clone();
        let resume: Resume = Box::new(move || Link::spawn(self));
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(resume);
        // The consumer may have taken the waiting chunk after the last look and before the job
        // was in the slot; it would then wait for a chunk nobody reads. Look once more.
        if tx.capacity() > 0 || tx.is_closed() {
            let resume = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(resume) = resume {
                resume();
            }
        }
    }
}

impl<R, F: Fn(io::Error) -> Error> Drop for Job<R, F> {
    /// A job dropped before the end (its reader panicked, or the runtime shut down before a
    /// parked job could be resumed) tells the stream, which would otherwise end early as if the
    /// data had ended.
    fn drop(&mut self) {
        if !self.finished {
            let why = io::Error::other(
                "reading stopped early: the reader panicked or the runtime shut down",
            );
            let _ = self.link.tx.try_send(Err((self.map_err)(why)));
        }
    }
}

/// Waits for room in the channel: a short spin first (the consumer usually takes the waiting
/// chunk within microseconds, and a park/unpark pair costs more than that), then parks the
/// thread until [`IDLE`] has passed. `spins` adapts to the consumer: halved each time spinning
/// did not help (a consumer busy for long between chunks would only burn CPU), doubled back up
/// to [`SPINS`] each time it did.
fn reserve<'a>(tx: &'a Sender<Item>, waker: &Waker, spins: &mut usize) -> Reserved<'a> {
    for spin in 0..*spins {
        match tx.try_reserve() {
            Ok(permit) => {
                *spins = (*spins * 2).min(SPINS);
                return Reserved::Permit(permit);
            }
            Err(TrySendError::Closed(())) => return Reserved::Closed,
            Err(TrySendError::Full(())) if spin < *spins / 2 => {
                for _ in 0..4 {
                    std::hint::spin_loop();
                }
            }
            Err(TrySendError::Full(())) => thread::yield_now(),
        }
    }
    *spins = (*spins / 2).max(MIN_SPINS);
    let deadline = Instant::now() + IDLE;
    let mut reserving = pin!(tx.reserve());
    let mut cx = Context::from_waker(waker);
    loop {
        match reserving.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(permit)) => return Reserved::Permit(permit),
            Poll::Ready(Err(_)) => return Reserved::Closed,
            Poll::Pending => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Reserved::Idle;
        }
        thread::park_timeout(deadline - now);
    }
}

/// `n` as a `usize`, saturating (a range longer than the address space is read in pieces anyway).
pub(crate) fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Wakes the parked job thread.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
