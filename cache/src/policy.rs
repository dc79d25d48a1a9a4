//! [`EvictionPolicy`]: which key a full [`LimitableMap`](crate::LimitableMap) gives up.

/// Which key a full [`LimitableMap`](crate::LimitableMap) evicts to make room for a new one.
///
/// The default is [`S3Fifo`](Self::S3Fifo), chosen by the hit-ratio bench
/// (`cargo bench -p nodebook-cache --bench hit_ratio`: every policy and peer on the same six
/// traces, same capacity, one run; 10^4 entries, `u64` keys). Measured there:
///
/// | trace | FIFO | SIEVE | S3-FIFO | moka | quick_cache | lru |
/// |---|---|---|---|---|---|---|
/// | Zipf 0.8 | 42.8 % | 54.3 % | 55.1 % | 55.7 % | 56.2 % | 46.8 % |
/// | Zipf 0.99 | 68.7 % | 77.1 % | 77.3 % | 77.8 % | 78.0 % | 72.4 % |
/// | Zipf 1.2 | 89.9 % | 93.0 % | 93.1 % | 93.2 % | 93.3 % | 91.6 % |
/// | loop over 1.5x the capacity | 0 % | 0 % | 47.0 % | 59-61 % | 55.3 % | 0 % |
/// | Zipf 0.99, one-off scan of 3x the capacity | 67.6 % | 75.8 % | 76.2 % | 76.6 % | 76.8 % | 71.2 % |
/// | Zipf 0.99, hot set moving five times | 68.5 % | 67.8 % | 74.3 % | 72.4 % | 73.9 % | 72.0 % |
///
/// S3-FIFO hits at least as often as SIEVE on every trace and far more often on a loop and on a
/// moving hot set (SIEVE keeps formerly hot keys for one more sweep and has no memory of the
/// keys it evicted; S3-FIFO's ghost brings returning keys straight into its main queue). On
/// Zipf traffic it ends within 1 point of moka (W-TinyLFU) and quick_cache (CLOCK-Pro-like),
/// slightly below both; on a loop larger than the cache their admission filters keep more.
/// A hit costs one bit or one small counter in the entry under every policy, with no lock, so
/// reads stay as cheap as FIFO's. [`Sieve`](Self::Sieve) needs no ghost (about 24 bytes per
/// entry less once full); [`Fifo`](Self::Fifo) is the book's exact order.
///
/// | policy | a hit | eviction | scan of one-off keys |
/// |---|---|---|---|
/// | [`Fifo`](Self::Fifo) | nothing | the oldest-inserted key | flushes the hot set |
/// | [`Sieve`](Self::Sieve) | sets the key's *visited* bit | the first unvisited key the hand finds | one-off keys go first |
/// | [`S3Fifo`](Self::S3Fifo) | raises the key's counter | a new key not read again, else an old key whose counter ran out | one-off keys never reach the main queue |
///
/// # Examples
///
/// ```
/// use nodebook_cache::{EvictionPolicy, LimitableMap};
///
/// let map = LimitableMap::builder(2).eviction_policy(EvictionPolicy::Sieve).build()?;
/// map.insert("hot", 1);
/// map.insert("cold", 2);
/// assert_eq!(map.get("hot"), Some(1)); // "hot" is visited
/// map.insert("new", 3); // the hand passes "hot" (clearing its bit) and evicts "cold"
/// assert!(map.contains_key("hot"));
/// assert!(!map.contains_key("cold"));
/// # Ok::<(), nodebook_cache::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EvictionPolicy {
    /// The book's `LimitableMap` (section 5.3.1): the oldest-inserted key goes; reads and
    /// overwrites change nothing. Exact, for Node parity.
    Fifo,
    /// SIEVE (Zhang et al., NSDI 2024): keys wait in insertion order and a *hand* sweeps them
    /// from the oldest to the newest, wrapping around. A read sets the key's visited bit. To
    /// evict, the hand clears the bit of each visited key it passes and evicts the first key
    /// whose bit is clear; that key's place is simply left (nothing is moved), and the hand
    /// stays where it stopped for the next eviction. New keys enter unvisited, so keys read
    /// once by a scan are the first to go while the keys read again keep their place.
    ///
    /// Only reads ([`get`](crate::LimitableMap::get), a hit of
    /// [`get_or_load`](crate::LimitableMap::get_or_load)) set the bit; an `insert` does not, so
    /// a map that is only written evicts exactly as [`Fifo`](Self::Fifo) does.
    Sieve,
    /// S3-FIFO (Yang et al., SOSP 2023): a small FIFO queue for new keys (a tenth of the
    /// limit), a main FIFO queue, and a *ghost* queue remembering recently evicted keys (their
    /// hashes only). A read raises the key's 2-bit counter (up to 3). A key leaving the small
    /// queue moves to the main one if it was read meanwhile and is evicted otherwise (and
    /// remembered in the ghost: if it comes back soon it enters the main queue at once). A key
    /// leaving the main queue is put back with its counter lowered by one while the counter is
    /// not zero, and evicted when it is. One-off keys never reach the main queue.
    ///
    /// The default.
    ///
    /// Reads stay lock-free (one compare-and-swap in the entry while the counter is below 3),
    /// and inserts keep the ghost's hashes: about 24 more bytes per entry, once the map is
    /// full.
    #[default]
    S3Fifo,
}
