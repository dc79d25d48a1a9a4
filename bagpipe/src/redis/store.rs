//! # Implementation details
//!
//! Every Redis command the limiter sends, each bounded by the Redis timeout, and the Lua scripts
//! that make the count atomic on the server. Keys of limiter `name` (one hash tag, so they live on
//! one cluster slot):
//!
//! - `bagpipe:{name}:holders`: a sorted set of the permits' ids, scored by their lease's end in
//!   milliseconds of the server's `TIME`. Its size is the number of slots taken.
//! - `bagpipe:{name}:fences`: a hash from a holder's id to its fencing token.
//! - `bagpipe:{name}:queue`: a sorted set of waiters' ids scored by their ticket (arrival
//!   order across processes); `bagpipe:{name}:waiting` scores the same ids by the end of their
//!   own lease, which each waiter renews every time it looks, so a waiter whose process died
//!   leaves the queue after one lease instead of blocking it.
//! - `bagpipe:{name}:meta`: `epoch` (when this data set was born), the `fence` and `ticket`
//!   counters. The fence counter starts at the server's time in microseconds, so fencing tokens
//!   keep growing across a restart that lost the data (as long as fewer than a million permits
//!   per second were granted since the data was born, which one Redis cannot do).
//!
//! Every script first removes expired holders and dead waiters, then *promotes*: while a slot
//! is free and someone waits, the head of the queue gets the slot at once, and a `g:id:fence:
//! epoch` message on `bagpipe:{name}:events` tells its process. So a release hands its slot to
//! the next waiter in the same round trip, and no slot stays free while anyone waits.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisError, Script, Value};
use tokio::time::timeout;

/// Why a Redis call did not answer.
#[derive(Debug)]
pub(crate) enum Failure {
    Timeout(Duration),
    Redis(RedisError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(bound) => write!(f, "Redis did not answer within {bound:?}"),
            Self::Redis(error) => write!(f, "Redis failed: {error}"),
        }
    }
}

/// A slot granted to a holder: its fencing token and the data set's epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Granted {
    pub(crate) fence: u64,
    pub(crate) epoch: String,
}

/// What one acquire attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt {
    Granted(Granted),
    /// Waiting at `position` (0: next) of `queued` waiters.
    Queued {
        position: u64,
        queued: u64,
    },
    /// Refused: `queued` wait already.
    Refused {
        queued: u64,
    },
}

/// What a refresh found for one holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refreshed {
    Kept,
    /// Redis lost its data (restarted) and the holder took its slot again.
    Reregistered,
    Lost,
}

/// What a refresh did.
pub(crate) struct Renewal {
    /// What became of each holder, in the order given.
    pub(crate) states: Vec<Refreshed>,
    /// The waiters promoted into free slots.
    pub(crate) granted: Vec<(String, Granted)>,
    /// The data set's epoch now.
    pub(crate) epoch: String,
}

/// A holder whose lease a refresh renews.
pub(crate) struct HeldLease<'a> {
    pub(crate) id: &'a str,
    pub(crate) epoch: &'a str,
    pub(crate) fence: u64,
}

const PRELUDE: &str = r"
local holders, fences, queue, waiting, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local limit, lease, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local function s(n) return string.format('%.0f', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('HSET', meta, 'epoch', epoch, 'fence', epoch, 'ticket', 0)
end
local dead = redis.call('ZRANGEBYSCORE', holders, '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', holders, '-inf', now)
  redis.call('HDEL', fences, unpack(dead))
end
local gone = redis.call('ZRANGEBYSCORE', waiting, '-inf', now)
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', waiting, '-inf', now)
  redis.call('ZREM', queue, unpack(gone))
end
local function grant(id)
  local fence = s(redis.call('HINCRBY', meta, 'fence', 1))
  redis.call('ZADD', holders, s(now + lease), id)
  redis.call('HSET', fences, id, fence)
  return fence
end
local function promote()
  local granted = {}
  if redis.call('ZCARD', queue) == 0 then return granted end
  while redis.call('ZCARD', holders) < limit do
    local head = redis.call('ZPOPMIN', queue)
    if #head == 0 then break end
    local id = head[1]
    redis.call('ZREM', waiting, id)
    local fence = grant(id)
    redis.call('PUBLISH', channel, 'g:' .. id .. ':' .. fence .. ':' .. epoch)
    granted[#granted + 1] = id
    granted[#granted + 1] = fence
  end
  return granted
end
";

/// ARGV: limit, lease, channel, id, queue length, refuse (`1`), first attempt (`1`: the id
/// cannot be a holder or a waiter yet).
const ACQUIRE: &str = r"
promote()
local id = ARGV[4]
local expiry = s(now + lease)
if ARGV[7] ~= '1' then
  if redis.call('ZSCORE', holders, id) then
    return {1, redis.call('HGET', fences, id), epoch}
  end
  if redis.call('ZSCORE', queue, id) then
    redis.call('ZADD', waiting, expiry, id)
    return {2, redis.call('ZRANK', queue, id), redis.call('ZCARD', queue)}
  end
end
local queued = redis.call('ZCARD', queue)
if queued == 0 and redis.call('ZCARD', holders) < limit then
  return {1, grant(id), epoch}
end
if ARGV[6] == '1' and queued >= tonumber(ARGV[5]) then
  return {3, queued}
end
redis.call('ZADD', queue, s(redis.call('HINCRBY', meta, 'ticket', 1)), id)
redis.call('ZADD', waiting, expiry, id)
return {2, queued, queued + 1}
";

/// ARGV: limit, lease, channel, then the ids of holders and waiters that leave.
const RELEASE: &str = r"
local released = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', holders, id) == 1 then
    released = released + 1
  else
    -- Not a holder (a holder is never queued): a waiter that gave up, or nothing.
    redis.call('ZREM', queue, id)
    redis.call('ZREM', waiting, id)
  end
  redis.call('HDEL', fences, id)
end
local granted = promote()
return {released, granted, epoch}
";

/// ARGV: limit, lease, channel, then (id, epoch, fence) per holder.
const REFRESH: &str = r"
local out = {}
for i = 4, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('ZSCORE', holders, id) then
    redis.call('ZADD', holders, 'XX', s(now + lease), id)
    out[#out + 1] = 1
  elseif ARGV[i + 1] ~= epoch and redis.call('ZCARD', holders) < limit
      and redis.call('ZCARD', queue) == 0 then
    redis.call('ZADD', holders, s(now + lease), id)
    redis.call('HSET', fences, id, ARGV[i + 2])
    out[#out + 1] = 2
  else
    out[#out + 1] = 0
  end
end
local granted = promote()
return {out, granted, epoch}
";

/// The limiter's view of Redis.
pub(crate) struct Store {
    conn: ConnectionManager,
    timeout: Duration,
    keys: [String; 5],
    channel: String,
    limit: usize,
    lease_ms: u64,
    acquire: Script,
    release: Script,
    refresh: Script,
}

pub(crate) fn millis(duration: Duration) -> u64 {
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

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    }
}

/// The waiters a script promoted: `(id, fence)` pairs, all in data set `epoch`.
fn promoted(value: &Value, epoch: &Value) -> Option<Vec<(String, Granted)>> {
    let Value::Array(items) = value else {
        return None;
    };
    let epoch = text(epoch)?;
    items
        .chunks(2)
        .map(|pair| match pair {
            [id, fence] => Some((
                text(id)?,
                Granted {
                    fence: number(fence)?,
                    epoch: epoch.clone(),
                },
            )),
            _ => None,
        })
        .collect()
}

impl Store {
    pub(crate) fn new(
        conn: ConnectionManager,
        timeout: Duration,
        name: &str,
        limit: usize,
        lease: Duration,
    ) -> Self {
        let key = |part: &str| format!("bagpipe:{{{name}}}:{part}");
        Self {
            conn,
            timeout,
            keys: [
                key("holders"),
                key("fences"),
                key("queue"),
                key("waiting"),
                key("meta"),
            ],
            channel: key("events"),
            limit,
            lease_ms: millis(lease),
            acquire: Script::new(&format!("{PRELUDE}{ACQUIRE}")),
            release: Script::new(&format!("{PRELUDE}{RELEASE}")),
            refresh: Script::new(&format!("{PRELUDE}{REFRESH}")),
        }
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, Failure> {
        match timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            // The client's own response timeout (set to the same bound) may fire first.
            Ok(Err(error)) if error.is_timeout() => Err(Failure::Timeout(self.timeout)),
            Ok(Err(error)) => Err(Failure::Redis(error)),
            Err(_) => Err(Failure::Timeout(self.timeout)),
        }
    }

    async fn invoke_once(&self, script: &Script, args: &[&str]) -> Result<Value, Failure> {
        let mut invocation = script.prepare_invoke();
        for key in &self.keys {
            invocation.key(key);
        }
        invocation
            .arg(self.limit)
            .arg(self.lease_ms)
            .arg(&self.channel);
        for arg in args {
            invocation.arg(*arg);
        }
        let mut conn = self.conn.clone();
        self.bounded(invocation.invoke_async(&mut conn)).await
    }

    /// Runs `script`; on a connection that died since the last call (Redis restarted, the
    /// manager is reconnecting), once more with `again` (the same call, made safe to repeat
    /// in case the first one ran).
    async fn invoke(
        &self,
        script: &Script,
        args: &[&str],
        again: &[&str],
    ) -> Result<Value, Failure> {
        match self.invoke_once(script, args).await {
            Err(Failure::Redis(error)) if error.is_connection_dropped() => {
                self.invoke_once(script, again).await
            }
            other => other,
        }
    }

    /// Takes a slot for `id`, or queues it (first call) or renews its place (later calls).
    pub(crate) async fn attempt(
        &self,
        id: &str,
        queue_length: usize,
        refuse: bool,
        first: bool,
    ) -> Result<Attempt, Failure> {
        let queue_length = queue_length.to_string();
        let flag = |on: bool| if on { "1" } else { "0" };
        let args = [id, &queue_length, flag(refuse), flag(first)];
        // A repeat checks whether the first one took a slot or a place.
        let again = [id, &queue_length, flag(refuse), flag(false)];
        let reply = self.invoke(&self.acquire, &args, &again).await?;
        let Value::Array(items) = reply else {
            return Err(unexpected("acquire"));
        };
        let parsed = match items.as_slice() {
            [Value::Int(1), fence, epoch] => number(fence)
                .zip(text(epoch))
                .map(|(fence, epoch)| Attempt::Granted(Granted { fence, epoch })),
            [Value::Int(2), position, queued] => number(position)
                .zip(number(queued))
                .map(|(position, queued)| Attempt::Queued { position, queued }),
            [Value::Int(3), queued] => number(queued).map(|queued| Attempt::Refused { queued }),
            _ => None,
        };
        parsed.ok_or_else(|| unexpected("acquire"))
    }

    /// Frees the slots (or queue places) of `ids`; returns how many slots were freed and the
    /// waiters promoted into them.
    pub(crate) async fn release(
        &self,
        ids: &[String],
    ) -> Result<(u64, Vec<(String, Granted)>), Failure> {
        let args: Vec<&str> = ids.iter().map(String::as_str).collect();
        let reply = self.invoke(&self.release, &args, &args).await?;
        match &reply {
            Value::Array(items) => match items.as_slice() {
                [released, granted, epoch] => number(released)
                    .zip(promoted(granted, epoch))
                    .ok_or_else(|| unexpected("release")),
                _ => Err(unexpected("release")),
            },
            _ => Err(unexpected("release")),
        }
    }

    /// Renews the leases of `held`; returns what became of each, and the waiters promoted.
    pub(crate) async fn refresh(&self, held: &[HeldLease<'_>]) -> Result<Renewal, Failure> {
        let fences: Vec<String> = held.iter().map(|lease| lease.fence.to_string()).collect();
        let mut args = Vec::with_capacity(held.len() * 3);
        for (lease, fence) in held.iter().zip(&fences) {
            args.extend([lease.id, lease.epoch, fence.as_str()]);
        }
        let reply = self.invoke(&self.refresh, &args, &args).await?;
        let Value::Array(items) = &reply else {
            return Err(unexpected("refresh"));
        };
        let [Value::Array(states), granted, epoch] = items.as_slice() else {
            return Err(unexpected("refresh"));
        };
        let states = states
            .iter()
            .map(|state| match state {
                Value::Int(1) => Some(Refreshed::Kept),
                Value::Int(2) => Some(Refreshed::Reregistered),
                Value::Int(0) => Some(Refreshed::Lost),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .filter(|states| states.len() == held.len())
            .ok_or_else(|| unexpected("refresh"))?;
        let granted = promoted(granted, epoch).ok_or_else(|| unexpected("refresh"))?;
        let epoch = text(epoch).ok_or_else(|| unexpected("refresh"))?;
        Ok(Renewal {
            states,
            granted,
            epoch,
        })
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

/// A grant message on the events channel: `g:id:fence:epoch`.
pub(crate) fn parse_grant(payload: &[u8]) -> Option<(&str, Granted)> {
    let text = std::str::from_utf8(payload).ok()?;
    let rest = text.strip_prefix("g:")?;
    let (id, rest) = rest.split_once(':')?;
    let (fence, epoch) = rest.split_once(':')?;
    let fence = fence.parse().ok()?;
    Some((
        id,
        Granted {
            fence,
            epoch: epoch.to_string(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_message_names_the_waiter_its_token_and_the_epoch() {
        let (id, granted) = parse_grant(b"g:00ab-7:1765000000000123:1765000000000000").unwrap();
        assert_eq!(id, "00ab-7");
        assert_eq!(granted.fence, 1_765_000_000_000_123);
        assert_eq!(granted.epoch, "1765000000000000");
    }

    #[test]
    fn other_messages_are_not_grants() {
        assert_eq!(parse_grant(b"r:00ab-7"), None);
        assert_eq!(parse_grant(b"g:00ab-7:notanumber:1"), None);
        assert_eq!(parse_grant(b"g:00ab-7"), None);
        assert_eq!(parse_grant(&[0xff, 0xfe]), None);
    }

    #[test]
    fn promoted_pairs_parse_and_an_odd_list_is_refused() {
        let pairs = Value::Array(vec![
            Value::BulkString(b"a-1".to_vec()),
            Value::BulkString(b"42".to_vec()),
        ]);
        let epoch = Value::BulkString(b"17".to_vec());
        let granted = Granted {
            fence: 42,
            epoch: "17".to_string(),
        };
        assert_eq!(
            promoted(&pairs, &epoch),
            Some(vec![("a-1".to_string(), granted)])
        );
        let odd = Value::Array(vec![Value::BulkString(b"a-1".to_vec())]);
        assert_eq!(promoted(&odd, &epoch), None);
    }
}
