//! [`Codec`]: how payloads become the bytes that travel through Redis, and back.

use std::sync::Arc;

use bytes::Bytes;

/// Turns payloads into the bytes a [`Bridge`](super::Bridge) sends through Redis, and back.
///
/// Built in: [`BytesCodec`] for [`Bytes`], [`StrCodec`] for `String` and `Arc<str>`, and with
/// the `serde` feature [`JsonCodec`] for any serde payload. A payload that fails to encode is not
/// published; one that fails to decode is not emitted. Both are reported on the bridge's
/// `"error"` event ([`BridgeError::Encode`](super::BridgeError::Encode),
/// [`BridgeError::Decode`](super::BridgeError::Decode)) and the bridge goes on with the next.
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::{Codec, CodecError};
///
/// /// A `u64` as eight big-endian bytes.
/// #[derive(Debug)]
/// struct U64Codec;
///
/// impl Codec<u64> for U64Codec {
///     fn encode(&self, payload: &u64) -> Result<Vec<u8>, CodecError> {
///         Ok(payload.to_be_bytes().to_vec())
///     }
///     fn decode(&self, bytes: &[u8]) -> Result<u64, CodecError> {
///         let bytes: [u8; 8] = bytes.try_into().map_err(CodecError::new)?;
///         Ok(u64::from_be_bytes(bytes))
///     }
/// }
///
/// assert_eq!(U64Codec.decode(&U64Codec.encode(&7)?)?, 7);
/// assert!(U64Codec.decode(b"short").is_err());
/// # Ok::<(), CodecError>(())
/// ```
pub trait Codec<T>: Send + Sync + 'static {
    /// The bytes to send for `payload`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if `payload` cannot be encoded; the local emit still reaches the local
    /// listeners, but is not published.
    fn encode(&self, payload: &T) -> Result<Vec<u8>, CodecError>;

    /// The payload sent as `bytes`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if `bytes` is not a payload of this codec; the remote event is then not
    /// emitted locally.
    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError>;
}

/// Why a payload could not be encoded or decoded.
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::CodecError;
///
/// let err = CodecError::new("not a number");
/// assert_eq!(err.to_string(), "codec: not a number");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("codec: {0}")]
pub struct CodecError(Box<dyn std::error::Error + Send + Sync>);

impl CodecError {
    /// Wraps the codec's own error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

/// Sends [`Bytes`] as they are.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use nodebook_emitter::redis::{BytesCodec, Codec};
///
/// let sent = BytesCodec.encode(&Bytes::from_static(b"\x00\xff"))?;
/// assert_eq!(BytesCodec.decode(&sent)?, Bytes::from_static(b"\x00\xff"));
/// # Ok::<(), nodebook_emitter::redis::CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec<Bytes> for BytesCodec {
    fn encode(&self, payload: &Bytes) -> Result<Vec<u8>, CodecError> {
        Ok(payload.to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(bytes))
    }
}

/// Sends text as UTF-8, for `String` and `Arc<str>` payloads; bytes that are not UTF-8 fail to
/// decode.
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::{Codec, StrCodec};
///
/// let sent = StrCodec.encode(&"héllo".to_string())?;
/// let back: String = StrCodec.decode(&sent)?;
/// assert_eq!(back, "héllo");
/// assert!(<StrCodec as Codec<String>>::decode(&StrCodec, b"\xff").is_err());
/// # Ok::<(), nodebook_emitter::redis::CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StrCodec;

impl Codec<String> for StrCodec {
    fn encode(&self, payload: &String) -> Result<Vec<u8>, CodecError> {
        Ok(payload.as_bytes().to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(CodecError::new)
    }
}

impl Codec<Arc<str>> for StrCodec {
    fn encode(&self, payload: &Arc<str>) -> Result<Vec<u8>, CodecError> {
        Ok(payload.as_bytes().to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Arc<str>, CodecError> {
        std::str::from_utf8(bytes)
            .map(Arc::from)
            .map_err(CodecError::new)
    }
}

/// Sends any serde payload as JSON (feature `serde`).
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::{Codec, JsonCodec};
///
/// #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Price { sku: u32, cents: u64 }
///
/// let price = Price { sku: 7, cents: 1999 };
/// let sent = JsonCodec.encode(&price)?;
/// assert_eq!(sent, br#"{"sku":7,"cents":1999}"#);
/// assert_eq!(JsonCodec.decode(&sent).ok(), Some(price));
/// # Ok::<(), nodebook_emitter::redis::CodecError>(())
/// ```
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

#[cfg(feature = "serde")]
impl<T> Codec<T> for JsonCodec
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    fn encode(&self, payload: &T) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(payload).map_err(CodecError::new)
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(CodecError::new)
    }
}
