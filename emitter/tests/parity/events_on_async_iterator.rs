//! Port of `test/parallel/test-events-on-async-iterator.js` (`events.on(emitter, name)`), as
//! `Emitter::subscribe`. Node's `break` / `return()` become dropping the stream.

use futures_util::StreamExt;
use nodebook_emitter::{Emitter, Error};
use tokio_test::{assert_pending, assert_ready, task};

#[tokio::test]
async fn case_43_yields_only_its_event_and_unsubscribes_on_drop() {
    let ee: Emitter<u32> = Emitter::new();
    let mut foo = ee.subscribe("foo", 16).unwrap();
    ee.emit("foo", 1).unwrap();
    ee.emit("bar", 24).unwrap();
    ee.emit("foo", 42).unwrap();
    assert_eq!(foo.next().await, Some(Ok(1)));
    assert_eq!(foo.next().await, Some(Ok(42)));
    assert_eq!(ee.listener_count("foo"), 1);
    assert_eq!(ee.listener_count("error"), 1);
    drop(foo);
    assert_eq!(ee.listener_count("foo"), 0);
    assert_eq!(ee.listener_count("error"), 0);
}

#[tokio::test]
async fn case_44_buffered_payloads_come_before_the_error_then_the_end() {
    let ee: Emitter<&str> = Emitter::new();
    let mut foo = ee.subscribe("foo", 16).unwrap();
    ee.emit("foo", "42").unwrap();
    assert_eq!(ee.emit("error", "kaboom"), Ok(true));
    assert_eq!(
        ee.listener_count("foo"),
        0,
        "listeners go as soon as the error arrives"
    );
    assert_eq!(ee.listener_count("error"), 0);
    assert_eq!(ee.emit("foo", "ignored"), Ok(false));
    assert_eq!(foo.next().await, Some(Ok("42")));
    assert_eq!(foo.next().await, Some(Err(Error::ErrorEvent("kaboom"))));
    assert_eq!(foo.next().await, None);
    assert_eq!(ee.listener_count("foo"), 0);
    assert_eq!(ee.listener_count("error"), 0);
}

#[test]
fn case_44_pending_subscriber_is_woken_by_the_error() {
    let ee: Emitter<&str> = Emitter::new();
    let mut foo = task::spawn(ee.subscribe("foo", 4).unwrap());
    assert_pending!(foo.poll_next());
    ee.emit("error", "kaboom").unwrap();
    assert!(foo.is_woken());
    assert_eq!(
        assert_ready!(foo.poll_next()),
        Some(Err(Error::ErrorEvent("kaboom")))
    );
    assert_eq!(assert_ready!(foo.poll_next()), None);
}

#[tokio::test]
async fn case_45_drop_after_two_emits_yields_them_then_nothing_more() {
    let ee: Emitter<u32> = Emitter::new();
    let mut foo = ee.subscribe("foo", 16).unwrap();
    ee.emit("foo", 1).unwrap();
    ee.emit("foo", 2).unwrap();
    let got: Vec<_> = (&mut foo).take(2).collect().await;
    assert_eq!(got, [Ok(1), Ok(2)]);
    drop(foo);
    assert_eq!(ee.emit("foo", 3), Ok(false));
}

#[tokio::test]
async fn full_buffer_drops_the_oldest_and_reports_how_many() {
    let ee: Emitter<u32> = Emitter::new();
    let mut numbers = ee.subscribe("n", 3).unwrap();
    for n in 0..10 {
        ee.emit("n", n).unwrap();
    }
    assert_eq!(numbers.next().await, Some(Err(Error::Lagged { missed: 7 })));
    assert_eq!(numbers.next().await, Some(Ok(7)));
    ee.emit("n", 10).unwrap();
    assert_eq!(numbers.next().await, Some(Ok(8)));
    assert_eq!(numbers.next().await, Some(Ok(9)));
    assert_eq!(numbers.next().await, Some(Ok(10)));
}

#[test]
fn stream_ends_after_its_buffer_when_the_emitter_is_gone() {
    let ee: Emitter<u32> = Emitter::new();
    let mut numbers = task::spawn(ee.subscribe("n", 3).unwrap());
    ee.emit("n", 1).unwrap();
    drop(ee);
    assert_eq!(assert_ready!(numbers.poll_next()), Some(Ok(1)));
    assert_eq!(assert_ready!(numbers.poll_next()), None);
}

#[test]
fn subscribing_to_error_yields_errors_as_payloads() {
    let ee: Emitter<&str> = Emitter::new();
    let mut errors = task::spawn(ee.subscribe("error", 3).unwrap());
    assert_eq!(ee.listener_count("error"), 1);
    ee.emit("error", "one").unwrap();
    ee.emit("error", "two").unwrap();
    assert_eq!(assert_ready!(errors.poll_next()), Some(Ok("one")));
    assert_eq!(assert_ready!(errors.poll_next()), Some(Ok("two")));
    assert_pending!(errors.poll_next());
}
