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
//! subscribers. The bridge reports that as a `"gap"`, which the service counts, logs and
//! shows in `/readyz` until the bridge is back; the article cache's own invalidations travel
//! over pub/sub too and have the same window.
//!
//! The store is built without waiting for Redis, so the bridge connects in a background task,
//! retrying with a backoff up to one second until Redis answers; until then, and while the
//! subscription is down, subscribers see this replica's updates only. The task holds the
//! bridge's state weakly and ends when the store is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use nodebook_emitter::Emitter;
use nodebook_emitter::redis::{Bridge, BridgeEvent, Gap, JsonCodec};

use crate::{ARTICLE_UPDATED, Article, BridgeCounters, Cluster};

/// The bridge of one store's emitter, once it has connected.
pub(crate) struct EventBridge {
    state: Arc<State>,
}

struct State {
    bridge: OnceLock<Bridge<Article>>,
    connected: Arc<AtomicBool>,
    last_error: Mutex<Option<String>>,
}

impl EventBridge {
    /// Starts connecting `emitter` to the namespace's events; must run inside a tokio runtime.
    pub(crate) fn start(emitter: &Emitter<Article>, cluster: &Cluster) -> Self {
        let state = Arc::new(State {
            bridge: OnceLock::new(),
            connected: Arc::new(AtomicBool::new(false)),
            last_error: Mutex::new(None),
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
                watch(&bridge, &state.connected);
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

/// Follows the bridge's own events: the subscription's state, and gaps in the logs.
fn watch(bridge: &Bridge<Article>, connected: &Arc<AtomicBool>) {
    let up = Arc::clone(connected);
    bridge
        .events()
        .on(BridgeEvent::CONNECTED, move |_: &BridgeEvent| {
            up.store(true, Ordering::Release);
            tracing::info!("the event bridge is back: updates of the other replicas arrive again");
        });
    let down = Arc::clone(connected);
    bridge
        .events()
        .on(BridgeEvent::GAP, move |event: &BridgeEvent| {
            if let BridgeEvent::Gap(Gap::Disconnected) = event {
                down.store(false, Ordering::Release);
            }
            tracing::warn!(
                ?event,
                "updates of other replicas were lost for this replica's /events subscribers"
            );
        });
    bridge
        .events()
        .on(BridgeEvent::ERROR, |event: &BridgeEvent| {
            tracing::warn!(?event, "the event bridge failed a message or a Redis call");
        });
}
