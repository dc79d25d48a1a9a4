//! With the `tracing` feature, the streams' decisions are `tracing` debug events, target
//! `nodebook_streams`: a size limit refusing input, a writer crossing its high-water mark.
#![cfg(feature = "tracing")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use nodebook_streams::{Error, ReadOptions, ReadStream, WriteStream};

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
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines_with(&self, text: &str) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .filter(|line| line.contains(text))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn concat_over_its_limit_is_a_debug_event_with_the_limit() {
    let captured = Captured::default();
    let _guard = captured.install();
    let options = ReadOptions::new().high_water_mark(4);
    let chunks = ReadStream::from_reader(&b"0123456789"[..], options).unwrap();

    let refused = nodebook_streams::concat(chunks, 6).await;

    assert!(matches!(
        refused,
        Err(Error::LimitExceeded { limit: 6, .. })
    ));
    let lines = captured.lines_with("over its size limit");
    assert_eq!(lines.len(), 1, "{lines:?}");
    for field in ["DEBUG", "nodebook_streams", "limit=6", "at_least=8"] {
        assert!(lines[0].contains(field), "{field} missing in {lines:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_writer_crossing_its_high_water_mark_is_one_debug_event() {
    let captured = Captured::default();
    let _guard = captured.install();
    let mut out = WriteStream::with_high_water_mark(Vec::<u8>::new(), 4);

    assert!(out.write(&b"ab"[..]).unwrap());
    assert!(!out.write(&b"cd"[..]).unwrap());
    assert!(!out.write(&b"ef"[..]).unwrap());

    let lines = captured.lines_with("high-water mark");
    assert_eq!(lines.len(), 1, "once, at the crossing: {lines:?}");
    assert!(
        lines[0].contains("buffered=4 high_water_mark=4"),
        "{lines:?}"
    );
    out.ready().await.unwrap();
    assert!(out.write(&b"gh"[..]).unwrap());
    assert!(!out.write(&b"ij"[..]).unwrap());
    assert_eq!(captured.lines_with("high-water mark").len(), 2);
}
