//! # Implementation details
//!
//! The read-ahead engine behind file streams and
//! [`ReadStream::from_blocking_reader`](crate::ReadStream::from_blocking_reader): one blocking
//! task per stream reads with plain `std::io::Read` calls straight into the [`Pool`] and hands
//! frozen chunks to the stream over a `tokio::sync::mpsc` channel of capacity 1.
//!
//! Why: `tokio::fs::File` runs one `spawn_blocking` job per read and copies every byte once more
//! from its own buffer into the caller's. Here there is one job for the whole stream, and the
//! bytes read are the bytes handed out.
//!
//! Invariants:
//! - The reader takes a channel permit *before* each read, so it reads only while the channel is
//!   empty: at most one chunk (at most `high_water_mark` bytes) waits for the consumer. That is
//!   the whole read-ahead, however long the consumer stays away.
//! - The job ends when the data ends, after the first error (sent as the last item), or as soon
//!   as the receiver is gone: a dropped stream stops reading at the latest after the read in
//!   progress, and the reader (for files: the descriptor) is dropped on the blocking thread.

use std::future::Future;
use std::io::{self, Read};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use bytes::Bytes;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Permit, Sender};

use crate::Error;
use crate::recycle::Recycler;

/// What one blocking read job needs besides the reader.
pub(crate) struct Job<F> {
    pub(crate) tx: Sender<Result<Bytes, Error>>,
    pub(crate) high_water_mark: usize,
    /// Bytes to read and drop before the first chunk (`start` on a reader that cannot seek).
    pub(crate) skip: u64,
    /// Bytes left in the range, `None` for "to the end".
    pub(crate) remaining: Option<u64>,
    /// Turns an I/O error into the crate error naming the source.
    pub(crate) map_err: F,
}

impl<F: Fn(io::Error) -> Error> Job<F> {
    /// Reads until the end of the range, an error, or the receiver going away.
    pub(crate) fn run<R: Read>(mut self, mut reader: R) {
        let mut pool = Recycler::new(self.high_water_mark);
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        while self.skip > 0 {
            let buf = pool.buffer(clamp(self.skip));
            match reader.read(buf) {
                Ok(0) => return,
                Ok(n) => self.skip -= n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = self.tx.blocking_send(Err((self.map_err)(e)));
                    return;
                }
            }
        }
        loop {
            let want = match self.remaining {
                Some(0) => return,
                Some(left) => clamp(left),
                None => self.high_water_mark,
            };
            let Some(permit) = reserve(&self.tx, &waker) else {
                return;
            };
            let buf = pool.buffer(want);
            match reader.read(buf) {
                Ok(0) => return,
                Ok(n) => {
                    if let Some(left) = &mut self.remaining {
                        *left -= n as u64;
                    }
                    permit.send(Ok(pool.take(n)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    permit.send(Err((self.map_err)(e)));
                    return;
                }
            }
        }
    }
}

/// `n` as a `usize`, saturating (a range longer than the address space is read in pieces anyway).
fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Tries for a channel slot this many times, yielding the CPU in between, before parking.
const SPINS: usize = 64;

/// Waits for room in the channel: a short polite spin first (the consumer usually takes the
/// waiting chunk within microseconds, and a park/unpark pair costs more than that), then parks.
/// `None` when the stream is gone.
fn reserve<'a, T>(tx: &'a Sender<T>, waker: &Waker) -> Option<Permit<'a, T>> {
    for _ in 0..SPINS {
        match tx.try_reserve() {
            Ok(permit) => return Some(permit),
            Err(TrySendError::Closed(())) => return None,
            Err(TrySendError::Full(())) => thread::yield_now(),
        }
    }
    block_on(tx.reserve(), waker).ok()
}

/// Wakes the blocked reader thread.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this (blocking) thread, parking between polls; `waker` unparks this thread.
fn block_on<F: Future>(future: F, waker: &Waker) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}
