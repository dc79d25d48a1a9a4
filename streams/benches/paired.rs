//! The ratio targets for `ReadStream`, measured in pairs: each round reads the
//! page-cached 64 MiB file once with `ReadStream` and once with the reference reader, back to
//! back (in alternating order), and the figure is the median of the per-round ratios.
//!
//! Why pairs: criterion measures each benchmark for seconds, one after the other, so a change
//! in the machine's speed between two benchmarks lands in their ratio. On the shared machines
//! these benches run on, a plain read loop's time moved by up to 2x within minutes. Within a
//! pair both readers see the same machine, and the median over rounds drops the rounds that a
//! burst of other work disturbed. `read_stream.rs` keeps the absolute figures.
//!
//! It also measures how close `ReadStream` comes to what its bound allows: a minimal
//! pipeline with the same bound (one thread reads while at most one chunk waits for the
//! consumer, and the two hand each chunk over through a flag they both spin on, with no
//! runtime, channel or allocation) against the std loop and against `ReadStream`.
//!
//! Prints one line per target; `cargo run --release -p examples --bin bench-report` reads them.

mod common;

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{FILE_LEN, cached_file, ours, reader_stream, runtimes, std_loop};
use tokio::runtime::Runtime;

/// Rounds per pair, after one warm-up round.
const ROUNDS: usize = 41;

/// How long one read of the whole file took.
fn timed(read: impl FnOnce() -> usize) -> Duration {
    let start = Instant::now();
    assert_eq!(read(), FILE_LEN);
    start.elapsed()
}

/// Runs `ours` and `reference` in `ROUNDS` pairs; prints the median of `ours / reference` and
/// both medians.
fn pair(label: &str, mut ours: impl FnMut() -> Duration, mut reference: impl FnMut() -> Duration) {
    ours();
    reference();
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut ours_times, mut reference_times) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (a, b) = if round % 2 == 0 {
            let a = ours();
            (a, reference())
        } else {
            let b = reference();
            (ours(), b)
        };
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
        ours_times.push(a.as_secs_f64() * 1e3);
        reference_times.push(b.as_secs_f64() * 1e3);
    }
    println!(
        "paired {label}: {:.3}x (median of {ROUNDS} rounds; medians {:.2} ms and {:.2} ms)",
        median(&mut ratios),
        median(&mut ours_times),
        median(&mut reference_times),
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Where the pipeline's reader leaves a chunk: its buffer and length.
type Handed = Mutex<Option<(Vec<u8>, usize)>>;

/// The floor of the one-chunk bound: a thread reads `size`-byte chunks, each into a buffer
/// placed half a page from the file offset (as `ReadStream` places its reads), only while no
/// chunk waits; this thread spins for each chunk, takes it and hands the buffer back before
/// it lets the reader go on. Its buffers outlive the run in `pool`, as `ReadStream`'s spare
/// buffers outlive their stream.
fn one_chunk_pipeline(path: &Path, size: usize, pool: &Arc<Mutex<Vec<Vec<u8>>>>) -> usize {
    const PAGE: usize = 4096;
    let waiting = Arc::new(AtomicBool::new(false));
    let slot: Arc<Handed> = Arc::default();
    let reader = {
        let (waiting, slot, pool) = (waiting.clone(), slot.clone(), pool.clone());
        let mut file = std::fs::File::open(path).unwrap();
        std::thread::spawn(move || {
            loop {
                while waiting.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                let taken = pool.lock().unwrap().pop();
                let mut buf = taken.unwrap_or_else(|| vec![1u8; size + PAGE]);
                let start = (PAGE / 2 + PAGE - buf.as_ptr() as usize % PAGE) % PAGE;
                let n = file.read(&mut buf[start..start + size]).unwrap();
                *slot.lock().unwrap() = Some((buf, n));
                waiting.store(true, Ordering::Release);
                if n == 0 {
                    return;
                }
            }
        })
    };
    let mut total = 0;
    loop {
        while !waiting.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        let (buf, n) = slot.lock().unwrap().take().unwrap();
        total += n;
        pool.lock().unwrap().push(buf);
        waiting.store(false, Ordering::Release);
        if n == 0 {
            break;
        }
    }
    reader.join().unwrap();
    total
}

fn read_stream(rt: &Runtime, path: &Path, size: usize) -> Duration {
    timed(|| rt.block_on(ours(path, size)))
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let (_dir, path) = cached_file("paired.bin");
    let [(current, _), (multi, _)] = runtimes();
    for (rt, flavor) in [(&multi, "multi_thread"), (&current, "current_thread")] {
        for (size, label) in [(64 << 10, "64KiB"), (1 << 20, "1MiB")] {
            pair(
                &format!("read_stream/std_fs_file_loop {label} {flavor}"),
                || read_stream(rt, &path, size),
                || timed(|| std_loop(&path, size)),
            );
        }
    }
    for (size, label) in [(64 << 10, "64KiB"), (1 << 20, "1MiB")] {
        let pool = Arc::default();
        pair(
            &format!("one_chunk_pipeline/std_fs_file_loop {label}"),
            || timed(|| one_chunk_pipeline(&path, size, &pool)),
            || timed(|| std_loop(&path, size)),
        );
        pair(
            &format!("read_stream/one_chunk_pipeline {label} current_thread"),
            || read_stream(&current, &path, size),
            || timed(|| one_chunk_pipeline(&path, size, &pool)),
        );
    }
    let size = 64 << 10;
    pair(
        "read_stream/tokio_util_reader_stream 64KiB multi_thread",
        || read_stream(&multi, &path, size),
        || timed(|| multi.block_on(reader_stream(&path, size))),
    );
}
