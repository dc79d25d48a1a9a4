//! Model checks of the queue hand-off under loom, through the permit API itself: the waiting
//! future (`waiter`), the permits (`permit`) and the handles (`bagpipe`), racing a permit freed
//! while its heir is cancelled, `close` against an admission, `set_limit` against both, and the
//! last handle's drop against a waiter.
//!
//! Futures are polled by hand with a waker that counts its wake-ups, so a model sees every lost
//! wake-up: a waiter that is pending at its last poll and decided afterwards must have been
//! woken. Nothing here touches tokio (no deadlines are set), which loom cannot see into.
//!
//! What every model checks at its end: each waiter ended exactly as its story allows, no slot
//! leaked (`active` back to 0 and the counters add up), and nothing waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use crate::{AcquireOwned, Bagpipe, Error, OwnedPermit};

/// Counts the wake-ups of one future.
#[derive(Debug)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// A waiting `acquire_owned` future, polled by hand.
struct Polled {
    future: AcquireOwned,
    wakes: Arc<Wakes>,
}

impl Polled {
    /// Starts an acquisition and polls it once.
    fn start(pipe: &Bagpipe) -> (Self, Poll<Result<OwnedPermit, Error>>) {
        let mut polled = Self {
            future: pipe.acquire_owned(),
            wakes: Arc::new(Wakes(AtomicUsize::new(0))),
        };
        let first = polled.poll();
        (polled, first)
    }

    fn poll(&mut self) -> Poll<Result<OwnedPermit, Error>> {
        let waker = Waker::from(Arc::clone(&self.wakes));
        Pin::new(&mut self.future).poll(&mut Context::from_waker(&waker))
    }

    fn wakes(&self) -> usize {
        self.wakes.0.load(Ordering::Acquire)
    }

    /// Polls a waiter that was pending; if it is decided now, it must have been woken.
    fn poll_after_race(&mut self) -> Poll<Result<OwnedPermit, Error>> {
        let before = self.wakes();
        let polled = self.poll();
        if polled.is_ready() {
            assert!(before >= 1, "a decided waiter was never woken");
        }
        polled
    }
}

/// A waiter that was queued when the model started.
fn queued(pipe: &Bagpipe) -> Polled {
    let (polled, first) = Polled::start(pipe);
    assert!(
        first.is_pending(),
        "the bagpipe was full, the caller must queue"
    );
    polled
}

fn assert_settled(pipe: &Bagpipe) {
    assert_eq!(
        (pipe.active(), pipe.queued()),
        (0, 0),
        "a slot leaked or a waiter was stranded"
    );
    let stats = pipe.stats();
    assert!(
        stats.completed <= stats.admitted,
        "more completions than admissions"
    );
}

#[test]
fn a_permit_freed_while_its_heir_is_cancelled_goes_to_the_next_waiter() {
    loom::model(|| {
        let pipe = Bagpipe::new(1);
        let held = pipe.try_acquire_owned().unwrap();
        let heir = queued(&pipe);
        let mut next = queued(&pipe);
        let releaser = thread::spawn(move || drop(held));
        let canceller = thread::spawn(move || drop(heir));
        releaser.join().unwrap();
        canceller.join().unwrap();
        let Poll::Ready(Ok(permit)) = next.poll_after_race() else {
            panic!("the freed slot did not reach the next waiter");
        };
        assert_eq!((pipe.active(), pipe.queued()), (1, 0));
        drop(permit);
        assert_settled(&pipe);
    });
}

#[test]
fn close_racing_an_admission_either_admits_it_or_turns_it_away_once() {
    loom::model(|| {
        let pipe = Bagpipe::new(1);
        let held = pipe.try_acquire_owned().unwrap();
        let closer = {
            let pipe = pipe.clone();
            thread::spawn(move || pipe.close())
        };
        let (mut caller, first) = Polled::start(&pipe);
        closer.join().unwrap();
        let outcome = match first {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => match caller.poll_after_race() {
                Poll::Ready(outcome) => outcome,
                Poll::Pending => panic!("a waiter outlived the close"),
            },
        };
        assert!(
            matches!(outcome, Err(Error::Closed)),
            "the only slot was held"
        );
        assert!(
            caller.poll().is_pending(),
            "a resolved waiter resolved again"
        );
        drop(held);
        assert_settled(&pipe);
    });
}

#[test]
fn close_racing_a_release_grants_or_turns_away_the_waiter_once() {
    loom::model(|| {
        let pipe = Bagpipe::new(1);
        let held = pipe.try_acquire_owned().unwrap();
        let mut waiter = queued(&pipe);
        let releaser = thread::spawn(move || drop(held));
        let closer = {
            let pipe = pipe.clone();
            thread::spawn(move || pipe.close())
        };
        releaser.join().unwrap();
        closer.join().unwrap();
        match waiter.poll_after_race() {
            Poll::Ready(Ok(permit)) => drop(permit),
            Poll::Ready(Err(Error::Closed)) => {}
            other => panic!("the waiter ended as {other:?}"),
        }
        assert!(waiter.wakes() <= 1, "a waiter was woken twice");
        assert_settled(&pipe);
    });
}

#[test]
fn set_limit_racing_a_release_and_a_cancel_keeps_the_limit_and_loses_no_slot() {
    loom::model(|| {
        let pipe = Bagpipe::new(1);
        let held = pipe.try_acquire_owned().unwrap();
        let cancelled = queued(&pipe);
        let mut kept = queued(&pipe);
        let releaser = thread::spawn(move || drop(held));
        let canceller = thread::spawn(move || drop(cancelled));
        let raiser = {
            let pipe = pipe.clone();
            thread::spawn(move || pipe.set_limit(2))
        };
        releaser.join().unwrap();
        canceller.join().unwrap();
        raiser.join().unwrap();
        let Poll::Ready(Ok(permit)) = kept.poll_after_race() else {
            panic!("a free slot did not reach the waiter");
        };
        assert!(pipe.active() <= 2, "more slots held than the limit");
        drop(permit);
        assert_settled(&pipe);
    });
}

#[test]
fn lowering_the_limit_while_a_slot_is_released_never_overfills() {
    loom::model(|| {
        let pipe = Bagpipe::new(2);
        let first = pipe.try_acquire_owned().unwrap();
        let second = pipe.try_acquire_owned().unwrap();
        let mut waiter = queued(&pipe);
        let releaser = thread::spawn(move || drop(first));
        let lowerer = {
            let pipe = pipe.clone();
            thread::spawn(move || pipe.set_limit(1))
        };
        releaser.join().unwrap();
        lowerer.join().unwrap();
        match waiter.poll_after_race() {
            // The release came first: the slot went to the waiter before the limit fell.
            Poll::Ready(Ok(permit)) => {
                assert_eq!(pipe.active(), 2);
                drop(second);
                drop(permit);
            }
            // The limit fell first: the waiter waits until the other slot is given back.
            Poll::Pending => {
                assert_eq!(pipe.active(), 1);
                drop(second);
                let Poll::Ready(Ok(permit)) = waiter.poll_after_race() else {
                    panic!("the slot given back did not reach the waiter");
                };
                drop(permit);
            }
            Poll::Ready(Err(error)) => panic!("the waiter failed: {error}"),
        }
        assert_settled(&pipe);
    });
}

#[test]
fn the_last_handle_dropped_at_limit_zero_ends_a_racing_waiter_with_closed() {
    loom::model(|| {
        let pipe = Bagpipe::new(0);
        let other = pipe.clone();
        let mut waiter = queued(&pipe);
        let dropper = thread::spawn(move || drop(other));
        drop(pipe);
        dropper.join().unwrap();
        match waiter.poll_after_race() {
            Poll::Ready(Err(Error::Closed)) => {}
            other => panic!("the waiter ended as {other:?} after the last handle went"),
        }
    });
}
