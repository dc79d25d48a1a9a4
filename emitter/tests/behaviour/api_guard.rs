//! `ListenerGuard`: RAII removal.

use std::sync::{Arc, Mutex};

use nodebook_emitter::Emitter;

#[test]
fn dropping_the_guard_removes_and_announces_its_listener() {
    let ee: Emitter<()> = Emitter::new();
    let removed = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&removed);
    ee.on_remove_listener(move |change| sink.lock().unwrap().push(change.id()));
    let guard = ee.guard("tick", ee.on("tick", |_| {}));
    let id = guard.id();
    assert_eq!(guard.event(), "tick");
    drop(guard);
    assert_eq!(ee.listener_count("tick"), 0);
    assert_eq!(*removed.lock().unwrap(), [id]);
}

#[test]
fn disarmed_guard_leaves_the_listener() {
    let ee: Emitter<()> = Emitter::new();
    let id = ee.guard("tick", ee.on("tick", |_| {})).disarm();
    assert!(ee.contains("tick", id));
}

#[test]
fn guard_of_a_fired_once_listener_removes_nothing_else() {
    let ee: Emitter<()> = Emitter::new();
    let guard = ee.guard("tick", ee.once("tick", |_| {}));
    let other = ee.on("tick", |_| {});
    ee.emit("tick", ()).unwrap();
    drop(guard);
    assert_eq!(ee.listeners("tick"), [other]);
}

#[test]
fn guard_outliving_the_emitter_is_harmless_and_does_not_keep_it_alive() {
    let ee: Emitter<()> = Emitter::new();
    let dropped = Arc::new(());
    let witness = Arc::clone(&dropped);
    let guard = ee.guard("tick", ee.on("tick", move |_| drop(Arc::clone(&witness))));
    drop(ee);
    assert_eq!(
        Arc::strong_count(&dropped),
        1,
        "the listener was freed with the emitter"
    );
    drop(guard);
}
