//! The line splitter under any text, chunking and maximum: never a panic, the lines are the
//! text's lines, and the first over-long line is an error that ends the stream.
//!
//! Input layout: the maximum line length (0 to 255), up to 16 cut positions, then the text
//! (invalid UTF-8 replaced). The expected lines come from a plain model: split on `\n`, drop
//! one `\r` before it, drop a last empty piece.
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use nodebook_streams::{Error, Lines};
use toolkit_fuzz::{Ready, collect, cuts, split};

fuzz_target!(|data: &[u8]| {
    let _ = check(Unstructured::new(data));
});

fn check(mut u: Unstructured<'_>) -> Result<()> {
    let max = usize::from(u.arbitrary::<u8>()?);
    let cuts = cuts(&mut u, 16)?;
    let text = String::from_utf8_lossy(u.take_rest()).into_owned();
    let chunks: VecDeque<std::result::Result<String, Error>> =
        split(text.len(), &cuts, |at| text.is_char_boundary(at))
            .into_iter()
            .map(|(start, end)| Ok(text[start..end].to_string()))
            .collect();

    let got = collect(Lines::new(Ready(chunks), max));

    // The model.
    let mut pieces: Vec<&str> = text.split('\n').collect();
    let last = pieces
        .pop()
        .map(|last| last.strip_suffix('\r').unwrap_or(last));
    let mut lines: Vec<&str> = pieces
        .into_iter()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    lines.extend(last.filter(|last| !last.is_empty()));

    let too_long = lines.iter().position(|line| line.len() > max);
    let ok_count = too_long.unwrap_or(lines.len());
    assert_eq!(
        got.len(),
        ok_count + usize::from(too_long.is_some()),
        "{text:?} max {max}"
    );
    for (number, (got, want)) in got.iter().zip(&lines).enumerate() {
        match got {
            Ok(line) => {
                assert!(
                    number < ok_count,
                    "line {} of {text:?} should be too long",
                    number + 1
                );
                assert_eq!(line, want, "line {} of {text:?}", number + 1);
            }
            Err(Error::LineTooLong {
                line,
                max_line_length,
            }) => {
                assert_eq!(Some(number), too_long, "{text:?} max {max}");
                assert_eq!(*line, number as u64 + 1);
                assert_eq!(*max_line_length, max);
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    // Re-joined, the lines are the text (up to its line ends) when none is too long.
    if too_long.is_none() {
        let joined: String = got
            .iter()
            .map(|line| line.as_ref().unwrap().as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let normalised = text.replace("\r\n", "\n");
        // A last line of only `\r` is empty, so a text may end in `\n\r` as well as `\n`.
        let normalised = normalised.strip_suffix('\r').unwrap_or(&normalised);
        let normalised = normalised.strip_suffix('\n').unwrap_or(normalised);
        if !normalised.contains('\r') {
            assert_eq!(joined, normalised);
        }
    }
    Ok(())
}
