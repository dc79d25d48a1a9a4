//! `Lines`: text split into lines, with a bound on line length.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::{FusedStream, Stream};
use pin_project::pin_project;

use crate::Error;

/// A stream of the lines of a text stream, each without its `\n` or `\r\n`, every line at most
/// `max_line_length` bytes long.
///
/// Built with [`TextStream::lines`](crate::TextStream::lines) or [`Lines::new`] over any stream
/// of `Result<String, Error>`. A last line without a trailing newline is yielded too; an empty
/// input yields no lines.
///
/// # Memory bound
///
/// A line longer than `max_line_length` bytes (UTF-8, terminator excluded) is an
/// [`Error::LineTooLong`] as soon as that many bytes are pending without a newline, and ends the
/// stream: the buffer never holds more than `max_line_length` + 1 bytes of an unfinished line
/// plus one text chunk. (tokio-util's `LinesCodec` is unbounded by default.)
///
/// # Examples
///
/// ```
/// use futures::TryStreamExt;
/// use nodebook_streams::{Error, ReadOptions, ReadStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let bytes = ReadStream::from_reader(&b"short\nfar too long\n"[..], ReadOptions::new())?;
/// let mut lines = bytes.set_encoding("utf8")?.lines(8);
/// assert_eq!(lines.try_next().await?, Some("short".to_string()));
/// let err = lines.try_next().await.unwrap_err();
/// assert!(matches!(err, Error::LineTooLong { line: 2, max_line_length: 8 }));
/// assert_eq!(lines.try_next().await?, None);
/// # Ok(())
/// # }
/// ```
#[pin_project]
#[must_use = "streams do nothing unless polled"]
pub struct Lines<S> {
    #[pin]
    inner: S,
    max_line_length: usize,
    /// Text received and not yet yielded; lines start at `start`.
    buf: String,
    start: usize,
    /// Where to look for the next `\n` (everything before it, from `start`, has none).
    scan: usize,
    /// 1-based number of the next line.
    line: u64,
    inner_done: bool,
    done: bool,
}

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Lines<crate::TextStream<crate::ReadStream>>>();
};

impl<S> fmt::Debug for Lines<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("max_line_length", &self.max_line_length)
            .field("line", &self.line)
            .field("pending_bytes", &(self.buf.len() - self.start))
            .finish_non_exhaustive()
    }
}

impl<S> Lines<S> {
    /// Splits the text of `stream` into lines of at most `max_line_length` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, TryStreamExt};
    /// use nodebook_streams::{Error, Lines};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let text = stream::iter(["a\nb", "c\n", "d"].map(|s| Ok::<_, Error>(s.to_string())));
    /// let lines: Vec<String> = Lines::new(text, 10).try_collect().await?;
    /// assert_eq!(lines, ["a", "bc", "d"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(stream: S, max_line_length: usize) -> Self {
        Self {
            inner: stream,
            max_line_length,
            buf: String::new(),
            start: 0,
            scan: 0,
            line: 1,
            inner_done: false,
            done: false,
        }
    }
}

impl<S> Stream for Lines<S>
where
    S: Stream<Item = Result<String, Error>>,
{
    type Item = Result<String, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        loop {
            // A complete line in the buffer?
            if let Some(at) = this.buf[*this.scan..].find('\n') {
                let end = *this.scan + at;
                let mut line = &this.buf[*this.start..end];
                line = line.strip_suffix('\r').unwrap_or(line);
                let result = if line.len() > *this.max_line_length {
                    *this.done = true;
                    Err(Error::LineTooLong {
                        line: *this.line,
                        max_line_length: *this.max_line_length,
                    })
                } else {
                    Ok(line.to_string())
                };
                *this.start = end + 1;
                *this.scan = end + 1;
                *this.line += 1;
                return Poll::Ready(Some(result));
            }
            *this.scan = this.buf.len();
            // No newline: drop what was yielded, then bound what is pending.
            this.buf.drain(..*this.start);
            *this.scan -= *this.start;
            *this.start = 0;
            if *this.inner_done {
                *this.done = true;
                let mut last = std::mem::take(this.buf);
                if last.ends_with('\r') {
                    last.pop();
                }
                return Poll::Ready(match last.len() {
                    0 => None,
                    len if len > *this.max_line_length => Some(Err(Error::LineTooLong {
                        line: *this.line,
                        max_line_length: *this.max_line_length,
                    })),
                    _ => Some(Ok(last)),
                });
            }
            // One byte of slack for a `\r` whose `\n` is still to come.
            if this.buf.len() > *this.max_line_length + 1 {
                *this.done = true;
                this.buf.clear();
                return Poll::Ready(Some(Err(Error::LineTooLong {
                    line: *this.line,
                    max_line_length: *this.max_line_length,
                })));
            }
            match ready!(this.inner.as_mut().poll_next(cx)) {
                Some(Ok(text)) => this.buf.push_str(&text),
                Some(Err(err)) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(err)));
                }
                None => *this.inner_done = true,
            }
        }
    }
}

impl<S> FusedStream for Lines<S>
where
    S: Stream<Item = Result<String, Error>>,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}
