//! Permits: a held slot that is released when it is dropped.
//!
//! Every slot of a bagpipe is held by a [`Held`] value and by nothing else: a permit a user
//! holds, a running `run` or pushed call, a tower request. Dropping it releases the slot, so a
//! call that is cancelled, panics or times out anywhere frees exactly what it held: there is no
//! code path that counts a slot by hand.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use crate::shared::Shared;
use crate::stats::Counters;

/// A held slot (or, on a disabled bagpipe, a stand-in that holds none), generic over how it
/// reaches the shared state: `&Shared` for the borrowing [`Permit`] and `run`, which so cost no
/// reference count traffic, `Arc<Shared>` for [`OwnedPermit`] and pushed calls.
///
/// A slot released through [`complete`](Held::complete) counts as a completed call; any other
/// release (timeout, panic, cancellation) is counted apart, so that
/// `completed = released - other releases`.
pub(crate) struct Held<S: Borrow<Shared>> {
    shared: S,
    slot: bool,
    completed: bool,
}

impl<S: Borrow<Shared>> Held<S> {
    /// Wraps a slot the caller already holds.
    #[inline]
    pub(crate) fn new(shared: S) -> Self {
        Self {
            shared,
            slot: true,
            completed: false,
        }
    }

    /// A stand-in for a disabled bagpipe, which holds no slot and counts nothing.
    pub(crate) fn unlimited(shared: S) -> Self {
        Self {
            shared,
            slot: false,
            completed: false,
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        self.shared.borrow()
    }

    /// Whether a slot is held (false on a disabled bagpipe).
    pub(crate) fn holds_slot(&self) -> bool {
        self.slot
    }

    /// Releases the slot of a call that delivered its output.
    #[inline]
    pub(crate) fn complete(mut self) {
        self.completed = true;
    }

    /// Makes the eventual release count as a completed call (a user's permit).
    fn completing(mut self) -> Self {
        self.completed = true;
        self
    }
}

impl Held<Arc<Shared>> {
    pub(crate) fn shared_arc(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl<S: Borrow<Shared>> Drop for Held<S> {
    #[inline]
    fn drop(&mut self) {
        if !self.slot {
            return;
        }
        let shared = self.shared.borrow();
        if !self.completed {
            Counters::bump(&shared.counters.other_releases);
        }
        let drained = shared.slots.release();
        shared.drained(drained);
    }
}

impl<S: Borrow<Shared>> fmt::Debug for Held<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

/// A slot of a [`Bagpipe`](crate::Bagpipe), held until the permit is dropped; from
/// [`Bagpipe::acquire`](crate::Bagpipe::acquire) or
/// [`Bagpipe::try_acquire`](crate::Bagpipe::try_acquire).
///
/// Hold one across several awaits that together must count as one call, such as a database
/// transaction. Dropping it frees the slot, and the head of the queue gets it at once; a panic
/// that drops it frees it the same way. Its release counts as a completed call in
/// [`Stats`](crate::Stats). On a [`disabled`](crate::Builder::disabled) bagpipe a permit holds
/// no slot.
///
/// The execution timeout does not apply to a permit: it bounds calls that the bagpipe runs
/// ([`run`](crate::Bagpipe::run), [`push`](crate::Bagpipe::push), the tower layer).
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::new(1);
/// let permit = pipe.acquire().await.unwrap();
/// assert_eq!(pipe.active(), 1);
/// assert!(pipe.try_acquire().is_err(), "the only slot is held");
/// drop(permit);
/// assert_eq!(pipe.active(), 0);
/// # }
/// ```
#[must_use = "the slot is released as soon as the permit is dropped"]
#[clippy::has_significant_drop]
pub struct Permit<'a> {
    held: Held<&'a Shared>,
}

impl<'a> Permit<'a> {
    pub(crate) fn new(held: Held<&'a Shared>) -> Self {
        Self {
            held: held.completing(),
        }
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("holds_slot", &self.held.holds_slot())
            .finish()
    }
}

/// A slot of a [`Bagpipe`](crate::Bagpipe) that owns its reference to the bagpipe, so it can
/// move into a spawned task (`'static`); from
/// [`Bagpipe::acquire_owned`](crate::Bagpipe::acquire_owned) or
/// [`Bagpipe::try_acquire_owned`](crate::Bagpipe::try_acquire_owned).
///
/// It behaves as [`Permit`] does: dropping it frees the slot and counts a completed call.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::new(2);
/// let permit = pipe.acquire_owned().await.unwrap();
/// let task = tokio::spawn(async move {
///     let _slot = permit; // held for the whole task
///     "rows"
/// });
/// assert_eq!(task.await.unwrap(), "rows");
/// assert_eq!(pipe.active(), 0);
/// # }
/// ```
#[must_use = "the slot is released as soon as the permit is dropped"]
#[clippy::has_significant_drop]
pub struct OwnedPermit {
    held: Held<Arc<Shared>>,
}

impl OwnedPermit {
    pub(crate) fn new(held: Held<Arc<Shared>>) -> Self {
        Self {
            held: held.completing(),
        }
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("holds_slot", &self.held.holds_slot())
            .finish()
    }
}
