//! Queue discipline under overload: adaptive LIFO serves the newest waiter while the oldest has
//! waited too long, CoDel sheds waiters once the queue has stood above its target for an
//! interval; both through every way in, and combined with `refuse` and `queue_timeout`.

use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, Error, QueueDiscipline};
use tokio::time::advance;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

const MS: fn(u64) -> Duration = Duration::from_millis;

#[tokio::test(start_paused = true)]
async fn fifo_until_the_oldest_waited_past_the_threshold() {
    let pipe = Bagpipe::builder(1)
        .queue_discipline(QueueDiscipline::fifo().adaptive_lifo(MS(15)))
        .build();
    let held = pipe.acquire().await.unwrap();
    let mut first = spawn(pipe.acquire());
    assert_pending!(first.poll());
    let mut second = spawn(pipe.acquire());
    assert_pending!(second.poll());
    advance(MS(10)).await;
    // The oldest waited 10 ms, under the threshold: first come, first served.
    drop(held);
    assert!(first.is_woken() && !second.is_woken());
    let held = assert_ready!(first.poll()).unwrap();

    let mut third = spawn(pipe.acquire());
    assert_pending!(third.poll());
    advance(MS(10)).await;
    // `second` has waited 20 ms now: the newest goes first.
    drop(held);
    assert!(third.is_woken() && !second.is_woken());
    let held = assert_ready!(third.poll()).unwrap();
    // The queue is short again (only `second`): it gets the next slot.
    drop(held);
    assert!(second.is_woken());
    drop(assert_ready!(second.poll()).unwrap());
}

#[tokio::test(start_paused = true)]
async fn lifo_serves_pushed_calls_too_and_old_waiters_end_by_their_queue_timeout() {
    let pipe = Bagpipe::builder(1)
        .queue_timeout(MS(100))
        .queue_discipline(QueueDiscipline::fifo().adaptive_lifo(MS(5)))
        .build();
    let held = pipe.acquire().await.unwrap();
    let old = pipe.push(async { "old" });
    advance(MS(10)).await;
    let new = pipe.push(async { "new" });
    tokio::task::yield_now().await;
    drop(held);
    assert_eq!(new.await.unwrap(), "new");
    // With the slot free again and nobody newer, `old` runs, well within its queue timeout.
    assert_eq!(old.await.unwrap(), "old");

    // Under a standing queue the oldest never gets a turn and ends by its queue timeout.
    let held = pipe.acquire().await.unwrap();
    let stale = pipe.push(async { "stale" });
    let mut newer = Vec::new();
    for _ in 0..12 {
        advance(MS(10)).await;
        newer.push(pipe.push(async { "fresh" }));
        tokio::task::yield_now().await;
    }
    assert!(matches!(stale.await, Err(Error::QueueTimeout { .. })));
    drop(held);
    for call in newer {
        let _ = call.await;
    }
}

#[tokio::test(start_paused = true)]
async fn codel_sheds_once_the_queue_stood_above_target_for_an_interval() {
    let pipe = Bagpipe::builder(1)
        .queue_discipline(QueueDiscipline::fifo().codel(MS(10), MS(30)))
        .build();
    let mut held = pipe.acquire_owned().await.unwrap();
    let mut waiters = Vec::new();
    for _ in 0..6 {
        let mut waiter = spawn(pipe.acquire_owned());
        assert_pending!(waiter.poll());
        waiters.push(waiter);
    }
    // A slot frees every 20 ms: each waiter granted has waited more than the 10 ms target.
    let mut outcomes = Vec::new();
    let mut next = 0;
    while next < waiters.len() {
        advance(MS(20)).await;
        drop(held);
        held = loop {
            let waiter = &mut waiters[next];
            next += 1;
            assert!(waiter.is_woken());
            match assert_ready!(waiter.poll()) {
                Ok(permit) => {
                    outcomes.push("granted");
                    break Some(permit);
                }
                Err(Error::QueueTimeout { queue_timeout }) => {
                    assert_eq!(queue_timeout, MS(10));
                    outcomes.push("shed");
                }
                Err(other) => panic!("unexpected: {other}"),
            }
            if next == waiters.len() {
                break None;
            }
        }
        .unwrap_or_else(|| pipe.try_acquire_owned().unwrap());
    }
    // Granted at 20 ms (above target since then) and 40 ms (20 ms above: not yet an
    // interval); from 60 ms on the queue has stood above target for 40 ms: the stale waiters
    // are shed and the slot goes on to the next.
    assert_eq!(
        outcomes,
        ["granted", "granted", "shed", "shed", "shed", "shed"]
    );
    assert_eq!(
        pipe.stats().queue_timeouts,
        outcomes.iter().filter(|o| **o == "shed").count() as u64
    );
    drop(held);
    assert_eq!((pipe.active(), pipe.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_short_queue_is_never_shed() {
    let pipe = Bagpipe::builder(1)
        .queue_discipline(QueueDiscipline::fifo().codel(MS(10), MS(30)))
        .build();
    for _ in 0..20 {
        let held = pipe.acquire().await.unwrap();
        let mut waiter = spawn(pipe.acquire());
        assert_pending!(waiter.poll());
        advance(MS(5)).await;
        drop(held);
        drop(assert_ready!(waiter.poll()).unwrap());
    }
    assert_eq!(pipe.stats().queue_timeouts, 0);
}

#[tokio::test(start_paused = true)]
async fn shed_pushed_calls_never_run_and_free_their_place_for_refuse() {
    let pipe = Bagpipe::builder(1)
        .refuse(true)
        .queue_length(3)
        .queue_discipline(QueueDiscipline::fifo().codel(MS(1), MS(1)))
        .build();
    let held = pipe.acquire().await.unwrap();
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let ran = ran.clone();
            pipe.push(async move {
                ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(MS(5)).await;
            })
        })
        .collect();
    assert!(matches!(
        pipe.push(async {}).await,
        Err(Error::TooMuchAsyncCall { .. })
    ));
    advance(MS(10)).await;
    // The first grant (10 ms late) starts CoDel's clock; when it frees its slot 5 ms later the
    // queue has stood above target for longer than the interval: the rest are shed.
    drop(held);
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await);
    }
    assert!(results[0].is_ok());
    assert!(
        results[1..]
            .iter()
            .all(|r| matches!(r, Err(Error::QueueTimeout { .. })))
    );
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The queue is empty again: new calls are admitted, not refused.
    assert_eq!(pipe.queued(), 0);
    pipe.push(async {}).await.unwrap();
}
