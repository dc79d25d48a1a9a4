//! `concat` (bounded, for streams) and `buffer_concat` (Node's `Buffer.concat`).

use std::future::poll_fn;
use std::pin::pin;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use crate::Error;

/// Joins every chunk of `stream` into one `Bytes`, refusing to hold more than `limit` bytes.
///
/// The book's correct way to join chunks (`chunks.push(chunk)`, then `Buffer.concat(chunks,
/// size)`) with the bound Node leaves out. Chunks are kept as they arrive (reference-counted, no
/// copy) and joined with one copy at the end; a stream of one chunk is returned as it is, without
/// any copy. The limit is checked on each chunk *before* it is kept, so at most `limit` bytes
/// are ever held, and the stream is dropped (a file stream stops reading) as soon as it is hit.
/// A file stream knows its length up front: [`ReadStream::concat`](crate::ReadStream::concat)
/// refuses one that is too long before gathering any chunk.
///
/// # Errors
///
/// - [`Error::LimitExceeded`] when the chunks add up to more than `limit` bytes; `at_least` is
///   the total including the chunk that went over.
/// - The first error of the stream, as it came.
///
/// # Cancel safety
///
/// Dropping the future drops the stream and every chunk gathered so far.
///
/// # Examples
///
/// ```
/// use nodebook_streams::{concat, Error, ReadOptions, ReadStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let options = ReadOptions::new().high_water_mark(4);
/// let stream = ReadStream::from_reader(&b"a poem of twenty-six bytes"[..], options)?;
/// assert_eq!(concat(stream, 1024).await?, &b"a poem of twenty-six bytes"[..]);
///
/// let stream = ReadStream::from_reader(&b"a poem of twenty-six bytes"[..], options)?;
/// let err = concat(stream, 10).await.unwrap_err();
/// assert!(matches!(err, Error::LimitExceeded { limit: 10, at_least: 12 }));
/// # Ok(())
/// # }
/// ```
pub async fn concat<S>(stream: S, limit: usize) -> Result<Bytes, Error>
where
    S: Stream<Item = Result<Bytes, Error>>,
{
    let mut stream = pin!(stream);
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let chunk = chunk?;
        if chunk.len() > limit - total {
            #[cfg(feature = "tracing")]
            tracing::debug!(
                target: "nodebook_streams",
                limit,
                at_least = total + chunk.len(),
                "concat refused a stream over its size limit"
            );
            return Err(Error::LimitExceeded {
                limit,
                at_least: total as u64 + chunk.len() as u64,
            });
        }
        total += chunk.len();
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => {
            let mut joined = BytesMut::with_capacity(total);
            for chunk in &chunks {
                joined.extend_from_slice(chunk);
            }
            joined.freeze()
        }
    })
}

/// Node's `Buffer.concat(list, totalLength)`: the buffers of `list` one after the other, cut or
/// padded to `total_length`.
///
/// With `total_length` `None` the result is exactly the buffers joined. With
/// `Some(n)`, the result is exactly `n` bytes: the joined buffers are truncated when longer and
/// the tail is zero-filled when shorter, as Node does. One allocation, one copy. As in Node,
/// an empty `list` gives an empty result whatever `total_length` says.
///
/// # Errors
///
/// [`Error::LimitExceeded`] when the length asked for (or the sum of the buffers) exceeds
/// `isize::MAX`, the most one allocation may hold (Node throws a `RangeError` there).
///
/// # Examples
///
/// ```
/// use nodebook_streams::buffer_concat;
///
/// # fn main() -> Result<(), nodebook_streams::Error> {
/// let list: [&[u8]; 2] = [b"abc", b"defg"];
/// assert_eq!(buffer_concat(&list, None)?, &b"abcdefg"[..]);
/// assert_eq!(buffer_concat(&list, Some(5))?, &b"abcde"[..]);
/// assert_eq!(buffer_concat(&list, Some(9))?, &b"abcdefg\0\0"[..]);
/// assert_eq!(buffer_concat::<&[u8]>(&[], Some(4))?, &b""[..]);
/// # Ok(())
/// # }
/// ```
pub fn buffer_concat<B: AsRef<[u8]>>(
    list: &[B],
    total_length: Option<usize>,
) -> Result<Bytes, Error> {
    if list.is_empty() {
        return Ok(Bytes::new());
    }
    let max = isize::MAX.unsigned_abs();
    let total = match total_length {
        Some(total) => total,
        None => list
            .iter()
            .try_fold(0usize, |sum, buf| sum.checked_add(buf.as_ref().len()))
            .unwrap_or(usize::MAX),
    };
    if total > max {
        return Err(Error::LimitExceeded {
            limit: max,
            at_least: total as u64,
        });
    }
    let mut joined = BytesMut::with_capacity(total);
    for buf in list {
        let room = total - joined.len();
        if room == 0 {
            break;
        }
        let buf = buf.as_ref();
        joined.extend_from_slice(&buf[..buf.len().min(room)]);
    }
    joined.resize(total, 0);
    Ok(joined.freeze())
}
