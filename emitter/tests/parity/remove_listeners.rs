//! Port of `test/parallel/test-event-emitter-remove-listeners.js` and the removal examples of
//! `doc/api/events.md`.

use std::sync::{Arc, Mutex};

use nodebook_emitter::{Emitter, Listener, Mode};

use crate::Log;

#[test]
fn case_10_listener_removed_during_emit_still_runs_in_that_emit() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let b = Listener::new(log.step("B"));
    let (a_log, handle, b_handle) = (log.clone(), ee.clone(), b.clone());
    ee.on("event", move |_| {
        a_log.push("A");
        handle.remove_listener("event", &b_handle);
    });
    ee.register("event", &b, Mode::On);
    ee.emit("event", ()).unwrap();
    ee.emit("event", ()).unwrap();
    assert_eq!(log.steps(), ["A", "B", "A"]);
}

#[test]
fn case_13_remove_listener_is_announced_after_the_removal() {
    let ee: Emitter<()> = Emitter::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let l1 = ee.on("hello", |_| {});
    let (sink, handle) = (Arc::clone(&seen), ee.clone());
    ee.on_remove_listener(move |change| {
        sink.lock().unwrap().push((
            change.event().to_string(),
            change.id(),
            handle.listeners("hello"),
        ));
    });
    assert!(ee.off("hello", l1));
    assert_eq!(*seen.lock().unwrap(), [("hello".to_string(), l1, vec![])]);
}

#[test]
fn case_14_removing_an_unknown_listener_is_a_silent_no_op() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    ee.on_remove_listener(log.step("removeListener"));
    ee.on("hello", |_| {});
    let l2 = Listener::new(|_: &()| {});
    assert!(!ee.remove_listener("hello", &l2));
    let other = ee.on("other", |_| {});
    ee.off("other", other);
    assert!(!ee.off("hello", other));
    assert_eq!(log.steps(), ["removeListener"]);
    assert_eq!(ee.listener_count("hello"), 1);
}

#[test]
fn case_15_remove_listener_handler_that_removes_and_emits_does_not_revive_listeners() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let remove1 = ee.on("quux", log.step("remove1"));
    let remove2 = ee.on("quux", log.step("remove2"));
    let (handler_log, handle) = (log.clone(), ee.clone());
    ee.on_remove_listener(move |change| {
        handler_log.push("handler");
        if change.id() == remove1 {
            handle.off("quux", remove2);
            handle.emit("quux", ()).unwrap();
        }
    });
    ee.off("quux", remove1);
    assert_eq!(log.steps(), ["handler", "handler"]);
    assert_eq!(ee.listener_count("quux"), 0);
}

#[test]
fn case_16_once_listener_fired_by_emit_is_announced_with_its_own_id() {
    let ee: Emitter<()> = Emitter::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let l1 = ee.once("hello", |_| {});
    let sink = Arc::clone(&seen);
    ee.on_remove_listener(move |change| {
        sink.lock()
            .unwrap()
            .push((change.event().to_string(), change.id(), change.is_once()));
    });
    ee.emit("hello", ()).unwrap();
    assert_eq!(*seen.lock().unwrap(), [("hello".to_string(), l1, true)]);
}

#[test]
fn case_17_removal_by_identity_removes_the_most_recent_instance() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let pong = Listener::new(log.step("pong"));
    ee.register("ping", &pong, Mode::On);
    let once = ee.register("ping", &pong, Mode::Once);
    assert!(ee.remove_listener("ping", &pong));
    assert!(!ee.contains("ping", once));
    ee.emit("ping", ()).unwrap();
    ee.emit("ping", ()).unwrap();
    assert_eq!(log.steps(), ["pong", "pong"]);
}

#[test]
fn case_18_re_adding_a_removed_listener_appends_it() {
    let ee: Emitter<()> = Emitter::new();
    let l1 = Listener::new(|_: &()| {});
    let l2 = Listener::new(|_: &()| {});
    ee.register("hello", &l1, Mode::On);
    let second = ee.register("hello", &l2, Mode::On);
    ee.remove_listener("hello", &l1);
    let third = ee.register("hello", &l1, Mode::On);
    assert_eq!(ee.listeners("hello"), [second, third]);
}

#[test]
fn removing_the_last_listener_drops_the_event_name() {
    let ee: Emitter<()> = Emitter::new();
    let id = ee.on("hello", |_| {});
    ee.off("hello", id);
    assert!(ee.event_names().is_empty());
}

#[test]
fn removal_of_a_listener_under_another_name_is_refused() {
    let ee: Emitter<()> = Emitter::new();
    let id = ee.on("a", |_| {});
    assert!(!ee.off("b", id));
    assert_eq!(ee.listener_count("a"), 1);
}
