//! What the store does around each database call besides running it, for trying the limits
//! out: an added latency, as a database across a network would have (`--db-latency`), and a
//! log of each call's start and end (`--query-log`), from which the `cluster` binary measures
//! how many calls ran at once across the replicas without asking the limiter.
//!
//! # Implementation details
//!
//! The probe runs inside the limiter's slot: a call's interval starts after its permit was
//! granted and ends before the permit is released, so the intervals of calls that held permits
//! one after the other never overlap, and the largest overlap of the logged intervals is an
//! upper bound of the calls that really ran at once. Times are microseconds of the system clock
//! (`SystemTime`), which every process on one machine reads alike; replicas on several
//! machines would need synchronised clocks, and a clock step during a run would blur it. A call
//! that is cancelled (timeout, dropped request) is logged when it is dropped. Each interval is
//! one `write` of one line on a file opened for appending, so lines of concurrent calls never
//! interleave and nothing is buffered in memory.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

/// The probe around an [`ArticleStore`](crate::ArticleStore)'s database calls; by default it
/// does nothing.
///
/// # Examples
///
/// ```
/// use examples::{QueryProbe, peak_concurrency, read_query_log};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("queries.log");
/// let probe = QueryProbe::default().latency(Duration::from_millis(5)).log_to(&path)?;
/// let calls = (0..3).map(|n| probe.around(async move { n }));
/// assert_eq!(futures::future::join_all(calls).await, [0, 1, 2]);
///
/// let intervals = read_query_log(&path)?;
/// assert_eq!(intervals.len(), 3);
/// assert_eq!(peak_concurrency(&intervals), 3);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct QueryProbe {
    latency: Duration,
    log: Option<Arc<File>>,
}

impl QueryProbe {
    /// Waits `latency` before each call (inside its slot).
    ///
    /// # Examples
    ///
    /// See [`QueryProbe`].
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Appends each call's interval to the file at `path` as `start end` (microseconds since
    /// the Unix epoch), one line per call, creating the file if needed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be opened for appending.
    ///
    /// # Examples
    ///
    /// See [`QueryProbe`].
    pub fn log_to(mut self, path: &Path) -> Result<Self, Error> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|err| Error::io(path, err))?;
        self.log = Some(Arc::new(file));
        Ok(self)
    }

    /// Whether the probe adds or logs anything.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!examples::QueryProbe::default().is_active());
    /// ```
    #[must_use]
    pub fn is_active(&self) -> bool {
        !self.latency.is_zero() || self.log.is_some()
    }

    /// Runs `call`, after the latency, inside a logged interval.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops `call`; the interval is logged up to the drop.
    pub async fn around<F: Future>(&self, call: F) -> F::Output {
        if !self.is_active() {
            return call.await;
        }
        let _interval = self.log.as_ref().map(|file| Interval {
            file: Arc::clone(file),
            start: micros_now(),
        });
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        call.await
    }
}

/// A call in progress; logged when dropped.
struct Interval {
    file: Arc<File>,
    start: u64,
}

impl Drop for Interval {
    fn drop(&mut self) {
        let line = format!("{} {}\n", self.start, micros_now());
        // One small append: a lost line would only make the measure look lower, so say so.
        if let Err(err) = (&*self.file).write_all(line.as_bytes()) {
            tracing::warn!(error = %err, "the query log lost an interval");
        }
    }
}

fn micros_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The intervals a [`QueryProbe`] logged to `path`, as `(start, end)` microseconds.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, [`Error::Argument`] naming the line when one is
/// not two numbers.
///
/// # Examples
///
/// See [`QueryProbe`].
pub fn read_query_log(path: &Path) -> Result<Vec<(u64, u64)>, Error> {
    let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let mut numbers = line.split(' ').map(str::parse::<u64>);
            match (numbers.next(), numbers.next(), numbers.next()) {
                (Some(Ok(start)), Some(Ok(end)), None) => Ok((start, end)),
                _ => Err(Error::argument(
                    &path.display().to_string(),
                    format!("line {} is not `start end`: {line:?}", n + 1),
                )),
            }
        })
        .collect()
}

/// The largest number of `intervals` that overlap at one instant. Intervals are half-open:
/// one that ends when another starts does not overlap it, and an empty one counts for nothing.
///
/// # Examples
///
/// ```
/// use examples::peak_concurrency;
///
/// assert_eq!(peak_concurrency(&[(0, 10), (5, 15), (10, 20)]), 2);
/// assert_eq!(peak_concurrency(&[(0, 10), (10, 20)]), 1);
/// assert_eq!(peak_concurrency(&[]), 0);
/// ```
#[must_use]
pub fn peak_concurrency(intervals: &[(u64, u64)]) -> usize {
    // Ends sort before starts at the same instant (false < true).
    let mut edges: Vec<(u64, bool)> = intervals
        .iter()
        .filter(|(start, end)| start < end)
        .flat_map(|&(start, end)| [(start, true), (end, false)])
        .collect();
    edges.sort_unstable();
    let (mut now, mut peak) = (0usize, 0usize);
    for (_, starts) in edges {
        if starts {
            now += 1;
            peak = peak.max(now);
        } else {
            now -= 1;
        }
    }
    peak
}
