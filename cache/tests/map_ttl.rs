//! Per-entry time-to-live: `insert_with_ttl`, and `get_or_load` taking it from the loaded
//! value.

use std::time::Duration;

use nodebook_cache::LimitableMap;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn an_entry_with_its_own_time_to_live_expires_on_it_in_a_map_without_one() {
    let map = LimitableMap::new(10).unwrap();
    map.insert_with_ttl("short", 1, SECOND);
    map.insert("forever", 2);
    tokio::time::advance(SECOND - Duration::from_millis(1)).await;
    assert_eq!(map.get("short"), Some(1));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(map.get("short"), None);
    assert_eq!(map.get("forever"), Some(2));
    tokio::time::advance(SECOND * 1_000).await;
    assert_eq!(map.get("forever"), Some(2));
    assert_eq!(map.stats().expired, 1);
}

#[tokio::test(start_paused = true)]
async fn an_entry_with_its_own_time_to_live_outlives_the_maps() {
    let map = LimitableMap::builder(10)
        .time_to_live(SECOND)
        .build()
        .unwrap();
    map.insert_with_ttl("long", 1, SECOND * 10);
    map.insert("default", 2);
    tokio::time::advance(SECOND).await;
    assert_eq!(map.get("default"), None);
    assert_eq!(map.get("long"), Some(1));
    // An overwrite by `insert` gives it the map's time-to-live again.
    map.insert("long", 3);
    tokio::time::advance(SECOND).await;
    assert_eq!(map.get("long"), None);
}

#[tokio::test(start_paused = true)]
async fn expired_entries_are_reclaimed_by_purge_in_a_map_without_a_time_to_live() {
    let map = LimitableMap::new(10).unwrap();
    for k in 0..4 {
        map.insert_with_ttl(k, k, SECOND);
    }
    map.insert(9, 9);
    tokio::time::advance(SECOND).await;
    assert_eq!(map.purge_expired(), 4);
    assert_eq!(map.keys(), [9]);
}

#[derive(Clone, Debug, PartialEq)]
struct Response {
    body: &'static str,
    max_age: Option<Duration>,
}

#[tokio::test(start_paused = true)]
async fn get_or_load_takes_the_time_to_live_from_the_loaded_value() {
    let map = LimitableMap::builder(10)
        .time_to_live(SECOND * 60)
        .loaded_time_to_live(|r: &Response| r.max_age)
        .build()
        .unwrap();
    let fetch =
        |body, max_age| move || async move { Ok::<_, std::io::Error>(Response { body, max_age }) };
    map.get_or_load("/short", fetch("a", Some(SECOND)))
        .await
        .unwrap();
    map.get_or_load("/default", fetch("b", None)).await.unwrap();
    tokio::time::advance(SECOND).await;
    assert!(!map.contains_key("/short"), "max-age of 1 s");
    tokio::time::advance(SECOND * 58).await;
    assert!(map.contains_key("/default"), "the map's 60 s");
    tokio::time::advance(SECOND).await;
    assert!(!map.contains_key("/default"));
}

#[tokio::test(start_paused = true)]
async fn a_get_or_load_that_finds_an_expired_entry_reclaims_it_and_loads() {
    let map = LimitableMap::builder(10)
        .time_to_live(SECOND)
        .build()
        .unwrap();
    map.insert(1, 1);
    tokio::time::advance(SECOND).await;
    let loaded = map
        .get_or_load(1, || async { Ok::<_, std::io::Error>(2) })
        .await
        .unwrap();
    assert_eq!(loaded, 2);
    assert_eq!(map.stats().expired, 1);
}

#[tokio::test(start_paused = true)]
async fn a_missing_row_as_none_can_live_shorter_than_a_found_one() {
    // Negative caching for a loader that returns `Option`: `None` gets a short time-to-live.
    let users: LimitableMap<u32, Option<&'static str>> = LimitableMap::builder(10)
        .time_to_live(SECOND * 60)
        .loaded_time_to_live(|row: &Option<&'static str>| row.is_none().then_some(SECOND * 5))
        .build()
        .unwrap();
    let select = |row| move || async move { Ok::<_, std::io::Error>(row) };
    assert_eq!(users.get_or_load(1, select(None)).await.unwrap(), None);
    assert_eq!(
        users.get_or_load(2, select(Some("Ada"))).await.unwrap(),
        Some("Ada")
    );
    tokio::time::advance(SECOND * 4).await;
    assert_eq!(
        users.get_or_load(1, select(Some("late"))).await.unwrap(),
        None,
        "still cached"
    );
    tokio::time::advance(SECOND).await;
    assert_eq!(
        users.get_or_load(1, select(Some("Bob"))).await.unwrap(),
        Some("Bob")
    );
    assert_eq!(users.get(&2), Some(Some("Ada")));
    assert_eq!(users.stats().loads.started, 3);
}
