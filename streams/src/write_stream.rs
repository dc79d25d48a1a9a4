//! `WriteStream`: Node's writable side (`fs.createWriteStream`, `writable.write`, `'drain'`,
//! `writable.end`) over any tokio `AsyncWrite`.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_sink::Sink;
use tokio::io::AsyncWrite;

use crate::Error;

/// The most chunks handed to one vectored write (Node's `writev` of the buffered chunks).
const MAX_SLICES: usize = 64;

/// Buffered writes with a high-water mark over any `AsyncWrite`: Node's `Writable`, with
/// backpressure as the point.
///
/// - [`write`](Self::write) takes a chunk without waiting and says whether the caller should
///   wait before the next one: `false` once `high_water_mark` bytes or more are buffered, as
///   Node's `writable.write()` returns `false`.
/// - [`ready`](Self::ready) is Node's `'drain'`: it writes every buffered chunk into the writer.
/// - [`send`](Self::send) is the two together, the loop body of a producer.
/// - [`end`](Self::end) writes what is buffered, flushes, and shuts the writer down (Node's
///   `writable.end()`); [`flush`](Self::flush) stops short of the shutdown.
/// - As a [`Sink<Bytes>`](futures_sink::Sink) it composes with `futures`
///   (`stream.forward(write_stream)`, `SinkExt::send`).
///
/// The writer must be `Unpin`, as files, sockets and `Vec<u8>` are; put any other in
/// `Box::pin`.
///
/// # Where the writing happens
///
/// A `WriteStream` spawns no task: bytes move into the writer while one of its futures
/// ([`ready`](Self::ready), [`send`](Self::send), [`flush`](Self::flush), [`end`](Self::end), or
/// the `Sink` methods) is awaited, in the task that awaits it, like tokio's `BufWriter` and
/// `FramedWrite`. So it works over a borrowed writer, on any runtime, and its memory is exactly
/// what you see in [`buffered_len`](Self::buffered_len). A producer that follows `write`'s
/// answer (or uses `send`) holds at most `high_water_mark` bytes plus one chunk, however slow
/// the writer; chunks written while `write` says `true` wait in memory until the next of those
/// futures, so await [`flush`](Self::flush) when the other side must see them now.
///
/// # Errors and cancellation
///
/// The first error of the writer is returned once, with the bytes it accepted before it; the
/// chunks still buffered are dropped and every later call returns [`Error::Destroyed`] (Node
/// destroys a stream on error). Every future of a `WriteStream` is cancel safe: the chunks and
/// the position inside a half-written chunk live in the stream, not in the future, so a
/// dropped `ready`, `send`, `flush` or `end` loses nothing and the next call goes on where it
/// stopped.
///
/// The futures take part in tokio's cooperative budget, so a producer writing into a writer
/// that is always ready (memory, `/dev/null`) still yields to its neighbours.
///
/// # Examples
///
/// A fast producer into a slow file: `send` waits whenever `high_water_mark` bytes are
/// buffered, so memory stays bounded however fast the producer is.
///
/// ```
/// use nodebook_streams::WriteStream;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), nodebook_streams::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("out.log");
/// let file = tokio::fs::File::create(&path).await.unwrap();
/// let mut out = WriteStream::with_high_water_mark(file, 16 * 1024);
/// for i in 0..10_000 {
///     out.send(format!("line {i}\n")).await?;
///     assert!(out.buffered_len() <= 16 * 1024 + 16);
/// }
/// let written = out.end().await?;
/// assert_eq!(written, std::fs::metadata(&path).unwrap().len());
/// # Ok(())
/// # }
/// ```
#[must_use = "a WriteStream writes nothing until one of its futures is awaited"]
pub struct WriteStream<W> {
    writer: W,
    buffered: VecDeque<Bytes>,
    buffered_len: usize,
    high_water_mark: usize,
    written: u64,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Taking chunks.
    Open,
    /// `end` was called: no more chunks; draining, flushing, shutting down.
    Ending,
    /// The writer was shut down.
    Ended,
    /// The writer failed; the buffered chunks were dropped.
    Failed,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<WriteStream<std::io::Cursor<Vec<u8>>>>();
};

impl<W> fmt::Debug for WriteStream<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteStream")
            .field("buffered_len", &self.buffered_len)
            .field("high_water_mark", &self.high_water_mark)
            .field("written", &self.written)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin> WriteStream<W> {
    /// A write stream over `writer` with the default `high_water_mark` of 64 KiB
    /// ([`DEFAULT_HIGH_WATER_MARK`](crate::DEFAULT_HIGH_WATER_MARK), Node's default for every
    /// stream since Node 22).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::WriteStream;
    ///
    /// let out = WriteStream::new(Vec::<u8>::new());
    /// assert_eq!(out.high_water_mark(), 64 * 1024);
    /// ```
    pub fn new(writer: W) -> Self {
        Self::with_high_water_mark(writer, crate::DEFAULT_HIGH_WATER_MARK)
    }

    /// A write stream over `writer` that asks the caller to wait once `high_water_mark` bytes
    /// are buffered (Node's `highWaterMark` option). 0 is allowed, as in Node: then every
    /// `write` says wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::WriteStream;
    ///
    /// let mut out = WriteStream::with_high_water_mark(Vec::<u8>::new(), 4);
    /// assert!(out.write(&b"abc"[..]).unwrap());
    /// assert!(!out.write(&b"d"[..]).unwrap());
    /// ```
    pub fn with_high_water_mark(writer: W, high_water_mark: usize) -> Self {
        Self {
            writer,
            buffered: VecDeque::new(),
            buffered_len: 0,
            high_water_mark,
            written: 0,
            state: State::Open,
        }
    }

    /// Buffers `chunk` and says whether the caller may go on writing: `Ok(false)` once
    /// [`buffered_len`](Self::buffered_len) reaches `high_water_mark` (Node's `false` from
    /// `writable.write()`); then await [`ready`](Self::ready) before writing more. The chunk is
    /// always taken, as in Node; nothing is written to the writer here (see the type's docs).
    /// An empty chunk is accepted and ignored.
    ///
    /// # Errors
    ///
    /// [`Error::WriteAfterEnd`] after [`end`](Self::end) was called; [`Error::Destroyed`] after
    /// the writer failed. The chunk is not taken then.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::WriteStream;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let mut out = WriteStream::with_high_water_mark(Vec::<u8>::new(), 8);
    /// assert!(out.write("hello")?);
    /// assert!(!out.write(", world")?); // 12 bytes buffered: wait
    /// out.ready().await?;
    /// assert_eq!(out.buffered_len(), 0);
    /// assert_eq!(out.get_ref(), b"hello, world");
    /// # Ok(())
    /// # }
    /// ```
    pub fn write(&mut self, chunk: impl Into<Bytes>) -> Result<bool, Error> {
        self.check_open()?;
        let chunk = chunk.into();
        #[cfg(feature = "tracing")]
        let was_below = !self.needs_drain();
        if !chunk.is_empty() {
            self.buffered_len += chunk.len();
            self.buffered.push_back(chunk);
        }
        let full = self.needs_drain();
        #[cfg(feature = "tracing")]
        if was_below && full {
            tracing::debug!(
                target: "nodebook_streams",
                buffered = self.buffered_len,
                high_water_mark = self.high_water_mark,
                "write stream reached its high-water mark: the caller should wait (backpressure)"
            );
        }
        Ok(!full)
    }

    /// Writes every buffered chunk into the writer: Node's `'drain'`. Returns at once when
    /// nothing is buffered. The writer is not flushed (see [`flush`](Self::flush)).
    ///
    /// # Errors
    ///
    /// [`Error::Write`] when the writer fails or accepts zero bytes (the stream is destroyed);
    /// [`Error::Destroyed`] after an earlier failure.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the chunks not yet written stay buffered, a half-written chunk goes on from
    /// the first byte the writer did not accept.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::WriteStream;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let mut out = WriteStream::with_high_water_mark(Vec::<u8>::new(), 2);
    /// if !out.write("abc")? {
    ///     out.ready().await?;
    /// }
    /// assert_eq!(out.get_ref(), b"abc");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ready(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_drain(cx)).await
    }

    /// [`write`](Self::write), then [`ready`](Self::ready) when `write` says wait: the whole
    /// backpressure protocol in one call.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write) and [`ready`](Self::ready).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe once polled: the chunk is buffered at the first poll and stays buffered if
    /// the future is dropped while waiting. A future dropped before its first poll takes
    /// nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::WriteStream;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let mut out = WriteStream::with_high_water_mark(Vec::<u8>::new(), 4);
    /// for word in ["one ", "two ", "three"] {
    ///     out.send(word).await?;
    /// }
    /// out.end().await?;
    /// assert_eq!(out.get_ref(), b"one two three");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(&mut self, chunk: impl Into<Bytes>) -> Result<(), Error> {
        if self.write(chunk)? {
            // No wait for the writer: still one unit of the task's budget per chunk.
            tokio::task::coop::consume_budget().await;
        } else {
            self.ready().await?;
        }
        Ok(())
    }

    /// Writes every buffered chunk, then flushes the writer.
    ///
    /// # Errors
    ///
    /// As [`ready`](Self::ready); [`Error::Flush`] when the flush fails (the stream is
    /// destroyed).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`ready`](Self::ready); a later call flushes again.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::WriteStream;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let mut out = WriteStream::new(tokio::io::BufWriter::new(Vec::<u8>::new()));
    /// out.write("now")?;
    /// out.flush().await?;
    /// assert_eq!(out.get_ref().get_ref(), b"now");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush_all(cx)).await
    }

    /// Writes every buffered chunk, flushes and shuts the writer down (Node's
    /// `writable.end()`), and returns the total of bytes written. Later writes are refused
    /// with [`Error::WriteAfterEnd`]; calling `end` again returns the same total.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush); [`Error::Shutdown`] when the shutdown fails.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the stream counts as ended from the first poll (no more writes), and a
    /// later `end` goes on where the dropped one stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::{Error, WriteStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let mut out = WriteStream::new(Vec::<u8>::new());
    /// out.write("the end")?;
    /// assert_eq!(out.end().await?, 7);
    /// assert!(matches!(out.write("more"), Err(Error::WriteAfterEnd)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn end(&mut self) -> Result<u64, Error> {
        poll_fn(|cx| self.poll_end(cx)).await
    }

    /// Bytes buffered and not yet accepted by the writer (Node's `writableLength`).
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.buffered_len
    }

    /// The mark at which [`write`](Self::write) says wait (Node's `writableHighWaterMark`).
    #[must_use]
    pub fn high_water_mark(&self) -> usize {
        self.high_water_mark
    }

    /// Whether [`write`](Self::write) would say wait now (Node's `writableNeedDrain`).
    #[must_use]
    pub fn needs_drain(&self) -> bool {
        self.buffered_len >= self.high_water_mark
    }

    /// Bytes the writer has accepted so far.
    #[must_use]
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Whether [`end`](Self::end) has completed (Node's `writableFinished`).
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// The writer.
    #[must_use]
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The writer. Writing to it directly puts those bytes before the buffered chunks.
    #[must_use]
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }

    /// The writer back; the chunks still buffered are dropped (await [`flush`](Self::flush)
    /// first to keep them).
    #[must_use]
    pub fn into_inner(self) -> W {
        self.writer
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.state {
            State::Open => Ok(()),
            State::Ending | State::Ended => Err(Error::WriteAfterEnd),
            State::Failed => Err(Error::Destroyed),
        }
    }

    /// Destroys the stream after a writer error: the buffered chunks are dropped.
    fn fail(&mut self, err: Error) -> Poll<Result<(), Error>> {
        self.state = State::Failed;
        self.buffered.clear();
        self.buffered_len = 0;
        Poll::Ready(Err(err))
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.state == State::Failed {
            return Poll::Ready(Err(Error::Destroyed));
        }
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        while !self.buffered.is_empty() {
            let polled = if self.writer.is_write_vectored() && self.buffered.len() > 1 {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = self.buffered.len().min(MAX_SLICES);
                for (slice, chunk) in slices.iter_mut().zip(&self.buffered) {
                    *slice = IoSlice::new(chunk);
                }
                Pin::new(&mut self.writer).poll_write_vectored(cx, &slices[..count])
            } else {
                Pin::new(&mut self.writer).poll_write(cx, &self.buffered[0])
            };
            match ready!(polled) {
                Ok(0) => {
                    let source =
                        io::Error::new(io::ErrorKind::WriteZero, "the writer accepted 0 bytes");
                    let written = self.written;
                    return self.fail(Error::Write { written, source });
                }
                Ok(n) => {
                    coop.made_progress();
                    self.advance(n);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    let written = self.written;
                    return self.fail(Error::Write { written, source });
                }
            }
        }
        coop.made_progress();
        Poll::Ready(Ok(()))
    }

    /// Drops the first `n` buffered bytes, which the writer accepted.
    fn advance(&mut self, mut n: usize) {
        self.written += n as u64;
        self.buffered_len -= n;
        while n > 0 {
            let front = &mut self.buffered[0];
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.buffered.pop_front();
        }
    }

    fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_drain(cx))?;
        match ready!(Pin::new(&mut self.writer).poll_flush(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(source) => {
                let written = self.written;
                self.fail(Error::Flush { written, source })
            }
        }
    }

    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<u64, Error>> {
        match self.state {
            State::Open => self.state = State::Ending,
            State::Ending => {}
            State::Ended => return Poll::Ready(Ok(self.written)),
            State::Failed => return Poll::Ready(Err(Error::Destroyed)),
        }
        ready!(self.poll_flush_all(cx))?;
        match ready!(Pin::new(&mut self.writer).poll_shutdown(cx)) {
            Ok(()) => {
                self.state = State::Ended;
                Poll::Ready(Ok(self.written))
            }
            Err(source) => {
                let written = self.written;
                self.fail(Error::Shutdown { written, source })
                    .map(|result| result.map(|()| written))
            }
        }
    }
}

/// `poll_ready` waits for the buffer to drain once it holds `high_water_mark` bytes,
/// `start_send` is [`write`](WriteStream::write), `poll_flush` is
/// [`flush`](WriteStream::flush), `poll_close` is [`end`](WriteStream::end).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use futures::StreamExt;
/// use nodebook_streams::WriteStream;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), nodebook_streams::Error> {
/// let words = futures::stream::iter(["a", "b", "c"].map(|w| Ok(Bytes::from(w))));
/// let mut out = WriteStream::with_high_water_mark(Vec::<u8>::new(), 1);
/// words.forward(&mut out).await?;
/// assert!(out.is_ended());
/// assert_eq!(out.get_ref(), b"abc");
/// # Ok(())
/// # }
/// ```
impl<W: AsyncWrite + Unpin> Sink<Bytes> for WriteStream<W> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        this.check_open()?;
        if this.needs_drain() {
            ready!(this.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, chunk: Bytes) -> Result<(), Error> {
        self.get_mut().write(chunk).map(drop)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_all(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_end(cx).map(|result| result.map(drop))
    }
}
