//! The tour: every crate of the toolkit on the book's own scenarios, with measured figures.
//!
//! Each scene opens with what it shows ("Shows: ..."), says when its figures depend on the
//! machine, prints them, and closes with whether they support the claim ("Supported: ..." or
//! "NOT supported by this run: ..."). The avalanche scene's logic lives in the library
//! ([`examples::Avalanche`]) so that the tests run it on tokio's paused clock.
//!
//! ```text
//! cargo run --release -p examples --bin tour
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::num::NonZeroUsize;

use examples::{ArticleSource, Avalanche, Crowd, MockDatabase, POEM};
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use nodebook_bagpipe::{Bagpipe, Event, OnTimeout};
use nodebook_cache::LimitableMap;
use nodebook_decoder::StringDecoder;
use nodebook_emitter::Emitter;
use nodebook_streams::{ReadOptions, ReadStream};
use tokio::time::Instant;

type TourResult = Result<(), Box<dyn std::error::Error>>;
type Section = fn() -> futures::future::BoxFuture<'static, TourResult>;

const QUERY_LATENCY: Duration = Duration::from_millis(5);

/// The line that opens a scene's figures: what they are meant to show.
fn claim(what: &str) {
    println!("Shows: {what}");
}

/// A scene whose figures would differ on another machine says so, and why.
fn depends_on_machine(why: &str) {
    println!("Depends on the machine: {why}");
}

/// The line that closes a scene: whether its measured figures bear the claim out.
fn verdict(supported: bool, figures: &str) {
    if supported {
        println!("Supported: {figures}");
    } else {
        println!("NOT supported by this run: {figures}");
    }
}

/// `12345` as `12,345`.
fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A duration in milliseconds with one decimal, the unit of every wait in the tour.
fn millis(duration: Duration) -> String {
    format!("{:.1}ms", duration.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let started = Instant::now();
    let sections: [(&str, Section); 6] = [
        ("1. The avalanche: 1,000 callers on one cold key", || {
            Box::pin(avalanche())
        }),
        ("2. Bagpipe in front of a database", || Box::pin(limiter())),
        ("3. LimitableMap: FIFO eviction with counters", || {
            Box::pin(async { limitable_map() })
        }),
        (
            "4. The emitter: once, prepend, the leak warning, an async subscriber",
            || Box::pin(emitter_section()),
        ),
        ("5. The poem in 11-byte chunks", || Box::pin(poem())),
        ("6. highWaterMark and read throughput", || {
            Box::pin(high_water_mark())
        }),
    ];
    for (title, section) in sections {
        println!("\n== {title}\n");
        if let Err(err) = section().await {
            eprintln!("tour: {title} failed: {err}");
            return std::process::ExitCode::FAILURE;
        }
    }
    println!("\nThe tour took {:.1?}.", started.elapsed());
    std::process::ExitCode::SUCCESS
}

/// The avalanche scene: a pool as small as a real one and a crowd larger than it.
const AVALANCHE: Avalanche = Avalanche {
    connections: NonZeroUsize::new(4).expect("4 is not zero"),
    query_cost: Duration::from_millis(5),
    crowd: Crowd {
        callers: 1_000,
        article: 1,
        patience: Duration::from_secs(1),
    },
};

async fn avalanche() -> TourResult {
    let Avalanche {
        connections,
        query_cost,
        crowd,
    } = AVALANCHE;
    claim(
        "guarded by the once-queue, a crowd on a cold key costs the database one query and is answered far sooner than when every caller queries; a cache then spares the next crowd even that query.",
    );
    println!(
        "The database has {connections} connections and a query holds one for {query_cost:?}; \
         queries beyond {connections} wait for a free one."
    );
    println!(
        "{} callers ask for article {} at once; each gives up after {:?}. A wait runs from the \
         crowd's arrival to the caller's answer, or to when it gave up.",
        thousands(crowd.callers),
        crowd.article,
        crowd.patience
    );
    depends_on_machine(
        "the figures are wall-clock times on this machine; the database is simulated with tokio timers, which round up to the millisecond.",
    );
    let report = AVALANCHE.run().await?;

    println!(
        "\n  {:<36} {:>7} {:>8} {:>7} {:>6} {:>8} {:>8} {:>8}",
        "", "queries", "answered", "gave up", "failed", "p50", "p99", "wall"
    );
    for (label, crowd) in [
        ("without a guard", &report.unguarded),
        ("once-queue", &report.once_queue),
        ("once-queue, the next crowd", &report.once_queue_again),
        ("once-queue + cache", &report.cached),
        ("once-queue + cache, the next crowd", &report.cached_again),
    ] {
        println!(
            "  {label:<36} {:>7} {:>8} {:>7} {:>6} {:>8} {:>8} {:>8}",
            thousands(crowd.queries),
            thousands(crowd.answered),
            thousands(crowd.timed_out),
            thousands(crowd.failed),
            millis(crowd.p50),
            millis(crowd.p99),
            millis(crowd.wall),
        );
    }
    println!();

    let (bare, guarded) = (&report.unguarded, &report.once_queue);
    let mut bare_outcome = format!("{} queries", thousands(bare.queries));
    if bare.timed_out > 0 {
        bare_outcome.push_str(&format!(
            ", {} callers gave up after {:?}",
            thousands(bare.timed_out),
            crowd.patience
        ));
    }
    if report.guard_wins() {
        verdict(
            true,
            &format!(
                "the once-queue answered all {} callers with 1 query, the last after {}, where without a guard the last waited {} ({bare_outcome}); with the cache the next crowd ran {} queries.",
                thousands(guarded.callers),
                millis(guarded.slowest),
                millis(bare.slowest),
                report.cached_again.queries
            ),
        );
    } else {
        verdict(
            false,
            &format!(
                "the once-queue answered {} of {} callers with {} queries, the last after {}; without a guard the last waited {} ({bare_outcome}); the cache's next crowd ran {} queries.",
                thousands(guarded.answered),
                thousands(guarded.callers),
                guarded.queries,
                millis(guarded.slowest),
                millis(bare.slowest),
                report.cached_again.queries
            ),
        );
    }
    Ok(())
}

/// Queries the limiter scene pushes at once, and how often one of them hits the slow table.
const CALLS: u64 = 40;
const SLOW_EVERY: u64 = 8;

async fn limiter() -> TourResult {
    let pipe = Bagpipe::builder(10)
        .queue_length(20)
        .refuse(true)
        .timeout(Duration::from_millis(40))
        .on_timeout(OnTimeout::Detach)
        .build();
    claim(&format!(
        "the bagpipe admits at most {} queries at a time, queues {} more and refuses the rest at once; \
         a query past its timeout answers Timeout and gives its slot back, but, detached, runs on \
         to its end (an outdated event), so the database may run more than {} at once.",
        pipe.limit(),
        pipe.queue_length(),
        pipe.limit()
    ));
    println!(
        "limit {}, queue_length {}, refuse on, timeout 40ms (late calls detached). {CALLS} queries at once;",
        pipe.limit(),
        pipe.queue_length()
    );
    println!("every {SLOW_EVERY}th one hits a slow table that takes 100ms.");
    depends_on_machine(
        "how late the outdated queries finish is this machine's timer; the counts are not.\n",
    );
    let clock = Instant::now();

    let fulls = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&fulls);
    pipe.events().on(Event::FULL, move |event: &Event| {
        if let Event::Full { queued } = event {
            let mut seen = sink
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.push(*queued);
            if seen.len() <= 2 {
                println!("  event full: {queued} waiting");
            }
        }
    });
    let (outdated_tx, mut outdated_rx) = tokio::sync::mpsc::unbounded_channel();
    pipe.events().on(Event::OUTDATED, move |event: &Event| {
        if let Event::Outdated(late) = event {
            println!(
                "  event outdated: a query finished {:.0?} after its {:.0?} timeout",
                late.elapsed().saturating_sub(late.timeout()),
                late.timeout()
            );
            let _ = outdated_tx.send(());
        }
    });

    let fast = MockDatabase::new(QUERY_LATENCY);
    let slow = MockDatabase::new(Duration::from_millis(100));
    let running = Arc::new(Running::default());
    let calls: Vec<_> = (0..CALLS)
        .map(|n| {
            let db = if n % SLOW_EVERY == 0 {
                slow.clone()
            } else {
                fast.clone()
            };
            let running = Arc::clone(&running);
            pipe.push(async move {
                let _query = running.enter();
                db.article(n + 1).await
            })
        })
        .collect();
    {
        let seen = fulls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let (Some(first), Some(last)) = (seen.first(), seen.last()) {
            println!(
                "  ... full fired {} times while queueing, from {first} to {last} waiting",
                seen.len()
            );
        }
    }
    println!(
        "  right after the pushes: {} running, {} waiting",
        pipe.active(),
        pipe.queued()
    );

    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for call in calls {
        let outcome = match call.await {
            Ok(Ok(_)) => "answered",
            Ok(Err(_)) => "database error",
            Err(nodebook_bagpipe::Error::TooMuchAsyncCall { .. }) => "refused (TooMuchAsyncCall)",
            Err(nodebook_bagpipe::Error::Timeout { .. }) => "timed out",
            Err(_) => "other",
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let timeouts = outcomes.get("timed out").copied().unwrap_or(0);
    for _ in 0..timeouts {
        if tokio::time::timeout(Duration::from_secs(2), outdated_rx.recv())
            .await
            .is_err()
        {
            break;
        }
    }
    let line: Vec<String> = outcomes.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("  outcomes: {}", line.join(", "));
    let stats = pipe.stats();
    println!(
        "  counters: admitted {}, refused {}, timeouts {}, outdated {}, completed {}; \
         {:.0?} in all",
        stats.admitted,
        stats.refused,
        stats.timeouts,
        stats.outdated,
        stats.completed,
        clock.elapsed()
    );
    let most_at_once = running.most.load(Ordering::SeqCst);
    println!(
        "  queries running at once: at most {} on the fast table (never detached), {most_at_once} on both tables",
        fast.max_in_flight(),
    );

    let admitted = pipe.limit() + pipe.queue_length();
    let slow_admitted = (0..CALLS)
        .take(admitted)
        .filter(|n| n % SLOW_EVERY == 0)
        .count() as u64;
    let expected_refused = CALLS.saturating_sub(admitted as u64);
    let answered = outcomes.get("answered").copied().unwrap_or(0) as u64;
    let detached = usize::try_from(stats.timeouts).unwrap_or(usize::MAX);
    let supported = fast.max_in_flight() <= pipe.limit()
        && most_at_once <= pipe.limit().saturating_add(detached)
        && stats.refused == expected_refused
        && stats.timeouts == slow_admitted
        && stats.outdated == slow_admitted
        && answered == admitted as u64 - slow_admitted;
    verdict(
        supported,
        &format!(
            "{}; {} refused (expected {expected_refused}); \
             {} timed out and {} reported outdated (expected {slow_admitted}, the slow queries admitted); \
             {answered} answered.",
            if most_at_once > pipe.limit() {
                format!(
                    "at most {most_at_once} queries ran at once: the limit of {} plus detached late ones",
                    pipe.limit()
                )
            } else {
                format!(
                    "at most {most_at_once} queries ran at once (limit {})",
                    pipe.limit()
                )
            },
            stats.refused,
            stats.timeouts,
            stats.outdated,
        ),
    );
    Ok(())
}

/// Queries running in the database right now, and the most that ever ran at once.
#[derive(Default)]
struct Running {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Running {
    fn enter(&self) -> RunningQuery<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        RunningQuery(&self.now)
    }
}

/// One running query; counted out when it ends or is dropped.
struct RunningQuery<'a>(&'a AtomicUsize);

impl Drop for RunningQuery<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn limitable_map() -> TourResult {
    claim(
        "past its limit the map evicts the key inserted first, and overwriting a key keeps its place in that order.",
    );
    let map = LimitableMap::new(3)?;
    for (word, n) in [("床", 1), ("前", 2), ("明", 3)] {
        map.insert(word, n);
    }
    println!("limit 3; inserted 床 前 明: keys {:?}", map.keys());
    map.insert("床", 10);
    let after_overwrite = map.keys();
    println!("overwrote 床 (keeps its place): keys {after_overwrite:?}");
    map.insert("月", 4);
    let after_eviction = map.keys();
    println!("inserted 月: the first inserted key went, keys {after_eviction:?}");
    let hit = map.get(&"明").is_some();
    let miss = map.get(&"床").is_none();
    let stats = map.stats();
    println!(
        "get 明 hit: {hit}, get 床 missed: {miss}; counters: inserts {}, replaced {}, evicted {}, hits {}, misses {}",
        stats.inserts, stats.replaced, stats.evicted_capacity, stats.hits, stats.misses
    );
    verdict(
        after_overwrite == ["床", "前", "明"]
            && after_eviction == ["前", "明", "月"]
            && stats.evicted_capacity == 1,
        &format!(
            "after the overwrite the order was {after_overwrite:?}, and 月 evicted {} key, leaving {after_eviction:?}.",
            stats.evicted_capacity
        ),
    );
    Ok(())
}

async fn emitter_section() -> TourResult {
    claim(
        "listeners run in Node's order (prepended first, a once listener once), a leak warning comes once per event name, and an async subscriber gets every emit in order.",
    );
    let emitter: Emitter<String> = Emitter::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    let log = |tag: &'static str| {
        let order = Arc::clone(&order);
        move |payload: &String| {
            order
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(format!("{tag}({payload})"));
        }
    };
    emitter.on("selected", log("on"));
    emitter.once("selected", log("once"));
    emitter.prepend_listener("selected", log("prepended"));
    emitter.emit("selected", "first".to_owned())?;
    emitter.emit("selected", "second".to_owned())?;
    let calls = order
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .join(" ");
    println!("calls in order: {calls}");
    let listeners_left = emitter.listener_count("selected");
    println!("listeners left on \"selected\": {listeners_left}");

    let warned = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&warned);
    emitter.set_warning_hook(move |warning| {
        count.fetch_add(1, Ordering::Relaxed);
        println!("warning: {warning}");
    });
    emitter.set_max_listeners(2);
    for _ in 0..4 {
        emitter.on("tick", |_| {});
    }
    let warnings = warned.load(Ordering::Relaxed);
    println!("4 listeners on \"tick\" with max 2: {warnings} warning (once per event name)");

    let mut ticks = emitter.subscribe("word", 16)?;
    let reader = tokio::spawn(async move {
        let mut words = Vec::new();
        while let Some(Ok(word)) = ticks.next().await {
            words.push(word);
            if words.len() == 5 {
                break;
            }
        }
        words
    });
    // A hot event can be resolved once: the handle's emits skip the name lookup, and while
    // only subscriptions listen, the emitter's lock too.
    let word_event = emitter.event("word");
    for word in ["举", "头", "望", "明", "月"] {
        word_event.emit(word.to_owned())?;
    }
    let received = reader.await?.concat();
    println!("an async subscriber task received, through emitter.event(\"word\"): {received}");
    let expected_calls = "prepended(first) on(first) once(first) prepended(second) on(second)";
    verdict(
        calls == expected_calls && listeners_left == 2 && warnings == 1 && received == "举头望明月",
        &format!(
            "the calls came in {} order, {listeners_left} listeners were left on \"selected\", \
             {warnings} warning came for 4 listeners, and the subscriber got {received}.",
            if calls == expected_calls {
                "Node's"
            } else {
                "a different"
            },
        ),
    );
    Ok(())
}

async fn poem() -> TourResult {
    claim(
        "decoding each chunk on its own garbles the characters split between chunks; set_encoding carries their bytes over and decodes the poem whole.",
    );
    let utf8 = POEM.as_bytes();
    let (gbk, _, _) = encoding_rs::GBK.encode(POEM);
    let (mut garbled_runs, mut whole_runs) = (0, 0);
    for (label, bytes) in [("utf8", utf8), ("gbk", &gbk[..])] {
        let chunks = bytes.chunks(11).count();
        let mut garbled = String::new();
        for chunk in bytes.chunks(11) {
            // Node's `chunk.toString()`: every chunk decoded on its own.
            let mut alone = StringDecoder::new(label)?;
            garbled.push_str(&alone.write(chunk));
            garbled.push_str(&alone.end());
        }
        let source = std::io::Cursor::new(bytes.to_vec());
        let stream = ReadStream::from_reader(source, ReadOptions::new().high_water_mark(11))?;
        let whole: Vec<String> = stream.set_encoding(label)?.try_collect().await?;
        println!("{label}: {} bytes in {chunks} chunks of 11", bytes.len());
        let whole = whole.concat();
        println!("  decoded per chunk:  {garbled}");
        println!("  with set_encoding:  {whole}");
        garbled_runs += usize::from(garbled != POEM);
        whole_runs += usize::from(whole == POEM);
    }
    verdict(
        garbled_runs == 2 && whole_runs == 2,
        &format!(
            "decoded per chunk, {garbled_runs} of 2 encodings came out garbled; with set_encoding, {whole_runs} of 2 came out exactly as the poem."
        ),
    );
    Ok(())
}

const FILE_SIZE: usize = 64 << 20;

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        // Best effort: the file is in the temp dir either way.
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn high_water_mark() -> TourResult {
    let path = std::env::temp_dir().join(format!("node-patterns-tour-{}.bin", std::process::id()));
    let guard = RemoveOnDrop(path.clone());
    let data: Vec<u8> = (0..FILE_SIZE).map(|i| (i * 31 % 251) as u8).collect();
    tokio::fs::write(&path, &data).await?;
    drop(data);
    claim(
        "a larger highWaterMark reads the same file in fewer, larger chunks, and faster: each chunk costs a read and a wakeup.",
    );
    depends_on_machine(
        "the file was written just now, so it is read from the page cache, not the disk; the speeds are this machine's memory, its core count (file reads run on tokio's blocking threads) and whatever else it runs.",
    );
    println!(
        "Reading a {} MiB file at several highWaterMark values:",
        FILE_SIZE >> 20
    );
    let bar = ProgressBar::new((FILE_SIZE * 5) as u64).with_style(
        ProgressStyle::with_template("  [{bar:40}] {bytes}/{total_bytes} {msg}")?
            .progress_chars("=> "),
    );
    let mut results = Vec::new();
    for high_water_mark in [1 << 10, 4 << 10, 16 << 10, 64 << 10, 1 << 20] {
        bar.set_message(format!("highWaterMark {}", size(high_water_mark)));
        let (bytes, chunks, elapsed) = read_all(&path, high_water_mark, &bar).await?;
        if bytes != FILE_SIZE as u64 {
            return Err(format!("read {bytes} bytes of {FILE_SIZE}").into());
        }
        results.push((high_water_mark, chunks, elapsed));
    }
    bar.finish_and_clear();
    let mut chunks_as_expected = true;
    let mut slower_steps = Vec::new();
    let mut previous: Option<(usize, f64)> = None;
    for (high_water_mark, chunks, elapsed) in results {
        let mib_per_s = (FILE_SIZE as f64 / (1 << 20) as f64) / elapsed.as_secs_f64();
        println!(
            "  highWaterMark {:>7}: {chunks:>6} chunks in {:>8.1?}  {mib_per_s:>7.0} MiB/s",
            size(high_water_mark),
            elapsed
        );
        chunks_as_expected &= chunks == FILE_SIZE.div_ceil(high_water_mark);
        if let Some((smaller, smaller_speed)) = previous
            && mib_per_s <= smaller_speed
        {
            slower_steps.push(format!(
                "{} ({mib_per_s:.0} MiB/s) was not faster than {} ({smaller_speed:.0} MiB/s)",
                size(high_water_mark),
                size(smaller)
            ));
        }
        previous = Some((high_water_mark, mib_per_s));
    }
    drop(guard);
    println!(
        "The temporary file {} is removed: {}",
        path.display(),
        !path.exists()
    );
    let speeds = if slower_steps.is_empty() {
        "and each larger highWaterMark read faster".to_owned()
    } else {
        format!("but {}", slower_steps.join("; "))
    };
    verdict(
        chunks_as_expected && slower_steps.is_empty(),
        &format!(
            "the chunk counts were {} the file size over the highWaterMark, {speeds}.",
            if chunks_as_expected { "exactly" } else { "not" }
        ),
    );
    Ok(())
}

async fn read_all(
    path: &Path,
    high_water_mark: usize,
    bar: &ProgressBar,
) -> Result<(u64, usize, Duration), Box<dyn std::error::Error>> {
    let clock = Instant::now();
    let mut stream =
        ReadStream::open(path, ReadOptions::new().high_water_mark(high_water_mark)).await?;
    let (mut bytes, mut chunks) = (0_u64, 0_usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        chunks += 1;
        bar.inc(chunk.len() as u64);
    }
    Ok((bytes, chunks, clock.elapsed()))
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}
