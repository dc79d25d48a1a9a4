//! The Redis tier against what it stands on, in one run (needs Redis on 127.0.0.1:6379; prints
//! why and does nothing without it):
//!
//! - `redis_tier/local_hit`: a hit in the local tier through `RedisCache::get_or_load` against a plain
//!   `LimitableMap` (`get`, and `get_or_load`), each polled once (a hit never waits); the
//!   labelled row `limitable_map_get_ttl` is a plain map with a time-to-live, as the local tier
//!   always has one.
//! - `redis_tier/remote_hit`: a hit in Redis (the local tier holds one key and two alternate, so every
//!   read misses it) against a raw `GET` through a `ConnectionManager` of the same client, both
//!   on a current-thread runtime.
//! - then the cold-key crowd: 4 processes x 2,500 callers on one cold key whose load sleeps
//!   50 ms, with the tier and with 4 independent `LimitableMap`s; loads and wall time printed.
//!   The processes are this bench binary, re-executed as workers.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use futures_util::FutureExt;
use nodebook_cache::LimitableMap;
use nodebook_cache::redis::{Health, RedisCache, StrCodec};

const URL: &str = "redis://127.0.0.1:6379";

fn namespace(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("nbbench:{what}:{}:{nanos}", std::process::id())
}

fn connected_cache(
    rt: &tokio::runtime::Runtime,
    ns: &str,
    local_limit: usize,
) -> RedisCache<String, StrCodec> {
    let _enter = rt.enter();
    let client = redis::Client::open(URL).expect("url");
    let cache = RedisCache::builder(client, ns, StrCodec)
        .local_limit(local_limit)
        .timeout(Duration::from_secs(2))
        .build()
        .expect("cache");
    let mut health = cache.health_changes();
    rt.block_on(health.wait_for(|h| *h == Health::Connected))
        .expect("connected");
    cache
}

fn never() -> impl FnOnce() -> std::future::Ready<Result<String, std::io::Error>> {
    || unreachable!("a hit does not load")
}

fn local_hit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cache = connected_cache(&rt, &namespace("local"), 10_000);
    let map: LimitableMap<String, String> = LimitableMap::new(10_000).expect("map");
    // The local tier always has a time-to-live (never longer than Redis's), so a hit reads
    // the clock: the labelled row shows what that costs a plain map.
    let map_ttl: LimitableMap<String, String> = {
        let _enter = rt.enter();
        LimitableMap::builder(10_000)
            .time_to_live(Duration::from_secs(300))
            .build()
            .expect("map")
    };
    let keys: Vec<String> = (0..1_000).map(|i| format!("key{i}")).collect();
    for key in &keys {
        map.insert(key.clone(), "value".to_string());
        map_ttl.insert(key.clone(), "value".to_string());
        let value = rt.block_on(cache.get_or_load(key, || async {
            Ok::<_, std::io::Error>("value".to_string())
        }));
        assert!(value.is_ok());
    }
    let mut group = c.benchmark_group("redis_tier/local_hit");
    let mut i = 0;
    group.bench_function("limitable_map_get", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(map.get(keys[i].as_str()))
        });
    });
    group.bench_function("limitable_map_get_ttl", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(map_ttl.get(keys[i].as_str()))
        });
    });
    group.bench_function("limitable_map_get_or_load", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(map.get_or_load(keys[i].clone(), never()).now_or_never())
        });
    });
    group.bench_function("ours_redis_cache_get_or_load", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(cache.get_or_load(&keys[i], never()).now_or_never())
        });
    });
    group.finish();
}

fn remote_hit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ns = namespace("remote");
    let cache = connected_cache(&rt, &ns, 1);
    for key in ["a", "b"] {
        let value = rt.block_on(cache.get_or_load(key, || async {
            Ok::<_, std::io::Error>("value".to_string())
        }));
        assert!(value.is_ok());
    }
    let client = redis::Client::open(URL).expect("url");
    let mut raw = rt
        .block_on(client.get_connection_manager())
        .expect("a connection manager");
    let raw_key = format!("{ns}:v:a");
    let mut group = c.benchmark_group("redis_tier/remote_hit");
    group.bench_function("raw_get", |b| {
        b.iter(|| {
            let value: Option<Vec<u8>> = rt
                .block_on(redis::cmd("GET").arg(&raw_key).query_async(&mut raw))
                .expect("GET");
            black_box(value)
        });
    });
    let mut flip = false;
    group.bench_function("ours_redis_cache_get_or_load", |b| {
        b.iter(|| {
            flip = !flip;
            let key = if flip { "a" } else { "b" };
            black_box(rt.block_on(cache.get_or_load(key, never())).expect("a hit"))
        });
    });
    group.finish();
    let stats = cache.stats();
    println!(
        "redis_tier/remote_hit: {} reads from Redis, {} local hits, {} loads",
        stats.redis_hits, stats.local_hits, stats.loads
    );
}

criterion_group!(benches, local_hit, remote_hit);

const CALLERS: usize = 2_500;
const PROCESSES: usize = 4;
const LOAD: Duration = Duration::from_millis(50);

/// A worker process of the crowd: `tier` or `local`, a namespace; prints `loads`.
fn worker(mode: &str, ns: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let loads = Arc::new(AtomicUsize::new(0));
    let loader = |loads: &Arc<AtomicUsize>| {
        let loads = Arc::clone(loads);
        move || async move {
            loads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(LOAD).await;
            Ok::<_, std::io::Error>("value".to_string())
        }
    };
    let mut go = String::new();
    if mode == "tier" {
        let cache = connected_cache(&rt, ns, 10_000);
        println!("@ready");
        std::io::stdin().read_line(&mut go).expect("go");
        rt.block_on(async {
            let tasks: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let (cache, load) = (cache.clone(), loader(&loads));
                    tokio::spawn(async move { cache.get_or_load("cold", load).await.is_ok() })
                })
                .collect();
            for task in tasks {
                assert!(task.await.expect("caller"));
            }
        });
    } else {
        let map: LimitableMap<String, String> = LimitableMap::new(10_000).expect("map");
        println!("@ready");
        std::io::stdin().read_line(&mut go).expect("go");
        rt.block_on(async {
            let tasks: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let (map, load) = (map.clone(), loader(&loads));
                    tokio::spawn(
                        async move { map.get_or_load("cold".to_string(), load).await.is_ok() },
                    )
                })
                .collect();
            for task in tasks {
                assert!(task.await.expect("caller"));
            }
        });
    }
    println!("@done loads={}", loads.load(Ordering::SeqCst));
}

/// Runs the crowd in `mode` across the processes; returns (loads, wall time from go).
fn crowd(mode: &str) -> (usize, Duration) {
    let exe = std::env::current_exe().expect("the bench binary");
    let ns = namespace("crowd");
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .env("NODEBOOK_BENCH_WORKER", mode)
                .env("NODEBOOK_BENCH_NS", &ns)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("a worker")
        })
        .collect();
    let mut readers: Vec<_> = children
        .iter_mut()
        .map(|child| BufReader::new(child.stdout.take().expect("piped")).lines())
        .collect();
    for reader in &mut readers {
        let line = reader.next().expect("a line").expect("utf-8");
        assert_eq!(line, "@ready");
    }
    let began = Instant::now();
    for child in &mut children {
        writeln!(child.stdin.as_mut().expect("piped"), "go").expect("go");
    }
    let mut loads = 0;
    for reader in &mut readers {
        let line = reader.next().expect("a line").expect("utf-8");
        let count = line.strip_prefix("@done loads=").expect("a report");
        loads += count.parse::<usize>().expect("a number");
    }
    let wall = began.elapsed();
    for child in &mut children {
        assert!(child.wait().expect("exits").success());
    }
    (loads, wall)
}

fn main() {
    if let (Ok(mode), Ok(ns)) = (
        std::env::var("NODEBOOK_BENCH_WORKER"),
        std::env::var("NODEBOOK_BENCH_NS"),
    ) {
        worker(&mode, &ns);
        return;
    }
    let reachable = redis::Client::open(URL)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        .is_ok();
    if !reachable {
        eprintln!("redis bench: no Redis on 127.0.0.1:6379, nothing measured");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    for mode in ["tier", "local"] {
        let (loads, wall) = crowd(mode);
        println!(
            "redis_cold_crowd/{mode}: {PROCESSES} processes x {CALLERS} callers, {loads} loads, {wall:?} wall"
        );
    }
}
