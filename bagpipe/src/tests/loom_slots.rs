//! Model checks of the admission machine (`src/slots.rs`) under loom: every interleaving of a few
//! threads taking, giving back, handing over and cancelling slots, up to the preemption bound.
//!
//! Run with `RUSTFLAGS="--cfg bagpipe_loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p nodebook-bagpipe
//! --lib --release` (see CONTRIBUTING.md). The models drive the machine directly, without tokio,
//! which loom cannot see into.
//!
//! What every model checks at its end: no slot leaked (the active count is back to zero and the
//! release count says how many slots were taken), no waiter stranded (the queue is empty and the
//! fast path is open again, so the waiters flag was cleared), and every waiter was either granted
//! and woken exactly once, or cancelled or turned away as its story says.

use std::sync::Arc;
use std::task::{Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use futures_util::task::AtomicWaker;

use crate::slots::{
    Admission, CANCELLED, CLOSED_OUT, GRANTED, Left, Node, Slots, WAITING, wake_registered,
};

/// Counts how often the machine woke a waiter.
#[derive(Debug)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// A queued caller that counts how often the machine woke it.
#[derive(Debug)]
struct Waiter {
    node: Arc<Node<AtomicWaker>>,
    wakes: Arc<Wakes>,
    /// Decided before its waker was registered (the machine found no waker to wake).
    decided_early: bool,
}

impl Waiter {
    fn new(node: Arc<Node<AtomicWaker>>) -> Self {
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&wakes));
        let decided_early = node.poll_decided(&waker).is_ready();
        Self {
            node,
            wakes,
            decided_early,
        }
    }

    fn state(&self) -> u8 {
        self.node.state()
    }

    /// How often the waiter learned of a decision: woken by the machine (never more than
    /// once), or, when the decision landed before its waker was in place, found decided when it
    /// registered.
    fn wakes(&self) -> usize {
        let woken = self.wakes.0.load(Ordering::Acquire);
        assert!(woken <= 1, "the machine woke a waiter twice");
        let decided = matches!(self.state(), GRANTED | CLOSED_OUT);
        woken.max(usize::from(self.decided_early && decided))
    }
}

/// The outcome of one admission: admitted at once, or queued behind this waiter.
enum Taken {
    Now,
    Queued(Arc<Waiter>),
}

fn take(slots: &Slots) -> Taken {
    match slots.admit(None, AtomicWaker::new(), wake_registered) {
        Admission::Admitted(_) => Taken::Now,
        Admission::Queued { node, .. } => Taken::Queued(Arc::new(Waiter::new(node))),
        Admission::Refused { .. } => panic!("refusal is off in these models"),
        Admission::Closed => panic!("the machine was not closed"),
    }
}

fn queued(slots: &Slots) -> Arc<Waiter> {
    match take(slots) {
        Taken::Queued(waiter) => waiter,
        Taken::Now => panic!("the machine was full, the caller must queue"),
    }
}

/// A waiter that was queued ended granted and woken exactly once.
fn assert_granted_once(waiter: &Waiter) {
    assert_eq!(waiter.state(), GRANTED, "a queued caller was never granted");
    assert_eq!(
        waiter.wakes(),
        1,
        "a granted caller must be woken exactly once"
    );
}

/// Nothing is held, nothing waits, `taken` slots were taken and given back in all, and the fast
/// path is open again (a stale waiters flag would close it).
fn assert_settled(slots: &Slots, taken: u64) {
    assert_eq!(slots.released_and_active(), (taken, 0), "a slot leaked");
    assert_eq!(slots.queued(), 0, "a waiter was stranded");
    assert!(slots.try_fast(), "the fast path stayed closed");
    let _ = slots.release();
}

/// A machine of limit one whose slot is held, with one caller queued behind it.
fn full_with_one_waiter() -> (Arc<Slots>, Arc<Waiter>) {
    let slots = Arc::new(Slots::new(1));
    assert!(slots.try_fast());
    let waiter = queued(&slots);
    (slots, waiter)
}

/// Runs `work` on the machine from a thread of the model.
fn spawn_on<T, F>(slots: &Arc<Slots>, work: F) -> thread::JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce(&Slots) -> T + Send + 'static,
{
    let slots = Arc::clone(slots);
    thread::spawn(move || work(&slots))
}

#[test]
fn a_release_and_a_new_caller_racing_at_limit_one_lose_no_slot() {
    loom::model(|| {
        let slots = Arc::new(Slots::new(1));
        assert!(slots.try_fast());
        let releaser = spawn_on(&slots, |slots| {
            let _ = slots.release();
        });
        let caller = spawn_on(&slots, |slots| {
            let taken = take(slots);
            assert!(slots.active() <= 1, "more slots held than the limit");
            taken
        });
        releaser.join().unwrap();
        if let Taken::Queued(waiter) = caller.join().unwrap() {
            assert_granted_once(&waiter);
        }
        assert_eq!(slots.active(), 1);
        let _ = slots.release();
        assert_settled(&slots, 2);
    });
}

#[test]
fn three_callers_at_limit_two_each_run_once_and_hand_over() {
    loom::model(|| {
        let slots = Arc::new(Slots::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let slots = Arc::clone(&slots);
                let running = Arc::clone(&running);
                thread::spawn(move || match take(&slots) {
                    Taken::Now => {
                        let before = running.fetch_add(1, Ordering::AcqRel);
                        assert!(before < 2, "a third caller ran beside two others");
                        assert!(slots.active() <= 2, "more slots held than the limit");
                        running.fetch_sub(1, Ordering::AcqRel);
                        let _ = slots.release();
                        None
                    }
                    Taken::Queued(waiter) => Some(waiter),
                })
            })
            .collect();
        let waiters: Vec<_> = callers
            .into_iter()
            .filter_map(|caller| caller.join().unwrap())
            .collect();
        assert!(
            waiters.len() <= 1,
            "at limit 2, at most one of 3 callers waits"
        );
        for waiter in &waiters {
            assert_granted_once(waiter);
            let _ = slots.release();
        }
        assert_settled(&slots, 3);
    });
}

#[test]
fn raising_the_limit_while_a_slot_is_released_grants_both_waiters_once() {
    loom::model(|| {
        let (slots, first) = full_with_one_waiter();
        let second = queued(&slots);
        let releaser = spawn_on(&slots, |slots| {
            let _ = slots.release();
        });
        let raiser = spawn_on(&slots, |slots| {
            let _ = slots.set_limit(2);
        });
        releaser.join().unwrap();
        raiser.join().unwrap();
        assert_granted_once(&first);
        assert_granted_once(&second);
        assert_eq!(slots.active(), 2);
        let _ = slots.release();
        let _ = slots.release();
        assert_settled(&slots, 3);
    });
}

#[test]
fn lowering_the_limit_while_a_slot_is_released_never_overfills() {
    loom::model(|| {
        let slots = Arc::new(Slots::new(2));
        assert!(slots.try_fast());
        assert!(slots.try_fast());
        let waiter = queued(&slots);
        let releaser = spawn_on(&slots, |slots| {
            let _ = slots.release();
        });
        let lowerer = spawn_on(&slots, |slots| {
            let _ = slots.set_limit(1);
        });
        releaser.join().unwrap();
        lowerer.join().unwrap();
        match waiter.state() {
            GRANTED => {
                // The release came first: the slot went to the waiter before the limit fell.
                assert_eq!(waiter.wakes(), 1);
                assert_eq!(slots.active(), 2);
                let _ = slots.release();
                assert_eq!(slots.active(), 1);
                let _ = slots.release();
                assert_settled(&slots, 3);
            }
            WAITING => {
                // The limit fell first: one slot is still held, so the waiter keeps waiting until
                // it is given back.
                assert_eq!(waiter.wakes(), 0);
                assert_eq!(slots.active(), 1);
                let _ = slots.release();
                assert_granted_once(&waiter);
                let _ = slots.release();
                assert_settled(&slots, 3);
            }
            other => panic!("the waiter ended in state {other}"),
        }
    });
}

#[test]
fn a_waiter_cancelled_while_its_slot_is_handed_over_is_either_cancelled_or_gives_it_back() {
    loom::model(|| {
        let (slots, waiter) = full_with_one_waiter();
        let releaser = spawn_on(&slots, |slots| {
            let _ = slots.release();
        });
        let canceller = {
            let waiter = Arc::clone(&waiter);
            spawn_on(&slots, move |slots| {
                if slots.leave(&waiter.node) == Left::Granted {
                    // The owner of a granted node gives its slot back.
                    let _ = slots.release();
                }
            })
        };
        releaser.join().unwrap();
        canceller.join().unwrap();
        match waiter.state() {
            // Granted first: woken once, and the cancel gave the slot back.
            GRANTED => {
                assert_eq!(waiter.wakes(), 1);
                assert_settled(&slots, 2);
            }
            // Cancelled first: it never held a slot and is never woken.
            CANCELLED => {
                assert_eq!(waiter.wakes(), 0);
                assert_settled(&slots, 1);
            }
            other => panic!("the waiter ended in state {other}"),
        }
    });
}

#[test]
fn closing_while_a_slot_is_released_grants_or_turns_away_the_waiter_once() {
    loom::model(|| {
        let (slots, waiter) = full_with_one_waiter();
        let releaser = spawn_on(&slots, |slots| {
            let _ = slots.release();
        });
        let closer = spawn_on(&slots, Slots::close);
        releaser.join().unwrap();
        let turned_away = closer.join().unwrap();
        assert_eq!(waiter.wakes(), 1, "the waiter must be woken exactly once");
        match waiter.state() {
            GRANTED => {
                assert_eq!(turned_away, 0);
                assert_eq!(slots.active(), 1);
                let _ = slots.release();
            }
            CLOSED_OUT => assert_eq!(turned_away, 1),
            other => panic!("the waiter ended in state {other}"),
        }
        assert!(slots.is_closed());
        assert_eq!(slots.active(), 0, "a slot leaked");
        assert_eq!(slots.queued(), 0, "a waiter was stranded");
        assert!(!slots.try_fast(), "a closed machine admitted a caller");
    });
}

#[test]
fn a_push_handle_leaving_while_its_slot_is_handed_over_leaves_the_slot_to_its_task() {
    loom::model(|| {
        let (slots, waiter) = full_with_one_waiter();
        let releaser = spawn_on(&slots, |slots| {
            let _ = slots.release();
        });
        let leaver = {
            let waiter = Arc::clone(&waiter);
            spawn_on(&slots, move |slots| {
                // A push handle leaves a slot granted meanwhile to the call's task.
                let _ = slots.leave(&waiter.node);
            })
        };
        releaser.join().unwrap();
        leaver.join().unwrap();
        match waiter.state() {
            // Granted first: the slot stays held for the call's task, which gives it back.
            GRANTED => {
                assert_eq!(waiter.wakes(), 1);
                assert_eq!(slots.active(), 1);
                let _ = slots.release();
                assert_settled(&slots, 2);
            }
            CANCELLED => {
                assert_eq!(waiter.wakes(), 0);
                assert_settled(&slots, 1);
            }
            other => panic!("the waiter ended in state {other}"),
        }
    });
}

#[test]
fn a_refusing_caller_racing_a_handover_never_overfills_the_queue_or_the_limit() {
    loom::model(|| {
        let (slots, first) = full_with_one_waiter();
        let releaser = spawn_on(&slots, |slots| {
            let _ = slots.release();
        });
        let caller = spawn_on(&slots, |slots| {
            match slots.admit(Some(1), AtomicWaker::new(), wake_registered) {
                Admission::Admitted(_) => panic!("the slot freed belongs to the waiter"),
                Admission::Queued { node, queued } => {
                    assert_eq!(queued, 1, "a queue of one held two waiters");
                    Some(Waiter::new(node))
                }
                Admission::Refused { queued } => {
                    assert_eq!(queued, 1);
                    None
                }
                Admission::Closed => panic!("the machine was not closed"),
            }
        });
        releaser.join().unwrap();
        let second = caller.join().unwrap();
        assert_granted_once(&first);
        assert_eq!(slots.active(), 1);
        let _ = slots.release();
        let mut taken = 2;
        if let Some(second) = second {
            assert_granted_once(&second);
            let _ = slots.release();
            taken += 1;
        }
        assert_settled(&slots, taken);
    });
}
