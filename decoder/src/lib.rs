//! Streaming text decoding that never garbles a character split across chunks.
//!
//! **Under construction:** the API lands with the decoder issue.
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
