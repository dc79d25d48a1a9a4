//! # Implementation details
//!
//! A transcription of the UTF-8 branch of Node's `StringDecoder::DecodeData`
//! (`src/string_decoder.cc`), so that every single `write` returns what Node's returns, not
//! only the total.
//!
//! State: up to four bytes of an unfinished character (`pending[..buffered]`) and how many more
//! bytes its lead byte asks for (`missing`). Invariants:
//!
//! - `missing > 0` implies `buffered > 0`, and `buffered + missing <= 4`.
//! - `missing == 0` implies `buffered == 0` between calls: a finished or broken pending
//!   character is decoded at once.
//!
//! A write first feeds the pending character with continuation bytes; a byte that is not a
//! continuation ends it early (Node: "assume that the new, unexpected byte starts a new one").
//! Then, if the chunk ends in a non-ASCII byte, it looks back at most four bytes for a lead byte
//! whose character is not complete yet and holds those bytes back. Lead bytes are classified by
//! their bit pattern only (`F5..F7` are held like `F0`); the range checks happen in the
//! one-shot decoder, which uses the same maximal-subpart rule as V8. Each piece handed to that
//! decoder ends on a boundary where the whole-stream decoder would also restart, which is why
//! the concatenated output equals the one-shot decode of the whole stream.
//!
//! Valid pieces are appended straight from the input (validation plus one copy, no
//! intermediate buffer); only malformed pieces build their replacement text on the side.

use encoding_rs::{CoderResult, DecoderResult};

use crate::whatwg::SPARE_SLACK;

/// Streaming UTF-8 state, Node's way.
#[derive(Debug, Clone, Default)]
pub(crate) struct Utf8 {
    pending: [u8; 4],
    buffered: u8,
    missing: u8,
    /// Stream offset of `pending[0]`, for strict errors.
    pending_start: u64,
}

impl Utf8 {
    /// Decodes `input`, whose first byte sits at stream offset `base`.
    pub(crate) fn write(
        &mut self,
        mut input: &[u8],
        out: &mut String,
        base: u64,
        strict: bool,
    ) -> Result<(), u64> {
        let mut base = base;
        if self.missing > 0 {
            let wanted = usize::from(self.missing).min(input.len());
            let take = input[..wanted].iter().position(|&b| !is_continuation(b));
            let take = match take {
                Some(stop) => {
                    self.missing = 0;
                    stop
                }
                None => wanted,
            };
            self.push_pending(&input[..take]);
            input = &input[take..];
            base += take as u64;
            if self.missing == 0 {
                let start = self.pending_start;
                let buffered = usize::from(self.buffered);
                self.buffered = 0;
                decode_piece(&self.pending[..buffered], start, out, strict)?;
            }
        }
        if input.is_empty() {
            return Ok(());
        }
        let tail = self.tail_len(input);
        let (body, rest) = input.split_at(input.len() - tail);
        decode_piece(body, base, out, strict)?;
        self.pending[..tail].copy_from_slice(rest);
        self.buffered = tail as u8;
        self.pending_start = base + body.len() as u64;
        Ok(())
    }

    /// Flushes a pending character (always malformed: it is incomplete) and resets.
    pub(crate) fn end(&mut self, out: &mut String, strict: bool) -> Result<(), u64> {
        let buffered = usize::from(self.buffered);
        let start = self.pending_start;
        self.reset();
        decode_piece(&self.pending[..buffered], start, out, strict)
    }

    pub(crate) fn reset(&mut self) {
        self.buffered = 0;
        self.missing = 0;
    }

    fn push_pending(&mut self, bytes: &[u8]) {
        let at = usize::from(self.buffered);
        self.pending[at..at + bytes.len()].copy_from_slice(bytes);
        self.buffered += bytes.len() as u8;
        self.missing -= (bytes.len() as u8).min(self.missing);
    }

    /// How many bytes at the end of `input` start a character that is not complete yet; sets
    /// `missing` accordingly. `input` is not empty and nothing is pending.
    fn tail_len(&mut self, input: &[u8]) -> usize {
        let n = input.len();
        if input[n - 1] & 0x80 == 0 {
            return 0;
        }
        let mut seen = 0usize;
        for i in (0..n).rev() {
            seen += 1;
            let byte = input[i];
            if is_continuation(byte) {
                if seen >= 4 || i == 0 {
                    return 0;
                }
                continue;
            }
            let needed = match byte {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => return 0,
            };
            if seen >= needed {
                return 0;
            }
            self.missing = (needed - seen) as u8;
            return seen;
        }
        0
    }
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// Pieces up to this length are validated by `std` first.
const SHORT_PIECE: usize = 32;

/// One-shot decode of a piece that starts at stream offset `start`.
pub(crate) fn decode_piece(
    piece: &[u8],
    start: u64,
    out: &mut String,
    strict: bool,
) -> Result<(), u64> {
    if piece.is_empty() {
        return Ok(());
    }
    if piece.len() <= SHORT_PIECE {
        // Short pieces (small chunks, a finished pending character): std's validator has less
        // fixed cost than the SIMD one.
        if let Ok(text) = std::str::from_utf8(piece) {
            out.push_str(text);
            return Ok(());
        }
    }
    let mut decoder = encoding_rs::UTF_8.new_decoder_without_bom_handling();
    if strict {
        return decode_strict(&mut decoder, piece, start, out);
    }
    let needed = decoder
        .max_utf8_buffer_length(piece.len())
        .unwrap_or(usize::MAX);
    let spare = out.capacity() - out.len();
    if spare >= needed && spare - needed <= SPARE_SLACK {
        // Room is already there: encoding_rs validates and copies in one pass.
        let (result, read, _) = decoder.decode_to_string(piece, out, true);
        if result == CoderResult::InputEmpty {
            return Ok(());
        }
        // Not reached with the worst case reserved; finish through the other path if it is.
        out.push_str(
            &encoding_rs::UTF_8
                .decode_without_bom_handling(&piece[read..])
                .0,
        );
        return Ok(());
    }
    out.push_str(&encoding_rs::UTF_8.decode_without_bom_handling(piece).0);
    Ok(())
}

/// Strict decode: validates and copies in one pass, and stops at the first malformed sequence
/// with everything before it appended.
fn decode_strict(
    decoder: &mut encoding_rs::Decoder,
    piece: &[u8],
    start: u64,
    out: &mut String,
) -> Result<(), u64> {
    // Valid UTF-8 copies byte for byte, so the piece's length is all the room the text needs.
    out.reserve(piece.len());
    let (result, read) = decoder.decode_to_string_without_replacement(piece, out, true);
    match result {
        DecoderResult::InputEmpty => Ok(()),
        DecoderResult::Malformed(bad, after) => {
            let valid = read - usize::from(bad) - usize::from(after);
            Err(start + valid as u64)
        }
        DecoderResult::OutputFull => {
            // Not reached with the room reserved above; validate the rest the slow way if it is.
            let rest = &piece[read..];
            let valid = encoding_rs::Encoding::utf8_valid_up_to(rest);
            out.push_str(&String::from_utf8_lossy(&rest[..valid]));
            if valid == rest.len() {
                Ok(())
            } else {
                Err(start + (read + valid) as u64)
            }
        }
    }
}
