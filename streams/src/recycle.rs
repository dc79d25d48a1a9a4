//! # Implementation details
//!
//! The buffers of the blocking read engine: a few `high_water_mark`-sized `Vec<u8>`s that go
//! round between the reader thread and the consumer.
//!
//! Why not the `BytesMut` pool of [`crate::pool`] here: `std::io::Read` needs initialised
//! memory, and safe code can only re-initialise a recycled `BytesMut` by zero-filling it, a
//! memset per byte read that cost about a third of the throughput at 64 KiB on the benchmark
//! machine. A `Vec<u8>` stays initialised for its whole life, so each buffer is zeroed once,
//! when it is first allocated, and then reused as is.
//!
//! Invariants:
//! - Every buffer has length `high_water_mark` (fully initialised); a chunk is
//!   `Bytes::from_owner` of a buffer and shows its first `filled` bytes.
//! - When the last clone of a chunk is dropped, its buffer goes back to the free list, unless
//!   the list already holds [`MAX_FREE`] buffers (then it is freed): memory held idle is
//!   bounded however many chunks the consumer kept at some point.
//! - The free list's mutex is only held to push or pop one `Vec`, never across I/O.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Idle buffers kept for reuse: the chunk being read, the one waiting in the channel, the one
/// the consumer holds, and one of slack.
const MAX_FREE: usize = 4;

type FreeList = Arc<Mutex<Vec<Vec<u8>>>>;

/// Hands out initialised buffers and takes them back when their chunks are dropped.
pub(crate) struct Recycler {
    free: FreeList,
    current: Option<Vec<u8>>,
    high_water_mark: usize,
}

impl Recycler {
    pub(crate) fn new(high_water_mark: usize) -> Self {
        Self {
            free: Arc::default(),
            current: None,
            high_water_mark,
        }
    }

    /// The buffer of the next read, at most `want` bytes of it (and never more than
    /// `high_water_mark`).
    pub(crate) fn buffer(&mut self, want: usize) -> &mut [u8] {
        let high_water_mark = self.high_water_mark;
        let free = &self.free;
        let buf = self.current.get_or_insert_with(|| {
            let reused = free.lock().unwrap_or_else(PoisonError::into_inner).pop();
            reused.unwrap_or_else(|| vec![0; high_water_mark])
        });
        let len = want.min(buf.len());
        &mut buf[..len]
    }

    /// The first `filled` bytes of the last read, as a chunk that returns the buffer on drop.
    pub(crate) fn take(&mut self, filled: usize) -> Bytes {
        let buf = self.current.take().unwrap_or_default();
        Bytes::from_owner(Recycled {
            buf,
            filled,
            home: Arc::clone(&self.free),
        })
    }
}

/// The owner behind a chunk.
struct Recycled {
    buf: Vec<u8>,
    filled: usize,
    home: FreeList,
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.filled]
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let mut free = self.home.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < MAX_FREE {
            free.push(std::mem::take(&mut self.buf));
        }
    }
}
