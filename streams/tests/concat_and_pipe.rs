//! `concat` with its limit, `buffer_concat` against Node's `Buffer.concat` (fixture from
//! `fixtures/gen.js`), and `pipe` with progress.

use std::path::Path;

use bytes::Bytes;
use futures::{StreamExt, stream};
use streams::{Error, ReadOptions, ReadStream, buffer_concat, concat, pipe, pipe_with_progress};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn buffer_concat_matches_node() {
    let cases = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/buffer_concat.txt"),
    )
    .unwrap();
    let mut checked = 0;
    for line in cases.lines() {
        let mut parts = line.split('|');
        let list: Vec<Vec<u8>> = match parts.next().unwrap() {
            "" => Vec::new(),
            buffers => buffers.split(',').map(hex).collect(),
        };
        let total = match parts.next().unwrap() {
            "-" => None,
            n => Some(n.parse().unwrap()),
        };
        let want = hex(parts.next().unwrap());
        assert_eq!(buffer_concat(&list, total).unwrap(), want, "{line}");
        checked += 1;
    }
    assert_eq!(checked, 10);
}

#[test]
fn buffer_concat_refuses_a_length_no_allocation_can_hold() {
    let err = buffer_concat(&[b"a"], Some(usize::MAX)).unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded { at_least, .. } if at_least == usize::MAX as u64),
        "{err:?}"
    );
}

fn chunks(parts: &[&'static [u8]]) -> impl futures::Stream<Item = Result<Bytes, Error>> {
    stream::iter(
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test]
async fn concat_joins_everything_under_the_limit() {
    assert_eq!(
        concat(chunks(&[b"ab", b"", b"cd", b"e"]), 5).await.unwrap(),
        &b"abcde"[..]
    );
    assert_eq!(concat(chunks(&[]), 0).await.unwrap(), &b""[..]);
    assert_eq!(concat(chunks(&[b"", b""]), 0).await.unwrap(), &b""[..]);
}

#[tokio::test]
async fn a_single_chunk_is_returned_without_a_copy() {
    let chunk = Bytes::from(vec![7u8; 1000]);
    let ptr = chunk.as_ptr();
    let joined = concat(stream::iter([Ok(chunk)]), 1000).await.unwrap();
    assert_eq!(joined.as_ptr(), ptr);
}

#[tokio::test]
async fn exceeding_the_limit_stops_before_keeping_the_chunk_that_goes_over() {
    let mut pulled = 0;
    let counted = chunks(&[b"0123", b"4567", b"89", b"never pulled"]).inspect(|_| pulled += 1);
    let err = concat(counted, 9).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: 9,
                at_least: 10
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "concat limit exceeded: the stream holds at least 10 bytes, the limit is 9"
    );
    assert_eq!(
        pulled, 3,
        "the stream is not read past the chunk that went over"
    );
}

#[tokio::test]
async fn concat_of_a_file_stream_equals_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let stream = ReadStream::open(&path, ReadOptions::new().high_water_mark(4096))
        .await
        .unwrap();
    assert_eq!(concat(stream, data.len()).await.unwrap(), data);
    let stream = ReadStream::open(&path, ReadOptions::new().high_water_mark(4096))
        .await
        .unwrap();
    assert!(matches!(
        concat(stream, data.len() - 1).await,
        Err(Error::LimitExceeded { .. })
    ));
}

#[tokio::test]
async fn pipe_copies_a_file_and_reports_progress_per_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("from.bin");
    let to = dir.path().join("to.bin");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 239) as u8).collect();
    std::fs::write(&from, &data).unwrap();
    let stream = ReadStream::open(&from, ReadOptions::new().high_water_mark(30_000))
        .await
        .unwrap();
    let mut progress = Vec::new();
    let mut out = tokio::fs::File::create(&to).await.unwrap();
    let written = pipe_with_progress(stream, &mut out, |n| progress.push(n))
        .await
        .unwrap();
    drop(out);
    assert_eq!(written, 100_000);
    assert_eq!(progress, [30_000, 60_000, 90_000, 100_000]);
    assert_eq!(
        std::fs::read(&to).unwrap(),
        data,
        "pipe flushed the file before returning"
    );
}

#[tokio::test]
async fn pipe_of_an_empty_stream_writes_nothing_and_still_flushes() {
    let stream = ReadStream::from_reader(&b""[..], ReadOptions::new()).unwrap();
    let mut out = tokio::io::BufWriter::new(Vec::new());
    assert_eq!(pipe(stream, &mut out).await.unwrap(), 0);
    assert!(out.get_ref().is_empty());
}
