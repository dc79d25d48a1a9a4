//! # Implementation details
//!
//! A pushed call that has to wait, without a task of its own while it waits.
//!
//! Spawning a tokio task per queued call would cost a task header, its scheduler bookkeeping and
//! the admission future inside it for as long as the call waits, which with a long queue is most
//! of the call's memory. Instead, a queued push is one allocation, a [`QueuedPush`]: the queue's
//! state word for it, and under a small mutex its [`Stage`]: the future itself with what is needed
//! to start it (a weak reference to the shared state and the runtime captured by `push`), and the
//! waker of the handle. The queue holds it as a [`Seat`]; the handle holds it as a [`Pending`].
//!
//! When the admission machine grants the seat a slot (or `close` turns it away) it calls
//! [`Seat::wake`] once, after its lock is dropped. For a grant, `wake` takes the future out,
//! wraps the granted slot in a permit and spawns the call's task on the captured runtime, leaves
//! the task's `JoinHandle` in the stage and wakes the handle, which takes the `JoinHandle` over.
//! From there on a pushed call that waited is exactly one that was admitted at once.
//!
//! Who owns a granted slot is decided under the stage's mutex, so exactly one side does:
//!
//! - `wake` finds `Waiting`: it takes the future and the slot (in a permit that the task owns).
//! - The handle's `cancel` finds `Waiting` first: it marks the stage `Gone`, then leaves the
//!   queue through [`Shared::give_up`], which under the queue lock either marks the seat
//!   cancelled (it never runs) or, if the grant came first, releases the granted slot. A `wake`
//!   arriving afterwards finds `Gone` and does nothing.
//! - The handle's `cancel` finds `Started`: it aborts the task, whose drop releases the permit.
//!
//! The stage holds the shared state weakly because the queue (inside the shared state) holds the
//! stage: a strong reference would be a cycle that keeps a bagpipe with queued, detached calls
//! alive forever. A grant always comes from code that holds the shared state, so the upgrade in
//! `wake` succeeds whenever a slot was really granted.
//!
//! A bagpipe with a `queue_timeout` does not use this path: the queue deadline needs a timer
//! that fires whether or not anyone polls the handle, so such calls wait in their own task.

use std::fmt;
use std::future::Future;
use std::mem;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::bagpipe::run_admitted;
use crate::error::Error;
use crate::shared::{Permit, Shared};
use crate::slots::{Enqueue, GRANTED, Seat, WAITING};
use crate::sync::{AtomicU8, Ordering};

/// A pushed call as `push` received it: its future and where to start it.
pub(crate) struct Launch<F> {
    pub(crate) future: F,
    pub(crate) shared: Weak<Shared>,
    pub(crate) runtime: Handle,
}

impl<F> fmt::Debug for Launch<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Launch").finish_non_exhaustive()
    }
}

impl<F> Enqueue for Launch<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Seat = QueuedPush<F>;

    fn enqueue(self) -> Arc<QueuedPush<F>> {
        Arc::new(QueuedPush {
            state: AtomicU8::new(WAITING),
            stage: Mutex::new(Stage::Waiting {
                launch: self,
                waker: None,
            }),
        })
    }
}

/// A queued pushed call: its place in the queue and its stage.
pub(crate) struct QueuedPush<F: Future> {
    state: AtomicU8,
    stage: Mutex<Stage<F>>,
}

enum Stage<F: Future> {
    /// In the queue; `waker` is the handle's, if it was polled.
    Waiting {
        launch: Launch<F>,
        waker: Option<Waker>,
    },
    /// Granted and spawned; the handle has not taken the task over yet.
    Started(JoinHandle<Result<F::Output, Error>>),
    /// Turned away by `close`; the handle has not seen it yet.
    Closed,
    /// Given up by the handle, or handed over to it.
    Gone,
}

impl<F: Future> QueuedPush<F> {
    fn lock(&self) -> MutexGuard<'_, Stage<F>> {
        // Every change to the stage is a single assignment that no panic interrupts.
        self.stage.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<F> Seat for QueuedPush<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn seat(&self) -> &AtomicU8 {
        &self.state
    }

    fn wake(self: Arc<Self>) {
        let granted = self.state.load(Ordering::Acquire) == GRANTED;
        let mut stage = self.lock();
        let (launch, waker) = match mem::replace(&mut *stage, Stage::Gone) {
            Stage::Waiting { launch, waker } => (launch, waker),
            other => {
                *stage = other;
                return;
            }
        };
        if granted {
            if let Some(shared) = launch.shared.upgrade() {
                let permit = Permit::new(shared);
                *stage = Stage::Started(launch.runtime.spawn(run_admitted(permit, launch.future)));
            }
            drop(stage);
        } else {
            *stage = Stage::Closed;
            drop(stage);
            drop(launch);
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// What a [`Push`](crate::Push) handle sees of a queued call, whatever its future's type.
pub(crate) trait Pending<T>: Send + Sync {
    /// Ready with the call's task once it was started, or with the error that turned it away.
    fn poll_start(&self, cx: &mut Context<'_>)
    -> Poll<Result<JoinHandle<Result<T, Error>>, Error>>;

    /// The handle gives up: the call leaves the queue and never runs, or its task is aborted.
    fn cancel(&self);

    /// Whether awaiting the handle would not wait.
    fn is_finished(&self) -> bool;
}

impl<F> Pending<F::Output> for QueuedPush<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn poll_start(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<JoinHandle<Result<F::Output, Error>>, Error>> {
        let mut stage = self.lock();
        if let Stage::Waiting { waker, .. } = &mut *stage {
            match waker {
                Some(waker) => waker.clone_from(cx.waker()),
                None => *waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        match mem::replace(&mut *stage, Stage::Gone) {
            Stage::Started(task) => Poll::Ready(Ok(task)),
            Stage::Closed => Poll::Ready(Err(Error::Closed)),
            Stage::Waiting { .. } | Stage::Gone => Poll::Pending,
        }
    }

    fn cancel(&self) {
        let taken = mem::replace(&mut *self.lock(), Stage::Gone);
        match taken {
            Stage::Waiting { launch, .. } => {
                if let Some(shared) = launch.shared.upgrade() {
                    shared.give_up(&self.state);
                }
            }
            Stage::Started(task) => task.abort(),
            Stage::Closed | Stage::Gone => {}
        }
    }

    fn is_finished(&self) -> bool {
        match &*self.lock() {
            Stage::Waiting { .. } => false,
            Stage::Started(task) => task.is_finished(),
            Stage::Closed | Stage::Gone => true,
        }
    }
}

impl<F: Future> fmt::Debug for QueuedPush<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuedPush").finish_non_exhaustive()
    }
}
