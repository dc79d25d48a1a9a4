//! With the `tracing` feature, the streams' decisions are `tracing` debug events, target
//! `nodebook_streams`: a size limit refusing input, a writer crossing its high-water mark.
#![cfg(feature = "tracing")]

use nodebook_streams::{Error, ReadOptions, ReadStream, WriteStream};
use nodebook_test_support::Captured;

#[tokio::test(flavor = "current_thread")]
async fn concat_over_its_limit_is_a_debug_event_with_the_limit() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::DEBUG);
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
    let _guard = captured.install(tracing::Level::DEBUG);
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
