//! Port of `test/parallel/test-event-emitter-errors.js`.

use nodebook_emitter::{Emitter, Error};

use crate::node_trace;

#[test]
fn case_33_unhandled_string_error_is_returned_with_a_message_naming_it() {
    let ee: Emitter<&str> = Emitter::new();
    let error = ee.emit("error", "Accepts a string").unwrap_err();
    assert_eq!(error, Error::Unhandled("Accepts a string"));
    // Node: ERR_UNHANDLED_ERROR "Unhandled error. ('Accepts a string')".
    let node = node_trace("unhandled_message");
    assert_eq!(node[0], "ERR_UNHANDLED_ERROR");
    assert!(node[1].contains("'Accepts a string'"));
    assert_eq!(
        error.to_string(),
        "unhandled \"error\" event: \"Accepts a string\""
    );
}

#[test]
fn unhandled_error_payload_is_given_back_whole() {
    #[derive(Debug, PartialEq)]
    struct Context {
        message: &'static str,
    }
    let ee: Emitter<Context> = Emitter::new();
    match ee.emit("error", Context { message: "Error!" }) {
        Err(Error::Unhandled(context)) => assert_eq!(context.message, "Error!"),
        other => panic!("expected the payload back, got {other:?}"),
    }
}

#[test]
fn other_events_never_fail() {
    let ee: Emitter<()> = Emitter::new();
    assert_eq!(ee.emit("errors", ()), Ok(false));
    assert_eq!(ee.emit("Error", ()), Ok(false));
}
