//! With the `tracing` feature, max-listener warnings are logged through `tracing`, naming the
//! event, the count, the limit and the line of the add that crossed the limit.

#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use nodebook_emitter::Emitter;

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

#[test]
fn warning_is_logged_through_tracing() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let line = tracing::subscriber::with_default(subscriber, || {
        let emitter: Emitter<()> = Emitter::new();
        emitter.set_max_listeners(1);
        emitter.on("job", |_| {});
        let line = line!() + 1;
        emitter.on("job", |_| {});
        emitter.on("job", |_| {});
        line
    });
    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        output.matches("MaxListenersExceededWarning").count(),
        1,
        "{output}"
    );
    assert!(output.contains("WARN"), "{output}");
    assert!(output.contains("count=2"), "{output}");
    assert!(output.contains("limit=1"), "{output}");
    assert!(output.contains(&format!("{}:{line}", file!())), "{output}");
}
