//! One process, two or more bridges: what crosses, what does not come back, what is reported.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use nodebook_emitter::Emitter;
use nodebook_emitter::redis::{
    Bridge, BridgeError, BridgeEvent, Codec, CodecError, ConnectError, Delivery, FlushError, Gap,
    StrCodec,
};

use nodebook_test_support::{
    redis::{Server, namespace, shared_redis},
    within,
};

const BOUND: Duration = Duration::from_secs(10);

async fn bridge<C: Codec<String>>(
    url: &str,
    ns: &str,
    delivery: Delivery,
    codec: C,
    emitter: &Emitter<String>,
) -> Bridge<String> {
    Bridge::builder(redis::Client::open(url).unwrap(), ns, codec)
        .events(["ping", "pong"])
        .delivery(delivery)
        .block(Duration::from_millis(100))
        .connect(emitter)
        .await
        .expect("connected")
}

/// Every payload `emitter` emits under `event`, in order.
fn record(emitter: &Emitter<String>, event: &str) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    emitter.on(event, move |payload: &String| {
        log.lock().unwrap().push(payload.clone());
    });
    seen
}

async fn no_echo(delivery: Delivery, test: &str) {
    let Some(url) = shared_redis(test) else {
        return;
    };
    let ns = namespace(test);
    let (a, b) = (Emitter::new(), Emitter::new());
    let bridge_a = bridge(&url, &ns, delivery, StrCodec, &a).await;
    let bridge_b = bridge(&url, &ns, delivery, StrCodec, &b).await;
    let pings_at_a = record(&a, "ping");
    let pings_at_b = record(&b, "ping");
    let mut pongs_at_a = a.subscribe("pong", 16).unwrap();

    let mut arrived = a.subscribe("ping", 16).unwrap();
    b.emit("ping", "from b".to_string()).unwrap();
    let got = within(BOUND, "b's ping at a", arrived.next()).await;
    assert_eq!(got.unwrap().unwrap(), "from b");
    // A later message from b on the same path: anything echoed back to b would be there first.
    b.emit("pong", "marker".to_string()).unwrap();
    let got = within(BOUND, "b's marker at a", pongs_at_a.next()).await;
    assert_eq!(got.unwrap().unwrap(), "marker");
    // And a round trip the other way: a's marker reaches b after anything a could have echoed.
    let mut pongs_at_b = b.subscribe("pong", 16).unwrap();
    a.emit("pong", "back".to_string()).unwrap();
    let got = within(BOUND, "a's marker at b", pongs_at_b.next()).await;
    assert_eq!(got.unwrap().unwrap(), "back");

    bridge_a.flush(BOUND).await.unwrap();
    bridge_b.flush(BOUND).await.unwrap();
    assert_eq!(
        *pings_at_b.lock().unwrap(),
        ["from b"],
        "b's ping ran b's listener once, locally"
    );
    assert_eq!(*pings_at_a.lock().unwrap(), ["from b"]);
    assert_eq!(
        bridge_a.stats().published,
        1,
        "a published its marker only, never b's ping"
    );
    assert_eq!(bridge_b.stats().published, 2);
    assert_eq!(bridge_a.stats().received, 2);
    assert_eq!(bridge_b.stats().received, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_event_arrives_once_and_is_never_echoed_pubsub() {
    no_echo(Delivery::PubSub, "no_echo_pubsub").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_event_arrives_once_and_is_never_echoed_streams() {
    no_echo(Delivery::Streams, "no_echo_streams").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_answers_a_remote_event_publishes_its_answer() {
    let Some(url) = shared_redis("answer") else {
        return;
    };
    let ns = namespace("answer");
    let (a, b) = (Emitter::new(), Emitter::new());
    let _bridge_a = bridge(&url, &ns, Delivery::PubSub, StrCodec, &a).await;
    let bridge_b = bridge(&url, &ns, Delivery::PubSub, StrCodec, &b).await;
    // b answers every remote ping with a pong: a nested emit inside the bridge's delivery.
    let answering = b.clone();
    b.on("ping", move |payload: &String| {
        answering.emit("pong", format!("re: {payload}")).unwrap();
    });
    let mut pongs = a.subscribe("pong", 4).unwrap();
    a.emit("ping", "hi".to_string()).unwrap();
    let got = within(BOUND, "b's answer at a", pongs.next()).await;
    assert_eq!(got.unwrap().unwrap(), "re: hi");
    bridge_b.flush(BOUND).await.unwrap();
    assert_eq!(bridge_b.stats().published, 1, "the answer, not the ping");
}

/// Refuses to decode or encode the payload `"poison"`.
#[derive(Debug)]
struct Picky;

impl Codec<String> for Picky {
    fn encode(&self, payload: &String) -> Result<Vec<u8>, CodecError> {
        if payload == "unsendable" {
            return Err(CodecError::new("unsendable payload"));
        }
        StrCodec.encode(payload)
    }
    fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
        if bytes == b"poison" {
            return Err(CodecError::new("poisoned payload"));
        }
        StrCodec.decode(bytes)
    }
}

fn errors_of(bridge: &Bridge<String>) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    bridge
        .events()
        .on(BridgeEvent::ERROR, move |event: &BridgeEvent| {
            if let BridgeEvent::Error(error) = event {
                log.lock().unwrap().push(error.to_string());
            }
        });
    seen
}

async fn codec_errors(delivery: Delivery, test: &str) {
    let Some(url) = shared_redis(test) else {
        return;
    };
    let ns = namespace(test);
    let (a, b) = (Emitter::new(), Emitter::new());
    let bridge_a = bridge(&url, &ns, delivery, Picky, &a).await;
    let bridge_b = bridge(&url, &ns, delivery, Picky, &b).await;
    let errors_a = errors_of(&bridge_a);
    let errors_b = errors_of(&bridge_b);
    let local = record(&b, "ping");
    let mut arrived = a.subscribe("ping", 8).unwrap();

    for payload in ["poison", "unsendable", "fine"] {
        b.emit("ping", payload.to_string()).unwrap();
    }
    let got = within(BOUND, "the good ping at a", arrived.next()).await;
    assert_eq!(
        got.unwrap().unwrap(),
        "fine",
        "the bad ones were skipped, the next one came"
    );
    assert_eq!(
        *local.lock().unwrap(),
        ["poison", "unsendable", "fine"],
        "local listeners got all"
    );
    assert_eq!(
        *errors_b.lock().unwrap(),
        ["\"ping\" was not published: codec: unsendable payload"]
    );
    let errors_a = errors_a.lock().unwrap().clone();
    assert_eq!(errors_a.len(), 1, "{errors_a:?}");
    assert!(
        errors_a[0].starts_with("\"ping\" from ")
            && errors_a[0].ends_with("(#1) was not emitted: codec: poisoned payload"),
        "{errors_a:?}"
    );
    assert_eq!(bridge_b.stats().dropped, 1);
    assert_eq!(bridge_a.stats().received, 1);
    // The unsendable payload used no sequence number: no gap at the receiver.
    assert_eq!(bridge_a.stats().gaps, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_that_does_not_encode_or_decode_is_reported_and_the_next_goes_through_pubsub() {
    codec_errors(Delivery::PubSub, "codec_pubsub").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_that_does_not_encode_or_decode_is_reported_and_the_next_goes_through_streams() {
    codec_errors(Delivery::Streams, "codec_streams").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_listener_is_reported_and_the_next_remote_event_is_delivered() {
    let Some(url) = shared_redis("panicking") else {
        return;
    };
    let ns = namespace("panicking");
    let (a, b) = (Emitter::new(), Emitter::new());
    let bridge_a = bridge(&url, &ns, Delivery::Streams, StrCodec, &a).await;
    let _bridge_b = bridge(&url, &ns, Delivery::Streams, StrCodec, &b).await;
    let errors = errors_of(&bridge_a);
    a.on("ping", |payload: &String| {
        assert_ne!(payload, "boom", "a listener panics")
    });
    let mut arrived = a.subscribe("pong", 8).unwrap();
    b.emit("ping", "boom".to_string()).unwrap();
    b.emit("pong", "after".to_string()).unwrap();
    let got = within(BOUND, "the event after the panic", arrived.next()).await;
    assert_eq!(got.unwrap().unwrap(), "after");
    assert_eq!(
        *errors.lock().unwrap(),
        ["a listener of \"ping\" panicked on a remote event"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_the_newest_and_shutdown_reports_what_was_not_written() {
    let Some(mut server) = Server::start("full_queue") else {
        return;
    };
    let emitter = Emitter::new();
    let bridge = Bridge::builder(redis::Client::open(server.url()).unwrap(), "q", StrCodec)
        .event("ping")
        .queue_capacity(4)
        .timeout(Duration::from_millis(100))
        .connect(&emitter)
        .await
        .expect("connected");
    let errors = errors_of(&bridge);
    server.kill();
    for n in 0..10 {
        emitter.emit("ping", n.to_string()).unwrap();
    }
    // Four held (queued or being written, in vain), six refused as they were emitted.
    assert_eq!(bridge.stats().dropped, 6);
    let full = errors
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.contains("the outgoing queue is full (4 events)"))
        .count();
    assert_eq!(full, 6);
    assert_eq!(
        bridge.flush(Duration::from_millis(50)).await,
        Err(FlushError::TimedOut { unsent: 4 })
    );
    assert_eq!(
        bridge.shutdown(Duration::from_millis(50)).await,
        Err(FlushError::TimedOut { unsent: 4 })
    );
    assert_eq!(
        emitter.listener_count("ping"),
        0,
        "shutdown removed the bridge's listener"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_writes_what_is_queued() {
    let Some(url) = shared_redis("shutdown") else {
        return;
    };
    let ns = namespace("shutdown");
    let (a, b) = (Emitter::new(), Emitter::new());
    let _receiver = bridge(&url, &ns, Delivery::Streams, StrCodec, &a).await;
    let sender = bridge(&url, &ns, Delivery::Streams, StrCodec, &b).await;
    let mut arrived = a.subscribe("ping", 1_000).unwrap();
    for n in 0..500 {
        b.emit("ping", n.to_string()).unwrap();
    }
    sender.shutdown(BOUND).await.expect("all written");
    for n in 0..500 {
        let got = within(BOUND, "every queued event", arrived.next()).await;
        assert_eq!(got.unwrap().unwrap(), n.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_trimmed_before_they_were_read_are_reported_as_a_gap() {
    let Some(url) = shared_redis("trimmed") else {
        return;
    };
    let ns = namespace("trimmed");
    let emitter = Emitter::new();
    let bridge = bridge(&url, &ns, Delivery::Streams, StrCodec, &emitter).await;
    let mut gaps = bridge.events().subscribe(BridgeEvent::GAP, 4).unwrap();
    let seen = record(&emitter, "ping");
    // Another writer adds entries and trims them away in one transaction, before any reader
    // can see them.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let stream = format!("{ns}:stream");
    let mut pipe = redis::pipe();
    pipe.atomic();
    for seq in 1..=5 {
        pipe.cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("o")
            .arg("elsewhere")
            .arg("s")
            .arg(seq)
            .arg("e")
            .arg("ping")
            .arg("p")
            .arg("lost")
            .ignore();
    }
    pipe.cmd("XTRIM").arg(&stream).arg("MAXLEN").arg(0).ignore();
    pipe.exec_async(&mut conn).await.unwrap();

    let gap = within(BOUND, "the trim reported", gaps.next()).await;
    let Some(Ok(BridgeEvent::Gap(Gap::Trimmed { after, lost }))) = gap else {
        panic!("expected a trim, got {gap:?}");
    };
    assert_eq!((after.as_str(), lost), ("0-0", 5));
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(bridge.stats().gaps, 1);
}

#[tokio::test]
async fn bad_options_are_refused_before_redis_is_contacted() {
    let client = || redis::Client::open("redis://127.0.0.1:1").unwrap();
    let emitter: Emitter<String> = Emitter::new();
    let refused = |r: Result<Bridge<String>, ConnectError>| r.unwrap_err().to_string();
    let none = Bridge::builder(client(), "ns", StrCodec)
        .connect(&emitter)
        .await;
    assert_eq!(
        refused(none),
        "no event to bridge: name at least one with `event`"
    );
    let meta = Bridge::builder(client(), "ns", StrCodec)
        .event("newListener")
        .connect(&emitter)
        .await;
    assert!(refused(meta).starts_with("\"newListener\" cannot be bridged"));
    let empty = Bridge::builder(client(), "", StrCodec)
        .event("a")
        .connect(&emitter)
        .await;
    assert!(matches!(empty, Err(ConnectError::EmptyNamespace)));
    let zero = Bridge::builder(client(), "ns", StrCodec)
        .event("a")
        .queue_capacity(0)
        .connect(&emitter)
        .await;
    assert_eq!(refused(zero), "`queue_capacity` must be above zero");
    let unreachable = Bridge::builder(client(), "ns", StrCodec)
        .event("a")
        .timeout(Duration::from_millis(200))
        .connect(&emitter)
        .await;
    assert!(
        matches!(
            unreachable,
            Err(ConnectError::Redis(_) | ConnectError::Timeout(_))
        ),
        "{unreachable:?}"
    );
    assert_eq!(
        emitter.listener_count("a"),
        0,
        "a failed connect leaves no listener"
    );
}

#[test]
fn a_bridge_error_says_what_to_do() {
    let error = BridgeError::QueueFull {
        event: "ping".into(),
        capacity: 8,
    };
    assert!(error.to_string().contains("the queue is too small"));
}

#[test]
fn the_bridge_and_its_connect_future_can_move_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send + 'static>(_: &T) {}
    let emitter: Emitter<String> = Emitter::new();
    let client = redis::Client::open("redis://127.0.0.1:1").unwrap();
    let connecting = Bridge::builder(client, "ns", StrCodec)
        .event("a")
        .connect(&emitter);
    send(&connecting);
    drop(emitter); // the future owns what it needs
    let _ = send_sync::<Bridge<String>>;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_dropped_half_way_leaves_no_listener_behind() {
    let Some(url) = shared_redis("connect_dropped") else {
        return;
    };
    let ns = namespace("connect_dropped");
    let emitter: Emitter<String> = Emitter::new();
    // Stop the connect after k polls, for every k until it completes by itself.
    for polls in 0.. {
        let connecting = Bridge::builder(redis::Client::open(url.as_str()).unwrap(), &ns, StrCodec)
            .event("ping")
            .delivery(Delivery::Streams)
            .connect(&emitter);
        let mut connecting = tokio_test::task::spawn(connecting);
        let mut done = None;
        for _ in 0..polls {
            if let std::task::Poll::Ready(result) = connecting.poll() {
                done = Some(result);
                break;
            }
            tokio::task::yield_now().await;
        }
        if let Some(result) = done {
            let bridge = result.expect("connected");
            assert_eq!(emitter.listener_count("ping"), 1);
            drop(bridge);
            assert_eq!(
                emitter.listener_count("ping"),
                0,
                "a dropped bridge removes its listener"
            );
            return;
        }
        drop(connecting);
        assert_eq!(emitter.listener_count("ping"), 0, "after {polls} polls");
        assert!(polls < 10_000, "connect never completed");
    }
}

/// Adds an entry as a bridge named `origin` would.
async fn xadd(conn: &mut redis::aio::MultiplexedConnection, stream: &str, origin: &str, seq: u64) {
    let _: String = redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg("o")
        .arg(origin)
        .arg("s")
        .arg(seq)
        .arg("e")
        .arg("ping")
        .arg("p")
        .arg(format!("{origin}#{seq}"))
        .query_async(conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_on_the_wire_are_delivered_once_and_holes_are_reported_per_origin() {
    let Some(url) = shared_redis("repeats") else {
        return;
    };
    let ns = namespace("repeats");
    let emitter = Emitter::new();
    let bridge = bridge(&url, &ns, Delivery::Streams, StrCodec, &emitter).await;
    let gaps = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&gaps);
    bridge
        .events()
        .on(BridgeEvent::GAP, move |event: &BridgeEvent| {
            if let BridgeEvent::Gap(gap) = event {
                log.lock().unwrap().push(gap.clone());
            }
        });
    let errors = errors_of(&bridge);
    let mut arrived = emitter.subscribe("ping", 16).unwrap();

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let stream = format!("{ns}:stream");
    // Two writers whose retries repeat entries, one of which lost #4; and a foreign entry.
    for (origin, seq) in [
        ("x", 1),
        ("y", 1),
        ("x", 2),
        ("x", 1),
        ("x", 2),
        ("y", 1),
        ("x", 3),
    ] {
        xadd(&mut conn, &stream, origin, seq).await;
    }
    let _: String = redis::cmd("XADD")
        .arg(&stream)
        .arg("*")
        .arg("hello")
        .arg("world")
        .query_async(&mut conn)
        .await
        .unwrap();
    xadd(&mut conn, &stream, "x", 5).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        let event = within(BOUND, "the distinct events", arrived.next()).await;
        got.push(event.unwrap().unwrap());
    }
    assert_eq!(got, ["x#1", "y#1", "x#2", "x#3", "x#5"]);
    assert_eq!(
        *gaps.lock().unwrap(),
        [Gap::Missed {
            origin: "x".into(),
            first: 4,
            last: 4
        }]
    );
    assert_eq!(bridge.stats().duplicates, 3);
    assert_eq!(
        *errors.lock().unwrap(),
        [
            "a message in the namespace is not a bridge message (no origin field); is another program using this namespace?"
        ]
    );
}
