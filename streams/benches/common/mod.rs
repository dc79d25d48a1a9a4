//! What both read benches share: the page-cached 64 MiB file and the three ways of reading it.

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use nodebook_streams::{ReadOptions, ReadStream};
use tempfile::TempDir;
use tokio::runtime::{Builder, Runtime};
use tokio_util::io::ReaderStream;

pub(crate) const FILE_LEN: usize = 64 << 20;

/// Writes the `FILE_LEN`-byte file and reads it once, so it is in the page cache before any
/// measurement. The file lives as long as the returned directory.
pub(crate) fn cached_file(name: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let data: Vec<u8> = (0..FILE_LEN).map(|i| (i % 251) as u8).collect();
    let mut file = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut file, &data).unwrap();
    file.sync_all().unwrap();
    drop((file, data));
    assert_eq!(std_loop(&path, 1 << 20), FILE_LEN);
    (dir, path)
}

/// The two runtimes the reads are measured on: current-thread, and multi-thread with 2 workers.
pub(crate) fn runtimes() -> [(Runtime, &'static str); 2] {
    let current = Builder::new_current_thread().enable_all().build().unwrap();
    let multi = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    [(current, "current_thread"), (multi, "multi_thread")]
}

/// The ceiling: a plain `std::fs::File` read loop with a `size`-byte buffer.
pub(crate) fn std_loop(path: &Path, size: usize) -> usize {
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; size];
    let mut total = 0;
    loop {
        match file.read(&mut buf).unwrap() {
            0 => return total,
            n => total += black_box(&buf[..n]).len(),
        }
    }
}

/// Our `ReadStream` with a `size`-byte `high_water_mark`.
pub(crate) async fn ours(path: &Path, size: usize) -> usize {
    let options = ReadOptions::new().high_water_mark(size);
    let mut stream = ReadStream::open(path, options).await.unwrap();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += black_box(chunk.unwrap()).len();
    }
    total
}

/// tokio-util's `ReaderStream::with_capacity(tokio::fs::File, size)`.
pub(crate) async fn reader_stream(path: &Path, size: usize) -> usize {
    let file = tokio::fs::File::open(path).await.unwrap();
    let mut stream = ReaderStream::with_capacity(file, size);
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += black_box(chunk.unwrap()).len();
    }
    total
}
