//! # Implementation details
//!
//! The in-flight table shared by [`OnceQueue`](crate::OnceQueue) and
//! [`LimitableMap::get_or_load`](crate::LimitableMap::get_or_load).
//!
//! A *flight* is one load for one key. The first caller (the leader) registers an [`Entry`] in
//! the table and spawns the loader on the tokio runtime; the task owns a [`FlightGuard`]. Every
//! caller, leader included, then waits on the flight's `watch` channel as an ordinary waiter
//! and may leave at any time without affecting the load. Nobody ever restarts a load that is
//! in flight.
//!
//! Invariants:
//!
//! - An entry is in the table from registration until exactly one of: the task finishes (it
//!   removes the entry, and the load commits its outcome (the map stores a value, or an error
//!   it caches), in one critical section on the entry's shard; only then does it publish), the flight is forgotten (`forget`: the task
//!   runs on for its waiters but neither commits nor is joined by later callers), or the last
//!   waiter leaves under [`AbandonPolicy::CancelLoad`] (the entry goes and the task is
//!   aborted). Entries are matched by `id`, so a task or waiter never touches a newer flight
//!   for the same key.
//! - A task that is dropped before finishing (aborted, runtime shut down) publishes
//!   [`Error::LoadCancelled`] from its guard's `Drop`; a panicking loader is caught and
//!   published as [`Error::LoaderPanicked`]. So every waiter wakes, and no entry outlives its
//!   task.
//! - `waiters` counts callers still waiting; it changes under the entry's shard lock, so "last
//!   waiter left" and "a new caller joined" cannot interleave.
//! - The loader's error type is erased in the table (`cell` is an `Arc<dyn Any>` holding the
//!   typed channel), so one table serves `get_or_load` calls with different error types. A
//!   caller whose error type differs from the flight's waits for that flight to end (`done`)
//!   and tries again instead of joining it.
//! - A loader that asks the same table for its own key would wait for itself forever; the
//!   loader runs inside a task-local naming its flight, and a caller found in that scope gets
//!   [`Error::Reentrant`] instead of joining.
//! - No user code runs under a shard lock except `Hash`/`Eq`/`Clone` of the key and the map's
//!   own store operations in `recheck`/`commit`, which take only the store's locks (the lock
//!   order is table shard, then store). Listener calls are deferred until the lock is released.

use std::any::Any;
use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry as MapEntry;
use futures_util::FutureExt;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::counters::Counters;
use crate::error::{Error, panic_message};
use crate::once_queue::AbandonPolicy;
use crate::stats::LoadStats;

const STARTED: usize = 0;
const COALESCED: usize = 1;
const SUCCEEDED: usize = 2;
const FAILED: usize = 3;
const PANICKED: usize = 4;
const CANCELLED: usize = 5;
const DISCARDED: usize = 6;
const COUNTERS: usize = 7;

tokio::task_local! {
    /// The flight whose loader the current task runs: (table address, flight id).
    static RUNNING: (usize, u64);
}

/// The typed result channel of a flight whose loader fails with `E`.
type Cell<V, E> = watch::Sender<Option<Result<V, Error<E>>>>;

struct Entry {
    id: u64,
    /// An `Arc<Cell<V, E>>`.
    cell: Arc<dyn Any + Send + Sync>,
    waiters: usize,
    abort: Option<AbortHandle>,
    /// Closed (sender dropped) when the flight's task ends.
    done: watch::Receiver<()>,
    /// Set by whoever counts the flight's outcome first (its task, or the last waiter
    /// cancelling it), so each flight is counted once.
    settled: Arc<AtomicBool>,
}

pub(crate) struct Flights<K> {
    table: DashMap<K, Entry>,
    active: AtomicUsize,
    next_id: AtomicU64,
    policy: AbandonPolicy,
    counters: Counters<COUNTERS>,
}

/// A flight just registered in the table, before its task is spawned.
struct Registered<V, E> {
    id: u64,
    settled: Arc<AtomicBool>,
    cell: Arc<Cell<V, E>>,
    done: watch::Sender<()>,
}

/// What a caller does after looking at the table.
enum Step<V, E> {
    Lead {
        flight: Registered<V, E>,
        handle: Handle,
    },
    Join {
        id: u64,
        rx: watch::Receiver<Option<Result<V, Error<E>>>>,
    },
}

impl<K> Flights<K> {
    pub(crate) fn policy(&self) -> AbandonPolicy {
        self.policy
    }

    /// Loads in flight (registered and not forgotten).
    pub(crate) fn in_flight(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

impl<K> Flights<K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    pub(crate) fn new(policy: AbandonPolicy) -> Self {
        Self {
            table: DashMap::new(),
            active: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            policy,
            counters: Counters::new(),
        }
    }

    pub(crate) fn is_loading(&self, key: &K) -> bool {
        self.table.contains_key(key)
    }

    /// Detaches the flight for `key`, if any: later callers start a fresh load and this one
    /// will not commit. Returns whether there was one.
    pub(crate) fn forget<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.active.load(Ordering::SeqCst) == 0 {
            return false;
        }
        if self.table.remove(key).is_some() {
            self.active.fetch_sub(1, Ordering::SeqCst);
            true
        } else {
            false
        }
    }

    /// Detaches every flight.
    pub(crate) fn forget_all(&self) {
        self.table.retain(|_, _| {
            self.active.fetch_sub(1, Ordering::SeqCst);
            false
        });
    }

    /// Whether the current task is the one running the loader of flight `id` of this table.
    fn runs_loader_of(&self, id: u64) -> bool {
        let table = std::ptr::from_ref(self) as usize;
        RUNNING
            .try_with(|&(t, running)| t == table && running == id)
            .unwrap_or(false)
    }

    pub(crate) fn stats(&self) -> LoadStats {
        let c = self.counters.snapshot();
        LoadStats {
            started: c[STARTED],
            coalesced: c[COALESCED],
            succeeded: c[SUCCEEDED],
            failed: c[FAILED],
            panicked: c[PANICKED],
            cancelled: c[CANCELLED],
            discarded: c[DISCARDED],
        }
    }

    /// Joins the flight for `key` or starts one with `loader`.
    ///
    /// `recheck` runs under the table lock when no flight exists, before one is started: a
    /// value it returns is answered at once (the map uses it to catch a load that committed
    /// between the caller's miss and now). `commit` runs under the table lock when a load
    /// ends (with its value or its error) and its flight is still current; what it returns is
    /// called after the lock is released.
    pub(crate) async fn run<V, E, F, Fut, R, C, D>(
        self: &Arc<Self>,
        key: K,
        loader: F,
        recheck: R,
        commit: C,
    ) -> Result<V, Error<E>>
    where
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        R: Fn(&K) -> Option<V>,
        C: FnOnce(&K, &Result<V, Error<E>>) -> D + Send + 'static,
        D: FnOnce() + Send + 'static,
    {
        let step = loop {
            // `Err` holds the `done` signal of a flight with another error type.
            let found = match self.table.entry(key.clone()) {
                MapEntry::Occupied(mut occupied) => {
                    let entry = occupied.get_mut();
                    if self.runs_loader_of(entry.id) {
                        return Err(Error::Reentrant);
                    }
                    match Arc::clone(&entry.cell).downcast::<Cell<V, E>>() {
                        Ok(cell) => {
                            entry.waiters += 1;
                            Ok(Step::Join {
                                id: entry.id,
                                rx: cell.subscribe(),
                            })
                        }
                        Err(_) => Err(entry.done.clone()),
                    }
                }
                MapEntry::Vacant(vacant) => {
                    if let Some(value) = recheck(vacant.key()) {
                        return Ok(value);
                    }
                    let Ok(handle) = Handle::try_current() else {
                        return Err(Error::NoRuntime);
                    };
                    Ok(Step::Lead {
                        flight: self.register(vacant, 1),
                        handle,
                    })
                }
            };
            match found {
                Ok(step) => break step,
                Err(mut done) => {
                    // Returns an error once the flight's task drops its sender: it has ended.
                    let _ = done.changed().await;
                }
            }
        };
        match step {
            Step::Join { id, rx } => {
                self.counters.add(COALESCED, 1);
                self.wait(key, id, rx).await
            }
            Step::Lead { flight, handle } => {
                let (id, rx) = (flight.id, flight.cell.subscribe());
                self.launch(&handle, key.clone(), flight, loader, commit);
                self.wait(key, id, rx).await
            }
        }
    }

    async fn wait<V, E>(
        self: &Arc<Self>,
        key: K,
        id: u64,
        mut rx: watch::Receiver<Option<Result<V, Error<E>>>>,
    ) -> Result<V, Error<E>>
    where
        V: Clone,
    {
        let mut leave = Leave {
            flights: self,
            key: Some(key),
            id,
        };
        let result = match rx.wait_for(Option::is_some).await {
            Ok(published) => match &*published {
                Some(result) => result.clone(),
                None => Err(Error::LoadCancelled),
            },
            Err(_) => Err(Error::LoadCancelled),
        };
        leave.key = None;
        result
    }

    /// Registers a new flight for the vacant `key` with `waiters` callers.
    fn register<V, E>(
        &self,
        vacant: dashmap::mapref::entry::VacantEntry<'_, K, Entry>,
        waiters: usize,
    ) -> Registered<V, E>
    where
        V: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cell: Arc<Cell<V, E>> = Arc::new(watch::Sender::new(None));
        let (done, done_rx) = watch::channel(());
        let settled = Arc::new(AtomicBool::new(false));
        vacant.insert(Entry {
            id,
            cell: Arc::clone(&cell) as Arc<dyn Any + Send + Sync>,
            waiters,
            abort: None,
            done: done_rx,
            settled: Arc::clone(&settled),
        });
        self.active.fetch_add(1, Ordering::SeqCst);
        Registered {
            id,
            settled,
            cell,
            done,
        }
    }

    /// Spawns the task of the registered flight `id`.
    fn launch<V, E, F, Fut, C, D>(
        self: &Arc<Self>,
        handle: &Handle,
        key: K,
        flight: Registered<V, E>,
        loader: F,
        commit: C,
    ) where
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        C: FnOnce(&K, &Result<V, Error<E>>) -> D + Send + 'static,
        D: FnOnce() + Send + 'static,
    {
        self.counters.add(STARTED, 1);
        crate::trace::decision!("cache load started");
        let Registered {
            id,
            settled,
            cell,
            done,
        } = flight;
        let guard = FlightGuard {
            flights: Arc::clone(self),
            key: key.clone(),
            id,
            settled,
            cell,
            done: Some(done),
            finished: false,
        };
        let task = handle.spawn(guard.drive(loader, commit));
        if self.policy == AbandonPolicy::CancelLoad
            && let Some(mut entry) = self.table.get_mut(&key)
            && entry.id == id
        {
            entry.abort = Some(task.abort_handle());
        }
    }

    /// Starts a load for `key` that nobody waits for (a background refresh), unless one is in
    /// flight already or there is no runtime; returns whether it started. Callers that miss
    /// meanwhile join it as any flight. `commit` runs as for [`run`](Self::run).
    pub(crate) fn start<V, E, F, Fut, C, D>(self: &Arc<Self>, key: K, loader: F, commit: C) -> bool
    where
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        C: FnOnce(&K, &Result<V, Error<E>>) -> D + Send + 'static,
        D: FnOnce() + Send + 'static,
    {
        let Ok(handle) = Handle::try_current() else {
            return false;
        };
        let flight = match self.table.entry(key.clone()) {
            MapEntry::Occupied(_) => return false,
            MapEntry::Vacant(vacant) => self.register::<V, E>(vacant, 0),
        };
        self.launch(&handle, key, flight, loader, commit);
        true
    }
}

/// A waiter's place in a flight; dropping it before the result arrived leaves the flight.
struct Leave<'a, K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    flights: &'a Flights<K>,
    /// `None` once the waiter got its result.
    key: Option<K>,
    id: u64,
}

impl<K> Drop for Leave<'_, K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let abort = match self.flights.table.entry(key) {
            MapEntry::Occupied(mut occupied) if occupied.get().id == self.id => {
                let entry = occupied.get_mut();
                entry.waiters -= 1;
                if entry.waiters == 0 && self.flights.policy == AbandonPolicy::CancelLoad {
                    let entry = occupied.remove();
                    self.flights.active.fetch_sub(1, Ordering::SeqCst);
                    if !entry.settled.swap(true, Ordering::AcqRel) {
                        self.flights.counters.add(CANCELLED, 1);
                    }
                    entry.abort
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(abort) = abort {
            abort.abort();
        }
    }
}

/// Owned by a flight's task: finishes the flight, or cancels it if the task is dropped first.
struct FlightGuard<K, V, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    flights: Arc<Flights<K>>,
    key: K,
    id: u64,
    settled: Arc<AtomicBool>,
    cell: Arc<Cell<V, E>>,
    /// Dropped when the flight ends, which wakes callers waiting for it with another error type.
    done: Option<watch::Sender<()>>,
    finished: bool,
}

impl<K, V, E> FlightGuard<K, V, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    async fn drive<F, Fut, C, D>(mut self, loader: F, commit: C)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
        C: FnOnce(&K, &Result<V, Error<E>>) -> D,
        D: FnOnce() + Send + 'static,
    {
        let running = (Arc::as_ptr(&self.flights) as usize, self.id);
        let outcome = AssertUnwindSafe(RUNNING.scope(running, async move { loader().await }))
            .catch_unwind()
            .await;
        let (result, counter) = match outcome {
            Ok(Ok(value)) => (Ok(value), SUCCEEDED),
            Ok(Err(error)) => (Err(Error::Load(Arc::new(error))), FAILED),
            Err(payload) => (
                Err(Error::LoaderPanicked {
                    message: panic_message(payload.as_ref()),
                }),
                PANICKED,
            ),
        };
        self.finished = true;
        let mut deferred = None;
        let current = match self.flights.table.entry(self.key.clone()) {
            MapEntry::Occupied(occupied) if occupied.get().id == self.id => {
                deferred = Some(commit(occupied.key(), &result));
                occupied.remove();
                self.flights.active.fetch_sub(1, Ordering::SeqCst);
                true
            }
            _ => false,
        };
        let discarded = !current && result.is_ok();
        #[cfg(feature = "tracing")]
        match (&result, discarded) {
            (Err(Error::Load(_)), _) => {
                crate::trace::decision!("cache load failed; the error goes to its callers");
            }
            (Err(_), _) => crate::trace::decision!("cache load panicked"),
            (Ok(_), true) => crate::trace::decision!(
                "cache load discarded: its key was written or invalidated while it ran"
            ),
            (Ok(_), false) => {}
        }
        self.cell.send_replace(Some(result));
        self.done = None;
        // Counted once stored and published, so a counter read never runs ahead of the map;
        // and not at all if the last waiter cancelled the flight first (it counted that).
        if !self.settled.swap(true, Ordering::AcqRel) {
            self.flights.counters.add(counter, 1);
            if discarded {
                self.flights.counters.add(DISCARDED, 1);
            }
        }
        if let Some(deferred) = deferred {
            deferred();
        }
    }
}

impl<K, V, E> Drop for FlightGuard<K, V, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Dropped unfinished: aborted by its last waiter (who removed the entry and counted
        // the cancellation), or stopped from outside (runtime shutdown).
        if self
            .flights
            .table
            .remove_if(&self.key, |_, entry| entry.id == self.id)
            .is_some()
        {
            self.flights.active.fetch_sub(1, Ordering::SeqCst);
        }
        if !self.settled.swap(true, Ordering::AcqRel) {
            self.flights.counters.add(CANCELLED, 1);
        }
        self.cell.send_replace(Some(Err(Error::LoadCancelled)));
    }
}
