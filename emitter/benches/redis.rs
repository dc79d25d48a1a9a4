//! Event latency through the Redis bridge against a raw `PUBLISH`/`SUBSCRIBE` round trip, in
//! one run (needs Redis on 127.0.0.1:6379; prints why and does nothing without it).
//!
//! Each iteration is a ping-pong between two parties with connections of their own (in one
//! process; once on a current-thread runtime, where a hop between tasks is a queue push, and
//! once on a two-thread runtime, where it may wake another thread): A sends a 16-byte ping, B answers each ping with a pong,
//! A waits for the pong. So one iteration is two one-way trips through Redis.
//!
//! - `raw_pubsub`: A `PUBLISH`es on one channel through a `ConnectionManager` and reads the pong
//!   from an `aio::PubSub` of its own; B's task reads pings from its `aio::PubSub` and
//!   `PUBLISH`es pongs through its own manager. The floor: what any bridge has to do.
//! - `emitter_bridge_pubsub`: A emits `"ping"` on an emitter bridged in pub/sub mode and awaits
//!   `"pong"` through a subscription; B's listener of `"ping"` emits `"pong"` on its own
//!   bridged emitter (a local emit inside a remote delivery, so published).
//! - `emitter_bridge_streams`: the same in Streams mode (`XADD` and a blocked `XREAD`).
//!
//! Criterion reports the mean round trip; the bench also prints each round trip's p50 and p99
//! (over every iteration measured), which is what the overhead target is about.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group};
use futures_util::StreamExt;
use nodebook_emitter::Emitter;
use nodebook_emitter::redis::{Bridge, BytesCodec, Delivery};

const URL: &str = "redis://127.0.0.1:6379";
const PAYLOAD: &[u8; 16] = b"0123456789abcdef";

fn namespace(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("nbbench:{what}:{}:{nanos}", std::process::id())
}

/// Every round trip measured, for the percentiles.
type Samples = Arc<Mutex<Vec<Duration>>>;

fn percentiles(name: &str, samples: &Samples) {
    let mut samples = samples.lock().unwrap();
    samples.sort_unstable();
    if samples.is_empty() {
        return;
    }
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a sample list"
        )]
        let i = ((samples.len() - 1) as f64 * q).round() as usize;
        samples[i]
    };
    println!(
        "{name}: round trip p50 {:?}, p99 {:?} over {} round trips",
        at(0.50),
        at(0.99),
        samples.len()
    );
}

/// A raw ping-pong: the party that answers runs as a task.
struct Raw {
    publish: redis::aio::ConnectionManager,
    pongs: redis::aio::PubSubStream,
    ping_channel: String,
}

async fn raw(client: &redis::Client) -> Raw {
    let ns = namespace("raw");
    let (ping_channel, pong_channel) = (format!("{ns}:ping"), format!("{ns}:pong"));
    let mut b_sub = client.get_async_pubsub().await.unwrap();
    b_sub.subscribe(&ping_channel).await.unwrap();
    let mut b_pub = client.get_connection_manager().await.unwrap();
    let answer = pong_channel.clone();
    tokio::spawn(async move {
        let mut pings = b_sub.into_on_message();
        while let Some(ping) = pings.next().await {
            let payload = ping.get_payload_bytes().to_vec();
            let _: () = redis::cmd("PUBLISH")
                .arg(&answer)
                .arg(payload)
                .query_async(&mut b_pub)
                .await
                .unwrap();
        }
    });
    let mut a_sub = client.get_async_pubsub().await.unwrap();
    a_sub.subscribe(&pong_channel).await.unwrap();
    Raw {
        publish: client.get_connection_manager().await.unwrap(),
        pongs: a_sub.into_on_message(),
        ping_channel,
    }
}

/// One side of a ping-pong: sends a ping and waits for its pong.
trait Party {
    async fn round_trip(&mut self);
}

impl Party for Raw {
    async fn round_trip(&mut self) {
        let _: () = redis::cmd("PUBLISH")
            .arg(&self.ping_channel)
            .arg(&PAYLOAD[..])
            .query_async(&mut self.publish)
            .await
            .unwrap();
        let pong = self.pongs.next().await.expect("a pong");
        assert_eq!(pong.get_payload_bytes(), PAYLOAD);
    }
}

/// A bridged ping-pong: two emitters, each with its own bridge.
struct Bridged {
    a: Emitter<Bytes>,
    pongs: nodebook_emitter::Subscription<Bytes>,
    _bridges: (Bridge<Bytes>, Bridge<Bytes>),
}

async fn bridged(client: &redis::Client, delivery: Delivery) -> Bridged {
    let ns = namespace("bridge");
    let connect = |emitter: &Emitter<Bytes>| {
        Bridge::builder(client.clone(), ns.clone(), BytesCodec)
            .events(["ping", "pong"])
            .delivery(delivery)
            .connect(emitter)
    };
    let (a, b) = (Emitter::new(), Emitter::new());
    let bridge_a = connect(&a).await.unwrap();
    let bridge_b = connect(&b).await.unwrap();
    let answer = b.clone();
    b.on("ping", move |ping: &Bytes| {
        answer.emit("pong", ping.clone()).unwrap();
    });
    let pongs = a.subscribe("pong", 1024).unwrap();
    Bridged {
        a,
        pongs,
        _bridges: (bridge_a, bridge_b),
    }
}

impl Party for Bridged {
    async fn round_trip(&mut self) {
        self.a.emit("ping", Bytes::from_static(PAYLOAD)).unwrap();
        let pong = self.pongs.next().await.expect("a pong").expect("no lag");
        assert_eq!(&pong[..], PAYLOAD);
    }
}

fn latency(c: &mut Criterion) {
    let client = redis::Client::open(URL).expect("url");
    if let Err(why) = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn))
    {
        println!("redis bench skipped: no Redis on 127.0.0.1:6379 ({why})");
        return;
    }
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for (flavor, rt) in [("current_thread", &current), ("multi_thread", &multi)] {
        let mut group = c.benchmark_group(format!("redis_event_round_trip_{flavor}"));
        let raw = rt.block_on(raw(&client));
        rows.push((
            format!("{flavor}/raw_pubsub"),
            round_trips(&mut group, rt, "raw_pubsub", raw),
        ));
        for (name, delivery) in [
            ("emitter_bridge_pubsub", Delivery::PubSub),
            ("emitter_bridge_streams", Delivery::Streams),
        ] {
            let bridged = rt.block_on(bridged(&client, delivery));
            rows.push((
                format!("{flavor}/{name}"),
                round_trips(&mut group, rt, name, bridged),
            ));
        }
        group.finish();
    }
    for (name, samples) in &rows {
        percentiles(name, samples);
    }
}

criterion_group!(benches, latency);

/// Benchmarks `party`'s round trips as `name`; returns every round trip's time, for the
/// percentiles.
fn round_trips<P: Party + 'static>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    party: P,
) -> Samples {
    let samples = Samples::default();
    let party = Arc::new(tokio::sync::Mutex::new(party));
    group.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (party, samples) = (Arc::clone(&party), Arc::clone(&samples));
            async move {
                let mut party = party.lock().await;
                let mut total = Duration::ZERO;
                let mut local = Vec::new();
                for _ in 0..iters {
                    let began = Instant::now();
                    party.round_trip().await;
                    let took = began.elapsed();
                    total += took;
                    local.push(took);
                }
                samples.lock().unwrap().extend(local);
                total
            }
        });
    });
    samples
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
