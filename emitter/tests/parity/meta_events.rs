//! The meta events in Node's four registration forms, their removal by function and removal
//! during an emit: `test/parallel/test-event-emitter-remove-listeners.js` (its third, fifth and
//! sixth blocks), `test-event-emitter-prepend.js` and `test-event-emitter-once.js` restated for
//! `'newListener'` / `'removeListener'`. Every trace is compared with the one Node 20 recorded
//! (`tests/fixtures/gen.js`, scenarios `meta_*`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nodebook_emitter::{Emitter, Listener, ListenerChange, ListenerId, MetaEvent, Mode};

use crate::node_trace;

enum Step {
    Text(String),
    /// A meta listener `tag` saw `listener` of `event` change.
    Change(&'static str, String, ListenerId),
    /// `prefix` then the names of these listeners, joined by `/`.
    Listeners(String, Vec<ListenerId>),
}

/// A trace whose listener ids are named at the end, as Node's test names its functions.
#[derive(Clone, Default)]
struct MetaLog {
    steps: Arc<Mutex<Vec<Step>>>,
    names: Arc<Mutex<HashMap<ListenerId, &'static str>>>,
}

impl MetaLog {
    fn text(&self, text: impl Into<String>) {
        self.steps.lock().unwrap().push(Step::Text(text.into()));
    }

    fn listeners(&self, prefix: &str, ids: Vec<ListenerId>) {
        self.steps
            .lock()
            .unwrap()
            .push(Step::Listeners(prefix.to_owned(), ids));
    }

    fn name(&self, id: ListenerId, name: &'static str) -> ListenerId {
        self.names.lock().unwrap().insert(id, name);
        id
    }

    fn change(&self, tag: &'static str, change: &ListenerChange) {
        self.steps
            .lock()
            .unwrap()
            .push(Step::Change(tag, change.event().to_string(), change.id()));
    }

    /// A meta listener that records `tag:event:listener`.
    fn meta(&self, tag: &'static str) -> impl Fn(&ListenerChange) + Send + Sync + 'static {
        let log = self.clone();
        move |change| log.change(tag, change)
    }

    /// A payload listener that records `tag`.
    fn plain(&self, tag: &'static str) -> impl Fn(&()) + Send + Sync + 'static {
        let log = self.clone();
        move |()| log.text(tag)
    }

    fn steps(&self) -> Vec<String> {
        let names = self.names.lock().unwrap();
        let name = |id: &ListenerId| names.get(id).copied().unwrap_or("?");
        self.steps
            .lock()
            .unwrap()
            .iter()
            .map(|step| match step {
                Step::Text(text) => text.clone(),
                Step::Change(tag, event, id) => format!("{tag}:{event}:{}", name(id)),
                Step::Listeners(prefix, ids) => {
                    let listed: Vec<&str> = ids.iter().map(name).collect();
                    format!("{prefix}{}", listed.join("/"))
                }
            })
            .collect()
    }
}

#[test]
fn new_listener_in_all_four_forms_follows_nodes_order() {
    let ee: Emitter<()> = Emitter::new();
    let log = MetaLog::default();
    log.name(ee.on_remove_listener(log.meta("rl")), "rl");
    log.name(ee.on_new_listener(log.meta("a")), "a");
    log.name(ee.prepend_new_listener(log.meta("b")), "b");
    log.name(ee.once_new_listener(log.meta("c")), "c");
    log.name(ee.prepend_once_new_listener(log.meta("d")), "d");
    log.text("|");
    log.name(ee.on("x", log.plain("x1")), "x1");
    log.text("|");
    log.name(ee.on("x", log.plain("x2")), "x2");
    log.listeners("left:", ee.listeners("newListener"));
    assert_eq!(log.steps(), node_trace("meta_new_listener_forms"));
}

#[test]
fn remove_listener_in_all_four_forms_follows_nodes_order() {
    let ee: Emitter<()> = Emitter::new();
    let log = MetaLog::default();
    log.name(ee.on_remove_listener(log.meta("a")), "a");
    log.name(ee.prepend_remove_listener(log.meta("b")), "b");
    log.name(ee.once_remove_listener(log.meta("c")), "c");
    log.name(ee.prepend_once_remove_listener(log.meta("d")), "d");
    let x1 = log.name(ee.on("x", log.plain("x1")), "x1");
    let x2 = log.name(ee.on("x", log.plain("x2")), "x2");
    assert!(ee.off("x", x1));
    log.text("|");
    assert!(ee.off("x", x2));
    log.listeners("left:", ee.listeners("removeListener"));
    assert_eq!(log.steps(), node_trace("meta_remove_listener_forms"));
}

#[test]
fn two_once_remove_listener_listeners_each_see_one_removal() {
    let ee: Emitter<()> = Emitter::new();
    let log = MetaLog::default();
    let l1 = log.name(ee.on("hello", log.plain("l1")), "l1");
    let l2 = log.name(ee.on("hello", log.plain("l2")), "l2");
    let left = |tag: &'static str| {
        let (log, ee) = (log.clone(), ee.clone());
        move |change: &ListenerChange| {
            log.change(tag, change);
            log.listeners("hello:", ee.listeners("hello"));
        }
    };
    log.name(ee.once_remove_listener(left("A")), "A");
    ee.off("hello", l1);
    log.name(ee.once_remove_listener(left("B")), "B");
    ee.off("hello", l2);
    log.text(format!("count:{}", ee.listener_count("removeListener")));
    assert_eq!(log.steps(), node_trace("meta_once_remove_listener_in_turn"));
}

#[test]
fn a_once_remove_listener_listener_that_adds_another_and_removes_from_inside() {
    let ee: Emitter<()> = Emitter::new();
    let log = MetaLog::default();
    let l1 = log.name(ee.on("hello", log.plain("l1")), "l1");
    let l2 = log.name(ee.on("hello", log.plain("l2")), "l2");
    let outer = {
        let (log, ee) = (log.clone(), ee.clone());
        move |change: &ListenerChange| {
            log.change("A", change);
            log.listeners("hello:", ee.listeners("hello"));
            let inner = {
                let (log, ee) = (log.clone(), ee.clone());
                move |change: &ListenerChange| {
                    log.change("B", change);
                    log.listeners("hello:", ee.listeners("hello"));
                }
            };
            log.name(ee.once_remove_listener(inner), "B");
            ee.off("hello", l2);
        }
    };
    log.name(ee.once_remove_listener(outer), "A");
    ee.off("hello", l1);
    log.text(format!("count:{}", ee.listener_count("removeListener")));
    assert_eq!(log.steps(), node_trace("meta_once_remove_listener_nested"));
}

#[test]
fn a_listener_removed_during_an_emit_is_still_called_by_it() {
    let ee: Emitter<()> = Emitter::new();
    let log = MetaLog::default();
    let l4 = Listener::new(log.plain("l4"));
    let l3 = {
        let (log, ee, l4) = (log.clone(), ee.clone(), l4.clone());
        move |(): &()| {
            log.text("l3");
            ee.remove_listener("hello", &l4);
        }
    };
    ee.on("hello", l3);
    ee.register("hello", &l4, Mode::On);
    ee.emit("hello", ()).unwrap();
    log.text("|");
    ee.emit("hello", ()).unwrap();
    assert_eq!(log.steps(), node_trace("meta_removed_during_emit"));
}

#[test]
fn a_new_listener_listener_removed_during_an_announcement_is_still_called_by_it() {
    let ee: Emitter<()> = Emitter::new();
    let log = MetaLog::default();
    let b = Listener::new(log.meta("b"));
    let a = {
        let (log, ee, b) = (log.clone(), ee.clone(), b.clone());
        move |change: &ListenerChange| {
            log.change("a", change);
            if change.event() == "x" {
                ee.remove_meta_listener(MetaEvent::NewListener, &b);
            }
        }
    };
    log.name(ee.on_new_listener(a), "a");
    log.name(ee.register_meta(MetaEvent::NewListener, &b, Mode::On), "b");
    log.name(ee.on_remove_listener(log.meta("rl")), "rl");
    log.text("|");
    ee.on("x", |()| {});
    log.text("|");
    ee.on("y", |()| {});
    assert_eq!(
        log.steps(),
        node_trace("meta_new_listener_removed_during_announcement")
    );
}

#[test]
fn removal_by_function_takes_the_last_registration_in_call_order() {
    let ee: Emitter<()> = Emitter::new();
    let log = MetaLog::default();
    let a = Listener::new(log.meta("a"));
    let b = Listener::new(log.meta("b"));
    log.name(
        ee.register_meta(MetaEvent::RemoveListener, &a, Mode::On),
        "a",
    );
    log.name(
        ee.register_meta(MetaEvent::RemoveListener, &a, Mode::PrependOnce),
        "a",
    );
    log.name(ee.register_meta(MetaEvent::NewListener, &b, Mode::On), "b");
    log.name(
        ee.register_meta(MetaEvent::NewListener, &b, Mode::Once),
        "b",
    );
    log.text("|");
    assert!(ee.remove_meta_listener(MetaEvent::NewListener, &b));
    log.listeners("nl:", ee.listeners("newListener"));
    log.text("|");
    assert!(ee.remove_meta_listener(MetaEvent::RemoveListener, &a));
    log.text(format!("rl:{}", ee.listener_count("removeListener")));
    log.text("|");
    assert!(ee.remove_meta_listener(MetaEvent::NewListener, &b));
    log.text(format!("nl:{}", ee.listener_count("newListener")));
    assert!(!ee.remove_meta_listener(MetaEvent::NewListener, &b));
    assert_eq!(log.steps(), node_trace("meta_remove_by_function"));
}

#[test]
fn a_payload_listener_is_not_removed_as_a_meta_listener_or_the_other_way_round() {
    let ee: Emitter<()> = Emitter::new();
    let meta = Listener::new(|_: &ListenerChange| {});
    ee.register_meta(MetaEvent::RemoveListener, &meta, Mode::On);
    assert!(!ee.remove_meta_listener(MetaEvent::NewListener, &meta));
    assert_eq!(ee.listener_count("removeListener"), 1);
    assert!(ee.remove_meta_listener(MetaEvent::RemoveListener, &meta));
    assert_eq!(ee.listener_count("removeListener"), 0);
}

#[test]
fn remove_all_listeners_goes_from_the_end_of_the_list_not_by_age() {
    let ee: Emitter<()> = Emitter::new();
    let log = MetaLog::default();
    log.name(ee.on("x", log.plain("a")), "a");
    log.name(ee.prepend_listener("x", log.plain("b")), "b");
    log.name(ee.on("x", log.plain("c")), "c");
    log.name(ee.on_remove_listener(log.meta("rl")), "rl");
    ee.remove_all_listeners(Some("x"));
    assert_eq!(log.steps(), node_trace("remove_all_after_prepend"));
}
