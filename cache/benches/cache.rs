//! LimitableMap and get_or_load side by side with moka, quick_cache, `Mutex<lru::LruCache>` and
//! an unbounded DashMap (the ceiling), in one run.
//!
//! Each crate runs with its default hasher: ours (`ours`, S3-FIFO) and quick_cache and lru use
//! foldhash, moka and DashMap the standard SipHash `RandomState`. The labelled rows change one
//! thing each: `ours_siphash` is ours with SipHash (beside moka), `ours_fifo` ours with the FIFO
//! policy, `dashmap_unbounded_foldhash` DashMap with foldhash (the ceiling for ours).
//!
//! Workloads (issue 5): a Zipf(0.99) key stream over 10^5 keys, capacity 10^4, `u64` keys and
//! values; 90% get / 10% insert, and 100% get on a map prefilled with the 10^4 most popular
//! keys; 1 and 2 threads. One criterion iteration is one operation *on each thread*, so with
//! 2 threads the figure is the wall time of two operations done in parallel. The hit ratio of
//! each contender on each workload is printed before the group. Then the stampede: 10,000
//! callers on a cold key whose load sleeps 1 ms, ours (`get_or_load`) against moka's
//! `get_with`, with the loader calls printed.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group};
use dashmap::DashMap;
use nodebook_cache::{EvictionPolicy, LimitableMap};

mod common;
use common::{Xorshift, Zipf};

const KEY_SPACE: usize = 100_000;
const CAPACITY: usize = 10_000;
const STREAM: usize = 1 << 20;

/// A key stream per thread, each from its own seed.
fn streams(threads: usize) -> Vec<Arc<[u64]>> {
    let zipf = Zipf::new(KEY_SPACE, 0.99);
    (0..threads)
        .map(|t| {
            let mut rng =
                Xorshift(0x2545_F491_4F6C_DD1D ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9));
            (0..STREAM).map(|_| zipf.sample(rng.unit())).collect()
        })
        .collect()
}

/// What every contender offers the workloads.
trait Contender: Send + Sync {
    fn name(&self) -> &'static str;
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
    fn settle(&self) {}
}

type Fold = foldhash::fast::RandomState;
type Sip = std::collections::hash_map::RandomState;

/// Ours under a row label: the default build, or one setting changed.
struct Ours<S>(&'static str, LimitableMap<u64, u64, S>);
struct Moka(moka::sync::Cache<u64, u64>);
struct Quick(quick_cache::sync::Cache<u64, u64>);
struct Lru(Mutex<lru::LruCache<u64, u64>>);
struct Unbounded(DashMap<u64, u64>);
struct UnboundedFold(DashMap<u64, u64, Fold>);

impl<S> Contender for Ours<S>
where
    S: std::hash::BuildHasher + Clone + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        self.0
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.1.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.1.insert(key, value);
    }
}

impl Contender for UnboundedFold {
    fn name(&self) -> &'static str {
        "dashmap_unbounded_foldhash"
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).map(|v| *v)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

impl Contender for Moka {
    fn name(&self) -> &'static str {
        "moka"
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn settle(&self) {
        self.0.run_pending_tasks();
    }
}

impl Contender for Quick {
    fn name(&self) -> &'static str {
        "quick_cache"
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

impl Contender for Lru {
    fn name(&self) -> &'static str {
        "mutex_lru"
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.lock().unwrap().get(&key).copied()
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.lock().unwrap().put(key, value);
    }
}

impl Contender for Unbounded {
    fn name(&self) -> &'static str {
        "dashmap_unbounded"
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).map(|v| *v)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

fn contenders() -> Vec<Box<dyn Contender>> {
    vec![
        Box::new(Ours("ours", LimitableMap::new(CAPACITY).unwrap())),
        Box::new(Ours(
            "ours_fifo",
            LimitableMap::builder(CAPACITY)
                .eviction_policy(EvictionPolicy::Fifo)
                .build()
                .unwrap(),
        )),
        Box::new(Ours(
            "ours_siphash",
            LimitableMap::builder(CAPACITY)
                .hasher(Sip::new())
                .build()
                .unwrap(),
        )),
        Box::new(Quick(quick_cache::sync::Cache::new(CAPACITY))),
        Box::new(Moka(moka::sync::Cache::new(CAPACITY as u64))),
        Box::new(Lru(Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::new(CAPACITY).unwrap(),
        )))),
        Box::new(Unbounded(DashMap::new())),
        Box::new(UnboundedFold(DashMap::with_hasher(Fold::default()))),
    ]
}

#[derive(Clone, Copy)]
enum Workload {
    Mixed,
    GetOnly,
}

#[inline]
fn op(c: &dyn Contender, workload: Workload, i: usize, key: u64) -> bool {
    match workload {
        Workload::Mixed if i % 10 == 9 => {
            c.insert(key, key);
            false
        }
        _ => black_box(c.get(key)).is_some(),
    }
}

/// Brings a contender to its steady state for the workload.
fn prepare(c: &dyn Contender, workload: Workload, stream: &[u64]) {
    match workload {
        Workload::Mixed => {
            for (i, &k) in stream.iter().enumerate() {
                if c.get(k).is_none() || i % 10 == 9 {
                    c.insert(k, k);
                }
            }
        }
        Workload::GetOnly => {
            for k in 0..CAPACITY as u64 {
                c.insert(k, k);
            }
        }
    }
    c.settle();
}

/// Hits per get over one pass of the stream, on one thread.
fn hit_ratio(c: &dyn Contender, workload: Workload, stream: &[u64]) -> f64 {
    let (mut gets, mut hits) = (0u64, 0u64);
    for (i, &k) in stream.iter().enumerate() {
        let is_get = matches!(workload, Workload::GetOnly) || i % 10 != 9;
        let hit = op(c, workload, i, k);
        if is_get {
            gets += 1;
            hits += u64::from(hit);
        }
    }
    c.settle();
    hits as f64 / gets as f64
}

fn run_threads(
    c: &dyn Contender,
    workload: Workload,
    streams: &[Arc<[u64]>],
    iters: u64,
) -> Duration {
    let barrier = Barrier::new(streams.len());
    let times: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .map(|stream| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..iters as usize {
                        let key = stream[i & (STREAM - 1)];
                        black_box(op(c, workload, i, key));
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    times.into_iter().max().unwrap_or_default()
}

fn workloads(criterion: &mut Criterion) {
    let all_streams = streams(2);
    for (label, workload) in [
        ("mixed_90get_10insert", Workload::Mixed),
        ("get_100", Workload::GetOnly),
    ] {
        for threads in [1usize, 2] {
            let streams = &all_streams[..threads];
            let group_name = format!("{label}/threads_{threads}");
            let mut group = criterion.benchmark_group(&group_name);
            for c in contenders() {
                prepare(c.as_ref(), workload, &streams[0]);
                let ratio = hit_ratio(c.as_ref(), workload, &streams[0]);
                println!("hit ratio {group_name}/{}: {ratio:.4}", c.name());
                group.bench_function(BenchmarkId::from_parameter(c.name()), |b| {
                    b.iter_custom(|iters| run_threads(c.as_ref(), workload, streams, iters));
                });
            }
            group.finish();
        }
    }
}

async fn slow_load(calls: Arc<AtomicUsize>) -> u64 {
    calls.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1)).await;
    42
}

fn stampede(criterion: &mut Criterion) {
    const CALLERS: usize = 10_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = criterion.benchmark_group("stampede_10000_callers_1ms_load");
    group.sample_size(20);
    let calls = Arc::new(AtomicUsize::new(0));
    let runs = Arc::new(AtomicUsize::new(0));

    group.bench_function("ours_get_or_load", |b| {
        b.to_async(&rt).iter(|| {
            let (calls, runs) = (Arc::clone(&calls), Arc::clone(&runs));
            async move {
                runs.fetch_add(1, Ordering::Relaxed);
                let map: LimitableMap<u64, u64> = LimitableMap::new(CAPACITY).unwrap();
                let crowd = (0..CALLERS).map(|_| {
                    let calls = Arc::clone(&calls);
                    map.get_or_load(7, move || async move {
                        Ok::<_, std::convert::Infallible>(slow_load(calls).await)
                    })
                });
                let results = futures_util::future::join_all(crowd).await;
                assert!(results.iter().all(|r| matches!(r, Ok(42))));
            }
        });
    });
    println!(
        "stampede ours: {:.3} loader calls per stampede",
        calls.swap(0, Ordering::Relaxed) as f64 / runs.swap(0, Ordering::Relaxed) as f64
    );

    group.bench_function("moka_get_with", |b| {
        b.to_async(&rt).iter(|| {
            let (calls, runs) = (Arc::clone(&calls), Arc::clone(&runs));
            async move {
                runs.fetch_add(1, Ordering::Relaxed);
                let cache: moka::future::Cache<u64, u64> =
                    moka::future::Cache::new(CAPACITY as u64);
                let crowd = (0..CALLERS).map(|_| cache.get_with(7, slow_load(Arc::clone(&calls))));
                let results = futures_util::future::join_all(crowd).await;
                assert!(results.iter().all(|r| *r == 42));
            }
        });
    });
    println!(
        "stampede moka: {:.3} loader calls per stampede",
        calls.swap(0, Ordering::Relaxed) as f64 / runs.swap(0, Ordering::Relaxed) as f64
    );
    group.finish();
}

criterion_group!(benches, workloads, stampede);

/// The bench report's instruction count (`BENCH_COUNT=<group>/<contender>`, for the one-thread
/// groups, and `BENCH_COUNT_ITERS=<n>`): prepares that contender as the criterion run does, runs
/// `n` operations of the workload outside criterion, and exits. The report runs it under
/// callgrind at two counts and takes the difference, so the setup cancels out.
fn count_instructions(id: &str, iters: u64) -> Result<(), String> {
    let (workload, name) = if let Some(name) = id.strip_prefix("mixed_90get_10insert/threads_1/") {
        (Workload::Mixed, name)
    } else if let Some(name) = id.strip_prefix("get_100/threads_1/") {
        (Workload::GetOnly, name)
    } else {
        return Err(format!("no counted group in {id:?}"));
    };
    let contender = contenders()
        .into_iter()
        .find(|c| c.name() == name)
        .ok_or_else(|| format!("no contender {name:?}"))?;
    let streams = streams(1);
    prepare(contender.as_ref(), workload, &streams[0]);
    run_threads(contender.as_ref(), workload, &streams, iters);
    Ok(())
}

fn main() {
    if let Ok(id) = std::env::var("BENCH_COUNT") {
        let iters = std::env::var("BENCH_COUNT_ITERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if let Err(err) = count_instructions(&id, iters) {
            eprintln!("cache bench: {err}");
            std::process::exit(2);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
