//! Read streams with a high-water mark, pooled chunks, decoded text, bounded concat and pipe
//! with backpressure: the stream chapters of the book (5.4, 6.3, 6.4) for tokio.
//!
//! The book reads a file with `fs.createReadStream(path, { highWaterMark: 11 })`, watches
//! `chunk.toString()` garble Li Bai's poem where a character is cut between chunks, fixes it
//! with `setEncoding('utf8')`, joins chunks with `Buffer.concat`, and measures that a larger
//! `highWaterMark` reads a big file faster. Here is the same scenario:
//!
//! ```
//! use futures::TryStreamExt;
//! use nodebook_streams::{ReadOptions, ReadStream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), nodebook_streams::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("test.md");
//! let poem = "床前明月光，疑是地上霜；举头望明月，低头思故乡。";
//! std::fs::write(&path, poem).unwrap();
//! let options = ReadOptions::new().high_water_mark(11);
//!
//! // Decoding each chunk on its own garbles the characters cut at chunk boundaries…
//! let chunks: Vec<bytes::Bytes> = ReadStream::open(&path, options).await?.try_collect().await?;
//! let garbled: String = chunks.iter().map(|c| String::from_utf8_lossy(c)).collect();
//! assert_ne!(garbled, poem);
//!
//! // …decoding the stream does not.
//! let text = ReadStream::open(&path, options).await?.set_encoding("utf8")?;
//! let decoded: Vec<String> = text.try_collect().await?;
//! assert_eq!(decoded.concat(), poem);
//! # Ok(())
//! # }
//! ```
//!
//! # What is here
//!
//! - [`ReadStream`]: a `Stream` of [`bytes::Bytes`] chunks of at most `high_water_mark` bytes
//!   from a file (with Node's inclusive `start`/`end`), a blocking `std::io::Read` or a tokio
//!   `AsyncRead`. Files are read on tokio's blocking pool, one job per chunk, straight into the
//!   chunk buffers and at most one chunk ahead of the consumer; nothing spins or sleeps in
//!   `poll`, a stalled stream holds no thread, and every stream takes part in tokio's
//!   cooperative budget.
//! - [`TextStream`] ([`ReadStream::set_encoding`]): the chunks decoded by
//!   [`nodebook_decoder::StringDecoder`], in any encoding it knows (Node's and every WHATWG one, GBK
//!   included); [`Lines`] splits text into lines with a maximum length.
//! - [`concat()`]: a whole stream as one `Bytes` under a size limit ([`ReadStream::concat`]
//!   refuses a file known to be too long before reading it); [`buffer_concat`]: Node's
//!   `Buffer.concat(list, totalLength)` exactly.
//! - [`pipe`], [`pipe_with_progress`]: a stream into any `AsyncWrite` with backpressure.
//!
//! # Node names
//!
//! | Node | here |
//! |---|---|
//! | `fs.createReadStream(path, { highWaterMark, start, end })` | [`ReadStream::open`]`(path, `[`ReadOptions`]`)` |
//! | `highWaterMark` (fs default 64 KiB) | [`ReadOptions::high_water_mark`] ([`DEFAULT_HIGH_WATER_MARK`]) |
//! | `allocNewPool`, `kMinPoolSpace` (book era, removed in Node 15) | the pool of [`ReadStream::from_reader`], [`MIN_POOL_SPACE`] |
//! | `readable.setEncoding(enc)` | [`ReadStream::set_encoding`] → [`TextStream`] (`high_water_mark` stays in bytes) |
//! | `readline` with `crlfDelay` | [`TextStream::lines`] (bounded) |
//! | `Buffer.concat(list, totalLength)` | [`buffer_concat`] |
//! | collecting `'data'` then `Buffer.concat` | [`concat()`] (bounded) |
//! | `readable.pipe(writable)` / `stream.pipeline` | [`pipe`], [`pipe_with_progress`] |
//! | `'error'` event | the stream's last item, an [`Error`] |
//!
//! # Chunk buffers
//!
//! Async readers ([`ReadStream::from_reader`]) read into the spare capacity of one pooled
//! `BytesMut` and each chunk is split off it without a copy, as the book's `allocNewPool` does;
//! a new pool is started when less than [`MIN_POOL_SPACE`] bytes are left, so short reads never
//! leave tiny tail chunks. Files and blocking readers read into a few recycled
//! `high_water_mark`-sized buffers instead: `std::io::Read` needs initialised memory, and
//! reusing a buffer that stays initialised saves the memset a recycled `BytesMut` would need on
//! every read. Either way the bytes read are the bytes handed out: no extra copy.
//!
//! Each stream keeps at most four idle buffers of its own for reuse, and frees them when the
//! stream and its last chunk are gone.
//!
//! # Feature flags
//!
//! None: everything is always available. The crate uses tokio's `rt` (blocking pool), `sync`
//! and `io-util` features.
#![doc(test(attr(deny(warnings))))]

mod blocking;
mod concat;
mod error;
mod lines;
mod options;
mod pipe;
mod pipeline;
mod pool;
mod read_stream;
mod recycle;
mod text;
mod write_stream;

pub use concat::{buffer_concat, concat};
pub use error::Error;
pub use lines::Lines;
pub use options::{DEFAULT_HIGH_WATER_MARK, MAX_HIGH_WATER_MARK, MIN_POOL_SPACE, ReadOptions};
pub use pipe::{pipe, pipe_with_progress};
pub use pipeline::pipeline;
pub use read_stream::ReadStream;
pub use text::TextStream;
pub use write_stream::WriteStream;
