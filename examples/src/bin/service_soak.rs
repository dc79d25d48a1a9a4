//! A soak run of the HTTP service under hostile clients, with resident memory printed every
//! second and a verdict on whether it stays flat once warmed up.
//!
//! ```text
//! cargo run --release -p examples --bin service-soak -- --duration 300
//! ```
//!
//! The service runs in this process on a fresh data directory, at its defaults, with these
//! clients at once on loopback:
//!
//! - **stalled subscribers** (`--stalled`, 200): `GET /events` and never read a byte, so every
//!   update piles up toward them: the case that took the service to 1.68 GB;
//! - **reading subscribers**: 4 `GET /events` streams read to the end;
//! - **slow clients** (`--slow`, 50): send half a request head and wait for the service to close
//!   the connection (the header timeout, 2 s here), then start over;
//! - **writers**: 2 tasks `PUT` rows of 512 KiB to random articles among the first 32, one after
//!   the other (the article cache is bounded by its row count, not by bytes, so large rows on
//!   every article would fill it with 1000 large rows and measure only that);
//! - **readers**: 8 tasks `GET /articles/{id}` over all 1000 articles, and `/metrics` now and then.
//!
//! Each second it prints resident memory, the heap bytes live, requests per second and the
//! service's connection and subscriber counts. The process exits with status 1 if either memory
//! figure kept growing after the warm-up (the median of the last ten samples more than 5 %, and at
//! least 8 MiB, above the median of the first ten after the warm-up), or if no request succeeded.
//! Memory is the whole process's: the service and its clients, which keep nothing but their
//! sockets. Resident memory is read from `/proc/self/statm` (Linux, 4 KiB pages assumed); the live
//! heap is what Rust code holds, counted by the process's allocator (`cap` around the system
//! allocator, as the service binary has it). A leak in Rust code grows both; resident memory
//! growing with a flat live heap is memory outside it (the allocator keeping freed pages, or
//! SQLite's own: its page cache and the mapped index of its write-ahead log), which the verdict
//! names.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cap::Cap;
use examples::{Flags, HttpClient, Service, ServiceConfig};
use http_body_util::BodyExt;
use hyper::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const USAGE: &str =
    "usage: service-soak [--duration SECONDS] [--warm-up SECONDS] [--stalled N] [--slow N]
  --duration  how long the load runs (default 60)
  --warm-up   seconds before memory must stay flat (default: a fifth of the duration, 5 to 60)
  --stalled   event subscribers that never read (default 200)
  --slow      clients that send half a request head and wait (default 50)";

/// The system allocator, as the `service` binary has it, counting the bytes it has handed out
/// and not yet been given back.
#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

const PAGE_SIZE: u64 = 4096;
const ROW_BYTES: usize = 512 * 1024;
const WRITTEN_ARTICLES: u64 = 32;

struct Plan {
    duration: u64,
    warm_up: u64,
    stalled: usize,
    slow: usize,
}

fn plan() -> Result<Option<Plan>, examples::Error> {
    let known = ["--duration", "--warm-up", "--stalled", "--slow"];
    let flags = Flags::parse(std::env::args().skip(1), &known)?;
    if flags.help() {
        return Ok(None);
    }
    let duration: u64 = flags.value("--duration")?.unwrap_or(60);
    let warm_up: u64 = flags
        .value("--warm-up")?
        .unwrap_or((duration / 5).clamp(5, 60));
    if warm_up + 2 > duration {
        return Err(examples::Error::Argument {
            name: "--warm-up".to_owned(),
            reason: format!("{warm_up} s leaves no time to judge memory in {duration} s"),
        });
    }
    Ok(Some(Plan {
        duration,
        warm_up,
        stalled: flags.value("--stalled")?.unwrap_or(200),
        slow: flags.value("--slow")?.unwrap_or(50),
    }))
}

#[derive(Default)]
struct Tally {
    gets: AtomicU64,
    puts: AtomicU64,
    errors: AtomicU64,
    events: AtomicU64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let plan = match plan() {
        Ok(Some(plan)) => plan,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("service-soak: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&plan).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("service-soak: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(plan: &Plan) -> Result<bool, examples::Error> {
    let dir = std::env::temp_dir().join(format!("service-soak-{}", std::process::id()));
    let mut config = ServiceConfig::new(&dir);
    config.header_timeout = Duration::from_secs(2);
    let service = Service::open(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| examples::Error::Http {
            url: "127.0.0.1:0".to_owned(),
            reason: err.to_string(),
        })?;
    let address = listener
        .local_addr()
        .map_err(|err| examples::Error::Http {
            url: "127.0.0.1:0".to_owned(),
            reason: err.to_string(),
        })?
        .to_string();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(service.clone().serve(listener, async {
        stopped.await.ok();
    }));
    println!(
        "service-soak: {} s ({} s warm-up) on http://{address}: {} stalled subscribers, \
         4 reading, {} slow clients, 2 writers of {} KiB rows to {WRITTEN_ARTICLES} articles, 8 readers",
        plan.duration,
        plan.warm_up,
        plan.stalled,
        plan.slow,
        ROW_BYTES / 1024
    );

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut clients = JoinSet::new();
    let mut stalled = Vec::new();
    for _ in 0..plan.stalled {
        if let Ok(mut socket) = TcpStream::connect(&address).await {
            let _ = socket
                .write_all(b"GET /events HTTP/1.1\r\nhost: soak\r\n\r\n")
                .await;
            stalled.push(socket);
        }
    }
    let client = HttpClient::new();
    let url = format!("http://{address}");
    for _ in 0..4 {
        clients.spawn(reader_subscriber(
            client.clone(),
            url.clone(),
            Arc::clone(&tally),
        ));
    }
    for _ in 0..plan.slow {
        clients.spawn(slow_client(address.clone(), Arc::clone(&stop)));
    }
    for seed in 0..2 {
        let (client, url, stop, tally) = (
            client.clone(),
            url.clone(),
            Arc::clone(&stop),
            Arc::clone(&tally),
        );
        clients.spawn(writer(client, url, stop, tally, seed));
    }
    for seed in 0..8 {
        let (client, url, stop, tally) = (
            client.clone(),
            url.clone(),
            Arc::clone(&stop),
            Arc::clone(&tally),
        );
        clients.spawn(reader(client, url, stop, tally, seed));
    }

    let mut samples = Vec::new();
    let mut heap_samples = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let (mut gets, mut puts) = (0, 0);
    for second in 1..=plan.duration {
        ticker.tick().await;
        let rss = rss_bytes().unwrap_or(0);
        let heap = ALLOCATOR.allocated() as u64;
        samples.push(rss);
        heap_samples.push(heap);
        let (now_gets, now_puts) = (
            tally.gets.load(Ordering::Relaxed),
            tally.puts.load(Ordering::Relaxed),
        );
        let subscribers = service.store().stats().events.subscribers;
        println!(
            "{second:>4} s  rss {:>9}  heap {:>9}  GET/s {:>6}  PUT/s {:>4}  errors {:>5}  \
             events read {:>6}  connections {:>4}  subscribers {:>4}",
            mib(rss),
            mib(heap),
            now_gets - gets,
            now_puts - puts,
            tally.errors.load(Ordering::Relaxed),
            tally.events.load(Ordering::Relaxed),
            service.open_connections(),
            subscribers,
        );
        (gets, puts) = (now_gets, now_puts);
    }
    stop.store(true, Ordering::Relaxed);
    drop(stalled);
    let _ = stop_server.send(());
    clients.abort_all();
    while clients.join_next().await.is_some() {}
    if let Ok(Ok(report)) = server.await {
        println!(
            "stopped: {} connections open at the drain, {} cut",
            report.draining, report.cut
        );
    }
    let _ = std::fs::remove_dir_all(&dir);

    let heap_flat = judge_memory("live heap", &heap_samples, plan.warm_up);
    let rss_flat = judge_memory("resident memory", &samples, plan.warm_up);
    if heap_flat && !rss_flat {
        println!(
            "note: the live heap stayed flat while resident memory grew: the growth is outside \
             Rust's heap (freed pages the allocator kept, or SQLite's own memory)"
        );
    }
    let mut fine = heap_flat && rss_flat;
    if tally.gets.load(Ordering::Relaxed) == 0 || tally.puts.load(Ordering::Relaxed) == 0 {
        println!("problem: no GET or no PUT succeeded");
        fine = false;
    }
    Ok(fine)
}

async fn reader_subscriber(client: HttpClient, url: String, tally: Arc<Tally>) {
    let Ok(response) = client
        .open(Method::GET, &format!("{url}/events"), Bytes::new())
        .await
    else {
        tally.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut body = response.into_body();
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            let events = data.windows(7).filter(|w| w == b"event: ").count();
            tally.events.fetch_add(events as u64, Ordering::Relaxed);
        }
    }
}

async fn slow_client(address: String, stop: Arc<AtomicBool>) {
    let mut sink = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut socket) = TcpStream::connect(&address).await else {
            continue;
        };
        if socket
            .write_all(b"GET /articles/1 HTTP/1.1\r\nho")
            .await
            .is_ok()
        {
            sink.clear();
            let _ = socket.read_to_end(&mut sink).await;
        }
    }
}

async fn writer(
    client: HttpClient,
    url: String,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    seed: u64,
) {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let text = "w".repeat(ROW_BYTES - 64);
    while !stop.load(Ordering::Relaxed) {
        rng = next(rng);
        let id = rng % WRITTEN_ARTICLES + 1;
        let body = format!(r#"{{"title":"soak {rng}","body":"{text}"}}"#);
        match client
            .send(Method::PUT, &format!("{url}/articles/{id}"), body.into())
            .await
        {
            Ok(answer) if answer.status.is_success() => tally.puts.fetch_add(1, Ordering::Relaxed),
            _ => tally.errors.fetch_add(1, Ordering::Relaxed),
        };
    }
}

async fn reader(
    client: HttpClient,
    url: String,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    seed: u64,
) {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut count = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        rng = next(rng);
        count += 1;
        let path = if count.is_multiple_of(500) {
            "/metrics".to_owned()
        } else {
            format!("/articles/{}", rng % 1000 + 1)
        };
        match client.get(&format!("{url}{path}")).await {
            Ok(answer) if answer.status.is_success() => tally.gets.fetch_add(1, Ordering::Relaxed),
            _ => tally.errors.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// xorshift64: spread over the articles without a dependency.
fn next(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Flat when the median of the last ten samples of `what` is within 5 % (and at least 8 MiB) of
/// the median of the first ten after the warm-up.
fn judge_memory(what: &str, samples: &[u64], warm_up: u64) -> bool {
    let warm_up = usize::try_from(warm_up).unwrap_or(usize::MAX);
    let Some(after) = samples.get(warm_up..).filter(|after| after.len() >= 2) else {
        println!("problem: too few {what} samples after the warm-up");
        return false;
    };
    if after.contains(&0) {
        println!("problem: {what} could not be read");
        return false;
    }
    let window = after.len().min(10);
    let first = median(&after[..window]);
    let last = median(&after[after.len() - window..]);
    let high = after.iter().max().copied().unwrap_or(0);
    let allowed = (first / 20).max(8 << 20);
    let growth = last.saturating_sub(first);
    println!(
        "{what} after {warm_up} s of warm-up: first {} (median of {window} s), last {}, peak {}, \
         growth {} (allowed {})",
        mib(first),
        mib(last),
        mib(high),
        mib(growth),
        mib(allowed)
    );
    if growth > allowed {
        println!("problem: {what} kept growing");
        false
    } else {
        println!("{what}: flat after the warm-up");
        true
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

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * PAGE_SIZE)
}
