//! `WriteStream`: Node's `write()` answer, the memory bound against a slow writer, `end`, the
//! `Sink` side, errors, and cancellation at every await point.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use nodebook_streams::{Error, WriteStream};
use tokio::io::AsyncWrite;
use tokio::time::{Instant, Sleep};

#[test]
fn write_says_wait_once_the_buffer_reaches_the_mark_as_node_does() {
    // Node: `new Writable({ highWaterMark: 10 })`, write 4, 4, 4 -> true, true, false.
    let mut out = WriteStream::with_high_water_mark(Vec::<u8>::new(), 10);
    assert!(out.write(&b"aaaa"[..]).unwrap());
    assert!(out.write(&b"bbbb"[..]).unwrap());
    assert!(!out.needs_drain());
    assert!(!out.write(&b"cc"[..]).unwrap()); // exactly 10: wait
    assert!(out.needs_drain());
    assert_eq!(out.buffered_len(), 10);
    // The chunk is taken anyway, and nothing reached the writer yet.
    assert!(out.get_ref().is_empty());
    assert!(out.write(Bytes::new()).is_ok());
    assert_eq!(out.buffered_len(), 10);
}

/// Accepts at most 1 KiB per millisecond of (paused) tokio time; records every byte.
struct OneKibPerMs {
    allowance: usize,
    next_ms: Pin<Box<Sleep>>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl OneKibPerMs {
    fn new() -> (Self, Arc<Mutex<Vec<u8>>>) {
        let received = Arc::default();
        let sink = Self {
            allowance: 1024,
            next_ms: Box::pin(tokio::time::sleep(Duration::from_millis(1))),
            received: Arc::clone(&received),
        };
        (sink, received)
    }
}

impl AsyncWrite for OneKibPerMs {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.allowance == 0 {
            std::task::ready!(self.next_ms.as_mut().poll(cx));
            let next = Instant::now() + Duration::from_millis(1);
            self.next_ms.as_mut().reset(next);
            self.allowance = 1024;
        }
        let n = buf.len().min(self.allowance);
        self.allowance -= n;
        self.received.lock().unwrap().extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn a_fast_producer_into_a_1_kib_per_ms_writer_never_buffers_more_than_the_mark_plus_one_chunk()
 {
    const HWM: usize = 16 * 1024;
    const CHUNK: usize = 3000; // not a divisor of the mark: the last write crosses it
    const TOTAL: usize = 1 << 20;
    let (sink, received) = OneKibPerMs::new();
    let mut out = WriteStream::with_high_water_mark(sink, HWM);
    let start = Instant::now();
    let (mut produced, mut most_buffered, mut most_in_flight) = (0, 0, 0);
    let mut expected = Vec::with_capacity(TOTAL);
    while produced < TOTAL {
        let chunk: Vec<u8> = (produced..(produced + CHUNK).min(TOTAL))
            .map(|i| (i % 253) as u8)
            .collect();
        produced += chunk.len();
        expected.extend_from_slice(&chunk);
        let go_on = out.write(chunk).unwrap();
        most_buffered = most_buffered.max(out.buffered_len());
        // Measured from the outside: produced but not yet received by the writer.
        most_in_flight = most_in_flight.max(produced - received.lock().unwrap().len());
        if !go_on {
            out.ready().await.unwrap();
        }
    }
    assert_eq!(out.end().await.unwrap(), TOTAL as u64);
    assert!(
        most_buffered <= HWM + CHUNK,
        "{most_buffered} bytes buffered"
    );
    assert!(
        most_in_flight <= HWM + CHUNK,
        "{most_in_flight} bytes in flight"
    );
    assert!(
        most_buffered >= HWM,
        "the producer must have been held back"
    );
    assert_eq!(*received.lock().unwrap(), expected);
    // The writer's pace was kept: 1 MiB at 1 KiB per ms.
    assert!(
        start.elapsed() >= Duration::from_millis(1023),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn send_keeps_the_same_bound_and_the_sink_side_too() {
    const HWM: usize = 4096;
    let (sink, received) = OneKibPerMs::new();
    let mut out = WriteStream::with_high_water_mark(sink, HWM);
    for i in 0..100u8 {
        out.send(vec![i; 1000]).await.unwrap();
        assert!(out.buffered_len() <= HWM + 1000);
    }
    out.end().await.unwrap();
    assert_eq!(received.lock().unwrap().len(), 100_000);

    let (sink, received) = OneKibPerMs::new();
    let mut out = WriteStream::with_high_water_mark(sink, HWM);
    let chunks =
        futures::stream::iter((0..100u8).map(|i| Ok::<_, Error>(Bytes::from(vec![i; 1000]))));
    let mut chunks = std::pin::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        out.feed(chunk.unwrap()).await.unwrap();
        assert!(out.buffered_len() <= HWM + 1000);
    }
    out.close().await.unwrap();
    assert!(out.is_ended());
    assert_eq!(received.lock().unwrap().len(), 100_000);
}

/// Records what it was asked to do; fails on demand.
#[derive(Default)]
struct Recorder {
    data: Vec<u8>,
    flushes: usize,
    shutdowns: usize,
    writev_calls: usize,
    vectored: bool,
    fail_write: bool,
    fail_shutdown: bool,
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.fail_write {
            return Poll::Ready(Err(io::Error::other("disk full")));
        }
        self.data.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writev_calls += 1;
        let mut n = 0;
        for buf in bufs {
            self.data.extend_from_slice(buf);
            n += buf.len();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flushes += 1;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.fail_shutdown {
            return Poll::Ready(Err(io::Error::other("connection reset")));
        }
        self.shutdowns += 1;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn end_flushes_shuts_down_once_and_refuses_later_writes() {
    let mut out = WriteStream::new(Recorder::default());
    out.write("abc").unwrap();
    assert_eq!(out.end().await.unwrap(), 3);
    assert_eq!(out.end().await.unwrap(), 3);
    assert!(out.is_ended());
    assert!(matches!(out.write("more"), Err(Error::WriteAfterEnd)));
    let recorder = out.into_inner();
    assert_eq!(recorder.data, b"abc");
    assert_eq!((recorder.flushes, recorder.shutdowns), (1, 1));
}

#[tokio::test]
async fn buffered_chunks_go_out_in_one_vectored_write_when_the_writer_supports_it() {
    let recorder = Recorder {
        vectored: true,
        ..Recorder::default()
    };
    let mut out = WriteStream::new(recorder);
    for word in ["one ", "two ", "three"] {
        assert!(out.write(word).unwrap());
    }
    out.ready().await.unwrap();
    assert_eq!(out.get_ref().data, b"one two three");
    assert_eq!(out.get_ref().writev_calls, 1);
}

#[tokio::test]
async fn a_write_error_is_returned_once_then_the_stream_is_destroyed() {
    let recorder = Recorder {
        fail_write: true,
        ..Recorder::default()
    };
    let mut out = WriteStream::with_high_water_mark(recorder, 2);
    assert!(!out.write("abc").unwrap());
    let err = out.ready().await.unwrap_err();
    assert!(
        matches!(&err, Error::Write { written: 0, source } if source.to_string() == "disk full"),
        "{err:?}"
    );
    assert_eq!(out.buffered_len(), 0, "the buffered chunks were dropped");
    assert!(matches!(out.write("x"), Err(Error::Destroyed)));
    assert!(matches!(out.ready().await, Err(Error::Destroyed)));
    assert!(matches!(out.end().await, Err(Error::Destroyed)));
}

#[tokio::test]
async fn a_shutdown_error_names_the_bytes_written() {
    let recorder = Recorder {
        fail_shutdown: true,
        ..Recorder::default()
    };
    let mut out = WriteStream::new(recorder);
    out.write("12345").unwrap();
    let err = out.end().await.unwrap_err();
    assert!(
        matches!(&err, Error::Shutdown { written: 5, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "cannot close the destination after 5 bytes: connection reset"
    );
}

/// Every other poll is `Pending` (waking itself); a ready poll takes at most 3 bytes. Flush
/// and shutdown are `Pending` once each.
#[derive(Default)]
struct Stuttering {
    data: Vec<u8>,
    turn: bool,
    flush_turn: bool,
    shutdown_turn: bool,
    shutdowns: usize,
}

fn stutter(turn: &mut bool, cx: &mut Context<'_>) -> bool {
    *turn = !*turn;
    if *turn {
        cx.waker().wake_by_ref();
    }
    *turn
}

impl AsyncWrite for Stuttering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if stutter(&mut self.turn, cx) {
            return Poll::Pending;
        }
        let n = buf.len().min(3);
        self.data.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if stutter(&mut self.flush_turn, cx) {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if stutter(&mut self.shutdown_turn, cx) {
            return Poll::Pending;
        }
        self.shutdowns += 1;
        Poll::Ready(Ok(()))
    }
}

const WORDS: [&str; 4] = ["alpha ", "beta ", "gamma ", "delta"];

/// For k = 0, 1, 2, …: starts `op` on a stream holding `WORDS`, polls it k times, drops it,
/// then ends the stream; whatever k, the writer receives every byte exactly once, in order.
/// Stops once k polls are enough for `op` to complete.
fn cancel_at_every_poll(
    op: impl for<'a> Fn(
        &'a mut WriteStream<Stuttering>,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>,
) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut k = 0;
    loop {
        let mut out = WriteStream::with_high_water_mark(Stuttering::default(), 8);
        for word in WORDS {
            out.write(word).unwrap();
        }
        let completed = rt.block_on(async {
            let mut task = tokio_test::task::spawn(op(&mut out));
            for _ in 0..k {
                if task.poll().is_ready() {
                    return true;
                }
            }
            false
        });
        assert!(out.buffered_len() <= WORDS.concat().len());
        let before = out.bytes_written();
        let total = rt.block_on(out.end()).unwrap();
        assert!(total >= before);
        let writer = out.into_inner();
        assert_eq!(
            String::from_utf8(writer.data).unwrap(),
            WORDS.concat(),
            "k = {k}"
        );
        assert_eq!(writer.shutdowns, 1);
        if completed {
            return k;
        }
        k += 1;
    }
}

#[test]
fn ready_cancelled_at_any_poll_loses_and_repeats_nothing() {
    let polls = cancel_at_every_poll(|out| Box::pin(out.ready()));
    assert!(
        polls > 5,
        "the writer must have made ready wait ({polls} polls)"
    );
}

#[test]
fn send_cancelled_at_any_poll_loses_and_repeats_nothing() {
    // The chunk is taken at the first poll: a send dropped after it leaves it buffered, one
    // dropped before it takes nothing; end() then writes what was taken. The "!" lands at the
    // end either way, or not at all.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut k = 0;
    loop {
        let mut out = WriteStream::with_high_water_mark(Stuttering::default(), 8);
        for word in WORDS {
            out.write(word).unwrap();
        }
        let completed = rt.block_on(async {
            let mut task = tokio_test::task::spawn(out.send("!"));
            for _ in 0..k {
                if task.poll().is_ready() {
                    return true;
                }
            }
            false
        });
        rt.block_on(out.end()).unwrap();
        let data = String::from_utf8(out.into_inner().data).unwrap();
        let expected = if k == 0 {
            WORDS.concat()
        } else {
            WORDS.concat() + "!"
        };
        assert_eq!(data, expected, "k = {k}");
        if completed {
            assert!(k > 5);
            return;
        }
        k += 1;
    }
}

#[test]
fn flush_and_end_cancelled_at_any_poll_lose_and_repeat_nothing() {
    let polls = cancel_at_every_poll(|out| Box::pin(out.flush()));
    assert!(polls > 5);
    let polls = cancel_at_every_poll(|out| Box::pin(async move { out.end().await.map(drop) }));
    assert!(polls > 5);
}

#[tokio::test]
async fn a_writer_that_is_always_ready_still_lets_neighbours_run() {
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn({
        let ran = ran.clone();
        async move { ran.store(true, std::sync::atomic::Ordering::Release) }
    });
    let mut out = WriteStream::with_high_water_mark(tokio::io::sink(), 16);
    let mut sent = 0;
    while !ran.load(std::sync::atomic::Ordering::Acquire) {
        out.send(&b"0123456789"[..]).await.unwrap();
        sent += 1;
        assert!(sent < 100_000, "the neighbour never ran");
    }
}
