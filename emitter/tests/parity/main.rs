//! Node's own EventEmitter tests, ported case by case.
//!
//! One module per Node test file (`test/parallel/test-event-emitter-*.js` and
//! `test-events-*.js`); each test restates one case of the parity checklist in
//! `shared/reference/emitter-node-semantics.md` (its number in the test name). Where the Rust API
//! differs (ids instead of function identity, typed meta events), the behaviour is the same.
//! Ordering traces recorded from Node 20 by `tests/fixtures/gen.js` are compared verbatim.
//!
//! Case 46 (`captureRejections`, `test-event-capture-rejections.js`) is in `capture_rejections`:
//! async listeners added with `Emitter::on_async`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use nodebook_emitter::{Emitter, MaxListenersExceeded};

mod add_listeners;
mod capture_rejections;
mod check_listener_leaks;
mod emit_context;
mod error_monitor;
mod errors;
mod events_list;
mod events_on_async_iterator;
mod events_once;
mod listener_count_with_listener;
mod listeners;
mod max_listeners;
mod max_listeners_warning;
mod meta_events;
mod modify_in_emit;
mod num_args;
mod once;
mod prepend;
mod remove_all_listeners;
mod remove_listeners;
mod reserved_names;
mod uncaught_exception;

/// A shared, ordered record of what listeners saw.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, step: impl Into<String>) {
        self.0.lock().unwrap().push(step.into());
    }

    pub(crate) fn steps(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// A listener that records `step` each time it runs.
    pub(crate) fn step<T>(&self, step: &'static str) -> impl Fn(&T) + Send + Sync + 'static {
        let log = self.clone();
        move |_| log.push(step)
    }
}

/// The trace Node 20 produced for `scenario` (tests/fixtures/node_traces.txt).
pub(crate) fn node_trace(scenario: &str) -> Vec<String> {
    include_str!("../fixtures/node_traces.txt")
        .lines()
        .find_map(|line| line.strip_prefix(scenario)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no Node trace named {scenario}"))
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// Installs a hook that collects the emitter's max-listener warnings.
pub(crate) fn collect_warnings<T>(emitter: &Emitter<T>) -> Arc<Mutex<Vec<MaxListenersExceeded>>> {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&warnings);
    emitter.set_warning_hook(move |warning| sink.lock().unwrap().push(warning.clone()));
    warnings
}

/// Serialises the tests that read or change the process-wide default limit.
pub(crate) fn default_limit_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}
