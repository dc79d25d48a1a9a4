//! Read and write streams with a high-water mark, pooled chunks, decoded text, bounded concat,
//! and pipelines with backpressure: the stream chapters of the book (5.4, 6.3, 6.4) for tokio.
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
//!   `AsyncRead`. Files are read on tokio's blocking pool straight into the chunk buffers, at
//!   most two chunks ahead of the consumer; nothing spins or sleeps in `poll`, a stalled
//!   stream holds no thread, and every stream takes part in tokio's cooperative budget.
//! - [`TextStream`] ([`ReadStream::set_encoding`]): the chunks decoded by
//!   [`nodebook_decoder::StringDecoder`], in any encoding it knows (Node's and every WHATWG one, GBK
//!   included); [`Lines`] splits text into lines with a maximum length.
//! - [`concat()`]: a whole stream as one `Bytes` under a size limit ([`ReadStream::concat`]
//!   refuses a file known to be too long before reading it); [`buffer_concat`]: Node's
//!   `Buffer.concat(list, totalLength)` exactly.
//! - [`WriteStream`]: Node's writable side over any `AsyncWrite`: [`write`](WriteStream::write)
//!   says when to wait, [`ready`](WriteStream::ready) is `'drain'`, [`end`](WriteStream::end)
//!   flushes and closes; also a `Sink<Bytes>`.
//! - [`pipeline()`]: Node's `stream.pipeline`: source, stages, writer; the first error anywhere
//!   ends every stage and closes the writer. [`pipe`], [`pipe_with_progress`]: the two-stage
//!   case into any `AsyncWrite`, leaving the writer open.
//!
//! # Backpressure
//!
//! A fast producer and a slow consumer: the consumer reads 1 KiB per millisecond from a pipe,
//! the producer has a megabyte to give. [`WriteStream::send`] waits whenever
//! `high_water_mark` bytes are buffered, so the producer never holds more than that plus one
//! chunk, however far ahead it could run.
//!
//! ```
//! use std::time::Duration;
//! use nodebook_streams::WriteStream;
//! use tokio::io::AsyncReadExt;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), nodebook_streams::Error> {
//! let (to_consumer, mut consumer_end) = tokio::io::duplex(1024);
//! let consumer = tokio::spawn(async move {
//!     let (mut buf, mut total) = ([0u8; 1024], 0);
//!     loop {
//!         tokio::time::sleep(Duration::from_millis(1)).await;
//!         match consumer_end.read(&mut buf).await.unwrap() {
//!             0 => return total,
//!             n => total += n,
//!         }
//!     }
//! });
//!
//! let mut out = WriteStream::with_high_water_mark(to_consumer, 16 * 1024);
//! let mut most_buffered = 0;
//! for _ in 0..1000 {
//!     out.send(vec![b'x'; 1000]).await?; // waits while 16 KiB are buffered
//!     most_buffered = most_buffered.max(out.buffered_len());
//! }
//! out.end().await?;
//! assert!(most_buffered <= 16 * 1024 + 1000);
//! assert_eq!(consumer.await.unwrap(), 1_000_000);
//! # Ok(())
//! # }
//! ```
//!
//! # A pipeline
//!
//! A GBK file, decoded, split into lines and written as UTF-8, Node's
//! `pipeline(createReadStream(src), decoder, splitter, createWriteStream(dst))`. An error in any
//! stage (a line too long, a read error, a full disk) ends them all and closes both files.
//!
//! ```
//! use bytes::Bytes;
//! use futures::TryStreamExt;
//! use nodebook_streams::{pipeline, ReadOptions, ReadStream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), nodebook_streams::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let (src, dst) = (dir.path().join("poem.gbk.txt"), dir.path().join("poem.txt"));
//! let (gbk, _, _) = encoding_rs::GBK.encode("床前明月光，\r\n疑是地上霜。\r\n");
//! std::fs::write(&src, &gbk).unwrap();
//!
//! let written = pipeline(
//!     ReadStream::open(&src, ReadOptions::new()).await?,
//!     |gbk| {
//!         gbk.set_encoding("gbk")
//!             .expect("gbk is a known label")
//!             .lines(64 * 1024)
//!             .map_ok(|line| Bytes::from(line + "\n"))
//!     },
//!     tokio::fs::File::create(&dst).await.unwrap(),
//! )
//! .await?;
//! assert_eq!(std::fs::read_to_string(&dst).unwrap(), "床前明月光，\n疑是地上霜。\n");
//! assert_eq!(written, 38);
//! # Ok(())
//! # }
//! ```
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
//! | `fs.createWriteStream(path)`, `new Writable({ highWaterMark })` | [`WriteStream::new`]`(file)`, [`WriteStream::with_high_water_mark`] |
//! | `writable.write(chunk)` returning `false` | [`WriteStream::write`] returning `Ok(false)` |
//! | `'drain'` | [`WriteStream::ready`] |
//! | `writable.end()` | [`WriteStream::end`] |
//! | `writableLength`, `writableNeedDrain`, `writableFinished` | [`WriteStream::buffered_len`], [`WriteStream::needs_drain`], [`WriteStream::is_ended`] |
//! | `stream.pipeline(source, ...transforms, destination)` | [`pipeline()`]`(source, transform, writer)` |
//! | `readable.pipe(writable)` | [`pipe`], [`pipe_with_progress`] |
//! | `'error'` event | a read stream's last item, an [`Error`]; a write stream's `Err` |
//!
//! # Where this differs from Node, and why
//!
//! | Node | here | why |
//! |---|---|---|
//! | after `setEncoding`, `highWaterMark` counts characters (UTF-16 units) | it stays in **bytes** | the bound is about memory: counted in characters, the same mark admits three times the bytes of CJK text (nodejs/node#6798) |
//! | a readable fills its buffer up to `highWaterMark` and pushes `'data'` | pulled: a file stream reads at most two chunks ahead, an async reader none | a Rust `Stream` is pulled; reading the next chunk while one waits keeps the disk busy while the consumer works, as Node's buffer does |
//! | `write()` starts writing in the background | bytes move while a [`WriteStream`] future is awaited; [`WriteStream::flush`] pushes them now | no hidden task: it works over a borrowed writer, on any runtime, and its memory is what [`WriteStream::buffered_len`] says |
//! | `cork()` / `uncork()` | not provided | writes already wait in the buffer until awaited, and a writer with vectored writes gets them in one `writev`, which is what corking buys |
//! | `Writable`'s default `highWaterMark` 16 KiB (through Node 21) | 64 KiB everywhere | Node 22's default, and the fs streams' default all along |
//! | `readable.pipe()` neither forwards errors nor closes on error | [`pipe`] returns the first error and drops both sides | no leaked descriptors; [`pipeline()`] also closes the writer |
//! | a `'drain'` event after `write()` said `false` | [`WriteStream::ready`], a future that writes everything buffered | awaiting is how Rust waits; nothing to unsubscribe |
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
//! Everything is always available. The crate uses tokio's `rt` (blocking pool), `sync` and
//! `io-util` features.
//!
//! - `tracing` (off by default): the streams' decisions as `tracing` events at debug level,
//!   target `nodebook_streams`: [`concat()`] refusing input over its size limit (with the limit
//!   and the bytes seen), and a [`WriteStream`] crossing its high-water mark (the point where
//!   `write` starts answering `false`). Without it they are not compiled in at all.
#![cfg_attr(docsrs, feature(doc_cfg))]
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

// The README's examples run as doc tests, so the first code a crates.io reader sees compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
