//! Port of `test/parallel/test-event-emitter-error-monitor.js`.

use nodebook_emitter::{Emitter, Error};

use crate::Log;

#[test]
fn case_32_unhandled_error_hands_back_the_payload_itself() {
    #[derive(Debug, PartialEq)]
    struct Failure(&'static str);
    let ee: Emitter<Failure> = Emitter::new();
    assert_eq!(
        ee.emit("error", Failure("Error!")),
        Err(Error::Unhandled(Failure("Error!")))
    );
}

#[test]
fn case_34_monitor_runs_first_and_does_not_handle_the_error() {
    let ee: Emitter<&str> = Emitter::new();
    let log = Log::default();
    let monitor = log.clone();
    ee.on_error_monitor(move |e| monitor.push(format!("monitor:{e}")));
    assert_eq!(ee.emit("error", "e1"), Err(Error::Unhandled("e1")));
    let handler = log.clone();
    ee.once("error", move |e| handler.push(format!("handler:{e}")));
    assert_eq!(ee.emit("error", "e2"), Ok(true));
    assert_eq!(ee.emit("other", "e3"), Ok(false));
    assert_eq!(log.steps(), ["monitor:e1", "monitor:e2", "handler:e2"]);
}

#[test]
fn monitors_are_not_event_names_and_survive_remove_all() {
    let ee: Emitter<()> = Emitter::new();
    let id = ee.on_error_monitor(|_| {});
    ee.remove_all_listeners(None);
    assert!(ee.event_names().is_empty());
    assert_eq!(ee.error_monitor_count(), 1);
    assert_eq!(ee.listener_count("error"), 0);
    assert!(ee.off_error_monitor(id));
    assert!(!ee.off_error_monitor(id));
}

#[test]
fn monitor_that_adds_an_error_listener_gets_the_error_handled() {
    // Node reads the 'error' listeners after running the monitors.
    let ee: Emitter<()> = Emitter::new();
    let handle = ee.clone();
    ee.on_error_monitor(move |_| {
        if handle.listener_count("error") == 0 {
            handle.on("error", |_| {});
        }
    });
    assert_eq!(ee.emit("error", ()), Ok(true));
}
