//! # Implementation details
//!
//! The read-ahead engine behind file streams and
//! [`ReadStream::from_blocking_reader`](crate::ReadStream::from_blocking_reader): one job on
//! tokio's blocking pool per chunk. A job takes the reader, reads one chunk with a plain
//! `std::io::Read` call straight into a recycled buffer ([`crate::recycle`]), and gives the
//! chunk and the reader back through its `JoinHandle`. When the stream hands a chunk out, it
//! starts the job for the next one at once, so the next read runs while the consumer works.
//!
//! Why this shape: `tokio::fs::File` also runs one blocking job per read, but reads into its own
//! buffer and copies every byte once more into the caller's; here the bytes read are the bytes
//! handed out. And a job lives for one read only, so nothing ever waits on a blocking thread:
//! no spinning, no timed waits, no thread held by a consumer that stopped polling.
//!
//! Invariants:
//! - At most one job per stream, started only when the previous chunk was handed out: the
//!   read-ahead is that one chunk (at most `high_water_mark` bytes), however long the consumer
//!   stays away.
//! - `poll_next` only polls the job's `JoinHandle`: it registers the task's waker and returns
//!   `Pending` when the chunk is not there yet. The `JoinHandle` takes part in tokio's
//!   cooperative budget, so a consumer whose chunks are always ready still yields.
//! - Jobs are spawned on the runtime the stream was created in (its `Handle`), so the stream
//!   may be polled from any executor thread.
//! - A job that does not come back (its reader panicked, or the runtime shut down before it
//!   ran) ends the stream with an error, never silently as if the data had ended.
//! - Dropping the stream aborts a job that has not started and lets one in progress finish its
//!   read; either way the reader (a file: its descriptor) is dropped on the blocking pool.

use std::io::{self, Read};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

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

/// What one job gives back.
enum Step {
    /// A chunk, and the source to read the next one from.
    Chunk(Bytes, Box<Reading>),
    /// The data (or the range) ended.
    End,
    /// Reading failed; the stream ends with this error.
    Failed(Error),
}

/// The stream's end of the engine: the job in flight, if any.
pub(crate) struct Ahead {
    job: Option<JoinHandle<Step>>,
    handle: Handle,
    origin: Origin,
}

impl Ahead {
    /// Starts reading `reading` ahead: its first job is spawned at once.
    ///
    /// Panics outside a tokio runtime (the jobs need its blocking pool).
    pub(crate) fn start(reading: Reading) -> Self {
        let handle = Handle::current();
        let origin = reading.origin.clone();
        let job = Some(spawn(&handle, Box::new(reading)));
        Self {
            job,
            handle,
            origin,
        }
    }

    /// The next chunk: `Pending` until the job in flight is done; then the job for the chunk
    /// after it is started before this one is handed out.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        let Some(job) = &mut self.job else {
            return Poll::Ready(None);
        };
        let done = ready!(Pin::new(job).poll(cx));
        self.job = None;
        Poll::Ready(match done {
            Ok(Step::Chunk(chunk, reading)) => {
                self.job = Some(spawn(&self.handle, reading));
                Some(Ok(chunk))
            }
            Ok(Step::End) => None,
            Ok(Step::Failed(err)) => Some(Err(err)),
            Err(join) => {
                let why = if join.is_panic() {
                    "reading stopped early: the reader panicked"
                } else {
                    "reading stopped early: the runtime shut down"
                };
                Some(Err(self.origin.error(io::Error::other(why))))
            }
        })
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            job.abort();
        }
    }
}

fn spawn(handle: &Handle, reading: Box<Reading>) -> JoinHandle<Step> {
    handle.spawn_blocking(move || reading.step())
}

/// `n` as a `usize`, saturating (a range longer than the address space is read in pieces anyway).
pub(crate) fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
