//! Negative caching: a loader's error remembered for its own time-to-live (off by default).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nodebook_cache::{Error, LimitableMap};

const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// A loader that counts its calls and answers `result` at once.
fn loader(
    calls: &Arc<AtomicUsize>,
    result: Result<u32, &'static str>,
) -> impl FnOnce() -> std::future::Ready<Result<u32, &'static str>> + Send + 'static {
    let calls = Arc::clone(calls);
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(result)
    }
}

fn is_error(result: &Result<u32, Error<&'static str>>, message: &str) -> bool {
    matches!(result, Err(Error::Load(e)) if **e == message)
}

#[tokio::test(start_paused = true)]
async fn errors_are_not_cached_unless_negative_caching_is_on() {
    let map: LimitableMap<u32, u32> = LimitableMap::new(10).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let result = map.get_or_load(1, loader(&calls, Err("no row"))).await;
        assert!(is_error(&result, "no row"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3, "every call loaded again");
    assert_eq!(map.stats().negative_hits, 0);
}

#[tokio::test(start_paused = true)]
async fn a_cached_error_is_answered_without_loading_until_its_time_to_live_ends() {
    let map: LimitableMap<u32, u32> = LimitableMap::builder(10)
        .time_to_live(Duration::from_secs(600))
        .negative_caching(NEGATIVE_TTL)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let first = map.get_or_load(1, loader(&calls, Err("no row"))).await;
    assert!(is_error(&first, "no row"));
    tokio::time::advance(NEGATIVE_TTL - Duration::from_millis(1)).await;
    for _ in 0..10 {
        let again = map.get_or_load(1, loader(&calls, Ok(7))).await;
        assert!(is_error(&again, "no row"), "the same error, from the cache");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(map.stats().negative_hits, 10);
    assert!(!map.contains_key(&1), "errors are kept apart from values");

    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        map.get_or_load(1, loader(&calls, Ok(7))).await.ok(),
        Some(7)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The value has the map's time-to-live, not the error's.
    tokio::time::advance(NEGATIVE_TTL).await;
    assert_eq!(map.get(&1), Some(7));
}

#[tokio::test(start_paused = true)]
async fn insert_and_invalidate_forget_a_cached_error() {
    let map: LimitableMap<u32, u32> = LimitableMap::builder(10)
        .negative_caching(NEGATIVE_TTL)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let _ = map.get_or_load(1, loader(&calls, Err("no row"))).await;
    map.insert(1, 5);
    assert_eq!(
        map.get_or_load(1, loader(&calls, Ok(7))).await.ok(),
        Some(5)
    );

    let _ = map.get_or_load(2, loader(&calls, Err("no row"))).await;
    map.invalidate(&2);
    assert_eq!(
        map.get_or_load(2, loader(&calls, Ok(8))).await.ok(),
        Some(8)
    );

    let _ = map.get_or_load(3, loader(&calls, Err("no row"))).await;
    map.clear();
    assert_eq!(
        map.get_or_load(3, loader(&calls, Ok(9))).await.ok(),
        Some(9)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn a_crowd_shares_one_failed_load_and_later_callers_hit_the_cached_error() {
    let map: LimitableMap<u32, u32> = LimitableMap::builder(10)
        .negative_caching(NEGATIVE_TTL)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let slow = |calls: &Arc<AtomicUsize>| {
        let calls = Arc::clone(calls);
        move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err::<u32, _>("no row")
        }
    };
    let crowd = (0..50).map(|_| map.get_or_load(1, slow(&calls)));
    let results = futures_util::future::join_all(crowd).await;
    assert!(results.iter().all(|r| is_error(r, "no row")));
    let later = map.get_or_load(1, slow(&calls)).await;
    assert!(is_error(&later, "no row"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(map.stats().loads.coalesced, 49);
}

#[tokio::test(start_paused = true)]
async fn panics_are_never_cached() {
    let map: LimitableMap<u32, u32> = LimitableMap::builder(10)
        .negative_caching(NEGATIVE_TTL)
        .build()
        .unwrap();
    let panicked = map
        .get_or_load(1, || async { panic!("boom") as Result<u32, &'static str> })
        .await;
    assert!(matches!(panicked, Err(Error::LoaderPanicked { .. })));
    let calls = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        map.get_or_load(1, loader(&calls, Ok(3))).await.ok(),
        Some(3)
    );
}

#[test]
fn a_zero_negative_time_to_live_is_refused() {
    let err = LimitableMap::<u8, u8>::builder(3)
        .negative_caching(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::ZeroDuration {
            option: "negative_caching"
        }
    ));
}
