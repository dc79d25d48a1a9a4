//! The HTTP service: every crate of the toolkit behind axum, over SQLite.
//!
//! # Implementation details
//!
//! All handlers share one `State` behind an `Arc` (the handlers live in `handlers.rs`, the
//! accept loop with its connection cap, timeouts and drain in `server.rs`). Errors become JSON
//! bodies `{"error": "..."}` with the status the [`Error`] variant calls for (see
//! [`status_of`]). Server-sent event streams never end on their own, which would keep a
//! graceful shutdown waiting, so each one also ends when the shutdown flag (a `watch` channel
//! set when the drain begins) turns true.
//!
//! The layers, outermost first: a `tracing` span and log line per request (tower-http's
//! `TraceLayer`), the JSON rewrite of plain-text errors, the body timeout (tower-http's
//! `RequestBodyTimeoutLayer`: a body that sends nothing for `body_timeout` fails), then, per
//! route, the request timeout, the in-flight gauge and the latency histogram.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use futures::Stream;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::handlers;
use crate::server::{Gauges, ServerSettings, ShutdownReport};
use crate::telemetry::Telemetry;
use crate::{
    ArticleStore, Cluster, Database, Error, GlobalLimitSettings, QueryProbe, StoreConfig,
    seed_files,
};

/// How the service is set up.
///
/// # Examples
///
/// ```
/// let config = examples::ServiceConfig::new("/tmp/articles");
/// assert_eq!(config.import_limit, 1 << 20);
/// assert!(examples::ServiceConfig::default_data_dir().starts_with(std::env::temp_dir()));
/// ```
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Where the SQLite file and the `files/` folder live.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (`postgres://user@host:port/database`) to keep the articles and
    /// imports in, shared by every replica pointed at it; `None` (the default) keeps them in
    /// SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// A Redis URL (`redis://host:port`) for running as one replica of several: the article
    /// cache becomes the cache's Redis tier (one query per cold article across the replicas,
    /// a write seen at once on every replica), the database limiter becomes one limit across
    /// the replicas ([`global_limit`](Self::global_limit)), and `/readyz` requires Redis.
    /// `None` (the default): everything stays in this process.
    pub redis_url: Option<String>,
    /// The prefix of the service's keys and channels in Redis; replicas of one service share
    /// it, other services (or test runs) on the same Redis each need their own.
    pub redis_namespace: String,
    /// With Redis: the database limit shared by the replicas (`store.connections` calls at once
    /// across all of them), its outage policy and lease.
    pub global_limit: GlobalLimitSettings,
    /// Added to every database call, inside its slot, as a database across a network would
    /// add; for seeing the limits at work on a fast local database. Zero by default.
    pub db_latency: Duration,
    /// A file to which every database call appends its start and end (see [`QueryProbe`]);
    /// `None` by default.
    pub query_log: Option<PathBuf>,
    /// The store in front of the database.
    pub store: StoreConfig,
    /// The largest body `POST /import` accepts, in bytes; larger bodies answer 413.
    pub import_limit: usize,
    /// What a 503 tells the client in `Retry-After`.
    pub retry_after: Duration,
    /// How many updates an event subscriber may fall behind before it misses some.
    pub events_capacity: usize,
    /// The chunk size (`high_water_mark`) for `GET /files/{name}` and `POST /import`.
    pub high_water_mark: usize,
    /// The largest body `PUT /articles/{id}` accepts, in bytes; larger bodies answer 413.
    pub put_limit: usize,
    /// The most data bytes one server-sent event carries; a larger row is announced by id and
    /// version only. With the connection's write buffer, this bounds what a subscriber that
    /// stops reading holds in the service.
    pub event_limit: usize,
    /// Connections served at once; more wait in the listen backlog. Keep it under the process's
    /// open-file limit (`ulimit -n`) with room for the database files.
    pub max_connections: usize,
    /// How long a client may take to send a request head, and how long a kept-alive connection
    /// may sit idle; then it is closed.
    pub header_timeout: Duration,
    /// How long a request body may send nothing before the request fails with 408.
    pub body_timeout: Duration,
    /// How long a client may read nothing of its answer (a file, an event stream) while the
    /// service has bytes for it; then the connection is closed, freeing its place.
    pub write_timeout: Duration,
    /// How long a handler may take to produce its response head before it answers 408.
    pub request_timeout: Duration,
    /// How long a graceful shutdown waits for open connections before it drops them.
    pub drain_timeout: Duration,
    /// What one connection buffers at most, read and write (hyper's `max_buf_size`, at least
    /// 8 KiB).
    pub connection_buffer: usize,
}

impl ServiceConfig {
    /// The defaults, with the database in `data_dir`.
    ///
    /// # Examples
    ///
    /// See [`ServiceConfig`].
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            redis_url: None,
            redis_namespace: "nodebook-service".to_owned(),
            global_limit: GlobalLimitSettings::default(),
            db_latency: Duration::ZERO,
            query_log: None,
            store: StoreConfig::default(),
            import_limit: 1 << 20,
            retry_after: Duration::from_secs(1),
            events_capacity: 64,
            high_water_mark: 16 * 1024,
            put_limit: 1 << 20,
            event_limit: 64 * 1024,
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            connection_buffer: 64 * 1024,
        }
    }

    /// The default data directory: `node-patterns-service` under the system temp dir.
    ///
    /// # Examples
    ///
    /// See [`ServiceConfig`].
    #[must_use]
    pub fn default_data_dir() -> PathBuf {
        std::env::temp_dir().join("node-patterns-service")
    }
}

/// The running parts of the service; clone it freely.
///
/// # Examples
///
/// ```
/// use examples::{Service, ServiceConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let service = Service::open(ServiceConfig::new(dir.path())).await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let url = format!("http://{}", listener.local_addr().unwrap());
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(service.serve(listener, async { stopped.await.ok(); }));
///
/// let answer = examples::HttpClient::new().get(&format!("{url}/articles/7")).await?;
/// assert_eq!(answer.status, 200);
/// assert!(answer.text().contains("Article 7"));
///
/// stop.send(()).unwrap();
/// server.await.unwrap()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Service {
    state: Arc<State>,
}

pub(crate) struct State {
    pub(crate) store: ArticleStore<Database>,
    pub(crate) db: Database,
    pub(crate) config: ServiceConfig,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) telemetry: Telemetry,
    pub(crate) gauges: Arc<Gauges>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("config", &self.state.config)
            .field("db", &self.state.db)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Opens (creating and seeding on first start) the database (SQLite in `config.data_dir`,
    /// or PostgreSQL at `config.database_url`) and the sample files in `config.data_dir`, and
    /// builds the store.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Sqlite`] when the data directory cannot be set up,
    /// [`Error::Postgres`] when PostgreSQL cannot be reached, [`Error::Argument`] for a Redis
    /// URL that does not parse (Redis itself need not answer yet: `/readyz` says when it
    /// does), and the errors of [`ArticleStore::new`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may leave a half-created data directory, which the next open
    /// completes.
    ///
    /// # Examples
    ///
    /// See [`Service`].
    pub async fn open(config: ServiceConfig) -> Result<Self, Error> {
        let db = Database::open(
            &config.data_dir,
            config.database_url.as_deref(),
            config.store.connections,
        )
        .await?;
        let dir = config.data_dir.clone();
        tokio::task::spawn_blocking(move || seed_files(&dir))
            .await
            .map_err(|_| Error::WorkerGone)??;
        let store = match &config.redis_url {
            Some(url) => {
                if config.database_url.is_none() {
                    // Fine for one process (its cache outlives restarts); wrong for replicas,
                    // which would serve each other's rows from their own files.
                    tracing::warn!(
                        namespace = config.redis_namespace,
                        "the Redis cache is shared by every process using this namespace, but \
                         the rows are in this process's own SQLite file: run replicas with \
                         --database-url, or give each process its own --redis-namespace"
                    );
                }
                let cluster =
                    Cluster::new(url, &config.redis_namespace)?.with_limit(config.global_limit);
                ArticleStore::clustered(db.clone(), config.store, &cluster)?
            }
            None => ArticleStore::new(db.clone(), config.store)?,
        };
        let mut probe = QueryProbe::default().latency(config.db_latency);
        if let Some(path) = &config.query_log {
            probe = probe.log_to(path)?;
        }
        let store = store.probed(probe);
        Ok(Self {
            state: Arc::new(State {
                store,
                db,
                config,
                shutdown: watch::channel(false).0,
                telemetry: Telemetry::new(),
                gauges: Arc::default(),
            }),
        })
    }

    /// The article store the handlers use.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let service = examples::Service::open(examples::ServiceConfig::new(dir.path())).await?;
    /// assert_eq!(service.store().get(3).await?.id, 3);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn store(&self) -> &ArticleStore<Database> {
        &self.state.store
    }

    /// The database: SQLite in the data directory, or PostgreSQL.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let service = examples::Service::open(examples::ServiceConfig::new(dir.path())).await?;
    /// assert!(matches!(service.database(), examples::Database::Sqlite(db) if db.path().exists()));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.state.db
    }

    /// Client connections open now.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let service = examples::Service::open(examples::ServiceConfig::new(dir.path())).await?;
    /// assert_eq!(service.open_connections(), 0);
    /// assert_eq!(service.running_requests(), 0);
    /// assert!(!service.is_draining());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.state.gauges.connections.load(Ordering::Relaxed)
    }

    /// Requests being handled now (an event stream counts only until its headers are sent).
    ///
    /// # Examples
    ///
    /// See [`open_connections`](Self::open_connections).
    #[must_use]
    pub fn running_requests(&self) -> usize {
        self.state.gauges.requests.load(Ordering::Relaxed)
    }

    /// Whether the drain has begun (the first shutdown signal arrived).
    ///
    /// # Examples
    ///
    /// See [`open_connections`](Self::open_connections).
    #[must_use]
    pub fn is_draining(&self) -> bool {
        *self.state.shutdown.borrow()
    }

    /// The routes: `GET`/`PUT /articles/{id}`, `GET /events`, `POST /import`,
    /// `GET /files/{name}`, `GET /stats`, `GET /metrics`, `GET /healthz`, `GET /readyz`, with
    /// the timeouts, logs and metrics around them.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let service = examples::Service::open(examples::ServiceConfig::new(dir.path())).await?;
    /// let _router: axum::Router = service.router();
    /// # Ok(())
    /// # }
    /// ```
    pub fn router(&self) -> Router {
        let state = Arc::clone(&self.state);
        Router::new()
            .route(
                "/articles/{id}",
                get(handlers::get_article).put(handlers::put_article),
            )
            .route("/events", get(handlers::events))
            .route("/import", post(handlers::import))
            .route("/files/{name}", get(handlers::file))
            .route("/stats", get(handlers::stats))
            .route("/metrics", get(handlers::metrics))
            .route("/healthz", get(handlers::healthz))
            .route("/readyz", get(handlers::readyz))
            .route_layer(axum::middleware::from_fn_with_state(
                Arc::clone(&state),
                handlers::observe,
            ))
            .fallback(handlers::not_found)
            .method_not_allowed_fallback(handlers::method_not_allowed)
            .layer(axum::middleware::map_response(handlers::json_errors))
            .layer(RequestBodyTimeoutLayer::new(state.config.body_timeout))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .with_state(state)
    }

    /// Serves on `listener` until `shutdown` resolves, then drains: stops accepting
    /// connections, ends the event streams, lets running requests finish, and drops whatever is
    /// still open after [`ServiceConfig::drain_timeout`].
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for listeners that can fail for good.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the server and every connection at once (no graceful end).
    ///
    /// # Examples
    ///
    /// See [`Service`]; the `service` binary uses [`serve_until`](Self::serve_until).
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<ShutdownReport, Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.serve_until(listener, futures::stream::once(shutdown))
            .await
    }

    /// Like [`serve`](Self::serve), with a stream of signals: the first starts the drain, a
    /// second one stops at once, dropping the connections still open (a request cut this way
    /// was never answered, so no acknowledged write is lost).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for listeners that can fail for good.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the server and every connection at once (no graceful end).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let service = examples::Service::open(examples::ServiceConfig::new("/tmp/articles")).await?;
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
    /// let report = service.serve_until(listener, examples::shutdown_signals()).await?;
    /// println!("{} connections cut", report.cut);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve_until<S>(
        self,
        listener: TcpListener,
        signals: S,
    ) -> Result<ShutdownReport, Error>
    where
        S: Stream<Item = ()> + Send + 'static,
    {
        let config = &self.state.config;
        let settings = ServerSettings {
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
            write_timeout: config.write_timeout,
            max_buf_size: config.connection_buffer,
            drain_timeout: config.drain_timeout,
        };
        let store = self.state.store.clone();
        let report = crate::server::run(
            listener,
            self.router(),
            &settings,
            Arc::clone(&self.state.gauges),
            &self.state.shutdown,
            move || store.stats().events.subscribers,
            signals,
        )
        .await;
        if !report.forced {
            // The last writes' updates, on their way to the other replicas' subscribers.
            let unsent = self.state.store.flush_events(Duration::from_secs(1)).await;
            if unsent > 0 {
                tracing::warn!(
                    unsent,
                    "updates not sent to the other replicas before exit (Redis did not answer)"
                );
            }
        }
        Ok(report)
    }
}

/// The HTTP status an [`Error`] answers with.
///
/// # Examples
///
/// ```
/// use axum::http::StatusCode;
/// use examples::{Error, status_of};
///
/// assert_eq!(status_of(&Error::NotFound { id: 9 }), StatusCode::NOT_FOUND);
/// let timeout = Error::DatabaseTimeout { timeout: std::time::Duration::from_secs(1) };
/// assert_eq!(status_of(&timeout), StatusCode::GATEWAY_TIMEOUT);
/// ```
#[must_use]
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Overloaded { .. }
        | Error::SubscriberLimit { .. }
        | Error::LimitUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::DatabaseTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        Error::Argument { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
