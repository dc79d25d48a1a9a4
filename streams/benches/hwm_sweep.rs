//! The book's claim, measured: a larger `high_water_mark` reads faster. Read throughput of a
//! page-cached 64 MiB file at every power of four from 4 KiB to 4 MiB, for our `ReadStream`, a
//! plain `std::fs::File` read loop with the same buffer (the ceiling) and tokio-util's
//! `ReaderStream::with_capacity(tokio::fs::File)`, on a 2-worker multi-thread runtime.
//!
//! `cargo run --release -p examples --bin bench-report` plots these figures.

mod common;

use common::{FILE_LEN, cached_file, ours, reader_stream, runtimes, std_loop};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [(usize, &str); 6] = [
    (4 << 10, "4KiB"),
    (16 << 10, "16KiB"),
    (64 << 10, "64KiB"),
    (256 << 10, "256KiB"),
    (1 << 20, "1MiB"),
    (4 << 20, "4MiB"),
];

fn sweep(c: &mut Criterion) {
    let (_dir, path) = cached_file("sweep.bin");
    let [_, (rt, _)] = runtimes();

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
