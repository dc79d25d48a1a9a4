//! ReadStream against a plain `std::fs::File` read loop (the ceiling) and tokio-util's
//! `ReaderStream::with_capacity(tokio::fs::File)`, at 16 KiB, 64 KiB and 1 MiB, on a
//! current-thread and a multi-thread runtime; `concat` against collecting into a `BytesMut`.
//!
//! The file is 64 MiB and read once before measuring, so it is in the page cache.

mod common;

use bytes::{Bytes, BytesMut};
use common::{FILE_LEN, cached_file, ours, reader_stream, runtimes, std_loop};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use nodebook_streams::concat;
use tokio::runtime::Builder;

const SIZES: [(usize, &str); 3] = [(16 << 10, "16KiB"), (64 << 10, "64KiB"), (1 << 20, "1MiB")];

fn read(c: &mut Criterion) {
    let (_dir, path) = cached_file("bench.bin");

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
