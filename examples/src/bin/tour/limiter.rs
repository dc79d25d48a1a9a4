//! Scene 2: the bagpipe's limit, queue, refusal and detached timeouts in front of a database.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::{ArticleSource, MockDatabase};
use nodebook_bagpipe::{Bagpipe, Event, OnTimeout};
use tokio::time::Instant;

use crate::TourResult;
use crate::report::{claim, depends_on_machine, verdict};

/// How long a query on the fast table takes.
const QUERY_LATENCY: Duration = Duration::from_millis(5);

/// Queries the limiter scene pushes at once, and how often one of them hits the slow table.
const CALLS: u64 = 40;
const SLOW_EVERY: u64 = 8;

pub(crate) async fn limiter() -> TourResult {
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
