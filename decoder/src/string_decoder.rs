//! The public `StringDecoder`: one type over every encoding.

use std::fmt;

use crate::base64::Base64;
use crate::utf8::Utf8;
use crate::utf16::Utf16Le;
use crate::whatwg::Whatwg;
use crate::{Encoding, Error, bytewise};

/// A streaming decoder that turns chunks of bytes into text without ever splitting a
/// character: Node's `StringDecoder` (`require('string_decoder')`).
///
/// [`write`](Self::write) returns every character that is complete so far and keeps the bytes
/// of an unfinished one for the next call; [`end`](Self::end) flushes what is held back and
/// resets, so the same decoder serves the next stream, as in Node.
///
/// # Buffer contract
///
/// - Every input byte is consumed; at most a few bytes are held between calls (three for
///   UTF-8 and UTF-16LE, two for base64, the `encoding_rs` decoder's own small state for
///   WHATWG encodings). Memory use does not grow with the stream; a WHATWG decoder may keep
///   a scratch buffer of at most about 200 KiB (one 64 KiB slice's worst-case output) when
///   `write_into` targets a `String` with far more spare capacity than a call needs.
/// - Output never splits a character: the text of all writes plus `end` equals the one-shot
///   decode of all bytes, however they were chunked (empty chunks included).
/// - Malformed input becomes U+FFFD (one per maximal subpart for UTF-8, one per lone
///   surrogate for UTF-16LE); the `try_*` methods report it as [`Error::Malformed`] instead.
///   No input makes a decoder panic; the one panic left is `String`'s own capacity overflow,
///   when the text of a single call would exceed `isize::MAX` bytes (possible only on 32-bit
///   targets, for hex, base64 or latin1 output of more than half the address space).
///
/// # Differences from Node
///
/// Node's output for `utf16le` may hold lone surrogates, which a Rust `String` cannot: each
/// becomes U+FFFD, and a lead surrogate at the end of a chunk is always held back until the
/// next code unit arrives (Node emits it at once when the chunk has an odd length). Otherwise
/// every write returns what Node's returns, character for character.
///
/// # Examples
///
/// The book's poem read in 11-byte chunks (section 6.3): decoding each chunk on its own garbles
/// the characters cut at chunk boundaries, the decoder does not.
///
/// ```
/// use nodebook_decoder::StringDecoder;
///
/// let poem = "床前明月光，疑是地上霜；举头望明月，低头思故乡。";
/// let mut decoder = StringDecoder::new("utf8")?;
/// let mut text = String::new();
/// for chunk in poem.as_bytes().chunks(11) {
///     text += &decoder.write(chunk);
/// }
/// text += &decoder.end();
/// assert_eq!(text, poem);
/// # Ok::<(), nodebook_decoder::Error>(())
/// ```
pub struct StringDecoder {
    encoding: Encoding,
    state: State,
    /// Bytes of the current stream consumed so far (offsets in strict errors).
    position: u64,
}

/// Per-encoding streaming state.
#[derive(Debug)]
enum State {
    Utf8(Utf8),
    Utf16Le(Utf16Le),
    Base64(Base64),
    Latin1,
    Ascii,
    Hex,
    Whatwg(Whatwg),
}

// A decoder moves between tasks and threads with its stream; its types say so at compile time.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<StringDecoder>();
    assert_send_sync::<Encoding>();
    assert_send_sync::<Error>();
};

impl StringDecoder {
    /// Creates a decoder for an encoding label: Node's names first (`utf8`, `utf-8`, `utf16le`,
    /// `utf-16le`, `ucs2`, `ucs-2`, `latin1`, `binary`, `ascii`, `base64`, `base64url`, `hex`,
    /// any case), then every WHATWG label `encoding_rs` knows (`gbk`, `gb18030`, `big5`,
    /// `shift_jis`, `euc-jp`, `iso-2022-jp`, `euc-kr`, `windows-1252`, `koi8-r`, ...). See
    /// [`Encoding::for_label`] for where the two disagree.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEncoding`] naming the label (Node's `ERR_UNKNOWN_ENCODING`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::{Encoding, StringDecoder};
    ///
    /// assert_eq!(StringDecoder::new("UCS-2")?.encoding(), Encoding::Utf16Le);
    /// assert!(StringDecoder::new("utf-32").is_err());
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    pub fn new(label: &str) -> Result<Self, Error> {
        Encoding::for_label(label).map(Self::with_encoding)
    }

    /// Creates a decoder for an `encoding_rs` encoding. `UTF_8` gets [`Encoding::Utf8`]
    /// (identical rules); every other encoding, including `UTF_16LE`, keeps WHATWG rules.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    ///
    /// let mut decoder = StringDecoder::from_encoding(encoding_rs::SHIFT_JIS);
    /// assert_eq!(decoder.write(&[0x93, 0xfa, 0x96]), "日");
    /// assert_eq!(decoder.write(&[0x7b]), "本");
    /// ```
    #[must_use]
    pub fn from_encoding(encoding: &'static encoding_rs::Encoding) -> Self {
        Self::with_encoding(Encoding::from_whatwg(encoding))
    }

    /// Creates a decoder for an [`Encoding`].
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::{Encoding, StringDecoder};
    ///
    /// let mut decoder = StringDecoder::with_encoding(Encoding::Hex);
    /// assert_eq!(decoder.write(b"\x0a\xff"), "0aff");
    /// ```
    #[must_use]
    pub fn with_encoding(encoding: Encoding) -> Self {
        let state = match encoding {
            Encoding::Utf8 => State::Utf8(Utf8::default()),
            Encoding::Utf16Le => State::Utf16Le(Utf16Le::default()),
            Encoding::Latin1 => State::Latin1,
            Encoding::Ascii => State::Ascii,
            Encoding::Base64 => State::Base64(Base64::new(false)),
            Encoding::Base64Url => State::Base64(Base64::new(true)),
            Encoding::Hex => State::Hex,
            Encoding::Whatwg(whatwg) if whatwg == encoding_rs::UTF_8 => {
                return Self::with_encoding(Encoding::Utf8);
            }
            Encoding::Whatwg(whatwg) => State::Whatwg(Whatwg::new(whatwg)),
        };
        Self {
            encoding,
            state,
            position: 0,
        }
    }

    /// The encoding this decoder decodes; its [`name`](Encoding::name) is the canonical name
    /// (Node's `decoder.encoding`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    ///
    /// assert_eq!(StringDecoder::new("BINARY")?.encoding().name(), "latin1");
    /// assert_eq!(StringDecoder::new("x-sjis")?.encoding().name(), "Shift_JIS");
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    #[must_use]
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Decodes a chunk and returns every character completed by it, keeping the bytes of an
    /// unfinished character for the next call (Node's `decoder.write(buffer)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    ///
    /// let mut decoder = StringDecoder::new("utf8")?;
    /// assert_eq!(decoder.write(&[0xe2]), "");
    /// assert_eq!(decoder.write(&[0x82]), "");
    /// assert_eq!(decoder.write(&[0xac]), "€");
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    #[must_use = "the returned text is the decoded output"]
    pub fn write(&mut self, bytes: &[u8]) -> String {
        let mut out = String::with_capacity(self.estimate(bytes.len()));
        self.write_into(bytes, &mut out);
        out
    }

    /// Like [`write`](Self::write), but appends to `out`: no allocation once `out` has room
    /// (except for malformed UTF-8, whose replacement is built on the side).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    ///
    /// let mut decoder = StringDecoder::new("utf16le")?;
    /// let mut text = String::with_capacity(64);
    /// for chunk in [&[0x3d, 0xd8][..], &[0x4d], &[0xdc, 0x61, 0x00]] {
    ///     decoder.write_into(chunk, &mut text);
    /// }
    /// decoder.end_into(&mut text);
    /// assert_eq!(text, "👍a");
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    pub fn write_into(&mut self, bytes: &[u8], out: &mut String) {
        // Lossy decoding never reports a malformed sequence.
        let _ = self.decode(bytes, out, false);
    }

    /// Flushes what is held back and resets the decoder for the next stream (Node's
    /// `decoder.end()`): an unfinished UTF-8 character becomes U+FFFD, base64 emits its last
    /// group with padding (base64url without), an odd trailing UTF-16LE byte is dropped as
    /// Node drops it.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    ///
    /// let mut decoder = StringDecoder::new("base64")?;
    /// assert_eq!(decoder.write(b"a"), "");
    /// assert_eq!(decoder.end(), "YQ==");
    /// assert_eq!(decoder.write(b"aaa"), "YWFh");
    /// assert_eq!(decoder.end(), "");
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    #[must_use = "the returned text is the rest of the decoded output"]
    pub fn end(&mut self) -> String {
        let mut out = String::new();
        self.end_into(&mut out);
        out
    }

    /// Like [`end`](Self::end), but appends to `out`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    ///
    /// let mut decoder = StringDecoder::new("utf8")?;
    /// let mut text = String::new();
    /// decoder.write_into(&[0x61, 0xe2, 0x82], &mut text);
    /// decoder.end_into(&mut text);
    /// assert_eq!(text, "a\u{fffd}");
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    pub fn end_into(&mut self, out: &mut String) {
        // Lossy decoding never reports a malformed sequence.
        let _ = self.finish(out, false);
    }

    /// Strict [`write`](Self::write): fails on the first malformed sequence instead of
    /// replacing it.
    ///
    /// Malformed means invalid UTF-8, a lone UTF-16LE surrogate, an ASCII byte with the high
    /// bit set, or a sequence the WHATWG decoder rejects; latin1, hex and the base64 encodings
    /// accept every byte.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] with the stream offset of the sequence's first byte. The decoder
    /// is then reset for a new stream and the text before the sequence is discarded; use
    /// [`try_write_into`](Self::try_write_into) to keep it.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::{Error, StringDecoder};
    ///
    /// let mut decoder = StringDecoder::new("utf8")?;
    /// assert_eq!(decoder.try_write(b"ok ")?, "ok ");
    /// let err = decoder.try_write(b"\xc3\xa9 \xff").unwrap_err();
    /// assert!(matches!(err, Error::Malformed { offset: 6, .. }));
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    pub fn try_write(&mut self, bytes: &[u8]) -> Result<String, Error> {
        let mut out = String::with_capacity(self.estimate(bytes.len()));
        self.try_write_into(bytes, &mut out)?;
        Ok(out)
    }

    /// Strict [`write_into`](Self::write_into).
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] as for [`try_write`](Self::try_write); `out` then holds every
    /// character before the malformed sequence, and the decoder is reset.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    ///
    /// let mut decoder = StringDecoder::new("gbk")?;
    /// let mut text = String::new();
    /// decoder.try_write_into(b"\xd6\xd0\xce", &mut text)?;
    /// decoder.try_write_into(b"\xc4", &mut text)?;
    /// decoder.try_end_into(&mut text)?;
    /// assert_eq!(text, "中文");
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    pub fn try_write_into(&mut self, bytes: &[u8], out: &mut String) -> Result<(), Error> {
        self.decode(bytes, out, true)
    }

    /// Strict [`end`](Self::end): an unfinished character, or an odd trailing UTF-16LE byte,
    /// is an error instead of U+FFFD (or silence).
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] with the stream offset of the unfinished character. The decoder is
    /// reset either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::{Error, StringDecoder};
    ///
    /// let mut decoder = StringDecoder::new("utf8")?;
    /// assert_eq!(decoder.try_write(b"ab\xe2\x82")?, "ab");
    /// assert!(matches!(decoder.try_end(), Err(Error::Malformed { offset: 2, .. })));
    /// assert_eq!(decoder.try_write(b"\xe2\x82\xac")?, "€");
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    pub fn try_end(&mut self) -> Result<String, Error> {
        let mut out = String::new();
        self.try_end_into(&mut out)?;
        Ok(out)
    }

    /// Strict [`end_into`](Self::end_into).
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] as for [`try_end`](Self::try_end).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::StringDecoder;
    ///
    /// let mut decoder = StringDecoder::new("utf16le")?;
    /// let mut text = String::new();
    /// decoder.try_write_into(&[0x61, 0x00, 0x62], &mut text)?;
    /// assert!(decoder.try_end_into(&mut text).is_err());
    /// assert_eq!(text, "a");
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    pub fn try_end_into(&mut self, out: &mut String) -> Result<(), Error> {
        self.finish(out, true)
    }

    fn decode(&mut self, bytes: &[u8], out: &mut String, strict: bool) -> Result<(), Error> {
        let base = self.position;
        let result = match &mut self.state {
            State::Utf8(utf8) => utf8.write(bytes, out, base, strict),
            State::Utf16Le(utf16) => utf16.write(bytes, out, base, strict),
            State::Base64(base64) => {
                base64.write(bytes, out);
                Ok(())
            }
            State::Latin1 => {
                bytewise::latin1(bytes, out);
                Ok(())
            }
            State::Ascii => bytewise::ascii(bytes, out, base, strict),
            State::Hex => {
                bytewise::hex(bytes, out);
                Ok(())
            }
            State::Whatwg(whatwg) => whatwg.write(bytes, out, base, strict),
        };
        self.position = base.saturating_add(bytes.len() as u64);
        result.map_err(|offset| self.malformed(offset))
    }

    fn finish(&mut self, out: &mut String, strict: bool) -> Result<(), Error> {
        let end = self.position;
        self.position = 0;
        let result = match &mut self.state {
            State::Utf8(utf8) => utf8.end(out, strict),
            State::Utf16Le(utf16) => utf16.end(out, strict, end),
            State::Base64(base64) => {
                base64.end(out);
                Ok(())
            }
            State::Latin1 | State::Ascii | State::Hex => Ok(()),
            State::Whatwg(whatwg) => whatwg.end(out, end, strict),
        };
        result.map_err(|offset| self.malformed(offset))
    }

    /// Builds the strict error and resets for a new stream.
    fn malformed(&mut self, offset: u64) -> Error {
        self.position = 0;
        match &mut self.state {
            State::Utf8(utf8) => utf8.reset(),
            State::Utf16Le(utf16) => utf16.reset(),
            State::Base64(base64) => base64.reset(),
            State::Latin1 | State::Ascii | State::Hex => {}
            State::Whatwg(whatwg) => whatwg.reset(),
        }
        Error::Malformed {
            encoding: self.encoding,
            offset,
        }
    }

    /// A capacity guess for the output of `len` input bytes.
    fn estimate(&self, len: usize) -> usize {
        match self.state {
            State::Utf8(_) | State::Ascii => len.saturating_add(4),
            State::Utf16Le(_) => len.saturating_add(len / 2).saturating_add(4),
            State::Base64(_) => (len / 3).saturating_add(2).saturating_mul(4),
            State::Latin1 | State::Hex => len.saturating_mul(2),
            State::Whatwg(_) => 0,
        }
    }
}

impl Default for StringDecoder {
    /// A UTF-8 decoder, Node's default.
    ///
    /// ```
    /// use nodebook_decoder::{Encoding, StringDecoder};
    ///
    /// assert_eq!(StringDecoder::default().encoding(), Encoding::Utf8);
    /// ```
    fn default() -> Self {
        Self::with_encoding(Encoding::Utf8)
    }
}

impl fmt::Debug for StringDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringDecoder")
            .field("encoding", &self.encoding)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}
