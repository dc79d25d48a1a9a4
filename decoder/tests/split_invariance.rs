//! Split invariance, the decoder's central promise, as a property for every supported
//! encoding: for any bytes and any way of cutting them into chunks (empty chunks included),
//! the concatenation of all `write` outputs plus `end` equals the one-shot decode, computed
//! here by an independent reference (std, the `base64` crate, `encoding_rs`'s one-shot API).

use base64::Engine as _;
use nodebook_decoder::{Encoding, Error, StringDecoder};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per encoding; each case checks three ways of feeding the same chunks.
const CASES: u32 = 2000;

const WHATWG: [&encoding_rs::Encoding; 39] = [
    encoding_rs::BIG5,
    encoding_rs::EUC_JP,
    encoding_rs::EUC_KR,
    encoding_rs::GBK,
    encoding_rs::GB18030,
    encoding_rs::IBM866,
    encoding_rs::ISO_2022_JP,
    encoding_rs::ISO_8859_2,
    encoding_rs::ISO_8859_3,
    encoding_rs::ISO_8859_4,
    encoding_rs::ISO_8859_5,
    encoding_rs::ISO_8859_6,
    encoding_rs::ISO_8859_7,
    encoding_rs::ISO_8859_8,
    encoding_rs::ISO_8859_8_I,
    encoding_rs::ISO_8859_10,
    encoding_rs::ISO_8859_13,
    encoding_rs::ISO_8859_14,
    encoding_rs::ISO_8859_15,
    encoding_rs::ISO_8859_16,
    encoding_rs::KOI8_R,
    encoding_rs::KOI8_U,
    encoding_rs::MACINTOSH,
    encoding_rs::REPLACEMENT,
    encoding_rs::SHIFT_JIS,
    encoding_rs::UTF_16BE,
    encoding_rs::UTF_16LE,
    encoding_rs::WINDOWS_874,
    encoding_rs::WINDOWS_1250,
    encoding_rs::WINDOWS_1251,
    encoding_rs::WINDOWS_1252,
    encoding_rs::WINDOWS_1253,
    encoding_rs::WINDOWS_1254,
    encoding_rs::WINDOWS_1255,
    encoding_rs::WINDOWS_1256,
    encoding_rs::WINDOWS_1257,
    encoding_rs::WINDOWS_1258,
    encoding_rs::X_MAC_CYRILLIC,
    encoding_rs::X_USER_DEFINED,
];

fn every_encoding() -> Vec<Encoding> {
    let mut all = vec![
        Encoding::Utf8,
        Encoding::Utf16Le,
        Encoding::Latin1,
        Encoding::Ascii,
        Encoding::Base64,
        Encoding::Base64Url,
        Encoding::Hex,
    ];
    all.extend(WHATWG.iter().map(|&encoding| Encoding::Whatwg(encoding)));
    all
}

/// The one-shot decode of `bytes`, computed without the decoder under test.
fn reference(encoding: Encoding, bytes: &[u8]) -> String {
    match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Utf16Le => {
            let units = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .map(|unit| unit.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        Encoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
        Encoding::Ascii => bytes.iter().map(|&b| char::from(b & 0x7f)).collect(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        Encoding::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Encoding::Whatwg(whatwg) => whatwg.decode_without_bom_handling(bytes).0.into_owned(),
        _ => unreachable!("every variant is listed"),
    }
}

/// Text encoded in `encoding`, so that inputs hit valid multi-byte sequences, not only noise.
fn encode(encoding: Encoding, text: &str) -> Vec<u8> {
    match encoding {
        Encoding::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Encoding::Whatwg(whatwg) if whatwg == encoding_rs::UTF_16BE => {
            text.encode_utf16().flat_map(u16::to_be_bytes).collect()
        }
        Encoding::Whatwg(whatwg) if whatwg == encoding_rs::UTF_16LE => {
            text.encode_utf16().flat_map(u16::to_le_bytes).collect()
        }
        Encoding::Whatwg(whatwg) => whatwg.encode(text).0.into_owned(),
        _ => text.as_bytes().to_vec(),
    }
}

/// Random bytes, or encoded text with an optional corrupted byte and truncation.
fn input(encoding: Encoding) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        (
            "\\PC{0,12}",
            proptest::option::of((any::<Index>(), any::<u8>())),
            proptest::option::of(any::<Index>()),
        )
            .prop_map(move |(text, corrupt, truncate)| {
                let mut bytes = encode(encoding, &text);
                if let (Some((at, value)), false) = (corrupt, bytes.is_empty()) {
                    let at = at.index(bytes.len());
                    bytes[at] = value;
                }
                if let Some(at) = truncate {
                    bytes.truncate(at.index(bytes.len() + 1));
                }
                bytes
            }),
    ]
}

/// Cuts `bytes` at sorted positions; repeated positions give empty chunks.
fn chunks<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for end in at {
        pieces.push(&bytes[start..end]);
        start = end;
    }
    pieces.push(&bytes[start..]);
    pieces
}

fn strict_one_shot(encoding: Encoding, bytes: &[u8]) -> Result<String, Error> {
    let mut decoder = StringDecoder::with_encoding(encoding);
    let mut text = decoder.try_write(bytes)?;
    text += &decoder.try_end()?;
    Ok(text)
}

fn check(encoding: Encoding, bytes: &[u8], cuts: &[Index]) -> Result<(), TestCaseError> {
    let pieces = chunks(bytes, cuts);
    let expected = reference(encoding, bytes);

    // `write` / `end`, twice on one decoder: `end` must leave it ready for the next stream.
    let mut decoder = StringDecoder::with_encoding(encoding);
    for round in 0..2 {
        let mut text = String::new();
        for piece in &pieces {
            text += &decoder.write(piece);
        }
        text += &decoder.end();
        prop_assert_eq!(
            &text,
            &expected,
            "{} round {} pieces {:?}",
            encoding,
            round,
            pieces
        );
    }

    // `write_into` into a String with far more spare room than any chunk needs.
    let mut decoder = StringDecoder::with_encoding(encoding);
    let mut text = String::with_capacity(96 * 1024);
    text.push('>');
    for piece in &pieces {
        decoder.write_into(piece, &mut text);
    }
    decoder.end_into(&mut text);
    prop_assert_eq!(&text[1..], &expected[..], "{} write_into", encoding);

    // `write_into` into a reused buffer sized for each chunk, as a hot loop would.
    let mut decoder = StringDecoder::with_encoding(encoding);
    let mut buffer = String::new();
    let mut text = String::new();
    for piece in &pieces {
        buffer.clear();
        buffer.reserve(piece.len() * 3 + 16);
        decoder.write_into(piece, &mut buffer);
        text += &buffer;
    }
    decoder.end_into(&mut text);
    prop_assert_eq!(&text, &expected, "{} reused buffer", encoding);

    // Strict mode: the same verdict and offset however the bytes are cut.
    let whole = strict_one_shot(encoding, bytes);
    let mut decoder = StringDecoder::with_encoding(encoding);
    let mut text = String::new();
    let mut chunked = Ok(());
    for piece in &pieces {
        chunked = decoder.try_write_into(piece, &mut text);
        if chunked.is_err() {
            break;
        }
    }
    let chunked = chunked
        .and_then(|()| decoder.try_end_into(&mut text))
        .map(|()| text);
    prop_assert_eq!(&chunked, &whole, "{} strict {:?}", encoding, pieces);
    if let Ok(strict) = &whole {
        prop_assert_eq!(
            strict,
            &expected,
            "{}: strict success equals lossy",
            encoding
        );
    }
    Ok(())
}

#[test]
fn any_chunking_decodes_like_one_shot_in_every_encoding() {
    for encoding in every_encoding() {
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (input(encoding), prop::collection::vec(any::<Index>(), 0..8));
        runner
            .run(&strategy, |(bytes, cuts)| check(encoding, &bytes, &cuts))
            .unwrap_or_else(|failure| panic!("{encoding}: {failure}"));
    }
}

#[test]
fn long_inputs_cut_anywhere_decode_like_one_shot() {
    // Bigger inputs cross the 64 KiB slices fed to encoding_rs and the 3-byte groups of base64.
    let text = "ASCII, 中文, 日本語, 한국어, emoji 👍🏽; ".repeat(6000);
    for encoding in every_encoding() {
        let bytes = encode(encoding, &text);
        let expected = reference(encoding, &bytes);
        for size in [1, 11, 4096, 65_536, 100_000] {
            let mut decoder = StringDecoder::with_encoding(encoding);
            let mut out = String::new();
            for piece in bytes.chunks(size) {
                decoder.write_into(piece, &mut out);
            }
            decoder.end_into(&mut out);
            assert!(out == expected, "{encoding} in {size}-byte chunks");
        }
    }
}
