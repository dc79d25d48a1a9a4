//! `concat` with its limit, `buffer_concat` against Node's `Buffer.concat` (fixture from
//! `fixtures/gen.js`), and `pipe` with progress.

use std::path::Path;

use bytes::Bytes;
use futures::{StreamExt, stream};
use nodebook_streams::{
    Error, ReadOptions, ReadStream, buffer_concat, concat, pipe, pipe_with_progress,
};

/// Asserts that `err` is `concat`'s limit error with these figures.
#[track_caller]
fn assert_limit_exceeded(err: &Error, limit: usize, at_least: u64) {
    assert!(
        matches!(err, Error::LimitExceeded { limit: l, at_least: a } if *l == limit && *a == at_least),
        "{err:?}"
    );
}

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
    assert_limit_exceeded(&err, 9, 10);
    assert_eq!(
        err.to_string(),
        "concat limit exceeded: the stream holds at least 10 bytes, the limit is 9"
    );
    assert_eq!(
        pulled, 3,
        "the stream is not read past the chunk that went over"
    );
}

/// A temporary file of `len` bytes of a repeating pattern (no byte value lines up with the
/// chunk sizes), its path, and its contents. The file lives as long as the directory.
fn patterned_file(len: u32) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    let data: Vec<u8> = (0..len).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    (dir, path, data)
}

#[tokio::test]
async fn concat_of_a_file_stream_equals_the_file() {
    let (_dir, path, data) = patterned_file(300_000);
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
async fn a_file_known_to_be_too_long_is_refused_before_its_chunks_are_gathered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.bin");
    let len = 1u64 << 30;
    std::fs::File::create(&path).unwrap().set_len(len).unwrap();
    let options = ReadOptions::new().high_water_mark(4096);
    let stream = ReadStream::open(&path, options).await.unwrap();
    assert_eq!(stream.remaining_len(), Some(len));
    // Counting chunks would have stopped at 12288 bytes (three chunks) and said so; the whole
    // length in the error shows that the refusal came from the size, before any chunk.
    let err = stream.concat(10_000).await.unwrap_err();
    assert_limit_exceeded(&err, 10_000, len);
    assert_eq!(
        err.to_string(),
        format!("concat limit exceeded: the stream holds at least {len} bytes, the limit is 10000")
    );
}

#[tokio::test]
async fn the_known_length_follows_start_end_and_the_chunks_taken() {
    let (_dir, path, data) = patterned_file(10_000);
    let open = |options: ReadOptions| ReadStream::open(&path, options.high_water_mark(1000));

    // A range within the limit is joined as usual.
    let stream = open(ReadOptions::new().start(2000).end(4999))
        .await
        .unwrap();
    assert_eq!(stream.remaining_len(), Some(3000));
    assert_eq!(stream.concat(3000).await.unwrap(), &data[2000..5000]);

    // A range over the limit is refused with its own length, not the file's.
    let stream = open(ReadOptions::new().start(2000).end(4999))
        .await
        .unwrap();
    let err = stream.concat(2999).await.unwrap_err();
    assert_limit_exceeded(&err, 2999, 3000);

    // An `end` past the end of the file counts to the end of the file; `start` past it, nothing.
    let stream = open(ReadOptions::new().start(9000).end(50_000))
        .await
        .unwrap();
    assert_eq!(stream.remaining_len(), Some(1000));
    let stream = open(ReadOptions::new().start(20_000)).await.unwrap();
    assert_eq!(stream.remaining_len(), Some(0));
    assert_eq!(stream.concat(0).await.unwrap(), &b""[..]);

    // Each chunk taken comes off the figure, and the end leaves 0.
    let mut stream = open(ReadOptions::new()).await.unwrap();
    stream.next().await.unwrap().unwrap();
    assert_eq!(stream.remaining_len(), Some(9000));
    assert_eq!(stream.concat(9000).await.unwrap(), &data[1000..]);
    let mut stream = open(ReadOptions::new().start(9500)).await.unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    assert_eq!(stream.remaining_len(), Some(0));
}

#[tokio::test]
async fn a_reader_of_unknown_length_is_held_to_the_limit_chunk_by_chunk() {
    let options = ReadOptions::new().high_water_mark(4);
    let stream = ReadStream::from_reader(&b"0123456789"[..], options).unwrap();
    assert_eq!(stream.remaining_len(), None);
    let err = stream.concat(6).await.unwrap_err();
    assert_limit_exceeded(&err, 6, 8);
    let stream = ReadStream::from_reader(&b"0123456789"[..], options).unwrap();
    assert_eq!(stream.concat(10).await.unwrap(), &b"0123456789"[..]);
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
