//! Cancellation: poll a future or stream k times, drop it, check that nothing is left behind,
//! for k = 0, 1, 2, ... until it completes (the habit of tokio's semaphore tests).

use nodebook_emitter::{Emitter, Error};
use tokio_test::task;

/// What happens on the emitter between two polls; the k-th step runs after the k-th poll.
fn step(emitter: &Emitter<u32>, k: u32) {
    match k {
        0 => assert_eq!(emitter.emit("other", k), Ok(false)),
        1 => emitter.remove_all_listeners(Some("unrelated")),
        2 => {
            emitter.emit("wanted", k).unwrap();
        }
        _ => {
            emitter.emit("wanted", k).unwrap();
        }
    }
}

fn assert_nothing_left(emitter: &Emitter<u32>) {
    assert!(
        emitter.event_names().is_empty(),
        "left behind: {:?}",
        emitter.event_names()
    );
    assert_eq!(emitter.emit("wanted", 99), Ok(false));
    assert_eq!(
        emitter.emit("error", 99),
        Err(Error::Unhandled(99)),
        "an error is not swallowed"
    );
}

#[test]
fn once_event_dropped_after_any_number_of_polls_leaves_no_listener() {
    let mut completed_at = None;
    for k in 0..8 {
        let emitter: Emitter<u32> = Emitter::new();
        let mut next = task::spawn(emitter.once_event("wanted"));
        let mut outcome = None;
        for i in 0..k {
            if let std::task::Poll::Ready(value) = next.poll() {
                outcome = Some(value);
                break;
            }
            step(&emitter, i);
        }
        drop(next);
        assert_nothing_left(&emitter);
        if let Some(value) = outcome {
            assert_eq!(value, Ok(2));
            completed_at = Some(k);
            break;
        }
    }
    assert_eq!(
        completed_at,
        Some(4),
        "the future completes at the poll after the emit"
    );
}

#[test]
fn once_event_woken_but_never_polled_again_does_not_stall_other_waiters() {
    let emitter: Emitter<u32> = Emitter::new();
    let mut abandoned = task::spawn(emitter.once_event("wanted"));
    assert!(abandoned.poll().is_pending());
    let mut other = task::spawn(emitter.once_event("wanted"));
    assert!(other.poll().is_pending());
    emitter.emit("wanted", 5).unwrap();
    assert!(other.is_woken());
    assert_eq!(other.poll(), std::task::Poll::Ready(Ok(5)));
    drop(abandoned);
    assert_nothing_left(&emitter);
}

#[test]
fn subscription_dropped_after_any_number_of_polls_leaves_no_listener() {
    let mut items_seen = Vec::new();
    for k in 0..8 {
        let emitter: Emitter<u32> = Emitter::new();
        let mut stream = task::spawn(emitter.subscribe("wanted", 2).unwrap());
        let mut items = Vec::new();
        for i in 0..k {
            if let std::task::Poll::Ready(item) = stream.poll_next() {
                items.push(item);
            }
            step(&emitter, i);
        }
        drop(stream);
        assert_nothing_left(&emitter);
        items_seen.push(items.len());
    }
    assert_eq!(items_seen, [0, 0, 0, 0, 1, 2, 3, 4]);
}

#[test]
fn subscription_ended_by_an_error_leaves_no_listener_before_it_is_dropped() {
    let emitter: Emitter<u32> = Emitter::new();
    let mut stream = task::spawn(emitter.subscribe("wanted", 2).unwrap());
    emitter.emit("error", 1).unwrap();
    assert!(
        emitter.event_names().is_empty(),
        "removed by the error itself, before any poll"
    );
    assert_eq!(
        stream.poll_next(),
        std::task::Poll::Ready(Some(Err(Error::ErrorEvent(1))))
    );
    assert_eq!(stream.poll_next(), std::task::Poll::Ready(None));
}
