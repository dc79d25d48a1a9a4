//! The HTTP service: every crate of the toolkit behind axum, over SQLite.
//!
//! # Implementation details
//!
//! All handlers share one [`State`] behind an `Arc`. Errors become JSON bodies
//! `{"error": "..."}` with the status the [`Error`] variant calls for (see [`status_of`]).
//! Server-sent event streams never end on their own, which would keep a graceful shutdown
//! waiting forever, so each one also ends when the shutdown flag (a `watch` channel set by
//! [`Service::serve`] when the signal arrives) turns true.
//!
//! `POST /import` collects the body with `nodebook_streams::concat` under the size limit and decodes it
//! once with a `nodebook_decoder::StringDecoder`: the book's own answer for arbitrary charsets (6.3.3,
//! `Buffer.concat` then decode). Memory stays bounded by the limit, and the charset is checked
//! before a byte of the body is read.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{
    ARTICLE_UPDATED, ArticleStore, ArticleUpdate, Error, SqliteDatabase, StoreConfig,
    check_file_name, files_dir, seed_files,
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
            store: StoreConfig::default(),
            import_limit: 1 << 20,
            retry_after: Duration::from_secs(1),
            events_capacity: 64,
            high_water_mark: 16 * 1024,
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

struct State {
    store: ArticleStore<SqliteDatabase>,
    db: SqliteDatabase,
    config: ServiceConfig,
    shutdown: watch::Sender<bool>,
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
    /// Opens (creating and seeding on first start) the database and the sample files in
    /// `config.data_dir`, and builds the store.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Sqlite`] when the data directory cannot be set up, and the
    /// errors of [`ArticleStore::new`].
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
        let db = SqliteDatabase::open(&config.data_dir, config.store.connections).await?;
        let dir = config.data_dir.clone();
        tokio::task::spawn_blocking(move || seed_files(&dir))
            .await
            .map_err(|_| Error::WorkerGone)??;
        let store = ArticleStore::new(db.clone(), config.store)?;
        Ok(Self {
            state: Arc::new(State {
                store,
                db,
                config,
                shutdown: watch::channel(false).0,
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
    pub fn store(&self) -> &ArticleStore<SqliteDatabase> {
        &self.state.store
    }

    /// The SQLite database.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let service = examples::Service::open(examples::ServiceConfig::new(dir.path())).await?;
    /// assert!(service.database().path().exists());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn database(&self) -> &SqliteDatabase {
        &self.state.db
    }

    /// The routes: `GET`/`PUT /articles/{id}`, `GET /events`, `POST /import`,
    /// `GET /files/{name}`, `GET /stats`.
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
        Router::new()
            .route("/articles/{id}", get(get_article).put(put_article))
            .route("/events", get(events))
            .route("/import", post(import))
            .route("/files/{name}", get(file))
            .route("/stats", get(stats))
            .with_state(Arc::clone(&self.state))
    }

    /// Serves on `listener` until `shutdown` resolves, then stops accepting connections, ends
    /// the event streams and waits for the running requests to finish.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the listener fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the server and every connection at once (no graceful end).
    ///
    /// # Examples
    ///
    /// See [`Service`]; the `service` binary passes [`shutdown_signal`](crate::shutdown_signal).
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let address = listener
            .local_addr()
            .map_or_else(|_| "the listener".to_owned(), |a| a.to_string());
        let flag = self.state.shutdown.clone();
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                shutdown.await;
                flag.send_replace(true);
            })
            .await
            .map_err(|err| Error::io(address, err))
    }
}

type AppState = Shared<Arc<State>>;

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
        Error::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::DatabaseTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        Error::Argument { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn failure(state: &State, error: &Error) -> Response {
    let status = status_of(error);
    let mut response = problem(status, &error.to_string());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        let seconds = state.config.retry_after.as_secs().max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn parse_id(raw: &str) -> Result<u64, Error> {
    match raw.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(Error::argument(
            "article id",
            format!("must be a positive integer, got {raw:?}"),
        )),
    }
}

async fn get_article(Shared(state): AppState, Path(raw): Path<String>) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(err) => return failure(&state, &err),
    };
    match state.store.get(id).await {
        Ok(article) => axum::Json(article).into_response(),
        Err(err) => failure(&state, &err),
    }
}

async fn put_article(Shared(state): AppState, Path(raw): Path<String>, body: Bytes) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(err) => return failure(&state, &err),
    };
    let update: ArticleUpdate = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(err) => {
            let message = format!("body must be JSON {{\"title\": .., \"body\": ..}}: {err}");
            return problem(StatusCode::BAD_REQUEST, &message);
        }
    };
    match state.store.update(id, update).await {
        Ok(article) => axum::Json(article).into_response(),
        Err(err) => failure(&state, &err),
    }
}

async fn events(Shared(state): AppState) -> Response {
    let updates = match state.store.subscribe(state.config.events_capacity) {
        Ok(updates) => updates,
        Err(err) => return failure(&state, &err),
    };
    let mut shutdown = state.shutdown.subscribe();
    let stopped = async move {
        // An error means the service is gone, which is a reason to stop too.
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let ready = futures::stream::once(async { Ok(Event::default().comment("subscribed")) });
    let stream = ready.chain(updates.map(sse_event)).take_until(stopped);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn sse_event(update: Result<crate::Article, Error>) -> Result<Event, Infallible> {
    Ok(match update {
        Ok(article) => Event::default()
            .event(ARTICLE_UPDATED)
            .id(format!("{}.{}", article.id, article.version))
            .json_data(&article)
            .unwrap_or_else(|err| Event::default().event("error").data(err.to_string())),
        Err(err) => Event::default().event("lagged").data(err.to_string()),
    })
}

async fn import(
    Shared(state): AppState,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Response {
    let charset = query.get("charset").map_or("utf-8", String::as_str);
    let mut decoder = match nodebook_decoder::StringDecoder::new(charset) {
        Ok(decoder) => decoder,
        Err(err) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("charset {charset:?}: {err}"),
            );
        }
    };
    let reader =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(io::Error::other));
    let options =
        nodebook_streams::ReadOptions::new().high_water_mark(state.config.high_water_mark);
    let chunks = match nodebook_streams::ReadStream::from_reader(reader, options) {
        Ok(chunks) => chunks,
        Err(err) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    };
    let bytes = match nodebook_streams::concat(chunks, state.config.import_limit).await {
        Ok(bytes) => bytes,
        Err(nodebook_streams::Error::LimitExceeded { limit, .. }) => {
            let message = format!("body is larger than the import limit of {limit} bytes");
            return problem(StatusCode::PAYLOAD_TOO_LARGE, &message);
        }
        Err(err) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {err}"),
            );
        }
    };
    let mut text = decoder.write(&bytes);
    decoder.end_into(&mut text);
    let chars = text.chars().count();
    let label = decoder.encoding().name();
    match state
        .store
        .run_limited(state.db.store_import(label, text))
        .await
    {
        Ok(id) => (
            StatusCode::CREATED,
            axum::Json(json!({ "id": id, "charset": label, "bytes": bytes.len(), "chars": chars })),
        )
            .into_response(),
        Err(err) => failure(&state, &err),
    }
}

async fn file(Shared(state): AppState, Path(name): Path<String>) -> Response {
    let name = match check_file_name(&name) {
        Ok(name) => name,
        Err(bad) => return problem(StatusCode::BAD_REQUEST, bad.reason()),
    };
    let path = files_dir(&state.config.data_dir).join(name);
    let options =
        nodebook_streams::ReadOptions::new().high_water_mark(state.config.high_water_mark);
    match nodebook_streams::ReadStream::open(&path, options).await {
        Ok(chunks) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Body::from_stream(chunks),
        )
            .into_response(),
        Err(nodebook_streams::Error::Open { source, .. })
            if matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
            ) =>
        {
            problem(StatusCode::NOT_FOUND, &format!("no file named {name:?}"))
        }
        Err(err) => problem(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

async fn stats(Shared(state): AppState) -> Response {
    let store = state.store.stats();
    axum::Json(json!({
        "bagpipe": store.limiter,
        "cache": store.cache,
        "emitter": store.events,
        "database": { "queries": crate::ArticleSource::queries(&state.db) },
    }))
    .into_response()
}
