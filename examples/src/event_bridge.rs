//! The `/events` hub across replicas: the emitter's Redis bridge carries `article.updated` from
//! the replica that wrote the row to the subscribers of every other replica.
//!
//! # Implementation details
//!
//! Pub/sub, not Streams. `/events` is a live feed: a client that reconnects gets no replay from
//! the service either way, and a subscriber that falls behind already misses updates (the
//! `lagged` event). Rows may be as large as `--put-limit` (1 MiB by default), and Streams would
//! keep up to `max_len` of them in Redis; pub/sub keeps nothing and takes one hop. What pub/sub
//! costs: updates published while a replica's subscription is down are lost for its
//! subscribers. The bridge reports that as a `"gap"`, which the service counts, logs, shows in
//! `/readyz` until the bridge is back, and passes to every subscriber as an
//! `Error::EventsLost` (a `lagged` server-sent event), so a client knows to reload; the article
//! cache's own invalidations travel over pub/sub too and have the same window.
//!
//! The store is built without waiting for Redis, so the bridge connects in a background task,
//! retrying with a backoff up to one second until Redis answers; until then, and while the
//! subscription is down, subscribers see this replica's updates only. The task holds the
//! bridge's state weakly and ends when the store is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use nodebook_emitter::Emitter;
use nodebook_emitter::redis::{Bridge, BridgeEvent, FlushError, Gap, JsonCodec};
use tokio::sync::watch;

use futures::{Stream, StreamExt};

use crate::{ARTICLE_UPDATED, Article, BridgeCounters, Cluster, Error};

/// The bridge of one store's emitter, once it has connected.
pub(crate) struct EventBridge {
    state: Arc<State>,
}

struct State {
    bridge: OnceLock<Bridge<Article>>,
    connected: Arc<AtomicBool>,
    last_error: Mutex<Option<String>>,
    /// The last gap, in words; every subscriber watches it.
    gaps: Arc<watch::Sender<Arc<str>>>,
}

impl EventBridge {
    /// Starts connecting `emitter` to the namespace's events; must run inside a tokio runtime.
    pub(crate) fn start(emitter: &Emitter<Article>, cluster: &Cluster) -> Self {
        let state = Arc::new(State {
            bridge: OnceLock::new(),
            connected: Arc::new(AtomicBool::new(false)),
            last_error: Mutex::new(None),
            gaps: Arc::new(watch::Sender::new(Arc::from(""))),
        });
        let connecting = connect(
            Arc::downgrade(&state),
            emitter.clone(),
            cluster.client().clone(),
            format!("{}:events", cluster.namespace()),
        );
        drop(tokio::spawn(connecting));
        Self { state }
    }

    /// A receiver that sees each gap reported from now on.
    pub(crate) fn gaps(&self) -> watch::Receiver<Arc<str>> {
        self.state.gaps.subscribe()
    }

    /// `Ok(())` while remote updates arrive, else why not.
    pub(crate) fn health(&self) -> Result<(), String> {
        if self.state.connected.load(Ordering::Acquire) {
            return Ok(());
        }
        let last = self
            .state
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Err(match (self.state.bridge.get(), last) {
            (Some(_), _) => "the subscription is down; reconnecting".to_owned(),
            (None, Some(err)) => format!("not connected yet: {err}"),
            (None, None) => "not connected yet".to_owned(),
        })
    }

    /// Waits until the updates queued for the other replicas are written, for at most
    /// `within`; the number still unwritten then.
    pub(crate) async fn flush(&self, within: Duration) -> usize {
        match self.state.bridge.get() {
            Some(bridge) => match bridge.flush(within).await {
                Ok(()) => 0,
                Err(FlushError::TimedOut { unsent }) => unsent,
                Err(_) => bridge.queued(),
            },
            None => 0,
        }
    }

    pub(crate) fn counters(&self) -> BridgeCounters {
        let stats = self
            .state
            .bridge
            .get()
            .map(Bridge::stats)
            .unwrap_or_default();
        BridgeCounters {
            connected: self.state.connected.load(Ordering::Acquire),
            published: stats.published,
            received: stats.received,
            dropped: stats.dropped,
            gaps: stats.gaps,
            reconnects: stats.reconnects,
        }
    }
}

async fn connect(state: Weak<State>, emitter: Emitter<Article>, client: redis::Client, ns: String) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let connected = Bridge::<Article>::builder(client.clone(), ns.as_str(), JsonCodec)
            .event(ARTICLE_UPDATED)
            .connect(&emitter)
            .await;
        let Some(state) = state.upgrade() else {
            return;
        };
        match connected {
            Ok(bridge) => {
                follow(&bridge, &state.connected, &state.gaps);
                state.connected.store(true, Ordering::Release);
                tracing::info!(namespace = ns, "events bridged across the replicas");
                // Set once: this task is the only writer.
                let _ = state.bridge.set(bridge);
                return;
            }
            Err(err) => {
                tracing::debug!(error = %err, "the event bridge cannot connect yet");
                *state
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
            }
        }
        drop(state);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Follows the bridge's own events: the subscription's state, and gaps (to the logs and to
/// the subscribers).
fn follow(
    bridge: &Bridge<Article>,
    connected: &Arc<AtomicBool>,
    gaps: &Arc<watch::Sender<Arc<str>>>,
) {
    let up = Arc::clone(connected);
    bridge
        .events()
        .on(BridgeEvent::CONNECTED, move |_: &BridgeEvent| {
            up.store(true, Ordering::Release);
            tracing::info!("the event bridge is back: updates of the other replicas arrive again");
        });
    let (down, gaps) = (Arc::clone(connected), Arc::clone(gaps));
    bridge
        .events()
        .on(BridgeEvent::GAP, move |event: &BridgeEvent| {
            let BridgeEvent::Gap(gap) = event else {
                return;
            };
            let reason = match (gap, gap.missed()) {
                (Gap::Disconnected, _) => {
                    down.store(false, Ordering::Release);
                    "the event bridge's subscription to Redis dropped".to_owned()
                }
                (_, Some(missed)) => format!("{missed} updates of another replica never arrived"),
                (_, None) => "updates of another replica never arrived".to_owned(),
            };
            tracing::warn!(
                ?gap,
                "updates of other replicas were lost for this replica's /events subscribers"
            );
            gaps.send_replace(Arc::from(reason));
        });
    bridge
        .events()
        .on(BridgeEvent::ERROR, |event: &BridgeEvent| {
            tracing::warn!(?event, "the event bridge failed a message or a Redis call");
        });
}

/// `updates`, with an [`Error::EventsLost`] for each gap `gaps` sees; it ends when `updates`
/// does.
pub(crate) fn with_gaps<S>(
    updates: S,
    gaps: Option<watch::Receiver<Arc<str>>>,
) -> impl Stream<Item = Result<Article, Error>> + Send + 'static
where
    S: Stream<Item = Result<Article, Error>> + Send + 'static,
{
    let lost = futures::stream::unfold(gaps, |gaps| async move {
        let mut gaps = gaps?;
        gaps.changed().await.ok()?;
        let reason = gaps.borrow_and_update().to_string();
        Some((Err(Error::EventsLost { reason }), Some(gaps)))
    });
    // `None` marks the end of the updates, which ends the merged stream.
    let updates = updates
        .map(Some)
        .chain(futures::stream::once(async { None }));
    futures::stream::select(updates, lost.map(Some))
        .take_while(|item| std::future::ready(item.is_some()))
        .filter_map(std::future::ready)
}
