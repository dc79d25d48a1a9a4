//! Case 47 of the checklist (`lib/events.js`: a throwing listener propagates out of `emit`).
//! Rust: a panicking listener propagates out of `emit`; the emitter stays usable.

use std::panic::{AssertUnwindSafe, catch_unwind};

use nodebook_emitter::Emitter;

use crate::Log;

#[test]
fn case_47_panic_propagates_and_skips_the_rest_of_that_emit() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    ee.on("boom", log.step("before"));
    ee.once("boom", |_| panic!("listener failed"));
    ee.on("boom", log.step("after"));
    let outcome = catch_unwind(AssertUnwindSafe(|| ee.emit("boom", ())));
    assert!(outcome.is_err());
    assert_eq!(log.steps(), ["before"]);
    assert_eq!(
        ee.listener_count("boom"),
        2,
        "the once listener was removed before it ran"
    );
    assert_eq!(ee.emit("boom", ()), Ok(true));
    assert_eq!(log.steps(), ["before", "before", "after"]);
}

#[test]
fn emitter_is_usable_from_every_method_after_a_panic() {
    let ee: Emitter<u8> = Emitter::new();
    let handle = ee.clone();
    ee.on("boom", move |_| {
        handle.on("added", |_| {});
        panic!("after adding");
    });
    assert!(catch_unwind(AssertUnwindSafe(|| ee.emit("boom", 1))).is_err());
    assert_eq!(ee.listener_count("added"), 1);
    ee.remove_all_listeners(None);
    assert!(ee.event_names().is_empty());
    ee.on("ok", |_| {});
    assert_eq!(ee.emit("ok", 1), Ok(true));
}

#[test]
fn panicking_new_listener_listener_prevents_the_add() {
    let ee: Emitter<()> = Emitter::new();
    ee.on_new_listener(|change| {
        if change.event() == "forbidden" {
            panic!("not allowed");
        }
    });
    assert!(catch_unwind(AssertUnwindSafe(|| ee.on("forbidden", |_| {}))).is_err());
    assert_eq!(ee.listener_count("forbidden"), 0);
    ee.on("allowed", |_| {});
    assert_eq!(ee.listener_count("allowed"), 1);
}
