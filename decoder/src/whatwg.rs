//! # Implementation details
//!
//! Every non-Node encoding goes through an `encoding_rs` streaming `Decoder` created with
//! `new_decoder_without_bom_handling` (Node never strips a BOM). Three things the wrapper adds:
//!
//! - Reuse: an `encoding_rs` decoder is finished once it has seen `last = true`, while Node's
//!   `end` resets for the next stream; `end` therefore replaces the decoder with a fresh one.
//! - Bounded output writes: `decode_to_string` touches one byte per memory page of the
//!   `String`'s whole spare capacity on every call, so decoding an 11-byte chunk into a caller's
//!   `String` with megabytes reserved would cost a page walk per chunk. When the caller's spare
//!   capacity is much larger than this chunk needs, the chunk is decoded into `scratch` (kept
//!   no larger than the chunk needs plus [`SPARE_SLACK`]) and copied over.
//! - Bounded reservations: input is fed in slices of at most [`SLICE`] bytes, so the
//!   worst-case output size of one call always fits in `usize`.
//!
//! Strict mode calls the `_without_replacement` variants on the same decoder; `encoding_rs`
//! reports a malformed sequence as its length plus how many bytes after it were consumed, which
//! locates its first byte relative to the bytes read so far.

use encoding_rs::{CoderResult, Decoder, DecoderResult, Encoding};

/// Input bytes per call into `encoding_rs`.
const SLICE: usize = 64 * 1024;
/// Spare capacity beyond what a call needs that is still written into directly (here and in
/// `utf8.rs`): encoding_rs touches every page of the spare capacity on each call.
pub(crate) const SPARE_SLACK: usize = 16 * 1024;

/// Streaming state of an `encoding_rs` decoder.
pub(crate) struct Whatwg {
    encoding: &'static Encoding,
    decoder: Decoder,
    scratch: String,
}

impl std::fmt::Debug for Whatwg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Whatwg")
            .field("encoding", &self.encoding.name())
            .finish_non_exhaustive()
    }
}

impl Whatwg {
    pub(crate) fn new(encoding: &'static Encoding) -> Self {
        Self {
            encoding,
            decoder: encoding.new_decoder_without_bom_handling(),
            scratch: String::new(),
        }
    }

    pub(crate) fn write(
        &mut self,
        input: &[u8],
        out: &mut String,
        base: u64,
        strict: bool,
    ) -> Result<(), u64> {
        let mut offset = base;
        for slice in input.chunks(SLICE) {
            self.decode(slice, out, offset, strict, false)?;
            offset += slice.len() as u64;
        }
        Ok(())
    }

    pub(crate) fn end(
        &mut self,
        out: &mut String,
        end_offset: u64,
        strict: bool,
    ) -> Result<(), u64> {
        let result = self.decode(&[], out, end_offset, strict, true);
        self.reset();
        result
    }

    pub(crate) fn reset(&mut self) {
        self.decoder = self.encoding.new_decoder_without_bom_handling();
    }

    /// Decodes one slice of at most [`SLICE`] bytes that starts at stream offset `base`.
    fn decode(
        &mut self,
        mut src: &[u8],
        out: &mut String,
        mut base: u64,
        strict: bool,
        last: bool,
    ) -> Result<(), u64> {
        loop {
            let needed = self
                .decoder
                .max_utf8_buffer_length(src.len())
                .unwrap_or(usize::MAX / 2)
                .max(4);
            let spare = out.capacity() - out.len();
            let (dst, via_scratch) = if spare <= needed.saturating_add(SPARE_SLACK) {
                out.reserve(needed);
                (&mut *out, false)
            } else {
                self.scratch.clear();
                if self.scratch.capacity() > needed.saturating_add(SPARE_SLACK) {
                    self.scratch.shrink_to(needed);
                }
                self.scratch.reserve(needed);
                (&mut self.scratch, true)
            };
            let (done, read, malformed) = if strict {
                let (result, read) = self
                    .decoder
                    .decode_to_string_without_replacement(src, dst, last);
                match result {
                    DecoderResult::InputEmpty => (true, read, None),
                    DecoderResult::OutputFull => (false, read, None),
                    DecoderResult::Malformed(bad, after) => {
                        let back = u64::from(bad) + u64::from(after);
                        (true, read, Some((base + read as u64).saturating_sub(back)))
                    }
                }
            } else {
                let (result, read, _) = self.decoder.decode_to_string(src, dst, last);
                (result == CoderResult::InputEmpty, read, None)
            };
            if via_scratch {
                out.push_str(&self.scratch);
            }
            if let Some(at) = malformed {
                return Err(at);
            }
            src = &src[read..];
            base += read as u64;
            if done {
                return Ok(());
            }
        }
    }
}
