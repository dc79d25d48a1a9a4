//! Adaptive limits: every way in reports each call to the strategy, with its latency and
//! outcome; the limit moves, is reported, counted and clamped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodebook_bagpipe::limit::{Aimd, Fixed, Gradient2, Limit, Outcome, Sample, Vegas};
use nodebook_bagpipe::{Bagpipe, Error, Event};
use tokio::time::sleep;

/// A strategy that records what it sees and answers a scripted limit.
#[derive(Debug, Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Sample>>>,
    answer: usize,
}

impl Recorder {
    fn answering(answer: usize) -> Self {
        Self {
            seen: Arc::default(),
            answer,
        }
    }

    fn outcomes(&self) -> Vec<Outcome> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.outcome)
            .collect()
    }
}

impl Limit for Recorder {
    fn initial(&self) -> usize {
        4
    }
    fn update(&mut self, sample: &Sample) -> usize {
        self.seen.lock().unwrap().push(*sample);
        self.answer
    }
    fn max(&self) -> usize {
        10
    }
}

const MS: fn(u64) -> Duration = Duration::from_millis;

#[tokio::test(start_paused = true)]
async fn fixed_is_the_default_and_measures_nothing() {
    let pipe = Bagpipe::builder(3).limit(Fixed(5)).build();
    assert_eq!((pipe.limit(), pipe.queue_length()), (5, 5));
    pipe.run(sleep(MS(10))).await.unwrap();
    let stats = pipe.stats();
    assert_eq!((stats.samples, stats.limit_increases), (0, 0));
    assert_eq!(pipe.limit(), 5);
}

#[tokio::test(start_paused = true)]
async fn run_reports_latency_from_the_slot_and_success() {
    let strategy = Recorder::answering(4);
    let pipe = Bagpipe::builder(0).limit(strategy.clone()).build();
    assert_eq!(pipe.limit(), 4);
    pipe.run(async { sleep(MS(25)).await }).await.unwrap();
    let seen = strategy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].latency, MS(25));
    assert_eq!(seen[0].outcome, Outcome::Success);
    assert_eq!((seen[0].in_flight, seen[0].limit), (1, 4));
}

#[tokio::test(start_paused = true)]
async fn queue_time_is_not_latency() {
    let strategy = Recorder::answering(1);
    let pipe = Bagpipe::builder(0)
        .limit(Recorder {
            answer: 1,
            ..strategy.clone()
        })
        .build();
    pipe.set_limit(1);
    let (a, b) = tokio::join!(
        pipe.run(async { sleep(MS(10)).await }),
        pipe.run(async { sleep(MS(10)).await })
    );
    a.unwrap();
    b.unwrap();
    let latencies: Vec<_> = strategy
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.latency)
        .collect();
    assert_eq!(latencies, [MS(10), MS(10)]);
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_dropped_calls_are_reported() {
    let strategy = Recorder::answering(4);
    let pipe = Bagpipe::builder(0)
        .limit(strategy.clone())
        .timeout(MS(50))
        .build();
    let late = pipe.run(sleep(MS(100))).await;
    assert!(matches!(late, Err(Error::Timeout { .. })));
    let dropped = tokio::time::timeout(MS(10), pipe.run(sleep(MS(30)))).await;
    assert!(dropped.is_err());
    assert_eq!(strategy.outcomes(), [Outcome::Timeout, Outcome::Dropped]);
    let latencies: Vec<_> = strategy
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.latency)
        .collect();
    assert_eq!(latencies, [MS(50), MS(10)]);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_after_its_grant_is_not_a_sample() {
    let strategy = Recorder::answering(1);
    let pipe = Bagpipe::builder(0).limit(strategy.clone()).build();
    pipe.set_limit(1);
    let held = pipe.acquire().await.unwrap();
    let mut waiting = tokio_test::task::spawn(pipe.acquire());
    tokio_test::assert_pending!(waiting.poll());
    drop(held); // grants the waiter
    drop(waiting); // which never uses it
    assert_eq!(strategy.outcomes(), [Outcome::Success]);
}

#[tokio::test(start_paused = true)]
async fn push_outputs_go_through_the_classifier() {
    let strategy = Recorder::answering(4);
    let pipe = Bagpipe::builder(0)
        .limit(strategy.clone())
        .classify(|status: &Result<(), u16>| match status {
            Ok(()) => Outcome::Success,
            Err(503) => Outcome::Overload,
            Err(_) => Outcome::Error,
        })
        .build();
    pipe.push(async { Ok::<(), u16>(()) })
        .await
        .unwrap()
        .unwrap();
    pipe.push(async { Err::<(), u16>(404) })
        .await
        .unwrap()
        .unwrap_err();
    pipe.push(async { Err::<(), u16>(503) })
        .await
        .unwrap()
        .unwrap_err();
    // Another output type is not the classifier's business.
    pipe.push(async { 7_u8 }).await.unwrap();
    assert_eq!(
        strategy.outcomes(),
        [
            Outcome::Success,
            Outcome::Error,
            Outcome::Overload,
            Outcome::Success
        ]
    );
    assert_eq!(pipe.stats().overloads, 1);
}

#[tokio::test(start_paused = true)]
async fn queued_pushes_and_deadlined_pushes_are_measured_too() {
    let strategy = Recorder::answering(1);
    let pipe = Bagpipe::builder(0)
        .limit(strategy.clone())
        .queue_timeout(MS(500))
        .build();
    pipe.set_limit(1);
    let calls: Vec<_> = (0..3)
        .map(|_| pipe.push(async { sleep(MS(5)).await }))
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(strategy.outcomes(), [Outcome::Success; 3]);
    let plain = Recorder::answering(1);
    let pipe = Bagpipe::builder(0).limit(plain.clone()).build();
    pipe.set_limit(1);
    let calls: Vec<_> = (0..3)
        .map(|_| pipe.push(async { sleep(MS(5)).await }))
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(plain.outcomes(), [Outcome::Success; 3]);
}

#[tokio::test(start_paused = true)]
async fn permits_report_success_or_what_they_were_told() {
    let strategy = Recorder::answering(4);
    let pipe = Bagpipe::builder(0).limit(strategy.clone()).build();
    drop(pipe.acquire().await.unwrap());
    let mut owned = pipe.acquire_owned().await.unwrap();
    owned.set_outcome(Outcome::Overload);
    drop(owned);
    let mut permit = pipe.try_acquire().unwrap();
    permit.set_outcome(Outcome::Error);
    drop(permit);
    assert_eq!(
        strategy.outcomes(),
        [Outcome::Success, Outcome::Overload, Outcome::Error]
    );
}

/// A strategy that answers a script, one answer per completed call.
#[derive(Debug, Clone)]
struct Script(Vec<usize>);

impl Limit for Script {
    fn initial(&self) -> usize {
        4
    }
    fn update(&mut self, sample: &Sample) -> usize {
        if self.0.is_empty() {
            sample.limit
        } else {
            self.0.remove(0)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn every_change_is_an_event_and_a_count() {
    let pipe = Bagpipe::builder(0).limit(Script(vec![6, 6, 3])).build();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&changes);
    pipe.events().on(Event::LIMIT, move |event: &Event| {
        if let Event::Limit { from, to } = event {
            seen.lock().unwrap().push((*from, *to));
        }
    });
    pipe.run(async {}).await.unwrap();
    pipe.run(async {}).await.unwrap();
    let mut permit = pipe.try_acquire().unwrap();
    permit.set_outcome(Outcome::Overload);
    drop(permit);
    pipe.run(async {}).await.unwrap();
    pipe.set_limit(20);
    pipe.set_limit(20);
    assert_eq!(*changes.lock().unwrap(), [(4, 6), (6, 3), (3, 20)]);
    let stats = pipe.stats();
    assert_eq!(
        (
            stats.samples,
            stats.overloads,
            stats.limit_increases,
            stats.limit_decreases
        ),
        (4, 1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn answers_are_clamped_to_min_and_max_and_never_zero() {
    let high = Recorder::answering(1000);
    let pipe = Bagpipe::builder(0).limit(high).build();
    pipe.run(async {}).await.unwrap();
    assert_eq!(pipe.limit(), 10, "Recorder's max");
    let zero = Recorder::answering(0);
    let pipe = Bagpipe::builder(0).limit(zero).build();
    pipe.run(async {}).await.unwrap();
    assert_eq!(pipe.limit(), 1, "0 acts as 1");
}

#[tokio::test(start_paused = true)]
async fn a_raised_limit_admits_waiters_at_once() {
    let pipe = Bagpipe::builder(0)
        .limit(Aimd::default().initial_limit(1))
        .build();
    let first = pipe.acquire().await.unwrap();
    let mut second = tokio_test::task::spawn(pipe.acquire());
    tokio_test::assert_pending!(second.poll());
    drop(first); // a success with the whole limit in use: 1 -> 2, and the slot goes on
    assert!(second.is_woken());
    let _second = tokio_test::assert_ready!(second.poll()).unwrap();
    assert_eq!((pipe.limit(), pipe.active()), (2, 1));
}

/// Feeds `samples` busy samples (the whole limit in use) of `latency` and `outcome`, each at
/// the limit the previous one left; returns the limit.
fn feed(
    strategy: &mut dyn Limit,
    mut limit: usize,
    samples: usize,
    latency: Duration,
    outcome: Outcome,
) -> usize {
    for _ in 0..samples {
        limit = strategy.update(&Sample::new(latency, outcome, limit, limit));
    }
    limit
}

#[test]
fn aimd_grows_by_one_per_round_trip_and_backs_off_once_per_round_trip() {
    let mut aimd = Aimd::default().initial_limit(100).min_limit(10);
    // About a limit's worth of successes adds one.
    let mut limit = 100;
    let mut successes = 0;
    while limit == 100 {
        limit = feed(&mut aimd, limit, 1, MS(10), Outcome::Success);
        successes += 1;
    }
    assert_eq!(limit, 101);
    assert!((99..=101).contains(&successes), "{successes}");
    assert_eq!(feed(&mut aimd, limit, 1, MS(10), Outcome::Timeout), 90);
    // The rest of that round trip's timeouts do not count again.
    assert_eq!(feed(&mut aimd, 90, 50, MS(10), Outcome::Timeout), 90);
    assert_eq!(feed(&mut aimd, 90, 60, MS(10), Outcome::Overload), 81);
    // Errors and dropped calls say nothing; an idle limiter does not grow.
    assert_eq!(feed(&mut aimd, 81, 1, MS(10), Outcome::Error), 81);
    assert_eq!(feed(&mut aimd, 81, 1, MS(10), Outcome::Dropped), 81);
    assert_eq!(
        aimd.update(&Sample::new(MS(10), Outcome::Success, 10, 81)),
        81
    );
    // Down to min_limit, never below.
    assert_eq!(feed(&mut aimd, 81, 10_000, MS(10), Outcome::Overload), 10);
    let mut slow = Aimd::default().initial_limit(50).latency_threshold(MS(100));
    assert_eq!(
        slow.update(&Sample::new(MS(150), Outcome::Success, 50, 50)),
        45
    );
}

#[test]
fn vegas_grows_without_queueing_and_shrinks_with_it() {
    let mut vegas = Vegas::default().initial_limit(20);
    // Nothing moves within a window (two round trips: 40 samples here).
    assert_eq!(feed(&mut vegas, 20, 39, MS(10), Outcome::Success), 20);
    // The window closes: no-load latency 10 ms, no queue: grow by beta = 6 log10(20) = 7.8.
    assert_eq!(feed(&mut vegas, 20, 1, MS(10), Outcome::Success), 27);
    // Eight windows make the no-load latency; it keeps growing meanwhile.
    let grown = feed(&mut vegas, 27, 600, MS(10), Outcome::Success);
    assert!(grown > 27, "{grown}");
    // Latency quadrupled: the queue estimate (3/4 of the limit once the average has caught
    // up) passes beta, and the limit shrinks by half the excess per window, far faster than
    // log10 L.
    let window = 2 * grown;
    let shrunk = feed(&mut vegas, grown, 4 * window, MS(40), Outcome::Success);
    assert!(
        (shrunk as f64) < grown as f64 - 4.0 * (grown as f64).log10(),
        "{grown} -> {shrunk} in four windows"
    );
    // A window with a timeout shrinks it too, by log10 L.
    let after = feed(&mut vegas, shrunk, 2 * shrunk, MS(10), Outcome::Timeout);
    assert!(after < shrunk, "{shrunk} -> {after}");
    // An idle limiter (less than half in use) keeps its limit.
    let mut fresh = Vegas::default().initial_limit(30);
    let mut idle = 30;
    for _ in 0..100 {
        idle = fresh.update(&Sample::new(MS(10), Outcome::Success, 1, idle));
    }
    assert_eq!(idle, 30);
}

#[test]
fn vegas_takes_a_lasting_slowdown_for_a_queue_for_one_epoch_then_adopts_it() {
    // Windows of two round trips (20 calls at the limit of 10), epochs of 30 windows.
    let window = |limit: usize| (2 * limit).max(10);
    let mut vegas = Vegas::default().initial_limit(10).max_limit(10);
    // Ten idle windows at 10 ms make the no-load latency; an idle limit does not move.
    for _ in 0..10 * window(10) {
        assert_eq!(
            vegas.update(&Sample::new(MS(10), Outcome::Success, 1, 10)),
            10
        );
    }
    // The backend becomes 4x slower for good, and busy.
    let mut limit = 10;
    let mut history = Vec::new();
    for _ in 0..80 {
        limit = feed(&mut vegas, limit, window(limit), MS(40), Outcome::Success);
        history.push(limit);
    }
    // Taken for a queue at first: the limit shrinks within three windows (the average
    // latency catching up) and stays down for the rest of this epoch (its windows 11 to 30)
    // and through the next (31 to 60), which still compares with this one's no-load latency
    // ...
    assert!(history[2..49].iter().all(|&l| l < 10), "{history:?}");
    // ... then the slower latency is the no-load one, and the limit grows back.
    assert_eq!(history[79], 10, "{history:?}");
}

#[test]
fn gradient2_holds_within_tolerance_and_shrinks_beyond() {
    let mut gradient = Gradient2::default().initial_limit(50);
    let grown = feed(&mut gradient, 50, 3000, MS(10), Outcome::Success);
    assert!(
        grown > 50,
        "steady latency: grows by the queue size ({grown})"
    );
    let shrunk = feed(&mut gradient, grown, 1000, MS(40), Outcome::Success);
    assert!(
        shrunk < grown,
        "latency 4x the long term: shrinks ({grown} -> {shrunk})"
    );
    assert!(shrunk >= 1);
}

#[test]
fn gradient2_does_not_take_a_lasting_queue_for_the_backends_latency() {
    let mut gradient = Gradient2::default().initial_limit(50).max_limit(60);
    let limit = feed(&mut gradient, 50, 3000, MS(10), Outcome::Success);
    assert_eq!(limit, 60, "no queue: grows to max");
    // Latency doubles and stays there (a queue the limit keeps up): the long-term average
    // follows it only a hundredth as fast as it would fall, so the limit keeps shrinking
    // instead of returning to 60 once the average has caught up.
    let after_1000 = feed(&mut gradient, limit, 1000, MS(20), Outcome::Success);
    assert!(after_1000 < 60, "{after_1000}");
    let after_10_000 = feed(&mut gradient, after_1000, 9000, MS(20), Outcome::Success);
    assert!(after_10_000 <= after_1000, "{after_1000} -> {after_10_000}");
}

#[test]
fn gradient2_far_under_tolerance_grows_in_proportion() {
    // One window of 100 calls no slower than the long term: the gradient is `tolerance`
    // (1.5), the target 1.5 x 100 + 4, and a fifth of the way there (the default smoothing)
    // is 110, where a gradient capped at 1 would give 100.8.
    let mut gradient = Gradient2::default().initial_limit(100);
    assert_eq!(feed(&mut gradient, 100, 99, MS(20), Outcome::Success), 100);
    assert_eq!(feed(&mut gradient, 100, 1, MS(20), Outcome::Success), 110);
}

#[tokio::test(start_paused = true)]
async fn the_strategy_is_cloned_per_bagpipe() {
    let builder = Bagpipe::builder(0).limit(Aimd::default().initial_limit(10));
    let (a, b) = (builder.clone().build(), builder.build());
    let mut permit = a.try_acquire().unwrap();
    permit.set_outcome(Outcome::Overload);
    drop(permit);
    assert_eq!((a.limit(), b.limit()), (9, 10));
}

#[test]
fn debug_shows_the_strategy() {
    let pipe = Bagpipe::builder(0)
        .limit(Aimd::default().initial_limit(7))
        .build();
    let shown = format!("{pipe:?}");
    assert!(
        shown.contains("Aimd") && shown.contains("limit: 7"),
        "{shown}"
    );
    assert!(format!("{:?}", Bagpipe::new(3)).contains("adaptive: None"));
}
