//! The once-queue (book section 4.2.1) and `get_or_load`: one load per key, shared by the crowd,
//! detached from its callers, errors shared and forgotten, panics contained, newer state wins.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use nodebook_cache::{AbandonPolicy, Error, LimitableMap, OnceQueue};
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout};

/// A loader that counts its calls and answers `value` after `delay`.
fn slow<E: Send + 'static>(
    calls: &Arc<AtomicUsize>,
    delay: Duration,
    value: u64,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<u64, E>> + Send>> + Send + 'static
{
    let calls = Arc::clone(calls);
    move || {
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            sleep(delay).await;
            Ok(value)
        })
    }
}

const LOAD: Duration = Duration::from_millis(5);

#[tokio::test(start_paused = true)]
async fn the_books_avalanche_ten_thousand_callers_on_a_cold_key_run_one_load() {
    let map: LimitableMap<&str, u64> = LimitableMap::new(1_000).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let crowd = (0..10_000).map(|_| {
        map.get_or_load::<_, _, std::io::Error>("SELECT * FROM table", slow(&calls, LOAD, 42))
    });
    let results = join_all(crowd).await;
    assert!(results.iter().all(|r| matches!(r, Ok(42))));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stats = map.stats();
    assert_eq!(stats.loads.started, 1);
    assert_eq!(stats.loads.coalesced, 9_999);
    assert_eq!(map.get("SELECT * FROM table"), Some(42));
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_callers_over_a_hundred_keys_run_a_hundred_loads() {
    let map: LimitableMap<u64, u64> = LimitableMap::new(1_000).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let crowd = (0..10_000u64)
        .map(|i| map.get_or_load::<_, _, std::io::Error>(i % 100, slow(&calls, LOAD, i % 100)));
    let results = join_all(crowd).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), i as u64 % 100);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 100);
    assert_eq!(map.len(), 100);
}

#[tokio::test(start_paused = true)]
async fn callers_for_different_keys_do_not_wait_for_each_other() {
    let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let slow_key = queue.run(1, slow(&calls, Duration::from_secs(60), 1));
    let fast_key = queue.run(2, slow(&calls, LOAD, 2));
    tokio::pin!(slow_key);
    let fast = tokio::select! {
        _ = &mut slow_key => panic!("the slow key answered first"),
        fast = fast_key => fast,
    };
    assert_eq!(fast.unwrap(), 2);
    assert!(queue.is_loading(&1));
}

/// moka#240: every caller gives up before the load ends; moka and quick_cache restart the load
/// with the next caller, so the cache never fills. Here the load is detached and finishes.
#[tokio::test(start_paused = true)]
async fn callers_that_time_out_before_the_load_ends_still_fill_the_map() {
    let map: LimitableMap<u32, u64> = LimitableMap::new(16).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let wave = || {
        join_all((0..100).map(|_| {
            timeout(
                Duration::from_millis(2),
                map.get_or_load::<_, _, std::io::Error>(7, slow(&calls, LOAD, 77)),
            )
        }))
    };
    // The load takes 5 ms. Waves at 0 ms and 2 ms give up at 2 ms and 4 ms: nobody is left
    // waiting when it ends, yet it is not restarted by each wave.
    for _ in 0..2 {
        assert!(
            wave().await.iter().all(Result::is_err),
            "every caller timed out"
        );
        assert_eq!(map.get(&7), None);
    }
    // The wave at 4 ms is answered by that same first load at 5 ms.
    assert!(wave().await.iter().all(|r| matches!(r, Ok(Ok(77)))));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the load was never restarted"
    );
    assert_eq!(map.get(&7), Some(77));
    let later = map
        .get_or_load::<_, _, std::io::Error>(7, slow(&calls, LOAD, 0))
        .await;
    assert_eq!(later.unwrap(), 77, "later callers hit");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_crowd_that_all_gave_up_still_gets_the_map_filled() {
    let map: LimitableMap<u32, u64> = LimitableMap::new(16).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let crowd = (0..100).map(|_| {
        timeout(
            Duration::from_millis(1),
            map.get_or_load::<_, _, std::io::Error>(7, slow(&calls, LOAD, 77)),
        )
    });
    assert!(join_all(crowd).await.iter().all(Result::is_err));
    sleep(LOAD).await;
    assert_eq!(map.get(&7), Some(77));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_caller_polled_once_and_then_left_pending_does_not_stall_the_others() {
    let map: LimitableMap<u32, u64> = LimitableMap::new(16).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut idle =
        tokio_test::task::spawn(map.get_or_load::<_, _, std::io::Error>(1, slow(&calls, LOAD, 11)));
    tokio_test::assert_pending!(idle.poll());
    // `idle` leads the load and is never polled again; the others get the value anyway.
    let others = join_all(
        (0..10).map(|_| map.get_or_load::<_, _, std::io::Error>(1, slow(&calls, LOAD, 0))),
    )
    .await;
    assert!(others.iter().all(|r| matches!(r, Ok(11))));
    assert!(idle.is_woken());
    assert_eq!(tokio_test::assert_ready!(idle.poll()).unwrap(), 11);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[derive(Debug, PartialEq)]
struct Down(u32);

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "backend down (attempt {})", self.0)
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_backend_shares_each_error_and_caches_nothing_failing() {
    let map: LimitableMap<&str, u64> = LimitableMap::new(16).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let flaky = || {
        let attempts = Arc::clone(&attempts);
        move || async move {
            let n = attempts.fetch_add(1, Ordering::SeqCst) as u32 + 1;
            sleep(LOAD).await;
            if n <= 2 { Err(Down(n)) } else { Ok(99) }
        }
    };
    for attempt in 1..=2u32 {
        let results = join_all((0..50).map(|_| map.get_or_load("k", flaky()))).await;
        let errors: Vec<Arc<Down>> = results
            .into_iter()
            .map(|r| match r {
                Err(Error::Load(e)) => e,
                other => panic!("expected the shared load error, got {other:?}"),
            })
            .collect();
        assert_eq!(*errors[0], Down(attempt));
        assert!(
            errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])),
            "one error, shared"
        );
        assert_eq!(
            Error::Load(Arc::clone(&errors[0])).to_string(),
            format!("the loader failed: backend down (attempt {attempt})")
        );
        assert_eq!(map.get("k"), None, "nothing failing is cached");
        assert_eq!(attempts.load(Ordering::SeqCst), attempt as usize);
    }
    let results = join_all((0..50).map(|_| map.get_or_load("k", flaky()))).await;
    assert!(results.iter().all(|r| matches!(r, Ok(99))));
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(map.get("k"), Some(99));
    let loads = map.stats().loads;
    assert_eq!((loads.started, loads.failed, loads.succeeded), (3, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_loader_gives_every_waiter_an_error_and_leaves_nothing_behind() {
    let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::new();
    let crowd = (0..20).map(|_| {
        queue.run(3, || async {
            sleep(LOAD).await;
            panic!("the driver exploded");
        })
    });
    let results = join_all(crowd).await;
    for r in &results {
        match r {
            Err(Error::LoaderPanicked { message }) => assert_eq!(&**message, "the driver exploded"),
            other => panic!("expected a panic error, got {other:?}"),
        }
    }
    assert_eq!(
        results[0].as_ref().unwrap_err().to_string(),
        "the loader panicked: the driver exploded"
    );
    assert_eq!(queue.in_flight(), 0);
    assert!(!queue.is_loading(&3));
    assert_eq!(queue.stats().panicked, 1);
    assert_eq!(queue.run(3, || async { Ok(3) }).await.unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_loader_that_panics_before_its_future_is_contained_too() {
    let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::new();
    let result = queue
        .run(1, || -> std::future::Ready<Result<u64, std::io::Error>> {
            panic!("bad closure")
        })
        .await;
    assert!(matches!(result, Err(Error::LoaderPanicked { .. })));
    assert_eq!(queue.in_flight(), 0);
}

/// A loader that waits for `gate` and answers `value`.
fn gated(
    gate: oneshot::Receiver<()>,
    value: &'static str,
) -> impl FnOnce()
    -> std::pin::Pin<Box<dyn Future<Output = Result<&'static str, std::io::Error>> + Send>>
+ Send
+ 'static {
    move || {
        Box::pin(async move {
            let _ = gate.await;
            Ok(value)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn an_invalidate_during_a_load_means_the_stale_value_is_never_read() {
    let map: LimitableMap<u32, &str> = LimitableMap::new(16).unwrap();
    let (open_old, old_gate) = oneshot::channel();
    let first = tokio::spawn({
        let map = map.clone();
        async move { map.get_or_load(1, gated(old_gate, "stale")).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(map.stats().loads.started, 1, "the first load is in flight");

    map.invalidate(&1);
    // A caller after the invalidate does not join the old load: it starts a fresh one.
    let (open_new, new_gate) = oneshot::channel();
    let second = tokio::spawn({
        let map = map.clone();
        async move { map.get_or_load(1, gated(new_gate, "fresh")).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(map.stats().loads.started, 2);

    open_old.send(()).unwrap();
    assert_eq!(
        first.await.unwrap().unwrap(),
        "stale",
        "the old load answers its own caller"
    );
    assert_eq!(map.get(&1), None, "but does not store its stale value");
    open_new.send(()).unwrap();
    assert_eq!(second.await.unwrap().unwrap(), "fresh");
    assert_eq!(map.get(&1), Some("fresh"));
    assert_eq!(map.stats().loads.discarded, 1);
}

#[tokio::test(start_paused = true)]
async fn an_insert_during_a_load_is_not_overwritten_by_the_older_load() {
    let map: LimitableMap<u32, &str> = LimitableMap::new(16).unwrap();
    let (open, gate) = oneshot::channel();
    let loading = tokio::spawn({
        let map = map.clone();
        async move {
            map.get_or_load(1, gated(gate, "loaded before the write"))
                .await
        }
    });
    tokio::task::yield_now().await;
    map.insert(1, "written");
    open.send(()).unwrap();
    loading.await.unwrap().unwrap();
    assert_eq!(map.get(&1), Some("written"));
}

#[tokio::test(start_paused = true)]
async fn a_remove_or_clear_during_a_load_keeps_the_map_empty() {
    let map: LimitableMap<u32, &str> = LimitableMap::new(16).unwrap();
    for forget in [0, 1] {
        let (open, gate) = oneshot::channel();
        let loading = tokio::spawn({
            let map = map.clone();
            async move { map.get_or_load(1, gated(gate, "old")).await }
        });
        tokio::task::yield_now().await;
        if forget == 0 {
            assert_eq!(map.remove(&1), None);
        } else {
            map.clear();
        }
        open.send(()).unwrap();
        loading.await.unwrap().unwrap();
        assert_eq!(map.get(&1), None);
    }
}

/// Drops a flag when the loader's future is dropped, finished or not.
struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn under_cancel_load_the_load_is_aborted_when_its_last_waiter_leaves() {
    let map: LimitableMap<u32, u64> = LimitableMap::builder(16)
        .abandon_policy(AbandonPolicy::CancelLoad)
        .build()
        .unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let loader = {
        let (dropped, completed) = (Arc::clone(&dropped), Arc::clone(&completed));
        move || async move {
            let _flag = DropFlag(dropped);
            sleep(Duration::from_secs(1)).await;
            completed.fetch_add(1, Ordering::SeqCst);
            Ok::<u64, std::io::Error>(1)
        }
    };
    let crowd = (0..3).map(|_| {
        timeout(
            Duration::from_millis(10),
            map.get_or_load(5, loader.clone()),
        )
    });
    assert!(join_all(crowd).await.iter().all(Result::is_err));
    sleep(Duration::from_secs(2)).await;
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the loader's future was dropped"
    );
    assert_eq!(completed.load(Ordering::SeqCst), 0, "and never finished");
    assert_eq!(map.get(&5), None);
    assert_eq!(map.stats().loads.cancelled, 1);
    assert_eq!(map.stats().loads.started, 1);

    // The next call starts afresh.
    let value = map
        .get_or_load(5, || async { Ok::<u64, std::io::Error>(55) })
        .await;
    assert_eq!(value.unwrap(), 55);
}

#[tokio::test(start_paused = true)]
async fn under_cancel_load_a_load_with_waiters_left_goes_on() {
    let queue: OnceQueue<u32, u64, std::io::Error> =
        OnceQueue::with_policy(AbandonPolicy::CancelLoad);
    let calls = Arc::new(AtomicUsize::new(0));
    let impatient = timeout(
        Duration::from_millis(1),
        queue.run(1, slow(&calls, LOAD, 8)),
    );
    let patient = queue.run(1, slow(&calls, LOAD, 0));
    let (impatient, patient) = tokio::join!(impatient, patient);
    assert!(impatient.is_err());
    assert_eq!(patient.unwrap(), 8);
    assert_eq!(queue.stats().cancelled, 0);
}

#[tokio::test(start_paused = true)]
async fn under_keep_loading_an_abandoned_load_finishes_and_fills_the_map() {
    let map: LimitableMap<u32, u64> = LimitableMap::new(16).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let gave_up = timeout(
        Duration::from_millis(1),
        map.get_or_load::<_, _, std::io::Error>(1, slow(&calls, LOAD, 9)),
    )
    .await;
    assert!(gave_up.is_err());
    assert_eq!(map.get(&1), None);
    sleep(LOAD).await;
    assert_eq!(map.get(&1), Some(9));
}

#[test]
fn a_load_whose_runtime_shuts_down_answers_its_waiters_with_cancelled() {
    let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // Start the load on `rt`, then shut `rt` down with the load still sleeping.
    let (joined, rx) = oneshot::channel();
    let q = queue.clone();
    rt.spawn(async move {
        let run = q.run(1, || async {
            sleep(Duration::from_secs(3600)).await;
            Ok(1)
        });
        tokio::pin!(run);
        assert!(futures_util::poll!(&mut run).is_pending());
        let _ = joined.send(());
        let _ = run.await;
    });
    rt.block_on(async { rx.await.unwrap() });
    let mut waiter = tokio_test::task::spawn(queue.run(1, || async { Ok(2) }));
    tokio_test::assert_pending!(waiter.poll());
    drop(rt);
    assert!(waiter.is_woken());
    let result = tokio_test::assert_ready!(waiter.poll());
    assert!(matches!(result, Err(Error::LoadCancelled)), "{result:?}");
    assert_eq!(queue.in_flight(), 0);
    assert_eq!(queue.stats().cancelled, 1);
}

#[test]
fn a_load_outside_a_runtime_is_an_error_not_a_panic() {
    let queue: OnceQueue<u32, u64, std::io::Error> = OnceQueue::new();
    let result = futures_util::FutureExt::now_or_never(queue.run(1, || async { Ok(1) }));
    assert!(matches!(result, Some(Err(Error::NoRuntime))));
    assert_eq!(queue.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn get_or_load_callers_with_different_error_types_do_not_mix() {
    let map: LimitableMap<u32, u64> = LimitableMap::new(16).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let io = map.get_or_load::<_, _, std::io::Error>(1, slow(&calls, LOAD, 1));
    let fmt = map.get_or_load::<_, _, std::fmt::Error>(1, slow(&calls, LOAD, 2));
    let (io, fmt) = tokio::join!(io, fmt);
    assert_eq!(io.unwrap(), 1);
    assert_eq!(
        fmt.unwrap(),
        1,
        "waited for the other load, then hit the map"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Cache-aside on four worker threads: writers bump a key's version in the "database" and
/// then invalidate the key, while readers `get_or_load` it. Once everyone is done, no key
/// holds a version older than the database's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_concurrent_writes_and_loads_no_stale_value_survives() {
    use std::sync::atomic::AtomicU64;
    const KEYS: usize = 16;
    let db: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
    let map: LimitableMap<usize, u64> = LimitableMap::new(KEYS).unwrap();
    let mut tasks = Vec::new();
    for t in 0..32usize {
        let (db, map) = (Arc::clone(&db), map.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..300usize {
                let key = (t * 7 + i * 13) % KEYS;
                if (t + i) % 5 == 0 {
                    db[key].fetch_add(1, Ordering::SeqCst);
                    map.invalidate(&key);
                } else {
                    let db = Arc::clone(&db);
                    let got = map
                        .get_or_load(key, move || async move {
                            let version = db[key].load(Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            tokio::task::yield_now().await;
                            Ok::<_, std::io::Error>(version)
                        })
                        .await
                        .unwrap();
                    assert!(got <= 10_000);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Loads detached from callers may still be finishing: wait until none is in flight.
    while map.stats().loads.started
        > map.stats().loads.succeeded + map.stats().loads.failed + map.stats().loads.cancelled
    {
        tokio::task::yield_now().await;
    }
    for key in 0..KEYS {
        if let Some(v) = map.get(&key) {
            assert_eq!(
                v,
                db[key].load(Ordering::SeqCst),
                "key {key} holds a stale version"
            );
        }
    }
    assert_eq!(map.stats().loads.panicked, 0);
}

#[tokio::test(start_paused = true)]
async fn a_loader_asking_for_its_own_key_gets_an_error_instead_of_waiting_forever() {
    let map: LimitableMap<u32, u64> = LimitableMap::new(16).unwrap();
    let inner = map.clone();
    let outer = map
        .get_or_load(1, move || async move {
            match inner
                .get_or_load(1, || async { Ok::<u64, std::io::Error>(0) })
                .await
            {
                Err(Error::Reentrant) => Ok::<u64, std::io::Error>(7),
                other => panic!("expected a re-entrance error, got {other:?}"),
            }
        })
        .await;
    assert_eq!(outer.unwrap(), 7);
    assert_eq!(map.get(&1), Some(7));

    // Other keys from inside a loader are fine.
    let inner = map.clone();
    let nested = map
        .get_or_load(2, move || async move {
            let one = inner
                .get_or_load(3, || async { Ok::<u64, std::io::Error>(30) })
                .await
                .unwrap();
            Ok::<u64, std::io::Error>(one + 1)
        })
        .await;
    assert_eq!(nested.unwrap(), 31);
    assert_eq!(
        Error::<std::io::Error>::Reentrant.to_string(),
        "a loader asked for its own key and would wait for itself"
    );
}
