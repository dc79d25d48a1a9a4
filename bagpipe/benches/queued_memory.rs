//! Memory per queued call with 10^6 calls waiting, measured as the growth of the process's
//! resident set (Linux `/proc/self/statm`), for `Bagpipe::push`, `Bagpipe::run` (boxed futures
//! polled once) and, side by side, tokio's `Semaphore::acquire_owned` awaited in 10^6 spawned
//! tasks. Prints one line per subject; run with `cargo bench -p bagpipe --bench queued_memory`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Waker};

use bagpipe::Bagpipe;
use tokio::sync::Semaphore;

const QUEUED: usize = 1_000_000;

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn report(subject: &str, before: usize, future_size: usize) {
    let grown = resident_bytes().saturating_sub(before);
    let per_call = grown as f64 / QUEUED as f64;
    println!(
        "{subject}: {per_call:.0} bytes per queued call (the call's future is {future_size} bytes of it)"
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let work = async { 1u64 };
        let work_size = std::mem::size_of_val(&work);

        let pipe = Bagpipe::new(0);
        let before = resident_bytes();
        let handles: Vec<_> = (0..QUEUED).map(|_| pipe.push(async { 1u64 })).collect();
        assert_eq!(pipe.queued(), QUEUED);
        report("bagpipe push (task + handle)", before, work_size);
        drop(handles);
        tokio::task::yield_now().await;

        let pipe = Bagpipe::new(0);
        let before = resident_bytes();
        let mut waker_cx = Context::from_waker(Waker::noop());
        let mut runs: Vec<Pin<Box<dyn Future<Output = _>>>> = Vec::with_capacity(QUEUED);
        for _ in 0..QUEUED {
            let mut run: Pin<Box<dyn Future<Output = _>>> = Box::pin(pipe.run(async { 1u64 }));
            assert!(run.as_mut().poll(&mut waker_cx).is_pending());
            runs.push(run);
        }
        assert_eq!(pipe.queued(), QUEUED);
        report(
            "bagpipe run (boxed future polled once)",
            before,
            std::mem::size_of_val(&*runs[0]),
        );
        drop(runs);

        let semaphore = Arc::new(Semaphore::new(0));
        let before = resident_bytes();
        let tasks: Vec<_> = (0..QUEUED)
            .map(|_| {
                let semaphore = Arc::clone(&semaphore);
                tokio::spawn(async move {
                    let _permit = semaphore.acquire_owned().await;
                    1u64
                })
            })
            .collect();
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        report("tokio semaphore acquire_owned + spawn", before, work_size);
        for task in &tasks {
            task.abort();
        }
    });
}
