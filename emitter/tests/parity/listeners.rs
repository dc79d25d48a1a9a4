//! Port of `test/parallel/test-event-emitter-listeners.js` and
//! `test-event-emitter-listeners-side-effects.js`. Node returns functions; the Rust port returns
//! registration ids (`rawListeners` and once-wrappers are a JavaScript artifact).

use nodebook_emitter::Emitter;

#[test]
fn case_35_listeners_returns_a_copy() {
    let ee: Emitter<()> = Emitter::new();
    assert!(ee.listeners("foo").is_empty());
    let a = ee.on("foo", |_| {});
    let mut copy = ee.listeners("foo");
    assert_eq!(copy, [a]);
    copy.clear();
    assert_eq!(ee.listeners("foo"), [a]);
    let before = ee.listeners("foo");
    let b = ee.on("foo", |_| {});
    assert_eq!(before, [a]);
    assert_eq!(ee.listeners("foo"), [a, b]);
}

#[test]
fn case_36_once_listener_is_listed_until_it_fires() {
    let ee: Emitter<()> = Emitter::new();
    let id = ee.once("foo", |_| {});
    assert_eq!(ee.listeners("foo"), [id]);
    assert!(ee.contains("foo", id));
    ee.emit("foo", ()).unwrap();
    assert!(ee.listeners("foo").is_empty());
}
