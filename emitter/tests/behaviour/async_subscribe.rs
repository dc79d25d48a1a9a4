//! Subscriptions of one event share one store of payloads; each keeps its own position, capacity
//! and end. These tests pin down that sharing does not leak between subscriptions.

use std::task::Poll;

use futures_util::StreamExt;
use nodebook_emitter::{Emitter, Error};
use tokio_test::{assert_pending, assert_ready, task};

#[test]
fn each_subscription_lags_by_its_own_capacity() {
    let ee: Emitter<u32> = Emitter::new();
    let mut small = task::spawn(ee.subscribe("n", 2).unwrap());
    let mut large = task::spawn(ee.subscribe("n", 8).unwrap());
    for n in 0..6 {
        ee.emit("n", n).unwrap();
    }
    assert_eq!((small.len(), large.len()), (2, 6));
    assert_eq!(
        assert_ready!(small.poll_next()),
        Some(Err(Error::Lagged { missed: 4 }))
    );
    assert_eq!(assert_ready!(small.poll_next()), Some(Ok(4)));
    for n in 0..6 {
        assert_eq!(assert_ready!(large.poll_next()), Some(Ok(n)));
    }
    assert_eq!(assert_ready!(small.poll_next()), Some(Ok(5)));
    assert_pending!(small.poll_next());
    assert_pending!(large.poll_next());
}

#[test]
fn a_later_subscription_starts_with_the_next_emit() {
    let ee: Emitter<u32> = Emitter::new();
    let mut early = task::spawn(ee.subscribe("n", 4).unwrap());
    ee.emit("n", 1).unwrap();
    let mut late = task::spawn(ee.subscribe("n", 4).unwrap());
    ee.emit("n", 2).unwrap();
    assert_eq!(assert_ready!(early.poll_next()), Some(Ok(1)));
    assert_eq!(assert_ready!(early.poll_next()), Some(Ok(2)));
    assert_eq!(assert_ready!(late.poll_next()), Some(Ok(2)));
    assert_pending!(late.poll_next());
}

#[test]
fn a_subscription_made_during_an_emit_misses_that_emit() {
    let ee: Emitter<u32> = Emitter::new();
    let _first = ee.subscribe("n", 4).unwrap();
    let made = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (slot, handle) = (std::sync::Arc::clone(&made), ee.clone());
    ee.once("n", move |_| {
        *slot.lock().unwrap() = Some(handle.subscribe("n", 4).unwrap())
    });
    ee.emit("n", 1).unwrap();
    ee.emit("n", 2).unwrap();
    let mut late = task::spawn(made.lock().unwrap().take().unwrap());
    assert_eq!(assert_ready!(late.poll_next()), Some(Ok(2)));
    assert_pending!(late.poll_next());
}

#[test]
fn an_ended_subscription_keeps_its_unread_payloads_while_others_go_on() {
    let ee: Emitter<u32> = Emitter::new();
    let mut ended = task::spawn(ee.subscribe("n", 3).unwrap());
    let mut going = task::spawn(ee.subscribe("n", 3).unwrap());
    ee.emit("n", 1).unwrap();
    ee.emit("n", 2).unwrap();
    ee.emit("error", 99).unwrap();
    let mut after_error = task::spawn(ee.subscribe("n", 3).unwrap());
    for n in 3..20 {
        ee.emit("n", n).unwrap();
    }
    assert_eq!(assert_ready!(ended.poll_next()), Some(Ok(1)));
    assert_eq!(assert_ready!(ended.poll_next()), Some(Ok(2)));
    assert_eq!(
        assert_ready!(ended.poll_next()),
        Some(Err(Error::ErrorEvent(99)))
    );
    assert_eq!(assert_ready!(ended.poll_next()), None);
    // The error ended every subscription of the event that was there when it arrived.
    assert_eq!(assert_ready!(going.poll_next()), Some(Ok(1)));
    assert_eq!(
        assert_ready!(after_error.poll_next()),
        Some(Err(Error::Lagged { missed: 14 }))
    );
    assert_eq!(assert_ready!(after_error.poll_next()), Some(Ok(17)));
}

#[test]
fn every_waiting_subscription_is_woken_by_one_emit() {
    let ee: Emitter<u32> = Emitter::new();
    let mut a = task::spawn(ee.subscribe("n", 4).unwrap());
    let mut b = task::spawn(ee.subscribe("n", 4).unwrap());
    assert_pending!(a.poll_next());
    assert_pending!(b.poll_next());
    ee.emit("n", 7).unwrap();
    assert!(a.is_woken() && b.is_woken());
    assert_eq!(assert_ready!(a.poll_next()), Some(Ok(7)));
    assert_eq!(assert_ready!(b.poll_next()), Some(Ok(7)));
}

#[test]
fn more_waiting_subscriptions_than_one_wake_batch_are_all_woken() {
    // Wakers are collected in batches of 16 on the stack; 40 waiters take three batches.
    let ee: Emitter<u32> = Emitter::new();
    let mut waiting: Vec<_> = (0..40)
        .map(|_| task::spawn(ee.subscribe("n", 4).unwrap()))
        .collect();
    for subscription in &mut waiting {
        assert_pending!(subscription.poll_next());
    }
    ee.emit("n", 9).unwrap();
    for subscription in &mut waiting {
        assert!(subscription.is_woken());
        assert_eq!(assert_ready!(subscription.poll_next()), Some(Ok(9)));
        assert_pending!(subscription.poll_next());
    }
    ee.emit("n", 10).unwrap();
    assert!(waiting.iter().all(|subscription| subscription.is_woken()));
}

/// A payload that counts its clones.
#[derive(Debug)]
struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(std::sync::Arc::clone(&self.0))
    }
}

#[test]
fn an_event_with_only_subscriptions_stores_the_payload_itself_by_name_or_handle_and_each_read_clones_once()
 {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let clones = Arc::new(AtomicUsize::new(0));
    let ee: Emitter<Counted> = Emitter::new();
    let mut a = task::spawn(ee.subscribe("n", 4).unwrap());
    let mut b = task::spawn(ee.subscribe("n", 4).unwrap());
    ee.emit("n", Counted(Arc::clone(&clones))).unwrap();
    assert_eq!(
        clones.load(Ordering::SeqCst),
        0,
        "the emit moved the payload in"
    );
    assert!(matches!(assert_ready!(a.poll_next()), Some(Ok(_))));
    assert!(matches!(assert_ready!(b.poll_next()), Some(Ok(_))));
    assert_eq!(clones.load(Ordering::SeqCst), 2, "one clone per read");

    // The same through an `EventHandle`, once its first emit has verified the event.
    let n = ee.event("n");
    for _ in 0..2 {
        n.emit(Counted(Arc::clone(&clones))).unwrap();
    }
    assert_eq!(
        clones.load(Ordering::SeqCst),
        2,
        "both emits moved the payload in"
    );
    for _ in 0..2 {
        assert!(matches!(assert_ready!(a.poll_next()), Some(Ok(_))));
        assert!(matches!(assert_ready!(b.poll_next()), Some(Ok(_))));
    }
    assert_eq!(clones.load(Ordering::SeqCst), 6);

    // With a listener too, the listener borrows the payload and the ring stores one copy.
    ee.on("n", |_| {});
    ee.emit("n", Counted(Arc::clone(&clones))).unwrap();
    assert_eq!(clones.load(Ordering::SeqCst), 7);
}

#[test]
fn dropping_one_subscription_leaves_the_others_intact() {
    let ee: Emitter<u32> = Emitter::new();
    let mut kept = task::spawn(ee.subscribe("n", 4).unwrap());
    let dropped = ee.subscribe("n", 16).unwrap();
    ee.emit("n", 1).unwrap();
    drop(dropped);
    ee.emit("n", 2).unwrap();
    assert_eq!(ee.listener_count("n"), 1);
    assert_eq!(assert_ready!(kept.poll_next()), Some(Ok(1)));
    assert_eq!(assert_ready!(kept.poll_next()), Some(Ok(2)));
    drop(kept);
    let mut again = task::spawn(ee.subscribe("n", 4).unwrap());
    assert_pending!(again.poll_next());
    ee.emit("n", 3).unwrap();
    assert_eq!(again.poll_next(), Poll::Ready(Some(Ok(3))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_on_other_threads_receive_every_payload_in_order() {
    const PAYLOADS: u32 = 20_000;
    let ee: Emitter<u32> = Emitter::new();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let mut sub = ee.subscribe("n", PAYLOADS as usize).unwrap();
            tokio::spawn(async move {
                let mut expected = 0;
                while expected < PAYLOADS {
                    assert_eq!(sub.next().await, Some(Ok(expected)));
                    expected += 1;
                }
                expected
            })
        })
        .collect();
    let writer = {
        let ee = ee.clone();
        tokio::task::spawn_blocking(move || {
            for n in 0..PAYLOADS {
                ee.emit("n", n).unwrap();
            }
        })
    };
    writer.await.unwrap();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), PAYLOADS);
    }
}

#[test]
fn a_departed_subscription_cannot_end_the_one_that_took_its_place() {
    // The emit's snapshot still holds the dropped subscription's listener; when the snapshot
    // goes, that listener must not end the new subscription, which reuses its slot.
    let ee: Emitter<u32> = Emitter::new();
    let first = std::sync::Arc::new(std::sync::Mutex::new(Some(ee.subscribe("n", 4).unwrap())));
    let second = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (old, new, handle) = (
        std::sync::Arc::clone(&first),
        std::sync::Arc::clone(&second),
        ee.clone(),
    );
    ee.once("n", move |_| {
        drop(old.lock().unwrap().take());
        *new.lock().unwrap() = Some(handle.subscribe("n", 4).unwrap());
    });
    ee.emit("n", 1).unwrap();
    ee.emit("n", 2).unwrap();
    let mut second = task::spawn(second.lock().unwrap().take().unwrap());
    assert_eq!(assert_ready!(second.poll_next()), Some(Ok(2)));
    assert_pending!(second.poll_next());
    assert_eq!(ee.listener_count("n"), 1);
}

/// A reader whose subscription always has a payload ready still yields to the tasks beside it:
/// the subscription takes part in tokio's cooperative budget, as tokio's channels do.
#[tokio::test(flavor = "current_thread")]
async fn a_reader_with_payloads_always_ready_still_lets_its_neighbours_run() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const PAYLOADS: u32 = 10_000;
    let ee: Emitter<u32> = Emitter::new();
    let mut subscription = ee.subscribe("n", PAYLOADS as usize).unwrap();
    for n in 0..PAYLOADS {
        ee.emit("n", n).unwrap();
    }
    let neighbour_ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&neighbour_ran);
    tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });

    // Every payload is ready at once; without the budget this loop would read all of them
    // before the spawned task got the thread.
    let mut read_before_the_neighbour_ran = 0;
    for n in 0..PAYLOADS {
        assert_eq!(subscription.next().await, Some(Ok(n)));
        if !neighbour_ran.load(Ordering::SeqCst) {
            read_before_the_neighbour_ran += 1;
        }
    }
    assert!(neighbour_ran.load(Ordering::SeqCst));
    assert!(
        read_before_the_neighbour_ran < PAYLOADS,
        "the neighbour ran only after all {PAYLOADS} payloads were read"
    );
}
