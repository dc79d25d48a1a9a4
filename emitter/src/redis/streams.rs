//! # Implementation details
//!
//! The receiving task in Streams mode: `XREAD BLOCK` on the namespace's stream from the id of
//! the last entry read, on a connection of its own (a blocking read would hold up every other
//! command on a shared one).
//!
//! - `connect` reads the id of the stream's newest entry before it returns, so the bridge
//!   receives every event added after `connect` returned, and none before.
//! - A failed or timed-out read (the connection was killed, Redis restarted) is retried with a
//!   backoff from the same id: nothing is lost while the entries are still in the stream. The
//!   bridge reports the failure once, and `"connected"` when a read succeeds again.
//! - Trimming (`MAXLEN ~`, or `XDEL`) can remove entries before a slow or disconnected bridge
//!   read them. Before the first read after a failure, and after a read that came back full
//!   (the bridge is behind), it asks `XINFO STREAM` for the newest removed id
//!   (`max-deleted-entry-id`, Redis 7); one past the bridge's position means entries were lost: a [`Gap::Trimmed`] is
//!   reported, and the bridge goes on from the oldest entry left. Holes of origins it has heard
//!   from are also reported per origin by the inbox.

use std::time::Duration;

use redis::Value;
use redis::aio::ConnectionManager;

use super::codec::Codec;
use super::event::Gap;
use super::inbox::Inbox;
use super::outbox::{backoff, bounded};
use super::{BridgeError, wire};

pub(crate) struct Reader {
    pub(crate) conn: ConnectionManager,
    pub(crate) stream: String,
    pub(crate) last_id: String,
    pub(crate) timeout: Duration,
    pub(crate) block: Duration,
    pub(crate) count: usize,
    /// The newest removed id already reported, so that one trim is reported once.
    pub(crate) reported_trim: Option<String>,
}

impl Reader {
    /// The id of the stream's newest entry (`0-0` if there is none).
    pub(crate) async fn newest_id(
        conn: &mut ConnectionManager,
        stream: &str,
        timeout: Duration,
    ) -> Result<String, BridgeError> {
        let reply: Value = bounded(
            "XREVRANGE",
            timeout,
            redis::cmd("XREVRANGE")
                .arg(stream)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(conn),
        )
        .await?;
        wire::last_id(&reply).map_err(BridgeError::Malformed)
    }

    pub(crate) async fn run<T, C>(mut self, mut inbox: Inbox<T, C>)
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let mut failures = 0;
        let mut check_trim = false;
        loop {
            if check_trim {
                check_trim = !self.check_trim(&inbox).await;
            }
            match self.read().await {
                Ok(entries) => {
                    if failures > 0 {
                        failures = 0;
                        inbox.notices.connected();
                    }
                    // Behind: look for a trim before the next read.
                    check_trim |= entries.len() >= self.count;
                    for entry in &entries {
                        match entry.message() {
                            Ok(message) => inbox.accept(&message),
                            Err(what) => inbox.notices.error(BridgeError::Malformed(what)),
                        }
                    }
                    if let Some(last) = entries.into_iter().next_back() {
                        self.last_id = last.id;
                    }
                }
                Err(error) => {
                    if failures == 0 {
                        inbox.notices.error(error);
                    }
                    failures += 1;
                    check_trim = true;
                    tokio::time::sleep(backoff(failures)).await;
                }
            }
        }
    }

    async fn read(&mut self) -> Result<Vec<wire::Entry>, BridgeError> {
        let block_ms = u64::try_from(self.block.as_millis()).unwrap_or(u64::MAX);
        let reply: Value = bounded(
            "XREAD",
            self.block + self.timeout,
            redis::cmd("XREAD")
                .arg("COUNT")
                .arg(self.count)
                .arg("BLOCK")
                .arg(block_ms)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(&self.last_id)
                .query_async(&mut self.conn),
        )
        .await?;
        wire::read_reply(reply).map_err(BridgeError::Malformed)
    }

    /// Reports a [`Gap::Trimmed`] if entries after the bridge's position were removed;
    /// `false` if Redis could not be asked (the check is then made again later).
    async fn check_trim<T, C>(&mut self, inbox: &Inbox<T, C>) -> bool
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let info: Result<Value, _> = bounded(
            "XINFO STREAM",
            self.timeout,
            redis::cmd("XINFO")
                .arg("STREAM")
                .arg(&self.stream)
                .query_async(&mut self.conn),
        )
        .await;
        let info = match info {
            Ok(info) => info,
            // The server answered with an error: no stream yet, so nothing removed either.
            Err(BridgeError::Redis { source, .. })
                if !(source.is_io_error() || source.is_connection_dropped()) =>
            {
                return true;
            }
            Err(_) => return false,
        };
        let Some(removed) = wire::max_deleted_id(&info) else {
            return true;
        };
        let already = self
            .reported_trim
            .as_deref()
            .is_some_and(|reported| !wire::id_after(&removed, reported));
        if wire::id_after(&removed, &self.last_id) && !already {
            inbox.notices.gap(Gap::Trimmed {
                after: self.last_id.clone(),
                removed_up_to: removed.clone(),
            });
            self.reported_trim = Some(removed);
        }
        true
    }
}
