//! With the `tracing` feature, the limiter's decisions are `tracing` events at debug level,
//! target `nodebook_bagpipe`, with their figures as fields.
#![cfg(feature = "tracing")]

use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, Error};
use nodebook_test_support::Captured;

#[tokio::test(flavor = "current_thread")]
async fn a_refusal_is_a_debug_event_with_the_limit_and_the_queue() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::DEBUG);
    let pipe = Bagpipe::builder(1).queue_length(0).refuse(true).build();
    let busy = pipe.push(std::future::pending::<()>());

    let refused = pipe.run(async {}).await;

    assert!(matches!(refused, Err(Error::TooMuchAsyncCall { .. })));
    let line = captured.line_with("refused a call");
    for field in [
        "DEBUG",
        "nodebook_bagpipe",
        "limit=1",
        "queue_length=0",
        "queued=0",
    ] {
        assert!(line.contains(field), "{field} missing in {line:?}");
    }
    drop(busy);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn queue_and_call_timeouts_are_debug_events_with_their_deadline() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::DEBUG);
    let pipe = Bagpipe::builder(1)
        .timeout(Duration::from_millis(30))
        .queue_timeout(Duration::from_millis(10))
        .build();
    let running = pipe.push(std::future::pending::<()>());

    let waited = pipe.run(async {}).await;
    let ran = running.await;

    assert!(matches!(waited, Err(Error::QueueTimeout { .. })));
    assert!(matches!(ran, Err(Error::Timeout { .. })));
    let queue = captured.line_with("queue timeout");
    assert!(queue.contains("queue_timeout=10ms"), "{queue}");
    let call = captured.line_with("call timeout");
    assert!(call.contains("timeout=30ms"), "{call}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_limit_change_is_a_debug_event_and_quiet_calls_log_nothing() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::DEBUG);
    let pipe = Bagpipe::new(2);

    pipe.run(async {}).await.unwrap();
    assert!(captured.lines().is_empty(), "{:?}", captured.lines());
    pipe.set_limit(5);

    let line = captured.line_with("limit changed");
    assert!(line.contains("from=2 to=5"), "{line}");
}
