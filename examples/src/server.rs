//! The accept loop under the service: a connection cap, HTTP/1.1 timeouts, and a graceful
//! drain with a deadline.
//!
//! # Implementation details
//!
//! - **Connection cap.** The loop takes a permit of a semaphore of `max_connections` before it
//!   accepts; the permit lives in the connection's task. At the cap, new connections wait in the
//!   kernel's backlog instead of taking file descriptors, so the process never runs out of
//!   them while the descriptors it holds are bounded.
//! - **Idle and slow clients.** hyper's `header_read_timeout` closes a connection whose request
//!   head has not fully arrived in time: a new socket that sends nothing, a client that trickles
//!   its headers, and a kept-alive connection idle between requests (hyper starts the same timer
//!   when it waits for the next head). Request bodies and handlers have their own deadlines in
//!   the router (`ServiceConfig::body_timeout`, `ServiceConfig::request_timeout`), and a
//!   client that stops reading its answer is cut after `write_timeout` (`write_timeout.rs`).
//! - **Bounded buffers.** hyper's `max_buf_size` bounds what a connection buffers, read and
//!   write, so a client that stops reading holds at most that much plus one body frame.
//! - **Drain.** On the first signal the loop stops accepting, sets the shutdown flag (event
//!   streams end on it), logs what it waits for and asks every connection to finish its request
//!   and close (`GracefulShutdown`). It then waits for them until `drain_timeout` passes or a
//!   second signal arrives; whatever is still open then is dropped. Writes are acknowledged
//!   only after SQLite committed them, so cutting a connection loses nothing acknowledged.
//! - Connection tasks live in a `JoinSet`, reaped as the loop goes, so dropping the server drops
//!   every connection.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use futures::{Stream, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::write_timeout::StallGuard;

/// How a [`Service::serve`](crate::Service::serve) run ended.
///
/// # Examples
///
/// ```
/// let report = examples::ShutdownReport::default();
/// assert!(report.drained());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections open when the drain began.
    pub draining: usize,
    /// Connections still open when the drain ended, which were then dropped.
    pub cut: usize,
    /// The drain deadline passed before every connection finished.
    pub deadline_passed: bool,
    /// A second signal ended the drain early.
    pub forced: bool,
}

impl ShutdownReport {
    /// Whether every connection finished on its own.
    ///
    /// # Examples
    ///
    /// See [`ShutdownReport`].
    #[must_use]
    pub fn drained(&self) -> bool {
        self.cut == 0
    }
}

/// What the accept loop needs from the service.
pub(crate) struct ServerSettings {
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_buf_size: usize,
    pub(crate) drain_timeout: Duration,
}

/// Gauges the accept loop and the router keep for the drain line, `/stats` and `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    pub(crate) connections: AtomicUsize,
    pub(crate) requests: AtomicUsize,
}

/// Counts one unit of a gauge for as long as it lives.
pub(crate) struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    pub(crate) fn new(gauge: &'a AtomicUsize) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `router` on `listener` until the first item of `signals`, then drains.
pub(crate) async fn run<S>(
    listener: TcpListener,
    router: Router,
    settings: &ServerSettings,
    gauges: Arc<Gauges>,
    stop_flag: &watch::Sender<bool>,
    subscribers: impl Fn() -> usize,
    signals: S,
) -> ShutdownReport
where
    S: Stream<Item = ()> + Send,
{
    let mut signals = pin!(signals.chain(futures::stream::pending()));
    let permits = Arc::new(Semaphore::new(
        settings.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .max_buf_size(settings.max_buf_size.max(8192));
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = signals.next() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            _ = signals.next() => break,
        };
        // Small answers are not held back waiting for more bytes.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let io = TokioIo::new(StallGuard::new(stream, settings.write_timeout));
        let connection = graceful.watch(http.serve_connection(io, service));
        let gauges = Arc::clone(&gauges);
        connections.spawn(async move {
            let _open = Counted::new(&gauges.connections);
            let _permit = permit;
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    stop_flag.send_replace(true);
    while connections.try_join_next().is_some() {}
    let draining = connections.len();
    tracing::info!(
        connections = draining,
        requests = gauges.requests.load(Ordering::Relaxed),
        event_streams = subscribers(),
        "shutting down: waiting up to {:?} for {draining} open connections ({} requests running, \
         {} event streams); send the signal again to stop at once",
        settings.drain_timeout,
        gauges.requests.load(Ordering::Relaxed),
        subscribers(),
    );
    let mut report = ShutdownReport {
        draining,
        ..ShutdownReport::default()
    };
    // Reaps each connection as it ends, so what is left at the deadline is what is still open.
    let drained = async {
        futures::join!(graceful.shutdown(), async {
            while connections.join_next().await.is_some() {}
        });
    };
    tokio::select! {
        () = drained => {}
        () = tokio::time::sleep(settings.drain_timeout) => report.deadline_passed = true,
        _ = signals.next() => report.forced = true,
    }
    if report.deadline_passed || report.forced {
        report.cut = connections.len();
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        tracing::warn!(
            cut = report.cut,
            "stopped {}: dropped {} connections still open",
            if report.forced {
                "on a second signal"
            } else {
                "at the drain deadline"
            },
            report.cut
        );
    } else {
        tracing::info!("every connection finished");
    }
    report
}

/// Accept errors are about one connection (reset before accept) or about this process running
/// out of descriptors or memory; in the second case, retrying at once would spin.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %err, "accept failed; retrying in 100ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
