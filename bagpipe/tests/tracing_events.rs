//! With the `tracing` feature, the limiter's decisions are `tracing` events at debug level,
//! target `nodebook_bagpipe`, with their figures as fields.
#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, Error};

/// Everything the subscriber writes, for the test to read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs a debug-level subscriber writing here, for this thread, until the guard drops.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn line_with(&self, text: &str) -> String {
        let lines = self.lines();
        lines
            .iter()
            .find(|line| line.contains(text))
            .cloned()
            .unwrap_or_else(|| panic!("no event with {text:?} in {lines:#?}"))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_refusal_is_a_debug_event_with_the_limit_and_the_queue() {
    let captured = Captured::default();
    let _guard = captured.install();
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
    let _guard = captured.install();
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
    let _guard = captured.install();
    let pipe = Bagpipe::new(2);

    pipe.run(async {}).await.unwrap();
    assert!(captured.lines().is_empty(), "{:?}", captured.lines());
    pipe.set_limit(5);

    let line = captured.line_with("limit changed");
    assert!(line.contains("from=2 to=5"), "{line}");
}
