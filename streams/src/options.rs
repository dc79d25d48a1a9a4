//! `ReadOptions`: the options of Node's `fs.createReadStream` that matter for reading.

use crate::Error;

/// The default `highWaterMark`, 64 KiB: Node's for file read streams, and for every stream since
/// Node 22; [`WriteStream::new`](crate::WriteStream::new) uses it too.
pub const DEFAULT_HIGH_WATER_MARK: usize = 64 * 1024;

/// The largest accepted `high_water_mark`: 1 GiB, so that a typo cannot ask for all of memory.
pub const MAX_HIGH_WATER_MARK: usize = 1 << 30;

/// Node's `kMinPoolSpace`: when less than this is left in the pool, the next read gets a new pool
/// instead of a tiny tail chunk.
pub const MIN_POOL_SPACE: usize = 128;

/// How a [`ReadStream`](crate::ReadStream) reads: chunk size and byte range.
///
/// The options of Node's `fs.createReadStream(path, options)` that shape the data:
/// `highWaterMark` ([`high_water_mark`](Self::high_water_mark)), `start` and `end`, both
/// inclusive and 0-based as in Node. The defaults read the whole source in 64 KiB chunks.
///
/// # Examples
///
/// ```
/// use nodebook_streams::ReadOptions;
///
/// // Bytes 100 to 199 (inclusive), in chunks of at most 16 bytes.
/// let options = ReadOptions::new().high_water_mark(16).start(100).end(199);
/// assert!(options.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    pub(crate) high_water_mark: usize,
    pub(crate) start: u64,
    pub(crate) end: Option<u64>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadOptions {
    /// The defaults: `high_water_mark` 64 KiB, from byte 0 to the end of the source.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::ReadOptions;
    ///
    /// assert_eq!(ReadOptions::new(), ReadOptions::default());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            high_water_mark: DEFAULT_HIGH_WATER_MARK,
            start: 0,
            end: None,
        }
    }

    /// Node's `highWaterMark`: the largest chunk; a file stream reads at most two chunks ahead
    /// of its consumer. Between 1 and [`MAX_HIGH_WATER_MARK`]; checked when the stream is created.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::ReadOptions;
    ///
    /// let options = ReadOptions::new().high_water_mark(1 << 20);
    /// assert!(options.validate().is_ok());
    /// assert!(ReadOptions::new().high_water_mark(0).validate().is_err());
    /// ```
    #[must_use]
    pub const fn high_water_mark(mut self, bytes: usize) -> Self {
        self.high_water_mark = bytes;
        self
    }

    /// The first byte to read (0-based). A start past the end of the source gives an empty stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::ReadOptions;
    ///
    /// let options = ReadOptions::new().start(4);
    /// assert!(options.validate().is_ok());
    /// ```
    #[must_use]
    pub const fn start(mut self, offset: u64) -> Self {
        self.start = offset;
        self
    }

    /// The last byte to read, inclusive as in Node: `start(0).end(0)` reads one byte.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::ReadOptions;
    ///
    /// let first_ten = ReadOptions::new().end(9);
    /// assert!(first_ten.validate().is_ok());
    /// ```
    #[must_use]
    pub const fn end(mut self, offset: u64) -> Self {
        self.end = Some(offset);
        self
    }

    /// Checks the options as a stream constructor does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHighWaterMark`] when `high_water_mark` is 0 or above
    /// [`MAX_HIGH_WATER_MARK`]; [`Error::InvalidRange`] when `start > end`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_streams::{Error, ReadOptions};
    ///
    /// let err = ReadOptions::new().high_water_mark(0).validate().unwrap_err();
    /// assert!(matches!(err, Error::InvalidHighWaterMark { high_water_mark: 0 }));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.high_water_mark == 0 || self.high_water_mark > MAX_HIGH_WATER_MARK {
            return Err(Error::InvalidHighWaterMark {
                high_water_mark: self.high_water_mark,
            });
        }
        if let Some(end) = self.end
            && self.start > end
        {
            return Err(Error::InvalidRange {
                start: self.start,
                end,
            });
        }
        Ok(())
    }

    /// Bytes in the range, `None` when it runs to the end of the source.
    pub(crate) fn range_len(&self) -> Option<u64> {
        self.end.map(|end| (end - self.start).saturating_add(1))
    }
}
