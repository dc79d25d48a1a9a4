//! Port of `test/parallel/test-event-emitter-modify-in-emit.js`.

use nodebook_emitter::Emitter;

use crate::{Log, node_trace};

#[test]
fn case_11_listeners_added_during_emit_wait_for_the_next_emit() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let (cb1_log, handle) = (log.clone(), ee.clone());
    let cb1 = std::sync::Arc::new(std::sync::OnceLock::new());
    let own_id = std::sync::Arc::clone(&cb1);
    let id = ee.on("foo", move |_| {
        cb1_log.push("cb1");
        handle.on("foo", cb1_log.step("cb2"));
        handle.on("foo", cb1_log.step("cb3"));
        handle.off("foo", *own_id.get().unwrap());
    });
    cb1.set(id).unwrap();
    ee.emit("foo", ()).unwrap();
    log.push(format!("count:{}", ee.listener_count("foo")));
    ee.emit("foo", ()).unwrap();
    assert_eq!(log.steps(), node_trace("modify_in_emit"));
}

#[test]
fn case_12_listeners_that_remove_themselves_all_run() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for name in ["cb2", "cb3"] {
        let (log, handle, ids2) = (log.clone(), ee.clone(), std::sync::Arc::clone(&ids));
        let index = ids.lock().unwrap().len();
        let id = ee.on("foo", move |_| {
            log.push(name);
            handle.off("foo", ids2.lock().unwrap()[index]);
        });
        ids.lock().unwrap().push(id);
    }
    ee.emit("foo", ()).unwrap();
    assert_eq!(log.steps(), ["cb2", "cb3"]);
    assert_eq!(ee.listener_count("foo"), 0);
}

#[test]
fn remove_all_during_emit_does_not_stop_the_running_emit() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    let (first, handle) = (log.clone(), ee.clone());
    ee.on("foo", move |_| {
        first.push("first");
        handle.remove_all_listeners(Some("foo"));
    });
    ee.on("foo", log.step("second"));
    ee.emit("foo", ()).unwrap();
    assert_eq!(log.steps(), ["first", "second"]);
    assert_eq!(ee.emit("foo", ()), Ok(false));
}
