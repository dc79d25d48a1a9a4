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
//! Where a read lands in its buffer matters as much as the buffer: the kernel copies from the
//! page cache with `rep movsb`, and when the destination's offset within a 4 KiB page is a few
//! bytes past the source's, every load waits on a store with the same low twelve address bits
//! (4K aliasing). glibc hands out large blocks 16 bytes past a page boundary, exactly that case
//! for a read at a page-aligned file offset: 1 MiB reads ran at 8.1 ms per 64 MiB against 3.5 ms
//! with the destination half a page away from the source (measured on the benchmark machine,
//! `BENCHMARKS.md`). So each buffer has a page of slack, and each read is placed so that its
//! destination sits half a page from the file position's offset in its page.
//!
//! Invariants:
//! - Every buffer has length `high_water_mark + PAGE` (fully initialised); a chunk is
//!   `Bytes::from_owner` of a buffer and shows `filled` bytes from the read's placement.
//! - When the last clone of a chunk is dropped, its buffer goes back to the free list, unless
//!   the list already holds [`MAX_FREE`] buffers (then it is freed): memory held idle is
//!   bounded however many chunks the consumer kept at some point.
//! - The free list's mutex is only held to push or pop one `Vec`, never across I/O.
//! - When a stream's last chunk and its job are gone, its idle buffers move to a process-wide
//!   spare list that the next stream with the same `high_water_mark` starts from, so opening a
//!   file costs no allocation, zeroing or page faults for its buffers. The spare list keeps at
//!   most [`SPARE_BYTES`], dropping the oldest buffers first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

/// Idle buffers kept for reuse: the chunk being read, the one waiting in the channel, the one
/// the consumer holds, and one of slack.
const MAX_FREE: usize = 4;

type FreeList = Arc<Free>;

/// One stream's idle buffers; handed to [`SPARE`] when the stream is completely gone.
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

impl Drop for Free {
    fn drop(&mut self) {
        let idle = std::mem::take(self.0.get_mut().unwrap_or_else(PoisonError::into_inner));
        let evicted = spare().put(idle);
        // Freed outside the lock.
        drop(evicted);
    }
}

/// The most bytes of idle buffers kept for later streams, process-wide: a whole stream's set
/// at 1 MiB (the one being read, the one waiting, the one the consumer holds, one of slack).
const SPARE_BYTES: usize = 4 * ((1 << 20) + PAGE);

/// Idle buffers of finished streams, oldest first.
static SPARE: Mutex<Spare> = Mutex::new(Spare::new(SPARE_BYTES));

fn spare() -> MutexGuard<'static, Spare> {
    SPARE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A bounded store of idle buffers, looked up by length.
struct Spare {
    buffers: VecDeque<Vec<u8>>,
    bytes: usize,
    limit: usize,
}

impl Spare {
    const fn new(limit: usize) -> Self {
        Self {
            buffers: VecDeque::new(),
            bytes: 0,
            limit,
        }
    }

    /// Keeps `idle` (newest last) and returns what no longer fits, oldest first.
    fn put(&mut self, idle: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        for buf in idle {
            self.bytes += buf.len();
            self.buffers.push_back(buf);
        }
        let mut evicted = Vec::new();
        while self.bytes > self.limit {
            let Some(oldest) = self.buffers.pop_front() else {
                break;
            };
            self.bytes -= oldest.len();
            evicted.push(oldest);
        }
        evicted
    }

    /// The newest idle buffer of exactly `len` bytes.
    fn take(&mut self, len: usize) -> Option<Vec<u8>> {
        let at = self.buffers.iter().rposition(|buf| buf.len() == len)?;
        let buf = self.buffers.remove(at)?;
        self.bytes -= buf.len();
        Some(buf)
    }
}

/// The page size that the placement of reads works with.
const PAGE: usize = 4096;

/// Hands out initialised buffers and takes them back when their chunks are dropped.
pub(crate) struct Recycler {
    free: FreeList,
    /// The buffer of the read in progress, and where in it the read starts.
    current: Option<(Vec<u8>, usize)>,
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
    /// `high_water_mark`), placed for a read at byte `position` of the source.
    pub(crate) fn buffer(&mut self, want: usize, position: u64) -> &mut [u8] {
        let high_water_mark = self.high_water_mark;
        let free = &self.free;
        let (buf, start) = self.current.get_or_insert_with(|| {
            let len = high_water_mark + PAGE;
            let reused = free.lock().pop().or_else(|| spare().take(len));
            (reused.unwrap_or_else(|| vec![0; len]), 0)
        });
        *start = placement(buf.as_ptr().addr(), position);
        let len = want.min(high_water_mark);
        &mut buf[*start..*start + len]
    }

    /// The `filled` bytes of the last read, as a chunk that returns the buffer on drop.
    pub(crate) fn take(&mut self, filled: usize) -> Bytes {
        let (buf, start) = self.current.take().unwrap_or_default();
        Bytes::from_owner(Recycled {
            buf,
            start,
            filled,
            home: Arc::clone(&self.free),
        })
    }
}

impl Drop for Recycler {
    /// The buffer of a read that ended the stream (or never happened) is idle too.
    fn drop(&mut self) {
        if let Some((buf, _)) = self.current.take() {
            self.free.give_back(buf);
        }
    }
}

/// Where in a buffer at address `base` a read at source byte `position` starts: the offset
/// (below [`PAGE`]) that puts the destination half a page from the source within their pages.
fn placement(base: usize, position: u64) -> usize {
    let source = (position % PAGE as u64) as usize;
    (source + PAGE / 2 + PAGE - base % PAGE) % PAGE
}

/// The owner behind a chunk.
struct Recycled {
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    home: FreeList,
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.filled]
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
    fn reads_land_half_a_page_from_the_source_offset() {
        for base in [0, 16, 64, 4080, 0x7f00_1234_5010] {
            for position in [0, 1, 100, 2048, 4095, 4096, 1 << 20, (1 << 40) + 17] {
                let start = placement(base, position);
                assert!(start < PAGE);
                let destination = (base + start) % PAGE;
                let source = (position % PAGE as u64) as usize;
                assert_eq!((destination + PAGE - source) % PAGE, PAGE / 2);
            }
        }
    }

    #[test]
    fn chunks_show_exactly_the_bytes_read_and_buffers_come_back() {
        let mut pool = Recycler::new(8);
        let buf = pool.buffer(100, 3);
        assert_eq!(buf.len(), 8);
        buf[..5].copy_from_slice(b"hello");
        let chunk = pool.take(5);
        assert_eq!(&chunk[..], b"hello");
        drop(chunk);
        assert_eq!(pool.free.lock().len(), 1);
        assert_eq!(pool.buffer(4, 0).len(), 4);
        assert!(pool.free.lock().is_empty());
    }

    #[test]
    fn spare_buffers_are_found_by_length_newest_first() {
        let mut spare = Spare::new(100);
        assert!(
            spare
                .put(vec![vec![1; 10], vec![2; 20], vec![3; 10]])
                .is_empty()
        );
        assert_eq!(spare.take(10), Some(vec![3; 10]));
        assert_eq!(spare.take(10), Some(vec![1; 10]));
        assert_eq!(spare.take(10), None);
        assert_eq!(spare.take(20), Some(vec![2; 20]));
        assert_eq!(spare.bytes, 0);
    }

    #[test]
    fn spare_buffers_beyond_the_limit_are_dropped_oldest_first() {
        let mut spare = Spare::new(25);
        assert!(spare.put(vec![vec![1; 10], vec![2; 10]]).is_empty());
        let evicted = spare.put(vec![vec![3; 10]]);
        assert_eq!(evicted, [vec![1; 10]]);
        assert_eq!(spare.bytes, 20);
        assert_eq!(
            spare.put(vec![vec![4; 30]]),
            [vec![2; 10], vec![3; 10], vec![4; 30]]
        );
        assert_eq!(spare.bytes, 0);
    }

    #[test]
    fn a_finished_streams_buffers_serve_the_next_stream() {
        // A length no other test uses, so that the process-wide spare list answers only us.
        const HWM: usize = 7_777;
        let mut first = Recycler::new(HWM);
        let read_into = first.buffer(HWM, 0).as_ptr().addr();
        let chunk = first.take(HWM);
        let pending = first.buffer(HWM, 0).as_ptr().addr();
        assert_ne!(pending, read_into);
        drop(chunk);
        drop(first);
        // Were the buffers freed, the allocator would hand them out here.
        let taken: Vec<Vec<u8>> = (0..2).map(|_| vec![1; HWM + PAGE]).collect();
        let mut second = Recycler::new(HWM);
        let again = second.buffer(HWM, 0).as_ptr().addr();
        let chunk = second.take(HWM);
        let again_too = second.buffer(HWM, 0).as_ptr().addr();
        drop((chunk, taken));
        let mut reused = [again, again_too];
        reused.sort_unstable();
        let mut original = [read_into, pending];
        original.sort_unstable();
        assert_eq!(reused, original);
    }
}
