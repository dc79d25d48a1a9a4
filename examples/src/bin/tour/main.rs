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

mod limiter;
mod read_speed;
mod report;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::{Avalanche, Crowd, POEM};
use futures::{StreamExt, TryStreamExt};
use nodebook_cache::{EvictionPolicy, LimitableMap};
use nodebook_decoder::StringDecoder;
use nodebook_emitter::Emitter;
use nodebook_streams::{ReadOptions, ReadStream};
use tokio::time::Instant;

use crate::limiter::limiter;
use crate::read_speed::high_water_mark;
use crate::report::{claim, depends_on_machine, millis, thousands, verdict};

type TourResult = Result<(), Box<dyn std::error::Error>>;
type Section = fn() -> futures::future::BoxFuture<'static, TourResult>;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let started = Instant::now();
    let sections: [(&str, Section); 6] = [
        ("1. The avalanche: 1,000 callers on one cold key", || {
            Box::pin(avalanche())
        }),
        ("2. Bagpipe in front of a database", || Box::pin(limiter())),
        (
            "3. LimitableMap: the book's FIFO eviction, with counters",
            || Box::pin(async { limitable_map() }),
        ),
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

fn limitable_map() -> TourResult {
    claim(
        "past its limit the map evicts the key inserted first, and overwriting a key keeps its place in that order.",
    );
    // The book's LimitableMap evicts in insertion order; the crate's default policy, S3-FIFO,
    // keeps keys that are read again and so hits more often (BENCHMARKS.md, the cache section).
    let map = LimitableMap::builder(3)
        .eviction_policy(EvictionPolicy::Fifo)
        .build()?;
    println!(
        "policy: the book's FIFO (the crate's default is S3-FIFO, which keeps keys read again)"
    );
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
