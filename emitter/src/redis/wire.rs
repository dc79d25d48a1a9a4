//! # Implementation details
//!
//! What a bridge writes to Redis, and how it reads it back.
//!
//! Namespace `ns` uses one pub/sub channel, `ns:events`, and one stream, `ns:stream`; a bridge
//! receives every message of its namespace and keeps the events it names.
//!
//! - A pub/sub message is `nb1 <origin> <seq> <len> <event><payload>`: the version tag, the
//!   sending bridge's origin (hex), its sequence number, the length of the event name in bytes,
//!   a space, the name and the encoded payload, which may hold any bytes.
//! - A stream entry has the fields `o` (origin), `s` (sequence), `e` (event) and `p` (payload).
//!
//! Ids of stream entries compare as `(milliseconds, sequence)` pairs.

use redis::Value;

/// One message, borrowed from what Redis sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    pub(crate) origin: &'a str,
    pub(crate) seq: u64,
    pub(crate) event: &'a str,
    pub(crate) payload: &'a [u8],
}

const TAG: &[u8] = b"nb1 ";

pub(crate) fn channel(namespace: &str) -> String {
    format!("{namespace}:events")
}

pub(crate) fn stream(namespace: &str) -> String {
    format!("{namespace}:stream")
}

/// The pub/sub form of a message.
pub(crate) fn frame(origin: &str, seq: u64, event: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!("{origin} {seq} {} {event}", event.len());
    let mut frame = Vec::with_capacity(TAG.len() + header.len() + payload.len());
    frame.extend_from_slice(TAG);
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Reads a pub/sub message; the error names what was wrong.
pub(crate) fn unframe(bytes: &[u8]) -> Result<Message<'_>, &'static str> {
    let rest = bytes.strip_prefix(TAG).ok_or("no `nb1` tag")?;
    let (origin, rest) = word(rest).ok_or("no origin")?;
    let (seq, rest) = word(rest).ok_or("no sequence number")?;
    let (len, rest) = word(rest).ok_or("no event length")?;
    let seq = parse_u64(seq).ok_or("the sequence number is not a number")?;
    let len = usize::try_from(parse_u64(len).ok_or("the event length is not a number")?)
        .map_err(|_| "the event length is too large")?;
    if rest.len() < len {
        return Err("the event name is cut short");
    }
    let (event, payload) = rest.split_at(len);
    Ok(Message {
        origin: std::str::from_utf8(origin).map_err(|_| "the origin is not UTF-8")?,
        seq,
        event: std::str::from_utf8(event).map_err(|_| "the event name is not UTF-8")?,
        payload,
    })
}

/// The bytes up to the next space, and what follows the space.
fn word(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == b' ')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

fn parse_u64(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// A stream entry's id and fields, as `XREAD` returns them.
pub(crate) struct Entry {
    pub(crate) id: String,
    fields: Vec<Value>,
}

impl Entry {
    /// The message in the entry's fields.
    pub(crate) fn message(&self) -> Result<Message<'_>, &'static str> {
        let (mut origin, mut seq, mut event, mut payload) = (None, None, None, None);
        for pair in self.fields.chunks(2) {
            let [Value::BulkString(name), Value::BulkString(value)] = pair else {
                return Err("a field is not a string");
            };
            match name.as_slice() {
                b"o" => origin = Some(value.as_slice()),
                b"s" => seq = Some(value.as_slice()),
                b"e" => event = Some(value.as_slice()),
                b"p" => payload = Some(value.as_slice()),
                _ => {}
            }
        }
        Ok(Message {
            origin: utf8(origin.ok_or("no origin field")?)?,
            seq: parse_u64(seq.ok_or("no sequence field")?)
                .ok_or("the sequence number is not a number")?,
            event: utf8(event.ok_or("no event field")?)?,
            payload: payload.ok_or("no payload field")?,
        })
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, &'static str> {
    std::str::from_utf8(bytes).map_err(|_| "a field is not UTF-8")
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

/// The entries of an `XREAD` reply on one stream (nil: none arrived in time).
pub(crate) fn read_reply(reply: Value) -> Result<Vec<Entry>, &'static str> {
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        // RESP2: [[key, entries]]; RESP3: {key: entries}.
        Value::Array(streams) => streams
            .into_iter()
            .map(|stream| match stream {
                Value::Array(mut pair) if pair.len() == 2 => Ok(pair.swap_remove(1)),
                _ => Err("a stream is not a [key, entries] pair"),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        _ => return Err("the reply is not a list of streams"),
    };
    let mut out = Vec::new();
    for entries in streams {
        let Value::Array(entries) = entries else {
            return Err("the entries are not a list");
        };
        for entry in entries {
            let Value::Array(mut entry) = entry else {
                return Err("an entry is not an [id, fields] pair");
            };
            if entry.len() != 2 {
                return Err("an entry is not an [id, fields] pair");
            }
            let fields = match entry.pop() {
                Some(Value::Array(fields)) => fields,
                Some(Value::Map(fields)) => fields.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                _ => return Err("an entry's fields are not a list"),
            };
            let id = entry
                .pop()
                .as_ref()
                .and_then(text)
                .ok_or("an entry id is not text")?;
            out.push(Entry { id, fields });
        }
    }
    Ok(out)
}

/// What `XINFO STREAM` says about a stream (Redis 7 fields).
#[derive(Debug, Default)]
pub(crate) struct StreamInfo {
    pub(crate) length: u64,
    pub(crate) last_generated_id: String,
    /// How many entries were ever added.
    pub(crate) entries_added: u64,
    /// The id of the oldest entry left (`0-0`: none).
    pub(crate) first_id: String,
}

impl StreamInfo {
    /// A stream that does not exist yet.
    pub(crate) fn empty() -> Self {
        Self {
            last_generated_id: "0-0".to_string(),
            first_id: "0-0".to_string(),
            ..Self::default()
        }
    }
}

/// Reads an `XINFO STREAM` reply; `None` if a field is missing (a server older than Redis 7).
pub(crate) fn stream_info(reply: &Value) -> Option<StreamInfo> {
    let pairs: Vec<(&Value, &Value)> = match reply {
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|pair| Some((pair.first()?, pair.get(1)?)))
            .collect(),
        Value::Map(items) => items.iter().map(|(k, v)| (k, v)).collect(),
        _ => return None,
    };
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| text(k).as_deref() == Some(name))
            .map(|(_, v)| *v)
    };
    let number = |name: &str| match get(name)? {
        Value::Int(n) => u64::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    };
    Some(StreamInfo {
        length: number("length")?,
        last_generated_id: get("last-generated-id").and_then(text)?,
        entries_added: number("entries-added")?,
        first_id: get("recorded-first-entry-id").and_then(text)?,
    })
}

/// `a > b` for stream ids (`ms-seq`); an id that does not parse is never greater.
pub(crate) fn id_after(a: &str, b: &str) -> bool {
    match (parse_id(a), parse_id(b)) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }
}

fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_whatever_the_payload_holds() {
        let payload = b"with spaces \n and \xff bytes";
        let frame = frame("ab12", 42, "price changed", payload);
        let message = unframe(&frame).unwrap();
        assert_eq!(
            message,
            Message {
                origin: "ab12",
                seq: 42,
                event: "price changed",
                payload
            }
        );
    }

    #[test]
    fn a_foreign_or_cut_message_is_refused_with_the_reason() {
        assert_eq!(unframe(b"hello"), Err("no `nb1` tag"));
        assert_eq!(
            unframe(b"nb1 ab 7 9 short"),
            Err("the event name is cut short")
        );
        assert_eq!(
            unframe(b"nb1 ab x 1 e"),
            Err("the sequence number is not a number")
        );
        assert_eq!(unframe(b"nb1 ab"), Err("no origin"));
    }

    #[test]
    fn ids_compare_as_numbers_not_text() {
        assert!(id_after("10-0", "9-5"));
        assert!(id_after("9-10", "9-9"));
        assert!(!id_after("9-9", "9-9"));
        assert!(!id_after("junk", "0-0"));
    }
}
