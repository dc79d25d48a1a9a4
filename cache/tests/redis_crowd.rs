//! One load per key across OS processes: the test re-executes its own binary as worker
//! processes (the ignored test `worker`, selected with `--exact --ignored` and configured through
//! `NODEBOOK_WORKER_*` variables), each a replica with its own `RedisCache` and thousands of
//! callers on one cold key. Workers report on stdout in lines starting with `@`; the parent
//! orders them with a barrier on their stdin (`go`), not with sleeps.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nodebook_cache::redis::{Health, RedisCache, StrCodec};
use nodebook_test_support::processes::{self, Reports, Worker, next_line, ready_set_go};
use nodebook_test_support::redis::{namespace, shared_redis};

const BOUND: Duration = Duration::from_secs(60);

/// The two tests start eight processes between them: one at a time, so that neither's timing
/// depends on the other's crowd.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a worker reported when done.
#[derive(Debug, Default, Clone, Copy)]
struct Report {
    loads: usize,
    ok: usize,
    errors: usize,
    slowest_ms: u64,
    degraded: usize,
    leases: usize,
}

fn parse_report(line: &str) -> Report {
    let mut report = Report::default();
    for field in line.split_whitespace().skip(1) {
        let (name, value) = field.split_once('=').expect("name=value");
        let value: u64 = value.parse().expect("a number");
        let value_usize = usize::try_from(value).expect("fits");
        match name {
            "loads" => report.loads = value_usize,
            "ok" => report.ok = value_usize,
            "errors" => report.errors = value_usize,
            "slowest_ms" => report.slowest_ms = value,
            "degraded" => report.degraded = value_usize,
            "leases" => report.leases = value_usize,
            other => panic!("unknown field {other}"),
        }
    }
    report
}

/// Starts `count` workers on `ns` with these settings; lines arrive on the channel as
/// `(worker index, line)`.
fn spawn_workers(
    count: usize,
    url: &str,
    ns: &str,
    callers: usize,
    load_ms: u64,
    lease_ms: u64,
) -> (Vec<Worker>, Reports) {
    processes::spawn_workers("worker", count, |_, command| {
        command
            .env("NODEBOOK_WORKER_URL", url)
            .env("NODEBOOK_WORKER_NS", ns)
            .env("NODEBOOK_WORKER_CALLERS", callers.to_string())
            .env("NODEBOOK_WORKER_LOAD_MS", load_ms.to_string())
            .env("NODEBOOK_WORKER_LEASE_MS", lease_ms.to_string());
    })
}

#[test]
fn four_processes_of_2500_callers_load_a_cold_key_once() {
    let Some(url) = shared_redis("four_processes_of_2500_callers_load_a_cold_key_once") else {
        return;
    };
    let _serial = one_at_a_time();
    let ns = namespace("crowd");
    let (mut workers, rx) = spawn_workers(4, &url, &ns, 2_500, 50, 10_000);
    let deadline = Instant::now() + BOUND;
    ready_set_go(&mut workers, &rx, deadline);
    let mut reports = Vec::new();
    let mut loading = 0;
    while reports.len() < workers.len() {
        let (_, line) = next_line(&rx, deadline);
        if line == "@loading" {
            loading += 1;
        } else if line.starts_with("@done") {
            reports.push(parse_report(&line));
        }
    }
    for worker in &mut workers {
        assert!(worker.child.wait().expect("worker exits").success());
    }
    let loads: usize = reports.iter().map(|r| r.loads).sum();
    let ok: usize = reports.iter().map(|r| r.ok).sum();
    assert_eq!(loads, 1, "one load across 4 processes: {reports:?}");
    assert_eq!(loading, 1);
    assert_eq!(ok, 10_000, "every caller got the value: {reports:?}");
}

#[test]
fn a_leader_killed_mid_load_is_replaced_after_its_lease() {
    let Some(url) = shared_redis("a_leader_killed_mid_load_is_replaced_after_its_lease") else {
        return;
    };
    let _serial = one_at_a_time();
    let ns = namespace("killed");
    // The lease leaves the replacement's load a wide margin on a busy machine.
    let (lease_ms, load_ms) = (2_000, 200);
    let (mut workers, rx) = spawn_workers(4, &url, &ns, 500, load_ms, lease_ms);
    let deadline = Instant::now() + BOUND;
    ready_set_go(&mut workers, &rx, deadline);
    let mut killed = None;
    let mut loading = 0;
    let mut reports = Vec::new();
    while reports.len() < workers.len() - 1 {
        let (index, line) = next_line(&rx, deadline);
        if line == "@loading" {
            loading += 1;
            if killed.is_none() {
                // kill -9 the leader in the middle of its load.
                workers[index].child.kill().expect("SIGKILL");
                workers[index].child.wait().expect("reaped");
                killed = Some(index);
            }
        } else if line.starts_with("@done") {
            assert_ne!(Some(index), killed, "the killed worker cannot report");
            reports.push(parse_report(&line));
        }
    }
    for (index, worker) in workers.iter_mut().enumerate() {
        if Some(index) != killed {
            assert!(worker.child.wait().expect("worker exits").success());
        }
    }
    // At most two loads: the killed leader's and its replacement's.
    assert_eq!(
        loading, 2,
        "the killed leader's load and one replacement: {reports:?}"
    );
    let ok: usize = reports.iter().map(|r| r.ok).sum();
    assert_eq!(
        ok,
        3 * 500,
        "every surviving caller got the value: {reports:?}"
    );
    let slowest = reports.iter().map(|r| r.slowest_ms).max().unwrap();
    assert!(
        slowest <= lease_ms + load_ms + 1_000,
        "a caller waited {slowest} ms: more than lease + load + 1 s"
    );
}

/// A worker process (run by the tests above, not on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a worker process of the crowd tests, started by them"]
async fn worker() {
    let var = |name: &str| std::env::var(format!("NODEBOOK_WORKER_{name}"));
    let Ok(url) = var("URL") else {
        eprintln!("worker: run by the crowd tests only");
        return;
    };
    let number = |name: &str| var(name).expect("set").parse::<u64>().expect("a number");
    let (callers, load_ms, lease_ms) = (number("CALLERS"), number("LOAD_MS"), number("LEASE_MS"));
    let client = redis::Client::open(url).expect("url");
    let cache: RedisCache<String, StrCodec> =
        RedisCache::builder(client, var("NS").expect("set"), StrCodec)
            .lease(Duration::from_millis(lease_ms))
            .timeout(Duration::from_secs(2))
            .build()
            .expect("cache");
    let mut health = cache.health_changes();
    tokio::time::timeout(BOUND, health.wait_for(|h| *h == Health::Connected))
        .await
        .expect("connected in time")
        .expect("the cache lives");
    println!("@ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("go");

    let began = Instant::now();
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (cache, loads) = (cache.clone(), Arc::clone(&loads));
            tokio::spawn(async move {
                let result = cache
                    .get_or_load("cold", move || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        println!("@loading");
                        tokio::time::sleep(Duration::from_millis(load_ms)).await;
                        Ok::<_, String>("value".to_string())
                    })
                    .await;
                (result.is_ok_and(|v| v == "value"), began.elapsed())
            })
        })
        .collect();
    let (mut ok, mut errors, mut slowest) = (0, 0, Duration::ZERO);
    for task in tasks {
        let (good, waited) = task.await.expect("caller task");
        if good {
            ok += 1
        } else {
            errors += 1
        }
        slowest = slowest.max(waited);
    }
    let stats = cache.stats();
    println!(
        "@done loads={} ok={ok} errors={errors} slowest_ms={} degraded={} leases={}",
        loads.load(Ordering::SeqCst),
        slowest.as_millis(),
        stats.degraded_loads,
        stats.leases_acquired,
    );
    // Nothing degrades a worker in these tests: Redis stays up and the subscription with it.
    assert_eq!(
        (stats.degraded_loads, stats.reconnects, stats.outages),
        (0, 0, 0),
        "worker: {stats:?}, last error {:?}",
        cache.last_redis_error()
    );
}
