//! Every time rule, on paused tokio time: execution timeout from dispatch, queue timeout from
//! the push, detached late results reported as `outdated`, slots freed on timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, Error, Event, OnTimeout, OutputError};
use tokio::time::{Instant, sleep};

const MS: Duration = Duration::from_millis(1);

/// What an `outdated` listener saw: the late output, the panic message, the run time.
type Late = (Option<Result<u32, String>>, Option<String>, Duration);

fn outdated_log(pipe: &Bagpipe) -> Arc<Mutex<Vec<Late>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    pipe.events().on(Event::OUTDATED, move |event: &Event| {
        if let Event::Outdated(late) = event {
            let taken = late
                .output::<Result<u32, String>>()
                .ok()
                .map(|output| output.clone());
            let panic = late.panic_message().map(str::to_owned);
            sink.lock().unwrap().push((taken, panic, late.elapsed()));
        }
    });
    log
}

/// A pipe of limit one that lets calls running past `timeout` finish detached, and the log of
/// its `outdated` events.
fn detaching(timeout: Duration) -> (Bagpipe, Arc<Mutex<Vec<Late>>>) {
    let pipe = Bagpipe::builder(1)
        .timeout(timeout)
        .on_timeout(OnTimeout::Detach)
        .build();
    let log = outdated_log(&pipe);
    (pipe, log)
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_answers_with_an_error_and_frees_the_slot() {
    let pipe = Bagpipe::builder(1).timeout(100 * MS).build();
    let start = Instant::now();
    let slow = pipe.push(sleep(Duration::from_secs(10)));
    let next = pipe.push(async { Instant::now() });
    match slow.await {
        Err(Error::Timeout { timeout }) => assert_eq!(timeout, 100 * MS),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(
        next.await.unwrap() - start,
        100 * MS,
        "the next call runs when the slot frees"
    );
    assert_eq!(pipe.active(), 0);
    assert_eq!(pipe.stats().timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_counts_from_dispatch_not_from_push() {
    let pipe = Bagpipe::builder(1).timeout(100 * MS).build();
    let first = pipe.push(sleep(80 * MS));
    // Waits 80ms in the queue, then runs 90ms: within its own 100ms.
    let second = pipe.push(sleep(90 * MS));
    first.await.unwrap();
    second.await.unwrap();
    assert_eq!(pipe.stats().timeouts, 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_ready_at_its_deadline_succeeds() {
    let pipe = Bagpipe::builder(1).timeout(100 * MS).build();
    assert!(pipe.push(sleep(100 * MS)).await.is_ok());
    assert!(pipe.run(sleep(100 * MS)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn run_times_out_and_cancels_even_when_detach_is_set() {
    let (pipe, log) = detaching(50 * MS);
    let finished = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&finished);
    let result = pipe
        .run(async move {
            sleep(Duration::from_secs(1)).await;
            *flag.lock().unwrap() = true;
        })
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })));
    assert_eq!(pipe.active(), 0);
    sleep(Duration::from_secs(2)).await;
    assert!(!*finished.lock().unwrap(), "the late future was dropped");
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn cancel_mode_drops_the_late_future() {
    let pipe = Bagpipe::builder(1).timeout(50 * MS).build();
    let finished = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&finished);
    let call = pipe.push(async move {
        sleep(Duration::from_secs(1)).await;
        *flag.lock().unwrap() = true;
    });
    assert!(matches!(call.await, Err(Error::Timeout { .. })));
    sleep(Duration::from_secs(2)).await;
    assert!(!*finished.lock().unwrap());
    assert_eq!(pipe.stats().outdated, 0);
}

#[tokio::test(start_paused = true)]
async fn detach_mode_reports_a_late_success_as_outdated() {
    let (pipe, log) = detaching(50 * MS);
    let call = pipe.push(async {
        sleep(200 * MS).await;
        Ok::<u32, String>(7)
    });
    assert!(matches!(call.await, Err(Error::Timeout { .. })));
    assert_eq!(
        pipe.active(),
        0,
        "the slot is freed while the late call runs on"
    );
    assert!(log.lock().unwrap().is_empty());
    sleep(Duration::from_secs(1)).await;
    assert_eq!(*log.lock().unwrap(), [(Some(Ok(7)), None, 200 * MS)]);
    assert_eq!(pipe.stats().outdated, 1);
}

/// npm hands every `outdated` listener the error; here every listener sees the late result,
/// and a listener that asks for the wrong type is told which type it is.
#[tokio::test(start_paused = true)]
async fn outdated_reaches_every_listener_with_the_late_result() {
    let (pipe, first) = detaching(10 * MS);
    let second = outdated_log(&pipe);
    let third = outdated_log(&pipe);
    let wrong = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&wrong);
    pipe.events().on(Event::OUTDATED, move |event: &Event| {
        if let Event::Outdated(late) = event {
            sink.lock().unwrap().push(late.output::<u32>().map(|n| *n));
        }
    });
    let call = pipe.push(async {
        sleep(20 * MS).await;
        Err::<u32, String>("late failure".to_owned())
    });
    assert!(matches!(call.await, Err(Error::Timeout { .. })));
    sleep(100 * MS).await;
    let expected = [(Some(Err("late failure".to_owned())), None, 20 * MS)];
    for log in [first, second, third] {
        assert_eq!(*log.lock().unwrap(), expected);
    }
    assert_eq!(
        *wrong.lock().unwrap(),
        [Err(OutputError::WrongType {
            expected: "u32",
            actual: "core::result::Result<u32, alloc::string::String>",
        })]
    );
}

#[tokio::test(start_paused = true)]
async fn detach_mode_reports_a_late_error_as_outdated() {
    // npm bagpipe's "should get BagpipeTimeoutError" test: the late error becomes `outdated`.
    let (pipe, log) = detaching(10 * MS);
    let call = pipe.push(async {
        sleep(20 * MS).await;
        Err::<u32, String>("late failure".to_owned())
    });
    assert!(matches!(call.await, Err(Error::Timeout { .. })));
    sleep(100 * MS).await;
    assert_eq!(
        *log.lock().unwrap(),
        [(Some(Err("late failure".to_owned())), None, 20 * MS)]
    );
}

#[tokio::test(start_paused = true)]
async fn detach_mode_reports_a_late_panic_as_outdated() {
    let (pipe, log) = detaching(10 * MS);
    let call = pipe.push(async {
        sleep(20 * MS).await;
        if true {
            panic!("late panic");
        }
        Ok::<u32, String>(1)
    });
    assert!(matches!(call.await, Err(Error::Timeout { .. })));
    sleep(100 * MS).await;
    assert_eq!(
        *log.lock().unwrap(),
        [(None, Some("late panic".to_owned()), 20 * MS)]
    );
}

#[tokio::test(start_paused = true)]
async fn queue_timeout_gives_up_without_running() {
    let pipe = Bagpipe::builder(1).queue_timeout(30 * MS).build();
    let start = Instant::now();
    let holder = pipe.push(sleep(100 * MS));
    let waiting =
        pipe.push(async { unreachable!("a call that timed out in the queue never runs") });
    match waiting.await {
        Err(Error::QueueTimeout { queue_timeout }) => assert_eq!(queue_timeout, 30 * MS),
        other => panic!("expected a queue timeout, got {other:?}"),
    }
    assert_eq!(Instant::now() - start, 30 * MS);
    assert_eq!(pipe.queued(), 0);
    holder.await.unwrap();
    assert_eq!(pipe.stats().queue_timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn queue_timeout_counts_from_the_push_and_does_not_bound_execution() {
    let pipe = Bagpipe::builder(1).queue_timeout(50 * MS).build();
    let holder = pipe.push(sleep(40 * MS));
    // Waits 40ms (< 50ms), then runs for a second: no deadline applies while running.
    let second = pipe.push(sleep(Duration::from_secs(1)));
    holder.await.unwrap();
    second.await.unwrap();
    assert_eq!(pipe.stats().queue_timeouts, 0);
}

#[tokio::test(start_paused = true)]
async fn run_gives_up_waiting_after_the_queue_timeout() {
    let pipe = Bagpipe::builder(1).queue_timeout(30 * MS).build();
    let holder = pipe.push(sleep(100 * MS));
    assert!(matches!(
        pipe.run(async {}).await,
        Err(Error::QueueTimeout { .. })
    ));
    assert_eq!(pipe.queued(), 0);
    holder.await.unwrap();
    assert!(pipe.run(async {}).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn both_deadlines_apply_in_turn() {
    let pipe = Bagpipe::builder(1)
        .queue_timeout(50 * MS)
        .timeout(20 * MS)
        .build();
    let first = pipe.push(sleep(Duration::from_secs(1)));
    let second = pipe.push(sleep(Duration::from_secs(1)));
    // The first times out at 20ms, so the second gets its slot before its 50ms queue deadline,
    // then times out 20ms later.
    assert!(matches!(first.await, Err(Error::Timeout { .. })));
    assert!(matches!(second.await, Err(Error::Timeout { .. })));
    let stats = pipe.stats();
    assert_eq!((stats.timeouts, stats.queue_timeouts), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_waiter_hands_no_slot_to_itself_and_keeps_order() {
    let pipe = Bagpipe::builder(1).queue_timeout(30 * MS).build();
    let order = Arc::new(Mutex::new(Vec::new()));
    let holder = pipe.push(sleep(100 * MS));
    let gives_up = pipe.push(async { unreachable!() });
    let patient = {
        let order = Arc::clone(&order);
        // Pushed 20ms later: its deadline (50ms) also passes before the slot frees at 100ms.
        sleep(20 * MS).await;
        pipe.push(async move { order.lock().unwrap().push("patient") })
    };
    assert!(matches!(gives_up.await, Err(Error::QueueTimeout { .. })));
    assert!(matches!(patient.await, Err(Error::QueueTimeout { .. })));
    holder.await.unwrap();
    assert!(order.lock().unwrap().is_empty());
    assert_eq!(pipe.queued(), 0);
    assert_eq!(pipe.active(), 0);
}

#[tokio::test(start_paused = true)]
async fn counters_tell_each_ending_apart() {
    let pipe = Bagpipe::builder(1)
        .timeout(50 * MS)
        .queue_timeout(Duration::from_secs(10))
        .build();
    assert!(pipe.push(async { 1 }).await.is_ok());
    assert!(matches!(
        pipe.push(sleep(Duration::from_secs(1))).await,
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        pipe.push(async { panic!("counted") }).await,
        Err(Error::Panicked { .. })
    ));
    // A call cancelled while it runs: admitted, never completed.
    let cancelled = pipe.push(sleep(Duration::from_secs(1)));
    tokio::task::yield_now().await;
    assert_eq!(pipe.active(), 1);
    drop(cancelled);
    tokio::task::yield_now().await;
    assert_eq!(pipe.active(), 0);
    assert!(pipe.run(async {}).await.is_ok());
    let stats = pipe.stats();
    assert_eq!(
        (
            stats.admitted,
            stats.completed,
            stats.timeouts,
            stats.panicked
        ),
        (5, 2, 1, 1)
    );
    assert_eq!(
        (stats.refused, stats.queue_timeouts, stats.outdated),
        (0, 0, 0)
    );
}
