//! Bagpipe against its peers, side by side in one run:
//!
//! - `uncontended`: the cost of one call through the limiter when a slot is free (acquire,
//!   run an empty future, release), on a current-thread runtime: `Bagpipe::run` and the permit
//!   API (`Bagpipe::acquire` and `try_acquire`, then drop) against tokio's `Semaphore::acquire`
//!   and drop, tower's `ConcurrencyLimit` (`ready` + `call`) and
//!   `futures::StreamExt::buffer_unordered` (per item).
//! - `throughput`: 2 * 10^5 tiny tasks at limit 100 on a 2-worker runtime, each caller getting
//!   its task's result: `Bagpipe::push`, and `Bagpipe::acquire_owned` + `tokio::spawn`, against
//!   `Semaphore::acquire_owned` + `tokio::spawn` with the join handles awaited (the like-for-like
//!   peer), tower's `ConcurrencyLimit` per spawned task, and `buffer_unordered(100)`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use futures::StreamExt;
use nodebook_bagpipe::Bagpipe;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt, limit::ConcurrencyLimit, service_fn};

const TASKS: usize = 200_000;
const LIMIT: usize = 100;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// One uncontended routine: `iters` calls through a limiter made before the clock starts.
type Uncontended = fn(&tokio::runtime::Runtime, u64) -> Duration;

/// The uncontended subjects that the bench report also counts in instructions.
const UNCONTENDED: [(&str, Uncontended); 4] = [
    ("bagpipe run", bagpipe_run),
    ("bagpipe acquire+drop", bagpipe_acquire),
    ("bagpipe try_acquire+drop", bagpipe_try_acquire),
    ("tokio semaphore acquire+release", semaphore_acquire),
];

fn bagpipe_run(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let pipe = Bagpipe::new(LIMIT);
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(pipe.run(async { black_box(1) }).await.unwrap());
        }
        start.elapsed()
    })
}

fn bagpipe_acquire(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let pipe = Bagpipe::new(LIMIT);
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let permit = pipe.acquire().await.unwrap();
            black_box(async { black_box(1) }.await);
            drop(permit);
        }
        start.elapsed()
    })
}

fn bagpipe_try_acquire(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let pipe = Bagpipe::new(LIMIT);
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let permit = pipe.try_acquire().unwrap();
            black_box(async { black_box(1) }.await);
            drop(permit);
        }
        start.elapsed()
    })
}

fn semaphore_acquire(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let semaphore = Semaphore::new(LIMIT);
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let permit = semaphore.acquire().await.unwrap();
            black_box(async { black_box(1) }.await);
            drop(permit);
        }
        start.elapsed()
    })
}

fn uncontended(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("uncontended");
    for (name, routine) in UNCONTENDED {
        group.bench_function(name, |b| b.iter_custom(|iters| routine(&rt, iters)));
    }
    group.bench_function("tower concurrency limit", |b| {
        let mut service = ConcurrencyLimit::new(
            service_fn(|n: u32| async move { Ok::<_, std::convert::Infallible>(n) }),
            LIMIT,
        );
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let ready = service.ready().await.unwrap();
                    black_box(ready.call(1).await.unwrap());
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("futures buffer_unordered", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                let total = futures::stream::iter((0..iters).map(|_| async { black_box(1u64) }))
                    .buffer_unordered(LIMIT)
                    .fold(0u64, |sum, n| async move { sum + n })
                    .await;
                black_box(total);
                start.elapsed()
            })
        });
    });
    group.finish();
}

async fn tiny() -> u64 {
    tokio::task::yield_now().await;
    black_box(1)
}

/// Times `iters` runs of `TASKS` tiny tasks on `rt`: `setup` builds each run's limiter before its
/// clock starts, `run` spends it and returns the tasks' sum, which must be one per task.
fn timed_runs<S, F>(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    mut setup: impl FnMut() -> S,
    mut run: impl FnMut(S) -> F,
) -> Duration
where
    F: Future<Output = u64>,
{
    rt.block_on(async {
        let mut spent = Duration::ZERO;
        for _ in 0..iters {
            let limiter = setup();
            let start = Instant::now();
            let sum = run(limiter).await;
            spent += start.elapsed();
            assert_eq!(sum, TASKS as u64);
        }
        spent
    })
}

/// Awaits the tasks' handles in order and sums their results.
async fn sum_in_order<E: std::fmt::Debug>(
    handles: Vec<impl Future<Output = Result<u64, E>>>,
) -> u64 {
    let mut sum = 0;
    for handle in handles {
        sum += handle.await.unwrap();
    }
    sum
}

fn throughput(c: &mut Criterion) {
    let rt = two_workers();
    let mut group = c.benchmark_group("throughput 2e5 tasks at limit 100");
    group.sample_size(10);
    group.bench_function("bagpipe push", |b| {
        b.iter_custom(|iters| {
            timed_runs(
                &rt,
                iters,
                || Bagpipe::new(LIMIT),
                |pipe| async move {
                    let handles: Vec<_> = (0..TASKS).map(|_| pipe.push(tiny())).collect();
                    sum_in_order(handles).await
                },
            )
        });
    });
    group.bench_function("bagpipe acquire_owned+spawn", |b| {
        b.iter_custom(|iters| {
            timed_runs(
                &rt,
                iters,
                || Bagpipe::new(LIMIT),
                |pipe| async move {
                    let mut handles = Vec::with_capacity(TASKS);
                    for _ in 0..TASKS {
                        let permit = pipe.acquire_owned().await.unwrap();
                        handles.push(tokio::spawn(async move {
                            let n = tiny().await;
                            drop(permit);
                            n
                        }));
                    }
                    sum_in_order(handles).await
                },
            )
        });
    });
    group.bench_function("tokio semaphore+spawn awaiting join handles", |b| {
        b.iter_custom(|iters| {
            timed_runs(
                &rt,
                iters,
                || Arc::new(Semaphore::new(LIMIT)),
                |semaphore| async move {
                    let mut handles = Vec::with_capacity(TASKS);
                    for _ in 0..TASKS {
                        let permit = Arc::clone(&semaphore).acquire_owned().await.unwrap();
                        handles.push(tokio::spawn(async move {
                            let n = tiny().await;
                            drop(permit);
                            n
                        }));
                    }
                    sum_in_order(handles).await
                },
            )
        });
    });
    group.bench_function("tower concurrency limit + spawn", |b| {
        b.iter_custom(|iters| {
            timed_runs(
                &rt,
                iters,
                || {
                    ConcurrencyLimit::new(
                        service_fn(|()| async { Ok::<_, std::convert::Infallible>(tiny().await) }),
                        LIMIT,
                    )
                },
                |service| async move {
                    let handles: Vec<_> = (0..TASKS)
                        .map(|_| {
                            let service = service.clone();
                            tokio::spawn(async move { service.oneshot(()).await.unwrap() })
                        })
                        .collect();
                    sum_in_order(handles).await
                },
            )
        });
    });
    group.bench_function("futures buffer_unordered", |b| {
        b.iter_custom(|iters| {
            timed_runs(
                &rt,
                iters,
                || (),
                |()| {
                    futures::stream::iter((0..TASKS).map(|_| tiny()))
                        .buffer_unordered(LIMIT)
                        .fold(0u64, |sum, n| async move { sum + n })
                },
            )
        });
    });
    group.finish();
}

criterion_group!(benches, uncontended, throughput);

/// The bench report's instruction count (`BENCH_COUNT=uncontended/<subject>`,
/// `BENCH_COUNT_ITERS=<n>`): runs that subject `n` times outside criterion and exits. The report
/// runs it under callgrind at two counts and takes the difference, so the setup cancels out.
fn main() {
    if let Ok(id) = std::env::var("BENCH_COUNT") {
        let iters = std::env::var("BENCH_COUNT_ITERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let counted = id.strip_prefix("uncontended/").and_then(|name| {
            UNCONTENDED
                .iter()
                .find(|(subject, _)| *subject == name)
                .map(|(_, routine)| routine)
        });
        let Some(routine) = counted else {
            eprintln!("limiter bench: no counted subject {id:?}");
            std::process::exit(2);
        };
        routine(&current_thread(), iters);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
