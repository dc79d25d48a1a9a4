//! Port of `test/parallel/test-event-emitter-once.js`.

use nodebook_emitter::{Emitter, Listener, Mode};

use crate::{Log, node_trace};

#[test]
fn case_06_once_listener_runs_exactly_once_across_four_emits() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    ee.once("hello", log.step("hello"));
    assert_eq!(ee.emit("hello", ()), Ok(true));
    for _ in 0..3 {
        assert_eq!(ee.emit("hello", ()), Ok(false));
    }
    assert_eq!(log.steps(), ["hello"]);
    assert_eq!(ee.listener_count("hello"), 0);
}

#[test]
fn case_07_once_listener_removed_before_emit_never_runs() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let remove = Listener::new(log.step("remove"));
    ee.register("foo", &remove, Mode::Once);
    assert!(ee.remove_listener("foo", &remove));
    assert_eq!(ee.emit("foo", ()), Ok(false));
    assert!(log.steps().is_empty());

    let id = ee.once("foo", log.step("by-id"));
    assert!(ee.off("foo", id));
    assert_eq!(ee.emit("foo", ()), Ok(false));
    assert!(log.steps().is_empty());
}

#[test]
fn case_08_once_fires_once_through_nested_emits() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let (a, handle) = (log.clone(), ee.clone());
    ee.once("e", move |_| {
        a.push("A");
        handle.emit("e", ()).unwrap();
    });
    ee.once("e", log.step("B"));
    ee.emit("e", ()).unwrap();
    log.push(format!("count:{}", ee.listener_count("e")));
    assert_eq!(log.steps(), node_trace("once_nested"));
}

#[test]
fn once_listener_that_emits_itself_recursively_runs_once() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let (seen, handle) = (log.clone(), ee.clone());
    ee.once("e", move |_| {
        seen.push("once");
        assert_eq!(handle.emit("e", ()), Ok(false));
    });
    ee.emit("e", ()).unwrap();
    assert_eq!(log.steps(), ["once"]);
}

#[test]
fn once_error_listener_handles_one_error() {
    let ee: Emitter<&str> = Emitter::new();
    ee.once("error", |_| {});
    assert_eq!(ee.emit("error", "first"), Ok(true));
    assert!(ee.emit("error", "second").is_err());
}
