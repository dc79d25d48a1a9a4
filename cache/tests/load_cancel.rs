//! Cancellation at every await point: poll a call k times, drop it, and check that nobody is
//! stranded and nothing is left in flight, for k = 0, 1, 2, … until the call completes
//! (the method of tokio's `cancel_acquire_releases_permits`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use nodebook_cache::{AbandonPolicy, LimitableMap, OnceQueue};
use tokio::time::{Instant, advance, sleep};
use tokio_test::task;

const LOAD: Duration = Duration::from_millis(5);
const STEP: Duration = Duration::from_millis(1);

fn counted(
    calls: &Arc<AtomicUsize>,
    value: u64,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<u64, std::io::Error>> + Send>>
+ Send
+ 'static {
    let calls = Arc::clone(calls);
    move || {
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            sleep(LOAD).await;
            Ok(value)
        })
    }
}

/// Polls `fut` up to `k` times, a millisecond apart, starting `companion` after the first
/// poll; returns whether it completed.
async fn poll_k_times<F: Future>(fut: F, k: usize, mut companion: impl FnMut()) -> bool {
    let mut fut = task::spawn(fut);
    for i in 0..k {
        if fut.poll().is_ready() {
            return true;
        }
        if i == 0 {
            companion();
        }
        advance(STEP).await;
    }
    false
}

#[tokio::test(start_paused = true)]
async fn get_or_load_dropped_after_k_polls_strands_nobody_and_leaves_nothing() {
    for policy in [AbandonPolicy::KeepLoading, AbandonPolicy::CancelLoad] {
        let mut k = 0;
        loop {
            let map: LimitableMap<u32, u64> = LimitableMap::builder(8)
                .abandon_policy(policy)
                .build()
                .unwrap();
            let calls = Arc::new(AtomicUsize::new(0));
            let mut companion = None;
            let completed = poll_k_times(map.get_or_load(1, counted(&calls, 10)), k, || {
                // A second caller that joins the load the first one led.
                let map = map.clone();
                let calls = Arc::clone(&calls);
                companion = Some(tokio::spawn(async move {
                    map.get_or_load(1, counted(&calls, 20)).await
                }));
            })
            .await;
            // Whoever is still waiting gets the value of the one load.
            if let Some(companion) = companion {
                assert_eq!(companion.await.unwrap().unwrap(), 10, "{policy:?} k={k}");
            }
            sleep(LOAD * 2).await;
            let loads = map.stats().loads;
            assert_eq!(map.len(), usize::from(k > 0), "{policy:?} k={k}");
            assert_eq!(
                calls.load(Ordering::SeqCst),
                usize::from(k > 0),
                "{policy:?} k={k}"
            );
            assert_eq!(loads.cancelled, 0, "a companion kept the load alive");
            // Nothing left in flight: the next call after a remove loads afresh.
            map.remove(&1);
            let again = map.get_or_load(1, counted(&calls, 30)).await.unwrap();
            assert_eq!(again, 30, "{policy:?} k={k}");
            if completed {
                break;
            }
            k += 1;
        }
        assert!(k >= 5, "the call completed only after the load's {LOAD:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_lone_caller_dropped_after_k_polls_under_each_policy() {
    for policy in [AbandonPolicy::KeepLoading, AbandonPolicy::CancelLoad] {
        let mut k = 0;
        loop {
            let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::with_policy(policy);
            let calls = Arc::new(AtomicUsize::new(0));
            let completed = poll_k_times(queue.run(1, counted(&calls, 10)), k, || {}).await;
            let stats = queue.stats();
            assert_eq!(stats.started, u64::from(k > 0), "k={k}");
            match policy {
                AbandonPolicy::CancelLoad => {
                    // The load went with its only waiter, at once, unless it had finished.
                    assert_eq!(queue.in_flight(), 0, "{policy:?} k={k}");
                    assert_eq!(stats.cancelled + stats.succeeded, stats.started, "k={k}");
                    if k > 0 && k <= 5 {
                        assert_eq!(stats.cancelled, 1, "left before the 5 ms load ended, k={k}");
                    }
                }
                _ => {
                    // The load goes on without waiters and then leaves nothing behind.
                    sleep(LOAD * 2).await;
                    assert_eq!(queue.in_flight(), 0, "{policy:?} k={k}");
                    assert_eq!(queue.stats().succeeded, u64::from(k > 0), "k={k}");
                }
            }
            // The key is free for a fresh load.
            assert_eq!(queue.run(1, counted(&calls, 30)).await.unwrap(), 30);
            if completed {
                break;
            }
            k += 1;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_leader_cancelled_mid_load_does_not_restart_the_load_for_joiners() {
    let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut leader = task::spawn(queue.run(1, counted(&calls, 1)));
    assert!(leader.poll().is_pending());
    let mut joiners: Vec<_> = (0..10)
        .map(|_| task::spawn(queue.run(1, counted(&calls, 2))))
        .collect();
    for j in &mut joiners {
        assert!(j.poll().is_pending());
    }
    drop(leader);
    sleep(LOAD + STEP).await;
    for mut j in joiners {
        assert!(j.is_woken());
        match j.poll() {
            Poll::Ready(r) => assert_eq!(r.unwrap(), 1),
            Poll::Pending => panic!("a joiner was stranded"),
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Many tasks on four worker threads join and abandon loads on a few keys at random moments,
/// under each policy. Afterwards every load is accounted for (finished or cancelled), nothing
/// is left in flight, and no caller hung.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_joins_and_departures_on_many_threads_leave_nothing_in_flight() {
    for policy in [AbandonPolicy::KeepLoading, AbandonPolicy::CancelLoad] {
        let queue: OnceQueue<u64, u64, std::io::Error> = OnceQueue::with_policy(policy);
        let tasks: Vec<_> = (0..64u64)
            .map(|t| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1);
                    let mut answered = 0u32;
                    for _ in 0..40 {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let key = rng % 4;
                        let patience = Duration::from_micros(rng % 400);
                        let work = Duration::from_micros((rng >> 16) % 300);
                        let call = queue.run(key, move || async move {
                            sleep(work).await;
                            Ok(key * 10)
                        });
                        if let Ok(result) = tokio::time::timeout(patience, call).await {
                            assert_eq!(result.unwrap(), key * 10);
                            answered += 1;
                        }
                    }
                    answered
                })
            })
            .collect();
        let mut answered = 0;
        for t in tasks {
            answered += t.await.unwrap();
        }
        assert!(answered > 0, "{policy:?}: some callers were patient enough");
        // Loads nobody waits for may still be finishing (KeepLoading): give them a bounded time.
        // A finishing load leaves the table before it is counted (its counter follows the
        // published result), so wait for both.
        let settled = |queue: &OnceQueue<u64, u64, std::io::Error>| {
            let s = queue.stats();
            queue.in_flight() == 0 && s.started == s.succeeded + s.failed + s.panicked + s.cancelled
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !settled(&queue) && tokio::time::Instant::now() < deadline {
            sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(queue.in_flight(), 0, "{policy:?}");
        let s = queue.stats();
        assert_eq!(
            s.started,
            s.succeeded + s.failed + s.panicked + s.cancelled,
            "{policy:?}: every load finished or was cancelled: {s:?}"
        );
        if policy == AbandonPolicy::KeepLoading {
            assert_eq!(s.cancelled, 0);
        }
    }
}

/// Polls a caller that joined another caller's load k times, a millisecond apart, and drops it,
/// for k = 0, 1, 2, … until it completes. The leader keeps waiting, so under either policy the
/// load goes on, answers the leader, and leaves nothing in flight.
#[tokio::test(start_paused = true)]
async fn a_joined_waiter_dropped_after_k_polls_while_its_leader_waits() {
    for policy in [AbandonPolicy::KeepLoading, AbandonPolicy::CancelLoad] {
        let mut k = 0;
        loop {
            let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::with_policy(policy);
            let calls = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let mut leader = task::spawn(queue.run(1, counted(&calls, 10)));
            assert!(leader.poll().is_pending());
            let mut joiner = task::spawn(queue.run(1, counted(&calls, 20)));
            let mut joined = None;
            for _ in 0..k {
                if let Poll::Ready(result) = joiner.poll() {
                    joined = Some(result);
                    break;
                }
                advance(STEP).await;
            }
            let at = start.elapsed();
            drop(joiner);
            if at < LOAD {
                assert!(
                    queue.is_loading(&1),
                    "{policy:?} k={k}: the leader still waits, so the load goes on"
                );
            }
            assert_eq!(leader.await.unwrap(), 10, "{policy:?} k={k}");
            let stats = queue.stats();
            assert_eq!(
                (
                    stats.started,
                    stats.coalesced,
                    stats.succeeded,
                    stats.cancelled
                ),
                (1, u64::from(k > 0), 1, 0),
                "{policy:?} k={k}"
            );
            assert_eq!(
                calls.load(Ordering::SeqCst),
                1,
                "only the leader's loader ran"
            );
            assert_eq!(queue.in_flight(), 0, "{policy:?} k={k}");
            // The queue keeps no result: the next call starts a fresh load.
            assert_eq!(queue.run(1, counted(&calls, 30)).await.unwrap(), 30);
            assert_eq!(queue.stats().started, 2, "{policy:?} k={k}");
            if let Some(result) = joined {
                assert_eq!(result.unwrap(), 10, "the joiner got the leader's value");
                assert!(at >= LOAD, "{policy:?}: answered only once the load ended");
                break;
            }
            k += 1;
        }
    }
}

/// The same, but the leader leaves right after the joiner's first poll, so the joiner is the
/// load's last waiter when it is dropped: under `CancelLoad` the load goes with it at once,
/// under `KeepLoading` it runs to its end for nobody. Either way nothing is left in flight and
/// the next call starts a fresh load.
#[tokio::test(start_paused = true)]
async fn a_joined_waiter_left_alone_by_its_leader_dropped_after_k_polls() {
    for policy in [AbandonPolicy::KeepLoading, AbandonPolicy::CancelLoad] {
        let mut k = 0;
        loop {
            let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::with_policy(policy);
            let calls = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let mut leader = Some(task::spawn(queue.run(1, counted(&calls, 10))));
            assert!(leader.as_mut().unwrap().poll().is_pending());
            let mut joiner = task::spawn(queue.run(1, counted(&calls, 20)));
            let mut joined = None;
            for _ in 0..k {
                if let Poll::Ready(result) = joiner.poll() {
                    joined = Some(result);
                    break;
                }
                // Gone once the joiner has joined.
                drop(leader.take());
                advance(STEP).await;
            }
            drop(leader);
            let at = start.elapsed();
            drop(joiner);
            let stats = queue.stats();
            assert_eq!(stats.started, 1, "{policy:?} k={k}");
            assert_eq!(stats.coalesced, u64::from(k > 0), "{policy:?} k={k}");
            match policy {
                AbandonPolicy::CancelLoad => {
                    // The last waiter took the load with it, unless the load had ended.
                    assert_eq!(queue.in_flight(), 0, "{policy:?} k={k}");
                    assert!(!queue.is_loading(&1), "{policy:?} k={k}");
                    assert_eq!(
                        stats.succeeded + stats.cancelled,
                        1,
                        "{policy:?} k={k}: {stats:?}"
                    );
                    if at < LOAD {
                        assert_eq!(stats.cancelled, 1, "left before the load ended, k={k}");
                    }
                }
                _ => {
                    if at < LOAD {
                        assert!(queue.is_loading(&1), "{policy:?} k={k}: it runs for nobody");
                    }
                    sleep(LOAD * 2).await;
                    assert_eq!(queue.in_flight(), 0, "{policy:?} k={k}");
                    let stats = queue.stats();
                    assert_eq!(
                        (stats.succeeded, stats.cancelled),
                        (1, 0),
                        "{policy:?} k={k}"
                    );
                }
            }
            assert!(
                calls.load(Ordering::SeqCst) <= 1,
                "the joiner's loader never ran ({policy:?} k={k})"
            );
            assert_eq!(queue.run(1, counted(&calls, 30)).await.unwrap(), 30);
            assert_eq!(queue.stats().started, 2, "{policy:?} k={k}");
            if let Some(result) = joined {
                assert_eq!(
                    result.unwrap(),
                    10,
                    "the joiner got the value of the load it joined"
                );
                assert!(at >= LOAD, "{policy:?}: answered only once the load ended");
                break;
            }
            k += 1;
        }
    }
}
