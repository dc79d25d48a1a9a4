//! What the decoder promises, case by case: the book's poem, label resolution, Node's rules per
//! encoding, legacy encodings split mid-character, reuse after `end`, and strict mode.

use nodebook_decoder::{Encoding, Error, StringDecoder};

fn decode_chunks(decoder: &mut StringDecoder, chunks: &[&[u8]]) -> Vec<String> {
    let mut outputs: Vec<String> = chunks.iter().map(|chunk| decoder.write(chunk)).collect();
    outputs.push(decoder.end());
    outputs
}

// --- The book, section 6.3 -------------------------------------------------------------------

const POEM: &str = "床前明月光，疑是地上霜；举头望明月，低头思故乡。";

#[test]
fn poem_in_11_byte_chunks_is_garbled_by_naive_decoding() {
    let naive: String = POEM
        .as_bytes()
        .chunks(11)
        .map(String::from_utf8_lossy)
        .collect();
    assert_ne!(naive, POEM);
    // 11 is not a multiple of 3: the first chunk ends two bytes into 月.
    assert!(naive.starts_with("床前明\u{fffd}"), "{naive}");
    assert!(naive.matches('\u{fffd}').count() >= 10, "{naive}");
}

#[test]
fn poem_in_11_byte_chunks_is_intact_through_the_decoder() {
    let mut decoder = StringDecoder::new("utf8").unwrap();
    let outputs: Vec<String> = POEM
        .as_bytes()
        .chunks(11)
        .map(|chunk| decoder.write(chunk))
        .collect();
    // Each write returns whole characters only: 3 (9 bytes), then 4 (12 bytes: the held 2
    // bytes plus 10 of 11), ...
    assert_eq!(outputs[0], "床前明");
    assert_eq!(outputs[1], "月光，疑");
    assert_eq!(outputs.concat() + &decoder.end(), POEM);
}

// --- Labels ----------------------------------------------------------------------------------

#[test]
fn node_names_resolve_case_insensitively_to_node_rules() {
    let cases = [
        ("utf8", Encoding::Utf8),
        ("UTF-8", Encoding::Utf8),
        ("utf16le", Encoding::Utf16Le),
        ("UTF-16LE", Encoding::Utf16Le),
        ("ucs2", Encoding::Utf16Le),
        ("UCS-2", Encoding::Utf16Le),
        ("latin1", Encoding::Latin1),
        ("BINARY", Encoding::Latin1),
        ("Ascii", Encoding::Ascii),
        ("base64", Encoding::Base64),
        ("Base64Url", Encoding::Base64Url),
        ("HEX", Encoding::Hex),
    ];
    for (label, encoding) in cases {
        assert_eq!(
            StringDecoder::new(label).unwrap().encoding(),
            encoding,
            "{label}"
        );
    }
}

#[test]
fn other_labels_resolve_through_encoding_rs_with_canonical_names() {
    let cases = [
        ("gbk", "GBK"),
        ("GB2312", "GBK"),
        ("gb18030", "gb18030"),
        ("big5", "Big5"),
        ("shift_jis", "Shift_JIS"),
        ("sjis", "Shift_JIS"),
        ("euc-jp", "EUC-JP"),
        ("iso-2022-jp", "ISO-2022-JP"),
        ("euc-kr", "EUC-KR"),
        ("windows-1252", "windows-1252"),
        ("koi8-r", "KOI8-R"),
        (" utf-16 ", "UTF-16LE"),
        ("unicode-1-1-utf-8", "utf8"),
    ];
    for (label, name) in cases {
        let decoder = StringDecoder::new(label).unwrap();
        assert_eq!(decoder.encoding().name(), name, "{label}");
        assert_eq!(decoder.encoding().to_string(), name, "{label}");
    }
}

#[test]
fn unknown_label_is_an_error_naming_it() {
    for label in ["utf-32", "utf-7", "cesu-8", "test", "", "utf 8"] {
        let err = StringDecoder::new(label).unwrap_err();
        assert_eq!(
            err,
            Error::UnknownEncoding {
                label: label.to_owned()
            }
        );
        assert_eq!(err.to_string(), format!("unknown encoding `{label}`"));
    }
}

#[test]
fn from_encoding_keeps_whatwg_rules_except_for_utf8() {
    assert_eq!(
        StringDecoder::from_encoding(encoding_rs::UTF_8).encoding(),
        Encoding::Utf8
    );
    let mut whatwg_utf16 = StringDecoder::from_encoding(encoding_rs::UTF_16LE);
    assert_eq!(
        whatwg_utf16.encoding(),
        Encoding::Whatwg(encoding_rs::UTF_16LE)
    );
    // WHATWG turns an odd trailing byte into U+FFFD where Node drops it.
    assert_eq!(whatwg_utf16.write(&[0x61, 0x00, 0x62]), "a");
    assert_eq!(whatwg_utf16.end(), "\u{fffd}");
    let mut node_utf16 = StringDecoder::new("utf16le").unwrap();
    assert_eq!(node_utf16.write(&[0x61, 0x00, 0x62]), "a");
    assert_eq!(node_utf16.end(), "");
}

#[test]
fn default_decoder_is_utf8_like_node() {
    let mut decoder = StringDecoder::default();
    assert_eq!(decoder.encoding(), Encoding::Utf8);
    assert_eq!(decoder.write("é".as_bytes()), "é");
}

// --- Node's rules, encoding by encoding ------------------------------------------------------

#[test]
fn utf8_truncated_sequence_is_one_replacement_and_cesu_is_six() {
    let mut decoder = StringDecoder::new("utf8").unwrap();
    assert_eq!(
        decode_chunks(&mut decoder, &[&[0xe2, 0x82]]),
        ["", "\u{fffd}"]
    );
    assert_eq!(
        decode_chunks(&mut decoder, &[&[0xed, 0xa0, 0xb5, 0xed, 0xb0, 0x8d]]).concat(),
        "\u{fffd}".repeat(6)
    );
    assert_eq!(
        decode_chunks(&mut decoder, &[&[0xf0, 0x9f, 0x98]]),
        ["", "\u{fffd}"]
    );
}

#[test]
fn utf8_byte_order_mark_is_kept() {
    let mut decoder = StringDecoder::new("utf8").unwrap();
    assert_eq!(decoder.write(&[0xef, 0xbb, 0xbf, 0x41]), "\u{feff}A");
}

#[test]
fn utf8_empty_chunk_keeps_the_pending_bytes() {
    // Regression class of encoding_rs #126: an empty write must not lose held bytes.
    let mut decoder = StringDecoder::new("utf8").unwrap();
    let chunks: [&[u8]; 5] = [&[0xf0], &[], &[0x9f, 0x91], &[], &[0x8d]];
    assert_eq!(decode_chunks(&mut decoder, &chunks).concat(), "👍");
}

#[test]
fn utf16le_pair_split_everywhere_is_one_character() {
    let bytes = [0x3d, 0xd8, 0x4d, 0xdc];
    for cut in 0..=bytes.len() {
        let mut decoder = StringDecoder::new("utf16le").unwrap();
        let (a, b) = bytes.split_at(cut);
        assert_eq!(
            decode_chunks(&mut decoder, &[a, b]).concat(),
            "👍",
            "cut at {cut}"
        );
    }
    // Node emits "\uD83D" then "\uDC4D" here; we hold the lead surrogate instead.
    let mut decoder = StringDecoder::new("utf16le").unwrap();
    assert_eq!(
        decode_chunks(&mut decoder, &[&[0x3d, 0xd8, 0x4d], &[0xdc]]),
        ["", "👍", ""]
    );
}

#[test]
fn utf16le_lone_surrogates_become_one_replacement_each() {
    let mut decoder = StringDecoder::new("utf16le").unwrap();
    assert_eq!(
        decode_chunks(&mut decoder, &[&[0x3d, 0xd8]]),
        ["", "\u{fffd}"]
    );
    assert_eq!(decoder.write(&[0x4d, 0xdc, 0x61, 0x00]), "\u{fffd}a");
    assert_eq!(
        decoder.write(&[0x3d, 0xd8, 0x3d, 0xd8, 0x4d, 0xdc]),
        "\u{fffd}👍"
    );
}

#[test]
fn utf16le_end_drops_an_odd_trailing_byte_like_node() {
    let mut decoder = StringDecoder::new("ucs2").unwrap();
    assert_eq!(
        decode_chunks(&mut decoder, &[&[0x61, 0x00, 0x62]]),
        ["a", ""]
    );
    // The dropped byte does not shift the next stream.
    assert_eq!(decode_chunks(&mut decoder, &[&[0x62, 0x00]]), ["b", ""]);
}

#[test]
fn latin1_is_iso_8859_1_and_ascii_masks_the_high_bit() {
    let bytes = [0xe9, 0xff, 0x80];
    assert_eq!(
        StringDecoder::new("latin1").unwrap().write(&bytes),
        "éÿ\u{80}"
    );
    assert_eq!(
        StringDecoder::new("ascii").unwrap().write(&bytes),
        "i\x7f\0"
    );
    // WHATWG's windows-1252 maps 0x80 to the euro sign; that is a different label here.
    assert_eq!(
        StringDecoder::new("windows-1252").unwrap().write(&bytes),
        "éÿ€"
    );
}

#[test]
fn base64_holds_back_len_mod_3_and_pads_at_end() {
    let mut decoder = StringDecoder::new("base64").unwrap();
    let a: &[u8] = b"a";
    assert_eq!(
        decode_chunks(&mut decoder, &[a, a, a, a]),
        ["", "", "YWFh", "", "YQ=="]
    );
    assert_eq!(decode_chunks(&mut decoder, &[b"aa"]), ["", "YWE="]);
    assert_eq!(decoder.write(&[0xfb, 0xff]) + &decoder.end(), "+/8=");
}

#[test]
fn base64url_end_has_no_padding() {
    let mut decoder = StringDecoder::new("base64url").unwrap();
    assert_eq!(decode_chunks(&mut decoder, &[b"a"]), ["", "YQ"]);
    assert_eq!(decode_chunks(&mut decoder, &[&[0xfb, 0xff]]), ["", "-_8"]);
}

#[test]
fn hex_is_lowercase_and_never_holds_anything() {
    let mut decoder = StringDecoder::new("hex").unwrap();
    assert_eq!(
        decode_chunks(&mut decoder, &[&[0x0a], &[0xff, 0xab]]),
        ["0a", "ffab", ""]
    );
}

// --- Legacy encodings, split inside a character -----------------------------------------------

#[test]
fn legacy_encodings_hold_split_characters() {
    let cases: [(&str, &[&[u8]], &str); 7] = [
        ("gbk", &[&[0xd6], &[0xd0, 0xce], &[0xc4]], "中文"),
        ("gb18030", &[&[0x81, 0x30], &[0x81, 0x30]], "\u{80}"),
        ("big5", &[&[0xa4], &[0xa4]], "中"),
        ("shift_jis", &[&[0x93], &[0xfa, 0x96], &[0x7b]], "日本"),
        ("euc-kr", &[&[0xc7], &[], &[0xd1]], "한"),
        ("euc-jp", &[&[0xc6], &[0xfc]], "日"),
        (
            "iso-2022-jp",
            &[
                &[0x1b, 0x24],
                &[0x42, 0x30],
                &[0x21, 0x1b, 0x28],
                &[0x42, 0x41],
            ],
            "亜A",
        ),
    ];
    for (label, chunks, expected) in cases {
        let mut decoder = StringDecoder::new(label).unwrap();
        let outputs = decode_chunks(&mut decoder, chunks);
        assert!(
            outputs[0].is_empty(),
            "{label}: first chunk is half a character"
        );
        assert_eq!(outputs.concat(), expected, "{label}");
    }
}

#[test]
fn legacy_truncated_character_at_end_is_one_replacement() {
    let mut decoder = StringDecoder::new("gbk").unwrap();
    assert_eq!(
        decode_chunks(&mut decoder, &[&[0x41, 0xd6]]),
        ["A", "\u{fffd}"]
    );
}

#[test]
fn end_resets_legacy_decoders_for_the_next_stream() {
    // ISO-2022-JP is stateful: after `end`, the next stream starts in ASCII mode again.
    let mut decoder = StringDecoder::new("iso-2022-jp").unwrap();
    assert_eq!(decoder.write(&[0x1b, 0x24, 0x42, 0x30, 0x21]), "亜");
    assert_eq!(decoder.end(), "");
    assert_eq!(decoder.write(&[0x30, 0x21]), "0!");
    // A decoder that saw a truncated character decodes cleanly after `end`.
    let mut decoder = StringDecoder::new("shift_jis").unwrap();
    assert_eq!(decode_chunks(&mut decoder, &[&[0x93]]), ["", "\u{fffd}"]);
    assert_eq!(decode_chunks(&mut decoder, &[&[0x93, 0xfa]]), ["日", ""]);
}

#[test]
fn whatwg_byte_order_mark_is_data_not_sniffed() {
    let mut decoder = StringDecoder::new("utf-16be").unwrap();
    assert_eq!(decoder.write(&[0xfe, 0xff, 0x00, 0x41]), "\u{feff}A");
    let mut decoder = StringDecoder::new("windows-1252").unwrap();
    assert_eq!(decoder.write(&[0xef, 0xbb, 0xbf]), "ï»¿");
}

#[test]
fn write_into_appends_after_existing_text() {
    for label in ["utf8", "utf16le", "latin1", "ascii", "base64", "hex", "gbk"] {
        let mut decoder = StringDecoder::new(label).unwrap();
        let mut out = String::from("prefix:");
        decoder.write_into(b"ab", &mut out);
        decoder.end_into(&mut out);
        let mut fresh = StringDecoder::new(label).unwrap();
        let alone = fresh.write(b"ab") + &fresh.end();
        assert_eq!(out, format!("prefix:{alone}"), "{label}");
    }
}

// --- Strict mode -----------------------------------------------------------------------------

fn malformed_at(result: Result<impl std::fmt::Debug, Error>) -> u64 {
    match result {
        Err(Error::Malformed { offset, .. }) => offset,
        other => panic!("expected a malformed error, got {other:?}"),
    }
}

#[test]
fn strict_utf8_reports_the_offset_across_chunks() {
    let mut decoder = StringDecoder::new("utf8").unwrap();
    assert_eq!(decoder.try_write(b"abc").unwrap(), "abc");
    assert_eq!(decoder.try_write(&[0xe2, 0x82]).unwrap(), "");
    // The held sequence starts at offset 3 and breaks when 'x' arrives.
    assert_eq!(malformed_at(decoder.try_write(b"x")), 3);
    // The error reset the decoder: offsets count from the new stream.
    assert_eq!(malformed_at(decoder.try_write(&[0x61, 0xff])), 1);
}

#[test]
fn strict_utf8_in_one_long_piece_stops_where_std_says_the_valid_prefix_ends() {
    // Pieces over 32 bytes take the one-pass validating copy, not std's short-piece check.
    let prefix = "lorem ipsum dolor sit amet, 😀 consectetur ".as_bytes();
    let breaks: [&[u8]; 6] = [
        &[0xff, 0x61],
        &[0xe2, 0x82, 0x78],
        &[0xed, 0xa0, 0x80, 0x61],
        &[0xf4, 0x90, 0x80, 0x80, 0x61],
        &[0xc0, 0x80, 0x61],
        &[0x80, 0x61],
    ];
    for tail in breaks {
        let input = [prefix, tail, b"more text after the break"].concat();
        let valid = std::str::from_utf8(&input).unwrap_err().valid_up_to();
        let mut decoder = StringDecoder::new("utf8").unwrap();
        let mut out = String::new();
        let err = decoder.try_write_into(&input, &mut out).unwrap_err();
        assert_eq!(malformed_at(Err::<(), _>(err)), valid as u64, "{tail:x?}");
        assert_eq!(out.as_bytes(), &input[..valid], "{tail:x?}");
    }
}

#[test]
fn strict_error_keeps_text_before_the_sequence_and_names_the_encoding() {
    let mut decoder = StringDecoder::new("utf16le").unwrap();
    let mut out = String::new();
    let err = decoder
        .try_write_into(&[0x61, 0x00, 0x00, 0xdc, 0x62, 0x00], &mut out)
        .unwrap_err();
    assert_eq!(
        err,
        Error::Malformed {
            encoding: Encoding::Utf16Le,
            offset: 2
        }
    );
    assert_eq!(err.to_string(), "malformed utf16le input at byte offset 2");
    assert_eq!(out, "a");
}

#[test]
fn strict_end_rejects_what_lossy_end_would_replace_or_drop() {
    let cases: [(&str, &[u8], u64); 5] = [
        ("utf8", &[0x41, 0xf0, 0x9f], 1),
        ("utf16le", &[0x61, 0x00, 0x62], 2),
        ("utf16le", &[0x3d, 0xd8], 0),
        ("gbk", &[0x41, 0x42, 0xd6], 2),
        ("shift_jis", &[0x93], 0),
    ];
    for (label, bytes, offset) in cases {
        let mut decoder = StringDecoder::new(label).unwrap();
        decoder.try_write(bytes).unwrap();
        assert_eq!(malformed_at(decoder.try_end()), offset, "{label}");
    }
}

#[test]
fn strict_ascii_rejects_high_bytes_and_legacy_reports_the_bad_byte() {
    let mut decoder = StringDecoder::new("ascii").unwrap();
    assert_eq!(malformed_at(decoder.try_write(b"ok\xe9")), 2);
    let mut decoder = StringDecoder::new("euc-kr").unwrap();
    decoder.try_write(b"abcd").unwrap();
    assert_eq!(malformed_at(decoder.try_write(&[0x41, 0xff])), 5);
}

#[test]
fn strict_accepts_everything_for_byte_encodings() {
    let all: Vec<u8> = (0..=255).collect();
    for label in ["latin1", "base64", "base64url", "hex"] {
        let mut decoder = StringDecoder::new(label).unwrap();
        let strict = decoder.try_write(&all).unwrap() + &decoder.try_end().unwrap();
        let lossy = decoder.write(&all) + &decoder.end();
        assert_eq!(strict, lossy, "{label}");
    }
}

#[test]
fn debug_names_the_encoding() {
    let decoder = StringDecoder::new("gbk").unwrap();
    let debug = format!("{decoder:?}");
    assert!(debug.starts_with("StringDecoder {"), "{debug}");
    assert!(debug.contains("GBK"), "{debug}");
}

#[test]
fn base64_of_a_write_larger_than_the_encoder_slice_matches_the_base64_crate() {
    use base64::Engine as _;
    // 7 MiB + 1 byte: more than two of the 3 MiB slices handed to the encoder, plus a carry.
    let bytes: Vec<u8> = (0..7 * 1024 * 1024 + 1)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    for (label, engine) in [
        ("base64", base64::engine::general_purpose::STANDARD),
        (
            "base64url",
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        let mut decoder = StringDecoder::new(label).unwrap();
        let text = decoder.write(&bytes[..5]) + &decoder.write(&bytes[5..]) + &decoder.end();
        assert!(text == engine.encode(&bytes), "{label}");
    }
}
