//! A soak run: every crate under a mixed load for a while, with throughput and resident memory
//! printed every second and a verdict on whether memory stays flat once warmed up.
//!
//! ```text
//! cargo run --release -p examples --bin soak -- --duration 300
//! ```
//!
//! The load, all at once on a multi-threaded runtime:
//!
//! - **bagpipe**: 32 clients push calls of 0 to 59 ms into a limit of 8 with a queue of 16 in
//!   refuse mode, a 40 ms execution timeout (late calls detached, reported as `outdated`) and a
//!   30 ms queue timeout; 8 more clients `run` calls and give up after 5 ms, dropping their
//!   futures at whatever point they had reached.
//! - **cache**: 16 clients `get_or_load` from a `LimitableMap` of 4096 entries: a hot set of
//!   1000 keys and a cold tail of 100 000 that keeps evicting; loads take 2 ms, one key in 97
//!   fails, one call in 8 gives up after 1 ms, and one in 64 invalidates its key.
//! - **once-queue**: 8 clients `run` 16 hot keys through an `OnceQueue`, checking every value.
//! - **emitter**: bursts of events to 4 subscribers (each resubscribes every 1000 items),
//!   4 `once_event` waiters that give up after 2 ms, and a task that adds and removes a listener
//!   in a loop.
//!
//! Each second it checks the bounds (slots, queue, map length, listener count) and prints one
//! line. At the end every task stops and the structures must be empty again: no slot held, no
//! waiter queued, no load in flight, no listener left. The process exits with status 1 if a
//! bound was broken, something was left behind, or memory kept growing after the warm-up.
//!
//! Resident memory is read from `/proc/self/statm` (Linux; 4 KiB pages assumed).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use examples::Flags;
use nodebook_bagpipe::{Bagpipe, Event, OnTimeout};
use nodebook_cache::{LimitableMap, OnceQueue};
use nodebook_emitter::Emitter;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout};

const USAGE: &str = "usage: soak [--duration SECONDS] [--warm-up SECONDS]
  --duration  how long the load runs (default 60)
  --warm-up   seconds before memory must stay flat (default: a fifth of the duration, 5 to 60)";

const PIPE_LIMIT: usize = 8;
const PIPE_QUEUE: usize = 16;
const MAP_LIMIT: usize = 4096;
const SUBSCRIBERS: usize = 4;
const ONCE_WAITERS: usize = 4;
/// Subscribers, `once_event` waiters and the churning listener, each at most one at a time.
const MAX_TICK_LISTENERS: usize = SUBSCRIBERS + ONCE_WAITERS + 1;
const PAGE_SIZE: u64 = 4096;

fn main() -> ExitCode {
    let known = ["--duration", "--warm-up"];
    let (duration, warm_up) = match Flags::parse(std::env::args().skip(1), &known).and_then(
        |flags| {
            let duration: u64 = flags.value("--duration")?.unwrap_or(60);
            let warm_up: Option<u64> = flags.value("--warm-up")?;
            Ok((flags.help(), duration, warm_up))
        },
    ) {
        Ok((true, ..)) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok((false, duration, _)) if duration < 2 => {
            eprintln!("soak: --duration must be at least 2 seconds, got {duration}\n{USAGE}");
            return ExitCode::from(2);
        }
        Ok((false, duration, warm_up)) => {
            let warm_up = warm_up.unwrap_or((duration / 5).clamp(5, 60));
            if warm_up + 2 > duration {
                eprintln!(
                    "soak: --warm-up {warm_up} leaves no time to judge memory in {duration} s\n{USAGE}"
                );
                return ExitCode::from(2);
            }
            (duration, warm_up)
        }
        Err(err) => {
            eprintln!("soak: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("soak: cannot start the tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let verdict = runtime.block_on(soak(Duration::from_secs(duration), warm_up));
    if verdict.is_empty() {
        println!("verdict: PASS");
        ExitCode::SUCCESS
    } else {
        for problem in &verdict {
            println!("verdict: FAIL: {problem}");
        }
        ExitCode::FAILURE
    }
}

/// Counts of what the clients saw, read and reset by the reporter each second.
#[derive(Default)]
struct Tally {
    pipe_ok: AtomicU64,
    pipe_refused: AtomicU64,
    pipe_timeout: AtomicU64,
    pipe_queue_timeout: AtomicU64,
    pipe_run_dropped: AtomicU64,
    cache_calls: AtomicU64,
    cache_errors: AtomicU64,
    once_calls: AtomicU64,
    events_received: AtomicU64,
    events_lagged: AtomicU64,
    listener_calls: AtomicU64,
    /// Answers that were wrong or unexpected; any is a failure.
    wrong: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn take(counter: &AtomicU64) -> u64 {
    counter.swap(0, Ordering::Relaxed)
}

/// A small xorshift generator: each client has its own, seeded by its number.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Parts {
    pipe: Bagpipe,
    map: LimitableMap<u64, Arc<str>>,
    queue: OnceQueue<u64, u64, String>,
    events: Emitter<u64>,
    tally: Tally,
    stop: AtomicBool,
}

async fn soak(duration: Duration, warm_up: u64) -> Vec<String> {
    let parts = Arc::new(Parts {
        pipe: Bagpipe::builder(PIPE_LIMIT)
            .queue_length(PIPE_QUEUE)
            .refuse(true)
            .timeout(Duration::from_millis(40))
            .queue_timeout(Duration::from_millis(30))
            .on_timeout(OnTimeout::Detach)
            .build(),
        map: LimitableMap::new(MAP_LIMIT).expect("the limit is not zero"),
        queue: OnceQueue::new(),
        events: Emitter::new(),
        tally: Tally::default(),
        stop: AtomicBool::new(false),
    });
    let outdated = Arc::new(AtomicU64::new(0));
    {
        let outdated = Arc::clone(&outdated);
        parts.pipe.events().on(Event::OUTDATED, move |_: &Event| {
            outdated.fetch_add(1, Ordering::Relaxed);
        });
    }

    let mut clients = JoinSet::new();
    for n in 0..32 {
        clients.spawn(pipe_pusher(Arc::clone(&parts), n));
    }
    for n in 0..8 {
        clients.spawn(pipe_runner(Arc::clone(&parts), 100 + n));
    }
    for n in 0..16 {
        clients.spawn(cache_client(Arc::clone(&parts), 200 + n));
    }
    for n in 0..8 {
        clients.spawn(once_client(Arc::clone(&parts), 300 + n));
    }
    for _ in 0..SUBSCRIBERS {
        clients.spawn(subscriber(Arc::clone(&parts)));
    }
    for _ in 0..ONCE_WAITERS {
        clients.spawn(once_waiter(Arc::clone(&parts)));
    }
    clients.spawn(listener_churn(Arc::clone(&parts)));
    clients.spawn(producer(Arc::clone(&parts)));

    let mut problems = Vec::new();
    let mut rss_samples = Vec::new();
    let started = Instant::now();
    let mut ticker =
        tokio::time::interval_at(started + Duration::from_secs(1), Duration::from_secs(1));
    let mut last_map = parts.map.stats();
    let mut last_queue = parts.queue.stats();
    println!(
        "soak: {} s, memory judged after {warm_up} s; per second: calls/s per part, cache hit ratio, RSS",
        duration.as_secs()
    );
    for second in 1..=duration.as_secs() {
        ticker.tick().await;
        let tally = &parts.tally;
        let map = parts.map.stats();
        let queue = parts.queue.stats();
        let (hits, misses) = (map.hits - last_map.hits, map.misses - last_map.misses);
        let hit_ratio = 100.0 * hits as f64 / (hits + misses).max(1) as f64;
        let rss = rss_bytes();
        rss_samples.push(rss.unwrap_or(0));
        println!(
            "{second:>4}s  pipe ok {:>5} refused {:>5} timeout {:>4} queue-timeout {:>4} run-dropped {:>4}  \
             cache {:>6} (hit {hit_ratio:>5.1}%, loads {:>4}, errors {:>3})  once {:>5} (loads {:>3})  \
             events {:>6} (lagged {:>3}, listener calls {:>6})  rss {}",
            take(&tally.pipe_ok),
            take(&tally.pipe_refused),
            take(&tally.pipe_timeout),
            take(&tally.pipe_queue_timeout),
            take(&tally.pipe_run_dropped),
            take(&tally.cache_calls),
            map.loads.started - last_map.loads.started,
            take(&tally.cache_errors),
            take(&tally.once_calls),
            queue.started - last_queue.started,
            take(&tally.events_received),
            take(&tally.events_lagged),
            take(&tally.listener_calls),
            rss.map_or_else(|| "unknown".to_owned(), mib),
        );
        last_map = map;
        last_queue = queue;
        check_bounds(&parts, second, &mut problems);
    }

    parts.stop.store(true, Ordering::SeqCst);
    while let Some(joined) = clients.join_next().await {
        if let Err(err) = joined {
            problems.push(format!("a client task failed: {err}"));
        }
    }
    // Detached late calls finish within their longest duration (59 ms).
    sleep(Duration::from_millis(200)).await;
    check_empty(&parts, &mut problems);
    let wrong = parts.tally.wrong.load(Ordering::Relaxed);
    if wrong > 0 {
        problems.push(format!("{wrong} answers were wrong"));
    }

    let stats = parts.pipe.stats();
    let map = parts.map.stats();
    let queue = parts.queue.stats();
    println!(
        "\ntotals: bagpipe admitted {} completed {} refused {} timeouts {} queue-timeouts {} \
         outdated {} (events {})",
        stats.admitted,
        stats.completed,
        stats.refused,
        stats.timeouts,
        stats.queue_timeouts,
        stats.outdated,
        outdated.load(Ordering::Relaxed),
    );
    println!(
        "        cache hits {} misses {} loads {} coalesced {} failed {} evicted {} removed {}; \
         once-queue loads {} coalesced {}",
        map.hits,
        map.misses,
        map.loads.started,
        map.loads.coalesced,
        map.loads.failed,
        map.evicted_capacity,
        map.removed,
        queue.started,
        queue.coalesced,
    );
    judge_memory(&rss_samples, warm_up, &mut problems);
    problems
}

fn check_bounds(parts: &Parts, second: u64, problems: &mut Vec<String>) {
    let active = parts.pipe.active();
    let queued = parts.pipe.queued();
    let len = parts.map.len();
    let listeners = parts.events.listener_count("tick");
    if active > PIPE_LIMIT {
        problems.push(format!(
            "at {second} s: {active} calls ran at once, limit {PIPE_LIMIT}"
        ));
    }
    if queued > PIPE_QUEUE {
        problems.push(format!(
            "at {second} s: {queued} calls queued, queue length {PIPE_QUEUE}"
        ));
    }
    if len > MAP_LIMIT {
        problems.push(format!(
            "at {second} s: the map held {len} entries, limit {MAP_LIMIT}"
        ));
    }
    if listeners > MAX_TICK_LISTENERS {
        problems.push(format!(
            "at {second} s: {listeners} tick listeners, at most {MAX_TICK_LISTENERS} expected"
        ));
    }
}

fn check_empty(parts: &Parts, problems: &mut Vec<String>) {
    let (active, queued) = (parts.pipe.active(), parts.pipe.queued());
    if (active, queued) != (0, 0) {
        problems.push(format!(
            "after the load: {active} slots held, {queued} calls queued"
        ));
    }
    if parts.queue.in_flight() != 0 {
        problems.push(format!(
            "after the load: {} once-queue loads in flight",
            parts.queue.in_flight()
        ));
    }
    let names = parts.events.event_names();
    if !names.is_empty() {
        problems.push(format!("after the load: listeners left for {names:?}"));
    }
}

/// Memory is flat when the median of the last ten samples is within 5 % (and at least 2 MiB) of
/// the median of the first ten after the warm-up.
fn judge_memory(samples: &[u64], warm_up: u64, problems: &mut Vec<String>) {
    let warm_up = usize::try_from(warm_up).unwrap_or(usize::MAX);
    let Some(after) = samples.get(warm_up..).filter(|after| after.len() >= 2) else {
        problems.push("too few memory samples after the warm-up".to_owned());
        return;
    };
    if after.contains(&0) {
        problems.push("resident memory could not be read from /proc/self/statm".to_owned());
        return;
    }
    let window = after.len().min(10);
    let first = median(&after[..window]);
    let last = median(&after[after.len() - window..]);
    let (low, high) = (
        after.iter().min().copied().unwrap_or(0),
        after.iter().max().copied().unwrap_or(0),
    );
    let allowed = (first / 20).max(2 << 20);
    let growth = last.saturating_sub(first);
    println!(
        "memory after {warm_up} s of warm-up: first {} (median of {window} s), last {}, range {} to {}, \
         growth {} (allowed {})",
        mib(first),
        mib(last),
        mib(low),
        mib(high),
        mib(growth),
        mib(allowed),
    );
    if growth > allowed {
        problems.push(format!(
            "resident memory grew by {} after the warm-up (allowed {})",
            mib(growth),
            mib(allowed)
        ));
    } else {
        println!("memory: flat after the warm-up");
    }
}

fn median(samples: &[u64]) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// Resident set size: the second field of `/proc/self/statm`, in pages.
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * PAGE_SIZE)
}

async fn pipe_pusher(parts: Arc<Parts>, seed: u64) {
    let mut rng = Rng::new(seed);
    while !parts.stop.load(Ordering::Relaxed) {
        let work = Duration::from_millis(rng.below(60));
        match parts.pipe.push(sleep(work)).await {
            Ok(()) => bump(&parts.tally.pipe_ok),
            Err(nodebook_bagpipe::Error::TooMuchAsyncCall { .. }) => {
                bump(&parts.tally.pipe_refused);
                // A refused client backs off a little, as a real one would.
                sleep(Duration::from_millis(1)).await;
            }
            Err(nodebook_bagpipe::Error::Timeout { .. }) => bump(&parts.tally.pipe_timeout),
            Err(nodebook_bagpipe::Error::QueueTimeout { .. }) => {
                bump(&parts.tally.pipe_queue_timeout)
            }
            Err(_) => bump(&parts.tally.wrong),
        }
    }
}

async fn pipe_runner(parts: Arc<Parts>, seed: u64) {
    let mut rng = Rng::new(seed);
    while !parts.stop.load(Ordering::Relaxed) {
        let work = Duration::from_millis(rng.below(10));
        match timeout(Duration::from_millis(5), parts.pipe.run(sleep(work))).await {
            Ok(Ok(())) => bump(&parts.tally.pipe_ok),
            Ok(Err(nodebook_bagpipe::Error::TooMuchAsyncCall { .. })) => {
                bump(&parts.tally.pipe_refused);
                sleep(Duration::from_millis(1)).await;
            }
            Ok(Err(nodebook_bagpipe::Error::Timeout { .. })) => bump(&parts.tally.pipe_timeout),
            Ok(Err(nodebook_bagpipe::Error::QueueTimeout { .. })) => {
                bump(&parts.tally.pipe_queue_timeout)
            }
            Ok(Err(_)) => bump(&parts.tally.wrong),
            Err(_elapsed) => bump(&parts.tally.pipe_run_dropped),
        }
    }
}

fn article(key: u64) -> Arc<str> {
    Arc::from(format!("article {key}:床前明月光，疑是地上霜。"))
}

async fn cache_client(parts: Arc<Parts>, seed: u64) {
    let mut rng = Rng::new(seed);
    while !parts.stop.load(Ordering::Relaxed) {
        let key = if rng.below(5) == 0 {
            1000 + rng.below(100_000)
        } else {
            rng.below(1000)
        };
        let load = move || async move {
            sleep(Duration::from_millis(2)).await;
            if key % 97 == 0 {
                Err(format!("row {key} is locked"))
            } else {
                Ok(article(key))
            }
        };
        let call = parts.map.get_or_load(key, load);
        let answer = if rng.below(8) == 0 {
            match timeout(Duration::from_millis(1), call).await {
                Ok(answer) => answer,
                Err(_elapsed) => {
                    bump(&parts.tally.cache_calls);
                    continue;
                }
            }
        } else {
            call.await
        };
        bump(&parts.tally.cache_calls);
        match answer {
            Ok(value) if *value == *article(key) => {}
            Err(nodebook_cache::Error::Load(_)) if key % 97 == 0 => bump(&parts.tally.cache_errors),
            _ => bump(&parts.tally.wrong),
        }
        if rng.below(64) == 0 {
            parts.map.invalidate(&key);
        }
    }
}

async fn once_client(parts: Arc<Parts>, seed: u64) {
    let mut rng = Rng::new(seed);
    while !parts.stop.load(Ordering::Relaxed) {
        let key = rng.below(16);
        let load = move || async move {
            sleep(Duration::from_millis(3)).await;
            Ok(key * 2)
        };
        match parts.queue.run(key, load).await {
            Ok(value) if value == key * 2 => bump(&parts.tally.once_calls),
            _ => bump(&parts.tally.wrong),
        }
    }
}

async fn producer(parts: Arc<Parts>) {
    let mut n = 0u64;
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    // Resolved once: while only subscriptions listen, its emits skip the name lookup and the
    // emitter's lock, even as the subscriber tasks come and go.
    let tick = parts.events.event("tick");
    while !parts.stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        for _ in 0..10 {
            n += 1;
            if tick.emit(n).is_err() {
                bump(&parts.tally.wrong);
            }
        }
    }
}

async fn subscriber(parts: Arc<Parts>) {
    use futures::StreamExt;
    while !parts.stop.load(Ordering::Relaxed) {
        let Ok(mut ticks) = parts.events.subscribe("tick", 64) else {
            bump(&parts.tally.wrong);
            return;
        };
        let mut received = 0;
        while received < 1000 && !parts.stop.load(Ordering::Relaxed) {
            match timeout(Duration::from_millis(50), ticks.next()).await {
                Ok(Some(Ok(_))) => {
                    received += 1;
                    bump(&parts.tally.events_received);
                }
                Ok(Some(Err(nodebook_emitter::Error::Lagged { .. }))) => {
                    bump(&parts.tally.events_lagged)
                }
                Ok(_) => bump(&parts.tally.wrong),
                Err(_elapsed) => {}
            }
        }
    }
}

async fn once_waiter(parts: Arc<Parts>) {
    while !parts.stop.load(Ordering::Relaxed) {
        match timeout(Duration::from_millis(2), parts.events.once_event("tick")).await {
            Ok(Ok(_)) => bump(&parts.tally.events_received),
            Ok(Err(_)) => bump(&parts.tally.wrong),
            Err(_elapsed) => {}
        }
    }
}

async fn listener_churn(parts: Arc<Parts>) {
    let calls = Arc::new(AtomicU64::new(0));
    while !parts.stop.load(Ordering::Relaxed) {
        let counted = Arc::clone(&calls);
        let id = parts.events.on("tick", move |_: &u64| {
            counted.fetch_add(1, Ordering::Relaxed);
        });
        let guard = parts.events.guard("tick", id);
        sleep(Duration::from_millis(1)).await;
        drop(guard);
        parts
            .tally
            .listener_calls
            .fetch_add(calls.swap(0, Ordering::Relaxed), Ordering::Relaxed);
    }
}
