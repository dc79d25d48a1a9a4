//! Chunking and byte ranges of `ReadStream`, checked against Node's `fs.createReadStream`
//! (`start`/`end` inclusive, `highWaterMark` chunks; see `fixtures/gen.js`).

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::TryStreamExt;
use nodebook_streams::{Error, MIN_POOL_SPACE, ReadOptions, ReadStream};
use tokio::io::{AsyncRead, ReadBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected_lengths(name: &str) -> Vec<usize> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

async fn chunks_of(path: &Path, options: ReadOptions) -> Result<Vec<Bytes>, Error> {
    ReadStream::open(path, options).await?.try_collect().await
}

/// A file of `len` bytes where byte `i` is `i % 251`, so any misplaced byte shows.
fn numbered_file(len: usize) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("numbered.bin");
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    (dir, path, data)
}

#[tokio::test]
async fn poem_at_high_water_mark_11_comes_in_nodes_chunks() {
    for (file, lengths) in [
        ("poem.utf8.txt", "poem.utf8.chunks.txt"),
        ("poem.gbk.txt", "poem.gbk.chunks.txt"),
    ] {
        let chunks = chunks_of(&fixture(file), ReadOptions::new().high_water_mark(11))
            .await
            .unwrap();
        let got: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(got, expected_lengths(lengths), "{file}");
        assert_eq!(
            chunks.concat(),
            std::fs::read(fixture(file)).unwrap(),
            "{file}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_file_arrives_in_full_chunks_on_a_multi_thread_runtime() {
    let (_dir, path, data) = numbered_file(1_000_003);
    let chunks = chunks_of(&path, ReadOptions::new()).await.unwrap();
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.len() == 64 * 1024)
    );
    assert_eq!(chunks.last().unwrap().len(), 1_000_003 % (64 * 1024));
    assert_eq!(chunks.concat(), data);
}

#[tokio::test]
async fn start_and_end_are_inclusive_like_node() {
    let (_dir, path, data) = numbered_file(1000);
    let cases: [(u64, Option<u64>, &[u8]); 7] = [
        (0, Some(0), &data[..1]),
        (0, Some(999), &data[..]),
        (999, Some(999), &data[999..]),
        (999, None, &data[999..]),
        (10, Some(20), &data[10..=20]),
        (990, Some(5000), &data[990..]),
        (3, None, &data[3..]),
    ];
    for (start, end, want) in cases {
        let mut options = ReadOptions::new().high_water_mark(7).start(start);
        if let Some(end) = end {
            options = options.end(end);
        }
        let chunks = chunks_of(&path, options).await.unwrap();
        assert_eq!(chunks.concat(), want, "start {start} end {end:?}");
        assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= 7));
    }
}

#[tokio::test]
async fn start_past_the_end_gives_an_empty_stream() {
    let (_dir, path, _) = numbered_file(1000);
    for start in [1000, 1001, u64::MAX / 2] {
        let chunks = chunks_of(&path, ReadOptions::new().start(start))
            .await
            .unwrap();
        assert!(chunks.is_empty(), "start {start}");
    }
}

#[tokio::test]
async fn start_after_end_is_a_clear_error_before_anything_is_opened() {
    let err = chunks_of(
        Path::new("/no/such/file"),
        ReadOptions::new().start(5).end(4),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRange { start: 5, end: 4 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "invalid range: start 5 is after end 4 (both are inclusive)"
    );
}

#[tokio::test]
async fn high_water_mark_must_be_positive_and_bounded() {
    for hwm in [0, nodebook_streams::MAX_HIGH_WATER_MARK + 1] {
        let err =
            ReadStream::from_reader(&b""[..], ReadOptions::new().high_water_mark(hwm)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidHighWaterMark { high_water_mark } if high_water_mark == hwm)
        );
        assert!(
            err.to_string()
                .starts_with(&format!("invalid high_water_mark {hwm}: "))
        );
    }
}

#[tokio::test]
async fn empty_file_gives_an_empty_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty");
    std::fs::write(&path, b"").unwrap();
    assert!(
        chunks_of(&path, ReadOptions::new())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        chunks_of(&path, ReadOptions::new().start(0).end(10))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_three_sources_agree_on_ranges() {
    let (_dir, path, data) = numbered_file(5000);
    let options = ReadOptions::new().high_water_mark(300).start(123).end(4321);
    let want = &data[123..=4321];
    let from_file: Vec<Bytes> = chunks_of(&path, options).await.unwrap();
    let from_blocking: Vec<Bytes> =
        ReadStream::from_blocking_reader(std::fs::File::open(&path).unwrap(), options)
            .unwrap()
            .try_collect()
            .await
            .unwrap();
    let from_async: Vec<Bytes> =
        ReadStream::from_reader(tokio::fs::File::open(&path).await.unwrap(), options)
            .unwrap()
            .try_collect()
            .await
            .unwrap();
    for chunks in [from_file, from_blocking, from_async] {
        assert_eq!(chunks.concat(), want);
        assert!(chunks.iter().all(|c| c.len() <= 300));
    }
}

/// Hands out at most `step` bytes per read, like a socket; counts what it handed out.
struct ShortReads {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

/// The chunks a `ReadStream` with `high_water_mark` makes of `data` read `step` bytes at a time.
async fn chunks_of_short_reads(data: &[u8], step: usize, high_water_mark: usize) -> Vec<Bytes> {
    let reader = ShortReads {
        data: data.to_vec(),
        pos: 0,
        step,
    };
    ReadStream::from_reader(reader, ReadOptions::new().high_water_mark(high_water_mark))
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

impl AsyncRead for ShortReads {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self
            .step
            .min(buf.remaining())
            .min(self.data.len() - self.pos);
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn short_reads_never_leave_tiny_tail_chunks() {
    // tokio-util's ReaderStream with capacity 4096 over 4000-byte reads yields 4000, 96, 4000, 96…;
    // the book's pool starts a new pool when fewer than kMinPoolSpace (128) bytes are left.
    let data: Vec<u8> = (0..40_000).map(|i| (i % 253) as u8).collect();
    let chunks = chunks_of_short_reads(&data, 4000, 4096).await;
    assert_eq!(chunks.concat(), data);
    assert!(
        chunks.iter().all(|c| c.len() == 4000),
        "{:?}",
        chunks.iter().map(Bytes::len).collect::<Vec<_>>()
    );
    const { assert!(4096 - 4000 < MIN_POOL_SPACE) };
}

#[tokio::test]
async fn leftover_pool_space_above_the_minimum_is_used_for_the_next_chunk() {
    // 4096-byte pools, 3000-byte reads: 3000 fits, 1096 are left (>= 128) and carry the next read.
    let data: Vec<u8> = (0..8192).map(|i| (i % 249) as u8).collect();
    let chunks = chunks_of_short_reads(&data, 3000, 4096).await;
    let lengths: Vec<usize> = chunks.iter().map(Bytes::len).collect();
    assert_eq!(lengths, [3000, 1096, 3000, 1096]);
    assert_eq!(chunks.concat(), data);
}

/// Pending on every other poll (waking itself), then hands out `data` in one read.
struct Hesitant {
    data: Vec<u8>,
    pos: usize,
    ready: bool,
}

impl AsyncRead for Hesitant {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        let n = buf.remaining().min(self.data.len() - self.pos);
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_dropped_next_future_loses_no_data() {
    use futures::StreamExt;
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 241) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, &data).unwrap();
    let options = ReadOptions::new().high_water_mark(700);
    let sources = [
        ReadStream::from_reader(
            Hesitant {
                data: data.clone(),
                pos: 0,
                ready: false,
            },
            options,
        )
        .unwrap(),
        ReadStream::open(&path, options).await.unwrap(),
    ];
    for mut stream in sources {
        let mut got = Vec::new();
        loop {
            // Poll once and drop the future, then take the chunk with a fresh one.
            let mut next = tokio_test::task::spawn(stream.next());
            if let Poll::Ready(item) = next.poll() {
                match item {
                    Some(chunk) => got.extend_from_slice(&chunk.unwrap()),
                    None => break,
                }
                continue;
            }
            drop(next);
            match stream.next().await {
                Some(chunk) => got.extend_from_slice(&chunk.unwrap()),
                None => break,
            }
        }
        assert_eq!(got, data);
    }
}
