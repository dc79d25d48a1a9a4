//! Memory per queued call with 10^6 calls waiting, measured as the growth of the process's
//! resident set (Linux `/proc/self/statm`), for `Bagpipe::push`, `Bagpipe::run` (boxed futures
//! polled once) and, side by side, tokio's `Semaphore::acquire_owned` awaited in 10^6 spawned
//! tasks. Prints one line per subject; run with `cargo bench -p nodebook-bagpipe --bench queued_memory`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Waker};

use nodebook_bagpipe::Bagpipe;
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

/// Each subject runs in a fresh child process, so that one subject's freed memory does not
/// hide the next one's growth.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--list") {
        return;
    }
    match std::env::var("BAGPIPE_MEMORY_SUBJECT").as_deref() {
        Ok("push") => measure(push),
        Ok("run") => measure(run),
        Ok("semaphore") => measure(semaphore),
        _ => {
            let me = std::env::current_exe().expect("the bench's own path");
            for subject in ["push", "run", "semaphore"] {
                let status = std::process::Command::new(&me)
                    .env("BAGPIPE_MEMORY_SUBJECT", subject)
                    .status()
                    .expect("the bench can run itself");
                assert!(status.success(), "{subject} failed");
            }
        }
    }
}

fn measure(subject: fn() -> Pin<Box<dyn Future<Output = ()>>>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The subjects poll a million futures by hand in one task that never yields; outside tokio's
    // cooperative budget, every first poll reaches the queue instead of the budget's `Pending`.
    rt.block_on(tokio::task::unconstrained(subject()));
}

fn push() -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async {
        let work_size = std::mem::size_of_val(&async { 1u64 });
        let pipe = Bagpipe::new(0);
        let before = resident_bytes();
        let handles: Vec<_> = (0..QUEUED).map(|_| pipe.push(async { 1u64 })).collect();
        assert_eq!(pipe.queued(), QUEUED);
        report("bagpipe push (queued call + handle)", before, work_size);
        drop(handles);
    })
}

fn run() -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async {
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
    })
}

fn semaphore() -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async {
        let work_size = std::mem::size_of_val(&async { 1u64 });
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
    })
}
