//! Port of `test/parallel/test-event-emitter-max-listeners.js` and
//! `test-event-emitter-get-max-listeners.js`. Node's NaN / negative / string checks have no
//! counterpart: the limit is a `usize`, so those inputs do not compile.

use nodebook_emitter::{Emitter, default_max_listeners};

use crate::default_limit_lock;

#[test]
fn case_29_max_listeners_reads_the_default_until_set() {
    let _lock = default_limit_lock();
    let ee: Emitter<()> = Emitter::new();
    assert_eq!(ee.max_listeners(), default_max_listeners());
    ee.set_max_listeners(0);
    assert_eq!(ee.max_listeners(), 0);
    ee.set_max_listeners(3);
    assert_eq!(ee.max_listeners(), 3);
}

#[test]
fn clones_share_the_limit() {
    let ee: Emitter<()> = Emitter::new();
    let clone = ee.clone();
    ee.set_max_listeners(7);
    assert_eq!(clone.max_listeners(), 7);
}
