//! Every queued call ends: it runs once a slot can still free, or it fails with `Error::Closed`
//! (or `Error::Cancelled` when its runtime is gone). Each way a queued call could outlive its
//! limiter has a test here: the last handle dropped at limit 0 (or after `set_limit(0)`), with
//! calls still running, `close` during a queue timeout, and a runtime that shuts down.

use std::sync::Arc;
use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, Error};
use tokio::sync::Semaphore;
use tokio::time::timeout;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

async fn pass(gate: Arc<Semaphore>) -> &'static str {
    gate.acquire().await.expect("gate closed").forget();
    "ran"
}

/// The reproduction: limit 0, one push, every handle dropped. The call must end within
/// a second (paused time: a hang would let the runtime jump to the deadline).
#[tokio::test(start_paused = true)]
async fn dropping_every_handle_at_limit_zero_ends_a_queued_push_with_closed() {
    let pipe = Bagpipe::new(0);
    let clone = pipe.clone();
    let call = pipe.push(async { "never" });
    drop(pipe);
    drop(clone);
    match timeout(SECOND, call).await {
        Ok(Err(Error::Closed)) => {}
        Ok(other) => panic!("expected Error::Closed, got {other:?}"),
        Err(_) => panic!("the queued call still hangs a second after the last handle went"),
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_at_limit_zero_ends_every_kind_of_waiter() {
    // A parked push, a push waiting in its own task (queue deadline), a permit, a detached push.
    let parked = Bagpipe::new(0);
    let timed = Bagpipe::builder(0).queue_timeout(10 * SECOND).build();
    let marker = Arc::new(());
    let held = Arc::clone(&marker);
    parked.push(async move { drop(held) }).detach();
    let calls = [parked.push(async {}), timed.push(async {})];
    let permit = parked.acquire_owned();
    drop((parked, timed));
    for call in calls {
        assert!(matches!(
            timeout(SECOND, call).await,
            Ok(Err(Error::Closed))
        ));
    }
    assert!(matches!(
        timeout(SECOND, permit).await,
        Ok(Err(Error::Closed))
    ));
    assert_eq!(
        Arc::strong_count(&marker),
        1,
        "the detached call's future was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn set_limit_zero_then_dropping_every_handle_ends_queued_calls_and_lets_running_ones_finish()
{
    let pipe = Bagpipe::new(1);
    let gate = Arc::new(Semaphore::new(0));
    let running = pipe.push(pass(Arc::clone(&gate)));
    let queued = pipe.push(pass(Arc::clone(&gate)));
    tokio::task::yield_now().await;
    pipe.set_limit(0);
    let watcher = pipe.acquire_owned();
    drop(pipe);
    assert!(matches!(
        timeout(SECOND, queued).await,
        Ok(Err(Error::Closed))
    ));
    assert!(matches!(
        timeout(SECOND, watcher).await,
        Ok(Err(Error::Closed))
    ));
    gate.add_permits(1);
    assert_eq!(running.await.unwrap(), "ran", "a running call finishes");
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_while_slots_are_held_lets_queued_calls_run_in_turn() {
    let pipe = Bagpipe::new(1);
    let gate = Arc::new(Semaphore::new(0));
    let running = pipe.push(pass(Arc::clone(&gate)));
    let queued = pipe.push(pass(Arc::clone(&gate)));
    let permit = pipe.acquire_owned();
    drop(pipe);
    gate.add_permits(2);
    assert_eq!(running.await.unwrap(), "ran");
    assert_eq!(
        queued.await.unwrap(),
        "ran",
        "a slot could still free, so it ran"
    );
    let permit = timeout(SECOND, permit)
        .await
        .expect("the permit got its turn");
    assert!(permit.is_ok());
}

#[tokio::test(start_paused = true)]
async fn close_during_a_queue_timeout_ends_the_waiters_with_closed() {
    let pipe = Bagpipe::builder(1).queue_timeout(100 * MS).build();
    let holder = pipe.acquire().await.unwrap();
    let pushed = pipe.push(async {});
    let mut permit = tokio_test::task::spawn(pipe.acquire());
    tokio_test::assert_pending!(permit.poll());
    tokio::time::advance(60 * MS).await;
    pipe.close();
    assert!(matches!(pushed.await, Err(Error::Closed)));
    assert!(matches!(permit.await, Err(Error::Closed)));
    tokio::time::advance(100 * MS).await;
    let stats = pipe.stats();
    assert_eq!(stats.queue_timeouts, 0, "closed, not timed out: {stats:?}");
    drop(holder);
    assert_eq!((pipe.active(), pipe.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn close_at_the_queue_deadline_ends_the_waiter_once() {
    let pipe = Bagpipe::builder(1).queue_timeout(100 * MS).build();
    let _holder = pipe.acquire().await.unwrap();
    let mut permit = tokio_test::task::spawn(pipe.acquire());
    tokio_test::assert_pending!(permit.poll());
    tokio::time::advance(100 * MS).await;
    pipe.close();
    // The close reached the waiter before it saw its deadline: the close wins.
    assert!(matches!(permit.await, Err(Error::Closed)));
    assert_eq!(pipe.stats().queue_timeouts, 0);
    assert_eq!(pipe.queued(), 0);
}

/// A runtime that shuts down drops its tasks: running calls free their slots, queued calls
/// leave the queue, and every handle resolves to `Error::Cancelled`, awaited from elsewhere.
#[test]
fn a_runtime_shutting_down_ends_its_running_and_queued_calls() {
    let parked = Bagpipe::new(1);
    let timed = Bagpipe::builder(1).queue_timeout(10 * SECOND).build();
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let (calls, waiter) = first.block_on(async {
        let calls = vec![
            parked.push(pass(Arc::clone(&gate))),
            parked.push(pass(Arc::clone(&gate))),
            timed.push(pass(Arc::clone(&gate))),
            timed.push(pass(Arc::clone(&gate))),
        ];
        let waiter = tokio::spawn({
            let parked = parked.clone();
            async move { parked.acquire_owned().await.map(drop) }
        });
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        assert_eq!((parked.active(), parked.queued()), (1, 2));
        assert_eq!((timed.active(), timed.queued()), (1, 1));
        (calls, waiter)
    });
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    second.block_on(async {
        for call in calls {
            match timeout(SECOND, call).await {
                Ok(Err(Error::Cancelled)) => {}
                other => panic!("expected Error::Cancelled, got {other:?}"),
            }
        }
        assert!(waiter.await.unwrap_err().is_cancelled());
    });
    for pipe in [&parked, &timed] {
        assert_eq!((pipe.active(), pipe.queued()), (0, 0), "{pipe:?}");
    }
    // The bagpipes still work on the new runtime.
    second.block_on(async {
        assert_eq!(parked.push(async { 1 }).await.unwrap(), 1);
        assert_eq!(timed.run(async { 2 }).await.unwrap(), 2);
    });
}
