//! The book's claim, measured: a larger `high_water_mark` reads faster. Read throughput of a
//! page-cached 64 MiB file at every power of four from 4 KiB to 4 MiB, for our `ReadStream`, a
//! plain `std::fs::File` read loop with the same buffer (the ceiling) and tokio-util's
//! `ReaderStream::with_capacity(tokio::fs::File)`, on a 2-worker multi-thread runtime.
//!
//! `cargo run --release -p examples --bin bench-report` plots these figures.

use std::hint::black_box;
use std::io::Read;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use streams::{ReadOptions, ReadStream};
use tokio::runtime::Builder;
use tokio_util::io::ReaderStream;

const FILE_LEN: usize = 64 << 20;
const SIZES: [(usize, &str); 6] = [
    (4 << 10, "4KiB"),
    (16 << 10, "16KiB"),
    (64 << 10, "64KiB"),
    (256 << 10, "256KiB"),
    (1 << 20, "1MiB"),
    (4 << 20, "4MiB"),
];

fn std_loop(path: &Path, size: usize) -> usize {
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

async fn ours(path: &Path, size: usize) -> usize {
    let options = ReadOptions::new().high_water_mark(size);
    let mut stream = ReadStream::open(path, options).await.unwrap();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += black_box(chunk.unwrap()).len();
    }
    total
}

async fn reader_stream(path: &Path, size: usize) -> usize {
    let file = tokio::fs::File::open(path).await.unwrap();
    let mut stream = ReaderStream::with_capacity(file, size);
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += black_box(chunk.unwrap()).len();
    }
    total
}

fn sweep(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.bin");
    let data: Vec<u8> = (0..FILE_LEN).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    drop(data);
    assert_eq!(std_loop(&path, 1 << 20), FILE_LEN);
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("hwm_sweep");
    group.throughput(Throughput::Bytes(FILE_LEN as u64));
    group.sample_size(10);
    for (size, label) in SIZES {
        group.bench_with_input(BenchmarkId::new("read_stream", label), &size, |b, &size| {
            b.to_async(&rt)
                .iter(|| async { assert_eq!(ours(&path, size).await, FILE_LEN) });
        });
        group.bench_with_input(
            BenchmarkId::new("std_fs_file_loop", label),
            &size,
            |b, &size| b.iter(|| assert_eq!(std_loop(&path, size), FILE_LEN)),
        );
        group.bench_with_input(
            BenchmarkId::new("tokio_util_reader_stream", label),
            &size,
            |b, &size| {
                b.to_async(&rt)
                    .iter(|| async { assert_eq!(reader_stream(&path, size).await, FILE_LEN) });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, sweep);
criterion_main!(benches);
