//! [`BridgeStats`]: what a bridge has done so far.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Counters of a [`Bridge`](super::Bridge), read with [`Bridge::stats`](super::Bridge::stats).
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::BridgeStats;
///
/// let stats = BridgeStats::default();
/// assert_eq!(stats.published + stats.dropped, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Local events written to Redis.
    pub published: u64,
    /// Local events not published: refused by the full queue, or their payload did not encode.
    pub dropped: u64,
    /// Remote events emitted locally.
    pub received: u64,
    /// Remote messages seen again (a retried write) and dropped.
    pub duplicates: u64,
    /// Pub/sub: remote messages dropped on arrival because the intake was full (the listeners
    /// were slower than the namespace for longer than
    /// [`intake_capacity`](super::BridgeBuilder::intake_capacity) messages); each loss is
    /// reported as a [`Gap::Overflowed`](super::Gap::Overflowed).
    pub overflowed: u64,
    /// Gaps reported.
    pub gaps: u64,
    /// Times the bridge lost its receiving connection and came back.
    pub reconnects: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    published: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
    duplicates: AtomicU64,
    overflowed: AtomicU64,
    gaps: AtomicU64,
    reconnects: AtomicU64,
    /// Pub/sub: messages in the intake, not yet taken by the receiving task (a gauge).
    held: AtomicUsize,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn add_published(&self, count: usize) {
        self.published
            .fetch_add(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) {
        bump(&self.dropped);
    }

    pub(crate) fn received(&self) {
        bump(&self.received);
    }

    pub(crate) fn duplicate(&self) {
        bump(&self.duplicates);
    }

    pub(crate) fn overflowed(&self) {
        bump(&self.overflowed);
    }

    pub(crate) fn held_add(&self) {
        self.held.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn held_sub(&self, count: usize) {
        self.held.fetch_sub(count, Ordering::Relaxed);
    }

    pub(crate) fn backlog(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub(crate) fn gap(&self) {
        bump(&self.gaps);
    }

    pub(crate) fn reconnect(&self) {
        bump(&self.reconnects);
    }

    pub(crate) fn snapshot(&self) -> BridgeStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        BridgeStats {
            published: read(&self.published),
            dropped: read(&self.dropped),
            received: read(&self.received),
            duplicates: read(&self.duplicates),
            overflowed: read(&self.overflowed),
            gaps: read(&self.gaps),
            reconnects: read(&self.reconnects),
        }
    }
}
