//! Node's `EventEmitter` for Rust and tokio.
//!
//! The book's async patterns (section 4.2.1) are built on Node's `events` module: an object
//! emits named events, listeners registered for a name run synchronously in registration order,
//! and a few rules (`once`, `prepend`, the `error` event, the leak warning) make it dependable.
//! This crate ports those rules case by case, checked against a port of Node's own
//! `test-event-emitter-*.js` suite, and adds what a tokio service needs: the next event as a
//! future, and a bounded stream of events for a task.
//!
//! # Five minutes for a Node developer
//!
//! The book's avalanche guard: many callers ask for the same slow query; the first runs it, the
//! others wait for its `"selected"` event.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::{Arc, Mutex};
//! use nodebook_emitter::Emitter;
//!
//! let proxy: Emitter<Arc<str>> = Emitter::new();
//! let answers = Arc::new(Mutex::new(Vec::new()));
//!
//! // proxy.once("selected", callback), three times: three waiting callers.
//! for caller in 0..3 {
//!     let answers = Arc::clone(&answers);
//!     proxy.once("selected", move |rows: &Arc<str>| {
//!         answers.lock().unwrap().push(format!("caller {caller}: {rows}"));
//!     });
//! }
//! // The same wait from async code: `await once(proxy, "selected")`.
//! let waiting = proxy.once_event("selected");
//!
//! // The query returns once; every waiter gets the rows.
//! assert_eq!(proxy.emit("selected", Arc::from("3 rows")), Ok(true));
//! assert_eq!(waiting.await.unwrap().as_ref(), "3 rows");
//! assert_eq!(answers.lock().unwrap().len(), 3);
//! assert_eq!(proxy.listener_count("selected"), 0); // `once` listeners are gone
//! # }
//! ```
//!
//! What differs from JavaScript, and why:
//!
//! - **One payload type.** `Emitter<T>` passes `&T` to listeners; use an enum for several kinds
//!   of payload, or `()` for none. Node's variadic `...args` become a tuple or struct.
//! - **Listener ids.** Closures have no identity, so every add returns a [`ListenerId`] and
//!   [`Emitter::off`] takes it. Node's removal by function (`removeListener(name, fn)`, the
//!   last instance in call order first) is there too, through [`Listener`] and
//!   [`Emitter::remove_listener`].
//!   [`Emitter::guard`] removes a listener when the guard drops.
//! - **The `error` event returns an error.** `emit("error", e)` with no `"error"` listener
//!   returns `Err(Error::Unhandled(e))` where Node throws: the payload is never lost, and nothing
//!   panics. Every `emit` therefore returns `Result<bool, Error<T>>`; for other events it is
//!   always `Ok`.
//! - **Meta events and the error monitor** take typed listeners: [`Emitter::on_new_listener`],
//!   [`Emitter::on_remove_listener`] (each in Node's four forms, and by [`Listener`] through
//!   [`Emitter::register_meta`] and [`Emitter::remove_meta_listener`]) and
//!   [`Emitter::on_error_monitor`]. A payload listener under `"newListener"` or
//!   `"removeListener"` would never be called, so `on("newListener", ..)` and its kin panic
//!   with a message naming the right method.
//! - **Async listeners** ([`Emitter::on_async`]) run on the tokio runtime, one call at a time
//!   per listener; an `Err` or a panic goes to the rejection hook, else to `"error"`, else to
//!   the report: never lost (Node's `captureRejections`).
//! - **The leak warning names the line.** [`MaxListenersExceeded`] carries the call site of the
//!   `on` that crossed the limit, as well as the event, count and limit.
//! - **Panics propagate** out of `emit`, as a throw does in Node (later listeners of that emit
//!   are skipped); the emitter stays usable: no lock is held while listeners run.
//! - **A fast path for events that only tasks listen to.** [`Emitter::event`] resolves an
//!   event once into an [`EventHandle`]; while the event has only subscriptions, an emit through
//!   it stores the payload straight into their shared buffer, without the emitter's lock. It
//!   behaves exactly as a plain emit by name.
//! - **Threads.** An emitter is `Send + Sync` and cheap to clone (clones share listeners);
//!   listeners must be `Fn + Send + Sync`. Two threads emitting at once each run their own
//!   snapshot; a `once` listener still runs exactly once.
//!
//! # Node name → Rust name
//!
//! | Node (`events`)                             | Rust (`emitter`)                                        |
//! |---------------------------------------------|---------------------------------------------------------|
//! | `new EventEmitter()`                        | [`Emitter::new`]                                        |
//! | `on` / `addListener`                        | [`Emitter::on`], [`Emitter::register`] with [`Mode::On`] |
//! | `once`                                      | [`Emitter::once`]                                       |
//! | `prependListener` / `prependOnceListener`   | [`Emitter::prepend_listener`] / [`Emitter::prepend_once_listener`] |
//! | `off` / `removeListener`                    | [`Emitter::off`] (by id), [`Emitter::remove_listener`] (by [`Listener`]) |
//! | `removeAllListeners([name])`                | [`Emitter::remove_all_listeners`]                       |
//! | `emit(name, ...args)`                       | [`Emitter::emit`]; [`EventHandle::emit`] for a hot event |
//! | `listenerCount(name[, fn])`                 | [`Emitter::listener_count`], [`Emitter::listener_count_of`] |
//! | `listeners(name)`                           | [`Emitter::listeners`] (ids)                            |
//! | `eventNames()`                              | [`Emitter::event_names`]                                |
//! | `setMaxListeners` / `getMaxListeners`       | [`Emitter::set_max_listeners`] / [`Emitter::max_listeners`] |
//! | `EventEmitter.defaultMaxListeners`          | [`default_max_listeners`], [`set_default_max_listeners`] |
//! | `MaxListenersExceededWarning`               | [`MaxListenersExceeded`], [`Emitter::set_warning_hook`] |
//! | `'newListener'` / `'removeListener'`        | [`Emitter::on_new_listener`] / [`Emitter::on_remove_listener`] and their `once_`, `prepend_`, `prepend_once_` forms; [`Emitter::remove_meta_listener`] |
//! | `on(name, async fn)`, `captureRejections`   | [`Emitter::on_async`], [`AsyncFailure`]                 |
//! | `emitter[Symbol.for('nodejs.rejection')]`   | [`Emitter::set_rejection_hook`]                         |
//! | `events.errorMonitor`                       | [`Emitter::on_error_monitor`]                           |
//! | `ERR_UNHANDLED_ERROR` (thrown)              | [`Error::Unhandled`] (returned)                         |
//! | `events.once(emitter, name)`                | [`Emitter::once_event`]                                 |
//! | `events.on(emitter, name)`                  | [`Emitter::subscribe`] (bounded; [`Error::Lagged`] when full) |
//!
//! Not ported: `rawListeners` and once-wrappers (a JavaScript artifact), symbols and numbers as event names
//! (names are text), `AbortSignal` options (drop the future or stream instead).
//!
//! # Feature flags
//!
//! - `tracing` (off by default): max-listener warnings are also logged with `tracing::warn!`,
//!   and unhandled async listener failures with `tracing::error!`. Without it, and without a
//!   hook, both go to standard error as Node's do.
//! - `redis` (off by default): `redis::Bridge` carries named events between processes
//!   through a Redis namespace, by pub/sub (at most once, gaps reported) or Streams (resumes
//!   after a reconnect, once and in order per origin).
//! - `serde` (off by default): `redis::JsonCodec`, any serde payload as JSON on the bridge.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod async_listener;
mod emitter;
mod error;
mod event;
mod guard;
mod hub;
mod list;
mod listener;
mod meta;
mod monitor;
mod name;
mod once;
#[cfg(feature = "redis")]
mod origin;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod registry;
mod rejection;
mod subscribe;
mod table;
mod warning;

pub use crate::async_listener::ASYNC_BACKLOG;
pub use crate::emitter::Emitter;
pub use crate::error::Error;
pub use crate::event::EventHandle;
pub use crate::guard::ListenerGuard;
pub use crate::listener::{Listener, ListenerChange, ListenerId, Mode};
pub use crate::meta::MetaEvent;
pub use crate::name::EventName;
pub use crate::once::OnceEvent;
pub use crate::rejection::AsyncFailure;
pub use crate::subscribe::Subscription;
pub use crate::warning::{MaxListenersExceeded, default_max_listeners, set_default_max_listeners};

// The README's examples run as doc tests, so the first code a crates.io reader sees compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
