//! Read streams with a high-water mark, pooled chunks, decoded text, concat and pipe.
//!
//! **Under construction:** the API lands with the streams issue.
#![doc(test(attr(deny(warnings))))]

mod blocking;
mod concat;
mod error;
mod lines;
mod options;
mod pipe;
mod pool;
mod read_stream;
mod text;

pub use concat::{buffer_concat, concat};
pub use error::Error;
pub use lines::Lines;
pub use options::{DEFAULT_HIGH_WATER_MARK, MAX_HIGH_WATER_MARK, MIN_POOL_SPACE, ReadOptions};
pub use pipe::{pipe, pipe_with_progress};
pub use read_stream::ReadStream;
pub use text::TextStream;
