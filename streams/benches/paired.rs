//! The targets for the streams, measured in pairs: each round runs ours and the peer
//! back to back (in alternating order), and a figure is the median of the per-round ratios.
//!
//! Why pairs: criterion measures each benchmark for seconds, one after the other, so a change
//! in the machine's speed between two benchmarks lands in their ratio. Within a pair both see
//! the same machine, and the median over rounds drops the rounds that a burst of other work
//! disturbed. `read_stream.rs` keeps the absolute figures.
//!
//! - Reading the page-cached 64 MiB file at 16 KiB, 64 KiB and 1 MiB, on a 2-worker
//!   multi-thread runtime and a current-thread one: time and CPU seconds per GiB (user +
//!   system of the whole process, from `getrusage`, so the blocking pool's threads count),
//!   against tokio-util's `ReaderStream::with_capacity(tokio::fs::File)` and against the plain
//!   `std::fs::File` read loop, which is the ceiling, not a target.
//! - The p99 lag of a task ticking every millisecond while 8 streams read the file beside it,
//!   ours against `ReaderStream`.
//! - Writing 64 MiB in 64 KiB chunks to a file: `WriteStream<tokio::fs::File>` against a
//!   `BufWriter<tokio::fs::File>` (its default capacity) and the std write loop (the ceiling).
//!
//! Each peer runs with the settings its users get by default, at the same chunk size.
//! `NODEBOOK_PAIRED_ROUNDS` sets the rounds per pair (default 21) for a quick run.
//! Prints one line per figure; `cargo run --release -p examples --bin bench-report` reads them.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{FILE_LEN, cached_file, ours, reader_stream, runtimes, std_loop};
use nix::sys::resource::{UsageWho, getrusage};
use nodebook_streams::WriteStream;
use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

const GIB: f64 = (1u64 << 30) as f64;

fn rounds() -> usize {
    std::env::var("NODEBOOK_PAIRED_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(21)
}

/// The process's CPU time so far: user + system, every thread.
fn process_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let seconds =
        |tv: nix::sys::time::TimeVal| Duration::new(tv.tv_sec() as u64, tv.tv_usec() as u32 * 1000);
    seconds(usage.user_time()) + seconds(usage.system_time())
}

/// What one run cost: wall-clock time and CPU time.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

/// Runs `work` (which must handle `FILE_LEN` bytes) and measures it.
fn cost(work: impl FnOnce() -> usize) -> Cost {
    let (wall, cpu) = (Instant::now(), process_cpu());
    assert_eq!(work(), FILE_LEN);
    Cost {
        wall: wall.elapsed(),
        cpu: process_cpu() - cpu,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `ours` and `reference` in pairs, after one warm-up each; returns per-round figures.
fn rounds_of<T: Copy>(
    mut ours: impl FnMut() -> T,
    mut reference: impl FnMut() -> T,
) -> Vec<(T, T)> {
    ours();
    reference();
    (0..rounds())
        .map(|round| {
            if round % 2 == 0 {
                let a = ours();
                (a, reference())
            } else {
                let b = reference();
                (ours(), b)
            }
        })
        .collect()
}

/// Prints the median of `ours / reference` of `figure` over the rounds, and both medians.
fn print_ratio<T: Copy>(label: &str, unit: &str, runs: &[(T, T)], figure: impl Fn(T) -> f64) {
    let mut ratios: Vec<f64> = runs.iter().map(|&(a, b)| figure(a) / figure(b)).collect();
    let mut a: Vec<f64> = runs.iter().map(|&(a, _)| figure(a)).collect();
    let mut b: Vec<f64> = runs.iter().map(|&(_, b)| figure(b)).collect();
    println!(
        "paired {label}: {:.3}x (median of {} rounds; medians {:.3} {unit} and {:.3} {unit})",
        median(&mut ratios),
        runs.len(),
        median(&mut a),
        median(&mut b),
    );
}

/// Time and CPU per GiB, ours against a peer.
fn print_costs(label: &str, runs: &[(Cost, Cost)]) {
    print_ratio(label, "ms", runs, |c| c.wall.as_secs_f64() * 1e3);
    let per_gib = |c: Cost| c.cpu.as_secs_f64() * GIB / FILE_LEN as f64;
    print_ratio(&format!("cpu {label}"), "CPU s per GiB", runs, per_gib);
}

fn read_stream(rt: &Runtime, path: &Path, size: usize) -> Cost {
    cost(|| rt.block_on(ours(path, size)))
}

fn tokio_util(rt: &Runtime, path: &Path, size: usize) -> Cost {
    cost(|| rt.block_on(reader_stream(path, size)))
}

/// The p99 lag, in milliseconds, of a task ticking every millisecond while 8 tasks read the
/// whole file with `read`.
fn ticker_p99<F>(rt: &Runtime, path: &Path, read: fn(Arc<Path>) -> F) -> f64
where
    F: Future<Output = usize> + Send + 'static,
{
    let path: Arc<Path> = Arc::from(path);
    rt.block_on(async {
        let done = Arc::new(AtomicBool::new(false));
        let ticker = tokio::spawn({
            let done = done.clone();
            async move {
                let mut interval = tokio::time::interval(Duration::from_millis(1));
                let mut lags = Vec::new();
                while !done.load(Ordering::Acquire) {
                    let due = interval.tick().await;
                    lags.push(due.elapsed().as_secs_f64() * 1e3);
                }
                lags
            }
        });
        let readers: Vec<_> = (0..8).map(|_| tokio::spawn(read(path.clone()))).collect();
        for reader in readers {
            assert_eq!(reader.await.unwrap(), FILE_LEN);
        }
        done.store(true, Ordering::Release);
        let mut lags = ticker.await.unwrap();
        lags.sort_by(f64::total_cmp);
        lags[(lags.len() * 99 / 100).min(lags.len() - 1)]
    })
}

const WRITE_CHUNK: usize = 64 << 10;

fn write_chunks() -> Vec<Bytes> {
    (0..FILE_LEN / WRITE_CHUNK)
        .map(|i| Bytes::from(vec![(i % 251) as u8; WRITE_CHUNK]))
        .collect()
}

async fn write_stream(path: &Path, chunks: &[Bytes]) -> usize {
    let file = tokio::fs::File::create(path).await.unwrap();
    let mut out = WriteStream::new(file);
    for chunk in chunks {
        out.send(chunk.clone()).await.unwrap();
    }
    out.end().await.unwrap() as usize
}

async fn buf_writer(path: &Path, chunks: &[Bytes]) -> usize {
    let file = tokio::fs::File::create(path).await.unwrap();
    let mut out = tokio::io::BufWriter::new(file);
    for chunk in chunks {
        out.write_all(chunk).await.unwrap();
    }
    out.shutdown().await.unwrap();
    chunks.iter().map(Bytes::len).sum()
}

fn std_write_loop(path: &Path, chunks: &[Bytes]) -> usize {
    let mut file = std::fs::File::create(path).unwrap();
    for chunk in chunks {
        file.write_all(chunk).unwrap();
    }
    file.flush().unwrap();
    chunks.iter().map(Bytes::len).sum()
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let (dir, path) = cached_file("paired.bin");
    let [(current, _), (multi, _)] = runtimes();
    for (rt, flavor) in [(&multi, "multi_thread"), (&current, "current_thread")] {
        for (size, label) in [(16 << 10, "16KiB"), (64 << 10, "64KiB"), (1 << 20, "1MiB")] {
            let runs = rounds_of(
                || read_stream(rt, &path, size),
                || tokio_util(rt, &path, size),
            );
            print_costs(
                &format!("read_stream/tokio_util_reader_stream {label} {flavor}"),
                &runs,
            );
            let runs = rounds_of(
                || read_stream(rt, &path, size),
                || cost(|| std_loop(&path, size)),
            );
            print_costs(
                &format!("read_stream/std_fs_file_loop {label} {flavor} (the ceiling)"),
                &runs,
            );
        }
        let runs = rounds_of(
            || ticker_p99(rt, &path, |path| async move { ours(&path, 64 << 10).await }),
            || {
                ticker_p99(rt, &path, |path| async move {
                    reader_stream(&path, 64 << 10).await
                })
            },
        );
        print_ratio(
            &format!("ticker_p99 read_stream/tokio_util_reader_stream 8x64KiB {flavor}"),
            "ms",
            &runs,
            |lag| lag,
        );
    }

    let chunks = write_chunks();
    let out = dir.path().join("written.bin");
    let runs = rounds_of(
        || cost(|| multi.block_on(write_stream(&out, &chunks))),
        || cost(|| multi.block_on(buf_writer(&out, &chunks))),
    );
    print_costs(
        "write_stream/bufwriter_tokio_file 64MiB 64KiB multi_thread",
        &runs,
    );
    let runs = rounds_of(
        || cost(|| multi.block_on(write_stream(&out, &chunks))),
        || cost(|| std_write_loop(&out, &chunks)),
    );
    print_costs(
        "write_stream/std_fs_file_loop 64MiB 64KiB multi_thread (the ceiling)",
        &runs,
    );
}
