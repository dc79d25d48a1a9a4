//! # Implementation details
//!
//! The stateless encodings: every byte maps to text on its own, so nothing is ever held back
//! and `end` has nothing to flush (Node asserts the same in `flush`).
//!
//! - hex: two lowercase digits per byte through a 256-entry table of digit pairs, written into
//!   a small stack buffer and appended in blocks (the block is ASCII, so turning it into `&str`
//!   is a cheap check, never a failure).
//! - latin1: byte `b` is U+00`b`; the ASCII prefix is appended in one copy.
//! - ascii: Node clears the high bit (`E9` becomes `i`); strict mode reports the first byte
//!   with the high bit set instead.

/// Bytes of output per appended hex block.
const HEX_BLOCK: usize = 1024;

const HEX_PAIRS: [[u8; 2]; 256] = {
    let digits = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [digits[i >> 4], digits[i & 0xF]];
        i += 1;
    }
    table
};

pub(crate) fn hex(input: &[u8], out: &mut String) {
    out.reserve(input.len().saturating_mul(2));
    let mut block = [0u8; HEX_BLOCK];
    for slice in input.chunks(HEX_BLOCK / 2) {
        let digits = &mut block[..slice.len() * 2];
        for (pair, &byte) in digits.chunks_exact_mut(2).zip(slice) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
        }
        push_ascii(digits, out);
    }
}

pub(crate) fn latin1(input: &[u8], out: &mut String) {
    let ascii = encoding_rs::Encoding::ascii_valid_up_to(input);
    let (head, tail) = input.split_at(ascii);
    out.reserve(head.len() + tail.len() * 2);
    push_ascii(head, out);
    out.extend(tail.iter().map(|&byte| char::from(byte)));
}

pub(crate) fn ascii(input: &[u8], out: &mut String, base: u64, strict: bool) -> Result<(), u64> {
    let ascii = encoding_rs::Encoding::ascii_valid_up_to(input);
    let (head, tail) = input.split_at(ascii);
    push_ascii(head, out);
    if tail.is_empty() {
        return Ok(());
    }
    if strict {
        return Err(base + ascii as u64);
    }
    out.reserve(tail.len());
    out.extend(tail.iter().map(|&byte| char::from(byte & 0x7F)));
    Ok(())
}

/// Appends bytes that are all ASCII.
fn push_ascii(ascii: &[u8], out: &mut String) {
    if let Ok(text) = std::str::from_utf8(ascii) {
        out.push_str(text);
    }
}
