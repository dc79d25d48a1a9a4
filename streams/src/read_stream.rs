//! `ReadStream`: Node's `fs.ReadStream` as a `Stream` of `Bytes` chunks.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use crate::blocking::{Ahead, Origin, Reading, clamp};
use crate::pool::Pool;
use crate::{Error, ReadOptions};
use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use tokio::io::AsyncRead;

/// A stream of byte chunks from a file or a reader, Node's `fs.createReadStream`.
///
/// Each item is a chunk of at most `high_water_mark` bytes
/// ([`ReadOptions::high_water_mark`]), read straight into a pooled buffer and handed out
/// without a copy (see the crate docs on chunk buffers). Chunks are shorter than
/// `high_water_mark` only at the end of the range or when the source itself returns a short
/// read; an async reader's short reads are carved from one pool the way the book's
/// `allocNewPool` does, with a new pool when less than [`MIN_POOL_SPACE`](crate::MIN_POOL_SPACE)
/// bytes are left, so there are no tiny tail chunks.
///
/// `ReadStream` is `Send` (not `Sync`: it may own any `Send` reader) and `Unpin`.
///
/// Three sources:
///
/// - [`open`](Self::open): a file, read by a job on tokio's blocking pool straight into the
///   chunk buffers. The job reads while fewer than two chunks wait for the consumer, so the
///   next chunk is read while the consumer works on this one: the read-ahead is at most two
///   chunks (`2 * high_water_mark` bytes), however long the consumer stays away. When two
///   wait, the job gives its thread back (a stalled stream holds none) and the next poll that
///   takes a chunk starts it again. A poll that finds no chunk returns `Pending` at once, with
///   the task's waker registered: nothing spins or sleeps in `poll`. `start` seeks.
/// - [`from_blocking_reader`](Self::from_blocking_reader): any `std::io::Read` (a pipe, a sync
///   decompressor), on the same blocking engine.
/// - [`from_reader`](Self::from_reader): any tokio `AsyncRead`, read only while the stream is
///   polled (no read-ahead at all).
///
/// The first `Err` ends the stream: the next poll returns `None`. Dropping the stream stops any
/// read-ahead and closes the file (after the read in progress, if any). Polling is cancel safe:
/// a `next()` future dropped before it completes loses no chunk.
///
/// Every source takes part in tokio's cooperative budget (`tokio::task::coop`), as tokio's own
/// channels do: a task that reads chunks which are always ready still yields to its
/// neighbours on the worker thread after a while.
///
/// # Examples
///
/// The book's scenario: a file read in chunks of 11 bytes.
///
/// ```
/// use futures::StreamExt;
/// use nodebook_streams::{ReadOptions, ReadStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), nodebook_streams::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("test.md");
/// std::fs::write(&path, "hello, streams of bytes").unwrap();
/// let mut chunks = ReadStream::open(&path, ReadOptions::new().high_water_mark(11)).await?;
/// let mut lengths = Vec::new();
/// while let Some(chunk) = chunks.next().await {
///     lengths.push(chunk?.len());
/// }
/// assert_eq!(lengths, [11, 11, 1]);
/// # Ok(())
/// # }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct ReadStream {
    inner: Inner,
    /// Bytes still to come, when known ([`remaining_len`](Self::remaining_len)).
    remaining_len: Option<u64>,
}

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<ReadStream>();
};

enum Inner {
    /// Chunks read ahead by a blocking job.
    Ahead(Ahead),
    /// An async reader read on demand.
    Reader(Box<ReaderState>),
    /// Ended: all data delivered, or an error was.
    Done,
}

struct ReaderState {
    reader: Pin<Box<dyn AsyncRead + Send>>,
    pool: Pool,
    skip: u64,
    remaining: Option<u64>,
}

impl fmt::Debug for ReadStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.inner {
            Inner::Ahead(_) => "read-ahead job",
            Inner::Reader(_) => "async reader",
            Inner::Done => "ended",
        };
        f.debug_struct("ReadStream")
            .field("source", &source)
            .field("remaining_len", &self.remaining_len)
            .finish_non_exhaustive()
    }
}

impl ReadStream {
    /// Opens `path` and streams its bytes from `start` to `end` (Node's
    /// `fs.createReadStream(path, options)`).
    ///
    /// The file is opened (and sought to `start`) on tokio's blocking pool before this returns;
    /// reading ahead starts at once, at most two chunks ahead of the consumer. A `start` past
    /// the end of the file gives an empty stream, as does an empty file; an `end` past the end
    /// reads to the end.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidHighWaterMark`], [`Error::InvalidRange`]: bad options, nothing opened.
    /// - [`Error::Open`]: missing file, no permission, or a directory
    ///   ([`io::ErrorKind::IsADirectory`]).
    /// - [`Error::Seek`]: seeking to `start` failed.
    ///
    /// Read errors come later, as the stream's last item ([`Error::ReadFile`]).
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime (it needs the blocking pool).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes closes the file as soon as the open finishes;
    /// nothing is read.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::{Error, ReadOptions, ReadStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let err = ReadStream::open("/no/such/file", ReadOptions::new()).await.unwrap_err();
    /// assert!(matches!(err, Error::Open { .. }));
    /// assert!(err.to_string().starts_with("cannot open /no/such/file: "));
    /// # }
    /// ```
    pub async fn open(path: impl AsRef<Path>, options: ReadOptions) -> Result<Self, Error> {
        options.validate()?;
        let path: Arc<Path> = Arc::from(path.as_ref());
        let opening = Arc::clone(&path);
        let opened = tokio::task::spawn_blocking(move || open_at(&opening, options.start)).await;
        let (file, left) = match opened {
            Ok(opened) => opened?,
            Err(_) => {
                return Err(Error::Open {
                    path: path.to_path_buf(),
                    source: io::Error::other("the blocking task ended before the file was opened"),
                });
            }
        };
        let remaining = match (left, options.range_len()) {
            (Some(0), _) => Some(0),
            (_, range) => range,
        };
        // What the stream will yield, if the file's size says: its rest, within the range.
        let remaining_len = left.map(|left| remaining.map_or(left, |range| left.min(range)));
        let reading = Reading::new(
            file,
            options.high_water_mark,
            0,
            remaining,
            Origin::File(path),
        );
        Ok(Self {
            inner: Inner::Ahead(Ahead::start(reading)),
            remaining_len,
        })
    }

    /// Streams the bytes of a blocking `std::io::Read` (a pipe, a sync decoder, a file you
    /// opened yourself), read on tokio's blocking pool with the same read-ahead bound as
    /// [`open`](Self::open).
    ///
    /// The reader cannot seek, so `start` bytes are read and dropped first; `end` stops the
    /// stream after byte `end`. Read errors are [`Error::Read`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHighWaterMark`] or [`Error::InvalidRange`] for bad options.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime (it needs the blocking pool).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use nodebook_streams::{ReadOptions, ReadStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let reader = std::io::Cursor::new(b"0123456789".to_vec());
    /// let stream = ReadStream::from_blocking_reader(reader, ReadOptions::new().start(2).end(5))?;
    /// let chunks: Vec<_> = stream.try_collect().await?;
    /// assert_eq!(chunks.concat(), b"2345");
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_blocking_reader<R>(reader: R, options: ReadOptions) -> Result<Self, Error>
    where
        R: Read + Send + 'static,
    {
        options.validate()?;
        // The reader's own position is unknown: `start` bytes are read and dropped.
        let reading = Reading::new(
            reader,
            options.high_water_mark,
            options.start,
            options.range_len(),
            Origin::Reader,
        );
        Ok(Self {
            inner: Inner::Ahead(Ahead::start(reading)),
            remaining_len: None,
        })
    }

    /// Streams the bytes of a tokio `AsyncRead` (a socket, a decompressor, a `tokio::fs::File`).
    ///
    /// Reads happen only while the stream is polled, straight into the pool's spare capacity:
    /// nothing is read ahead. `start` bytes are read and dropped first; `end` stops the stream
    /// after byte `end`. Read errors are [`Error::Read`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHighWaterMark`] or [`Error::InvalidRange`] for bad options.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use nodebook_streams::{ReadOptions, ReadStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let stream = ReadStream::from_reader(&b"abcdefgh"[..], ReadOptions::new().high_water_mark(3))?;
    /// let chunks: Vec<_> = stream.try_collect().await?;
    /// assert_eq!(chunks, [&b"abc"[..], b"def", b"gh"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_reader<R>(reader: R, options: ReadOptions) -> Result<Self, Error>
    where
        R: AsyncRead + Send + 'static,
    {
        options.validate()?;
        Ok(Self {
            inner: Inner::Reader(Box::new(ReaderState {
                reader: Box::pin(reader),
                pool: Pool::new(options.high_water_mark),
                skip: options.start,
                remaining: options.range_len(),
            })),
            remaining_len: None,
        })
    }

    /// How many bytes the stream will still yield, when it knows: for a regular file opened
    /// with [`open`](Self::open), its size at the open within `start`/`end`, less the chunks
    /// already yielded. `None` for other sources (a FIFO, a reader), whose length is unknown
    /// until they end.
    ///
    /// A file that grows or shrinks after the open yields what it holds when read; this figure
    /// does not follow it.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use nodebook_streams::{ReadOptions, ReadStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("data.bin");
    /// std::fs::write(&path, [7u8; 100]).unwrap();
    /// let options = ReadOptions::new().high_water_mark(30).start(10);
    /// let mut stream = ReadStream::open(&path, options).await?;
    /// assert_eq!(stream.remaining_len(), Some(90));
    /// stream.next().await.unwrap()?;
    /// assert_eq!(stream.remaining_len(), Some(60));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn remaining_len(&self) -> Option<u64> {
        self.remaining_len
    }

    /// Joins the rest of the stream into one `Bytes`, refusing to hold more than `limit` bytes:
    /// [`concat()`](crate::concat()), except that a stream that knows its length
    /// ([`remaining_len`](Self::remaining_len)) and would go over `limit` is refused at once,
    /// before any chunk is gathered (only the chunks the engine reads ahead were read).
    ///
    /// # Errors
    ///
    /// - [`Error::LimitExceeded`] when the stream is longer than `limit`; when the length was
    ///   known up front, `at_least` is that length.
    /// - The first error of the stream, as it came.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the stream and every chunk gathered so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::{Error, ReadOptions, ReadStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("big.bin");
    /// std::fs::write(&path, vec![0u8; 1 << 20]).unwrap();
    /// let stream = ReadStream::open(&path, ReadOptions::new()).await?;
    /// let err = stream.concat(1000).await.unwrap_err();
    /// assert!(matches!(err, Error::LimitExceeded { limit: 1000, at_least: 1_048_576 }));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn concat(self, limit: usize) -> Result<Bytes, Error> {
        match self.remaining_len {
            Some(len) if len > limit as u64 => {
                #[cfg(feature = "tracing")]
                tracing::debug!(
                    target: "nodebook_streams",
                    limit,
                    length = len,
                    "concat refused a file over its size limit before reading it"
                );
                Err(Error::LimitExceeded {
                    limit,
                    at_least: len,
                })
            }
            _ => crate::concat(self, limit).await,
        }
    }
}

/// Opens `path` for reading, refuses directories, and seeks to `start`. Returns the file and,
/// for a regular file, how many bytes it holds from `start` on (0 when `start` is past the
/// end: then there is nothing to read and no seek, which the OS refuses beyond `i64::MAX`).
fn open_at(path: &Path, start: u64) -> Result<(File, Option<u64>), Error> {
    let open_error = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    if metadata.is_dir() {
        return Err(open_error(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    let left = metadata
        .is_file()
        .then(|| metadata.len().saturating_sub(start));
    if left == Some(0) {
        return Ok((file, left));
    }
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .map_err(|source| Error::Seek {
                path: PathBuf::from(path),
                offset: start,
                source,
            })?;
    }
    Ok((file, left))
}

impl ReaderState {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        while self.skip > 0 {
            let want = clamp(self.skip);
            let read = ready!(self.poll_read(cx, want));
            match read {
                Ok(0) => return Poll::Ready(None),
                Ok(n) => self.skip -= n as u64,
                Err(err) => return Poll::Ready(Some(Err(err))),
            }
            self.pool.discard();
        }
        let want = match self.remaining {
            Some(0) => return Poll::Ready(None),
            Some(left) => clamp(left),
            None => usize::MAX,
        };
        match ready!(self.poll_read(cx, want)) {
            Ok(0) => Poll::Ready(None),
            Ok(n) => {
                if let Some(left) = &mut self.remaining {
                    *left -= n as u64;
                }
                Poll::Ready(Some(Ok(self.pool.take(n))))
            }
            Err(err) => Poll::Ready(Some(Err(err))),
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<Result<usize, Error>> {
        let mut spare = self.pool.spare(want);
        loop {
            match ready!(tokio_util::io::poll_read_buf(
                self.reader.as_mut(),
                cx,
                &mut spare
            )) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                other => return Poll::Ready(other.map_err(|source| Error::Read { source })),
            }
        }
    }
}

impl Stream for ReadStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = match &mut self.inner {
            // Charges tokio's cooperative budget itself.
            Inner::Ahead(ahead) => ahead.poll_next(cx),
            Inner::Reader(state) => {
                // A reader may be ready again and again (bytes in memory, a decompressor): one
                // unit of the task's budget per chunk, so that a busy consumer still yields.
                let coop = ready!(tokio::task::coop::poll_proceed(cx));
                let polled = state.poll_chunk(cx);
                if polled.is_ready() {
                    coop.made_progress();
                }
                polled
            }
            Inner::Done => return Poll::Ready(None),
        };
        match ready!(polled) {
            Some(Ok(chunk)) => {
                if let Some(left) = &mut self.remaining_len {
                    *left = left.saturating_sub(chunk.len() as u64);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            end => {
                // Nothing more comes, whatever the size at the open said (the file may have
                // shrunk, or an error ended the stream).
                self.inner = Inner::Done;
                self.remaining_len = self.remaining_len.map(|_| 0);
                Poll::Ready(end)
            }
        }
    }
}

impl FusedStream for ReadStream {
    fn is_terminated(&self) -> bool {
        matches!(self.inner, Inner::Done)
    }
}
