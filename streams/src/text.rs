//! `TextStream`: Node's `readable.setEncoding(encoding)`, through the `decoder` crate.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use nodebook_decoder::StringDecoder;
use pin_project::pin_project;

use crate::{Error, Lines};

/// A stream of text decoded from a stream of byte chunks: what Node's `readable.setEncoding`
/// turns a readable into.
///
/// Every chunk goes through one [`nodebook_decoder::StringDecoder`], so a character cut at a chunk
/// boundary is held back and completed by the next chunk instead of turning into U+FFFD
/// garbage (the book's section 6.3). At the end of the input the decoder is flushed: an
/// unfinished character becomes U+FFFD, as in Node. Chunks that decode to nothing so far are
/// skipped, never yielded as empty strings. Every label `decoder` accepts works: Node's names
/// (`utf8`, `utf16le`, `latin1`, `base64`, `hex`, …) and every WHATWG label (`gbk`, `big5`,
/// `shift_jis`, …).
///
/// The first `Err` of the inner stream is passed on and ends the text stream.
///
/// # Memory
///
/// A text stream reads only when polled, so what it holds beyond the inner stream's read-ahead
/// is the text of one chunk and the few bytes of an unfinished character. The inner
/// stream's `high_water_mark` stays a number of **bytes**. Node, by contrast, measures a
/// stream's buffer in characters (UTF-16 units) once `setEncoding` is called, so there the same
/// highWaterMark admits up to three times the bytes of CJK text (nodejs/node#6798).
///
/// # Examples
///
/// ```
/// use futures::TryStreamExt;
/// use nodebook_streams::{ReadOptions, ReadStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), nodebook_streams::Error> {
/// let poem = "床前明月光，疑是地上霜；举头望明月，低头思故乡。";
/// let bytes = ReadStream::from_reader(poem.as_bytes(), ReadOptions::new().high_water_mark(11))?;
/// let text: Vec<String> = bytes.set_encoding("utf8")?.try_collect().await?;
/// assert_eq!(text.concat(), poem);
/// assert_eq!(text[0], "床前明"); // 11 bytes: three characters, two bytes held back
/// # Ok(())
/// # }
/// ```
#[pin_project]
#[must_use = "streams do nothing unless polled"]
pub struct TextStream<S> {
    #[pin]
    inner: S,
    decoder: StringDecoder,
    done: bool,
}

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<TextStream<crate::ReadStream>>();
};

impl<S> fmt::Debug for TextStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextStream")
            .field("encoding", &self.decoder.encoding())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S> TextStream<S> {
    /// Decodes `stream` in the encoding named by `label` (Node's `setEncoding(label)`).
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] wrapping [`nodebook_decoder::Error::UnknownEncoding`] when the label is not
    /// known.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::{Error, ReadOptions, ReadStream, TextStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let bytes = ReadStream::from_reader(&b"\xd6\xd0\xce\xc4"[..], ReadOptions::new())?;
    /// let text = TextStream::new(bytes, "gbk")?;
    /// # drop(text);
    ///
    /// let bytes = ReadStream::from_reader(&b""[..], ReadOptions::new())?;
    /// let err = TextStream::new(bytes, "klingon").unwrap_err();
    /// assert_eq!(err.to_string(), "unknown encoding `klingon`");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(stream: S, label: &str) -> Result<Self, Error> {
        Ok(Self::with_decoder(stream, StringDecoder::new(label)?))
    }

    /// Decodes `stream` with a decoder you built (for example from an `encoding_rs` encoding).
    ///
    /// The decoder should be fresh or just ended: bytes it holds back are completed by the
    /// stream's first chunk.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    /// use futures::TryStreamExt;
    /// use nodebook_streams::{ReadOptions, ReadStream, TextStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let bytes = ReadStream::from_reader(&b"\x82\xa0"[..], ReadOptions::new().high_water_mark(1))?;
    /// let decoder = StringDecoder::from_encoding(encoding_rs::SHIFT_JIS);
    /// let text: Vec<String> = TextStream::with_decoder(bytes, decoder).try_collect().await?;
    /// assert_eq!(text, ["あ"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_decoder(stream: S, decoder: StringDecoder) -> Self {
        Self {
            inner: stream,
            decoder,
            done: false,
        }
    }

    /// Splits the text into lines of at most `max_line_length` bytes; see [`Lines`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use nodebook_streams::{ReadOptions, ReadStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let bytes = ReadStream::from_reader(&b"one\r\ntwo\nthree"[..], ReadOptions::new())?;
    /// let lines: Vec<String> = bytes.set_encoding("utf8")?.lines(80).try_collect().await?;
    /// assert_eq!(lines, ["one", "two", "three"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn lines(self, max_line_length: usize) -> Lines<Self> {
        Lines::new(self, max_line_length)
    }
}

impl<S> Stream for TextStream<S>
where
    S: Stream<Item = Result<Bytes, Error>>,
{
    type Item = Result<String, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        loop {
            match ready!(this.inner.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => {
                    let text = this.decoder.write(&chunk);
                    if !text.is_empty() {
                        return Poll::Ready(Some(Ok(text)));
                    }
                }
                Some(Err(err)) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(err)));
                }
                None => {
                    *this.done = true;
                    let tail = this.decoder.end();
                    return Poll::Ready((!tail.is_empty()).then_some(Ok(tail)));
                }
            }
        }
    }
}

impl<S> FusedStream for TextStream<S>
where
    S: Stream<Item = Result<Bytes, Error>>,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl crate::ReadStream {
    /// Decodes this stream's chunks as text in the encoding named by `label`: Node's
    /// `readable.setEncoding(label)`. See [`TextStream`].
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the label is not known.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use nodebook_streams::{ReadOptions, ReadStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), nodebook_streams::Error> {
    /// let gbk = b"\xd6\xd0\xce\xc4"; // 中文
    /// let bytes = ReadStream::from_reader(&gbk[..], ReadOptions::new().high_water_mark(1))?;
    /// let text: Vec<String> = bytes.set_encoding("gbk")?.try_collect().await?;
    /// assert_eq!(text, ["中", "文"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_encoding(self, label: &str) -> Result<TextStream<Self>, Error> {
        TextStream::new(self, label)
    }
}
