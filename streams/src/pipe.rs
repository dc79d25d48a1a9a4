//! `pipe`: Node's `readable.pipe(writable)` with backpressure, for `AsyncWrite`.

use std::future::poll_fn;
use std::io;
use std::pin::pin;

use bytes::{Buf, Bytes};
use futures_core::Stream;
use tokio::io::AsyncWrite;

use crate::Error;

/// Writes every chunk of `stream` into `writer`, flushes it, and returns the number of bytes
/// written: Node's `readable.pipe(writable)`, closer to `stream.pipeline` on errors.
///
/// Backpressure: the next chunk is pulled only once the writer has accepted the whole current
/// one, so a slow writer slows the reads. With a [`ReadStream`](crate::ReadStream) the data
/// held at any time is the chunk being written plus the stream's read-ahead (at most two
/// chunks of `high_water_mark` bytes for files, none for async readers).
///
/// An error on either side ends both: the stream and the writer are dropped (a file stream
/// stops reading) and the error is returned. The writer is flushed at the end but not shut
/// down; call `shutdown` yourself when the destination should see the end (Node's `end: true`).
/// Pass `&mut writer` to keep using the writer afterwards.
///
/// # Errors
///
/// - The first error of the stream, as it came.
/// - [`Error::Write`] when the writer fails or accepts zero bytes
///   ([`io::ErrorKind::WriteZero`]); [`Error::Flush`] when the final flush fails. Both carry
///   the bytes written so far.
///
/// # Cancel safety
///
/// Dropping the future drops the stream (and the writer, when passed by value). Bytes already
/// accepted by the writer stay written; how many is lost with the future, so use
/// [`pipe_with_progress`] when a cancelled copy must be resumed.
///
/// # Examples
///
/// ```
/// use nodebook_streams::{pipe, ReadOptions, ReadStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), nodebook_streams::Error> {
/// let stream = ReadStream::from_reader(&b"move me"[..], ReadOptions::new())?;
/// let mut out = Vec::new();
/// assert_eq!(pipe(stream, &mut out).await?, 7);
/// assert_eq!(out, b"move me");
/// # Ok(())
/// # }
/// ```
pub async fn pipe<S, W>(stream: S, writer: W) -> Result<u64, Error>
where
    S: Stream<Item = Result<Bytes, Error>>,
    W: AsyncWrite,
{
    pipe_with_progress(stream, writer, |_| {}).await
}

/// [`pipe`], calling `progress` with the total bytes written after each chunk.
///
/// # Errors
///
/// As [`pipe`].
///
/// # Cancel safety
///
/// As [`pipe`]; the last value given to `progress` is the number of bytes the writer accepted
/// before the last completed chunk.
///
/// # Examples
///
/// ```
/// use nodebook_streams::{pipe_with_progress, ReadOptions, ReadStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), nodebook_streams::Error> {
/// let stream = ReadStream::from_reader(&b"0123456789"[..], ReadOptions::new().high_water_mark(4))?;
/// let mut seen = Vec::new();
/// let written = pipe_with_progress(stream, tokio::io::sink(), |n| seen.push(n)).await?;
/// assert_eq!((written, seen), (10, vec![4, 8, 10]));
/// # Ok(())
/// # }
/// ```
pub async fn pipe_with_progress<S, W, F>(
    stream: S,
    writer: W,
    mut progress: F,
) -> Result<u64, Error>
where
    S: Stream<Item = Result<Bytes, Error>>,
    W: AsyncWrite,
    F: FnMut(u64),
{
    let mut stream = pin!(stream);
    let mut writer = pin!(writer);
    let mut written = 0u64;
    while let Some(chunk) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let mut chunk = chunk?;
        if chunk.is_empty() {
            continue;
        }
        while chunk.has_remaining() {
            match poll_fn(|cx| writer.as_mut().poll_write(cx, &chunk)).await {
                Ok(0) => {
                    let source =
                        io::Error::new(io::ErrorKind::WriteZero, "the writer accepted 0 bytes");
                    return Err(Error::Write { written, source });
                }
                Ok(n) => {
                    chunk.advance(n);
                    written += n as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(Error::Write { written, source }),
            }
        }
        progress(written);
    }
    poll_fn(|cx| writer.as_mut().poll_flush(cx))
        .await
        .map_err(|source| Error::Flush { written, source })?;
    Ok(written)
}
