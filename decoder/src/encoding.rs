//! Which encoding a decoder speaks, and how labels resolve to one.

use std::fmt;

use crate::Error;

/// An encoding a [`StringDecoder`](crate::StringDecoder) can decode.
///
/// The first seven variants are Node's own `StringDecoder` encodings and follow Node's rules to
/// the character; [`Encoding::Whatwg`] covers every other encoding of the WHATWG Encoding
/// Standard (what `iconv-lite` adds in Node: GBK, Big5, Shift_JIS, EUC-KR, ...) through
/// `encoding_rs`.
///
/// # Examples
///
/// ```
/// use nodebook_decoder::Encoding;
///
/// assert_eq!(Encoding::for_label("UCS-2")?, Encoding::Utf16Le);
/// assert_eq!(Encoding::for_label("binary")?.name(), "latin1");
/// assert_eq!(Encoding::for_label("gb2312")?, Encoding::Whatwg(encoding_rs::GBK));
/// assert_eq!(Encoding::for_label("gbk")?.to_string(), "GBK");
/// # Ok::<(), nodebook_decoder::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// UTF-8 (`utf8`, `utf-8`). Malformed sequences become U+FFFD by the WHATWG "maximal
    /// subpart" rule; a byte order mark is kept as U+FEFF.
    Utf8,
    /// UTF-16 little endian (`utf16le`, `utf-16le`, `ucs2`, `ucs-2`), with Node's rules except
    /// that a lone surrogate becomes U+FFFD (a Rust `String` cannot hold one).
    Utf16Le,
    /// ISO-8859-1 (`latin1`, `binary`): byte `b` becomes U+00`b` (not windows-1252).
    Latin1,
    /// 7-bit ASCII (`ascii`): the high bit of every byte is cleared, as Node does.
    Ascii,
    /// Base64 of the raw bytes with `+/` and `=` padding (`base64`).
    Base64,
    /// Base64 of the raw bytes with `-_` and no padding (`base64url`).
    Base64Url,
    /// Lowercase hexadecimal of the raw bytes (`hex`).
    Hex,
    /// Any encoding of the WHATWG Encoding Standard, decoded by `encoding_rs`.
    Whatwg(&'static encoding_rs::Encoding),
}

impl Encoding {
    /// Resolves a label: Node's names first (case-insensitively, as Node's `normalizeEncoding`),
    /// then every WHATWG label that `encoding_rs` knows.
    ///
    /// Node's names win where the two disagree: `latin1` and `ascii` are true ISO-8859-1 and
    /// 7-bit ASCII here, not windows-1252 as WHATWG says; `utf-16le` follows Node. The WHATWG
    /// label `utf-16` (no suffix) resolves to `encoding_rs`'s UTF-16LE with WHATWG rules. Every
    /// WHATWG label for UTF-8 resolves to [`Encoding::Utf8`]; the two rule sets agree there.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEncoding`] naming the label when nobody knows it.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::Encoding;
    ///
    /// assert_eq!(Encoding::for_label("UTF-8")?, Encoding::Utf8);
    /// assert_eq!(Encoding::for_label("Latin1")?, Encoding::Latin1);
    /// assert_eq!(Encoding::for_label("shift_jis")?.name(), "Shift_JIS");
    /// assert!(Encoding::for_label("utf-7").is_err());
    /// # Ok::<(), nodebook_decoder::Error>(())
    /// ```
    pub fn for_label(label: &str) -> Result<Self, Error> {
        if let Some(node) = Self::for_node_name(label) {
            return Ok(node);
        }
        encoding_rs::Encoding::for_label(label.as_bytes())
            .map(Self::from_whatwg)
            .ok_or_else(|| Error::UnknownEncoding {
                label: label.to_owned(),
            })
    }

    /// Node's own names, matched case-insensitively.
    fn for_node_name(label: &str) -> Option<Self> {
        const NAMES: [(&str, Encoding); 12] = [
            ("utf8", Encoding::Utf8),
            ("utf-8", Encoding::Utf8),
            ("utf16le", Encoding::Utf16Le),
            ("utf-16le", Encoding::Utf16Le),
            ("ucs2", Encoding::Utf16Le),
            ("ucs-2", Encoding::Utf16Le),
            ("latin1", Encoding::Latin1),
            ("binary", Encoding::Latin1),
            ("ascii", Encoding::Ascii),
            ("base64", Encoding::Base64),
            ("base64url", Encoding::Base64Url),
            ("hex", Encoding::Hex),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(label))
            .map(|&(_, encoding)| encoding)
    }

    /// Wraps an `encoding_rs` encoding; UTF-8 maps to [`Encoding::Utf8`].
    pub(crate) fn from_whatwg(encoding: &'static encoding_rs::Encoding) -> Self {
        if encoding == encoding_rs::UTF_8 {
            Self::Utf8
        } else {
            Self::Whatwg(encoding)
        }
    }

    /// The canonical name: Node's normalized name (`utf8`, `utf16le`, `latin1`, `ascii`,
    /// `base64`, `base64url`, `hex`) for Node's encodings, the WHATWG name (`GBK`, `Big5`,
    /// `Shift_JIS`, ...) for the others.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_decoder::Encoding;
    ///
    /// assert_eq!(Encoding::Utf16Le.name(), "utf16le");
    /// assert_eq!(Encoding::Whatwg(encoding_rs::EUC_KR).name(), "EUC-KR");
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Utf8 => "utf8",
            Self::Utf16Le => "utf16le",
            Self::Latin1 => "latin1",
            Self::Ascii => "ascii",
            Self::Base64 => "base64",
            Self::Base64Url => "base64url",
            Self::Hex => "hex",
            Self::Whatwg(encoding) => encoding.name(),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
