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
use crate::shared::{Mode, Shared};
use crate::stats::Counters;

/// A held slot (or, on a disabled bagpipe, a stand-in that holds none), generic over how it
/// reaches the shared state: `&Shared` for the borrowing [`Permit`] and `run`, which so cost no
/// reference count traffic, `Arc<Shared>` for [`OwnedPermit`] and pushed calls.
///
/// A slot released through [`complete`](Held::complete) counts as a completed call; any other
/// release (timeout, panic, cancellation) is counted apart, so that
/// `completed = released - other releases`.
///
/// What the release has to do is in one word beside the reference to the shared state, so that
/// a held slot moves as two words, and the common release (a completed call under a fixed
/// limit) is told apart from every other with one comparison; the rest (a call that did not
/// complete, a measured call, no slot at all) goes out of line.
pub(crate) struct Held<S: Borrow<Shared>> {
    shared: S,
    /// The low byte holds the flags (`SLOT`, `COMPLETED`, `MEASURED`), the next one the
    /// [`Outcome`] the release reports if not the default (success when completed, dropped
    /// otherwise), and the high 32 bits, for a measured call, when it got its slot on the
    /// controller's clock (see `adaptive::Controller::ticks`). A fixed limit's permit, and
    /// every future holding one, is so no larger than without adaptive limits.
    state: u64,
}

/// A slot is held (not so on a disabled bagpipe).
const SLOT: u64 = 0b001;
/// The release counts as a completed call.
const COMPLETED: u64 = 0b010;
/// An adaptive limit measures the call.
const MEASURED: u64 = 0b100;
const FLAGS: u64 = 0xff;
const OUTCOME_SHIFT: u32 = 8;
const STARTED_SHIFT: u32 = 32;

/// An outcome as it is kept in a held slot's state.
fn outcome_code(outcome: Outcome) -> u64 {
    let code = match outcome {
        Outcome::Success => 0,
        Outcome::Error => 1,
        Outcome::Overload => 2,
        Outcome::Timeout => 3,
        Outcome::Dropped => 4,
    };
    code << OUTCOME_SHIFT
}

/// The outcome kept in a held slot's state.
fn outcome_of(state: u64) -> Outcome {
    match (state >> OUTCOME_SHIFT) & 0xff {
        0 => Outcome::Success,
        1 => Outcome::Error,
        2 => Outcome::Overload,
        3 => Outcome::Timeout,
        _ => Outcome::Dropped,
    }
}

impl<S: Borrow<Shared>> Held<S> {
    /// Takes a slot at once if one is free and nobody waits (a stand-in on a disabled bagpipe),
    /// for a call that starts now; otherwise gives `shared` back. A fixed limit is told from the
    /// other modes with one comparison; they go out of line.
    #[inline]
    pub(crate) fn try_take(shared: S) -> Result<Self, S> {
        let this = shared.borrow();
        if this.mode != Mode::Fixed {
            return Self::try_take_unfixed(shared);
        }
        if this.slots.try_fast() {
            Ok(Self {
                shared,
                state: SLOT,
            })
        } else {
            Err(shared)
        }
    }

    /// [`try_take`](Held::try_take) under an adaptive limit or on a disabled bagpipe.
    #[inline(never)]
    fn try_take_unfixed(shared: S) -> Result<Self, S> {
        let this = shared.borrow();
        if this.mode == Mode::Disabled {
            Ok(Self::unlimited(shared))
        } else if this.slots.try_fast() {
            Ok(Self::stamped(shared))
        } else {
            Err(shared)
        }
    }

    /// Wraps a slot the caller already holds, for a call that starts now.
    #[inline]
    pub(crate) fn new(shared: S) -> Self {
        if shared.borrow().mode == Mode::Adaptive {
            Self::stamped(shared)
        } else {
            Self {
                shared,
                state: SLOT,
            }
        }
    }

    /// As [`new`](Held::new), for a call an adaptive limit measures: stamped with its start.
    fn stamped(shared: S) -> Self {
        let started = shared
            .borrow()
            .adaptive
            .as_ref()
            .map_or(0, |controller| controller.ticks());
        Self {
            shared,
            state: SLOT | MEASURED | u64::from(started) << STARTED_SHIFT,
        }
    }

    /// Wraps a slot that was granted to a waiter that no longer wants it: released at once,
    /// never measured.
    pub(crate) fn unused(shared: S) -> Self {
        Self {
            shared,
            state: SLOT,
        }
    }

    /// A stand-in for a disabled bagpipe, which holds no slot and counts nothing.
    pub(crate) fn unlimited(shared: S) -> Self {
        Self { shared, state: 0 }
    }

    pub(crate) fn shared(&self) -> &Shared {
        self.shared.borrow()
    }

    /// Whether a slot is held (false on a disabled bagpipe).
    pub(crate) fn holds_slot(&self) -> bool {
        self.state & SLOT != 0
    }

    /// Whether the call's outcome is wanted (an adaptive limit measures it).
    #[inline]
    pub(crate) fn measured(&self) -> bool {
        self.state & MEASURED != 0
    }

    /// Releases the slot of a call that delivered its output.
    #[inline]
    pub(crate) fn complete(mut self) {
        self.state |= COMPLETED;
    }

    /// Releases the slot of a call that delivered its output, which ended as `outcome`.
    pub(crate) fn complete_as(mut self, outcome: Outcome) {
        self.set_outcome(outcome);
        self.state |= COMPLETED;
    }

    /// Sets the outcome the release reports to an adaptive limit (success by default for a
    /// completed call, dropped otherwise).
    pub(crate) fn set_outcome(&mut self, outcome: Outcome) {
        self.state = self.state & !(0xff << OUTCOME_SHIFT) | outcome_code(outcome);
    }

    /// Makes the eventual release count as a completed call (a user's permit).
    fn completing(mut self) -> Self {
        self.state |= COMPLETED;
        self
    }

    /// Everything a release does besides giving the slot back, for any release but a completed
    /// call under a fixed limit: counts a release that did not complete, and feeds a measured
    /// call to the adaptive limit. Returns whether there is a slot to give back.
    #[inline(never)]
    fn settle(&self) -> bool {
        if self.state & SLOT == 0 {
            return false;
        }
        let shared = self.shared.borrow();
        if self.state & COMPLETED == 0 {
            Counters::bump(&shared.counters.other_releases);
        }
        if self.state & MEASURED != 0 {
            self.report(shared);
        }
        true
    }

    /// Feeds the call to the adaptive limit, with the slots held just before its release (its
    /// own included). A call released without completing was dropped, unless it was marked
    /// (timed out); a release during a panic is a drop.
    fn report(&self, shared: &Shared) {
        let outcome = match outcome_of(self.state) {
            _ if std::thread::panicking() => Outcome::Dropped,
            Outcome::Success if self.state & COMPLETED == 0 => Outcome::Dropped,
            outcome => outcome,
        };
        let started = (self.state >> STARTED_SHIFT) as u32;
        shared.record(started, outcome, shared.slots.active());
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
        if self.state & FLAGS != SLOT | COMPLETED && !self.settle() {
            return;
        }
        let shared = self.shared.borrow();
        let drained = shared.slots.release();
        shared.drained(drained);
    }
}

impl<S: Borrow<Shared>> fmt::Debug for Held<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held")
            .field("slot", &self.holds_slot())
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

#[cfg(all(test, not(bagpipe_loom)))]
mod tests {
    use super::*;
    use crate::adaptive::Adaptivity;
    use crate::options::Options;

    const OUTCOMES: [Outcome; 5] = [
        Outcome::Success,
        Outcome::Error,
        Outcome::Overload,
        Outcome::Timeout,
        Outcome::Dropped,
    ];

    #[test]
    fn every_outcome_survives_the_state_word() {
        for outcome in OUTCOMES {
            assert_eq!(outcome_of(outcome_code(outcome)), outcome);
        }
    }

    #[test]
    fn setting_an_outcome_keeps_the_flags_and_the_start() {
        let shared = Shared::new(1, Options::new(1), Adaptivity::default());
        // A stand-in that holds no slot, so that its release touches nothing.
        let mut held = Held::unlimited(&shared);
        held.state |= MEASURED | 0xdead_beef << STARTED_SHIFT;
        for outcome in OUTCOMES {
            held.set_outcome(outcome);
            assert_eq!(outcome_of(held.state), outcome);
            assert_eq!(held.state & FLAGS, MEASURED);
            assert_eq!(held.state >> STARTED_SHIFT, 0xdead_beef);
        }
    }

    #[test]
    fn a_held_slot_is_two_words() {
        assert_eq!(size_of::<Held<&Shared>>(), 2 * size_of::<usize>());
        assert_eq!(size_of::<Option<Held<&Shared>>>(), 2 * size_of::<usize>());
    }
}
