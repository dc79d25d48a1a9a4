//! Stress on a multi-thread runtime: 10^5 calls at limit 64, a third pushed, a third run from
//! their own tasks and a third done under a permit from `acquire_owned`; the measured maximum
//! concurrency is exactly 64 and every call resolves.
//! And queued push handles dropped from another thread while slots are being granted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nodebook_bagpipe::Bagpipe;
use tokio::sync::Barrier;

const CALLS: usize = 100_000;
const LIMIT: usize = 64;

#[derive(Default)]
struct HighWater {
    current: AtomicUsize,
    max: AtomicUsize,
}

impl HighWater {
    async fn call(&self, barrier: Option<Arc<Barrier>>) -> usize {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        if let Some(barrier) = barrier {
            // The first LIMIT calls meet here, so the limit is really reached.
            barrier.wait().await;
        }
        tokio::task::yield_now().await;
        self.current.fetch_sub(1, Ordering::SeqCst);
        1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_thousand_calls_and_permits_at_limit_64_never_exceed_it() {
    let pipe = Bagpipe::new(LIMIT);
    let high = Arc::new(HighWater::default());
    let barrier = Arc::new(Barrier::new(LIMIT));
    let mut pushed = Vec::with_capacity(CALLS / 3 + 1);
    let mut ran = Vec::with_capacity(CALLS * 2 / 3 + 1);
    for n in 0..CALLS {
        let high = Arc::clone(&high);
        let meet = (n < LIMIT).then(|| Arc::clone(&barrier));
        match n % 3 {
            0 => pushed.push(pipe.push(async move { high.call(meet).await })),
            1 => {
                let pipe = pipe.clone();
                ran.push(tokio::spawn(async move { pipe.run(high.call(meet)).await }));
            }
            _ => {
                let acquire = pipe.acquire_owned();
                ran.push(tokio::spawn(async move {
                    let permit = acquire.await?;
                    let done = high.call(meet).await;
                    drop(permit);
                    Ok(done)
                }));
            }
        }
    }
    let mut resolved = 0;
    for call in pushed {
        resolved += call.await.unwrap();
    }
    for task in ran {
        resolved += task.await.unwrap().unwrap();
    }
    assert_eq!(resolved, CALLS);
    assert_eq!(high.max.load(Ordering::SeqCst), LIMIT);
    assert_eq!((pipe.active(), pipe.queued()), (0, 0));
    let stats = pipe.stats();
    assert_eq!(
        (stats.admitted, stats.completed),
        (CALLS as u64, CALLS as u64)
    );
}

/// Counts a call as running from its first poll until its future is dropped, finished or not.
struct Running<'a>(&'a HighWater);

impl<'a> Running<'a> {
    fn enter(high: &'a HighWater) -> Self {
        let now = high.current.fetch_add(1, Ordering::SeqCst) + 1;
        high.max.fetch_max(now, Ordering::SeqCst);
        Self(high)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_pushes_dropped_while_slots_are_granted_leak_nothing() {
    const ROUND_LIMIT: usize = 8;
    let pipe = Bagpipe::new(ROUND_LIMIT);
    let high = Arc::new(HighWater::default());
    let mut kept_total = 0;
    for _ in 0..200 {
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for n in 0..64 {
            let high = Arc::clone(&high);
            let call = pipe.push(async move {
                let _running = Running::enter(&high);
                tokio::task::yield_now().await;
                1
            });
            if n % 3 == 0 {
                dropped.push(call);
            } else {
                kept.push(call);
            }
        }
        let dropper = tokio::spawn(async move {
            for call in dropped {
                drop(call);
                tokio::task::yield_now().await;
            }
        });
        for call in kept {
            kept_total += call.await.unwrap();
        }
        dropper.await.unwrap();
    }
    // Dropping a push whose call already runs aborts its task, and a worker ends an aborted
    // task (dropping its future and freeing its slot) only when it next gets to it: give the
    // workers that chance before checking that nothing is left. A leak never settles and fails.
    for _ in 0..100_000 {
        if high.current.load(Ordering::SeqCst) == 0 && pipe.active() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(kept_total, 200 * 42);
    assert!(high.max.load(Ordering::SeqCst) <= ROUND_LIMIT);
    assert_eq!(high.current.load(Ordering::SeqCst), 0);
    assert_eq!((pipe.active(), pipe.queued()), (0, 0));
    let stats = pipe.stats();
    assert!(stats.completed >= 200 * 42, "every kept call completed");
    assert!(
        stats.admitted <= 200 * 64,
        "no call was admitted twice: {stats:?}"
    );
}
