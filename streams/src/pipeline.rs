//! `pipeline`: Node's `stream.pipeline(source, ...transforms, destination)`.

use std::future::poll_fn;
use std::pin::pin;

use bytes::Bytes;
use futures_core::Stream;
use tokio::io::AsyncWrite;

use crate::{Error, WriteStream};

/// Runs `source` through `transform` into `writer`, then ends the writer (flush and shutdown)
/// and returns the bytes written: Node's `stream.pipeline(source, ...transforms, destination)`.
///
/// `transform` is any function from the source stream to a stream of byte chunks: the stages of
/// the pipeline, composed inside it, each a `Stream -> Stream` adapter (a
/// [`TextStream`](crate::TextStream) decoder, a [`Lines`](crate::Lines) splitter, a `map_ok`
/// that encodes, a gzip encoder); pass `std::convert::identity` for none. The chunks go
/// through a [`WriteStream`] with the default `high_water_mark`: the next chunk is pulled from
/// the stages only while less than that is waiting for the writer, so a slow writer slows the
/// source, and the data held is at most `high_water_mark` plus one chunk, plus what each stage
/// holds (a file [`ReadStream`](crate::ReadStream): two chunks read ahead at most).
///
/// As in Node, an error anywhere ends every stage:
///
/// - the first error, from the source, a stage or the writer, is returned; nothing after it
///   runs, so there is no second error to hide it;
/// - every stage is dropped before `pipeline` returns (a file source stops reading and closes
///   its file after the read in progress);
/// - the writer is dropped without a shutdown (Node destroys the destination): when it is
///   owned (a `tokio::fs::File`, a socket) that closes it, and the chunks still buffered are
///   discarded. Pass `&mut writer` to keep it.
///
/// On success the stages are dropped first, then the writer is flushed and shut down (Node's
/// `end()`), and a failure there is the error.
///
/// # Errors
///
/// The first error of the source or a stage, as it came; [`Error::Write`], [`Error::Flush`] or
/// [`Error::Shutdown`] from the writer.
///
/// # Cancel safety
///
/// Dropping the future is dropping the pipeline: every stage and the writer are dropped at once
/// (the writer without a shutdown, as after an error), so nothing is left running or open.
///
/// # Examples
///
/// A GBK file, decoded, split into lines, numbered and written as UTF-8:
///
/// ```
/// use bytes::Bytes;
/// use futures::TryStreamExt;
/// use nodebook_streams::{pipeline, ReadOptions, ReadStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), nodebook_streams::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let (src, dst) = (dir.path().join("poem.gbk.txt"), dir.path().join("poem.utf8.txt"));
/// let (gbk, _, _) = encoding_rs::GBK.encode("床前明月光\n疑是地上霜\n");
/// std::fs::write(&src, &gbk).unwrap();
///
/// let source = ReadStream::open(&src, ReadOptions::new().high_water_mark(5)).await?;
/// let out = tokio::fs::File::create(&dst).await.unwrap();
/// let mut number = 0;
/// let written = pipeline(
///     source,
///     |bytes| {
///         bytes
///             .set_encoding("gbk")
///             .expect("a known label")
///             .lines(4096)
///             .map_ok(move |line| {
///                 number += 1;
///                 Bytes::from(format!("{number}: {line}\n"))
///             })
///     },
///     out,
/// )
/// .await?;
/// let text = std::fs::read_to_string(&dst).unwrap();
/// assert_eq!(text, "1: 床前明月光\n2: 疑是地上霜\n");
/// assert_eq!(written, text.len() as u64);
/// # Ok(())
/// # }
/// ```
pub async fn pipeline<S, T, O, W>(source: S, transform: T, writer: W) -> Result<u64, Error>
where
    T: FnOnce(S) -> O,
    O: Stream<Item = Result<Bytes, Error>>,
    W: AsyncWrite + Unpin,
{
    let mut out = WriteStream::new(writer);
    {
        let mut stages = pin!(transform(source));
        while let Some(chunk) = poll_fn(|cx| stages.as_mut().poll_next(cx)).await {
            out.send(chunk?).await?;
        }
    }
    out.end().await
}
