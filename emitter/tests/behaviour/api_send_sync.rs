//! Compile-time checks of the thread-safety promises in the docs.

use std::rc::Rc;

use nodebook_emitter::{
    AsyncFailure, Emitter, Error, EventHandle, EventName, Listener, ListenerChange, ListenerGuard,
    ListenerId, MaxListenersExceeded, MetaEvent, Mode, OnceEvent, Subscription,
};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn emitter_and_guards_are_send_and_sync_for_any_payload() {
    // Payloads are only lent to listeners during `emit`, so even `Rc` payloads are fine.
    send_sync::<Emitter<Rc<u8>>>();
    send_sync::<ListenerGuard<Rc<u8>>>();
    send_sync::<Listener<Rc<u8>>>();
    send_sync::<EventName>();
    send_sync::<ListenerId>();
    send_sync::<ListenerChange>();
    send_sync::<MaxListenersExceeded>();
    send_sync::<Mode>();
    send_sync::<MetaEvent>();
}

#[test]
fn async_adapters_are_send_and_sync_for_send_payloads() {
    send_sync::<OnceEvent<String>>();
    send_sync::<Subscription<String>>();
    send_sync::<EventHandle<String>>();
    send_sync::<Error<String>>();
    send::<Subscription<std::sync::mpsc::Sender<u8>>>();
    // A failure travels to the rejection hook from the task of the failed call.
    send::<AsyncFailure<String>>();
}

#[test]
fn futures_and_streams_can_move_into_spawned_tasks() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let emitter: Emitter<String> = Emitter::new();
    let next = emitter.once_event("ready");
    let handle = runtime.spawn(next);
    emitter.emit("ready", "go".to_owned()).unwrap();
    assert_eq!(runtime.block_on(handle).unwrap(), Ok("go".to_owned()));
}
