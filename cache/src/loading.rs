//! # Implementation details
//!
//! What `get_or_load` adds on top of the store and the once-queue: storing a loaded value with
//! the time-to-live it asks for, caching errors (negative caching), and the background refresh
//! of entries past `refresh_after`.
//!
//! - A cached error lives in a store of its own (`negatives`, FIFO, its own time-to-live, at
//!   most a quarter of the map's limit), type-erased as `Arc<dyn Any>` holding the loader's
//!   `Arc<E>`: the map's type knows nothing of the loaders' error types. A lookup whose error
//!   type differs from the cached one's sees no cached error.
//! - Both outcomes are committed by the flight's task under its table entry, and only while the
//!   flight is current: an `insert`, `remove` or `invalidate` of the key detaches the flight,
//!   so neither a stale value nor a stale error lands after it. A value clears the key's cached
//!   error; an `insert`, `remove`, `invalidate` or `clear` of the map clears it too.
//! - A refresh is an ordinary flight that nobody waits for ([`Flights::start`]), so callers
//!   whose entry expires meanwhile join it instead of starting another load. It remembers the
//!   generation of the entry it refreshes: a failed refresh postpones the next one by
//!   `refresh_after` on that entry only, never on a newer one.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::store::{Departed, REFRESH_FAILURES, Store};

/// A cached error: an `Arc<E>` of some loader's error type.
pub(crate) type Negative = Arc<dyn Any + Send + Sync>;

/// The closure that gives a loaded value its time-to-live.
pub(crate) type TtlOf<V> = Box<dyn Fn(&V) -> Option<Duration> + Send + Sync>;

/// The options of `get_or_load` beyond the once-queue.
pub(crate) struct Loading<K, V, S> {
    /// Cached errors, when negative caching is on.
    pub(crate) negatives: Option<Store<K, Negative, S>>,
    pub(crate) ttl_of_loaded: Option<TtlOf<V>>,
}

impl<K, V, S> Loading<K, V, S>
where
    K: std::hash::Hash + Eq + Clone,
    V: Clone,
    S: std::hash::BuildHasher + Clone,
{
    /// The cached error for `key`, if one of type `E` is live.
    pub(crate) fn cached_error<E: Send + Sync + 'static>(&self, key: &K) -> Option<Arc<E>> {
        let negative = self.negatives.as_ref()?.peek(key)?;
        negative.downcast_ref::<Arc<E>>().cloned()
    }

    /// Forgets the cached error of `key`.
    pub(crate) fn forget_error<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        if let Some(negatives) = &self.negatives
            && negatives.len() > 0
        {
            negatives.remove(key);
        }
    }

    /// Forgets every cached error.
    pub(crate) fn forget_errors(&self) {
        if let Some(negatives) = &self.negatives {
            negatives.clear();
        }
    }

    /// Commits the outcome of a current load of `key`: stores a value (with the time-to-live
    /// it asks for) or caches an error. `refreshing`: the generation of the entry a background
    /// refresh replaces; its errors are not cached but postpone the next refresh.
    /// Returns what to call once the table lock is released.
    pub(crate) fn commit<E: Send + Sync + 'static>(
        &self,
        store: &Arc<Store<K, V, S>>,
        key: &K,
        outcome: &Result<V, Error<E>>,
        refreshing: Option<u32>,
    ) -> Option<Departed<K, V>> {
        match (outcome, refreshing) {
            (Ok(value), _) => {
                let ttl = self
                    .ttl_of_loaded
                    .as_ref()
                    .and_then(|ttl_of| ttl_of(value))
                    .map(Some);
                let (_, departed) = store.insert_quiet(key.clone(), value.clone(), ttl);
                self.forget_error(key);
                Some(departed)
            }
            (Err(_), Some(generation)) => {
                store.count(REFRESH_FAILURES);
                crate::trace::decision!("cache refresh failed; the old value stays");
                store.postpone_refresh(key, generation);
                None
            }
            (Err(Error::Load(error)), None) => {
                if let Some(negatives) = &self.negatives {
                    let negative: Negative = Arc::new(Arc::clone(error));
                    negatives.insert(key.clone(), negative, None);
                }
                None
            }
            (Err(_), None) => None,
        }
    }
}
