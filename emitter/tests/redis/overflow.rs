//! Pub/sub listeners slower than the namespace: what the bridge holds stays within its intake,
//! and what it drops is reported where it was dropped.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodebook_emitter::Emitter;
use nodebook_emitter::redis::{Bridge, BridgeEvent, Gap, StrCodec};
use nodebook_test_support::redis::{namespace, shared_redis};
use nodebook_test_support::within;
use tokio::sync::Notify;

const BOUND: Duration = Duration::from_secs(10);

/// What the slow listener tells the test.
#[derive(Default)]
struct Signals {
    /// The first tick arrived: the listener blocks.
    entered: Notify,
    /// The bridge reported an overflow.
    overflowed: Notify,
    /// The last tick arrived.
    done: Notify,
}

/// Logs, in the order the bridge's task produced them, the `"tick"` events delivered to
/// `emitter` and the gaps `bridge` reports. The first tick blocks the listener (and so the
/// bridge's task) until `gate` gets a message.
fn slow_listener(
    emitter: &Emitter<String>,
    bridge: &Bridge<String>,
    gate: std_mpsc::Receiver<()>,
    last: String,
    signals: &Arc<Signals>,
) -> Arc<Mutex<Vec<String>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let gate = Mutex::new(Some(gate));
    let ticks = Arc::clone(&log);
    let tell = Arc::clone(signals);
    emitter.on("tick", move |payload: &String| {
        ticks.lock().unwrap().push(format!("tick {payload}"));
        if let Some(gate) = gate.lock().unwrap().take() {
            tell.entered.notify_one();
            // Blocks this worker thread only: the runtime moves its other tasks, the
            // subscription's connection among them, to another thread.
            tokio::task::block_in_place(|| gate.recv().expect("the test opens the gate"));
        }
        if *payload == last {
            tell.done.notify_one();
        }
    });
    let gaps = Arc::clone(&log);
    let tell = Arc::clone(signals);
    bridge
        .events()
        .on(BridgeEvent::GAP, move |event: &BridgeEvent| match event {
            BridgeEvent::Gap(Gap::Overflowed { lost }) => {
                gaps.lock().unwrap().push(format!("overflowed {lost}"));
                tell.overflowed.notify_one();
            }
            BridgeEvent::Gap(Gap::Missed { first, last, .. }) => {
                gaps.lock().unwrap().push(format!("missed {first}-{last}"));
            }
            other => gaps.lock().unwrap().push(format!("unexpected {other:?}")),
        });
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_listener_holds_at_most_the_intake_and_what_overflows_is_reported_as_gaps() {
    const CAPACITY: usize = 16;
    const FLOOD: u64 = 300;
    let Some(url) = shared_redis("overflow") else {
        return;
    };
    let ns = namespace("overflow");
    let client = redis::Client::open(url.as_str()).unwrap();
    let (slow, fast) = (Emitter::new(), Emitter::new());
    let receiver = Bridge::builder(client.clone(), &ns, StrCodec)
        .event("tick")
        .intake_capacity(CAPACITY)
        // Generous: a heartbeat that times out on a starved machine would drop the intake with
        // the connection, and this test is about the intake.
        .timeout(Duration::from_secs(5))
        .connect(&slow)
        .await
        .expect("connected");
    let sender = Bridge::builder(client, &ns, StrCodec)
        .event("tick")
        .queue_capacity(2 * FLOOD as usize)
        .connect(&fast)
        .await
        .expect("connected");
    let signals = Arc::new(Signals::default());
    let (open_gate, gate) = std_mpsc::channel();
    let last = (FLOOD + 1).to_string();
    let log = slow_listener(&slow, &receiver, gate, last.clone(), &signals);

    // Event 1 blocks the receiving bridge's listener; 2..=FLOOD arrive meanwhile.
    fast.emit("tick", "1".to_string()).unwrap();
    within(
        BOUND,
        "the listener blocked on event 1",
        signals.entered.notified(),
    )
    .await;
    for n in 2..=FLOOD {
        fast.emit("tick", n.to_string()).unwrap();
    }
    sender.flush(BOUND).await.expect("the flood is in Redis");
    within(BOUND, "every message of the flood read", async {
        loop {
            let (held, stats) = (receiver.backlog(), receiver.stats());
            assert!(held <= CAPACITY, "the intake holds {held} > {CAPACITY}");
            if held as u64 + stats.overflowed == FLOOD - 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // Every message read is either held (the intake is full, no more) or dropped and counted:
    // nothing else buffers them.
    assert_eq!(receiver.backlog(), CAPACITY);
    let dropped = FLOOD - 1 - CAPACITY as u64;
    assert_eq!(receiver.stats().overflowed, dropped);
    assert_eq!(
        receiver.stats().received,
        1,
        "only event 1 reached the listener"
    );
    assert_eq!(*log.lock().unwrap(), ["tick 1"], "nothing reported yet");

    // Released, the bridge delivers what it held, then reports the loss once the intake is
    // empty (no message came after it), and goes on in order with the next event.
    open_gate.send(()).unwrap();
    within(
        BOUND,
        "the overflow reported",
        signals.overflowed.notified(),
    )
    .await;
    assert_eq!(receiver.backlog(), 0);
    fast.emit("tick", last.clone()).unwrap();
    if tokio::time::timeout(BOUND, signals.done.notified())
        .await
        .is_err()
    {
        panic!(
            "the event after the flood did not arrive in {BOUND:?}; so far: {:?}, {:?}",
            log.lock().unwrap(),
            receiver.stats()
        );
    }
    let first_lost = CAPACITY as u64 + 2;
    let mut expected: Vec<String> = (1..first_lost).map(|n| format!("tick {n}")).collect();
    expected.push(format!("overflowed {dropped}"));
    expected.push(format!("missed {first_lost}-{FLOOD}"));
    expected.push(format!("tick {last}"));
    assert_eq!(*log.lock().unwrap(), expected);
    let stats = receiver.stats();
    assert_eq!(
        (stats.received, stats.overflowed, stats.gaps),
        (CAPACITY as u64 + 2, dropped, 2)
    );
    assert_eq!(receiver.backlog(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_intake_is_refused() {
    let client = redis::Client::open("redis://127.0.0.1:1").unwrap();
    let emitter: Emitter<String> = Emitter::new();
    let refused = Bridge::builder(client, "ns", StrCodec)
        .event("tick")
        .intake_capacity(0)
        .connect(&emitter)
        .await
        .unwrap_err();
    assert_eq!(refused.to_string(), "`intake_capacity` must be above zero");
}
