//! The tour's avalanche scene on tokio's paused clock: a pool of 4 connections at 5 ms per query
//! and a crowd of 1,000 callers on one cold key.

use std::num::NonZeroUsize;
use std::time::Duration;

use examples::{Avalanche, Crowd, MockDatabase};

const QUERY_COST: Duration = Duration::from_millis(5);

fn scene(callers: usize, patience: Duration) -> Avalanche {
    Avalanche {
        connections: NonZeroUsize::new(4).expect("not zero"),
        query_cost: QUERY_COST,
        crowd: Crowd {
            callers,
            article: 1,
            patience,
        },
    }
}

const PATIENT: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn without_a_guard_the_last_of_1000_callers_waits_250_rounds_of_one_query() {
    let report = scene(1_000, PATIENT).run().await.unwrap();

    let unguarded = report.unguarded;
    assert_eq!(unguarded.queries, 1_000);
    assert_eq!(
        (unguarded.answered, unguarded.timed_out, unguarded.failed),
        (1_000, 0, 0)
    );
    // 1,000 / 4 connections x 5 ms.
    assert_eq!(unguarded.slowest, Duration::from_millis(1_250));
    assert_eq!(unguarded.wall, Duration::from_millis(1_250));
    // The median caller waited for half the rounds, the 99th percentile for nearly all.
    assert_eq!(unguarded.p50, Duration::from_millis(625));
    assert_eq!(unguarded.p99, Duration::from_millis(1_240));
}

#[tokio::test(start_paused = true)]
async fn with_the_once_queue_1000_callers_share_one_query_and_wait_one_query_cost() {
    let report = scene(1_000, PATIENT).run().await.unwrap();

    let guarded = report.once_queue;
    assert_eq!(guarded.queries, 1);
    assert_eq!((guarded.answered, guarded.timed_out), (1_000, 0));
    assert_eq!(guarded.p50, QUERY_COST);
    assert_eq!(guarded.slowest, QUERY_COST);
    assert!(report.guard_wins());
}

#[tokio::test(start_paused = true)]
async fn the_once_queue_alone_queries_again_for_the_next_crowd_and_a_cache_does_not() {
    let report = scene(1_000, PATIENT).run().await.unwrap();

    assert_eq!(report.once_queue_again.queries, 1);
    assert_eq!(report.once_queue_again.slowest, QUERY_COST);

    assert_eq!(report.cached.queries, 1);
    assert_eq!(report.cached.slowest, QUERY_COST);
    assert_eq!(report.cached_again.queries, 0);
    assert_eq!(report.cached_again.answered, 1_000);
    assert_eq!(report.cached_again.slowest, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn callers_out_of_patience_time_out_and_give_their_connections_back() {
    // Round k of 4 queries ends at k x 5 ms: 200 rounds end by 1,000 ms, the 201st would end
    // at 1,005 ms, after the callers gave up at 1,002 ms.
    let patience = Duration::from_millis(1_002);
    let db = MockDatabase::with_pool(NonZeroUsize::new(4).expect("not zero"), QUERY_COST);
    let crowd = Crowd {
        callers: 1_000,
        article: 1,
        patience,
    };

    let report = crowd.unguarded(&db).await;

    assert_eq!((report.answered, report.timed_out), (800, 200));
    // The 201st round started its queries; a caller handed a connection as the others gave up
    // starts its query before its own deadline is checked, and drops it at once.
    assert!(
        (804..1_000).contains(&report.queries),
        "{} queries",
        report.queries
    );
    assert_eq!(report.p50, Duration::from_millis(625));
    assert_eq!(report.p99, patience);
    assert_eq!(report.wall, patience);
    // Every connection came back: nothing runs, nothing waits, the next read takes one query.
    assert_eq!((db.in_flight(), db.waiting()), (0, 0));
    let alone = Crowd {
        callers: 4,
        ..crowd
    };
    assert_eq!(alone.unguarded(&db).await.slowest, QUERY_COST);
}

#[tokio::test(start_paused = true)]
async fn the_guard_answers_the_whole_crowd_within_a_patience_the_unguarded_crowd_runs_out_of() {
    let report = scene(1_000, Duration::from_millis(1_002))
        .run()
        .await
        .unwrap();

    assert_eq!(report.unguarded.timed_out, 200);
    assert_eq!(
        (report.once_queue.answered, report.once_queue.queries),
        (1_000, 1)
    );
    assert!(report.guard_wins());
}

#[tokio::test(start_paused = true)]
async fn the_verdict_is_no_when_the_crowd_fits_in_the_pool() {
    // Four callers on four connections: nobody waits, so the guard has nothing to win.
    let report = scene(4, PATIENT).run().await.unwrap();

    assert_eq!(report.unguarded.slowest, QUERY_COST);
    assert_eq!(report.once_queue.slowest, QUERY_COST);
    assert!(!report.guard_wins());
}

#[tokio::test(start_paused = true)]
async fn the_verdict_is_no_when_the_guarded_crowd_times_out() {
    // Callers give up before even one query ends: the guard cannot answer them either.
    let report = scene(100, Duration::from_millis(2)).run().await.unwrap();

    assert_eq!(report.once_queue.timed_out, 100);
    assert_eq!(report.unguarded.timed_out, 100);
    assert!(!report.guard_wins());
}

#[tokio::test(start_paused = true)]
async fn an_empty_crowd_reports_zeros() {
    let report = scene(0, PATIENT).run().await.unwrap();

    assert_eq!(report.unguarded.queries, 0);
    assert_eq!(report.unguarded.p99, Duration::ZERO);
    assert_eq!(report.once_queue.slowest, Duration::ZERO);
}
