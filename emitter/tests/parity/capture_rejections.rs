//! Port of `test/parallel/test-event-capture-rejections.js` (case 46): async listeners whose
//! failures are routed to `"error"` or to the rejection hook (Node's
//! `Symbol.for('nodejs.rejection')`), never lost and never looping.
//!
//! Calls of one async listener run one at a time in emit order, so a last `"done"` payload
//! tells the test that every call before it has ended and had its failure routed.
//!
//! Not ported: the option validation (`captureRejections` is always on for `on_async`), the
//! global switch, and thenables (a Rust future is a future). Node's hook also receives the
//! emit's arguments; here a listener puts what it needs into its error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nodebook_emitter::{AsyncFailure, Emitter};
use tokio::sync::mpsc;

/// An async listener that fails with `"kaboom"` and reports `"done"` payloads on `done`.
fn failing(
    done: mpsc::UnboundedSender<()>,
) -> impl Fn(String) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
+ Send
+ Sync
+ 'static {
    move |payload: String| {
        let done = done.clone();
        Box::pin(async move {
            tokio::task::yield_now().await;
            if payload == "done" {
                done.send(()).unwrap();
                Ok(())
            } else {
                Err(format!("kaboom from {payload}"))
            }
        })
    }
}

#[tokio::test]
async fn an_err_is_emitted_as_error_exactly_once() {
    let ee: Emitter<String> = Emitter::new();
    let (done, mut finished) = mpsc::unbounded_channel();
    let (errors_tx, mut errors) = mpsc::unbounded_channel();
    ee.on_async("something", failing(done));
    ee.on("error", move |err: &String| {
        errors_tx.send(err.clone()).unwrap()
    });
    assert_eq!(ee.emit("something", "value".to_string()), Ok(true));
    ee.emit("something", "done".to_string()).unwrap();
    finished.recv().await.unwrap();
    assert_eq!(errors.recv().await.unwrap(), "kaboom from value");
    assert!(errors.try_recv().is_err(), "exactly once");
}

#[tokio::test]
async fn two_failing_listeners_emit_error_twice() {
    let ee: Emitter<String> = Emitter::new();
    let (done, mut finished) = mpsc::unbounded_channel();
    let count = Arc::new(AtomicUsize::new(0));
    ee.on_async("something", failing(done.clone()));
    ee.on_async("something", failing(done));
    let seen = Arc::clone(&count);
    ee.on("error", move |err: &String| {
        assert_eq!(err, "kaboom from value");
        seen.fetch_add(1, Ordering::Relaxed);
    });
    ee.emit("something", "value".to_string()).unwrap();
    ee.emit("something", "done".to_string()).unwrap();
    finished.recv().await.unwrap();
    finished.recv().await.unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn the_rejection_hook_receives_the_failure_and_the_event_instead_of_error() {
    let ee: Emitter<String> = Emitter::new();
    let (done, mut finished) = mpsc::unbounded_channel();
    let (failures_tx, mut failures) = mpsc::unbounded_channel();
    ee.on_async("something", failing(done));
    ee.on("error", |_: &String| panic!("the hook comes first"));
    ee.set_rejection_hook(move |failure: AsyncFailure<String>| {
        failures_tx.send(failure).unwrap();
    });
    ee.emit("something", "42".to_string()).unwrap();
    ee.emit("something", "done".to_string()).unwrap();
    finished.recv().await.unwrap();
    match failures.recv().await.unwrap() {
        AsyncFailure::Err { event, error } => {
            assert_eq!(event, "something");
            assert_eq!(error, "kaboom from 42");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(failures.try_recv().is_err());
}

#[tokio::test]
async fn a_failing_async_error_listener_does_not_loop() {
    // Node's avoidLoopOnError: the error listener's own failure is not emitted as "error".
    let ee: Emitter<String> = Emitter::new();
    let (done, mut finished) = mpsc::unbounded_channel();
    let sync_errors = Arc::new(AtomicUsize::new(0));
    let async_errors = Arc::new(AtomicUsize::new(0));
    ee.on_async("something", failing(done.clone()));
    let seen = Arc::clone(&sync_errors);
    ee.on("error", move |_: &String| {
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let calls = Arc::clone(&async_errors);
    ee.on_async("error", move |err: String| {
        let (calls, done) = (Arc::clone(&calls), done.clone());
        async move {
            calls.fetch_add(1, Ordering::Relaxed);
            done.send(()).unwrap();
            Err(format!("{err}, and the handler failed too"))
        }
    });
    ee.emit("something", "value".to_string()).unwrap();
    ee.emit("something", "done".to_string()).unwrap();
    finished.recv().await.unwrap(); // the async error listener ran
    finished.recv().await.unwrap(); // "done" went through "something"
    assert_eq!(sync_errors.load(Ordering::Relaxed), 1);
    assert_eq!(async_errors.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn after_an_error_listener_panicked_failures_are_still_routed() {
    // Node's resetCaptureOnThrowInError: a throwing 'error' handler does not switch capture off.
    let ee: Emitter<String> = Emitter::new();
    let (done, mut finished) = mpsc::unbounded_channel();
    ee.on_async("something", failing(done.clone()));
    ee.once("error", |err: &String| panic!("rethrown: {err}"));
    ee.emit("something", "first".to_string()).unwrap();
    ee.emit("something", "done".to_string()).unwrap();
    finished.recv().await.unwrap();
    assert_eq!(ee.listener_count("error"), 0, "the once listener ran");

    let (errors_tx, mut errors) = mpsc::unbounded_channel();
    ee.on_async("something2", failing(done));
    ee.on("error", move |err: &String| {
        errors_tx.send(err.clone()).unwrap()
    });
    ee.emit("something2", "second".to_string()).unwrap();
    assert_eq!(errors.recv().await.unwrap(), "kaboom from second");
}
