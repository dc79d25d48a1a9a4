//! Port of `test/parallel/test-event-emitter-num-args.js`: Node's variadic arguments become one
//! typed payload, delivered unchanged whatever its shape.

use nodebook_emitter::Emitter;

use crate::Log;

#[test]
fn case_09_listeners_receive_exactly_the_emitted_arguments() {
    let ee: Emitter<Vec<u32>> = Emitter::new();
    let log = Log::default();
    let seen = log.clone();
    ee.once("numArgs", move |args: &Vec<u32>| {
        seen.push(format!("{args:?}"))
    });
    ee.on("numArgs", {
        let seen = log.clone();
        move |args: &Vec<u32>| seen.push(format!("on{}", args.len()))
    });
    for n in 0..=4 {
        ee.emit("numArgs", (1..=n).collect()).unwrap();
    }
    assert_eq!(log.steps(), ["[]", "on0", "on1", "on2", "on3", "on4"]);
}
