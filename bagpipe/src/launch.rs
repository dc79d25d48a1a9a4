//! # Implementation details
//!
//! A pushed call that has to wait, without a task of its own while it waits.
//!
//! Spawning a tokio task per queued call would cost a task header, its scheduler bookkeeping and
//! the waiting future inside it for as long as the call waits, which with a long queue is most
//! of the call's memory. Instead a queued push is parked in its place in the queue: the node's
//! payload is a [`Parked`] stage holding the call's future, what is needed to start it (a weak
//! reference to the shared state and the runtime captured by `push`) and the handle's waker, and
//! the node tells [`decided`] instead of a task's waker. The one allocation is the queue's node.
//!
//! Waiting is the same as everywhere else: a node in the one queue, decided by the machine,
//! which tells the owner once. A waiting future (`waiter::Waiter`) is told through its task's
//! waker; a parked push through [`decided`], which reads the decision as the waiter's poll does: for a grant, it wraps the granted slot in a permit and spawns the
//! call's task ([`pushed`]) with it, so from there on a call that waited is one that was
//! admitted at once; for a close, it drops the future and leaves `Error::Closed` for the
//! handle, without a task. The task is not spawned before the decision because nothing would
//! poll it usefully.
//!
//! Who owns a granted slot is decided under the stage's mutex, so exactly one side does:
//!
//! - `decided` finds `Waiting`: it takes the future and spawns the task, whose permit owns the
//!   slot;
//! - the handle's `cancel` finds `Waiting` first: it marks the stage `Gone` and leaves the
//!   queue, which either cancels the node (it never runs) or, if the grant came first, hands the
//!   handle the granted slot, which it releases; `decided` arriving later finds `Gone`;
//! - the handle's `cancel` finds `Started`: it aborts the task, whose drop releases the slot.
//!
//! The stage holds the shared state weakly because the queue (inside the shared state) holds the
//! node: a strong reference would be a cycle. A grant always comes from code that holds the
//! shared state, so the upgrade in `decided` succeeds whenever a slot was really granted.

use std::fmt;
use std::future::Future;
use std::mem;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::execute::pushed;
use crate::permit::Held;
use crate::shared::{Decision, Shared};
use crate::slots::{GRANTED, Left, Node, SHED};

type Task<T> = JoinHandle<Result<T, Error>>;

/// The payload of a queued push's node.
pub(crate) struct Parked<F: Future> {
    stage: Mutex<Stage<F>>,
}

enum Stage<F: Future> {
    /// In the queue; `waker` is the handle's, if it was polled.
    Waiting {
        call: F,
        shared: Weak<Shared>,
        runtime: Handle,
        waker: Option<Waker>,
    },
    /// Granted and spawned; the handle has not taken the task over yet.
    Started(Task<F::Output>),
    /// Turned away by `close`; the handle has not seen it yet.
    /// Turned away without a slot (closed, or shed by the queue discipline).
    TurnedAway(Error),
    /// Given up by the handle, or handed over to it.
    Gone,
}

impl<F: Future> Parked<F> {
    fn lock(&self) -> MutexGuard<'_, Stage<F>> {
        // Every change to the stage is a single assignment that no panic interrupts.
        self.stage.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What happened to a push at its decision.
pub(crate) enum Launched<T> {
    /// Admitted at once and spawned.
    Running(Task<T>),
    /// Parked in the queue.
    Parked(Arc<dyn Pending<T>>),
}

/// Admits `call` or parks it in the queue; spawns it on `runtime` once it holds a slot.
pub(crate) fn launch<F>(
    shared: &Arc<Shared>,
    runtime: Handle,
    call: F,
) -> Result<Launched<F::Output>, Error>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let parked = Parked {
        stage: Mutex::new(Stage::Waiting {
            call,
            shared: Arc::downgrade(shared),
            runtime,
            waker: None,
        }),
    };
    match shared.decide(parked, decided::<F>)? {
        Decision::Admitted(parked) => {
            let stage = parked
                .stage
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner);
            let Stage::Waiting { call, runtime, .. } = stage else {
                return Err(Error::Closed);
            };
            let permit = Held::new(Arc::clone(shared));
            Ok(Launched::Running(runtime.spawn(pushed(permit, call))))
        }
        Decision::Queued(node) => Ok(Launched::Parked(node)),
    }
}

/// The machine decided a parked call's place: start it if it was granted a slot, or leave
/// `Error::Closed` for its handle.
fn decided<F>(node: &Node)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(parked) = node.payload().downcast_ref::<Parked<F>>() else {
        return;
    };
    let mut stage = parked.lock();
    let Stage::Waiting {
        call,
        shared,
        runtime,
        waker,
    } = mem::replace(&mut *stage, Stage::Gone)
    else {
        return;
    };
    // Read under the stage lock after the machine's decision: `GRANTED` means the slot is this
    // call's, and the permit made here is what releases it.
    match shared.upgrade() {
        Some(shared) if node.state() == GRANTED => {
            *stage = Stage::Started(runtime.spawn(pushed(Held::new(shared), call)));
            drop(stage);
        }
        Some(shared) if node.state() == SHED => {
            *stage = Stage::TurnedAway(shared.shed());
            drop(stage);
            drop(call);
        }
        _ => {
            *stage = Stage::TurnedAway(Error::Closed);
            drop(stage);
            drop(call);
        }
    }
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// What a [`Push`](crate::Push) handle sees of a parked call, whatever its future's type.
pub(crate) trait Pending<T>: Send + Sync {
    /// Ready with the call's task once it was started, or with the error that turned it away.
    fn poll_start(&self, cx: &mut Context<'_>) -> Poll<Result<Task<T>, Error>>;

    /// The handle gives up: the call leaves the queue and never runs, or its task is aborted.
    fn cancel(&self);

    /// Whether the call has been decided and its task has ended.
    fn is_finished(&self) -> bool;
}

impl<F> Pending<F::Output> for Node<Parked<F>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn poll_start(&self, cx: &mut Context<'_>) -> Poll<Result<Task<F::Output>, Error>> {
        let mut stage = self.payload().lock();
        match &mut *stage {
            Stage::Waiting { waker, .. } => {
                match waker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Stage::Started(_) | Stage::TurnedAway(_) => {
                match mem::replace(&mut *stage, Stage::Gone) {
                    Stage::Started(task) => Poll::Ready(Ok(task)),
                    Stage::TurnedAway(error) => Poll::Ready(Err(error)),
                    _ => Poll::Ready(Err(Error::Closed)),
                }
            }
            Stage::Gone => Poll::Pending,
        }
    }

    fn cancel(&self) {
        let taken = mem::replace(&mut *self.payload().lock(), Stage::Gone);
        match taken {
            Stage::Waiting { call, shared, .. } => {
                drop(call);
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                match shared.slots.leave(self) {
                    Left::Waiting(drained) => shared.drained(drained),
                    // Granted before the handle left: the slot is the handle's to give back.
                    Left::Granted => drop(Held::unused(shared)),
                    Left::Gone => {}
                }
            }
            Stage::Started(task) => task.abort(),
            Stage::TurnedAway(_) | Stage::Gone => {}
        }
    }

    fn is_finished(&self) -> bool {
        match &*self.payload().lock() {
            Stage::Waiting { .. } => false,
            Stage::Started(task) => task.is_finished(),
            Stage::TurnedAway(_) | Stage::Gone => true,
        }
    }
}

impl<F: Future> fmt::Debug for Parked<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parked").finish_non_exhaustive()
    }
}
