//! The crates together in front of a mock database, on paused time: the avalanche cut to one
//! query, overload refused, timeouts, errors not cached, an update during a load.

use std::num::NonZeroUsize;
use std::time::Duration;

use examples::{
    ARTICLE_UPDATED, ArticleSource, ArticleStore, ArticleUpdate, Error, MockDatabase, StoreConfig,
};
use futures::StreamExt;
use futures::future::join_all;
use tokio::time::Instant;

const LATENCY: Duration = Duration::from_millis(10);

/// The connections of a pooled mock, as many as the store's default limiter lets through.
fn connections(count: usize) -> NonZeroUsize {
    NonZeroUsize::new(count).expect("not zero")
}

fn store(db: &MockDatabase, config: StoreConfig) -> ArticleStore<MockDatabase> {
    ArticleStore::new(db.clone(), config).expect("valid config")
}

fn update(title: &str) -> ArticleUpdate {
    ArticleUpdate {
        title: title.to_owned(),
        body: format!("{title} body"),
    }
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_concurrent_misses_on_one_key_run_one_query() {
    let db = MockDatabase::with_pool(connections(4), LATENCY);
    let store = store(&db, StoreConfig::default());
    let arrival = Instant::now();

    let answers = join_all((0..10_000).map(|_| store.get(1))).await;

    assert!(
        answers
            .iter()
            .all(|row| row.as_ref().is_ok_and(|a| a.id == 1))
    );
    assert_eq!(db.queries(), 1);
    assert_eq!(
        arrival.elapsed(),
        LATENCY,
        "one query's cost, not 10,000 / 4 connections of them"
    );
    let stats = store.stats();
    assert_eq!(stats.cache.loads_started, 1);
    assert_eq!(stats.cache.loads_coalesced, 9_999);
    assert_eq!(stats.limiter.admitted, 1);
}

#[tokio::test(start_paused = true)]
async fn a_pooled_mock_runs_no_more_queries_than_connections_in_arrival_order() {
    let db = MockDatabase::with_pool(connections(2), LATENCY);
    let arrival = Instant::now();

    let finished = join_all((1..=10).map(|id| {
        let db = db.clone();
        async move {
            let row = db.article(id).await.unwrap().unwrap();
            (row.id, arrival.elapsed())
        }
    }))
    .await;

    // Two at a time, first come first served: reads 1 and 2 end at 10 ms, 3 and 4 at 20 ms...
    for (id, waited) in finished {
        let round = u32::try_from(id.div_ceil(2)).unwrap();
        assert_eq!(waited, LATENCY * round, "read {id}");
    }
    assert_eq!(db.max_in_flight(), 2);
    assert_eq!((db.in_flight(), db.waiting()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_read_that_gives_up_waiting_for_a_connection_never_reaches_the_database() {
    let db = MockDatabase::with_pool(connections(1), LATENCY);
    let busy = tokio::spawn({
        let db = db.clone();
        async move { db.article(1).await }
    });
    db.queries_started(1).await;

    let impatient = tokio::time::timeout(LATENCY / 2, db.article(2)).await;

    assert!(impatient.is_err());
    assert_eq!(db.waiting(), 0, "the impatient read left the queue");
    assert_eq!(busy.await.unwrap().unwrap().unwrap().id, 1);
    assert_eq!(db.queries(), 1);
    assert_eq!(
        db.article(3).await.unwrap().unwrap().id,
        3,
        "no connection was lost"
    );
}

#[tokio::test(start_paused = true)]
async fn a_write_holds_a_connection_like_a_read() {
    let db = MockDatabase::with_pool(connections(1), LATENCY);
    let arrival = Instant::now();

    let (written, read) = tokio::join!(db.put_article(1, update("pooled")), db.article(2));

    assert_eq!(written.unwrap().version, 2);
    assert_eq!(read.unwrap().unwrap().id, 2);
    assert_eq!(
        arrival.elapsed(),
        LATENCY * 2,
        "the read waited for the write"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cached_row_is_served_without_a_query_until_its_time_to_live_ends() {
    let db = MockDatabase::new(LATENCY);
    let config = StoreConfig {
        time_to_live: Duration::from_secs(5),
        ..StoreConfig::default()
    };
    let store = store(&db, config);

    store.get(3).await.unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    store.get(3).await.unwrap();
    assert_eq!(db.queries(), 1);

    tokio::time::advance(Duration::from_secs(2)).await;
    store.get(3).await.unwrap();
    assert_eq!(db.queries(), 2);
    assert_eq!(store.stats().cache.expired, 1);
}

#[tokio::test(start_paused = true)]
async fn overload_beyond_limit_and_queue_is_refused_and_concurrency_stays_at_the_limit() {
    let db = MockDatabase::new(LATENCY);
    let config = StoreConfig {
        connections: 2,
        queue_length: 3,
        ..StoreConfig::default()
    };
    let store = store(&db, config);

    // Twenty different keys: the once-queue cannot merge them, the limiter has to.
    let answers = join_all((1..=20).map(|id| store.get(id))).await;

    let ok = answers.iter().filter(|a| a.is_ok()).count();
    let refused: Vec<_> = answers
        .iter()
        .filter_map(|a| match a {
            Err(Error::Overloaded {
                limit,
                queue_length,
                queued,
            }) => Some((*limit, *queue_length, *queued)),
            _ => None,
        })
        .collect();
    assert_eq!(ok, 5, "2 running + 3 waiting are served");
    assert_eq!(refused.len(), 15);
    assert!(refused.iter().all(|r| *r == (2, 3, 3)));
    assert_eq!(db.max_in_flight(), 2);
    assert_eq!(store.stats().limiter.refused, 15);
}

#[tokio::test(start_paused = true)]
async fn a_refused_load_is_not_cached_and_the_next_read_succeeds() {
    let db = MockDatabase::new(LATENCY);
    let config = StoreConfig {
        connections: 1,
        queue_length: 0,
        ..StoreConfig::default()
    };
    let store = store(&db, config);
    let (release, hold) = tokio::sync::oneshot::channel::<()>();
    let busy = store
        .limiter()
        .local()
        .unwrap()
        .push(async move { hold.await.ok() });
    assert_eq!(store.limiter().active(), 1);

    assert!(matches!(store.get(4).await, Err(Error::Overloaded { .. })));

    release.send(()).unwrap();
    busy.await.unwrap();
    assert_eq!(store.get(4).await.unwrap().id, 4);
}

#[tokio::test(start_paused = true)]
async fn a_query_running_past_the_deadline_answers_database_timeout() {
    let db = MockDatabase::new(Duration::from_secs(30));
    let config = StoreConfig {
        query_timeout: Duration::from_secs(2),
        ..StoreConfig::default()
    };
    let store = store(&db, config);

    let started = tokio::time::Instant::now();
    let answer = store.get(5).await;

    assert!(
        matches!(answer, Err(Error::DatabaseTimeout { timeout }) if timeout == Duration::from_secs(2))
    );
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(store.stats().limiter.timeouts, 1);
    // The timed-out load was not cached: with a fast database the next read loads again.
    db.set_latency(LATENCY);
    assert_eq!(store.get(5).await.unwrap().id, 5);
    assert_eq!(db.queries(), 2);
}

#[tokio::test(start_paused = true)]
async fn waiting_too_long_for_a_connection_answers_database_timeout() {
    let db = MockDatabase::new(Duration::from_secs(10));
    let config = StoreConfig {
        connections: 1,
        queue_length: 4,
        query_timeout: Duration::from_secs(60),
        queue_timeout: Duration::from_secs(1),
        ..StoreConfig::default()
    };
    let store = store(&db, config);

    let (first, second) = tokio::join!(store.get(1), store.get(2));

    assert_eq!(first.unwrap().id, 1);
    assert!(
        matches!(second, Err(Error::DatabaseTimeout { timeout }) if timeout == Duration::from_secs(1))
    );
    assert_eq!(store.stats().limiter.queue_timeouts, 1);
    assert_eq!(
        db.queries(),
        1,
        "the second query never reached the database"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_query_is_shared_by_its_callers_and_not_cached() {
    let db = MockDatabase::new(LATENCY);
    let store = store(&db, StoreConfig::default());
    db.fail_next(1);

    let answers = join_all((0..50).map(|_| store.get(6))).await;

    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Err(Error::Injected { query: 1 })))
    );
    assert_eq!(db.queries(), 1);
    assert_eq!(store.get(6).await.unwrap().id, 6);
    assert_eq!(db.queries(), 2);
    assert_eq!(store.stats().cache.loads_failed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_missing_row_is_not_found_for_every_caller() {
    let db = MockDatabase::new(LATENCY);
    let store = store(&db, StoreConfig::default());

    let answers = join_all((0..10).map(|_| store.get(1001))).await;

    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Err(Error::NotFound { id: 1001 })))
    );
    assert_eq!(db.queries(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_missing_row_costs_one_query_until_the_negative_time_to_live_ends() {
    let db = MockDatabase::new(LATENCY);
    let negative_ttl = Duration::from_secs(5);
    let store = store(
        &db,
        StoreConfig {
            negative_ttl,
            ..StoreConfig::default()
        },
    );

    for _ in 0..20 {
        assert!(matches!(
            store.get(1001).await,
            Err(Error::NotFound { id: 1001 })
        ));
    }
    assert_eq!(db.queries(), 1, "the absence is cached");
    // Only the absence is short-lived; the id is asked again once it ends.
    tokio::time::advance(negative_ttl).await;
    assert!(matches!(store.get(1001).await, Err(Error::NotFound { .. })));
    assert_eq!(db.queries(), 2);
}

#[tokio::test(start_paused = true)]
async fn writing_a_missing_id_creates_it_and_ends_its_cached_absence_at_once() {
    let db = MockDatabase::new(LATENCY);
    let store = store(&db, StoreConfig::default());
    assert!(matches!(store.get(2000).await, Err(Error::NotFound { .. })));

    let created = store.update(2000, update("New")).await.unwrap();

    assert_eq!((created.id, created.version), (2000, 1));
    let read = store.get(2000).await.unwrap();
    assert_eq!((read.title.as_str(), read.version), ("New", 1));
    assert_eq!(db.queries(), 2, "the absence, then the created row");
}

#[tokio::test(start_paused = true)]
async fn a_zero_negative_time_to_live_queries_every_miss() {
    let db = MockDatabase::new(LATENCY);
    let store = store(
        &db,
        StoreConfig {
            negative_ttl: Duration::ZERO,
            ..StoreConfig::default()
        },
    );

    for _ in 0..3 {
        assert!(store.get(1001).await.is_err());
    }

    assert_eq!(db.queries(), 3);
}

#[tokio::test(start_paused = true)]
async fn errors_other_than_absence_are_not_cached() {
    let db = MockDatabase::new(LATENCY);
    let store = store(&db, StoreConfig::default());
    db.fail_next(1);

    assert!(matches!(store.get(1001).await, Err(Error::Injected { .. })));

    assert!(matches!(store.get(1001).await, Err(Error::NotFound { .. })));
    assert_eq!(db.queries(), 2, "the failure was not remembered");
}

#[tokio::test(start_paused = true)]
async fn an_update_during_a_load_keeps_the_old_row_out_of_the_cache() {
    let db = MockDatabase::new(Duration::from_millis(100));
    let store = store(&db, StoreConfig::default());

    let early_reader = tokio::spawn({
        let store = store.clone();
        async move { store.get(7).await }
    });
    db.queries_started(1).await;
    // The load has read version 1 and is still running; the write lands now.
    db.set_latency(Duration::ZERO);
    let written = store.update(7, update("Moonlight")).await.unwrap();
    assert_eq!(written.version, 2);

    // The early reader asked before the write, so it may see the old row...
    assert_eq!(early_reader.await.unwrap().unwrap().version, 1);
    // ...but that row must not have been stored: the next read loads the new one.
    let after = store.get(7).await.unwrap();
    assert_eq!((after.version, after.title.as_str()), (2, "Moonlight"));
    assert_eq!(db.queries(), 2);
    assert_eq!(store.stats().cache.loads_discarded, 1);
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_gives_up_does_not_cancel_the_load_for_the_others() {
    let db = MockDatabase::new(Duration::from_millis(100));
    let store = store(&db, StoreConfig::default());

    let impatient = tokio::time::timeout(Duration::from_millis(10), store.get(8)).await;
    assert!(impatient.is_err());
    let patient = store.get(8).await.unwrap();

    assert_eq!(patient.id, 8);
    assert_eq!(
        db.queries(),
        1,
        "the second caller joined the load still in flight"
    );
}

#[tokio::test(start_paused = true)]
async fn updates_reach_listeners_and_subscribers_in_order() {
    let db = MockDatabase::new(LATENCY);
    let store = store(&db, StoreConfig::default());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    store.events().on(ARTICLE_UPDATED, move |row| {
        log.lock().unwrap().push((row.id, row.version));
    });
    let mut updates = Box::pin(store.subscribe(4).unwrap());

    store.update(1, update("one")).await.unwrap();
    store.update(2, update("two")).await.unwrap();
    store.update(1, update("three")).await.unwrap();

    assert_eq!(*seen.lock().unwrap(), [(1, 2), (2, 2), (1, 3)]);
    for expected in [(1, 2), (2, 2), (1, 3)] {
        let row = updates.next().await.unwrap().unwrap();
        assert_eq!((row.id, row.version), expected);
    }
    assert_eq!(store.stats().events.emitted, 3);
    assert_eq!(store.stats().events.listeners, 2);
}

#[tokio::test(start_paused = true)]
async fn a_slow_subscriber_is_told_how_many_updates_it_missed() {
    let db = MockDatabase::new(Duration::ZERO);
    let store = store(&db, StoreConfig::default());
    let mut updates = Box::pin(store.subscribe(2).unwrap());

    for n in 0..5 {
        store.update(9, update(&format!("v{n}"))).await.unwrap();
    }

    assert!(matches!(
        updates.next().await,
        Some(Err(Error::Lagged { missed: 3 }))
    ));
    assert_eq!(updates.next().await.unwrap().unwrap().title, "v3");
    assert_eq!(updates.next().await.unwrap().unwrap().title, "v4");
}

#[test]
fn subscriptions_up_to_the_cap_never_warn_and_a_real_pile_up_does() {
    let db = MockDatabase::new(Duration::ZERO);
    let config = StoreConfig {
        max_subscribers: 20,
        ..StoreConfig::default()
    };
    let store = store(&db, config);

    let subscriptions: Vec<_> = (0..20).map(|_| store.subscribe(1).unwrap()).collect();
    assert!(matches!(
        store.subscribe(1).err(),
        Some(Error::SubscriberLimit { limit: 20 })
    ));
    assert_eq!(store.stats().events.subscribers, 20);
    assert_eq!(store.stats().events.leak_warnings, 0);

    // Listeners added past the cap and the allowance are a leak, and the warning says so.
    for _ in 0..=examples::SYNC_LISTENER_ALLOWANCE {
        store.events().on(ARTICLE_UPDATED, |_| {});
    }
    assert_eq!(store.stats().events.leak_warnings, 1);
    drop(subscriptions);
    assert_eq!(store.stats().events.subscribers, 0);
    assert!(store.subscribe(1).is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_cache_evicts_the_oldest_article_first() {
    let db = MockDatabase::new(LATENCY);
    let config = StoreConfig {
        cache_limit: 3,
        ..StoreConfig::default()
    };
    let store = store(&db, config);

    for id in 1..=4 {
        store.get(id).await.unwrap();
    }

    let mut keys = store.cache().expect("a local cache").keys();
    keys.sort_unstable();
    assert_eq!(keys, [2, 3, 4]);
    assert_eq!(store.stats().cache.evicted, 1);
    store.get(1).await.unwrap();
    assert_eq!(db.queries(), 5, "article 1 was evicted and loaded again");
}

#[test]
fn public_types_and_their_futures_are_send_and_sync_as_documented() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}

    let db = MockDatabase::new(LATENCY);
    let store = store(&db, StoreConfig::default());
    send_sync(&db);
    send_sync(&store);
    send_sync(&examples::HttpClient::new());
    send_sync(&Error::NotFound { id: 1 });
    // Built, never polled: only their types matter here.
    send(store.get(1));
    send(store.update(1, update("t")));
    send(store.subscribe(1).unwrap());
    send(db.article(1));
    send(examples::LoadPlan::new("http://127.0.0.1:1").run());
}

#[tokio::test]
async fn sqlite_and_service_handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}

    let dir = tempfile::tempdir().unwrap();
    let db = examples::SqliteDatabase::open(dir.path(), 1).await.unwrap();
    send_sync(&db);
    let service = examples::Service::open(examples::ServiceConfig::new(dir.path()))
        .await
        .unwrap();
    send_sync(&service);
    assert_eq!(db.article(1).await.unwrap().unwrap().id, 1);
}
