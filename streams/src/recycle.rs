//! # Implementation details
//!
//! The buffers of the blocking read engine: a few `high_water_mark`-sized `Vec<u8>`s per
//! stream that go round between the reading job and the consumer.
//!
//! Why not the `BytesMut` pool of [`crate::pool`] here: `std::io::Read` needs initialised
//! memory, and safe code can only re-initialise a recycled `BytesMut` by zero-filling it, a
//! memset per byte read. A `Vec<u8>` stays initialised for its whole life, so each buffer is
//! zeroed once, when it is first allocated, and then reused as it is.
//!
//! Invariants:
//! - Every buffer has length `high_water_mark` (fully initialised); a chunk is
//!   `Bytes::from_owner` of a buffer and shows the `filled` bytes the read put at its start.
//! - When the last clone of a chunk is dropped, its buffer goes back to the stream's free list,
//!   unless the list already holds [`MAX_FREE`] buffers (then it is freed): memory held idle is
//!   bounded however many chunks the consumer kept at some point.
//! - The free list's mutex is only held to push or pop one `Vec`, never across I/O.
//! - The free list lives as long as the stream's reader or any of its chunks, and no longer.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

/// Idle buffers kept for reuse: the chunk being read, the one the consumer holds, one it has
/// just dropped, and one of slack.
const MAX_FREE: usize = 4;

/// One stream's idle buffers.
#[derive(Default)]
struct Free(Mutex<Vec<Vec<u8>>>);

impl Free {
    fn lock(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes an idle buffer back, unless [`MAX_FREE`] are already idle (then it is freed).
    fn give_back(&self, buf: Vec<u8>) {
        let mut free = self.lock();
        if free.len() < MAX_FREE {
            free.push(buf);
        }
    }
}

/// Hands out initialised buffers and takes them back when their chunks are dropped.
pub(crate) struct Recycler {
    free: Arc<Free>,
    /// The buffer of the read in progress.
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

    /// The buffer of the next read: at most `want` bytes, and never more than
    /// `high_water_mark`.
    pub(crate) fn buffer(&mut self, want: usize) -> &mut [u8] {
        let (free, high_water_mark) = (&self.free, self.high_water_mark);
        let buf = self.current.get_or_insert_with(|| {
            free.lock()
                .pop()
                .unwrap_or_else(|| vec![0; high_water_mark])
        });
        &mut buf[..want.min(high_water_mark)]
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

impl Drop for Recycler {
    /// The buffer of a read that ended the stream (or never happened) is idle too.
    fn drop(&mut self) {
        if let Some(buf) = self.current.take() {
            self.free.give_back(buf);
        }
    }
}

/// The owner behind a chunk.
struct Recycled {
    buf: Vec<u8>,
    filled: usize,
    home: Arc<Free>,
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.filled]
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        self.home.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_show_exactly_the_bytes_read_and_buffers_come_back() {
        let mut pool = Recycler::new(8);
        let buf = pool.buffer(100);
        assert_eq!(buf.len(), 8);
        buf[..5].copy_from_slice(b"hello");
        let chunk = pool.take(5);
        assert_eq!(&chunk[..], b"hello");
        drop(chunk);
        assert_eq!(pool.free.lock().len(), 1);
        assert_eq!(pool.buffer(4).len(), 4);
        assert!(pool.free.lock().is_empty());
    }

    #[test]
    fn no_more_than_max_free_buffers_are_kept_idle() {
        let mut pool = Recycler::new(8);
        let chunks: Vec<Bytes> = (0..MAX_FREE + 3)
            .map(|_| {
                pool.buffer(8);
                pool.take(8)
            })
            .collect();
        drop(chunks);
        assert_eq!(pool.free.lock().len(), MAX_FREE);
    }
}
