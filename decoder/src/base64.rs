//! # Implementation details
//!
//! Node's base64 and base64url "decoders" turn bytes into their base64 text. Every complete
//! 3-byte group becomes four characters at once; the last `len % 3` bytes of the stream so far
//! wait in `held` until the group completes or `end` encodes them alone (with `=` padding for
//! base64, without for base64url). Invariant: `held_len < 3`.
//!
//! The encoding itself is `base64-simd`, which picks AVX2/SSE4.1/NEON at run time; inputs are
//! fed in bounded slices (a multiple of three bytes) so that no single reservation can overflow.

use base64_simd::Base64 as Engine;

/// Input slice per call into the encoder: a multiple of 3 bytes (3 MiB), large enough that
/// ordinary chunks take one call.
const SLICE: usize = 3 * 1024 * 1024;

/// Streaming base64 state.
#[derive(Debug, Clone)]
pub(crate) struct Base64 {
    held: [u8; 2],
    held_len: u8,
    url: bool,
}

impl Base64 {
    pub(crate) fn new(url: bool) -> Self {
        Self {
            held: [0; 2],
            held_len: 0,
            url,
        }
    }

    /// Padding only ever applies to the final partial group, so base64 can use the padding
    /// engine for whole groups too.
    fn engine(&self) -> &'static Engine {
        if self.url {
            &base64_simd::URL_SAFE_NO_PAD
        } else {
            &base64_simd::STANDARD
        }
    }

    pub(crate) fn write(&mut self, mut input: &[u8], out: &mut String) {
        let engine = self.engine();
        if self.held_len > 0 {
            let held = usize::from(self.held_len);
            let take = (3 - held).min(input.len());
            let mut group = [0u8; 3];
            group[..held].copy_from_slice(&self.held[..held]);
            group[held..held + take].copy_from_slice(&input[..take]);
            input = &input[take..];
            if held + take < 3 {
                self.held[..held + take].copy_from_slice(&group[..held + take]);
                self.held_len = (held + take) as u8;
                return;
            }
            self.held_len = 0;
            engine.encode_append(group, out);
        }
        let whole = input.len() - input.len() % 3;
        let (groups, rest) = input.split_at(whole);
        for slice in groups.chunks(SLICE) {
            engine.encode_append(slice, out);
        }
        self.held[..rest.len()].copy_from_slice(rest);
        self.held_len = rest.len() as u8;
    }

    pub(crate) fn end(&mut self, out: &mut String) {
        let held = usize::from(self.held_len);
        self.held_len = 0;
        if held > 0 {
            self.engine().encode_append(&self.held[..held], out);
        }
    }

    pub(crate) fn reset(&mut self) {
        self.held_len = 0;
    }
}
