//! The crate's one error type.

use crate::Encoding;

/// What can go wrong when building or driving a [`StringDecoder`](crate::StringDecoder).
///
/// # Examples
///
/// ```
/// use nodebook_decoder::{Error, StringDecoder};
///
/// let err = StringDecoder::new("klingon").unwrap_err();
/// assert!(matches!(err, Error::UnknownEncoding { ref label } if label == "klingon"));
/// assert_eq!(err.to_string(), "unknown encoding `klingon`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The label is neither one of Node's encoding names nor a WHATWG label known to
    /// `encoding_rs` (Node throws `ERR_UNKNOWN_ENCODING` here).
    #[error("unknown encoding `{label}`")]
    UnknownEncoding {
        /// The label exactly as the caller gave it.
        label: String,
    },
    /// Strict decoding met a byte sequence that is not valid in the encoding.
    ///
    /// Only the `try_*` methods of [`StringDecoder`](crate::StringDecoder) return it; the
    /// ordinary methods replace such sequences with U+FFFD as Node does.
    #[error("malformed {encoding} input at byte offset {offset}")]
    Malformed {
        /// The encoding being decoded.
        encoding: Encoding,
        /// Offset of the first byte of the malformed sequence, counted from the start of the
        /// stream (the first write after construction or after the last `end`).
        offset: u64,
    },
}
