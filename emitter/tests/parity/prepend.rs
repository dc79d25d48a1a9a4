//! Port of `test/parallel/test-event-emitter-prepend.js`.

use nodebook_emitter::Emitter;

use crate::{Log, node_trace};

#[test]
fn case_39_prepend_order_is_c_b_a_then_b_a() {
    let ee: Emitter<()> = Emitter::new();
    let log = Log::default();
    ee.on("foo", log.step("a"));
    ee.prepend_listener("foo", log.step("b"));
    ee.prepend_once_listener("foo", log.step("c"));
    ee.emit("foo", ()).unwrap();
    log.push("|");
    ee.emit("foo", ()).unwrap();
    assert_eq!(log.steps(), node_trace("prepend"));
}
