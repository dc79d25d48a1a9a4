//! The permit API (`acquire`, `acquire_owned`, `try_acquire`, `try_acquire_owned`): it waits in
//! the same queue as every call, so FIFO, `queue_length` with `refuse`, `queue_timeout`, `close`
//! and `set_limit` hold for permits exactly as for `push` and `run`; and cancellation at every
//! await point of `acquire` and `acquire_owned` leaks nothing (after tokio's
//! `cancel_acquire_releases_permits`).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, Error, TryAcquireError};
use tokio_test::task;
use tokio_test::{assert_pending, assert_ready, assert_ready_err, assert_ready_ok};

const MS: Duration = Duration::from_millis(1);

/// Settles the current-thread runtime: spawned tasks and aborts run.
async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_permit_holds_its_slot_until_dropped_and_counts_as_a_completed_call() {
    let pipe = Bagpipe::new(2);
    let first = pipe.acquire().await.unwrap();
    let second = pipe.acquire_owned().await.unwrap();
    assert_eq!(pipe.active(), 2);
    assert_eq!(pipe.try_acquire().unwrap_err(), TryAcquireError::NoSlot);
    drop(first);
    assert_eq!(pipe.active(), 1);
    drop(second);
    assert_eq!(pipe.active(), 0);
    let stats = pipe.stats();
    assert_eq!((stats.admitted, stats.completed), (2, 2));
}

#[tokio::test]
async fn permits_wait_in_the_same_fifo_queue_as_pushed_and_run_calls() {
    let pipe = Bagpipe::new(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let holder = pipe.try_acquire().unwrap();
    let log = |name: &'static str| {
        let order = Arc::clone(&order);
        move || order.lock().unwrap().push(name)
    };
    let pushed = pipe.push({
        let log = log("push");
        async move { log() }
    });
    let mut permit = task::spawn(pipe.acquire());
    assert_pending!(permit.poll());
    let mut run = task::spawn(pipe.run({
        let log = log("run");
        async move { log() }
    }));
    assert_pending!(run.poll());
    assert_eq!(pipe.queued(), 3);
    drop(holder);
    pushed.await.unwrap();
    assert!(
        permit.is_woken(),
        "the push's release hands the slot to the permit"
    );
    let permit = assert_ready_ok!(permit.poll());
    log("permit")();
    assert_pending!(run.poll());
    drop(permit);
    assert_ready_ok!(run.poll());
    assert_eq!(*order.lock().unwrap(), ["push", "permit", "run"]);
}

#[tokio::test]
async fn try_acquire_never_overtakes_a_waiter() {
    let pipe = Bagpipe::new(1);
    let holder = pipe.try_acquire_owned().unwrap();
    let mut waiter = task::spawn(pipe.acquire_owned());
    assert_pending!(waiter.poll());
    drop(holder);
    // The freed slot went to the waiter, not to the caller who did not wait.
    assert_eq!(pipe.try_acquire().unwrap_err(), TryAcquireError::NoSlot);
    let permit = assert_ready_ok!(waiter.poll());
    drop(permit);
    assert!(pipe.try_acquire().is_ok());
}

#[tokio::test]
async fn a_full_queue_refuses_a_permit_in_refuse_mode() {
    let pipe = Bagpipe::builder(1).queue_length(1).refuse(true).build();
    let _holder = pipe.acquire().await.unwrap();
    let mut waiting = task::spawn(pipe.acquire());
    assert_pending!(waiting.poll());
    match pipe.acquire().await {
        Err(Error::TooMuchAsyncCall {
            limit: 1,
            queue_length: 1,
            queued: 1,
        }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(pipe.stats().refused, 1);
}

/// npm refuses every push when `refuse` is on and the queue length is 0, even with a slot
/// free; this crate takes the free slot (see the crate docs' table of differences).
#[tokio::test]
async fn refuse_with_queue_length_zero_still_takes_a_free_slot() {
    let pipe = Bagpipe::builder(1).queue_length(0).refuse(true).build();
    let permit = pipe.acquire().await.unwrap();
    assert!(matches!(
        pipe.acquire().await,
        Err(Error::TooMuchAsyncCall { queued: 0, .. })
    ));
    drop(permit);
    assert_eq!(pipe.push(async { "ran" }).await.unwrap(), "ran");
}

#[tokio::test(start_paused = true)]
async fn a_waiting_permit_gives_up_at_the_queue_timeout() {
    let pipe = Bagpipe::builder(1).queue_timeout(100 * MS).build();
    let _holder = pipe.acquire().await.unwrap();
    let start = tokio::time::Instant::now();
    match pipe.acquire_owned().await {
        Err(Error::QueueTimeout { queue_timeout }) => assert_eq!(queue_timeout, 100 * MS),
        other => panic!("expected a queue timeout, got {other:?}"),
    }
    assert_eq!(start.elapsed(), 100 * MS);
    assert_eq!((pipe.active(), pipe.queued()), (1, 0));
    assert_eq!(pipe.stats().queue_timeouts, 1);
}

#[tokio::test]
async fn close_turns_waiting_permits_away_and_refuses_new_ones() {
    let pipe = Bagpipe::new(1);
    let holder = pipe.acquire().await.unwrap();
    let mut waiting = task::spawn(pipe.acquire_owned());
    assert_pending!(waiting.poll());
    pipe.close();
    assert!(waiting.is_woken());
    assert!(matches!(assert_ready!(waiting.poll()), Err(Error::Closed)));
    assert!(matches!(pipe.acquire().await, Err(Error::Closed)));
    assert_eq!(pipe.try_acquire().unwrap_err(), TryAcquireError::Closed);
    drop(holder);
    assert_eq!(pipe.active(), 0);
}

#[tokio::test]
async fn raising_the_limit_grants_waiting_permits_at_once() {
    let pipe = Bagpipe::new(0);
    let mut first = task::spawn(pipe.acquire());
    let mut second = task::spawn(pipe.acquire());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    pipe.set_limit(2);
    assert!(first.is_woken() && second.is_woken());
    let (first, second) = (
        assert_ready_ok!(first.poll()),
        assert_ready_ok!(second.poll()),
    );
    assert_eq!((pipe.active(), pipe.queued()), (2, 0));
    drop((first, second));
}

#[tokio::test]
async fn a_disabled_bagpipe_hands_out_permits_that_hold_no_slot() {
    let pipe = Bagpipe::builder(1).disabled(true).build();
    let permits: Vec<_> = (0..3).map(|_| pipe.try_acquire().unwrap()).collect();
    let owned = pipe.acquire_owned().await.unwrap();
    assert_eq!(pipe.active(), 0);
    drop((permits, owned));
    assert_eq!(pipe.stats().admitted, 0);
}

#[test]
fn permits_and_their_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<nodebook_bagpipe::Permit<'static>>();
    send_sync::<nodebook_bagpipe::OwnedPermit>();
    send_sync::<nodebook_bagpipe::Acquire<'static>>();
    send_sync::<nodebook_bagpipe::AcquireOwned>();
}

type Acquiring<'a> = Pin<Box<dyn Future<Output = Result<Box<dyn Debug + 'a>, Error>> + 'a>>;

fn acquiring(pipe: &Bagpipe, owned: bool) -> Acquiring<'_> {
    if owned {
        let future = pipe.acquire_owned();
        Box::pin(async move { Ok(Box::new(future.await?) as Box<dyn Debug>) })
    } else {
        let future = pipe.acquire();
        Box::pin(async move { Ok(Box::new(future.await?) as Box<dyn Debug + '_>) })
    }
}

/// For every k up to its completion, a victim polled k times and then dropped (before its first
/// poll, while queued, after the grant but before it saw it, after it resolved) leaves no slot
/// held and no waiter stranded: the waiter behind it gets the slot, woken.
#[test]
fn acquire_polled_k_times_then_dropped_leaks_nothing() {
    for (owned, holder_leaves_first) in [(false, false), (false, true), (true, false), (true, true)]
    {
        for release_after in 0..3 {
            let mut k = 0;
            loop {
                let pipe = Bagpipe::new(1);
                let holder = pipe.try_acquire().unwrap();
                let mut holder = Some(holder);
                let mut victim = task::spawn(acquiring(&pipe, owned));
                let mut behind = task::spawn(acquiring(&pipe, owned));
                let mut resolved = None;
                for poll in 0..k {
                    if poll == release_after {
                        drop(holder.take());
                    }
                    if let std::task::Poll::Ready(permit) = victim.poll() {
                        resolved = Some(permit.unwrap());
                        break;
                    }
                    if poll == 0 {
                        assert_pending!(behind.poll());
                    }
                }
                let context = format!(
                    "owned {owned}, k = {k}, release after {release_after}, \
                     holder leaves first {holder_leaves_first}"
                );
                let done = resolved.is_some();
                drop(resolved);
                if holder_leaves_first {
                    // A queued victim is granted the slot here and dropped before it sees it.
                    drop(holder.take());
                }
                drop(victim);
                drop(holder.take());
                let permit = match behind.poll() {
                    std::task::Poll::Ready(permit) => permit.expect(&context),
                    std::task::Poll::Pending => panic!("the waiter behind was stranded: {context}"),
                };
                assert_eq!((pipe.active(), pipe.queued()), (1, 0), "{context}");
                drop(permit);
                assert_eq!((pipe.active(), pipe.queued()), (0, 0), "{context}");
                let stats = pipe.stats();
                assert_eq!(stats.completed, 2 + u64::from(done), "{stats:?} {context}");
                if done {
                    assert_eq!(k, release_after + 1, "{context}");
                    break;
                }
                k += 1;
            }
        }
    }
}

/// The same under a queue deadline: dropped before, at and after its deadline, a waiter never
/// counts a queue timeout it did not report, and the waiter behind it keeps its turn.
#[tokio::test(start_paused = true)]
async fn acquire_dropped_around_its_queue_deadline_leaks_nothing() {
    for owned in [false, true] {
        for ms in [0, 50, 99, 100, 150] {
            let pipe = Bagpipe::builder(1).queue_timeout(100 * MS).build();
            let holder = pipe.try_acquire().unwrap();
            let mut victim = task::spawn(acquiring(&pipe, owned));
            assert_pending!(victim.poll());
            tokio::time::advance(50 * MS).await;
            let mut behind = task::spawn(acquiring(&pipe, owned));
            assert_pending!(behind.poll());
            tokio::time::advance(ms * MS).await;
            let timed_out = if ms + 50 >= 100 {
                assert_ready_err!(victim.poll());
                true
            } else {
                assert_pending!(victim.poll());
                false
            };
            drop(victim);
            let context = format!("owned {owned}, dropped {ms} ms after the next waiter came");
            assert_eq!(
                pipe.stats().queue_timeouts,
                u64::from(timed_out),
                "{context}"
            );
            assert_eq!(pipe.queued(), 1, "{context}");
            drop(holder);
            assert!(behind.is_woken(), "{context}");
            drop(assert_ready_ok!(behind.poll()));
            assert_eq!((pipe.active(), pipe.queued()), (0, 0), "{context}");
            settle().await;
        }
    }
}

/// A loop of uncontended acquires is ready at every call, yet still lets the tasks beside it
/// run: `acquire` takes part in tokio's cooperative budget, as tokio's semaphore does.
#[tokio::test(flavor = "current_thread")]
async fn a_loop_of_uncontended_acquires_still_lets_its_neighbours_run() {
    use std::sync::atomic::{AtomicBool, Ordering};

    const CALLS: u32 = 10_000;
    let pipe = Bagpipe::new(4);
    let neighbour_ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&neighbour_ran);
    tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });

    let mut calls_before_the_neighbour_ran = 0;
    for _ in 0..CALLS {
        drop(pipe.acquire().await.unwrap());
        if !neighbour_ran.load(Ordering::SeqCst) {
            calls_before_the_neighbour_ran += 1;
        }
    }
    assert!(neighbour_ran.load(Ordering::SeqCst));
    assert!(
        calls_before_the_neighbour_ran < CALLS,
        "the neighbour ran only after all {CALLS} calls"
    );
}

/// The same for `run` with a future that is ready at once: its fast path spends the budget too.
#[tokio::test(flavor = "current_thread")]
async fn a_loop_of_uncontended_runs_still_lets_its_neighbours_run() {
    use std::sync::atomic::{AtomicBool, Ordering};

    const CALLS: u32 = 10_000;
    let pipe = Bagpipe::new(4);
    let neighbour_ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&neighbour_ran);
    tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });

    let mut calls_before_the_neighbour_ran = 0;
    for n in 0..CALLS {
        assert_eq!(pipe.run(async move { n }).await.unwrap(), n);
        if !neighbour_ran.load(Ordering::SeqCst) {
            calls_before_the_neighbour_ran += 1;
        }
    }
    assert!(neighbour_ran.load(Ordering::SeqCst));
    assert!(
        calls_before_the_neighbour_ran < CALLS,
        "the neighbour ran only after all {CALLS} calls"
    );
}
