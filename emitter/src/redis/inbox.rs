//! # Implementation details
//!
//! The receiving half of a bridge: what to do with each message read from Redis, whichever
//! the delivery mode.
//!
//! - A message of this bridge's own origin is skipped: local emits reached the local
//!   listeners when they happened.
//! - Per origin, the highest sequence number seen so far. A message at or below it is a repeat
//!   (a writer retried a batch) and is dropped; one above the next expected number reveals a
//!   hole, reported as [`Gap::Missed`] before the message is delivered. So each origin's events
//!   are delivered once and in order, whatever the wire repeats. The first message of an origin
//!   not seen before is taken as it comes (this bridge may have started after it).
//! - Bounded: at most `max_origins` origins are remembered; past that, the one heard from
//!   least recently is forgotten (a bridge that is gone, usually). A forgotten origin that
//!   speaks again is taken as new.
//! - Sequence numbers are tracked for every event of the namespace, bridged here or not, so
//!   that events this bridge does not name are not mistaken for holes.
//! - Delivery is an emit marked with this bridge's id (`origin.rs`), so the bridge's own
//!   listener does not publish it back. A panicking listener is caught and reported; the next
//!   message is delivered as usual.

use std::collections::HashMap;
use std::sync::Arc;

use super::BridgeError;
use super::codec::Codec;
use super::event::{Gap, Notices};
use super::wire::Message;
use crate::{Emitter, EventName};

struct Seen {
    seq: u64,
    heard: u64,
}

pub(crate) struct Inbox<T, C> {
    pub(crate) emitter: Emitter<T>,
    pub(crate) codec: Arc<C>,
    pub(crate) events: Vec<EventName>,
    pub(crate) origin: String,
    pub(crate) bridge: u64,
    pub(crate) notices: Notices,
    pub(crate) max_origins: usize,
    origins: HashMap<Arc<str>, Seen>,
    clock: u64,
}

impl<T, C> Inbox<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    pub(crate) fn new(
        emitter: Emitter<T>,
        codec: Arc<C>,
        events: Vec<EventName>,
        origin: String,
        bridge: u64,
        notices: Notices,
        max_origins: usize,
    ) -> Self {
        Self {
            emitter,
            codec,
            events,
            origin,
            bridge,
            notices,
            max_origins,
            origins: HashMap::new(),
            clock: 0,
        }
    }

    /// Handles one message read from Redis.
    pub(crate) fn accept(&mut self, message: &Message<'_>) {
        if message.origin == self.origin || !self.in_order(message) {
            return;
        }
        let Some(event) = self.events.iter().find(|name| **name == message.event) else {
            return;
        };
        let payload = match self.codec.decode(message.payload) {
            Ok(payload) => payload,
            Err(source) => {
                self.notices.error(BridgeError::Decode {
                    event: event.clone(),
                    origin: message.origin.to_string(),
                    seq: message.seq,
                    source,
                });
                return;
            }
        };
        self.notices.counters.received();
        let inner = &self.emitter.inner;
        let (bridge, name) = (self.bridge, event.as_str());
        let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            inner.emit_marked(name, payload, Some(bridge))
        }));
        if delivered.is_err() {
            self.notices.error(BridgeError::ListenerPanicked {
                event: event.clone(),
            });
        }
    }

    /// Records the message's sequence number; `false` for a repeat. Reports a hole.
    fn in_order(&mut self, message: &Message<'_>) -> bool {
        self.clock += 1;
        let heard = self.clock;
        if let Some(seen) = self.origins.get_mut(message.origin) {
            if message.seq <= seen.seq {
                self.notices.counters.duplicate();
                return false;
            }
            let expected = seen.seq + 1;
            seen.seq = message.seq;
            seen.heard = heard;
            if message.seq > expected {
                self.notices.gap(Gap::Missed {
                    origin: Arc::from(message.origin),
                    first: expected,
                    last: message.seq - 1,
                });
            }
            return true;
        }
        if self.origins.len() >= self.max_origins {
            self.forget_oldest();
        }
        self.origins.insert(
            Arc::from(message.origin),
            Seen {
                seq: message.seq,
                heard,
            },
        );
        true
    }

    #[cold]
    fn forget_oldest(&mut self) {
        let oldest = self
            .origins
            .iter()
            .min_by_key(|(_, seen)| seen.heard)
            .map(|(origin, _)| Arc::clone(origin));
        if let Some(oldest) = oldest {
            self.origins.remove(&oldest);
        }
    }
}
