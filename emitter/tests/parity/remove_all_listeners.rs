//! Port of `test/parallel/test-event-emitter-remove-all-listeners.js`.

use nodebook_emitter::Emitter;

use crate::{Log, node_trace};

#[test]
fn case_19_remove_all_for_one_name_announces_each_and_spares_the_others() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let foo = ee.on("foo", |_| {});
    ee.on("bar", |_| {});
    ee.on("baz", |_| {});
    ee.on("baz", |_| {});
    let before = ee.listeners("baz");
    let seen = log.clone();
    ee.on_remove_listener(move |change| seen.push(change.event().to_string()));
    ee.remove_all_listeners(Some("bar"));
    ee.remove_all_listeners(Some("baz"));
    assert_eq!(log.steps(), ["bar", "baz", "baz"]);
    assert_eq!(ee.listeners("foo"), [foo]);
    assert_eq!(before.len(), 2, "an earlier copy is unchanged");
}

#[test]
fn case_20_remove_all_removes_remove_listener_listeners_last_and_newest_first() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    ee.on("foo", |_| {});
    ee.on("bar", |_| {});
    let first = log.clone();
    ee.on_remove_listener(move |change| first.push(format!("first:{}", change.event())));
    let second = log.clone();
    ee.on_remove_listener(move |change| second.push(format!("second:{}", change.event())));
    ee.remove_all_listeners(None);
    log.push(format!("names:{}", ee.event_names().len()));
    assert_eq!(log.steps(), node_trace("remove_all_lifo"));
}

#[test]
fn case_21_remove_all_removes_newest_first_one_at_a_time() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let ids: Vec<_> = (0..3).map(|_| ee.on("baz", |_| {})).collect();
    let (seen, handle) = (log.clone(), ee.clone());
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let removed = std::sync::Arc::clone(&order);
    ee.on_remove_listener(move |change| {
        seen.push(format!(
            "{}:{}",
            change.event(),
            handle.listener_count("baz")
        ));
        removed.lock().unwrap().push(change.id());
    });
    ee.remove_all_listeners(Some("baz"));
    assert_eq!(log.steps(), node_trace("remove_all_counts"));
    assert_eq!(
        *order.lock().unwrap(),
        ids.into_iter().rev().collect::<Vec<_>>()
    );
}

#[test]
fn case_22_remove_all_for_an_unknown_name_announces_nothing() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    ee.on_remove_listener(log.step("removeListener"));
    ee.remove_all_listeners(Some("nope"));
    assert!(log.steps().is_empty());
    assert_eq!(ee.listener_count("removeListener"), 1);
}

#[test]
fn remove_all_without_meta_listeners_clears_every_name() {
    let ee: Emitter<()> = Emitter::new();
    ee.on("foo", |_| {});
    ee.once("bar", |_| {});
    ee.remove_all_listeners(None);
    assert!(ee.event_names().is_empty());
    assert_eq!(ee.emit("foo", ()), Ok(false));
}
