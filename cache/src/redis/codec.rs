//! [`Codec`]: how values become the bytes stored in Redis, and back.

use std::sync::Arc;

use bytes::Bytes;

/// Turns values into the bytes stored in Redis and back.
///
/// Built in: [`BytesCodec`] for [`Bytes`], [`StrCodec`] for `String` and `Arc<str>`, and with
/// the `serde` feature [`JsonCodec`] for any serde value. A value that fails to decode (written
/// by an older version of the service, say) is treated as a miss and loaded again.
///
/// # Examples
///
/// ```
/// use nodebook_cache::redis::{Codec, CodecError};
///
/// /// Stores a `u64` as eight big-endian bytes.
/// #[derive(Debug)]
/// struct U64Codec;
///
/// impl Codec<u64> for U64Codec {
///     fn encode(&self, value: &u64) -> Result<Vec<u8>, CodecError> {
///         Ok(value.to_be_bytes().to_vec())
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
pub trait Codec<V>: Send + Sync + 'static {
    /// The bytes to store for `value`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if `value` cannot be encoded; the value still answers its callers and
    /// stays in the local tier, but is not written to Redis.
    fn encode(&self, value: &V) -> Result<Vec<u8>, CodecError>;

    /// The value stored as `bytes`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if `bytes` is not a value of this codec; the cache then treats the key
    /// as missing and loads it again.
    fn decode(&self, bytes: &[u8]) -> Result<V, CodecError>;
}

/// Why a value could not be encoded or decoded.
///
/// # Examples
///
/// ```
/// use nodebook_cache::redis::CodecError;
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

/// Stores [`Bytes`] as they are.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use nodebook_cache::redis::{BytesCodec, Codec};
///
/// let stored = BytesCodec.encode(&Bytes::from_static(b"\x00\xff"))?;
/// assert_eq!(BytesCodec.decode(&stored)?, Bytes::from_static(b"\x00\xff"));
/// # Ok::<(), nodebook_cache::redis::CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec<Bytes> for BytesCodec {
    fn encode(&self, value: &Bytes) -> Result<Vec<u8>, CodecError> {
        Ok(value.to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(bytes))
    }
}

/// Stores text as UTF-8, for `String` and `Arc<str>` values; bytes that are not UTF-8 fail to
/// decode.
///
/// # Examples
///
/// ```
/// use nodebook_cache::redis::{Codec, StrCodec};
///
/// let stored = StrCodec.encode(&"héllo".to_string())?;
/// let back: String = StrCodec.decode(&stored)?;
/// assert_eq!(back, "héllo");
/// assert!(<StrCodec as Codec<String>>::decode(&StrCodec, b"\xff").is_err());
/// # Ok::<(), nodebook_cache::redis::CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StrCodec;

impl Codec<String> for StrCodec {
    fn encode(&self, value: &String) -> Result<Vec<u8>, CodecError> {
        Ok(value.as_bytes().to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(CodecError::new)
    }
}

impl Codec<Arc<str>> for StrCodec {
    fn encode(&self, value: &Arc<str>) -> Result<Vec<u8>, CodecError> {
        Ok(value.as_bytes().to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Arc<str>, CodecError> {
        std::str::from_utf8(bytes)
            .map(Arc::from)
            .map_err(CodecError::new)
    }
}

/// Stores any serde value as JSON (feature `serde`).
///
/// # Examples
///
/// ```
/// use nodebook_cache::redis::{Codec, JsonCodec};
///
/// #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct User { id: u32, name: String }
///
/// let ada = User { id: 1, name: "Ada".into() };
/// let stored = JsonCodec.encode(&ada)?;
/// assert_eq!(stored, br#"{"id":1,"name":"Ada"}"#);
/// assert_eq!(JsonCodec.decode(&stored).ok(), Some(ada));
/// # Ok::<(), nodebook_cache::redis::CodecError>(())
/// ```
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

#[cfg(feature = "serde")]
impl<V> Codec<V> for JsonCodec
where
    V: serde::Serialize + serde::de::DeserializeOwned,
{
    fn encode(&self, value: &V) -> Result<Vec<u8>, CodecError> {
        serde_json::to_vec(value).map_err(CodecError::new)
    }

    fn decode(&self, bytes: &[u8]) -> Result<V, CodecError> {
        serde_json::from_slice(bytes).map_err(CodecError::new)
    }
}
