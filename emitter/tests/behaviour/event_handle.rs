//! An `EventHandle` emit is an emit by name: the same calls, results and subscription contents,
//! whatever changed between emits and on whichever thread it changed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use futures_util::{FutureExt, StreamExt};
use nodebook_emitter::{Emitter, Error, EventHandle, ListenerId, Subscription};
use proptest::prelude::*;
use tokio_test::{assert_pending, assert_ready, task};

const NAMES: [&str; 3] = ["a", "b", "error"];

#[derive(Clone, Debug)]
enum Op {
    On { name: usize },
    Once { name: usize },
    Off { pick: usize },
    Subscribe { name: usize, capacity: usize },
    Unsubscribe { pick: usize },
    Emit { name: usize },
    NewHandle { name: usize },
    RemoveAll { name: Option<usize> },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..NAMES.len()).prop_map(|name| Op::On { name }),
        1 => (0..NAMES.len()).prop_map(|name| Op::Once { name }),
        2 => (0..8usize).prop_map(|pick| Op::Off { pick }),
        3 => (0..NAMES.len(), 1..4usize).prop_map(|(name, capacity)| Op::Subscribe { name, capacity }),
        2 => (0..8usize).prop_map(|pick| Op::Unsubscribe { pick }),
        8 => (0..NAMES.len()).prop_map(|name| Op::Emit { name }),
        1 => (0..NAMES.len()).prop_map(|name| Op::NewHandle { name }),
        1 => proptest::option::of(0..NAMES.len()).prop_map(|name| Op::RemoveAll { name }),
    ]
}

/// What one subscription could read at one moment, stream end included.
type Reads = Vec<Option<Result<u32, Error<u32>>>>;

/// One emitter of the pair, with what the operations made on it.
struct Side {
    emitter: Emitter<u32>,
    calls: Arc<Mutex<Vec<(usize, u32)>>>,
    listeners: Vec<(usize, ListenerId)>,
    subscriptions: Vec<Subscription<u32>>,
    handles: Vec<EventHandle<u32>>,
    made: usize,
}

impl Side {
    fn new() -> Self {
        let emitter = Emitter::new();
        emitter.set_max_listeners(0);
        let handles = NAMES.iter().map(|name| emitter.event(*name)).collect();
        Self {
            emitter,
            calls: Arc::new(Mutex::new(Vec::new())),
            listeners: Vec::new(),
            subscriptions: Vec::new(),
            handles,
            made: 0,
        }
    }

    fn add(&mut self, name: usize, once: bool) {
        let (calls, number) = (Arc::clone(&self.calls), self.made);
        self.made += 1;
        let listener = move |n: &u32| calls.lock().unwrap().push((number, *n));
        let id = if once {
            self.emitter.once(NAMES[name], listener)
        } else {
            self.emitter.on(NAMES[name], listener)
        };
        self.listeners.push((name, id));
    }

    /// Everything each subscription can read right now, in subscription order.
    fn drain(&mut self) -> Vec<Reads> {
        self.subscriptions
            .iter_mut()
            .map(|subscription| {
                let mut read = Vec::new();
                while let Some(next) = subscription.next().now_or_never() {
                    read.push(next.clone());
                    if next.is_none() {
                        break;
                    }
                }
                read
            })
            .collect()
    }
}

proptest! {
    #[test]
    fn handle_emits_match_emits_by_name(ops in proptest::collection::vec(op(), 1..80)) {
        let (mut by_name, mut by_handle) = (Side::new(), Side::new());
        for (payload, op) in (0u32..).zip(ops) {
            for side in [&mut by_name, &mut by_handle] {
                match op {
                    Op::On { name } => side.add(name, false),
                    Op::Once { name } => side.add(name, true),
                    Op::Off { pick } if !side.listeners.is_empty() => {
                        let (name, id) = side.listeners.remove(pick % side.listeners.len());
                        side.emitter.off(NAMES[name], id);
                    }
                    Op::Subscribe { name, capacity } => {
                        let subscription = side.emitter.subscribe(NAMES[name], capacity).unwrap();
                        side.subscriptions.push(subscription);
                    }
                    Op::Unsubscribe { pick } if !side.subscriptions.is_empty() => {
                        let index = pick % side.subscriptions.len();
                        drop(side.subscriptions.remove(index));
                    }
                    Op::NewHandle { name } => side.handles[name] = side.emitter.event(NAMES[name]),
                    Op::RemoveAll { name } => {
                        side.emitter.remove_all_listeners(name.map(|n| NAMES[n]));
                    }
                    Op::Off { .. } | Op::Unsubscribe { .. } | Op::Emit { .. } => {}
                }
            }
            if let Op::Emit { name } = op {
                let expected = by_name.emitter.emit(NAMES[name], payload);
                prop_assert_eq!(by_handle.handles[name].emit(payload), expected);
            }
            prop_assert_eq!(&*by_handle.calls.lock().unwrap(), &*by_name.calls.lock().unwrap());
            prop_assert_eq!(by_handle.drain(), by_name.drain());
            for name in NAMES {
                prop_assert_eq!(
                    by_handle.emitter.listener_count(name),
                    by_name.emitter.listener_count(name)
                );
            }
        }
    }
}

#[test]
fn a_listener_added_on_another_thread_is_called_by_the_next_handle_emit() {
    let emitter: Emitter<u64> = Emitter::new();
    let tick = emitter.event("tick");
    listener_added_elsewhere_is_called_by_the_next_emit(&emitter, |n| tick.emit(n));
}

#[test]
fn a_listener_added_on_another_thread_is_called_by_the_next_emit_by_name() {
    // Emits by name to an event with only subscriptions store under the registry's lock.
    let emitter: Emitter<u64> = Emitter::new();
    let by_name = emitter.clone();
    listener_added_elsewhere_is_called_by_the_next_emit(&emitter, |n| by_name.emit("tick", n));
}

/// Rounds of: two emits to a subscription alone (the second takes the direct path), a listener
/// added on another thread, an emit that must call it, and the listener removed again.
fn listener_added_elsewhere_is_called_by_the_next_emit(
    emitter: &Emitter<u64>,
    emit: impl Fn(u64) -> Result<bool, Error<u64>>,
) {
    const ROUNDS: u64 = 5_000;
    let mut subscription = task::spawn(emitter.subscribe("tick", 4).unwrap());
    let (to_adder, requests) = mpsc::channel::<bool>();
    let (to_emitter, replies) = mpsc::channel::<Arc<AtomicU64>>();
    let adder = {
        let emitter = emitter.clone();
        thread::spawn(move || {
            let mut current = None;
            while let Ok(add) = requests.recv() {
                if add {
                    let seen = Arc::new(AtomicU64::new(u64::MAX));
                    let sink = Arc::clone(&seen);
                    current = Some(emitter.on("tick", move |n| sink.store(*n, Ordering::Relaxed)));
                    to_emitter.send(seen).unwrap();
                } else {
                    assert!(emitter.off("tick", current.take().unwrap()));
                    to_emitter.send(Arc::new(AtomicU64::new(0))).unwrap();
                }
            }
        })
    };
    for round in 0..ROUNDS {
        assert_eq!(emit(round), Ok(true));
        assert_eq!(emit(round), Ok(true));
        to_adder.send(true).unwrap();
        let seen = replies.recv().unwrap();
        assert_eq!(emit(round), Ok(true));
        assert_eq!(seen.load(Ordering::Relaxed), round, "round {round}");
        to_adder.send(false).unwrap();
        replies.recv().unwrap();
        for _ in 0..3 {
            assert_eq!(assert_ready!(subscription.poll_next()), Some(Ok(round)));
        }
    }
    drop(to_adder);
    adder.join().unwrap();
    assert_pending!(subscription.poll_next());
}

#[test]
fn a_waiting_subscription_is_woken_by_a_handle_emit() {
    let emitter: Emitter<u32> = Emitter::new();
    let mut subscription = task::spawn(emitter.subscribe("n", 4).unwrap());
    let n = emitter.event("n");
    n.emit(1).unwrap();
    assert_eq!(assert_ready!(subscription.poll_next()), Some(Ok(1)));
    assert_pending!(subscription.poll_next());
    n.emit(2).unwrap();
    assert!(subscription.is_woken());
    assert_eq!(assert_ready!(subscription.poll_next()), Some(Ok(2)));
}

#[test]
fn subscriptions_made_after_the_handle_receive_its_emits() {
    let emitter: Emitter<u32> = Emitter::new();
    let n = emitter.event("n");
    assert_eq!(n.emit(0), Ok(false));
    let mut early = task::spawn(emitter.subscribe("n", 4).unwrap());
    n.emit(1).unwrap();
    n.emit(2).unwrap();
    drop(early.poll_next());
    drop(early);
    assert_eq!(n.emit(3), Ok(false), "the last subscription is gone");
    let mut late = task::spawn(emitter.subscribe("n", 4).unwrap());
    assert_eq!(n.emit(4), Ok(true));
    assert_eq!(n.emit(5), Ok(true));
    assert_eq!(assert_ready!(late.poll_next()), Some(Ok(4)));
    assert_eq!(assert_ready!(late.poll_next()), Some(Ok(5)));
    assert_pending!(late.poll_next());
}

#[test]
fn handles_on_several_threads_lose_reorder_and_duplicate_nothing() {
    const EMITTERS: u32 = 2;
    const PER_EMITTER: u32 = 20_000;
    const STRIDE: u32 = 1 << 20;
    let emitter: Emitter<u32> = Emitter::new();
    let total = (EMITTERS * PER_EMITTER) as usize;
    let mut whole = emitter.subscribe("n", total).unwrap();
    let writers: Vec<_> = (0..EMITTERS)
        .map(|t| {
            let n = emitter.event("n");
            thread::spawn(move || {
                for i in 0..PER_EMITTER {
                    assert_eq!(n.emit(t * STRIDE + i), Ok(true));
                }
            })
        })
        .collect();
    // Meanwhile: subscriptions come and go and a listener is added and removed, so the handles
    // keep falling back to the named path and re-arming.
    let mut partial_reads = Vec::new();
    while writers.iter().any(|writer| !writer.is_finished()) {
        let mut partial = emitter.subscribe("n", total).unwrap();
        let id = emitter.on("n", |_| {});
        thread::yield_now();
        assert!(emitter.off("n", id));
        thread::yield_now();
        let mut read = Vec::new();
        while let Some(next) = partial.next().now_or_never() {
            read.push(next.unwrap().unwrap());
        }
        partial_reads.push(read);
    }
    for writer in writers {
        writer.join().unwrap();
    }
    let mut all = Vec::with_capacity(total);
    while let Some(next) = whole.next().now_or_never() {
        all.push(next.unwrap().unwrap());
    }
    assert_eq!(all.len(), total, "the first subscription saw every emit");
    for read in partial_reads.iter().chain([&all]) {
        for t in 0..EMITTERS {
            let mine: Vec<u32> = read.iter().copied().filter(|v| v / STRIDE == t).collect();
            assert!(
                mine.windows(2).all(|pair| pair[1] == pair[0] + 1),
                "emitter {t}'s payloads arrive once each and in order"
            );
        }
    }
}

#[test]
fn a_handle_keeps_the_emitter_alive_as_an_emitter_clone_does() {
    let emitter: Emitter<u32> = Emitter::new();
    let mut subscription = task::spawn(emitter.subscribe("n", 4).unwrap());
    let n = emitter.event("n");
    drop(emitter);
    assert_eq!(n.emit(1), Ok(true));
    assert_eq!(assert_ready!(subscription.poll_next()), Some(Ok(1)));
    drop(n);
    assert_eq!(
        assert_ready!(subscription.poll_next()),
        None,
        "the last handle is gone"
    );
}
