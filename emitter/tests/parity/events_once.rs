//! Port of `test/parallel/test-events-once.js` (`events.once(emitter, name)`), as
//! `Emitter::once_event`. Node's `AbortSignal` becomes dropping the future.

use nodebook_emitter::{Emitter, Error};
use tokio_test::{assert_pending, assert_ready, task};

#[tokio::test]
async fn case_40_resolves_with_the_payload_and_leaves_no_listener() {
    let ee: Emitter<(u32, u32)> = Emitter::new();
    let next = ee.once_event("myevent");
    assert_eq!(ee.listener_count("myevent"), 1);
    assert_eq!(ee.listener_count("error"), 1);
    ee.emit("myevent", (42, 24)).unwrap();
    assert_eq!(ee.listener_count("myevent"), 0);
    assert_eq!(ee.listener_count("error"), 0);
    assert_eq!(next.await, Ok((42, 24)));
}

#[tokio::test]
async fn case_41_error_first_resolves_to_the_error_and_ignores_the_event() {
    let ee: Emitter<&str> = Emitter::new();
    let next = ee.once_event("myevent");
    assert_eq!(
        ee.emit("error", "kaboom"),
        Ok(true),
        "the future handles the error"
    );
    assert_eq!(ee.emit("myevent", "late"), Ok(false));
    assert_eq!(next.await, Err(Error::ErrorEvent("kaboom")));
    assert_eq!(ee.listener_count("myevent"), 0);
    assert_eq!(ee.listener_count("error"), 0);
}

#[tokio::test]
async fn case_41_awaiting_error_itself_resolves_with_it() {
    let ee: Emitter<&str> = Emitter::new();
    let next = ee.once_event("error");
    assert_eq!(ee.listener_count("error"), 1);
    ee.emit("error", "kaboom").unwrap();
    assert_eq!(next.await, Ok("kaboom"));
    assert_eq!(ee.listener_count("error"), 0);
}

#[test]
fn case_42_dropping_the_future_before_the_event_removes_both_listeners() {
    let ee: Emitter<u8> = Emitter::new();
    let mut next = task::spawn(ee.once_event("myevent"));
    assert_pending!(next.poll());
    drop(next);
    assert_eq!(ee.listener_count("myevent"), 0);
    assert_eq!(ee.listener_count("error"), 0);
    assert_eq!(ee.emit("myevent", 1), Ok(false));
}

#[test]
fn case_42_dropping_after_the_event_has_no_effect() {
    let ee: Emitter<u8> = Emitter::new();
    let mut next = task::spawn(ee.once_event("myevent"));
    ee.emit("myevent", 7).unwrap();
    assert_eq!(assert_ready!(next.poll()), Ok(7));
    drop(next);
    assert!(ee.event_names().is_empty());
}

#[test]
fn event_emitted_before_the_first_poll_is_not_missed() {
    let ee: Emitter<u8> = Emitter::new();
    let next = ee.once_event("ready");
    ee.emit("ready", 1).unwrap();
    ee.emit("ready", 2).unwrap();
    let mut next = task::spawn(next);
    assert_eq!(assert_ready!(next.poll()), Ok(1));
}

#[test]
fn pending_future_is_woken_by_the_emit() {
    let ee: Emitter<u8> = Emitter::new();
    let mut next = task::spawn(ee.once_event("ready"));
    assert_pending!(next.poll());
    ee.emit("ready", 3).unwrap();
    assert!(next.is_woken());
    assert_eq!(assert_ready!(next.poll()), Ok(3));
}

#[test]
fn removing_the_listener_elsewhere_closes_the_future() {
    let ee: Emitter<u8> = Emitter::new();
    let mut next = task::spawn(ee.once_event("ready"));
    assert_pending!(next.poll());
    ee.remove_all_listeners(None);
    assert!(next.is_woken());
    assert_eq!(assert_ready!(next.poll()), Err(Error::Closed));
}

#[test]
fn dropping_every_emitter_handle_closes_the_future() {
    let ee: Emitter<u8> = Emitter::new();
    let mut next = task::spawn(ee.once_event("ready"));
    assert_pending!(next.poll());
    drop(ee);
    assert_eq!(assert_ready!(next.poll()), Err(Error::Closed));
}
