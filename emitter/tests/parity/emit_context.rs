//! Port of `test/parallel/test-event-emitter-emit-context.js`.

use nodebook_emitter::Emitter;

#[test]
fn case_02_emit_without_listeners_returns_false_and_changes_nothing() {
    let ee: Emitter<u8> = Emitter::new();
    assert_eq!(ee.emit("x", 1), Ok(false));
    assert!(ee.event_names().is_empty());
    assert_eq!(ee.listener_count("x"), 0);
}

#[test]
fn listener_can_use_the_emitter_it_is_called_from() {
    // Node calls listeners with `this` = the emitter; in Rust a listener captures a clone.
    let ee: Emitter<u8> = Emitter::new();
    let handle = ee.clone();
    ee.on("ping", move |n| {
        if *n > 0 {
            handle.emit("ping", n - 1).unwrap();
        }
    });
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
    let seen = std::sync::Arc::clone(&count);
    ee.on("ping", move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(ee.emit("ping", 3), Ok(true));
    assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 4);
}
