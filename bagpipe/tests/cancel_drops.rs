//! Cancellation: a `run` future or a push handle polled k times and then dropped, for every k
//! up to completion, leaves no slot held and no waiter stranded (after tokio's
//! `cancel_acquire_releases_permits`). Plus the known bug classes of semaphores: a lost wakeup
//! when the head waiter is cancelled, a slot granted to a waiter that is then dropped, and a
//! waiter that is never polled again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nodebook_bagpipe::Bagpipe;
use tokio::sync::Semaphore;
use tokio_test::task;
use tokio_test::{assert_pending, assert_ready, assert_ready_ok};

async fn pass(gate: Arc<Semaphore>) {
    gate.acquire().await.expect("gate closed").forget();
}

/// Settles the current-thread runtime: spawned tasks and aborts run.
async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

/// Once the holder and the call behind the victim are done: nothing is held or queued, both
/// completed and so did the victim if it `finished`, and every slot handed out came back once
/// (one the victim `held` when it was dropped is admitted without completing).
fn assert_accounted(pipe: &Bagpipe, finished: bool, held: bool, context: &str) {
    assert_eq!((pipe.active(), pipe.queued()), (0, 0), "{context}");
    let stats = pipe.stats();
    assert_eq!(
        stats.completed,
        2 + u64::from(finished),
        "{stats:?} {context}"
    );
    assert_eq!(
        stats.admitted,
        stats.completed + u64::from(held && !finished),
        "every slot handed out came back once: {stats:?} {context}"
    );
}

/// The victim's work ends one poll after the holder lets the slot go, so for every k up to the
/// victim's completion it is dropped while queued, granted but not yet running, or running.
#[test]
fn run_polled_k_times_then_dropped_leaks_nothing() {
    for release_after in 0..3 {
        let mut k = 0;
        loop {
            let pipe = Bagpipe::new(1);
            let holder_gate = Arc::new(Semaphore::new(0));
            let victim_gate = Arc::new(Semaphore::new(0));
            let mut holder = task::spawn(pipe.run(pass(Arc::clone(&holder_gate))));
            assert_pending!(holder.poll());
            let mut victim = task::spawn(pipe.run(pass(Arc::clone(&victim_gate))));
            let mut behind = task::spawn(pipe.run(async { "behind ran" }));
            let mut holder_done = false;
            let mut victim_done = false;
            for poll in 0..k {
                if poll == release_after {
                    holder_gate.add_permits(1);
                    assert_ready_ok!(holder.poll());
                    holder_done = true;
                }
                if poll == release_after + 1 {
                    victim_gate.add_permits(1);
                }
                if victim.poll().is_ready() {
                    victim_done = true;
                    break;
                }
                if poll == 0 {
                    assert_pending!(behind.poll());
                }
            }
            let held = pipe.active() > usize::from(!holder_done);
            drop(victim);
            if !holder_done {
                holder_gate.add_permits(1);
                assert_ready_ok!(holder.poll());
            }
            let context = format!("k = {k}, release after {release_after}");
            assert_eq!(
                assert_ready!(behind.poll()).unwrap(),
                "behind ran",
                "{context}"
            );
            assert_accounted(&pipe, victim_done, held, &context);
            if victim_done {
                assert_eq!(k, release_after + 2, "the victim ran once its gate opened");
                break;
            }
            k += 1;
        }
    }
}

/// As above for a push handle: the victim's task ends once its gate opens, one step after the
/// holder's; the handle is polled k times, with the runtime settled in between, then dropped.
#[tokio::test]
async fn push_handle_polled_k_times_then_dropped_leaks_nothing() {
    for release_after in 0..3 {
        let mut k = 0;
        loop {
            let pipe = Bagpipe::new(1);
            let holder_gate = Arc::new(Semaphore::new(0));
            let ran = Arc::new(AtomicBool::new(false));
            let holder = pipe.push(pass(Arc::clone(&holder_gate)));
            let victim_gate = Arc::new(Semaphore::new(0));
            let mut victim = task::spawn(pipe.push({
                let ran = Arc::clone(&ran);
                let gate = Arc::clone(&victim_gate);
                async move {
                    ran.store(true, Ordering::SeqCst);
                    pass(gate).await;
                }
            }));
            let behind = pipe.push(async { "behind ran" });
            let mut victim_done = false;
            for poll in 0..k {
                if poll == release_after {
                    holder_gate.add_permits(1);
                }
                if poll == release_after + 1 {
                    victim_gate.add_permits(1);
                }
                if victim.poll().is_ready() {
                    victim_done = true;
                    break;
                }
                settle().await;
            }
            let context = format!("k = {k}, release after {release_after}");
            let held = pipe.active() > usize::from(!holder.is_finished());
            // Its task may have ended on the last settle without the handle seeing it.
            let finished = victim_done || victim.is_finished();
            drop(victim);
            holder_gate.add_permits(1);
            settle().await;
            assert_eq!(behind.await.unwrap(), "behind ran", "{context}");
            holder.await.unwrap();
            assert_accounted(&pipe, finished, held, &context);
            if k <= release_after {
                assert!(
                    !ran.load(Ordering::SeqCst),
                    "a call dropped while queued never runs ({context})"
                );
            }
            if victim_done {
                assert_eq!(
                    k,
                    release_after + 3,
                    "the handle saw the end on the poll after its gate opened"
                );
                break;
            }
            k += 1;
        }
    }
}

#[test]
fn cancelling_the_head_waiter_wakes_the_next() {
    let pipe = Bagpipe::new(1);
    let gate = Arc::new(Semaphore::new(0));
    let mut holder = task::spawn(pipe.run(pass(Arc::clone(&gate))));
    assert_pending!(holder.poll());
    let mut head = task::spawn(pipe.run(async {}));
    let mut next = task::spawn(pipe.run(async { 2 }));
    assert_pending!(head.poll());
    assert_pending!(next.poll());
    drop(head);
    gate.add_permits(1);
    assert_ready_ok!(holder.poll());
    assert!(
        next.is_woken(),
        "the slot went past the dropped head to the next waiter"
    );
    assert_eq!(assert_ready_ok!(next.poll()), 2);
}

#[test]
fn a_slot_granted_to_a_waiter_that_is_then_dropped_passes_on() {
    let pipe = Bagpipe::new(1);
    let gate = Arc::new(Semaphore::new(0));
    let mut holder = task::spawn(pipe.run(pass(Arc::clone(&gate))));
    assert_pending!(holder.poll());
    let mut head = task::spawn(pipe.run(async {}));
    let mut next = task::spawn(pipe.run(async { 2 }));
    assert_pending!(head.poll());
    assert_pending!(next.poll());
    gate.add_permits(1);
    assert_ready_ok!(holder.poll());
    assert!(head.is_woken());
    assert_eq!(
        (pipe.active(), pipe.queued()),
        (1, 1),
        "granted to the head"
    );
    drop(head);
    assert!(next.is_woken());
    assert_eq!(assert_ready_ok!(next.poll()), 2);
    assert_eq!(pipe.active(), 0);
}

#[test]
fn a_waiter_never_polled_again_does_not_stall_the_others() {
    let pipe = Bagpipe::new(2);
    let first_gate = Arc::new(Semaphore::new(0));
    let second_gate = Arc::new(Semaphore::new(0));
    let mut first = task::spawn(pipe.run(pass(Arc::clone(&first_gate))));
    let mut second = task::spawn(pipe.run(pass(Arc::clone(&second_gate))));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    let mut idle = task::spawn(pipe.run(async {}));
    let mut busy = task::spawn(pipe.run(async { "busy ran" }));
    assert_pending!(idle.poll());
    assert_pending!(busy.poll());
    first_gate.add_permits(1);
    assert_ready_ok!(first.poll());
    second_gate.add_permits(1);
    assert_ready_ok!(second.poll());
    // `idle` holds the slot it was granted without being polled; `busy` got the other one.
    assert_eq!(assert_ready_ok!(busy.poll()), "busy ran");
    drop(idle);
    assert_eq!(pipe.active(), 0);
}

#[test]
fn many_cancelled_waiters_do_not_grow_the_queue_without_bound() {
    let pipe = Bagpipe::new(1);
    let gate = Arc::new(Semaphore::new(0));
    let mut holder = task::spawn(pipe.run(pass(Arc::clone(&gate))));
    assert_pending!(holder.poll());
    let mut keeper = task::spawn(pipe.run(async { "kept" }));
    assert_pending!(keeper.poll());
    for _ in 0..10_000 {
        let mut gone = task::spawn(pipe.run(async {}));
        assert_pending!(gone.poll());
    }
    assert_eq!(pipe.queued(), 1);
    gate.add_permits(1);
    assert_ready_ok!(holder.poll());
    assert_eq!(assert_ready_ok!(keeper.poll()), "kept");
}

/// A queued push has no task of its own; these pin down what its handle promises anyway.
mod queued_push {
    use super::*;
    use nodebook_bagpipe::Error;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn dropping_the_handle_drops_the_queued_future_at_once() {
        let pipe = Bagpipe::new(0);
        let marker = Arc::new(());
        let held = Arc::clone(&marker);
        let call = pipe.push(async move { drop(held) });
        assert_eq!(Arc::strong_count(&marker), 2, "the queue holds the future");
        drop(call);
        assert_eq!(Arc::strong_count(&marker), 1, "dropped with the handle");
        assert_eq!((pipe.active(), pipe.queued()), (0, 0));
    }

    #[tokio::test]
    async fn a_handle_dropped_after_the_grant_but_before_the_call_ran_frees_the_slot() {
        let pipe = Bagpipe::new(0);
        let ran = Arc::new(AtomicBool::new(false));
        let call = pipe.push({
            let ran = Arc::clone(&ran);
            async move { ran.store(true, Ordering::SeqCst) }
        });
        // Granted and spawned inside `set_limit`; the test's task has not yielded yet.
        pipe.set_limit(1);
        assert_eq!((pipe.active(), pipe.queued()), (1, 0));
        drop(call);
        settle().await;
        assert!(!ran.load(Ordering::SeqCst), "aborted before its first poll");
        assert_eq!(pipe.active(), 0);
        assert_eq!(pipe.run(async { 7 }).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_detached_queued_push_runs_once_a_slot_frees() {
        let pipe = Bagpipe::new(0);
        let (tx, rx) = oneshot::channel();
        pipe.push(async move { tx.send("ran").unwrap() }).detach();
        assert_eq!(pipe.queued(), 1);
        pipe.set_limit(1);
        assert_eq!(rx.await.unwrap(), "ran");
        settle().await;
        assert_eq!(pipe.active(), 0);
        assert_eq!(pipe.stats().completed, 1);
    }

    #[tokio::test]
    async fn a_handle_never_polled_sees_the_close_as_finished() {
        let pipe = Bagpipe::new(0);
        let call = pipe.push(async {});
        assert!(!call.is_finished());
        pipe.close();
        assert!(call.is_finished());
        assert!(matches!(call.await, Err(Error::Closed)));
    }

    #[tokio::test]
    async fn a_dropped_bagpipe_frees_its_detached_queued_calls() {
        let pipe = Bagpipe::new(0);
        let marker = Arc::new(());
        let held = Arc::clone(&marker);
        pipe.push(async move { drop(held) }).detach();
        assert_eq!(Arc::strong_count(&marker), 2);
        drop(pipe);
        assert_eq!(
            Arc::strong_count(&marker),
            1,
            "no cycle between the queue and its calls keeps them alive"
        );
    }

    #[tokio::test]
    async fn a_granted_handle_resolves_after_it_was_polled_while_queued() {
        let pipe = Bagpipe::new(0);
        let mut call = task::spawn(pipe.push(async { 9 }));
        assert_pending!(call.poll());
        pipe.set_limit(1);
        assert!(call.is_woken(), "the grant wakes the handle");
        let output = call.await;
        assert_eq!(output.unwrap(), 9);
    }
}
