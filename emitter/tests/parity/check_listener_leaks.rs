//! Port of `test/parallel/test-event-emitter-check-listener-leaks.js`.

use nodebook_emitter::{Emitter, default_max_listeners, set_default_max_listeners};

use crate::{collect_warnings, default_limit_lock};

#[test]
fn case_23_default_limit_warns_once_at_the_eleventh_listener() {
    let _lock = default_limit_lock();
    assert_eq!(default_max_listeners(), 10);
    let ee: Emitter<()> = Emitter::new();
    let warnings = collect_warnings(&ee);
    for _ in 0..10 {
        ee.on("default", |_| {});
    }
    assert!(warnings.lock().unwrap().is_empty());
    ee.on("default", |_| {});
    for _ in 0..5 {
        ee.on("default", |_| {});
    }
    let warnings = warnings.lock().unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        (
            warnings[0].event().as_str(),
            warnings[0].count(),
            warnings[0].limit()
        ),
        ("default", 11, 10)
    );
}

#[test]
fn case_23_each_event_name_warns_on_its_own() {
    let ee: Emitter<()> = Emitter::new();
    ee.set_max_listeners(1);
    let warnings = collect_warnings(&ee);
    for name in ["a", "b", "a", "b"] {
        ee.on(name, |_| {});
    }
    let names: Vec<_> = warnings
        .lock()
        .unwrap()
        .iter()
        .map(|w| w.event().to_string())
        .collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn case_26_limit_zero_means_unlimited() {
    let ee: Emitter<()> = Emitter::new();
    ee.set_max_listeners(0);
    let warnings = collect_warnings(&ee);
    for _ in 0..1000 {
        ee.on("unlimited", |_| {});
    }
    assert!(warnings.lock().unwrap().is_empty());
}

#[test]
fn case_27_process_default_is_read_at_add_time() {
    let _lock = default_limit_lock();
    let ee: Emitter<()> = Emitter::new();
    let warnings = collect_warnings(&ee);
    set_default_max_listeners(42);
    for _ in 0..42 {
        ee.on("fortytwo", |_| {});
    }
    assert!(warnings.lock().unwrap().is_empty());
    ee.on("fortytwo", |_| {});
    assert_eq!(warnings.lock().unwrap().len(), 1);
    warnings.lock().unwrap().clear();
    ee.remove_all_listeners(Some("fortytwo"));

    set_default_max_listeners(44);
    for _ in 0..44 {
        ee.on("fortytwo", |_| {});
    }
    assert!(warnings.lock().unwrap().is_empty());
    ee.on("fortytwo", |_| {});
    assert_eq!(warnings.lock().unwrap()[0].count(), 45);
    set_default_max_listeners(10);
}

#[test]
fn case_28_own_limit_wins_over_the_process_default() {
    let _lock = default_limit_lock();
    set_default_max_listeners(42);
    let ee: Emitter<()> = Emitter::new();
    let warnings = collect_warnings(&ee);
    assert_eq!(ee.set_max_listeners(1).max_listeners(), 1);
    ee.on("foo", |_| {});
    ee.on("foo", |_| {});
    set_default_max_listeners(10);
    assert_eq!(warnings.lock().unwrap().len(), 1);
    assert_eq!(warnings.lock().unwrap()[0].count(), 2);
}
