//! Port of `test/parallel/test-events-list.js` and
//! `test-event-emitter-special-event-names.js`.

use nodebook_emitter::Emitter;

use crate::{Log, node_trace};

#[test]
fn case_38_event_names_follow_node_key_order() {
    let ee: Emitter<()> = Emitter::new();
    for name in [
        "foo",
        "bar",
        "7",
        "__proto__",
        "toString",
        "10",
        "01",
        "baz",
    ] {
        ee.on(name, |_| {});
    }
    let bar = ee.listeners("bar")[0];
    ee.off("bar", bar);
    let names: Vec<String> = ee.event_names().iter().map(ToString::to_string).collect();
    assert_eq!(names, node_trace("event_names"));
}

#[test]
fn special_names_are_ordinary_events() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    for name in ["__proto__", "toString", "hasOwnProperty", "constructor", ""] {
        ee.on(name, log.step(name));
        assert_eq!(ee.emit(name, ()), Ok(true));
        assert_eq!(ee.listener_count(name), 1);
    }
    assert_eq!(
        log.steps(),
        ["__proto__", "toString", "hasOwnProperty", "constructor", ""]
    );
}

#[test]
fn a_name_returns_to_the_end_after_being_emptied() {
    let ee: Emitter<()> = Emitter::new();
    let a = ee.on("a", |_| {});
    ee.on("b", |_| {});
    ee.off("a", a);
    ee.on("a", |_| {});
    assert_eq!(ee.event_names(), ["b", "a"]);
}
