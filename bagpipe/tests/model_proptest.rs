//! A property test: random sequences of push / run / acquire / finish / drop / panic / time
//! passing / set_limit / close against a reference model of the book's algorithm.
//!
//! The model is the book's `push` / `next` / `run` reduced to data: a set of running calls, a
//! FIFO queue, a limit, a queue length for refusal, an execution timeout. After every step the
//! limiter and the model must agree on the active and queued counts and on exactly which calls
//! resolved and how; at the end every call has resolved exactly once.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use nodebook_bagpipe::{Bagpipe, Error};
use proptest::prelude::*;
use tokio::sync::oneshot;
use tokio_test::task::{Spawn, spawn};

const TIMEOUT_MS: u64 = 10;
const QUEUE_LENGTH: usize = 3;

/// How a call goes through the bagpipe.
#[derive(Debug, Clone, Copy)]
enum Way {
    Push,
    Run,
    /// `acquire_owned`, then the work under the caller's own `tokio::time::timeout`, holding
    /// the permit.
    Permit,
}

#[derive(Debug, Clone)]
enum Op {
    Start(Way),
    Finish(usize),
    Panic(usize),
    Drop(usize),
    Advance(u64),
    SetLimit(usize),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => prop_oneof![Just(Way::Push), Just(Way::Run), Just(Way::Permit)].prop_map(Op::Start),
        3 => any::<usize>().prop_map(Op::Finish),
        1 => any::<usize>().prop_map(Op::Panic),
        2 => any::<usize>().prop_map(Op::Drop),
        2 => (1..=TIMEOUT_MS).prop_map(Op::Advance),
        1 => (0usize..5).prop_map(Op::SetLimit),
        1 => Just(Op::Close),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Done(u32),
    Refused,
    Closed,
    Timeout,
    Panicked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Running { since: u64 },
    Queued,
}

/// The book's algorithm as data.
#[derive(Debug)]
struct Model {
    limit: usize,
    refuse: bool,
    closed: bool,
    now: u64,
    places: BTreeMap<u32, Place>,
    queue: VecDeque<u32>,
}

impl Model {
    fn running(&self) -> usize {
        self.places
            .values()
            .filter(|place| matches!(place, Place::Running { .. }))
            .count()
    }

    fn admit(&mut self, id: u32) -> Option<Outcome> {
        if self.closed {
            return Some(Outcome::Closed);
        }
        if self.queue.is_empty() && self.running() < self.limit {
            self.places.insert(id, Place::Running { since: self.now });
            return None;
        }
        if self.refuse && self.queue.len() >= QUEUE_LENGTH {
            return Some(Outcome::Refused);
        }
        self.places.insert(id, Place::Queued);
        self.queue.push_back(id);
        None
    }

    /// The book's `next`, repeated while slots are free.
    fn next(&mut self) {
        while self.running() < self.limit {
            let Some(id) = self.queue.pop_front() else {
                break;
            };
            self.places.insert(id, Place::Running { since: self.now });
        }
    }

    fn remove(&mut self, id: u32) {
        if self.places.remove(&id) == Some(Place::Queued) {
            self.queue.retain(|queued| *queued != id);
        }
        self.next();
    }
}

type CallFuture = Pin<Box<dyn Future<Output = Result<u32, Error>>>>;

struct Call {
    task: Spawn<CallFuture>,
    finish: Option<oneshot::Sender<bool>>,
}

fn start(pipe: &Bagpipe, id: u32, way: Way) -> Call {
    let (finish, finished) = oneshot::channel::<bool>();
    let work = async move {
        match finished.await {
            Ok(true) => id,
            Ok(false) => panic!("call {id} panics on purpose"),
            Err(_) => std::future::pending().await,
        }
    };
    let future: CallFuture = match way {
        // The handle itself; the call runs on its own task.
        Way::Push => Box::pin(pipe.push(work)),
        Way::Run => {
            let pipe = pipe.clone();
            Box::pin(async move { pipe.run(work).await })
        }
        Way::Permit => {
            let acquire = pipe.acquire_owned();
            Box::pin(async move {
                let _permit = acquire.await?;
                let timeout = Duration::from_millis(TIMEOUT_MS);
                tokio::time::timeout(timeout, work)
                    .await
                    .map_err(|_elapsed| Error::Timeout { timeout })
            })
        }
    };
    Call {
        task: spawn(future),
        finish: Some(finish),
    }
}

fn classify(result: Result<u32, Error>) -> Outcome {
    match result {
        Ok(id) => Outcome::Done(id),
        Err(Error::TooMuchAsyncCall { .. }) => Outcome::Refused,
        Err(Error::Closed) => Outcome::Closed,
        Err(Error::Timeout { .. }) => Outcome::Timeout,
        Err(Error::Panicked { .. }) => Outcome::Panicked,
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// Lets pushed calls' tasks run and polls every live call until none makes progress; returns
/// the calls that resolved.
async fn settle(calls: &mut BTreeMap<u32, Call>) -> BTreeMap<u32, Outcome> {
    let mut resolved = BTreeMap::new();
    let mut quiet_passes = 0;
    while quiet_passes < 2 {
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let mut progressed = false;
        let ids: Vec<u32> = calls.keys().copied().collect();
        for id in ids {
            let Some(call) = calls.get_mut(&id) else {
                continue;
            };
            let polled = std::panic::catch_unwind(AssertUnwindSafe(|| call.task.poll()));
            match polled {
                Ok(Poll::Pending) => {}
                Ok(Poll::Ready(result)) => {
                    calls.remove(&id);
                    resolved.insert(id, classify(result));
                    progressed = true;
                }
                Err(_panic) => {
                    // The panic unwound out of `poll`; dropping the future frees its slot,
                    // as a runtime does when it drops a panicked task.
                    calls.remove(&id);
                    resolved.insert(id, Outcome::Panicked);
                    progressed = true;
                }
            }
        }
        quiet_passes = if progressed { 0 } else { quiet_passes + 1 };
    }
    resolved
}

fn check(ops: Vec<Op>, limit: usize, refuse: bool) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pipe = Bagpipe::builder(limit)
            .queue_length(QUEUE_LENGTH)
            .refuse(refuse)
            .timeout(Duration::from_millis(TIMEOUT_MS))
            .build();
        let mut model = Model {
            limit,
            refuse,
            closed: false,
            now: 0,
            places: BTreeMap::new(),
            queue: VecDeque::new(),
        };
        let mut calls = BTreeMap::new();
        let mut outcomes: BTreeMap<u32, Outcome> = BTreeMap::new();
        let mut next_id = 0u32;
        for op in ops {
            let mut expected = BTreeMap::new();
            let running: Vec<u32> = model
                .places
                .iter()
                .filter(|(_, place)| matches!(place, Place::Running { .. }))
                .map(|(id, _)| *id)
                .collect();
            match op {
                Op::Start(way) => {
                    let id = next_id;
                    next_id += 1;
                    calls.insert(id, start(&pipe, id, way));
                    if let Some(outcome) = model.admit(id) {
                        expected.insert(id, outcome);
                    }
                }
                Op::Finish(pick) | Op::Panic(pick) if !running.is_empty() => {
                    let id = running[pick % running.len()];
                    let ok = matches!(op, Op::Finish(_));
                    let sender = calls.get_mut(&id).and_then(|call| call.finish.take());
                    sender.unwrap().send(ok).unwrap();
                    model.remove(id);
                    expected.insert(
                        id,
                        if ok {
                            Outcome::Done(id)
                        } else {
                            Outcome::Panicked
                        },
                    );
                }
                Op::Drop(pick) if !calls.is_empty() => {
                    let ids: Vec<u32> = calls.keys().copied().collect();
                    let id = ids[pick % ids.len()];
                    drop(calls.remove(&id));
                    model.remove(id);
                    outcomes.insert(id, Outcome::Closed);
                }
                Op::Advance(ms) => {
                    tokio::time::advance(Duration::from_millis(ms)).await;
                    model.now += ms;
                    let late: Vec<u32> = model
                        .places
                        .iter()
                        .filter_map(|(id, place)| match place {
                            Place::Running { since } if model.now - since >= TIMEOUT_MS => {
                                Some(*id)
                            }
                            _ => None,
                        })
                        .collect();
                    for id in late {
                        model.places.remove(&id);
                        expected.insert(id, Outcome::Timeout);
                    }
                    model.next();
                }
                Op::SetLimit(limit) => {
                    pipe.set_limit(limit);
                    model.limit = limit;
                    model.next();
                }
                Op::Close => {
                    pipe.close();
                    model.closed = true;
                    for id in model.queue.drain(..) {
                        model.places.remove(&id);
                        expected.insert(id, Outcome::Closed);
                    }
                }
                Op::Finish(_) | Op::Panic(_) | Op::Drop(_) => {}
            }
            let resolved = settle(&mut calls).await;
            prop_assert_eq!(&resolved, &expected, "after {:?}, model {:?}", op, model);
            for (id, outcome) in resolved {
                prop_assert!(
                    outcomes.insert(id, outcome).is_none(),
                    "call {} resolved twice",
                    id
                );
            }
            prop_assert_eq!(pipe.active(), model.running(), "active after {:?}", op);
            prop_assert_eq!(pipe.queued(), model.queue.len(), "queued after {:?}", op);
        }
        // Wind down: close, let every running call finish; every call resolved exactly once.
        pipe.close();
        for call in calls.values_mut() {
            if let Some(finish) = call.finish.take() {
                let _ = finish.send(true);
            }
        }
        let rest = settle(&mut calls).await;
        for (id, outcome) in rest {
            prop_assert!(
                outcomes.insert(id, outcome).is_none(),
                "call {} resolved twice",
                id
            );
        }
        prop_assert!(
            calls.is_empty(),
            "unresolved calls: {:?}",
            calls.keys().collect::<Vec<_>>()
        );
        prop_assert_eq!(outcomes.len(), next_id as usize);
        prop_assert_eq!((pipe.active(), pipe.queued()), (0, 0));
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_limiter_agrees_with_the_book_model(
        ops in proptest::collection::vec(op(), 1..60),
        limit in 0usize..4,
        refuse in any::<bool>(),
    ) {
        std::panic::set_hook(Box::new(|_| {}));
        check(ops, limit, refuse)?;
    }
}
