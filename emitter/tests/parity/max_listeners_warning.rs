//! Port of `test/parallel/test-event-emitter-max-listeners-warning.js` and its `-for-null` /
//! `-for-symbol` variants, plus the add paths of `lib/events.js` (`_addListener`).

use nodebook_emitter::Emitter;

use crate::{collect_warnings, node_trace};

#[test]
fn case_24_warning_carries_event_count_limit_and_the_adding_line() {
    let ee: Emitter<()> = Emitter::new();
    ee.set_max_listeners(1);
    let warnings = collect_warnings(&ee);
    ee.on("event-type", |_| {});
    let line = line!() + 1;
    ee.on("event-type", |_| {});
    ee.on("event-type", |_| {});
    let warnings = warnings.lock().unwrap();
    assert_eq!(warnings.len(), 1, "the third add does not warn again");
    let warning = &warnings[0];
    assert_eq!(warning.event(), "event-type");
    assert_eq!((warning.count(), warning.limit()), (2, 1));
    assert_eq!(warning.location().file(), file!());
    assert_eq!(warning.location().line(), line);
    let message = warning.to_string();
    assert!(
        message.contains("2 \"event-type\" listeners added"),
        "{message}"
    );
    assert!(message.contains("max listeners is 1"), "{message}");
    assert!(
        message.contains(&format!("{}:{line}", file!())),
        "{message}"
    );
}

#[test]
fn case_25_unusual_names_are_reported_verbatim() {
    // Node's symbol and null names have no Rust counterpart; names are text, kept as given.
    for name in ["null", "Symbol(symbol)", "", "événement"] {
        let ee: Emitter<()> = Emitter::new();
        ee.set_max_listeners(1);
        let warnings = collect_warnings(&ee);
        ee.on(name, |_| {});
        ee.on(name, |_| {});
        assert_eq!(warnings.lock().unwrap()[0].event(), name);
    }
}

#[test]
fn case_30_warning_re_arms_only_after_falling_back_to_one_listener() {
    let ee: Emitter<()> = Emitter::new();
    ee.set_max_listeners(10);
    let warnings = collect_warnings(&ee);
    let mut ids = Vec::new();
    let add = |ids: &mut Vec<_>| ids.push(ee.on("d", |_| {}));
    for _ in 0..11 {
        add(&mut ids);
    }
    while ids.len() > 2 {
        ee.off("d", ids.pop().unwrap());
    }
    for _ in 0..9 {
        add(&mut ids);
    }
    while ids.len() > 1 {
        ee.off("d", ids.pop().unwrap());
    }
    for _ in 0..10 {
        add(&mut ids);
    }
    let mut trace: Vec<String> = warnings
        .lock()
        .unwrap()
        .iter()
        .map(|w| format!("warn@{}", w.count()))
        .collect();
    trace.insert(0, format!("final:{}", ee.listener_count("d")));
    trace.push("end".to_owned());
    assert_eq!(trace, node_trace("warning_rearm"));
}

#[test]
fn case_31_once_and_prepend_adds_count_toward_the_limit() {
    let ee: Emitter<()> = Emitter::new();
    ee.set_max_listeners(3);
    let warnings = collect_warnings(&ee);
    ee.on("mix", |_| {});
    ee.once("mix", |_| {});
    ee.prepend_listener("mix", |_| {});
    assert!(warnings.lock().unwrap().is_empty());
    ee.prepend_once_listener("mix", |_| {});
    assert_eq!(warnings.lock().unwrap()[0].count(), 4);
}

#[test]
fn subscriptions_count_toward_the_limit() {
    let ee: Emitter<u8> = Emitter::new();
    ee.set_max_listeners(1);
    let warnings = collect_warnings(&ee);
    ee.on("tick", |_| {});
    let line = line!() + 1;
    let _sub = ee.subscribe("tick", 4).unwrap();
    let warnings = warnings.lock().unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].location().line(), line);
}

#[test]
fn lowering_the_limit_warns_only_at_the_next_add() {
    let ee: Emitter<()> = Emitter::new();
    let warnings = collect_warnings(&ee);
    for _ in 0..5 {
        ee.on("e", |_| {});
    }
    ee.set_max_listeners(2);
    assert!(warnings.lock().unwrap().is_empty());
    ee.on("e", |_| {});
    assert_eq!(warnings.lock().unwrap()[0].count(), 6);
}
