//! The book's section 6.3: the poem read at `highWaterMark` 11 garbles when each chunk is
//! decoded alone and does not through `set_encoding`. Expected strings come from Node 20
//! (`fixtures/gen.js`): `chunk.toString()` / `TextDecoder` per chunk, and `setEncoding`.

use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt, stream};
use nodebook_streams::{Error, Lines, ReadOptions, ReadStream};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

async fn poem_chunks(file: &str) -> ReadStream {
    ReadStream::open(fixture(file), ReadOptions::new().high_water_mark(11))
        .await
        .unwrap()
}

#[tokio::test]
async fn utf8_poem_garbles_per_chunk_and_not_with_set_encoding() {
    let chunks: Vec<bytes::Bytes> = poem_chunks("poem.utf8.txt")
        .await
        .try_collect()
        .await
        .unwrap();
    let garbled: String = chunks.iter().map(|c| String::from_utf8_lossy(c)).collect();
    assert_eq!(garbled, expected("poem.utf8.garbled.txt"));

    let text: Vec<String> = poem_chunks("poem.utf8.txt")
        .await
        .set_encoding("utf8")
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(text.concat(), expected("poem.utf8.decoded.txt"));
    assert_eq!(
        text.concat(),
        "床前明月光，疑是地上霜；举头望明月，低头思故乡。"
    );
    assert_eq!(
        text.len(),
        7,
        "one string per chunk, as Node's 'data' events"
    );
}

#[tokio::test]
async fn gbk_poem_garbles_per_chunk_and_not_with_set_encoding() {
    let chunks: Vec<bytes::Bytes> = poem_chunks("poem.gbk.txt")
        .await
        .try_collect()
        .await
        .unwrap();
    let garbled: String = chunks
        .iter()
        .map(|c| encoding_rs::GBK.decode_without_bom_handling(c).0)
        .collect();
    assert_eq!(garbled, expected("poem.gbk.garbled.txt"));

    let text: Vec<String> = poem_chunks("poem.gbk.txt")
        .await
        .set_encoding("gbk")
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(text.concat(), expected("poem.gbk.decoded.txt"));
}

#[tokio::test]
async fn every_chunk_size_decodes_the_poem_whole() {
    let poem = expected("poem.utf8.decoded.txt");
    for hwm in 1..=20 {
        for (file, label) in [("poem.utf8.txt", "utf-8"), ("poem.gbk.txt", "GBK")] {
            let options = ReadOptions::new().high_water_mark(hwm);
            let text: Vec<String> = ReadStream::open(fixture(file), options)
                .await
                .unwrap()
                .set_encoding(label)
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(text.concat(), poem, "{file} at {hwm}");
            assert!(text.iter().all(|t| !t.is_empty()));
        }
    }
}

#[tokio::test]
async fn an_unfinished_character_at_the_end_becomes_one_replacement() {
    let bytes =
        ReadStream::from_reader(&b"ok\xe6\x9c"[..], ReadOptions::new().high_water_mark(3)).unwrap();
    let text: Vec<String> = bytes
        .set_encoding("utf8")
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(text, ["ok", "\u{fffd}"]);
}

#[tokio::test]
async fn unknown_label_is_a_clear_error() {
    let bytes = ReadStream::from_reader(&b""[..], ReadOptions::new()).unwrap();
    let err = bytes.set_encoding("utf-32").unwrap_err();
    assert!(
        matches!(err, Error::Decode(nodebook_decoder::Error::UnknownEncoding { ref label }) if label == "utf-32")
    );
    assert_eq!(err.to_string(), "unknown encoding `utf-32`");
}

#[tokio::test]
async fn lines_split_across_chunks_and_strip_crlf() {
    let text = "first line\r\nsecond 行\n\nlast without newline";
    for hwm in 1..=8 {
        let bytes =
            ReadStream::from_reader(text.as_bytes(), ReadOptions::new().high_water_mark(hwm))
                .unwrap();
        let lines: Vec<String> = bytes
            .set_encoding("utf8")
            .unwrap()
            .lines(32)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            lines,
            ["first line", "second 行", "", "last without newline"],
            "hwm {hwm}"
        );
    }
}

#[tokio::test]
async fn a_line_at_exactly_the_maximum_passes_and_one_byte_more_fails() {
    let ok = stream::iter([Ok::<_, Error>("abcd\r\nabcd".to_string())]);
    let lines: Vec<String> = Lines::new(ok, 4).try_collect().await.unwrap();
    assert_eq!(lines, ["abcd", "abcd"]);

    for input in ["abcde\n", "abcde", "ab\nabcde\r\n"] {
        let too_long = stream::iter([Ok::<_, Error>(input.to_string())]);
        let result: Result<Vec<String>, Error> = Lines::new(too_long, 4).try_collect().await;
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                Error::LineTooLong {
                    max_line_length: 4,
                    ..
                }
            ),
            "{input:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_endless_line_is_refused_without_buffering_it() {
    // 1 MiB of text without a newline, in 64 KiB chunks: the error comes after the first
    // chunk that pushes the pending line past the maximum, not at the end.
    let chunks_polled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = chunks_polled.clone();
    let endless = stream::iter(0..16).map(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, Error>("x".repeat(64 * 1024))
    });
    let mut lines = Lines::new(endless, 100_000);
    let err = lines.try_next().await.unwrap_err();
    assert!(matches!(
        err,
        Error::LineTooLong {
            line: 1,
            max_line_length: 100_000
        }
    ));
    assert_eq!(chunks_polled.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(
        lines.try_next().await.unwrap().is_none(),
        "the error ends the stream"
    );
}
