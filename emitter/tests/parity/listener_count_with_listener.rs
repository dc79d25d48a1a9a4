//! Port of `test/parallel/test-events-listener-count-with-listener.js`.

use nodebook_emitter::{Emitter, Listener, Mode};

#[test]
fn case_37_counts_all_registrations_or_those_of_one_listener() {
    let ee: Emitter<()> = Emitter::new();
    let handler = Listener::new(|_: &()| {});
    let other = Listener::new(|_: &()| {});
    assert_eq!(ee.listener_count("event"), 0);
    assert_eq!(ee.listener_count_of("event", &handler), 0);

    ee.register("event", &handler, Mode::Once);
    assert_eq!(ee.listener_count("event"), 1);
    assert_eq!(ee.listener_count_of("event", &handler), 1);

    ee.remove_all_listeners(Some("event"));
    assert_eq!(ee.listener_count("event"), 0);

    ee.register("event", &handler, Mode::On);
    assert_eq!(ee.listener_count("event"), 1);
    ee.register("event", &other, Mode::Once);
    assert_eq!(ee.listener_count("event"), 2);
    ee.register("event", &handler, Mode::Once);
    assert_eq!(ee.listener_count("event"), 3);
    assert_eq!(ee.listener_count_of("event", &handler), 2);
    assert_eq!(ee.listener_count_of("event", &other), 1);

    ee.emit("event", ()).unwrap();
    assert_eq!(ee.listener_count("event"), 1);
    assert_eq!(ee.listener_count_of("event", &handler), 1);
    assert_eq!(ee.listener_count_of("event", &other), 0);

    assert!(ee.remove_listener("event", &handler));
    assert_eq!(ee.listener_count("event"), 0);
}
