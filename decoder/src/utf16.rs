//! # Implementation details
//!
//! Node's UTF-16LE (`ucs2`) decoder emits code units as they come and lets JavaScript string
//! concatenation glue a surrogate pair split across writes back together. A Rust `String`
//! cannot hold half a pair, so this decoder differs in one documented way: a trailing lead
//! surrogate is always held back until the next code unit shows whether it has a partner (Node
//! holds it only when the chunk length is even), and a surrogate without a partner becomes
//! U+FFFD. Everything else is Node's: code units pair up across the whole stream (an odd byte
//! waits for its partner), and `end` silently drops an odd trailing byte.
//!
//! State between calls: `odd` (a byte waiting for its partner) and `lead` (a lead surrogate
//! waiting for the next code unit). Invariant: the held bytes always form the stream's suffix
//! `lead? odd?`, so the held state never exceeds three bytes.

/// Streaming UTF-16LE state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Utf16Le {
    odd: Option<u8>,
    lead: Option<u16>,
    /// Stream offset of the held lead surrogate, for strict errors.
    lead_start: u64,
}

impl Utf16Le {
    /// Decodes `input`, whose first byte sits at stream offset `base`.
    pub(crate) fn write(
        &mut self,
        mut input: &[u8],
        out: &mut String,
        base: u64,
        strict: bool,
    ) -> Result<(), u64> {
        let mut offset = base;
        if let Some(low) = self.odd {
            let Some((&high, rest)) = input.split_first() else {
                return Ok(());
            };
            self.odd = None;
            self.unit(
                u16::from_le_bytes([low, high]),
                offset.saturating_sub(1),
                out,
                strict,
            )?;
            input = rest;
            offset += 1;
        }
        out.reserve(input.len() + input.len() / 2);
        let mut pairs = input.chunks_exact(2);
        for pair in &mut pairs {
            self.unit(u16::from_le_bytes([pair[0], pair[1]]), offset, out, strict)?;
            offset += 2;
        }
        if let [last] = pairs.remainder() {
            self.odd = Some(*last);
        }
        Ok(())
    }

    /// Feeds one code unit that starts at stream offset `at`.
    fn unit(&mut self, unit: u16, at: u64, out: &mut String, strict: bool) -> Result<(), u64> {
        if let Some(lead) = self.lead.take() {
            if (0xDC00..0xE000).contains(&unit) {
                let scalar =
                    0x10000 + ((u32::from(lead) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                out.push(char::from_u32(scalar).unwrap_or(char::REPLACEMENT_CHARACTER));
                return Ok(());
            }
            lone(self.lead_start, out, strict)?;
        }
        match unit {
            0xD800..=0xDBFF => {
                self.lead = Some(unit);
                self.lead_start = at;
                Ok(())
            }
            0xDC00..=0xDFFF => lone(at, out, strict),
            _ => {
                out.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER));
                Ok(())
            }
        }
    }

    /// Flushes a held lead surrogate as U+FFFD, drops an odd byte (Node), and resets.
    /// Strict mode reports either instead.
    pub(crate) fn end(
        &mut self,
        out: &mut String,
        strict: bool,
        end_offset: u64,
    ) -> Result<(), u64> {
        let lead = self.lead.take().map(|_| self.lead_start);
        let odd = self.odd.take();
        if let Some(at) = lead {
            lone(at, out, strict)?;
        }
        if strict && odd.is_some() {
            return Err(end_offset.saturating_sub(1));
        }
        Ok(())
    }

    pub(crate) fn reset(&mut self) {
        self.odd = None;
        self.lead = None;
    }
}

/// A surrogate without its partner at stream offset `at`.
fn lone(at: u64, out: &mut String, strict: bool) -> Result<(), u64> {
    if strict {
        return Err(at);
    }
    out.push(char::REPLACEMENT_CHARACTER);
    Ok(())
}
