//! [`EvictionPolicy`]: which key a full [`LimitableMap`](crate::LimitableMap) gives up.

/// Which key a full [`LimitableMap`](crate::LimitableMap) evicts to make room for a new one.
///
/// The default is [`Sieve`](Self::Sieve), chosen by the hit-ratio bench
/// (`cargo bench -p nodebook-cache --bench hit_ratio`: every policy and peer on the same
/// traces, same capacity, one run). Against FIFO it hits 3 to 11 points more often on Zipf
/// traffic (77.1 % against 68.7 % at Zipf 0.99, 10^4 entries for 10^5 keys) and keeps its hot
/// keys through a one-off scan, while a hit still costs only one bit set in the entry, with no
/// lock, so reads stay as cheap as FIFO's. It ends within 1.5 points of moka (W-TinyLFU) and
/// quick_cache (CLOCK-Pro-like) on Zipf traffic, slightly below both. Its measured weak spots:
/// a loop over more keys than the cache holds, where it misses every time as FIFO and LRU do
/// (moka and quick_cache keep about half), and a hot set that moves, where it trails the peers
/// by about 5 points and FIFO by 1, because keys that were hot keep their bit for one more
/// sweep. FIFO stays for code that wants the book's exact order.
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
    #[default]
    Sieve,
    /// S3-FIFO (Yang et al., SOSP 2023): a small FIFO queue for new keys (a tenth of the
    /// limit), a main FIFO queue, and a *ghost* queue remembering recently evicted keys (their
    /// hashes only). A read raises the key's 2-bit counter (up to 3). A key leaving the small
    /// queue moves to the main one if it was read meanwhile and is evicted otherwise (and
    /// remembered in the ghost: if it comes back soon it enters the main queue at once). A key
    /// leaving the main queue is put back with its counter lowered by one while the counter is
    /// not zero, and evicted when it is. One-off keys never reach the main queue.
    ///
    /// Reads stay lock-free (one compare-and-swap in the entry while the counter is below 3),
    /// and inserts keep the ghost's hashes: about 24 more bytes per entry, once the map is
    /// full.
    S3Fifo,
}
