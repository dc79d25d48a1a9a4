//! The one error type of the examples crate.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in the examples' database layers, service and tools.
///
/// The type is `Clone` (sources are shared behind an [`Arc`]) so that one failed load can be
/// handed to every caller that was waiting for it.
///
/// # Examples
///
/// ```
/// use examples::Error;
///
/// let err = Error::Injected { query: 3 };
/// assert_eq!(err.to_string(), "mock database failure injected into query 3");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite answered with an error.
    #[error("sqlite query failed: {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// PostgreSQL answered with an error, or could not be reached.
    #[error("postgres query failed: {reason}")]
    Postgres {
        /// What failed, with the server's own message when it sent one.
        reason: String,
        /// The client's error, when there is one.
        #[source]
        source: Option<Arc<tokio_postgres::Error>>,
    },
    /// The data directory (or a file inside it) could not be created, opened or read.
    #[error("cannot use {path}: {source}", path = path.display())]
    Io {
        /// The file or folder that was being used.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: Arc<io::Error>,
    },
    /// The blocking task that ran a SQLite query panicked or was cancelled with the runtime.
    #[error("the database worker stopped before answering")]
    WorkerGone,
    /// No article has this id.
    #[error("article {id} not found")]
    NotFound {
        /// The id that was asked for.
        id: u64,
    },
    /// The limiter in front of the database refused the query: every connection is busy and the
    /// wait queue is full. Retry later.
    #[error("database busy: {queued} queries waiting (limit {limit}, queue length {queue_length})")]
    Overloaded {
        /// Queries allowed to run at once (the connection count).
        limit: usize,
        /// Queries allowed to wait.
        queue_length: usize,
        /// Queries waiting when the request was refused.
        queued: usize,
    },
    /// The query ran (or waited for a connection) longer than the database deadline.
    #[error("database query timed out after {}ms", timeout.as_millis())]
    DatabaseTimeout {
        /// The deadline that passed.
        timeout: std::time::Duration,
    },
    /// The global limit (replicas with `--redis`) could not reach Redis and its outage policy
    /// is to refuse (`--redis-outage closed`). Retry later.
    #[error(
        "database limit unavailable: Redis does not answer ({cause}) and the outage policy refuses calls meanwhile"
    )]
    LimitUnavailable {
        /// Redis's last error.
        cause: String,
    },
    /// The limiter or the cache failed in a way the caller cannot fix (closed, panicked, cancelled).
    #[error("{what} failed: {reason}")]
    Internal {
        /// Which part failed.
        what: &'static str,
        /// Its own error message.
        reason: String,
    },
    /// Every event subscription the store allows is taken; retry later.
    #[error("too many event subscribers: all {limit} subscriptions are taken")]
    SubscriberLimit {
        /// Subscriptions allowed at once.
        limit: usize,
    },
    /// An event subscriber fell behind and the oldest updates were dropped from its buffer.
    #[error("event subscriber fell behind and missed {missed} updates")]
    Lagged {
        /// How many updates it missed.
        missed: u64,
    },
    /// Updates written on other replicas may not have reached this event subscriber: the
    /// event bridge lost its subscription to Redis for a while, or saw a hole in another
    /// replica's updates. Reload what the updates carry.
    #[error("updates of other replicas may have been lost ({reason}); reload what you need")]
    EventsLost {
        /// What the bridge reported.
        reason: String,
    },
    /// The mock database was told to fail this query.
    #[error("mock database failure injected into query {query}")]
    Injected {
        /// The number of the query that failed (1 for the first query the mock ever ran).
        query: u64,
    },
    /// A command-line argument was missing, unknown or malformed.
    #[error("bad argument {name}: {reason}")]
    Argument {
        /// The argument as written on the command line, such as `--port`.
        name: String,
        /// What was wrong with it.
        reason: String,
    },
    /// An HTTP exchange in the load generator failed below the status-code level.
    #[error("http request to {url} failed: {reason}")]
    Http {
        /// The URL that was requested.
        url: String,
        /// What failed: connecting, sending or reading the body.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn argument(name: &str, reason: impl Into<String>) -> Self {
        Self::Argument {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        let reason = match err.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => match std::error::Error::source(&err) {
                Some(cause) => format!("{err}: {cause}"),
                None => err.to_string(),
            },
        };
        Self::Postgres {
            reason,
            source: Some(Arc::new(err)),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Self::Sqlite(Arc::new(err))
    }
}
