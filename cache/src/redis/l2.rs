//! # Implementation details
//!
//! The second tier: every Redis command the cache sends, each bounded by the operation timeout,
//! and the Lua scripts that make the lease and the fenced write atomic on the server.
//!
//! Keys of namespace `ns`: the value of `key` at `ns:v:key`, its lease at `ns:lock:key`; one
//! pub/sub channel `ns:events` carries `done`, `fail` and `inval` messages as
//! `kind:origin:key` (origin: the id of the replica that sent it).
//!
//! - `probe` (one round trip): the value and its remaining time-to-live if present; otherwise
//!   `SET lock token NX PX lease`, and if another holds the lease, its remaining time.
//! - `write` is fenced: it stores the value only while the lease still holds this leader's
//!   token, then deletes the lease and publishes `done`, all in one script. A leader that
//!   stalled past its lease gets the newer value back instead of overwriting it.
//! - `replace` stores a value, deletes the lease (so a load in flight cannot overwrite it) and
//!   publishes `inval`.
//! - `invalidate` deletes the value and the lease (so a load in flight anywhere cannot store
//!   its older result: its fenced write fails) and publishes `inval`.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisError, Script, Value};
use tokio::time::timeout;

/// Why a Redis call did not answer.
#[derive(Debug)]
pub(crate) enum Failure {
    Timeout,
    Redis(RedisError),
}

/// What `probe` found.
pub(crate) enum Probe {
    /// The value, with its remaining time-to-live.
    Value(Vec<u8>, Option<Duration>),
    /// This caller now holds the lease.
    Acquired,
    /// Another caller holds the lease for this long still.
    Held(Duration),
}

/// What a fenced `write` did.
pub(crate) enum Written {
    Stored,
    /// The lease was lost; here is the value in Redis now, if any.
    Fenced(Option<(Vec<u8>, Option<Duration>)>),
}

const PROBE: &str = r"
local v = redis.call('GET', KEYS[1])
if v then return {1, v, redis.call('PTTL', KEYS[1])} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {3, redis.call('PTTL', KEYS[2])}
";

const WRITE: &str = r"
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return {1}
end
local v = redis.call('GET', KEYS[1])
if v then return {0, v, redis.call('PTTL', KEYS[1])} end
return {0}
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
";

const REPLACE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
";

const INVALIDATE: &str = r"
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
";

pub(crate) struct L2 {
    conn: ConnectionManager,
    timeout: Duration,
    namespace: String,
    channel: String,
    origin: String,
    probe: Script,
    write: Script,
    release: Script,
    replace: Script,
    invalidate: Script,
}

/// A remaining time-to-live from `PTTL` (negative: none, or the key is gone).
fn remaining(pttl: i64) -> Option<Duration> {
    u64::try_from(pttl).ok().map(Duration::from_millis)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn unexpected(what: &str) -> Failure {
    Failure::Redis(RedisError::from((
        redis::ErrorKind::Parse,
        "unexpected reply",
        what.to_string(),
    )))
}

impl L2 {
    pub(crate) fn new(
        conn: ConnectionManager,
        timeout: Duration,
        namespace: &str,
        origin: String,
    ) -> Self {
        Self {
            conn,
            timeout,
            namespace: namespace.to_string(),
            channel: format!("{namespace}:events"),
            origin,
            probe: Script::new(PROBE),
            write: Script::new(WRITE),
            release: Script::new(RELEASE),
            replace: Script::new(REPLACE),
            invalidate: Script::new(INVALIDATE),
        }
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    fn value_key(&self, key: &str) -> String {
        format!("{}:v:{key}", self.namespace)
    }

    fn lock_key(&self, key: &str) -> String {
        format!("{}:lock:{key}", self.namespace)
    }

    fn message(&self, kind: &str, key: &str) -> String {
        format!("{kind}:{}:{key}", self.origin)
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, Failure> {
        match timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            // The client's own response timeout (set to the same bound) may fire first.
            Ok(Err(error)) if error.is_timeout() => Err(Failure::Timeout),
            Ok(Err(error)) => Err(Failure::Redis(error)),
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// `GET` and `PTTL` of the value, in one round trip.
    pub(crate) async fn read(
        &self,
        key: &str,
    ) -> Result<Option<(Vec<u8>, Option<Duration>)>, Failure> {
        let mut conn = self.conn.clone();
        let value_key = self.value_key(key);
        let (value, pttl): (Option<Vec<u8>>, i64) = self
            .bounded(
                redis::pipe()
                    .get(&value_key)
                    .pttl(&value_key)
                    .query_async(&mut conn),
            )
            .await?;
        Ok(value.map(|value| (value, remaining(pttl))))
    }

    /// The value, or the lease for `token`, or how long another holds it.
    pub(crate) async fn probe(
        &self,
        key: &str,
        token: &str,
        lease: Duration,
    ) -> Result<Probe, Failure> {
        let mut conn = self.conn.clone();
        let reply: Vec<Value> = self
            .bounded(
                self.probe
                    .key(self.value_key(key))
                    .key(self.lock_key(key))
                    .arg(token)
                    .arg(millis(lease))
                    .invoke_async(&mut conn),
            )
            .await?;
        match reply.as_slice() {
            [Value::Int(1), Value::BulkString(v), Value::Int(pttl)] => {
                Ok(Probe::Value(v.clone(), remaining(*pttl)))
            }
            [Value::Int(2)] => Ok(Probe::Acquired),
            // A lease without expiry cannot come from this cache; treat it as about to end.
            [Value::Int(3), Value::Int(pttl)] => Ok(Probe::Held(
                remaining(*pttl).unwrap_or(Duration::from_millis(1)),
            )),
            _ => Err(unexpected("probe")),
        }
    }

    /// Stores `value` for `ttl` if `token` still holds the lease; publishes `done`.
    pub(crate) async fn write(
        &self,
        key: &str,
        token: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<Written, Failure> {
        let mut conn = self.conn.clone();
        let reply: Vec<Value> = self
            .bounded(
                self.write
                    .key(self.value_key(key))
                    .key(self.lock_key(key))
                    .arg(token)
                    .arg(value)
                    .arg(millis(ttl))
                    .arg(&self.channel)
                    .arg(self.message("done", key))
                    .invoke_async(&mut conn),
            )
            .await?;
        match reply.as_slice() {
            [Value::Int(1)] => Ok(Written::Stored),
            [Value::Int(0)] => Ok(Written::Fenced(None)),
            [Value::Int(0), Value::BulkString(v), Value::Int(pttl)] => {
                Ok(Written::Fenced(Some((v.clone(), remaining(*pttl)))))
            }
            _ => Err(unexpected("write")),
        }
    }

    /// Gives the lease back (if `token` still holds it) after a failed load; publishes `fail`
    /// so that one waiter takes over at once.
    pub(crate) async fn release(&self, key: &str, token: &str) -> Result<bool, Failure> {
        let mut conn = self.conn.clone();
        let released: i64 = self
            .bounded(
                self.release
                    .key(self.lock_key(key))
                    .arg(token)
                    .arg(&self.channel)
                    .arg(self.message("fail", key))
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(released == 1)
    }

    /// Stores `value` for `ttl` and deletes the lease (a load in flight cannot overwrite it);
    /// publishes `inval` so that the other replicas drop their older copies.
    pub(crate) async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), Failure> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .bounded(
                self.replace
                    .key(self.value_key(key))
                    .key(self.lock_key(key))
                    .arg(value)
                    .arg(millis(ttl))
                    .arg(&self.channel)
                    .arg(self.message("inval", key))
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(())
    }

    /// Deletes the value and the lease; publishes `inval`.
    pub(crate) async fn invalidate(&self, key: &str) -> Result<(), Failure> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .bounded(
                self.invalidate
                    .key(self.value_key(key))
                    .key(self.lock_key(key))
                    .arg(&self.channel)
                    .arg(self.message("inval", key))
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(())
    }

    /// Deletes a value that does not decode (written by another version of the service).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), Failure> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .bounded(
                redis::cmd("DEL")
                    .arg(self.value_key(key))
                    .query_async(&mut conn),
            )
            .await?;
        Ok(())
    }

    /// `PING` on the data connection, which also makes the manager reconnect.
    pub(crate) async fn ping(&self) -> Result<(), Failure> {
        let mut conn = self.conn.clone();
        let _: String = self
            .bounded(redis::cmd("PING").query_async(&mut conn))
            .await?;
        Ok(())
    }
}

/// A message on the events channel: `(kind, origin, key)`.
pub(crate) fn parse_message(payload: &[u8]) -> Option<(&str, &str, &str)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (kind, rest) = text.split_once(':')?;
    let (origin, key) = rest.split_once(':')?;
    Some((kind, origin, key))
}
