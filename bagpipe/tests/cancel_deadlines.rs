//! Cancellation at the timer await points: a `run` future or a push handle, on a bagpipe with an
//! execution `timeout`, a `queue_timeout`, both, or `OnTimeout::Detach`, is polled k times on
//! paused time (one 10 ms step between polls) and then dropped, for k = 0, 1, 2, … until it
//! completes (the method of tokio's `cancel_acquire_releases_permits`). After every drop no
//! slot is held, nobody waits, the waiter queued behind it runs, a fresh call gets a slot at
//! once, and the counters account for every call.
//!
//! The schedule, on a bagpipe of limit 1: a holder takes the slot at 0 ms and lets it go at
//! 30 ms; the victim arrives at 0 ms, waits in the queue, and its own work takes 50 ms once it
//! runs. Dropped at k, the victim is cancelled at 10·k ms: before, at or after its queue
//! deadline, while it waits, once it holds the slot, while it runs under its execution deadline.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, Error, OnTimeout};
use tokio::sync::Semaphore;
use tokio::time::{Instant, advance, sleep};
use tokio_test::task;
use tokio_test::{assert_pending, assert_ready, assert_ready_ok};

/// Paused time between two polls of the victim.
const STEP: Duration = Duration::from_millis(10);
/// When the holder lets its slot go.
const RELEASE_AT: Duration = Duration::from_millis(30);
/// How long the victim's own work takes once it runs.
const WORK: Duration = Duration::from_millis(50);

/// How a victim that is never dropped ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Timeout,
    QueueTimeout,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    timeout: Option<Duration>,
    queue_timeout: Option<Duration>,
    on_timeout: OnTimeout,
    /// The victim's end when it is polled to completion, and when it comes.
    ends: (Outcome, Duration),
}

const CASES: [Case; 5] = [
    // Dispatched at 30 ms, times out at 70 ms.
    Case {
        timeout: Some(Duration::from_millis(40)),
        queue_timeout: None,
        on_timeout: OnTimeout::Cancel,
        ends: (Outcome::Timeout, Duration::from_millis(70)),
    },
    // Gives up in the queue at 20 ms, while the holder still runs.
    Case {
        timeout: None,
        queue_timeout: Some(Duration::from_millis(20)),
        on_timeout: OnTimeout::Cancel,
        ends: (Outcome::QueueTimeout, Duration::from_millis(20)),
    },
    // Both deadlines armed; the slot comes at 30 ms, before the queue deadline at 35 ms.
    Case {
        timeout: Some(Duration::from_millis(40)),
        queue_timeout: Some(Duration::from_millis(35)),
        on_timeout: OnTimeout::Cancel,
        ends: (Outcome::Timeout, Duration::from_millis(70)),
    },
    // Both deadlines armed; the queue deadline at 20 ms comes first.
    Case {
        timeout: Some(Duration::from_millis(40)),
        queue_timeout: Some(Duration::from_millis(20)),
        on_timeout: OnTimeout::Cancel,
        ends: (Outcome::QueueTimeout, Duration::from_millis(20)),
    },
    // A late call is detached (`push`) or cancelled (`run`, which borrows).
    Case {
        timeout: Some(Duration::from_millis(40)),
        queue_timeout: None,
        on_timeout: OnTimeout::Detach,
        ends: (Outcome::Timeout, Duration::from_millis(70)),
    },
];

impl Case {
    fn pipe(&self) -> Bagpipe {
        let mut builder = Bagpipe::builder(1).on_timeout(self.on_timeout);
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        if let Some(queue_timeout) = self.queue_timeout {
            builder = builder.queue_timeout(queue_timeout);
        }
        builder.build()
    }

    /// The victim's end at `at` since the start, checked against the table.
    fn check_end(&self, result: Result<(), Error>, at: Duration, k: usize) {
        let outcome = match result {
            Err(Error::Timeout { timeout }) => {
                assert_eq!(Some(timeout), self.timeout, "{self:?}");
                Outcome::Timeout
            }
            Err(Error::QueueTimeout { queue_timeout }) => {
                assert_eq!(Some(queue_timeout), self.queue_timeout, "{self:?}");
                Outcome::QueueTimeout
            }
            other => panic!("{self:?} k = {k}: unexpected end {other:?}"),
        };
        assert_eq!((outcome, at), self.ends, "{self:?} k = {k}");
    }
}

async fn pass(gate: Arc<Semaphore>) {
    gate.acquire().await.expect("gate closed").forget();
}

/// The victim's work: its clock starts when it is first polled, not when it is made.
async fn work() {
    sleep(WORK).await;
}

/// Settles the current-thread runtime: spawned tasks, fired timers and aborts run.
async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

/// What the counters must say once the holder, the victim and the waiter behind it are done.
/// `cancelled` tells whether the victim was dropped before it ended, `held` whether it held the
/// slot at that moment.
fn check_stats(pipe: &Bagpipe, cancelled: bool, held: bool, context: &str) {
    let stats = pipe.stats();
    assert_eq!(
        stats.admitted,
        stats.completed + stats.timeouts + stats.panicked + u64::from(cancelled && held),
        "every slot handed out came back once: {stats:?} ({context})"
    );
    assert_eq!(
        3,
        stats.completed + stats.timeouts + stats.queue_timeouts + u64::from(cancelled),
        "every call ended one way: {stats:?} ({context})"
    );
    assert_eq!(
        stats.completed, 2,
        "the holder and the waiter behind completed, the victim never did ({context})"
    );
}

#[tokio::test(start_paused = true)]
async fn run_dropped_after_k_polls_under_each_deadline_leaks_nothing() {
    for case in CASES {
        let mut k = 0;
        loop {
            let pipe = case.pipe();
            let start = Instant::now();
            let gate = Arc::new(Semaphore::new(0));
            let mut holder = task::spawn(pipe.run(pass(Arc::clone(&gate))));
            assert_pending!(holder.poll());
            let mut holder_done = false;
            let mut victim = task::spawn(pipe.run(work()));
            let mut ended = None;
            for _ in 0..k {
                if let Poll::Ready(result) = victim.poll() {
                    ended = Some(result);
                    break;
                }
                advance(STEP).await;
                if !holder_done && start.elapsed() >= RELEASE_AT {
                    gate.add_permits(1);
                    assert_ready_ok!(holder.poll());
                    holder_done = true;
                }
            }
            let context = format!("{case:?} k = {k}");
            let held = pipe.active() > usize::from(!holder_done);
            // A waiter queued behind the victim when it goes.
            let mut behind = task::spawn(pipe.run(async { "behind ran" }));
            let behind_early = behind.poll();
            let at = start.elapsed();
            drop(victim);
            if !holder_done {
                gate.add_permits(1);
                assert_ready_ok!(holder.poll());
            }
            let behind_result = match behind_early {
                Poll::Ready(result) => result,
                Poll::Pending => {
                    assert!(
                        behind.is_woken(),
                        "the slot reached the next waiter ({context})"
                    );
                    assert_ready!(behind.poll())
                }
            };
            assert_eq!(behind_result.unwrap(), "behind ran", "{context}");
            assert_eq!((pipe.active(), pipe.queued()), (0, 0), "{context}");
            check_stats(&pipe, ended.is_none(), held, &context);
            let mut fresh = task::spawn(pipe.run(async { 7 }));
            assert_eq!(assert_ready_ok!(fresh.poll()), 7, "{context}");
            if let Some(result) = ended {
                case.check_end(result, at, k);
                break;
            }
            k += 1;
        }
        assert!(k > 2, "{case:?}: the victim ended only after its deadline");
    }
}

#[tokio::test(start_paused = true)]
async fn push_handle_dropped_after_k_polls_under_each_deadline_leaks_nothing() {
    for case in CASES {
        let mut k = 0;
        loop {
            let pipe = case.pipe();
            let start = Instant::now();
            let gate = Arc::new(Semaphore::new(0));
            let holder = pipe.push(pass(Arc::clone(&gate)));
            let mut released = false;
            let mut victim = task::spawn(pipe.push(work()));
            let mut ended = None;
            for _ in 0..k {
                if let Poll::Ready(result) = victim.poll() {
                    ended = Some(result);
                    break;
                }
                advance(STEP).await;
                settle().await;
                if !released && start.elapsed() >= RELEASE_AT {
                    gate.add_permits(1);
                    released = true;
                    settle().await;
                    assert!(holder.is_finished(), "the holder let its slot go");
                }
            }
            let context = format!("{case:?} k = {k}");
            let held = pipe.active() > usize::from(!released);
            // A waiter queued behind the victim when it goes.
            let behind = pipe.push(async { "behind ran" });
            // The victim's task may have ended on the last step without its handle seeing it.
            let cancelled = ended.is_none() && !victim.is_finished();
            let at = start.elapsed();
            drop(victim);
            settle().await;
            if !released {
                gate.add_permits(1);
            }
            assert_eq!(behind.await.unwrap(), "behind ran", "{context}");
            holder.await.unwrap();
            assert_eq!((pipe.active(), pipe.queued()), (0, 0), "{context}");
            check_stats(&pipe, cancelled, held, &context);
            // A detached late call finishes outside the limit; a cancelled one never reports.
            advance(WORK).await;
            settle().await;
            // Only the victim can time out; its task may have done so unseen by the handle.
            let late = case.on_timeout == OnTimeout::Detach && pipe.stats().timeouts == 1;
            assert_eq!(pipe.stats().outdated, u64::from(late), "{context}");
            assert_eq!(pipe.active(), 0, "{context}");
            let mut fresh = task::spawn(pipe.push(async { 7 }));
            settle().await;
            assert_eq!(assert_ready_ok!(fresh.poll()), 7, "{context}");
            if let Some(result) = ended {
                case.check_end(result, at, k);
                break;
            }
            k += 1;
        }
        assert!(k > 2, "{case:?}: the victim ended only after its deadline");
    }
}
