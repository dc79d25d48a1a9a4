//! Read streams with a high-water mark, pooled chunks, decoded text, concat and pipe.
//!
//! Ports the book's stream sections (5.4 and 6.4): `fs.createReadStream` with `highWaterMark`,
//! chunks carved from a preallocated pool, `setEncoding` for text that never garbles a character,
//! a `Buffer.concat` that cannot exhaust memory, and `pipe` with backpressure.
//!
//! **Under construction:** the API lands with the streams issue.
#![doc(test(attr(deny(warnings))))]
