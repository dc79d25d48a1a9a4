//! Bounded memory: read-ahead never exceeds two chunks of `high_water_mark` bytes (decoded or
//! not), a consumer that stops polling stops the reads, a dropped stream stops the reader, and
//! `pipe` into a writer that takes one byte per poll keeps the data in flight bounded.
//!
//! File streams and `from_blocking_reader` share one read-ahead engine, so a counting reader
//! standing in for a 1 GiB file shows exactly what a file stream would have read.

use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::StreamExt;
use nodebook_streams::{ReadOptions, ReadStream, pipe};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

const GIB: u64 = 1 << 30;

/// A source of `len` zero bytes that counts what it handed out, reports each read, and
/// reports when it is dropped (the stream's reader is gone).
struct Counting {
    left: u64,
    read: Arc<AtomicU64>,
    events: mpsc::UnboundedSender<Event>,
}

#[derive(Debug, PartialEq)]
enum Event {
    Read(u64),
    Dropped,
}

impl Counting {
    fn new(len: u64) -> (Self, Arc<AtomicU64>, mpsc::UnboundedReceiver<Event>) {
        let read = Arc::new(AtomicU64::new(0));
        let (events, rx) = mpsc::unbounded_channel();
        (
            Self {
                left: len,
                read: read.clone(),
                events,
            },
            read,
            rx,
        )
    }

    fn hand_out(&mut self, max: usize) -> usize {
        let n = (max as u64).min(self.left) as usize;
        self.left -= n as u64;
        let total = self.read.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        let _ = self.events.send(Event::Read(total));
        n
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        let _ = self.events.send(Event::Dropped);
    }
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.hand_out(buf.len());
        buf[..n].fill(0);
        Ok(n)
    }
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.hand_out(buf.remaining());
        buf.put_slice(&vec![0; n]);
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_consumer_that_never_polls_gets_two_chunks_of_read_ahead_and_no_more() {
    let hwm = 64 * 1024;
    let (source, read, mut events) = Counting::new(GIB);
    let stream =
        ReadStream::from_blocking_reader(source, ReadOptions::new().high_water_mark(hwm)).unwrap();
    // The engine reads two chunks ahead without being asked…
    assert_eq!(events.recv().await, Some(Event::Read(hwm as u64)));
    assert_eq!(events.recv().await, Some(Event::Read(2 * hwm as u64)));
    // …and then stops. Give the blocking pool time to show a third read, were there one.
    for _ in 0..100 {
        tokio::task::spawn_blocking(std::thread::yield_now)
            .await
            .unwrap();
    }
    drop(stream);
    // Dropping the stream ends the reader (for a file: closes it) without another read.
    assert_eq!(events.recv().await, Some(Event::Dropped));
    assert_eq!(read.load(Ordering::SeqCst), 2 * hwm as u64);
}

#[tokio::test]
async fn an_async_reader_is_read_only_while_polled() {
    let (source, read, mut events) = Counting::new(GIB);
    let mut stream =
        ReadStream::from_reader(source, ReadOptions::new().high_water_mark(1000)).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(read.load(Ordering::SeqCst), 0);
    assert_eq!(stream.next().await.unwrap().unwrap().len(), 1000);
    assert_eq!(read.load(Ordering::SeqCst), 1000);
    drop(stream);
    assert_eq!(events.recv().await, Some(Event::Read(1000)));
    assert_eq!(events.recv().await, Some(Event::Dropped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_ahead_stays_within_two_chunks_of_what_was_consumed() {
    let hwm = 4096;
    let (source, read, _events) = Counting::new(GIB);
    let mut stream =
        ReadStream::from_blocking_reader(source, ReadOptions::new().high_water_mark(hwm)).unwrap();
    let mut consumed = 0u64;
    for _ in 0..2000 {
        consumed += stream.next().await.unwrap().unwrap().len() as u64;
        // Read so far: what was consumed, and at most two chunks waiting.
        let ahead = read.load(Ordering::SeqCst) - consumed;
        assert!(
            ahead <= 2 * hwm as u64,
            "read {ahead} bytes ahead with high_water_mark {hwm}"
        );
        if consumed.is_multiple_of(64 * 4096) {
            tokio::task::yield_now().await;
        }
    }
    drop(stream);
    assert!(read.load(Ordering::SeqCst) <= consumed + 2 * hwm as u64);
}

/// Endless UTF-8 text of three-byte characters, counting the bytes handed out.
struct ThreeByteText {
    read: Arc<AtomicU64>,
}

impl Read for ThreeByteText {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = self.read.fetch_add(buf.len() as u64, Ordering::SeqCst);
        let pattern = "明".as_bytes();
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte = pattern[((start + i as u64) % 3) as usize];
        }
        Ok(buf.len())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_read_ahead_stays_counted_in_bytes() {
    // Node counts a stream's buffer in UTF-16 units once an encoding is set, so the same
    // highWaterMark lets three times the bytes of this text pile up. Here the bound stays in
    // bytes: what was read is what was decoded, plus at most two chunks waiting, plus the two
    // bytes of a character cut at a chunk's end.
    let hwm = 4096;
    let read = Arc::new(AtomicU64::new(0));
    let source = ThreeByteText { read: read.clone() };
    let mut text =
        ReadStream::from_blocking_reader(source, ReadOptions::new().high_water_mark(hwm))
            .unwrap()
            .set_encoding("utf8")
            .unwrap();
    let mut decoded = 0u64;
    for _ in 0..1000 {
        let chunk = text.next().await.unwrap().unwrap();
        assert!(chunk.chars().all(|c| c == '明'));
        decoded += chunk.len() as u64;
        let ahead = read.load(Ordering::SeqCst) - decoded;
        assert!(
            ahead <= 2 * hwm as u64 + 2,
            "read {ahead} bytes ahead of the text with high_water_mark {hwm}"
        );
    }
}

/// Accepts one byte per write, and every other poll is `Pending`; records the largest gap
/// between bytes read from the source and bytes accepted.
struct OneByteWriter {
    read: Arc<AtomicU64>,
    accepted: u64,
    max_in_flight: u64,
    ready: bool,
}

impl AsyncWrite for OneByteWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        let in_flight = self.read.load(Ordering::SeqCst) - self.accepted;
        self.max_in_flight = self.max_in_flight.max(in_flight);
        self.accepted += 1;
        Poll::Ready(Ok(buf.len().min(1)))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn pipe_into_a_one_byte_writer_keeps_reads_in_step_with_writes() {
    let hwm = 512;
    let len = 20_000;
    for blocking in [true, false] {
        let (source, read, _events) = Counting::new(len);
        let options = ReadOptions::new().high_water_mark(hwm);
        let stream = if blocking {
            ReadStream::from_blocking_reader(source, options).unwrap()
        } else {
            ReadStream::from_reader(source, options).unwrap()
        };
        let mut writer = OneByteWriter {
            read,
            accepted: 0,
            max_in_flight: 0,
            ready: false,
        };
        assert_eq!(pipe(stream, &mut writer).await.unwrap(), len);
        assert_eq!(writer.accepted, len);
        // The chunk being written, plus the read-ahead (two chunks for the blocking engine,
        // none for an async reader).
        let bound = if blocking { 3 * hwm as u64 } else { hwm as u64 };
        assert!(
            writer.max_in_flight <= bound,
            "{} bytes in flight, bound {bound}",
            writer.max_in_flight
        );
        assert!(
            writer.max_in_flight >= hwm as u64 / 2,
            "the test must exercise the buffering"
        );
    }
}

#[tokio::test]
async fn a_sparse_1_gib_file_streams_full_chunks_and_drops_mid_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.bin");
    std::fs::File::create(&path).unwrap().set_len(GIB).unwrap();
    let mut stream = ReadStream::open(&path, ReadOptions::new()).await.unwrap();
    for _ in 0..3 {
        let chunk = stream.next().await.unwrap().unwrap();
        assert_eq!(chunk.len(), 64 * 1024);
        assert!(chunk.iter().all(|&b| b == 0));
    }
    // Dropping after 3 chunks of 16384 returns at once: the reader task stops by itself.
    drop(stream);
}

#[test]
fn a_stalled_stream_gives_its_blocking_thread_back() {
    // One blocking thread for the whole runtime: if stream A kept its reader thread while its
    // consumer looks away, stream B could never start.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 247) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let options = ReadOptions::new().high_water_mark(1000);

        let mut a = ReadStream::open(&path, options).await.unwrap();
        let first = a.next().await.unwrap().unwrap();

        let b = ReadStream::open(&path, options).await.unwrap();
        let whole_b = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            nodebook_streams::concat(b, 1 << 20),
        )
        .await
        .expect("stream B must not wait for stream A's thread")
        .unwrap();
        assert_eq!(whole_b, data);

        // A resumes where it stopped.
        let rest = nodebook_streams::concat(a, 1 << 20).await.unwrap();
        assert_eq!([&first[..], &rest[..]].concat(), data);
    });
}

#[test]
fn two_streams_on_one_blocking_thread_interleave_chunk_by_chunk() {
    // Every switch from one stream to the other makes the waiting job park itself and the
    // other resume: the hand-over must lose no chunk and no wake-up.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 233) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let options = ReadOptions::new().high_water_mark(4000);
        let mut streams = [
            ReadStream::open(&path, options).await.unwrap(),
            ReadStream::open(&path, options).await.unwrap(),
        ];
        let mut got = [Vec::new(), Vec::new()];
        let mut ended = [false, false];
        while !(ended[0] && ended[1]) {
            for i in 0..2 {
                if ended[i] {
                    continue;
                }
                let next =
                    tokio::time::timeout(std::time::Duration::from_secs(20), streams[i].next())
                        .await
                        .expect("a parked job must be resumed");
                match next {
                    Some(chunk) => got[i].extend_from_slice(&chunk.unwrap()),
                    None => ended[i] = true,
                }
            }
        }
        assert_eq!(got[0], data);
        assert_eq!(got[1], data);
    });
}
