//! Permits: a held slot that is released when it is dropped.
//!
//! Every slot of a bagpipe is held by a [`Held`] value and by nothing else: a permit a user
//! holds, a running `run` or pushed call, a tower request. Dropping it releases the slot, so a
//! call that is cancelled, panics or times out anywhere frees exactly what it held: there is no
//! code path that counts a slot by hand.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use crate::limit::Outcome;
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
    /// For an adaptive limit: when the call got its slot, on the controller's clock (see
    /// `adaptive::Controller::ticks`). Kept in the bytes the struct pads anyway, so that a fixed
    /// limit's permit, and every future holding one, is no larger than without adaptive limits.
    started: u32,
    slot: bool,
    completed: bool,
    /// Whether an adaptive limit measures this call.
    measured: bool,
    /// How the call ended, if not as the default (success when completed, dropped otherwise).
    outcome: Outcome,
}

impl<S: Borrow<Shared>> Held<S> {
    /// Wraps a slot the caller already holds, for a call that starts now.
    #[inline]
    pub(crate) fn new(shared: S) -> Self {
        let (measured, started) = match &shared.borrow().adaptive {
            None => (false, 0),
            Some(controller) => (true, controller.ticks()),
        };
        Self {
            shared,
            started,
            slot: true,
            completed: false,
            measured,
            outcome: Outcome::Success,
        }
    }

    /// Wraps a slot that was granted to a waiter that no longer wants it: released at once,
    /// never measured.
    pub(crate) fn unused(shared: S) -> Self {
        Self {
            shared,
            started: 0,
            slot: true,
            completed: false,
            measured: false,
            outcome: Outcome::Success,
        }
    }

    /// A stand-in for a disabled bagpipe, which holds no slot and counts nothing.
    pub(crate) fn unlimited(shared: S) -> Self {
        Self {
            shared,
            started: 0,
            slot: false,
            completed: false,
            measured: false,
            outcome: Outcome::Success,
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        self.shared.borrow()
    }

    /// Whether a slot is held (false on a disabled bagpipe).
    pub(crate) fn holds_slot(&self) -> bool {
        self.slot
    }

    /// Whether the call's outcome is wanted (an adaptive limit measures it).
    #[inline]
    pub(crate) fn measured(&self) -> bool {
        self.measured
    }

    /// Releases the slot of a call that delivered its output.
    #[inline]
    pub(crate) fn complete(mut self) {
        self.completed = true;
    }

    /// Releases the slot of a call that delivered its output, which ended as `outcome`.
    pub(crate) fn complete_as(mut self, outcome: Outcome) {
        self.outcome = outcome;
        self.completed = true;
    }

    /// Sets the outcome the release reports to an adaptive limit (success by default for a
    /// completed call, dropped otherwise).
    pub(crate) fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = outcome;
    }

    /// Makes the eventual release count as a completed call (a user's permit).
    fn completing(mut self) -> Self {
        self.completed = true;
        self
    }

    /// Feeds the call to the adaptive limit, with the slots held just before its release (its
    /// own included). A call released without completing was dropped, unless it was marked
    /// (timed out); a release during a panic is a drop.
    #[cold]
    #[inline(never)]
    fn report(&self, shared: &Shared) {
        let outcome = match self.outcome {
            _ if std::thread::panicking() => Outcome::Dropped,
            Outcome::Success if !self.completed => Outcome::Dropped,
            outcome => outcome,
        };
        shared.record(self.started, outcome, shared.slots.active());
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
        if self.measured {
            self.report(shared);
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
    /// Tells an adaptive [`Limit`](crate::limit::Limit) how the work done under this permit
    /// ended, reported when the permit is dropped: [`Outcome::Success`] unless set (and
    /// [`Outcome::Dropped`] when it is dropped by a panic). The permit API has no output for a
    /// [classifier](crate::Builder::classify) to look at, so this is how a permit's user
    /// reports an overloaded backend. Under a fixed limit it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    /// use nodebook_bagpipe::limit::{Aimd, Outcome};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::builder(0).limit(Aimd::default().initial_limit(10)).build();
    /// let mut permit = pipe.acquire().await.unwrap();
    /// // The database answered "too many connections":
    /// permit.set_outcome(Outcome::Overload);
    /// drop(permit);
    /// assert_eq!(pipe.limit(), 9, "AIMD backs off by 10%");
    /// # }
    /// ```
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.held.set_outcome(outcome);
    }

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
    /// Tells an adaptive [`Limit`](crate::limit::Limit) how the work done under this permit
    /// ended, reported when the permit is dropped: [`Outcome::Success`] unless set (and
    /// [`Outcome::Dropped`] when it is dropped by a panic). The permit API has no output for a
    /// [classifier](crate::Builder::classify) to look at, so this is how a permit's user
    /// reports an overloaded backend. Under a fixed limit it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    /// use nodebook_bagpipe::limit::{Aimd, Outcome};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::builder(0).limit(Aimd::default().initial_limit(10)).build();
    /// let mut permit = pipe.acquire_owned().await.unwrap();
    /// // The database answered "too many connections":
    /// permit.set_outcome(Outcome::Overload);
    /// drop(permit);
    /// assert_eq!(pipe.limit(), 9, "AIMD backs off by 10%");
    /// # }
    /// ```
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.held.set_outcome(outcome);
    }

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
