//! Port of `test/parallel/test-event-emitter-add-listeners.js`.

use std::sync::{Arc, Mutex};

use nodebook_emitter::Emitter;

use crate::{Log, node_trace};

#[test]
fn case_01_listener_receives_payload_and_emit_reports_true() {
    let ee: Emitter<(&str, &str)> = Emitter::new();
    let log = Log::default();
    let seen = log.clone();
    ee.on("hello", move |(a, b)| seen.push(format!("{a}{b}")));
    assert_eq!(ee.emit("hello", ("a", "b")), Ok(true));
    assert_eq!(log.steps(), ["ab"]);
}

#[test]
fn case_03_new_listener_fires_before_the_listener_is_added() {
    let ee: Emitter<()> = Emitter::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (sink, handle) = (Arc::clone(&seen), ee.clone());
    ee.on_new_listener(move |change| {
        sink.lock().unwrap().push((
            change.event().to_string(),
            change.id(),
            handle.listeners(change.event()),
        ));
    });
    let id = ee.on("hello", |_| {});
    assert_eq!(*seen.lock().unwrap(), [("hello".to_string(), id, vec![])]);
    assert_eq!(ee.listeners("hello"), [id]);
}

#[test]
fn case_04_new_listener_sees_the_once_listener_itself() {
    let ee: Emitter<()> = Emitter::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    ee.on_new_listener(move |change| sink.lock().unwrap().push((change.id(), change.is_once())));
    let id = ee.once("foo", |_| {});
    assert_eq!(*seen.lock().unwrap(), [(id, true)]);
}

#[test]
fn case_05_listener_added_inside_new_listener_goes_first() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let (inner_log, handle) = (log.clone(), ee.clone());
    ee.once_new_listener(move |change| {
        inner_log.push(format!("new:{}", change.event()));
        handle.on("hello", inner_log.step("listen2"));
    });
    ee.on("hello", log.step("listen1"));
    ee.emit("hello", ()).unwrap();
    assert_eq!(log.steps(), node_trace("new_listener_order"));
}

#[test]
fn first_new_listener_listener_does_not_announce_itself_but_the_second_does() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let first = log.clone();
    ee.on_new_listener(move |change| first.push(format!("{}", change.event())));
    assert!(log.steps().is_empty());
    ee.on_new_listener(|_| {});
    assert_eq!(log.steps(), ["newListener"]);
}
