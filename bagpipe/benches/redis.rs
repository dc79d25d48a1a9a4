//! The shared limit against what it stands on, in one run (needs Redis on 127.0.0.1:6379;
//! prints why and does nothing without it). Group `redis_permit`, on a current-thread runtime,
//! one caller, no contention:
//!
//! - `bagpipe redis acquire+release`: `RedisBagpipe::acquire` then `RedisPermit::release` (awaited): the local
//!   queue in front, the acquire script, the permit's bookkeeping, the release script.
//! - `raw_lua_semaphore`: the same minimal work by hand through a `ConnectionManager` of the
//!   same client: one script that drops expired holders and adds the caller if the count allows
//!   (on the server's `TIME`), one that removes it. Two round trips, as above, without the
//!   queue, the fencing token, the handover or the local queue.
//! - `raw_lua_round_trip`: one `EVALSHA` of a script that returns at once: the floor of one
//!   round trip.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use nodebook_bagpipe::redis::{Health, RedisBagpipe};

const URL: &str = "redis://127.0.0.1:6379";

fn name(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("nbbench:{what}:{}:{nanos}", std::process::id())
}

const RAW_ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[3])), ARGV[1])
  return 1
end
return 0
";

const RAW_RELEASE: &str = "return redis.call('ZREM', KEYS[1], ARGV[1])";

const NOTHING: &str = "return 1";

fn permit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = redis::Client::open(URL).expect("url");
    let pipe = {
        let _enter = rt.enter();
        RedisBagpipe::builder(client.clone(), name("permit"), 10)
            .redis_timeout(Duration::from_secs(2))
            .build()
            .expect("limiter")
    };
    let mut health = pipe.health_changes();
    rt.block_on(health.wait_for(|h| *h == Health::Connected))
        .expect("connected");
    let conn = rt
        .block_on(redis::aio::ConnectionManager::new(client))
        .expect("connection");
    let (acquire, release, nothing) = (
        redis::Script::new(RAW_ACQUIRE),
        redis::Script::new(RAW_RELEASE),
        redis::Script::new(NOTHING),
    );
    let raw_key = format!("{}:holders", name("raw"));

    let mut group = c.benchmark_group("redis_permit");
    group.bench_function("bagpipe redis acquire+release", |b| {
        b.to_async(&rt).iter(|| async {
            let permit = pipe.acquire().await.expect("a permit");
            black_box(permit.fencing_token());
            permit.release().await;
        });
    });
    group.bench_function("raw_lua_semaphore", |b| {
        let mut n = 0u64;
        b.to_async(&rt).iter(|| {
            n += 1;
            let (mut conn, id) = (conn.clone(), n.to_string());
            let (acquire, release, key) = (&acquire, &release, &raw_key);
            async move {
                let granted: i64 = acquire
                    .key(key)
                    .arg(&id)
                    .arg(10)
                    .arg(10_000)
                    .invoke_async(&mut conn)
                    .await
                    .expect("acquire");
                assert_eq!(granted, 1);
                let released: i64 = release
                    .key(key)
                    .arg(&id)
                    .invoke_async(&mut conn)
                    .await
                    .expect("release");
                black_box(released);
            }
        });
    });
    group.bench_function("raw_lua_round_trip", |b| {
        b.to_async(&rt).iter(|| {
            let (mut conn, nothing) = (conn.clone(), &nothing);
            async move {
                let one: i64 = nothing.invoke_async(&mut conn).await.expect("eval");
                black_box(one);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, permit);

fn main() {
    let reachable = redis::Client::open(URL)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        .is_ok();
    if !reachable {
        eprintln!("redis bench: no Redis on 127.0.0.1:6379, nothing measured");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
