//! Admission, refusal, FIFO order, events, live control and panics.
//!
//! The first tests restate npm bagpipe's own suite (JacksonTian/bagpipe, test/bagpipe.test.js)
//! and the book's rules (section 4.3.1).

use std::sync::{Arc, Mutex};

use nodebook_bagpipe::{Bagpipe, Error, Event};
use tokio::sync::{Semaphore, oneshot};

/// A gate the test opens; calls wait on it while holding their slot.
fn gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(0))
}

async fn pass(gate: Arc<Semaphore>) {
    gate.acquire().await.expect("gate closed").forget();
}

fn record(pipe: &Bagpipe, name: &'static str) -> Arc<Mutex<Vec<String>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    pipe.events().on(name, move |event: &Event| {
        let entry = match event {
            Event::Full { queued } => format!("full {queued}"),
            Event::Drain => "drain".to_owned(),
            other => format!("{other:?}"),
        };
        sink.lock().unwrap().push(entry);
    });
    log
}

#[tokio::test]
async fn limit_two_queue_two_admits_four_and_refuses_the_fifth() {
    let pipe = Bagpipe::builder(2).refuse(true).build();
    let open = gate();
    let calls: Vec<_> = (0..4).map(|_| pipe.push(pass(Arc::clone(&open)))).collect();
    let fifth = pipe.push(pass(Arc::clone(&open)));
    assert!(fifth.is_finished(), "the refusal is decided inside push");
    match fifth.await {
        Err(Error::TooMuchAsyncCall {
            limit: 2,
            queue_length: 2,
            queued: 2,
        }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!((pipe.active(), pipe.queued()), (2, 2));
    open.add_permits(4);
    for call in calls {
        call.await.unwrap();
    }
    let stats = pipe.stats();
    assert_eq!((stats.admitted, stats.refused, stats.completed), (4, 1, 4));
}

#[tokio::test]
async fn queue_length_is_the_ratio_of_the_original() {
    // npm bagpipe's `ratio: 2` with limit 2: two run, four wait, the seventh is refused.
    let pipe = Bagpipe::builder(2).queue_length(4).refuse(true).build();
    let open = gate();
    let calls: Vec<_> = (0..6).map(|_| pipe.push(pass(Arc::clone(&open)))).collect();
    assert!(matches!(
        pipe.push(async {}).await,
        Err(Error::TooMuchAsyncCall { queued: 4, .. })
    ));
    open.add_permits(6);
    for call in calls {
        call.await.unwrap();
    }
}

#[tokio::test]
async fn without_refuse_the_queue_grows_past_its_length() {
    let pipe = Bagpipe::new(1);
    let open = gate();
    let calls: Vec<_> = (0..10)
        .map(|_| pipe.push(pass(Arc::clone(&open))))
        .collect();
    assert_eq!((pipe.active(), pipe.queued()), (1, 9));
    open.add_permits(10);
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(pipe.stats().refused, 0);
}

#[tokio::test]
async fn full_fires_on_each_push_that_leaves_two_or_more_waiting() {
    let pipe = Bagpipe::builder(1).queue_length(3).refuse(true).build();
    let log = record(&pipe, Event::FULL);
    let open = gate();
    let calls: Vec<_> = (0..4).map(|_| pipe.push(pass(Arc::clone(&open)))).collect();
    assert_eq!(*log.lock().unwrap(), ["full 2", "full 3"]);
    // A refusal while three wait fires `full` too, as the book's push checks after refusing.
    assert!(pipe.push(async {}).await.is_err());
    assert_eq!(*log.lock().unwrap(), ["full 2", "full 3", "full 3"]);
    open.add_permits(4);
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(log.lock().unwrap().len(), 3, "no `full` on dequeue");
}

#[tokio::test]
async fn drain_fires_when_the_last_waiter_leaves_the_queue() {
    let pipe = Bagpipe::new(1);
    let log = record(&pipe, Event::DRAIN);
    let open = gate();
    let calls: Vec<_> = (0..3).map(|_| pipe.push(pass(Arc::clone(&open)))).collect();
    assert!(log.lock().unwrap().is_empty());
    open.add_permits(3);
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(*log.lock().unwrap(), ["drain"]);
}

#[tokio::test]
async fn calls_start_in_push_order() {
    let pipe = Bagpipe::new(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let open = gate();
    let first = pipe.push(pass(Arc::clone(&open)));
    let calls: Vec<_> = (0..5)
        .map(|n| {
            let order = Arc::clone(&order);
            pipe.push(async move { order.lock().unwrap().push(n) })
        })
        .collect();
    open.add_permits(1);
    first.await.unwrap();
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn run_waits_behind_pushed_calls_and_may_borrow() {
    let pipe = Bagpipe::new(1);
    let open = gate();
    let first = pipe.push(pass(Arc::clone(&open)));
    let local = String::from("borrowed");
    let (started_tx, started_rx) = oneshot::channel();
    let run = async {
        let _ = started_tx.send(());
        pipe.run(async { local.len() }).await
    };
    let release = async {
        started_rx.await.unwrap();
        assert_eq!(pipe.queued(), 1);
        open.add_permits(1);
    };
    let (ran, ()) = tokio::join!(run, release);
    assert_eq!(ran.unwrap(), 8);
    first.await.unwrap();
}

#[tokio::test]
async fn raising_the_limit_admits_waiters_at_once() {
    let pipe = Bagpipe::new(1);
    let open = gate();
    let calls: Vec<_> = (0..4).map(|_| pipe.push(pass(Arc::clone(&open)))).collect();
    assert_eq!((pipe.active(), pipe.queued()), (1, 3));
    pipe.set_limit(3);
    assert_eq!((pipe.limit(), pipe.active(), pipe.queued()), (3, 3, 1));
    open.add_permits(4);
    for call in calls {
        call.await.unwrap();
    }
}

#[tokio::test]
async fn lowering_the_limit_never_preempts_and_holds_new_admissions() {
    let pipe = Bagpipe::new(3);
    let open = gate();
    let running: Vec<_> = (0..3).map(|_| pipe.push(pass(Arc::clone(&open)))).collect();
    pipe.set_limit(1);
    assert_eq!(pipe.active(), 3, "running calls keep their slots");
    let waiting = pipe.push(async {});
    assert_eq!(pipe.queued(), 1);
    // Two of the three finish: active drops to 1, still not below the new limit.
    open.add_permits(2);
    let mut running = running.into_iter();
    let (a, b) = (running.next().unwrap(), running.next().unwrap());
    a.await.unwrap();
    b.await.unwrap();
    assert_eq!((pipe.active(), pipe.queued()), (1, 1));
    open.add_permits(1);
    running.next().unwrap().await.unwrap();
    waiting.await.unwrap();
    assert_eq!(pipe.active(), 0);
}

#[tokio::test]
async fn limit_zero_pauses_until_raised() {
    let pipe = Bagpipe::new(0);
    let call = pipe.push(async { 1 });
    assert_eq!((pipe.active(), pipe.queued()), (0, 1));
    pipe.set_limit(1);
    assert_eq!(call.await.unwrap(), 1);
}

#[tokio::test]
async fn close_fails_waiters_lets_running_calls_finish_and_refuses_new_ones() {
    let pipe = Bagpipe::new(1);
    let log = record(&pipe, Event::DRAIN);
    let open = gate();
    let running = pipe.push(pass(Arc::clone(&open)));
    let waiting = pipe.push(async { unreachable!("a closed-out call never runs") });
    pipe.close();
    assert!(matches!(waiting.await, Err(Error::Closed)));
    assert!(matches!(pipe.push(async {}).await, Err(Error::Closed)));
    assert!(matches!(pipe.run(async {}).await, Err(Error::Closed)));
    assert_eq!(*log.lock().unwrap(), ["drain"]);
    open.add_permits(1);
    running.await.unwrap();
    assert_eq!(pipe.active(), 0);
}

#[tokio::test]
async fn disabled_runs_everything_at_once() {
    let pipe = Bagpipe::builder(1).disabled(true).refuse(true).build();
    let open = gate();
    let calls: Vec<_> = (0..5).map(|_| pipe.push(pass(Arc::clone(&open)))).collect();
    assert_eq!((pipe.active(), pipe.queued()), (0, 0));
    open.add_permits(5);
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(pipe.run(async { 2 }).await.unwrap(), 2);
}

#[tokio::test]
async fn a_panicking_push_frees_its_slot_and_names_the_panic() {
    let pipe = Bagpipe::new(1);
    let failing = pipe.push(async { panic!("database on fire") });
    let next = pipe.push(async { "next ran" });
    match failing.await {
        Err(Error::Panicked { message }) => assert_eq!(message, "database on fire"),
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(next.await.unwrap(), "next ran");
    assert_eq!(pipe.active(), 0);
    assert_eq!(pipe.stats().panicked, 1);
}

#[tokio::test]
async fn a_panicking_run_unwinds_into_the_caller_and_frees_its_slot() {
    let pipe = Bagpipe::new(1);
    let task = {
        let pipe = pipe.clone();
        tokio::spawn(async move { pipe.run(async { panic!("boom") }).await })
    };
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(pipe.active(), 0);
    assert_eq!(pipe.run(async { 1 }).await.unwrap(), 1);
}

#[test]
fn push_outside_a_runtime_is_an_error_not_a_panic() {
    let pipe = Bagpipe::new(1);
    let call = pipe.push(async {});
    assert!(matches!(
        futures::executor::block_on(call),
        Err(Error::NoRuntime)
    ));
}

#[tokio::test]
async fn dropping_a_queued_push_handle_removes_the_call() {
    let pipe = Bagpipe::new(1);
    let open = gate();
    let running = pipe.push(pass(Arc::clone(&open)));
    let dropped = pipe.push(async { unreachable!("a dropped call never runs") });
    assert_eq!(pipe.queued(), 1);
    drop(dropped);
    assert_eq!(pipe.queued(), 0);
    open.add_permits(1);
    running.await.unwrap();
    assert_eq!(pipe.run(async { 3 }).await.unwrap(), 3);
}

#[tokio::test]
async fn a_detached_push_runs_to_its_end() {
    let pipe = Bagpipe::new(1);
    let (tx, rx) = oneshot::channel();
    pipe.push(async move { tx.send(5).unwrap() }).detach();
    assert_eq!(rx.await.unwrap(), 5);
}

#[tokio::test]
async fn clones_share_one_limit() {
    let pipe = Bagpipe::new(1);
    let other = pipe.clone();
    let open = gate();
    let running = pipe.push(pass(Arc::clone(&open)));
    let waiting = other.push(async {});
    assert_eq!((other.active(), other.queued()), (1, 1));
    open.add_permits(1);
    running.await.unwrap();
    waiting.await.unwrap();
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Bagpipe>();
    send_sync::<Error>();
    send_sync::<Event>();
    send_sync::<nodebook_bagpipe::Stats>();
    send_sync::<nodebook_bagpipe::Builder>();
    send_sync::<nodebook_bagpipe::Push<()>>();
    let pipe = Bagpipe::new(1);
    let run = pipe.run(async {});
    fn send_value<T: Send>(_: &T) {}
    send_value(&run);
    send::<nodebook_bagpipe::Outdated>();
}
