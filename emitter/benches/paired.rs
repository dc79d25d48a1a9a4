//! The ratio targets for the emitter, measured in pairs: each round times a batch of
//! our operation and a batch of the peer's, back to back (in alternating order), and the figure
//! is the median of the per-round ratios.
//!
//! Why pairs: criterion measures each benchmark for seconds, one after the other, so a change
//! in the machine's speed between two benchmarks lands in their ratio; within a pair both see
//! the same machine, and the median drops the rounds that a burst of other work disturbed.
//! `emit.rs` keeps the absolute figures; the workloads here are the same.
//!
//! Prints one line per target; `cargo run --release -p examples --bin bench-report` reads them.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use common::{PlainListener, adding_listener, counting_listener, read_each};
use nodebook_emitter::Emitter;

/// Operations per batch, and rounds per pair (after one warm-up round) unless
/// `NODEBOOK_PAIRED_ROUNDS` says otherwise (the bench report's `--quick` sets 5).
const BATCH: u32 = 20_000;
const ROUNDS: usize = 101;

fn rounds() -> usize {
    std::env::var("NODEBOOK_PAIRED_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(ROUNDS)
}

/// Nanoseconds per call of `op`, over one batch.
fn per_call(mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..BATCH {
        op();
    }
    start.elapsed().as_nanos() as f64 / f64::from(BATCH)
}

/// Runs `ours` and `peer` in `ROUNDS` pairs; prints the median of `ours / peer` and both
/// medians.
///
/// Under the bench report's instruction count (`BENCH_COUNT=<label>/ours` or `<label>/peer`,
/// `BENCH_COUNT_ITERS=<n>`) it times nothing: the named side runs `n` times and the process
/// exits, and every other pair is skipped. The report runs this under callgrind at two counts
/// and takes the difference, so the setup cancels out.
fn pair(label: &str, mut ours: impl FnMut(), mut peer: impl FnMut()) {
    if let Ok(counted) = std::env::var("BENCH_COUNT") {
        let iters: u64 = std::env::var("BENCH_COUNT_ITERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let side: &mut dyn FnMut() = match counted.strip_prefix(label) {
            Some("/ours") => &mut ours,
            Some("/peer") => &mut peer,
            _ => return,
        };
        for _ in 0..iters {
            side();
        }
        std::process::exit(0);
    }
    per_call(&mut ours);
    per_call(&mut peer);
    let rounds = rounds();
    let mut ratios = Vec::with_capacity(rounds);
    let (mut ours_times, mut peer_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = per_call(&mut ours);
            (a, per_call(&mut peer))
        } else {
            let b = per_call(&mut peer);
            (per_call(&mut ours), b)
        };
        ratios.push(a / b);
        ours_times.push(a);
        peer_times.push(b);
    }
    println!(
        "paired {label}: {:.3}x (median of {rounds} rounds; medians {:.1} ns and {:.1} ns)",
        median(&mut ratios),
        median(&mut ours_times),
        median(&mut peer_times),
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn emit_to_listeners() {
    let counter = Arc::new(AtomicU64::new(0));
    let emitter: Emitter<u64> = Emitter::new();
    let plain: Vec<PlainListener> = (0..10)
        .map(|_| {
            emitter.on("data", counting_listener(&counter));
            Box::new(counting_listener(&counter)) as _
        })
        .collect();
    pair(
        "emit_sync emitter/plain_vec_loop 10",
        || {
            emitter.emit(black_box("data"), black_box(1)).unwrap();
        },
        || {
            let payload = black_box(1);
            for f in &plain {
                f(&payload);
            }
        },
    );
}

fn emit_to_adding_listeners() {
    let emitter: Emitter<u64> = Emitter::new();
    let plain: Vec<PlainListener> = (0..10)
        .map(|k| {
            emitter.on("data", adding_listener(k));
            Box::new(adding_listener(k)) as _
        })
        .collect();
    pair(
        "emit_sync_plain_add emitter/plain_vec_loop 10",
        || {
            emitter.emit(black_box("data"), black_box(1)).unwrap();
        },
        || {
            let payload = black_box(1);
            for f in &plain {
                f(&payload);
            }
        },
    );
}

/// Emits and reads from one task of a multi-thread runtime; by name and through an
/// `EventHandle`, each against tokio broadcast. Only the handle has a target: an emit by name
/// looks its event up, which a channel's sender never does.
fn subscribe_delivery(subscribers: usize) {
    let emitter: Emitter<u64> = Emitter::new();
    let mut subscriptions: Vec<_> = (0..subscribers)
        .map(|_| emitter.subscribe("data", 16).unwrap())
        .collect();
    let handle = emitter.event("data");
    let (sender, _) = tokio::sync::broadcast::channel::<u64>(16);
    let mut receivers: Vec<_> = (0..subscribers).map(|_| sender.subscribe()).collect();
    let mut tokio_broadcast = || {
        sender.send(black_box(1)).unwrap();
        let mut sum = 0;
        for receiver in &mut receivers {
            sum += receiver.try_recv().unwrap();
        }
        assert_eq!(sum, subscribers as u64);
    };
    pair(
        &format!("subscribe_delivery emitter/tokio_broadcast {subscribers}"),
        || {
            emitter.emit(black_box("data"), black_box(1)).unwrap();
            read_each(&mut subscriptions, subscribers);
        },
        &mut tokio_broadcast,
    );
    pair(
        &format!("subscribe_delivery emitter_handle/tokio_broadcast {subscribers}"),
        || {
            handle.emit(black_box(1)).unwrap();
            read_each(&mut subscriptions, subscribers);
        },
        &mut tokio_broadcast,
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    emit_to_listeners();
    emit_to_adding_listeners();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("a multi-thread runtime");
    // Both sides are read by hand in one loop that never awaits (the peer with `try_recv`, which
    // spends no budget), so the loop runs outside tokio's cooperative budget: inside it, the
    // subscriptions would rightly answer `Pending` once the task's budget is spent.
    runtime.block_on(tokio::task::unconstrained(async {
        subscribe_delivery(1);
        subscribe_delivery(10);
    }));
    if let Ok(counted) = std::env::var("BENCH_COUNT") {
        eprintln!("paired bench: no pair {counted:?} to count");
        std::process::exit(2);
    }
}
