//! The route handlers and the middleware around them.
//!
//! # Implementation details
//!
//! Every error is a JSON body `{"error": "..."}`: the handlers build theirs with [`problem`],
//! the fallbacks answer 404 and 405 the same way, and [`json_errors`] rewrites whatever else
//! answers an error in plain text (axum's extractor rejections) so that a client parses one
//! shape. Bodies are read by the handlers themselves under the service's limits, so an oversize
//! body is a 413 with the limit in the message and a stalled one is a 408.
//!
//! `POST /import` collects the body with `nodebook_streams::concat` under the size limit and
//! decodes it once with a `nodebook_decoder::StringDecoder`: the book's own answer for
//! arbitrary charsets (6.3.3, `Buffer.concat` then decode). The charset comes from `?charset=`
//! or the `Content-Type` header (the two must agree when both are given); `?strict=true`
//! refuses malformed input with 422 and the byte offset instead of storing U+FFFD.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{MatchedPath, Path, Query, Request, State as Shared};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use tokio::time::Instant;

use crate::server::Counted;
use crate::service::State;
use crate::telemetry::Snapshot;
use crate::{ARTICLE_UPDATED, Article, ArticleUpdate, Error, Unservable, status_of};

type AppState = Shared<Arc<State>>;

pub(crate) fn failure(state: &State, error: &Error) -> Response {
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

pub(crate) fn problem(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Times the request, counts it as running, records it in `/metrics` and ends it with 408 when
/// it outlasts the request timeout. Runs after routing, so the route is known.
pub(crate) async fn observe(
    Shared(state): AppState,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = route.map_or_else(|| "unmatched".to_owned(), |r| r.as_str().to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = {
        let _running = Counted::new(&state.gauges.requests);
        match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => problem(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the request took longer than the request timeout of {:?}",
                    state.config.request_timeout
                ),
            ),
        }
    };
    state.telemetry.record_request(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Rewrites a plain-text or empty error answer as `{"error": "..."}`, keeping its status and
/// headers (`Allow`, `Retry-After`).
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Rejection texts are a line or two; anything longer is cut rather than buffered.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_lowercase(),
        text => text.to_owned(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let json = problem(status, &message);
    let (fresh, body) = json.into_parts();
    parts.headers.extend(fresh.headers);
    Response::from_parts(parts, body)
}

pub(crate) async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        &format!("no route for {method} {}", uri.path()),
    )
}

pub(crate) async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "{method} is not allowed on {}; the Allow header lists what is",
            uri.path()
        ),
    )
}

fn parse_id(raw: &str) -> Result<u64, Error> {
    // Ids are what the databases store: 1..=i64::MAX.
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id.unsigned_abs()),
        _ => Err(Error::argument(
            "article id",
            format!("must be a positive integer up to {}, got {raw:?}", i64::MAX),
        )),
    }
}

/// An article as a JSON response, written into a buffer sized for it at once: a large row
/// serialised by `axum::Json` grows its buffer by doubling from 128 bytes, a chain of copies
/// that also leaves the allocator fragmented under a steady stream of large rows.
fn article_json(status: StatusCode, article: &Article) -> Response {
    // The text, escapes aside, plus the keys, the numbers and the quotes.
    let mut buffer = Vec::with_capacity(article.title.len() + article.body.len() + 96);
    match serde_json::to_writer(&mut buffer, article) {
        Ok(()) => (status, [(header::CONTENT_TYPE, "application/json")], buffer).into_response(),
        Err(err) => problem(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

pub(crate) async fn get_article(Shared(state): AppState, Path(raw): Path<String>) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(err) => return failure(&state, &err),
    };
    match state.store.get(id).await {
        Ok(article) => article_json(StatusCode::OK, &article),
        Err(err) => failure(&state, &err),
    }
}

/// Why reading a request body failed, seen in the body's own error as it passes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFailure {
    TooLarge,
    Stalled,
    Broken,
}

fn classify(err: &axum::Error) -> BodyFailure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return BodyFailure::TooLarge;
        }
        if cause.is::<tower_http::timeout::TimeoutError>() {
            return BodyFailure::Stalled;
        }
        source = cause.source();
    }
    BodyFailure::Broken
}

fn body_problem(state: &State, failure: BodyFailure, limit: usize, detail: &str) -> Response {
    match failure {
        BodyFailure::TooLarge => problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body is larger than the limit of {limit} bytes"),
        ),
        BodyFailure::Stalled => problem(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the body stalled: no bytes for {:?} (the body timeout)",
                state.config.body_timeout
            ),
        ),
        BodyFailure::Broken => problem(
            StatusCode::BAD_REQUEST,
            &format!("cannot read the body: {detail}"),
        ),
    }
}

pub(crate) async fn put_article(
    Shared(state): AppState,
    Path(raw): Path<String>,
    body: Body,
) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(err) => return failure(&state, &err),
    };
    let limit = state.config.put_limit;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(err) => return body_problem(&state, classify(&err), limit, &err.to_string()),
    };
    let update: ArticleUpdate = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(err) => {
            let message = format!("body must be JSON {{\"title\": .., \"body\": ..}}: {err}");
            return problem(StatusCode::BAD_REQUEST, &message);
        }
    };
    match state.store.update(id, update).await {
        // Version 1 after a write: the row did not exist before.
        Ok(article) if article.version == 1 => article_json(StatusCode::CREATED, &article),
        Ok(article) => article_json(StatusCode::OK, &article),
        Err(err) => failure(&state, &err),
    }
}

pub(crate) async fn events(Shared(state): AppState) -> Response {
    let updates = match state.store.subscribe(state.config.events_capacity) {
        Ok(updates) => updates,
        Err(err) => return failure(&state, &err),
    };
    let mut shutdown = state.shutdown.subscribe();
    let stopped = async move {
        // An error means the service is gone, which is a reason to stop too.
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let limit = state.config.event_limit;
    let ready = futures::stream::once(async { Ok(Event::default().comment("subscribed")) });
    let stream = ready
        .chain(updates.map(move |update| sse_event(update, limit)))
        .take_until(stopped);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// One update as an event of at most `limit` bytes of data: the row itself, or, for a row too
/// large, its id and version with a note to fetch it (so a subscriber never holds a row of any
/// size in the server).
fn sse_event(update: Result<Article, Error>, limit: usize) -> Result<Event, Infallible> {
    let article = match update {
        Ok(article) => article,
        Err(err) => return Ok(Event::default().event("lagged").data(err.to_string())),
    };
    let event = Event::default()
        .event(ARTICLE_UPDATED)
        .id(format!("{}.{}", article.id, article.version));
    // JSON is never shorter than the text it holds: a row whose text alone is over the limit
    // is not serialised at all.
    let fits = article.title.len() + article.body.len() <= limit;
    let data = match fits.then(|| serde_json::to_string(&article)) {
        Some(Ok(data)) if data.len() <= limit => data,
        _ => json!({
            "id": article.id,
            "version": article.version,
            "omitted": format!(
                "the row is larger than the event limit of {limit} bytes; GET /articles/{}",
                article.id
            ),
        })
        .to_string(),
    };
    Ok(event.data(data))
}

/// The charset of an import: `?charset=`, else the `Content-Type` charset, else UTF-8.
fn import_charset<'a>(
    query: &'a HashMap<String, String>,
    headers: &'a HeaderMap,
) -> Result<nodebook_decoder::StringDecoder, String> {
    let from_header = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value.split(';').skip(1).find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| value.trim().trim_matches('"'))
            })
        });
    let decoder = |label: &str, origin: &str| {
        nodebook_decoder::StringDecoder::new(label)
            .map_err(|err| format!("charset {label:?} ({origin}): {err}"))
    };
    match (query.get("charset"), from_header) {
        (Some(asked), Some(declared)) => {
            let (a, b) = (
                decoder(asked, "?charset")?,
                decoder(declared, "Content-Type")?,
            );
            if a.encoding() == b.encoding() {
                Ok(a)
            } else {
                Err(format!(
                    "?charset={asked} and the Content-Type charset {declared} disagree; give one"
                ))
            }
        }
        (Some(asked), None) => decoder(asked, "?charset"),
        (None, Some(declared)) => decoder(declared, "Content-Type"),
        (None, None) => decoder("utf-8", "default"),
    }
}

pub(crate) async fn import(
    Shared(state): AppState,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut decoder = match import_charset(&query, &headers) {
        Ok(decoder) => decoder,
        Err(message) => return problem(StatusCode::BAD_REQUEST, &message),
    };
    let strict = match query.get("strict").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            let message = format!("strict must be true or false, got {other:?}");
            return problem(StatusCode::BAD_REQUEST, &message);
        }
    };
    let seen = Arc::new(OnceLock::new());
    let noted = Arc::clone(&seen);
    let data = body.into_data_stream().map_err(move |err| {
        let _ = noted.set(classify(&err));
        io::Error::other(err)
    });
    let reader = tokio_util::io::StreamReader::new(data);
    let options =
        nodebook_streams::ReadOptions::new().high_water_mark(state.config.high_water_mark);
    let chunks = match nodebook_streams::ReadStream::from_reader(reader, options) {
        Ok(chunks) => chunks,
        Err(err) => return problem(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    };
    let limit = state.config.import_limit;
    let bytes = match nodebook_streams::concat(chunks, limit).await {
        Ok(bytes) => bytes,
        Err(nodebook_streams::Error::LimitExceeded { .. }) => {
            return body_problem(&state, BodyFailure::TooLarge, limit, "");
        }
        Err(err) => {
            let failure = seen.get().copied().unwrap_or(BodyFailure::Broken);
            return body_problem(&state, failure, limit, &err.to_string());
        }
    };
    let label = decoder.encoding().name();
    let text = if strict {
        let mut text = String::with_capacity(bytes.len());
        let decoded = decoder
            .try_write_into(&bytes, &mut text)
            .and_then(|()| decoder.try_end_into(&mut text));
        match decoded {
            Ok(()) => text,
            Err(err) => return malformed(&err, label),
        }
    } else {
        let mut text = decoder.write(&bytes);
        decoder.end_into(&mut text);
        text
    };
    let chars = text.chars().count();
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

fn malformed(err: &nodebook_decoder::Error, label: &str) -> Response {
    let offset = match err {
        nodebook_decoder::Error::Malformed { offset, .. } => Some(*offset),
        _ => None,
    };
    let body = json!({
        "error": format!("the body is not valid {label}: {err}"),
        "charset": label,
        "offset": offset,
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

pub(crate) async fn file(Shared(state): AppState, Path(name): Path<String>) -> Response {
    let name = match crate::check_file_name(&name) {
        Ok(name) => name,
        Err(bad) => return problem(StatusCode::BAD_REQUEST, bad.reason()),
    };
    let dir = crate::files_dir(&state.config.data_dir);
    let file = match crate::open_served_file(&dir, name).await {
        Ok(file) => file,
        Err(Unservable::NotARegularFile) => {
            return problem(StatusCode::NOT_FOUND, &format!("no file named {name:?}"));
        }
        Err(Unservable::Unreadable(err)) => {
            tracing::warn!(file = name, error = %err, "a served file cannot be opened");
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("file {name:?} cannot be read"),
            );
        }
    };
    let options =
        nodebook_streams::ReadOptions::new().high_water_mark(state.config.high_water_mark);
    match nodebook_streams::ReadStream::from_reader(file, options) {
        Ok(chunks) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Body::from_stream(chunks),
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(file = name, error = %err, "a served file cannot be streamed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("file {name:?} cannot be read"),
            )
        }
    }
}

fn snapshot(state: &State) -> Snapshot {
    use std::sync::atomic::Ordering;
    Snapshot {
        store: state.store.stats(),
        database_queries: crate::ArticleSource::queries(&state.db),
        connections: state.gauges.connections.load(Ordering::Relaxed),
        requests: state.gauges.requests.load(Ordering::Relaxed),
    }
}

pub(crate) async fn stats(Shared(state): AppState) -> Response {
    let now = snapshot(&state);
    axum::Json(json!({
        "bagpipe": now.store.limiter,
        "cache": now.store.cache,
        "emitter": now.store.events,
        "redis": now.store.redis,
        "global_limit": now.store.global_limit,
        "bridge": now.store.bridge,
        "database": { "queries": now.database_queries },
        "http": { "connections": now.connections, "requests": now.requests },
    }))
    .into_response()
}

pub(crate) async fn metrics(Shared(state): AppState) -> Response {
    let text = state.telemetry.render(&snapshot(&state));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub(crate) async fn healthz() -> Response {
    axum::Json(json!({ "status": "live" })).into_response()
}

pub(crate) async fn readyz(Shared(state): AppState) -> Response {
    if *state.shutdown.borrow() {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if let Err(err) = state.db.ping().await {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the database is not reachable: {err}"),
        );
    }
    if let Some(Err(why)) = state.store.redis_health() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("Redis is not reachable (serving from this replica alone): {why}"),
        );
    }
    if let Some(global) = state.store.limiter().global()
        && let Err(why) = global.health()
    {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the global database limit cannot reach Redis (outage policy: {}): {why}",
                global.policy()
            ),
        );
    }
    if let Some(Err(why)) = state.store.bridge_health() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the event bridge is not connected (event subscribers see this replica's \
                 updates only): {why}"
            ),
        );
    }
    match state.store.redis_health() {
        None => axum::Json(json!({ "status": "ready", "database": "ok" })).into_response(),
        Some(_) => axum::Json(json!({
            "status": "ready",
            "database": "ok",
            "redis": "ok",
            "global_limit": "ok",
            "bridge": "ok",
        }))
        .into_response(),
    }
}
