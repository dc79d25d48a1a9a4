//! Events across OS processes, on a `redis-server` of the test's own: the test re-executes its own binary as three worker processes
//! (the ignored test `crowd::worker`, configured through `NODEBOOK_BRIDGE_*` variables), each
//! with its own emitter and bridge on one namespace, each emitting 10 000 events. Workers
//! report on stdout in lines starting with `@`; the parent orders the phases through their
//! stdin, not with sleeps:
//!
//! 1. every worker connects and reports `@ready <origin>`; the parent sends `go <origins>`;
//! 2. each emits events 1..=2500 and reports `@a` once it has also received 1..=2500 of every
//!    other worker;
//! 3. the parent kills every connection of worker 0 (`CLIENT KILL ID`, found by the ACL user
//!    the worker logs in as), and sends `go`: events 2501..=5000 go out while worker 0 reconnects;
//! 4. each reports `@half`; worker 0 also `@reconnected` once its bridge says `"connected"`;
//!    the parent then sends `go` for 5001..=10000, after which each reports `@done` with what
//!    it received, once it has received the last event of every other worker.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nodebook_emitter::Emitter;
use nodebook_emitter::redis::{Bridge, BridgeEvent, Delivery, Gap, StrCodec};

use nodebook_test_support::processes::{self, Reports, Worker};
use nodebook_test_support::redis::{Server, kill_clients, namespace, user_url};

const WORKERS: usize = 3;
const EVENTS: u64 = 10_000;
const FIRST: u64 = 2_500;
const HALF: u64 = 5_000;
const BOUND: Duration = Duration::from_secs(120);

/// The two tests start three processes each: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn user(index: usize) -> String {
    format!("worker{index}")
}

fn spawn_workers(server: &Server, ns: &str, mode: &str) -> (Vec<Worker>, Reports) {
    processes::spawn_workers("crowd::worker", WORKERS, |index, command| {
        command
            .env(
                "NODEBOOK_BRIDGE_URL",
                user_url(&server.url(), server.port, &user(index)),
            )
            .env("NODEBOOK_BRIDGE_NS", ns)
            .env("NODEBOOK_BRIDGE_MODE", mode)
            .env("NODEBOOK_BRIDGE_INDEX", index.to_string());
    })
}

/// Waits for `count` lines that start with `prefix`, keeping them (and any others) by worker.
fn wait_for(
    rx: &Reports,
    deadline: Instant,
    lines: &mut Vec<(usize, String)>,
    prefix: &str,
    count: usize,
) {
    while lines.iter().filter(|(_, l)| l.starts_with(prefix)).count() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("waiting for {count} x {prefix}: {e}; so far {lines:?}"));
        lines.push(line);
    }
}

/// What one worker received from one other worker.
#[derive(Debug, Default)]
struct From {
    received: u64,
    repeats: u64,
    disorder: u64,
    missing: Vec<u64>,
    missed_by_gap: Vec<(u64, u64)>,
}

fn ranges(text: &str) -> Vec<(u64, u64)> {
    text.split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (a, b) = r.split_once('-').expect("a-b");
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

/// Parses `@from <j> received=.. repeats=.. disorder=.. missing=a-b,.. gaps=a-b,..`.
fn parse_from(line: &str) -> (usize, From) {
    let mut words = line.split_whitespace().skip(1);
    let j = words.next().unwrap().parse().unwrap();
    let mut from = From::default();
    for field in words {
        let (name, value) = field.split_once('=').expect("name=value");
        match name {
            "received" => from.received = value.parse().unwrap(),
            "repeats" => from.repeats = value.parse().unwrap(),
            "disorder" => from.disorder = value.parse().unwrap(),
            "missing" => {
                from.missing = ranges(value).into_iter().flat_map(|(a, b)| a..=b).collect();
            }
            "gaps" => from.missed_by_gap = ranges(value),
            other => panic!("unknown field {other}"),
        }
    }
    (j, from)
}

/// Runs the three workers through the phases; returns every worker's lines.
fn run_crowd(server: &Server, mode: &str) -> Vec<Vec<String>> {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ns = namespace(&format!("crowd-{mode}"));
    let (mut workers, rx) = spawn_workers(server, &ns, mode);
    let deadline = Instant::now() + BOUND;
    let mut lines = Vec::new();
    wait_for(&rx, deadline, &mut lines, "@ready", WORKERS);
    let mut origins = vec![String::new(); WORKERS];
    for (index, line) in &lines {
        if let Some(origin) = line.strip_prefix("@ready ") {
            origins[*index] = origin.to_string();
        }
    }
    let go = format!("go {}", origins.join(" "));
    workers.iter_mut().for_each(|w| w.send(&go));
    wait_for(&rx, deadline, &mut lines, "@a", WORKERS);
    let killed = kill_clients(&server.url(), &user(0));
    assert_eq!(
        killed, 2,
        "worker 0's sending and receiving connections were killed"
    );
    workers.iter_mut().for_each(|w| w.send("go"));
    wait_for(&rx, deadline, &mut lines, "@half", WORKERS);
    wait_for(&rx, deadline, &mut lines, "@reconnected", 1);
    workers.iter_mut().for_each(|w| w.send("go"));
    wait_for(&rx, deadline, &mut lines, "@done", WORKERS);
    for worker in &mut workers {
        assert!(worker.child.wait().expect("worker exits").success());
    }
    let mut by_worker = vec![Vec::new(); WORKERS];
    for (index, line) in lines {
        by_worker[index].push(line);
    }
    for rest in rx.try_iter() {
        by_worker[rest.0].push(rest.1);
    }
    by_worker
}

fn field(lines: &[String], prefix: &str, name: &str) -> u64 {
    let line = lines
        .iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} line in {lines:?}"));
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap()
}

fn froms(lines: &[String]) -> BTreeMap<usize, From> {
    lines
        .iter()
        .filter(|l| l.starts_with("@from"))
        .map(|l| parse_from(l))
        .collect()
}

/// Worker `index` emitted each of its own events locally, and its intake dropped none.
fn assert_own_events_were_local_and_none_dropped(index: usize, lines: &[String]) {
    assert_eq!(
        field(lines, "@done", "own"),
        EVENTS,
        "worker {index}: its own events, locally"
    );
    assert_eq!(field(lines, "@done", "dropped"), 0, "worker {index}");
}

#[test]
fn streams_three_processes_receive_every_event_once_in_order_across_a_client_kill() {
    let Some(server) = Server::start("crowd_streams") else {
        return;
    };
    let by_worker = run_crowd(&server, "streams");
    for (index, lines) in by_worker.iter().enumerate() {
        assert_own_events_were_local_and_none_dropped(index, lines);
        assert_eq!(
            field(lines, "@done", "gaps"),
            0,
            "worker {index}: nothing lost: {lines:?}"
        );
        let froms = froms(lines);
        assert_eq!(froms.len(), WORKERS - 1, "worker {index}: {lines:?}");
        for (j, from) in froms {
            assert_eq!(
                (
                    from.received,
                    from.repeats,
                    from.disorder,
                    from.missing.len()
                ),
                (EVENTS, 0, 0, 0),
                "worker {index} from worker {j}: all, once, in order: {from:?}"
            );
        }
    }
    // The kill was felt and survived: worker 0 reconnected.
    assert!(
        field(&by_worker[0], "@done", "reconnects") >= 1,
        "{:?}",
        by_worker[0]
    );
}

#[test]
fn pubsub_losses_happen_only_around_the_client_kill_and_each_is_reported_as_a_gap() {
    let Some(server) = Server::start("crowd_pubsub") else {
        return;
    };
    let by_worker = run_crowd(&server, "pubsub");
    // What the kill cost worker 0, for the record (`--nocapture`).
    println!("worker 0: {:?}", by_worker[0]);
    for (index, lines) in by_worker.iter().enumerate() {
        assert_own_events_were_local_and_none_dropped(index, lines);
        let disconnected = field(lines, "@done", "disconnected");
        for (j, from) in froms(lines) {
            assert_eq!(
                (from.repeats, from.disorder),
                (0, 0),
                "worker {index} from worker {j}: never twice, never out of order: {from:?}"
            );
            assert_eq!(from.received + from.missing.len() as u64, EVENTS);
            if index != 0 {
                // Only worker 0's connections were killed; its sender retried, so no loss.
                assert!(from.missing.is_empty(), "worker {index} from {j}: {from:?}");
                continue;
            }
            let last_received = (1..=EVENTS).rev().find(|n| !from.missing.contains(n));
            for seq in &from.missing {
                let in_gap = from
                    .missed_by_gap
                    .iter()
                    .any(|(a, b)| (a..=b).contains(&seq));
                // A hole at the very end is revealed by no later message: only a disconnect
                // after the kill's can explain it.
                let tail = last_received.is_none_or(|last| *seq > last) && disconnected > 1;
                assert!(
                    in_gap || tail,
                    "worker 0 lost {seq} of worker {j} without a gap saying so: {from:?}"
                );
                assert!(
                    (FIRST + 1..=HALF).contains(seq) || disconnected > 1,
                    "worker 0 lost {seq} of worker {j}: outside the phase of the kill"
                );
            }
            let reported: u64 = from.missed_by_gap.iter().map(|(a, b)| b - a + 1).sum();
            assert!(
                reported <= from.missing.len() as u64,
                "no gap without a loss: {from:?}"
            );
        }
        if index == 0 {
            assert!(
                disconnected >= 1,
                "the kill is reported as a gap at once: {lines:?}"
            );
            assert!(field(lines, "@done", "reconnects") >= 1);
        } else {
            assert_eq!(disconnected, 0, "worker {index}: {lines:?}");
            assert_eq!(
                field(lines, "@done", "gaps"),
                0,
                "worker {index}: {lines:?}"
            );
        }
    }
}

/// What the worker saw from one other worker, by sequence number.
#[derive(Default)]
struct Seen {
    last: u64,
    received: u64,
    repeats: u64,
    disorder: u64,
    got: Vec<bool>,
    gaps: Vec<(u64, u64)>,
}

fn compact(values: impl Iterator<Item = (u64, u64)>) -> String {
    values
        .map(|(a, b)| format!("{a}-{b}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A worker process (run by the tests above, not on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a worker process of the crowd tests, started by them"]
async fn worker() {
    let var = |name: &str| std::env::var(format!("NODEBOOK_BRIDGE_{name}"));
    let Ok(url) = var("URL") else {
        eprintln!("worker: run by the crowd tests only");
        return;
    };
    let index: usize = var("INDEX").unwrap().parse().unwrap();
    let delivery = match var("MODE").unwrap().as_str() {
        "streams" => Delivery::Streams,
        _ => Delivery::PubSub,
    };
    let emitter: Emitter<String> = Emitter::new();
    let client = redis::Client::open(url).expect("url");
    let bridge = Bridge::builder(client, var("NS").unwrap(), StrCodec)
        .event("tick")
        .delivery(delivery)
        // Room for every event, going out and coming in: this test is about the wire, not the
        // overflow policies (`overflow.rs` is).
        .queue_capacity(20_000)
        .intake_capacity(WORKERS * EVENTS as usize)
        .heartbeat(Duration::from_millis(200))
        // A generous bound: the test shares a small machine with builds, and is about the kill.
        .timeout(Duration::from_secs(5))
        .block(Duration::from_millis(200))
        .connect(&emitter)
        .await
        .expect("connected");

    // Payloads are `<worker> <n>`; n is also the bridge's sequence number (one emitting task).
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(
        (0..WORKERS)
            .map(|_| Seen {
                got: vec![false; EVENTS as usize + 1],
                ..Seen::default()
            })
            .collect(),
    ));
    let changed = Arc::new(tokio::sync::Notify::new());
    {
        let (seen, changed) = (Arc::clone(&seen), Arc::clone(&changed));
        emitter.on("tick", move |payload: &String| {
            let (who, n) = payload.split_once(' ').expect("<worker> <n>");
            let (who, n): (usize, u64) = (who.parse().unwrap(), n.parse().unwrap());
            let mut seen = seen.lock().unwrap();
            let from = &mut seen[who];
            if from.got[n as usize] {
                from.repeats += 1;
            } else {
                from.got[n as usize] = true;
                from.received += 1;
            }
            if n <= from.last {
                from.disorder += 1;
            }
            from.last = from.last.max(n);
            drop(seen);
            changed.notify_one();
        });
    }
    let origins: Arc<Mutex<Vec<String>>> = Arc::default();
    let disconnected = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (reconnected_tx, mut reconnected) = tokio::sync::mpsc::channel::<()>(4);
    {
        let (seen, origins, disconnected) = (
            Arc::clone(&seen),
            Arc::clone(&origins),
            Arc::clone(&disconnected),
        );
        bridge
            .events()
            .on(BridgeEvent::GAP, move |event: &BridgeEvent| match event {
                BridgeEvent::Gap(Gap::Missed {
                    origin,
                    first,
                    last,
                }) => {
                    let who = origins.lock().unwrap().iter().position(|o| **o == **origin);
                    let who = who.expect("a gap of a known origin");
                    seen.lock().unwrap()[who].gaps.push((*first, *last));
                }
                BridgeEvent::Gap(Gap::Disconnected) => {
                    disconnected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                other => println!("@unexpected {other:?}"),
            });
        bridge
            .events()
            .on(BridgeEvent::CONNECTED, move |_: &BridgeEvent| {
                let _ = reconnected_tx.try_send(());
            });
        bridge
            .events()
            .on(BridgeEvent::ERROR, |event: &BridgeEvent| {
                eprintln!("worker: {event:?}");
            });
    }

    let stdin = Arc::new(Mutex::new(BufReader::new(std::io::stdin())));
    let read_line = || {
        let stdin = Arc::clone(&stdin);
        async move {
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                stdin.lock().unwrap().read_line(&mut line).expect("stdin");
                line.trim().to_string()
            })
            .await
            .unwrap()
        }
    };
    let own = Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        // The worker's own events reach its listeners locally, as plain emits.
        let own = Arc::clone(&own);
        emitter.on("tick", move |payload: &String| {
            if payload.starts_with(&format!("{index} ")) {
                own.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    println!("@ready {}", bridge.origin());
    let go = read_line().await;
    *origins.lock().unwrap() = go.split_whitespace().skip(1).map(str::to_string).collect();

    let emit_range = |range: std::ops::RangeInclusive<u64>| {
        let (emitter, bridge) = (&emitter, &bridge);
        async move {
            for n in range {
                emitter.emit("tick", format!("{index} {n}")).unwrap();
                if n % 50 == 0 {
                    bridge.flush(BOUND).await.expect("written");
                }
            }
            bridge.flush(BOUND).await.expect("written");
        }
    };
    let all_others_reached = |n: u64| {
        let (seen, changed) = (Arc::clone(&seen), Arc::clone(&changed));
        async move {
            loop {
                let notified = changed.notified();
                let done = seen.lock().unwrap().iter().enumerate().all(|(who, from)| {
                    who == index || from.got[1..=n as usize].iter().all(|&got| got)
                });
                if done {
                    return;
                }
                notified.await;
            }
        }
    };
    let last_of_others = || {
        let (seen, changed) = (Arc::clone(&seen), Arc::clone(&changed));
        async move {
            loop {
                let notified = changed.notified();
                let done = seen
                    .lock()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .all(|(who, from)| who == index || from.got[EVENTS as usize]);
                if done {
                    return;
                }
                notified.await;
            }
        }
    };

    emit_range(1..=FIRST).await;
    tokio::time::timeout(BOUND, all_others_reached(FIRST))
        .await
        .expect("phase 1 received");
    println!("@a");
    read_line().await; // the parent killed worker 0's connections
    emit_range(FIRST + 1..=HALF).await;
    println!("@half");
    if index == 0 {
        tokio::time::timeout(BOUND, reconnected.recv())
            .await
            .expect("reconnected in time");
        println!("@reconnected");
    }
    read_line().await;
    emit_range(HALF + 1..=EVENTS).await;
    // Well inside the parent's bound. In pub/sub mode an extra disconnect (a heartbeat that
    // timed out on a starved machine) loses the tail for good; the report says so, and the
    // parent checks that a gap covers it.
    let arrived = tokio::time::timeout(BOUND / 4, last_of_others())
        .await
        .is_ok();
    assert!(
        arrived || delivery == Delivery::PubSub,
        "Streams lost the last events"
    );
    let stats = bridge.stats();
    bridge.shutdown(BOUND).await.expect("shut down");
    let seen = seen.lock().unwrap();
    for (who, from) in seen.iter().enumerate() {
        if who == index {
            continue;
        }
        let mut missing = Vec::new();
        for n in 1..=EVENTS {
            if !from.got[n as usize] {
                match missing.last_mut() {
                    Some((_, b)) if *b + 1 == n => *b = n,
                    _ => missing.push((n, n)),
                }
            }
        }
        println!(
            "@from {who} received={} repeats={} disorder={} missing={} gaps={}",
            from.received,
            from.repeats,
            from.disorder,
            compact(missing.into_iter()),
            compact(from.gaps.iter().copied()),
        );
    }
    println!(
        "@done own={} dropped={} gaps={} disconnected={} reconnects={}",
        own.load(std::sync::atomic::Ordering::SeqCst),
        stats.dropped,
        stats.gaps,
        disconnected.load(std::sync::atomic::Ordering::SeqCst),
        stats.reconnects,
    );
}
