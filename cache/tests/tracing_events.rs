//! With the `tracing` feature, the cache's decisions are `tracing` events, target
//! `nodebook_cache`: loads, failures, stale and negative answers at debug level, evictions at
//! trace level.
#![cfg(feature = "tracing")]

use std::time::Duration;

use nodebook_cache::LimitableMap;
use nodebook_test_support::Captured;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn loads_failures_and_negative_hits_are_debug_events() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::DEBUG);
    let map: LimitableMap<u32, u32> = LimitableMap::builder(10)
        .negative_caching(Duration::from_secs(5))
        .build()
        .unwrap();

    let failed = map
        .get_or_load(1, || async { Err::<u32, _>("no row") })
        .await;
    let remembered = map.get_or_load(1, || async { Ok::<_, &str>(1) }).await;
    let loaded = map.get_or_load(2, || async { Ok::<_, &str>(2) }).await;
    let hit = map.get_or_load(2, || async { Ok::<_, &str>(0) }).await;

    assert!(failed.is_err() && remembered.is_err());
    assert_eq!((loaded.ok(), hit.ok()), (Some(2), Some(2)));
    let text = captured.text();
    assert_eq!(captured.count("cache load started"), 2, "{text}");
    assert_eq!(captured.count("cache load failed"), 1, "{text}");
    assert_eq!(captured.count("negative hit"), 1, "{text}");
    assert!(
        text.lines()
            .all(|line| line.contains("DEBUG") && line.contains("nodebook_cache")),
        "{text}"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_stale_value_served_is_a_debug_event_and_evictions_are_trace_events() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::TRACE);
    let map: LimitableMap<u32, u32> = LimitableMap::builder(2)
        .refresh_after(Duration::from_secs(1))
        .build()
        .unwrap();
    map.get_or_load(1, || async { Ok::<_, &str>(1) })
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;

    let stale = map.get_or_load(1, || async { Ok::<_, &str>(10) }).await;
    for key in 2..=4 {
        map.insert(key, key);
    }

    assert_eq!(stale.ok(), Some(1));
    assert_eq!(captured.count("due for refresh"), 1, "{}", captured.text());
    assert!(captured.count("TRACE") >= 1, "{}", captured.text());
    assert!(
        captured.count("cache entry evicted cause=Capacity") >= 1,
        "{}",
        captured.text()
    );
}

#[test]
fn nothing_is_logged_above_the_subscriber_level() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::INFO);
    let map: LimitableMap<u32, u32> = LimitableMap::new(1).unwrap();
    for key in 0..10 {
        map.insert(key, key);
    }
    assert_eq!(captured.text(), "");
}
