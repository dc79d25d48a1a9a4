//! # Implementation details
//!
//! The receiving task in Streams mode: `XREAD BLOCK` on the namespace's stream from the id of
//! the last entry read, on a connection of its own (a blocking read would hold up every other
//! command on a shared one).
//!
//! - `connect` reads the id of the stream's newest entry (`XINFO STREAM`'s
//!   `last-generated-id`) before it returns, so the bridge receives every event added after
//!   `connect` returned, and none before.
//! - A failed or timed-out read (the connection was killed, Redis restarted) is retried with a
//!   backoff from the same id: nothing is lost while the entries are still in the stream. The
//!   bridge reports the failure once, and `"connected"` when a read succeeds again.
//! - Trimming (`MAXLEN ~`, or `XDEL`) can remove entries before a slow or disconnected bridge
//!   read them. Before the first read after a failure, after a read that came back full (the
//!   bridge is behind) and after one that came back empty (idle, at most once per `block`), it
//!   asks `XINFO STREAM` how many entries were ever added and which is the oldest left (Redis
//!   7); from the entries it read since it started, it knows how many were trimmed unread, and
//!   reports them as a [`Gap::Trimmed`]. It goes on from the oldest entry left. (An entry
//!   deleted from the middle with `XDEL` is not counted: only trimming is.) Holes of origins it has heard
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
    /// `entries-added` when the bridge started reading.
    pub(crate) added_at_start: u64,
    /// Entries read since.
    pub(crate) read: u64,
    /// Entries already reported lost.
    pub(crate) reported_lost: u64,
}

impl Reader {
    /// Where the stream stands now: `XINFO STREAM` (a stream that does not exist yet is
    /// empty).
    pub(crate) async fn info(
        conn: &mut ConnectionManager,
        stream: &str,
        timeout: Duration,
    ) -> Result<wire::StreamInfo, BridgeError> {
        let info: Result<Value, _> = bounded(
            "XINFO STREAM",
            timeout,
            redis::cmd("XINFO")
                .arg("STREAM")
                .arg(stream)
                .query_async(conn),
        )
        .await;
        match info {
            Ok(info) => wire::stream_info(&info).ok_or(BridgeError::Malformed(
                "XINFO STREAM has no entries-added: the Streams mode needs Redis 7",
            )),
            // The server answered with an error: the stream does not exist yet.
            Err(BridgeError::Redis { source, .. })
                if !(source.is_io_error() || source.is_connection_dropped()) =>
            {
                Ok(wire::StreamInfo::empty())
            }
            Err(error) => Err(error),
        }
    }

    pub(crate) async fn run<T, C>(mut self, mut inbox: Inbox<T, C>)
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let mut failures = 0;
        let mut check_trim = false;
        loop {
            // A failed `XINFO` is a failure of the connection as much as a failed read: a
            // `CLIENT KILL` may land on either, and either way the next success says
            // `"connected"`.
            if check_trim {
                if let Err(error) = self.check_trim(&inbox).await {
                    if failures == 0 {
                        inbox.notices.error(error);
                    }
                    failures += 1;
                    tokio::time::sleep(backoff(failures)).await;
                    continue;
                }
                check_trim = false;
            }
            match self.read().await {
                Ok(entries) => {
                    if failures > 0 {
                        failures = 0;
                        inbox.notices.connected();
                    }
                    // Behind (a full read), or idle (a read that timed out, or whose entries were
                    // removed before it was served): look for a trim before the next read.
                    check_trim |= entries.is_empty() || entries.len() >= self.count;
                    self.read += entries.len() as u64;
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

    /// Reports a [`Gap::Trimmed`] if entries after the bridge's position were removed; the
    /// error if Redis could not be asked (the check is then made again later).
    ///
    /// Entries added since the bridge started = entries it read + entries left after its
    /// position + entries lost. Trimming removes the oldest entries, so when the oldest entry
    /// left is past the bridge's position (or none is left), every entry left is after it.
    async fn check_trim<T, C>(&mut self, inbox: &Inbox<T, C>) -> Result<(), BridgeError>
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        let info = Self::info(&mut self.conn, &self.stream, self.timeout).await?;
        if info.length > 0 && !wire::id_after(&info.first_id, &self.last_id) {
            return Ok(());
        }
        let lost = info
            .entries_added
            .saturating_sub(self.added_at_start + self.read + info.length);
        if lost > self.reported_lost {
            inbox.notices.gap(Gap::Trimmed {
                after: self.last_id.clone(),
                lost: lost - self.reported_lost,
            });
            self.reported_lost = lost;
        }
        Ok(())
    }
}
