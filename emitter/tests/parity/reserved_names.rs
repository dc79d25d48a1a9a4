//! Node's habit `emitter.on('newListener', fn)`: in Rust a payload listener there would never be
//! called (the meta events carry a `ListenerChange`), so every payload API refuses the two names
//! with a message that names the right method.

use std::panic::{AssertUnwindSafe, catch_unwind};

use nodebook_emitter::{Emitter, Listener, Mode};

/// One payload registration form, by the name of its method.
type Attempt<'a> = (&'static str, Box<dyn Fn() + 'a>);

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let panic = catch_unwind(AssertUnwindSafe(f)).expect_err("the call must panic");
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap()
}

#[test]
fn on_new_listener_with_a_payload_listener_panics_naming_on_new_listener() {
    let ee: Emitter<u32> = Emitter::new();
    let message = panic_message(|| {
        ee.on("newListener", |_| {});
    });
    assert!(message.contains("Emitter::on(\"newListener\""), "{message}");
    assert!(message.contains("on_new_listener"), "{message}");
    assert_eq!(ee.listener_count("newListener"), 0);
    assert!(ee.event_names().is_empty());
}

#[test]
fn every_payload_registration_form_refuses_both_meta_names() {
    let ee: Emitter<u32> = Emitter::new();
    let listener = Listener::new(|_: &u32| {});
    for (name, right) in [
        ("newListener", "on_new_listener"),
        ("removeListener", "on_remove_listener"),
    ] {
        let attempts: Vec<Attempt<'_>> = vec![
            (
                "once",
                Box::new(|| {
                    ee.once(name, |_| {});
                }),
            ),
            (
                "prepend_listener",
                Box::new(|| {
                    ee.prepend_listener(name, |_| {});
                }),
            ),
            (
                "prepend_once_listener",
                Box::new(|| {
                    ee.prepend_once_listener(name, |_| {});
                }),
            ),
            (
                "register",
                Box::new(|| {
                    ee.register(name, &listener, Mode::On);
                }),
            ),
            ("subscribe", Box::new(|| drop(ee.subscribe(name, 4)))),
            ("once_event", Box::new(|| drop(ee.once_event(name)))),
        ];
        for (method, attempt) in attempts {
            let message = panic_message(attempt);
            assert!(
                message.contains(&format!("Emitter::{method}({name:?}")),
                "{message}"
            );
            assert!(message.contains(right), "{message}");
        }
    }
    assert!(ee.event_names().is_empty(), "nothing was registered");
}

#[test]
fn meta_listeners_still_work_after_a_refused_registration() {
    let ee: Emitter<u32> = Emitter::new();
    let _ = panic_message(|| {
        ee.on("removeListener", |_| {});
    });
    let announced = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&announced);
    ee.on_new_listener(move |_| {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    ee.on("data", |_| {});
    assert_eq!(announced.load(std::sync::atomic::Ordering::Relaxed), 1);
}
