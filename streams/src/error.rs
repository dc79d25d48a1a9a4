//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while opening, reading, decoding, joining, writing or piping a
/// stream.
///
/// A stream that yields an `Err` is finished: the next poll returns `None`. Every variant carries
/// what the caller needs to report or recover: the path and the operation for file errors, the
/// limit that was hit, the bytes already written for pipe errors.
///
/// # Examples
///
/// ```
/// use nodebook_streams::{Error, ReadOptions};
///
/// let err = ReadOptions::new().start(10).end(3).validate().unwrap_err();
/// assert!(matches!(err, Error::InvalidRange { start: 10, end: 3 }));
/// assert_eq!(err.to_string(), "invalid range: start 10 is after end 3 (both are inclusive)");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `high_water_mark` was 0 or above [`MAX_HIGH_WATER_MARK`](crate::MAX_HIGH_WATER_MARK).
    #[error(
        "invalid high_water_mark {high_water_mark}: it must be between 1 and {} bytes",
        crate::MAX_HIGH_WATER_MARK
    )]
    InvalidHighWaterMark {
        /// The rejected value.
        high_water_mark: usize,
    },
    /// `start` was after `end` (Node's `ERR_OUT_OF_RANGE`).
    #[error("invalid range: start {start} is after end {end} (both are inclusive)")]
    InvalidRange {
        /// The first byte offset asked for.
        start: u64,
        /// The last byte offset asked for (inclusive).
        end: u64,
    },
    /// Opening the file failed: missing, a directory, no permission, …
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The path given to [`ReadStream::open`](crate::ReadStream::open).
        path: PathBuf,
        /// The operating system's answer; a directory gives [`io::ErrorKind::IsADirectory`].
        source: io::Error,
    },
    /// Seeking to `start` failed.
    #[error("cannot seek {} to offset {offset}: {source}", path.display())]
    Seek {
        /// The file being read.
        path: PathBuf,
        /// The `start` offset.
        offset: u64,
        /// The operating system's answer.
        source: io::Error,
    },
    /// Reading the file failed after it was opened.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file being read.
        path: PathBuf,
        /// The operating system's answer.
        source: io::Error,
    },
    /// Reading from a reader given to [`ReadStream::from_reader`](crate::ReadStream::from_reader)
    /// or [`ReadStream::from_blocking_reader`](crate::ReadStream::from_blocking_reader) failed.
    #[error("cannot read from the reader: {source}")]
    Read {
        /// The reader's error.
        source: io::Error,
    },
    /// Writing to the destination of a [`pipe`](crate::pipe), a [`pipeline`](crate::pipeline())
    /// or a [`WriteStream`](crate::WriteStream) failed, or it accepted zero bytes
    /// ([`io::ErrorKind::WriteZero`]).
    #[error("cannot write to the destination after {written} bytes: {source}")]
    Write {
        /// Bytes the destination accepted before the error.
        written: u64,
        /// The writer's error.
        source: io::Error,
    },
    /// Shutting down the destination (closing it for writing) failed, in
    /// [`WriteStream::end`](crate::WriteStream::end) or at the end of a
    /// [`pipeline`](crate::pipeline()).
    #[error("cannot close the destination after {written} bytes: {source}")]
    Shutdown {
        /// Bytes the destination accepted before the shutdown.
        written: u64,
        /// The writer's error.
        source: io::Error,
    },
    /// [`WriteStream::write`](crate::WriteStream::write) after
    /// [`end`](crate::WriteStream::end) (Node's `ERR_STREAM_WRITE_AFTER_END`): the chunk was not
    /// taken.
    #[error("write after end: the write stream was ended, create a new one to write more")]
    WriteAfterEnd,
    /// A [`WriteStream`](crate::WriteStream) whose writer failed earlier was used again (Node's
    /// `ERR_STREAM_DESTROYED`): the first error was returned then, and the chunks still
    /// buffered were dropped with it.
    #[error("the write stream was destroyed by an earlier write error; create a new one")]
    Destroyed,
    /// Flushing the destination of a [`pipe`](crate::pipe) or a
    /// [`WriteStream`](crate::WriteStream) failed.
    #[error("cannot flush the destination after {written} bytes: {source}")]
    Flush {
        /// Bytes the destination accepted before the flush.
        written: u64,
        /// The writer's error.
        source: io::Error,
    },
    /// The encoding label is unknown (Node's `ERR_UNKNOWN_ENCODING`), or strict decoding failed.
    #[error(transparent)]
    Decode(#[from] nodebook_decoder::Error),
    /// A line of a [`Lines`](crate::Lines) stream is longer than its maximum.
    #[error("line {line} is longer than the maximum of {max_line_length} bytes")]
    LineTooLong {
        /// 1-based number of the line.
        line: u64,
        /// The maximum given to [`Lines`](crate::Lines).
        max_line_length: usize,
    },
    /// [`concat`](crate::concat) would need more than `limit` bytes.
    #[error(
        "concat limit exceeded: the stream holds at least {at_least} bytes, the limit is {limit}"
    )]
    LimitExceeded {
        /// The limit given to `concat`.
        limit: usize,
        /// Bytes known to be in the stream when the limit was hit (a lower bound).
        at_least: u64,
    },
}
