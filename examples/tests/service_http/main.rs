//! The service over real HTTP on loopback, against SQLite in a temporary directory.
//!
//! - `endpoints`: each endpoint's success and error paths, refusal under overload, SSE delivery
//!   of an update, graceful shutdown, and the load plan's report against a live service.
//! - `hardening`: the defects a hostile or careless client found: idle sockets, stalled
//!   shutdowns, unbounded subscribers, false leak warnings, special files, error bodies,
//!   charsets; and `/metrics`, `/healthz`, `/readyz`.
//! - `process`: the `service` and `load` binaries as processes: a low open-file limit, real
//!   signals, exit codes.
//! - `backends`: what must hold on SQLite and on PostgreSQL alike (reads, writes, creation,
//!   negative caching, imports, no acknowledged write lost to kill -9), each test once per
//!   backend. PostgreSQL tests skip when no server answers on 127.0.0.1:5432, or fail under
//!   `NODEBOOK_REQUIRE_POSTGRES=1`.
//! - `cluster`: two `service` processes sharing PostgreSQL and Redis: one query per cold
//!   article across both, a write on one seen on the other.
//! - `replicas`: the database limit shared by replicas through Redis: never more calls at once
//!   than the limit across them, the outage policies, and a replica killed under load (no
//!   acknowledged write lost, its permits back within a lease), and the `cluster` binary's
//!   checks.
//! - `bridge`: `GET /events` across replicas, and a lost subscription told to subscribers.

mod backends;
mod bridge;
mod cluster;
mod endpoints;
mod hardening;
mod postgres;
mod process;
mod replicas;

use bytes::Bytes;
use examples::{HttpAnswer, HttpClient, Service, ServiceConfig, ShutdownReport};
use futures::channel::mpsc;
use hyper::Method;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) struct Running {
    pub(crate) url: String,
    pub(crate) service: Service,
    pub(crate) client: HttpClient,
    pub(crate) signals: mpsc::UnboundedSender<()>,
    pub(crate) server: JoinHandle<Result<ShutdownReport, examples::Error>>,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) async fn start(configure: impl FnOnce(&mut ServiceConfig)) -> Running {
    start_on(None, configure).await
}

/// A service on PostgreSQL at `database_url`, or on SQLite in its temporary directory.
pub(crate) async fn start_on(
    database_url: Option<&str>,
    configure: impl FnOnce(&mut ServiceConfig),
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServiceConfig::new(dir.path());
    config.database_url = database_url.map(str::to_owned);
    configure(&mut config);
    let service = Service::open(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (signals, signalled) = mpsc::unbounded::<()>();
    let server = tokio::spawn(service.clone().serve_until(listener, signalled));
    Running {
        url,
        service,
        client: HttpClient::new(),
        signals,
        server,
        dir,
    }
}

impl Running {
    pub(crate) async fn get(&self, path: &str) -> HttpAnswer {
        self.client
            .get(&format!("{}{path}", self.url))
            .await
            .unwrap()
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Bytes>,
    ) -> HttpAnswer {
        let url = format!("{}{path}", self.url);
        self.client.send(method, &url, body.into()).await.unwrap()
    }

    /// Takes one of the store's connections until `release`, so the next query must wait or be
    /// refused.
    pub(crate) fn hold_a_connection(&self) -> Held {
        let (release, hold) = oneshot::channel::<()>();
        let busy = self
            .service
            .store()
            .limiter()
            .local()
            .expect("a local limiter")
            .push(async move { hold.await.ok() });
        Held { release, busy }
    }

    /// Sends one shutdown signal, as Ctrl-C would.
    pub(crate) fn signal(&self) {
        self.signals.unbounded_send(()).unwrap();
    }

    pub(crate) async fn shut_down(self) -> ShutdownReport {
        self.signal();
        self.server.await.unwrap().unwrap()
    }
}

pub(crate) struct Held {
    release: oneshot::Sender<()>,
    busy: nodebook_bagpipe::Push<Option<()>>,
}

impl Held {
    pub(crate) async fn release(self) {
        self.release.send(()).unwrap();
        self.busy.await.unwrap();
    }
}

/// Waits until `condition` holds, checking after each yield; `what` names it if it never does
/// within a generous bound (a failure bound, not a delay the test relies on).
pub(crate) async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

pub(crate) fn json(answer: &HttpAnswer) -> serde_json::Value {
    serde_json::from_slice(&answer.body).unwrap_or_else(|err| {
        panic!("not JSON ({err}): {}", answer.text());
    })
}
