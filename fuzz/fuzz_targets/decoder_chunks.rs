//! The decoder under any label, bytes and chunking: streaming equals one-shot, never a panic.
//!
//! Input layout: a label choice (one of the known and unknown labels below, or a label of up to
//! 24 bytes taken from the input), up to 16 cut positions, then the bytes to decode. For a label
//! the decoder accepts, the checks are:
//! - `write` per chunk (empty chunks included) then `end` equals `write(all)` then `end`;
//! - the decoder is reusable after `end`: a second stream decodes the same;
//! - strict decoding (`try_write_into` / `try_end_into`) is split-invariant too, error offset
//!   and text before the error included, and when it succeeds it equals the lossy text.
//!
//! An unknown label is an `UnknownEncoding` error that names it; the listed unknown labels must
//! be refused, the listed known ones accepted, and an arbitrary one either way without a panic.
#![no_main]

use nodebook_decoder::{Error, StringDecoder};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use toolkit_fuzz::{cuts, split};

const KNOWN: &[&str] = &[
    "utf8",
    "UTF-8",
    "utf16le",
    "utf-16le",
    "ucs2",
    "UCS-2",
    "latin1",
    "binary",
    "ascii",
    "base64",
    "base64url",
    "hex",
    "gbk",
    "gb18030",
    "big5",
    "shift_jis",
    "euc-jp",
    "iso-2022-jp",
    "euc-kr",
    "windows-1252",
    "koi8-r",
    "utf-16be",
    "x-user-defined",
    "iso-2022-kr",
];

const UNKNOWN: &[&str] = &["utf-7", "klingon", "", "utf 8", "base32", "hex\0"];

fuzz_target!(|data: &[u8]| {
    let _ = check(Unstructured::new(data));
});

/// Where a label came from, and so what `StringDecoder::new` must say to it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Origin {
    Known,
    Unknown,
    Arbitrary,
}

fn check(mut u: Unstructured<'_>) -> Result<()> {
    let pick = u.int_in_range(0..=KNOWN.len() + UNKNOWN.len())?;
    let taken;
    let (label, origin) = if let Some(&label) = KNOWN.get(pick) {
        (label, Origin::Known)
    } else if let Some(&label) = UNKNOWN.get(pick - KNOWN.len()) {
        (label, Origin::Unknown)
    } else {
        let len = u.int_in_range(0..=24)?;
        taken = String::from_utf8_lossy(u.bytes(len)?).into_owned();
        (taken.as_str(), Origin::Arbitrary)
    };
    let cuts = cuts(&mut u, 16)?;
    let bytes = u.take_rest();

    match StringDecoder::new(label) {
        Err(err @ Error::UnknownEncoding { .. }) => {
            assert_ne!(origin, Origin::Known, "known label {label:?} refused: {err}");
            assert!(matches!(&err, Error::UnknownEncoding { label: l } if l == label));
            assert!(
                err.to_string().contains(label),
                "{err} does not name {label:?}"
            );
            return Ok(());
        }
        Err(other) => panic!("label {label:?}: unexpected error {other:?}"),
        Ok(_) => assert_ne!(origin, Origin::Unknown, "label {label:?} should be unknown"),
    }
    let chunks: Vec<&[u8]> = split(bytes.len(), &cuts, |_| true)
        .into_iter()
        .map(|(start, end)| &bytes[start..end])
        .collect();

    let mut one_shot = StringDecoder::new(label).expect("a label accepted above");
    let mut expected = one_shot.write(bytes);
    one_shot.end_into(&mut expected);

    let mut decoder = StringDecoder::new(label).expect("a label accepted above");
    for round in 0..2 {
        let mut text = String::new();
        for chunk in &chunks {
            decoder.write_into(chunk, &mut text);
        }
        decoder.end_into(&mut text);
        assert_eq!(text, expected, "{label}, round {round}, chunks {chunks:?}");
    }

    let strict_one_shot = strict(label, &[bytes]);
    let strict_chunked = strict(label, &chunks);
    assert_eq!(
        strict_chunked, strict_one_shot,
        "strict {label}, chunks {chunks:?}"
    );
    if let (text, Ok(())) = &strict_one_shot {
        assert_eq!(
            text, &expected,
            "strict success differs from lossy for {label}"
        );
    }
    Ok(())
}

/// Strict decoding of the chunks: the text up to the first error, and that error.
fn strict(label: &str, chunks: &[&[u8]]) -> (String, std::result::Result<(), Error>) {
    let mut decoder = StringDecoder::new(label).expect("a label accepted above");
    let mut text = String::new();
    for chunk in chunks {
        if let Err(err) = decoder.try_write_into(chunk, &mut text) {
            return (text, Err(err));
        }
    }
    let end = decoder.try_end_into(&mut text);
    (text, end)
}
