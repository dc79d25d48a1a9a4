//! The load generator behind the `load` binary: N requests, C at a time, then the figures.
//!
//! # Implementation details
//!
//! `concurrency` worker tasks take request numbers from one atomic counter until `requests` are
//! taken, so exactly `requests` are sent and never more than `concurrency` are in flight. Each
//! request has a deadline, so a service that stops answering ends the run instead of hanging
//! it. Each worker keeps its own latencies; they are merged and sorted once at the end
//! (nearest-rank percentiles). Throughput counts successes (2xx) only: a refused or failed
//! request is fast and would flatter it. The SQLite query count is read from `GET /stats`
//! before and after the run.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

use crate::HttpClient;

/// What to fire at a running service.
///
/// # Examples
///
/// ```
/// let plan = examples::LoadPlan::new("http://127.0.0.1:3000")
///     .paths(vec!["/articles/7".to_owned()])
///     .requests(100)
///     .concurrency(10);
/// assert_eq!(plan.path_for(3), "/articles/7");
/// ```
#[derive(Debug, Clone)]
pub struct LoadPlan {
    base_urls: Vec<String>,
    paths: Vec<String>,
    requests: usize,
    concurrency: usize,
    timeout: Duration,
    progress: bool,
}

/// The default number of requests in flight at once: enough to keep a service busy, few
/// enough not to run into the open-file limit of either side.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// The default deadline of one request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl LoadPlan {
    /// 1000 requests for `/articles/1`, [`DEFAULT_CONCURRENCY`] at a time, each with a deadline
    /// of [`DEFAULT_REQUEST_TIMEOUT`], against `base_url` (such as `http://127.0.0.1:3000`).
    ///
    /// # Examples
    ///
    /// ```
    /// let plan = examples::LoadPlan::new("http://127.0.0.1:3000/");
    /// assert_eq!(plan.path_for(0), "/articles/1");
    /// ```
    #[must_use]
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_urls: vec![base_url.into().trim_end_matches('/').to_owned()],
            paths: vec!["/articles/1".to_owned()],
            requests: 1000,
            concurrency: DEFAULT_CONCURRENCY,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            progress: false,
        }
    }

    /// The longest one request may take (connecting, sending and reading the whole answer);
    /// a later one counts in [`LoadReport::timeouts`].
    ///
    /// # Examples
    ///
    /// ```
    /// let _plan = examples::LoadPlan::new("http://h").timeout(std::time::Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to draw a progress bar on standard error while the run goes (drawn only when
    /// standard error is a terminal).
    ///
    /// # Examples
    ///
    /// ```
    /// let _plan = examples::LoadPlan::new("http://h").progress(true);
    /// ```
    #[must_use]
    pub fn progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// The paths to request, used in turn (request `i` gets `paths[i % len]`); an empty list keeps
    /// the current one.
    ///
    /// # Examples
    ///
    /// ```
    /// let plan = examples::LoadPlan::new("http://h").paths(vec!["/a".into(), "/b".into()]);
    /// assert_eq!(plan.path_for(1), "/b");
    /// assert_eq!(plan.path_for(2), "/a");
    /// ```
    #[must_use]
    pub fn paths(mut self, paths: Vec<String>) -> Self {
        if !paths.is_empty() {
            self.paths = paths;
        }
        self
    }

    /// How many requests to send in all (at least one).
    ///
    /// # Examples
    ///
    /// ```
    /// let _plan = examples::LoadPlan::new("http://h").requests(10_000);
    /// ```
    #[must_use]
    pub fn requests(mut self, requests: usize) -> Self {
        self.requests = requests.max(1);
        self
    }

    /// How many requests may be in flight at once (at least one).
    ///
    /// # Examples
    ///
    /// ```
    /// let _plan = examples::LoadPlan::new("http://h").concurrency(64);
    /// ```
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Spreads the requests over several replicas of a service, in turn: request `i` goes to
    /// `urls[i % n]` and asks for path number `i / n`, so each path is asked of every replica
    /// one after the other. An empty list keeps the current one.
    ///
    /// # Examples
    ///
    /// ```
    /// let plan = examples::LoadPlan::new("http://a")
    ///     .replicas(vec!["http://a".into(), "http://b/".into()])
    ///     .paths(vec!["/1".into(), "/2".into()]);
    /// assert_eq!(plan.url_for(0), "http://a/1");
    /// assert_eq!(plan.url_for(1), "http://b/1");
    /// assert_eq!(plan.url_for(2), "http://a/2");
    /// ```
    #[must_use]
    pub fn replicas(mut self, urls: Vec<String>) -> Self {
        if !urls.is_empty() {
            self.base_urls = urls
                .into_iter()
                .map(|url| url.trim_end_matches('/').to_owned())
                .collect();
        }
        self
    }

    /// The path that request number `index` asks for.
    ///
    /// # Examples
    ///
    /// See [`paths`](Self::paths).
    #[must_use]
    pub fn path_for(&self, index: usize) -> &str {
        let turn = index / self.base_urls.len();
        &self.paths[turn % self.paths.len()]
    }

    /// The whole URL of request number `index`: its replica and its path.
    ///
    /// # Examples
    ///
    /// See [`replicas`](Self::replicas).
    #[must_use]
    pub fn url_for(&self, index: usize) -> String {
        let base = &self.base_urls[index % self.base_urls.len()];
        format!("{base}{}", self.path_for(index))
    }

    /// Sends the requests and measures them.
    ///
    /// # Errors
    ///
    /// None for the requests themselves: a request that fails below HTTP is counted in
    /// [`LoadReport::failures`], one past its deadline in [`LoadReport::timeouts`]. The
    /// `GET /stats` reads around the run are best effort too.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the workers; requests in flight are abandoned.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let report = examples::LoadPlan::new("http://127.0.0.1:3000").requests(500).run().await;
    /// println!("{report}");
    /// # }
    /// ```
    pub async fn run(self) -> LoadReport {
        let client = HttpClient::new();
        let queries_before = sqlite_queries(&client, &self.base_urls, self.timeout).await;
        let bar = if self.progress {
            let bar = ProgressBar::new(self.requests as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} requests  {per_sec}  {msg}")
            {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let plan = Arc::new(self);
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..plan.concurrency.min(plan.requests) {
            let (plan, next, client) = (Arc::clone(&plan), Arc::clone(&next), client.clone());
            let bar = bar.clone();
            workers.spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= plan.requests {
                        break tally;
                    }
                    let url = plan.url_for(index);
                    let sent = Instant::now();
                    let answer = tokio::time::timeout(plan.timeout, client.get(&url)).await;
                    tally.latencies.push(sent.elapsed());
                    bar.inc(1);
                    match answer {
                        Ok(Ok(answer)) => {
                            *tally.statuses.entry(answer.status.as_u16()).or_default() += 1;
                        }
                        Ok(Err(err)) => {
                            tally.failures += 1;
                            tally.first_failure.get_or_insert_with(|| err.to_string());
                        }
                        Err(_) => tally.timeouts += 1,
                    }
                }
            });
        }
        let mut all = Tally::default();
        while let Some(joined) = workers.join_next().await {
            if let Ok(tally) = joined {
                all.merge(tally);
            }
        }
        let elapsed = started.elapsed();
        bar.finish_and_clear();
        let queries_after = sqlite_queries(&client, &plan.base_urls, plan.timeout).await;
        all.latencies.sort_unstable();
        LoadReport {
            requests: all.latencies.len(),
            elapsed,
            statuses: all.statuses,
            failures: all.failures,
            timeouts: all.timeouts,
            timeout: plan.timeout,
            first_failure: all.first_failure,
            p50: percentile(&all.latencies, 50),
            p99: percentile(&all.latencies, 99),
            max: all.latencies.last().copied().unwrap_or_default(),
            sqlite_queries: queries_before
                .zip(queries_after)
                .map(|(a, b)| b.saturating_sub(a)),
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
    failures: usize,
    timeouts: usize,
    first_failure: Option<String>,
}

impl Tally {
    fn merge(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.failures += other.failures;
        self.timeouts += other.timeouts;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
    }
}

/// The figures of one load run.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let report = examples::LoadReport {
///     requests: 4,
///     elapsed: Duration::from_millis(10),
///     statuses: [(200, 2), (503, 1)].into(),
///     failures: 0,
///     timeouts: 1,
///     timeout: Duration::from_secs(10),
///     first_failure: None,
///     p50: Duration::from_millis(4),
///     p99: Duration::from_millis(9),
///     max: Duration::from_millis(9),
///     sqlite_queries: Some(1),
/// };
/// assert_eq!(report.succeeded(), 2);
/// assert_eq!(report.failed(), 2); // the 503 and the timeout
/// assert_eq!(report.requests_per_second(), 200.0); // successes only
/// assert!(report.to_string().contains("503: 1"));
/// ```
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests sent (answered or failed).
    pub requests: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// How many answers came back with each status code.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests that got no HTTP answer at all (refused, reset, closed).
    pub failures: usize,
    /// Requests that got no whole answer within the plan's deadline.
    pub timeouts: usize,
    /// That deadline.
    pub timeout: Duration,
    /// The first such failure, for the reader.
    pub first_failure: Option<String>,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Slowest request.
    pub max: Duration,
    /// Database queries the service (every replica together) ran during the run (from
    /// `GET /stats`), when they could be read.
    pub sqlite_queries: Option<u64>,
}

impl LoadReport {
    /// Requests answered with a 2xx status.
    ///
    /// # Examples
    ///
    /// See [`LoadReport`].
    #[must_use]
    pub fn succeeded(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(status, _)| (200..300).contains(*status))
            .map(|(_, count)| count)
            .sum()
    }

    /// Requests that failed: no answer, no answer in time, or a 5xx status. (A 4xx answer is
    /// the service working as asked: the plan requested something it refuses.)
    ///
    /// # Examples
    ///
    /// See [`LoadReport`].
    #[must_use]
    pub fn failed(&self) -> usize {
        let server_errors: usize = self
            .statuses
            .iter()
            .filter(|(status, _)| **status >= 500)
            .map(|(_, count)| count)
            .sum();
        self.failures + self.timeouts + server_errors
    }

    /// Successful requests per second over the whole run.
    ///
    /// # Examples
    ///
    /// See [`LoadReport`].
    #[must_use]
    pub fn requests_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds == 0.0 {
            0.0
        } else {
            self.succeeded() as f64 / seconds
        }
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "requests      {} in {:.2?}: {} succeeded ({:.0} successful requests/s), {} failed",
            self.requests,
            self.elapsed,
            self.succeeded(),
            self.requests_per_second(),
            self.failed()
        )?;
        writeln!(
            f,
            "latency       p50 {:.2?}   p99 {:.2?}   max {:.2?}",
            self.p50, self.p99, self.max
        )?;
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        writeln!(f, "statuses      {}", statuses.join("   "))?;
        if self.failures > 0 {
            let first = self.first_failure.as_deref().unwrap_or("");
            writeln!(f, "no answer     {} (first: {first})", self.failures)?;
        }
        if self.timeouts > 0 {
            writeln!(
                f,
                "timed out     {} (no whole answer within {:?})",
                self.timeouts, self.timeout
            )?;
        }
        match self.sqlite_queries {
            Some(1) => write!(f, "database      1 query ran for these requests"),
            Some(queries) => write!(f, "database      {queries} queries ran for these requests"),
            None => write!(
                f,
                "database      query count unavailable (GET /stats failed)"
            ),
        }
    }
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The database queries of every replica together.
async fn sqlite_queries(
    client: &HttpClient,
    base_urls: &[String],
    timeout: Duration,
) -> Option<u64> {
    let mut total = 0;
    for base_url in base_urls {
        let url = format!("{base_url}/stats");
        let answer = tokio::time::timeout(timeout, client.get(&url))
            .await
            .ok()?
            .ok()?;
        let stats: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
        total += stats.pointer("/database/queries")?.as_u64()?;
    }
    Some(total)
}
