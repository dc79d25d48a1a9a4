//! The tour: every crate of the toolkit on the book's own scenarios, with measured figures.
//!
//! ```text
//! cargo run --release -p examples --bin tour
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::{ArticleSource, ArticleStore, MockDatabase, POEM, StoreConfig};
use futures::future::join_all;
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let started = Instant::now();
    let sections: [(&str, Section); 6] = [
        ("1. The avalanche: 10,000 requests for one cold key", || {
            Box::pin(avalanche())
        }),
        ("2. Bagpipe in front of the same database", || {
            Box::pin(limiter())
        }),
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

async fn avalanche() -> TourResult {
    println!("A mock database answers each query after {QUERY_LATENCY:?}. The cache is cold.");

    let db = MockDatabase::new(QUERY_LATENCY);
    let clock = Instant::now();
    let answers = join_all((0..10_000).map(|_| db.article(1))).await;
    let unguarded = clock.elapsed();
    let failed = answers.iter().filter(|a| a.is_err()).count();
    println!(
        "  without a guard: {:>6} queries, {:>6} in flight at once, {failed} failed, {unguarded:.1?}",
        db.queries(),
        db.max_in_flight(),
    );

    let db = MockDatabase::new(QUERY_LATENCY);
    let store = ArticleStore::new(db.clone(), StoreConfig::default())?;
    let clock = Instant::now();
    let answers = join_all((0..10_000).map(|_| store.get(1))).await;
    let guarded = clock.elapsed();
    let failed = answers.iter().filter(|a| a.is_err()).count();
    let stats = store.stats();
    println!(
        "  with get_or_load: {:>5} query,   {:>6} callers joined it, {failed} failed, {guarded:.1?}",
        db.queries(),
        stats.cache.loads_coalesced,
    );
    let clock = Instant::now();
    let again = join_all((0..10_000).map(|_| store.get(1))).await;
    println!(
        "  10,000 more reads: {} from the cache, {} new queries, {:.1?}",
        again.iter().filter(|a| a.is_ok()).count(),
        db.queries() - 1,
        clock.elapsed()
    );
    Ok(())
}

async fn limiter() -> TourResult {
    let pipe = Bagpipe::builder(10)
        .queue_length(20)
        .refuse(true)
        .timeout(Duration::from_millis(40))
        .on_timeout(OnTimeout::Detach)
        .build();
    println!(
        "limit {}, queue_length {}, refuse on, timeout 40ms (late calls detached). 40 queries at once;",
        pipe.limit(),
        pipe.queue_length()
    );
    println!("every 8th one hits a slow table that takes 100ms.\n");
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
    let calls: Vec<_> = (0..40_u64)
        .map(|n| {
            let db = if n % 8 == 0 {
                slow.clone()
            } else {
                fast.clone()
            };
            pipe.push(async move { db.article(n + 1).await })
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
         the fast table never saw more than {} queries at once; {:.0?} in all",
        stats.admitted,
        stats.refused,
        stats.timeouts,
        stats.outdated,
        stats.completed,
        fast.max_in_flight(),
        clock.elapsed()
    );
    Ok(())
}

fn limitable_map() -> TourResult {
    let map = LimitableMap::new(3)?;
    for (word, n) in [("床", 1), ("前", 2), ("明", 3)] {
        map.insert(word, n);
    }
    println!("limit 3; inserted 床 前 明: keys {:?}", map.keys());
    map.insert("床", 10);
    println!("overwrote 床 (keeps its place): keys {:?}", map.keys());
    map.insert("月", 4);
    println!(
        "inserted 月: the first inserted key went, keys {:?}",
        map.keys()
    );
    let hit = map.get(&"明").is_some();
    let miss = map.get(&"床").is_none();
    let stats = map.stats();
    println!(
        "get 明 hit: {hit}, get 床 missed: {miss}; counters: inserts {}, replaced {}, evicted {}, hits {}, misses {}",
        stats.inserts, stats.replaced, stats.evicted_capacity, stats.hits, stats.misses
    );
    Ok(())
}

async fn emitter_section() -> TourResult {
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
    println!(
        "calls in order: {}",
        order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .join(" ")
    );
    println!(
        "listeners left on \"selected\": {}",
        emitter.listener_count("selected")
    );

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
    println!(
        "4 listeners on \"tick\" with max 2: {} warning (once per event name)",
        warned.load(Ordering::Relaxed)
    );

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
    println!(
        "an async subscriber task received, through emitter.event(\"word\"): {}",
        reader.await?.concat()
    );
    Ok(())
}

async fn poem() -> TourResult {
    let utf8 = POEM.as_bytes();
    let (gbk, _, _) = encoding_rs::GBK.encode(POEM);
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
        println!("  decoded per chunk:  {garbled}");
        println!("  with set_encoding:  {}", whole.concat());
    }
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
    println!(
        "Reading a {} MiB file (written just now, so from the page cache) at several highWaterMark values:",
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
    for (high_water_mark, chunks, elapsed) in results {
        let mib_per_s = (FILE_SIZE as f64 / (1 << 20) as f64) / elapsed.as_secs_f64();
        println!(
            "  highWaterMark {:>7}: {chunks:>6} chunks in {:>8.1?}  {mib_per_s:>7.0} MiB/s",
            size(high_water_mark),
            elapsed
        );
    }
    drop(guard);
    println!(
        "The temporary file {} is removed: {}",
        path.display(),
        !path.exists()
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
