//! ReadStream against a plain `std::fs::File` read loop (the ceiling) and tokio-util's
//! `ReaderStream::with_capacity(tokio::fs::File)`, at 16 KiB, 64 KiB and 1 MiB, on a
//! current-thread and a multi-thread runtime; `concat` against collecting into a `BytesMut`.
//!
//! The file is 64 MiB and read once before measuring, so it is in the page cache.

use std::hint::black_box;
use std::io::Read;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use streams::{ReadOptions, ReadStream, concat};
use tokio::runtime::{Builder, Runtime};
use tokio_util::io::ReaderStream;

const FILE_LEN: usize = 64 << 20;
const SIZES: [(usize, &str); 3] = [(16 << 10, "16KiB"), (64 << 10, "64KiB"), (1 << 20, "1MiB")];

fn runtimes() -> [(Runtime, &'static str); 2] {
    let current = Builder::new_current_thread().enable_all().build().unwrap();
    let multi = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    [(current, "current_thread"), (multi, "multi_thread")]
}

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
    let mut stream = ReadStream::open(path, ReadOptions::new().high_water_mark(size))
        .await
        .unwrap();
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

fn read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.bin");
    let data: Vec<u8> = (0..FILE_LEN).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    drop(data);
    assert_eq!(std_loop(&path, 1 << 20), FILE_LEN);

    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Bytes(FILE_LEN as u64));
    group.sample_size(20);
    for (size, label) in SIZES {
        group.bench_with_input(
            BenchmarkId::new("std_fs_file_loop", label),
            &size,
            |b, &size| {
                b.iter(|| assert_eq!(std_loop(&path, size), FILE_LEN));
            },
        );
    }
    for (rt, flavor) in runtimes() {
        for (size, label) in SIZES {
            let id = format!("{flavor}/{label}");
            group.bench_with_input(BenchmarkId::new("read_stream", &id), &size, |b, &size| {
                b.to_async(&rt)
                    .iter(|| async { assert_eq!(ours(&path, size).await, FILE_LEN) });
            });
            group.bench_with_input(
                BenchmarkId::new("tokio_util_reader_stream", &id),
                &size,
                |b, &size| {
                    b.to_async(&rt)
                        .iter(|| async { assert_eq!(reader_stream(&path, size).await, FILE_LEN) });
                },
            );
        }
    }
    group.finish();
}

fn join(c: &mut Criterion) {
    let chunks: Vec<Bytes> = (0..128)
        .map(|i| Bytes::from(vec![i as u8; 64 << 10]))
        .collect();
    let total = chunks.iter().map(Bytes::len).sum::<usize>();
    let rt = Builder::new_current_thread().build().unwrap();
    let mut group = c.benchmark_group("concat_8MiB_of_64KiB_chunks");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("streams_concat", |b| {
        b.to_async(&rt).iter(|| async {
            let stream = futures::stream::iter(chunks.iter().cloned().map(Ok));
            assert_eq!(concat(stream, total).await.unwrap().len(), total);
        });
    });
    group.bench_function("collect_into_bytes_mut", |b| {
        b.to_async(&rt).iter(|| async {
            let stream = futures::stream::iter(chunks.iter().cloned());
            let joined = stream
                .fold(BytesMut::new(), |mut acc, chunk| async move {
                    acc.extend_from_slice(&chunk);
                    acc
                })
                .await
                .freeze();
            assert_eq!(joined.len(), total);
        });
    });
    group.finish();
}

criterion_group!(benches, read, join);
criterion_main!(benches);
