//! Stale-while-revalidate (`refresh_after`) on `get_or_load`, on tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nodebook_cache::{Error, LimitableMap};

const TTL: Duration = Duration::from_secs(60);
const REFRESH: Duration = Duration::from_secs(10);
const LOAD: Duration = Duration::from_secs(1);

fn map() -> LimitableMap<&'static str, u32> {
    LimitableMap::builder(100)
        .time_to_live(TTL)
        .refresh_after(REFRESH)
        .build()
        .unwrap()
}

/// A loader that counts its calls, takes `LOAD` and answers `result`.
fn loader(
    calls: &Arc<AtomicUsize>,
    result: Result<u32, &'static str>,
) -> impl FnOnce() -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<u32, &'static str>> + Send>,
> + Send
+ 'static {
    let calls = Arc::clone(calls);
    move || {
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(LOAD).await;
            result
        })
    }
}

/// Lets spawned loads start (the paused clock does not move).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_crowd_gets_the_stale_value_at_once_while_one_background_load_replaces_it() {
    let map = map();
    let calls = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        map.get_or_load("k", loader(&calls, Ok(1))).await.ok(),
        Some(1)
    );
    tokio::time::advance(REFRESH).await;

    let crowd = (0..100).map(|_| map.get_or_load("k", loader(&calls, Ok(2))));
    let answers = futures_util::future::join_all(crowd).await;
    assert!(
        answers.iter().all(|a| a.as_ref().ok() == Some(&1)),
        "the stale value, without waiting"
    );
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one refresh for the crowd");
    assert_eq!(map.stats().refreshes, 1);

    tokio::time::advance(LOAD).await;
    settle().await;
    assert_eq!(
        map.get_or_load("k", loader(&calls, Ok(3))).await.ok(),
        Some(2)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let stats = map.stats();
    assert_eq!((stats.refreshes, stats.refresh_failures), (1, 0));
    assert_eq!((stats.loads.started, stats.loads.succeeded), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_refreshed_value_lives_a_full_time_to_live_from_its_refresh() {
    let map = map();
    let calls = Arc::new(AtomicUsize::new(0));
    map.get_or_load("k", loader(&calls, Ok(1))).await.unwrap();
    tokio::time::advance(REFRESH).await;
    map.get_or_load("k", loader(&calls, Ok(2))).await.unwrap();
    settle().await;
    tokio::time::advance(LOAD).await;
    settle().await;
    // 60 s after the first load, the refreshed value (written at 11 s) is still live.
    tokio::time::advance(TTL - REFRESH - LOAD).await;
    assert_eq!(map.get(&"k"), Some(2));
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_old_value_until_its_time_to_live_and_is_counted() {
    let map = map();
    let calls = Arc::new(AtomicUsize::new(0));
    map.get_or_load("k", loader(&calls, Ok(1))).await.unwrap();
    tokio::time::advance(REFRESH).await;
    assert_eq!(
        map.get_or_load("k", loader(&calls, Err("down"))).await.ok(),
        Some(1)
    );
    settle().await;
    tokio::time::advance(LOAD).await;
    settle().await;
    assert_eq!(map.stats().refresh_failures, 1);
    assert_eq!(map.get(&"k"), Some(1), "the old value stays");

    // The next refresh waits another `refresh_after`: a backend that is down is not asked on
    // every request.
    for _ in 0..5 {
        assert_eq!(
            map.get_or_load("k", loader(&calls, Err("down"))).await.ok(),
            Some(1)
        );
    }
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    tokio::time::advance(REFRESH).await;
    assert_eq!(
        map.get_or_load("k", loader(&calls, Err("down"))).await.ok(),
        Some(1)
    );
    settle().await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "retried after the interval"
    );
    tokio::time::advance(LOAD).await;
    settle().await;
    assert_eq!(map.stats().refresh_failures, 2);

    // The time-to-live still ends it: 60 s after the value was written (at 1 s, after its
    // load) it is gone, and the next call loads (and shares the error of) a fresh load.
    tokio::time::advance(Duration::from_secs(60 - 23)).await;
    assert_eq!(map.get(&"k"), Some(1));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(map.get(&"k"), None);
    let err = map
        .get_or_load("k", loader(&calls, Err("still down")))
        .await;
    assert!(matches!(err, Err(Error::Load(e)) if *e == "still down"));
}

#[tokio::test(start_paused = true)]
async fn get_never_refreshes() {
    let map = map();
    let calls = Arc::new(AtomicUsize::new(0));
    map.get_or_load("k", loader(&calls, Ok(1))).await.unwrap();
    tokio::time::advance(REFRESH).await;
    assert_eq!(map.get(&"k"), Some(1));
    settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(map.stats().refreshes, 0);
}

#[tokio::test(start_paused = true)]
async fn an_invalidate_during_a_refresh_keeps_its_result_out() {
    let map = map();
    let calls = Arc::new(AtomicUsize::new(0));
    map.get_or_load("k", loader(&calls, Ok(1))).await.unwrap();
    tokio::time::advance(REFRESH).await;
    map.get_or_load("k", loader(&calls, Ok(2))).await.unwrap();
    settle().await;
    map.invalidate(&"k");
    tokio::time::advance(LOAD).await;
    settle().await;
    assert_eq!(
        map.get(&"k"),
        None,
        "the refresh started before the invalidate"
    );
    assert_eq!(map.stats().loads.discarded, 1);
}

#[tokio::test(start_paused = true)]
async fn callers_that_miss_during_a_refresh_join_it() {
    // A refresh due just before expiry: the entry expires while its refresh is in flight.
    let map = LimitableMap::builder(100)
        .time_to_live(Duration::from_secs(10))
        .refresh_after(Duration::from_millis(9_500))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    map.insert("k", 1);
    tokio::time::advance(Duration::from_millis(9_500)).await;
    assert_eq!(
        map.get_or_load("k", loader(&calls, Ok(2))).await.ok(),
        Some(1)
    );
    settle().await;
    tokio::time::advance(Duration::from_millis(500)).await;
    // Expired now; the refresh has 500 ms to go.
    let late = map.get_or_load("k", loader(&calls, Ok(3)));
    let (late, _) = tokio::join!(late, tokio::time::advance(LOAD));
    assert_eq!(
        late.ok(),
        Some(2),
        "joined the refresh instead of loading again"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
