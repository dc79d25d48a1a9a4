//! # Implementation details
//!
//! The read-ahead engine behind file streams and
//! [`ReadStream::from_blocking_reader`](crate::ReadStream::from_blocking_reader): a job on
//! tokio's blocking pool reads with plain `std::io::Read` calls straight into recycled chunk
//! buffers ([`crate::recycle`]) and queues the chunks in a slot it shares with the stream.
//!
//! Why this shape: `tokio::fs::File` runs one blocking job per read and copies every byte once
//! more from its own buffer into the caller's; here the bytes read are the bytes handed out, and
//! one job keeps reading as long as the consumer keeps up. One job per chunk was measured too:
//! with a fast consumer it ran at `ReaderStream`'s speed, spending its time on the hand-over
//! (a wake-up of a pool thread and one of the worker for every chunk); the continuing job reads
//! 64 KiB chunks about twice as fast with half the CPU (the `paired` bench).
//!
//! Invariants:
//! - At most two chunks wait in the slot: the job reads only while fewer than two wait, so a
//!   chunk is read while the one before it waits for the consumer (Node's fs stream, likewise,
//!   keeps reading while less than a `highWaterMark` is buffered). The read-ahead is at most
//!   two chunks, `2 * high_water_mark` bytes, however long the consumer stays away.
//! - Nothing waits on a blocking thread: when two chunks wait, the job puts the source in the
//!   slot (`parked`) and returns, so a stalled consumer holds no thread. The stream starts a
//!   new job with the parked source when it takes a chunk. Both steps happen under the slot's
//!   mutex, so a job is never parked with no chunk left for the stream to take: no lost
//!   wake-up. There is no spinning and no timed wait anywhere.
//! - `poll_next` charges tokio's cooperative budget, takes a chunk under the mutex or
//!   registers the task's waker and returns `Pending`. The job wakes it after queuing a chunk,
//!   outside the lock.
//! - Jobs are spawned on the runtime the stream was created in (its `Handle`), so the stream
//!   may be polled from any executor thread.
//! - A job that does not finish (its reader panicked, or the runtime shut down before it ran)
//!   queues an error and ends the stream, never silently as if the data had ended.
//! - Dropping the stream marks the slot closed and drops a parked source at once; a job in
//!   progress sees the mark after its read and drops the source (a file: its descriptor) on
//!   the blocking pool.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use tokio::runtime::Handle;

use crate::Error;
use crate::recycle::Recycler;

/// What a source's I/O errors are reported as.
#[derive(Clone)]
pub(crate) enum Origin {
    /// A file opened by path: [`Error::ReadFile`].
    File(Arc<Path>),
    /// A reader given by the caller: [`Error::Read`].
    Reader,
}

impl Origin {
    fn error(&self, source: io::Error) -> Error {
        match self {
            Self::File(path) => Error::ReadFile {
                path: path.to_path_buf(),
                source,
            },
            Self::Reader => Error::Read { source },
        }
    }
}

/// Everything needed to go on reading a source; it travels into each job and back.
pub(crate) struct Reading {
    reader: Box<dyn Read + Send>,
    buffers: Recycler,
    /// Bytes to read and drop before the first chunk (`start` on a reader that cannot seek).
    skip: u64,
    /// Bytes left in the range, `None` for "to the end".
    remaining: Option<u64>,
    origin: Origin,
}

impl Reading {
    pub(crate) fn new(
        reader: impl Read + Send + 'static,
        high_water_mark: usize,
        skip: u64,
        remaining: Option<u64>,
        origin: Origin,
    ) -> Self {
        Self {
            reader: Box::new(reader),
            buffers: Recycler::new(high_water_mark),
            skip,
            remaining,
            origin,
        }
    }

    /// One job: skips what is left to skip, then reads the next chunk.
    fn step(mut self: Box<Self>) -> Step {
        while self.skip > 0 {
            let buf = self.buffers.buffer(clamp(self.skip));
            match self.reader.read(buf) {
                Ok(0) => return Step::End,
                Ok(n) => self.skip -= n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Failed(self.origin.error(e)),
            }
        }
        let want = match self.remaining {
            Some(0) => return Step::End,
            Some(left) => clamp(left),
            None => usize::MAX,
        };
        loop {
            let buf = self.buffers.buffer(want);
            match self.reader.read(buf) {
                Ok(0) => return Step::End,
                Ok(n) => {
                    if let Some(left) = &mut self.remaining {
                        *left -= n as u64;
                    }
                    let chunk = self.buffers.take(n);
                    return Step::Chunk(chunk, self);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Failed(self.origin.error(e)),
            }
        }
    }
}

/// What one read gives back.
enum Step {
    /// A chunk, and the source to read the next one from.
    Chunk(Bytes, Box<Reading>),
    /// The data (or the range) ended.
    End,
    /// Reading failed; the stream ends with this error.
    Failed(Error),
}

/// What the job and the stream share.
#[derive(Default)]
struct Slot {
    /// Chunks read and not yet taken, at most two.
    queue: VecDeque<Result<Bytes, Error>>,
    /// Nothing more will be added to `queue`.
    ended: bool,
    /// The source, when the job stopped because two chunks were waiting.
    parked: Option<Box<Reading>>,
    /// The consumer waiting for a chunk.
    waker: Option<Waker>,
    /// The stream is gone.
    closed: bool,
}

type Shared = Arc<Mutex<Slot>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Slot> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stream's end of the engine.
pub(crate) struct Ahead {
    shared: Shared,
    handle: Handle,
    origin: Origin,
}

impl Ahead {
    /// Starts reading `reading` ahead: its job is spawned at once.
    ///
    /// Panics outside a tokio runtime (the job needs its blocking pool).
    pub(crate) fn start(reading: Reading) -> Self {
        let ahead = Self {
            shared: Shared::default(),
            handle: Handle::current(),
            origin: reading.origin.clone(),
        };
        ahead.spawn(Box::new(reading));
        ahead
    }

    fn spawn(&self, reading: Box<Reading>) {
        let job = Job {
            reading: Some(reading),
            shared: Arc::clone(&self.shared),
            origin: self.origin.clone(),
            finished: false,
        };
        self.handle.spawn_blocking(move || job.run());
    }

    /// The next chunk, or `Pending` with the waker registered.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let mut slot = lock(&self.shared);
        if let Some(item) = slot.queue.pop_front() {
            let resume = slot.parked.take();
            drop(slot);
            if let Some(reading) = resume {
                self.spawn(reading);
            }
            coop.made_progress();
            return Poll::Ready(Some(item));
        }
        if slot.ended {
            coop.made_progress();
            return Poll::Ready(None);
        }
        match &mut slot.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        let parked = {
            let mut slot = lock(&self.shared);
            slot.closed = true;
            slot.parked.take()
        };
        drop(parked);
    }
}

/// A reading job on the blocking pool.
struct Job {
    reading: Option<Box<Reading>>,
    shared: Shared,
    origin: Origin,
    finished: bool,
}

impl Job {
    /// Reads while at most one chunk waits for the consumer; parks the source in the slot
    /// when two do.
    fn run(mut self) {
        let Some(mut reading) = self.reading.take() else {
            return;
        };
        loop {
            let step = reading.step();
            let mut slot = lock(&self.shared);
            if slot.closed {
                self.finished = true;
                return;
            }
            let go_on = match step {
                Step::Chunk(chunk, next) => {
                    reading = next;
                    slot.queue.push_back(Ok(chunk));
                    if slot.queue.len() >= 2 {
                        slot.parked = Some(reading);
                        None
                    } else {
                        Some(reading)
                    }
                }
                Step::End => {
                    slot.ended = true;
                    None
                }
                Step::Failed(err) => {
                    slot.queue.push_back(Err(err));
                    slot.ended = true;
                    None
                }
            };
            let waker = slot.waker.take();
            drop(slot);
            if let Some(waker) = waker {
                waker.wake();
            }
            match go_on {
                Some(next) => reading = next,
                None => {
                    self.finished = true;
                    return;
                }
            }
        }
    }
}

impl Drop for Job {
    /// A job that did not finish (its reader panicked, or the runtime shut down before it
    /// ran) tells the stream, which would otherwise wait forever.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let why = if std::thread::panicking() {
            "reading stopped early: the reader panicked"
        } else {
            "reading stopped early: the runtime shut down"
        };
        let mut slot = lock(&self.shared);
        slot.queue
            .push_back(Err(self.origin.error(io::Error::other(why))));
        slot.ended = true;
        let waker = slot.waker.take();
        drop(slot);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// `n` as a `usize`, saturating (a range longer than the address space is read in pieces anyway).
pub(crate) fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
