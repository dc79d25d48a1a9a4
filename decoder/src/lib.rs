//! Streaming text decoding that never garbles a character split across chunks: Node's
//! `StringDecoder` for Rust, with every legacy encoding of the WHATWG Encoding Standard besides.
//!
//! Bytes arrive in chunks (a socket read, a file read of `high_water_mark` bytes) and a
//! multi-byte character may straddle two of them. Decoding each chunk on its own turns the two
//! halves into U+FFFD; a [`StringDecoder`] returns the complete characters of each chunk and
//! holds the unfinished tail back until the next one (the book, section 6.3).
//!
//! ```
//! use nodebook_decoder::StringDecoder;
//!
//! let poem = "床前明月光，疑是地上霜。";
//! let chunks: Vec<&[u8]> = poem.as_bytes().chunks(11).collect();
//!
//! // Decoding chunk by chunk garbles the characters cut at the boundaries...
//! let naive: String = chunks.iter().map(|c| String::from_utf8_lossy(c)).collect();
//! assert_ne!(naive, poem);
//! assert!(naive.contains('\u{fffd}'));
//!
//! // ...the decoder does not.
//! let mut decoder = StringDecoder::new("utf8")?;
//! let mut text = String::new();
//! for chunk in &chunks {
//!     decoder.write_into(chunk, &mut text);
//! }
//! decoder.end_into(&mut text);
//! assert_eq!(text, poem);
//! # Ok::<(), nodebook_decoder::Error>(())
//! ```
//!
//! # Encodings
//!
//! Node's names resolve first, case-insensitively, and follow Node's rules to the character
//! (checked write by write against Node 20 on recorded cases):
//!
//! | Label(s) | Output |
//! |---|---|
//! | `utf8`, `utf-8` | UTF-8; malformed input becomes U+FFFD by the "maximal subpart" rule (one for a truncated sequence, six for `ED A0 B5 ED B0 8D`); a BOM is kept as U+FEFF |
//! | `utf16le`, `utf-16le`, `ucs2`, `ucs-2` | UTF-16LE; an odd trailing byte is dropped at `end`, as Node does; a lone surrogate becomes U+FFFD (Node emits it raw, which a Rust `String` cannot hold) |
//! | `latin1`, `binary` | ISO-8859-1: byte `b` becomes U+00`b` (not windows-1252) |
//! | `ascii` | the high bit of each byte is cleared (`E9` becomes `i`) |
//! | `base64`, `base64url` | the bytes as base64: `len % 3` bytes wait for their group; `end` flushes them with `=` padding (base64) or without (base64url) |
//! | `hex` | the bytes as lowercase hexadecimal |
//!
//! Every other label goes to `encoding_rs` (0.8.44 or newer, WHATWG rules, no BOM sniffing):
//! `gbk`, `gb18030`, `big5`, `shift_jis`, `euc-jp`, `iso-2022-jp`, `euc-kr`, `windows-1252`,
//! `koi8-r`, `utf-16be`, ... — what `iconv-lite` adds in Node. Unknown labels are an
//! [`Error::UnknownEncoding`] naming the label.
//!
//! # Node to Rust
//!
//! | Node | Rust |
//! |---|---|
//! | `new StringDecoder(enc)` | [`StringDecoder::new`]`(label)?`, [`StringDecoder::from_encoding`]`(encoding_rs::GBK)` |
//! | `decoder.write(buf)` | [`StringDecoder::write`]`(&bytes) -> String`, or [`write_into`](StringDecoder::write_into) to append to your `String` |
//! | `decoder.end()` | [`StringDecoder::end`]`() -> String`, or [`end_into`](StringDecoder::end_into); the decoder is reset and reusable |
//! | `decoder.end(buf)` | `write` then `end` |
//! | `decoder.encoding` | [`StringDecoder::encoding`]`()`, an [`Encoding`] whose [`name`](Encoding::name) is `utf8`, `GBK`, ... |
//! | `ERR_UNKNOWN_ENCODING` | [`Error::UnknownEncoding`] |
//! | (no equivalent) | strict decoding: [`try_write`](StringDecoder::try_write) / [`try_end`](StringDecoder::try_end) return [`Error::Malformed`] with the byte offset instead of U+FFFD |
//!
//! # Guarantees
//!
//! - Split invariance: for any bytes and any way of cutting them into chunks (empty chunks
//!   included), the writes plus `end` produce exactly the one-shot decode. This is tested as a
//!   property for every supported encoding.
//! - Bounded memory: a decoder holds at most a few bytes of input between calls, whatever the
//!   stream's length.
//! - No panics on any input (see [`StringDecoder`] for `String`'s own capacity limit).
//!
//! # Feature flags
//!
//! None: the crate always includes every encoding.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod base64;
mod bytewise;
mod encoding;
mod error;
mod string_decoder;
mod utf16;
mod utf8;
mod whatwg;

pub use encoding::Encoding;
pub use error::Error;
pub use string_decoder::StringDecoder;

// The README's examples run as doc tests, so the first code a crates.io reader sees compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
