//! # Implementation details
//!
//! The chunk pool of Node's book-era `fs.ReadStream` (`allocNewPool`, `kMinPoolSpace`), built on
//! one `BytesMut`, for streams over an `AsyncRead` (`ReadStream::from_reader`). Files and
//! blocking readers use [`crate::recycle`] instead; its header says why.
//!
//! Invariants:
//! - `buf.len() == 0` between reads: everything read has been split off as a chunk.
//! - A read goes into `buf` itself, so a chunk is `buf.split().freeze()`: no copy, and the chunk
//!   shares the pool allocation until it is dropped.
//! - When less than `min_space` is left, the next read starts a new pool of `high_water_mark`
//!   bytes. `BytesMut::reserve` takes back the old allocation when every chunk carved from it has
//!   been dropped, so a consumer that drops chunks promptly keeps reusing one warm buffer.
//! - A chunk is never longer than `high_water_mark`, and never shorter than `min_space` unless the
//!   source itself returned fewer bytes (end of data, a short read from a socket).

use bytes::{BufMut, Bytes, BytesMut};

use crate::options::MIN_POOL_SPACE;

/// A pool of spare capacity that read chunks are carved from.
pub(crate) struct Pool {
    buf: BytesMut,
    high_water_mark: usize,
    min_space: usize,
}

impl Pool {
    pub(crate) fn new(high_water_mark: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            high_water_mark,
            min_space: MIN_POOL_SPACE.min(high_water_mark),
        }
    }

    /// Makes room for the next read and returns how many bytes it may take (at most `want`, and
    /// never more than `high_water_mark`).
    fn prepare(&mut self, want: usize) -> usize {
        debug_assert!(self.buf.is_empty());
        if self.buf.capacity() < self.min_space.min(want) {
            self.buf.reserve(self.high_water_mark);
        }
        want.min(self.high_water_mark).min(self.buf.capacity())
    }

    /// The spare capacity of the next read, at most `want` bytes, for `AsyncRead` through
    /// `tokio_util::io::poll_read_buf` (which fills uninitialised memory: no zeroing).
    pub(crate) fn spare(&mut self, want: usize) -> bytes::buf::Limit<&mut BytesMut> {
        let len = self.prepare(want);
        (&mut self.buf).limit(len)
    }

    /// Carves the first `filled` bytes of the last read off as a chunk.
    pub(crate) fn take(&mut self, filled: usize) -> Bytes {
        self.buf.truncate(filled);
        self.buf.split().freeze()
    }

    /// Forgets the last read (bytes skipped before `start`); the space is reused.
    pub(crate) fn discard(&mut self) {
        self.buf.clear();
    }
}
