//! The shared limit against a real Redis, inside one test process: each replica is a
//! `RedisBagpipe` of its own (own local queue, connections and subscription), as in separate
//! processes. The count, arrival order across replicas, refusal, both deadlines, cancellation,
//! lost leases and fencing tokens. Crowds of real processes are in `redis_processes.rs`,
//! Redis killed and restarted in `redis_outage.rs`.
#![cfg(feature = "redis")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use nodebook_bagpipe::redis::{BuildError, GrantedBy, Health, RedisBagpipe};
use nodebook_bagpipe::{Error, Event};
use nodebook_test_support::{
    redis::{namespace, shared_redis},
    within,
};

const BOUND: Duration = Duration::from_secs(10);

/// A replica with a lease far longer than any test: a slot that comes back did so because it
/// was released, not because its lease ended.
fn replica(url: &str, name: &str, limit: usize) -> nodebook_bagpipe::redis::RedisBagpipeBuilder {
    let client = redis::Client::open(url).expect("url");
    RedisBagpipe::builder(client, name, limit)
        .lease(Duration::from_secs(60))
        .redis_timeout(Duration::from_secs(2))
        .poll_interval(Duration::from_millis(100))
        .heartbeat(Duration::from_millis(100))
}

async fn connected(pipe: &RedisBagpipe) {
    let mut health = pipe.health_changes();
    within(
        BOUND,
        "Health::Connected",
        health.wait_for(|h| *h == Health::Connected),
    )
    .await
    .expect("the limiter lives");
}

fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .expect("url")
        .get_connection()
        .expect("connect")
}

fn zcard(url: &str, name: &str, set: &str) -> usize {
    redis::cmd("ZCARD")
        .arg(format!("bagpipe:{{{name}}}:{set}"))
        .query(&mut raw(url))
        .expect("ZCARD")
}

/// Waits until the sorted set `set` of limiter `name` holds `count` members.
async fn until_count(url: &str, name: &str, set: &str, count: usize) {
    within(BOUND, &format!("{set} holding {count}"), async {
        while zcard(url, name, set) != count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn build_refuses_options_that_cannot_work() {
    let client = redis::Client::open("redis://127.0.0.1:1").expect("url");
    let err = RedisBagpipe::builder(client.clone(), "", 1)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::EmptyName), "{err}");
    let err = RedisBagpipe::builder(client.clone(), "db", 0)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::ZeroLimit { option: "limit" }));
    let err = RedisBagpipe::builder(client.clone(), "db", 1)
        .redis_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        BuildError::ZeroDuration {
            option: "redis_timeout"
        }
    ));
    let err = RedisBagpipe::builder(client, "db", 1)
        .lease(Duration::from_secs(1))
        .poll_interval(Duration::from_millis(600))
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::PollOutlivesLease { .. }));
    assert!(
        std::thread::spawn(|| {
            let client = redis::Client::open("redis://127.0.0.1:1").expect("url");
            RedisBagpipe::builder(client, "db", 1).build()
        })
        .join()
        .unwrap()
        .is_err_and(|err| matches!(err, BuildError::NoRuntime))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_across_replicas_and_a_release_hands_the_slot_on() {
    let Some(url) = shared_redis("the_limit_holds_across_replicas") else {
        return;
    };
    let name = namespace("limit");
    let a = replica(&url, &name, 2).build().unwrap();
    let b = replica(&url, &name, 2).build().unwrap();
    let first = a.acquire().await.unwrap();
    let second = b.acquire().await.unwrap();
    assert_eq!(first.granted_by(), GrantedBy::Redis);
    assert_eq!(zcard(&url, &name, "holders"), 2);
    let third = tokio::spawn({
        let a = a.clone();
        async move { a.acquire().await }
    });
    until_count(&url, &name, "queue", 1).await;
    assert_eq!(zcard(&url, &name, "holders"), 2, "the third waits");
    let (f1, f2) = (
        first.fencing_token().unwrap(),
        second.fencing_token().unwrap(),
    );
    assert!(f2 > f1, "tokens grow: {f1} then {f2}");
    drop(second);
    let third = within(BOUND, "the third's grant", third)
        .await
        .unwrap()
        .unwrap();
    assert!(third.fencing_token().unwrap() > f2);
    assert_eq!(zcard(&url, &name, "holders"), 2);
    assert_eq!(zcard(&url, &name, "queue"), 0);
    assert_eq!(a.held(), 2);
    drop((first, third));
    until_count(&url, &name, "holders", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_in_arrival_order_across_replicas() {
    let Some(url) = shared_redis("waiters_are_served_in_arrival_order") else {
        return;
    };
    let name = namespace("order");
    // Each replica lets two callers into Redis, so that all six wait there.
    let replicas: Vec<_> = (0..3)
        .map(|_| replica(&url, &name, 1).local_limit(2).build().unwrap())
        .collect();
    let holder = replica(&url, &name, 1).build().unwrap();
    let holder = holder.acquire().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    // Six waiters, alternating replicas, each queued before the next one starts.
    for n in 0..6 {
        let (pipe, order) = (replicas[n % 3].clone(), Arc::clone(&order));
        waiters.push(tokio::spawn(async move {
            let permit = pipe.acquire().await.unwrap();
            order.lock().unwrap().push(n);
            drop(permit);
        }));
        until_count(&url, &name, "queue", n + 1).await;
    }
    drop(holder);
    for waiter in waiters {
        within(BOUND, "a waiter's turn", waiter).await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_turns_callers_away_while_queue_length_wait_in_redis() {
    let Some(url) = shared_redis("refuse_turns_callers_away") else {
        return;
    };
    let name = namespace("refuse");
    let build = || {
        replica(&url, &name, 1)
            .queue_length(1)
            .refuse(true)
            .build()
            .unwrap()
    };
    // A replica lets one caller at a time into Redis: the waiter has a replica of its own.
    let (a, b, c) = (build(), build(), build());
    let held = a.acquire().await.unwrap();
    let waiting = tokio::spawn(async move { c.acquire().await.map(drop) });
    until_count(&url, &name, "queue", 1).await;
    let err = b.acquire().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooMuchAsyncCall {
                limit: 1,
                queue_length: 1,
                queued: 1
            }
        ),
        "{err}"
    );
    assert_eq!(
        zcard(&url, &name, "queue"),
        1,
        "the refused caller took no ticket"
    );
    drop(held);
    within(BOUND, "the waiter's turn", waiting)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_timeout_leaves_the_queue_in_redis() {
    let Some(url) = shared_redis("a_queue_timeout_leaves_the_queue") else {
        return;
    };
    let name = namespace("queue-timeout");
    let a = replica(&url, &name, 1).build().unwrap();
    let b = replica(&url, &name, 1)
        .queue_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let held = a.acquire().await.unwrap();
    let err = b.acquire().await.unwrap_err();
    assert!(
        matches!(err, Error::QueueTimeout { queue_timeout } if queue_timeout == Duration::from_millis(300)),
        "{err}"
    );
    until_count(&url, &name, "queue", 0).await;
    drop(held);
    until_count(&url, &name, "holders", 0).await;
    // The next caller is not stuck behind the one that gave up (the lease is a minute).
    let next = within(BOUND, "a grant", b.acquire()).await.unwrap();
    assert_eq!(next.granted_by(), GrantedBy::Redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquires_dropped_at_any_point_leave_no_slot_and_no_ticket() {
    let Some(url) = shared_redis("acquires_dropped_at_any_point") else {
        return;
    };
    let name = namespace("dropped");
    let pipe = replica(&url, &name, 2).build().unwrap();
    connected(&pipe).await;
    // Dropped after one poll: the script may already be on its way, and may grant a slot.
    for _ in 0..50 {
        let mut acquire = Box::pin(pipe.acquire());
        let _ = (&mut acquire).now_or_never();
        drop(acquire);
    }
    // Dropped while queued.
    let held: Vec<_> = vec![pipe.acquire().await.unwrap(), pipe.acquire().await.unwrap()];
    let other = replica(&url, &name, 2).build().unwrap();
    let queued = tokio::spawn({
        let other = other.clone();
        async move { other.acquire().await.map(drop) }
    });
    until_count(&url, &name, "queue", 1).await;
    queued.abort();
    until_count(&url, &name, "queue", 0).await;
    drop(held);
    until_count(&url, &name, "holders", 0).await;
    let (x, y) = tokio::join!(other.acquire(), other.acquire());
    assert_eq!(
        (x.unwrap().granted_by(), y.unwrap().granted_by()),
        (GrantedBy::Redis, GrantedBy::Redis),
        "both slots are free again, long before any lease ends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_times_out_with_the_local_limiters_error_and_frees_its_slot() {
    let Some(url) = shared_redis("run_times_out") else {
        return;
    };
    let name = namespace("run-timeout");
    let pipe = replica(&url, &name, 1)
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let err = pipe
        .run(tokio::time::sleep(Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { timeout } if timeout == Duration::from_millis(50)));
    assert_eq!(err.to_string(), "50ms timeout");
    until_count(&url, &name, "holders", 0).await;
    let borrowed = [1, 2, 3];
    let sum = pipe
        .run(async { borrowed.iter().sum::<i32>() })
        .await
        .unwrap();
    assert_eq!(sum, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_lease_is_gone_learns_it_and_its_slot_serves_another() {
    let Some(url) = shared_redis("a_holder_whose_lease_is_gone_learns_it") else {
        return;
    };
    let name = namespace("lost");
    let client = redis::Client::open(url.as_str()).expect("url");
    let pipe = RedisBagpipe::builder(client, &name, 1)
        .lease(Duration::from_millis(900))
        .poll_interval(Duration::from_millis(50))
        .redis_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    pipe.events().on(Event::LEASE_LOST, move |event: &Event| {
        if let Event::LeaseLost { fencing_token } = event {
            sink.lock().unwrap().push(*fencing_token);
        }
    });
    let stale = pipe.acquire().await.unwrap();
    let token = stale.fencing_token().unwrap();
    // As if the holder had stalled past its lease and the server had expired it.
    let holders = format!("bagpipe:{{{name}}}:holders");
    let removed: usize = redis::cmd("ZREMRANGEBYRANK")
        .arg(&holders)
        .arg(0)
        .arg(-1)
        .query(&mut raw(&url))
        .unwrap();
    assert_eq!(removed, 1);
    within(BOUND, "lease_lost", async {
        while !stale.lease_lost() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(*events.lock().unwrap(), [token]);
    let other = replica(&url, &name, 1).build().unwrap();
    let fresh = within(BOUND, "the slot for another", other.acquire())
        .await
        .unwrap();
    assert!(
        fresh.fencing_token().unwrap() > token,
        "the new holder fences the old one out"
    );
    assert!(!fresh.lease_lost());
    // The stale holder's release frees nothing of the new holder's. Its token is still in the
    // fences hash (only its lease was removed): the release deletes it, which marks its end.
    let fences = format!("bagpipe:{{{name}}}:fences");
    let hlen = |conn: &mut redis::Connection| -> usize {
        redis::cmd("HLEN").arg(&fences).query(conn).unwrap()
    };
    assert_eq!(hlen(&mut raw(&url)), 2);
    drop(stale);
    within(BOUND, "the stale release", async {
        while hlen(&mut raw(&url)) != 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(zcard(&url, &name, "holders"), 1);
    assert!(!fresh.lease_lost());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_whose_process_died_does_not_block_the_queue() {
    let Some(url) = shared_redis("a_waiter_whose_process_died") else {
        return;
    };
    let name = namespace("ghost");
    let a = replica(&url, &name, 1).build().unwrap();
    let b = replica(&url, &name, 1).build().unwrap();
    let held = a.acquire().await.unwrap();
    // A waiter at the head of the queue whose process stopped renewing its place long ago.
    let mut conn = raw(&url);
    let _: () = redis::pipe()
        .zadd(format!("bagpipe:{{{name}}}:queue"), "ghost", 0)
        .zadd(format!("bagpipe:{{{name}}}:waiting"), "ghost", 1)
        .query(&mut conn)
        .unwrap();
    let waiting = tokio::spawn(async move { b.acquire().await.map(|p| p.fencing_token()) });
    // The live waiter's first look removed the dead one and queued itself.
    within(BOUND, "the live waiter alone in the queue", async {
        loop {
            let queue: Vec<String> = redis::cmd("ZRANGE")
                .arg(format!("bagpipe:{{{name}}}:queue"))
                .arg(0)
                .arg(-1)
                .query(&mut raw(&url))
                .unwrap();
            if queue.len() == 1 && queue[0] != "ghost" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    drop(held);
    let token = within(BOUND, "the live waiter's turn", waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(token.is_some());
    let ghost: Option<f64> = redis::cmd("ZSCORE")
        .arg(format!("bagpipe:{{{name}}}:holders"))
        .arg("ghost")
        .query(&mut conn)
        .unwrap();
    assert_eq!(ghost, None, "the dead waiter never got the slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_queue_in_front_keeps_a_burst_out_of_redis() {
    let Some(url) = shared_redis("the_local_queue_in_front") else {
        return;
    };
    let name = namespace("front");
    let pipe = replica(&url, &name, 1)
        .local_limit(2)
        .queue_length(100)
        .build()
        .unwrap();
    let most_queued = Arc::new(Mutex::new(0));
    let sink = Arc::clone(&most_queued);
    pipe.events().on(Event::FULL, move |event: &Event| {
        if let Event::Full { queued } = event {
            let mut most = sink.lock().unwrap();
            *most = (*most).max(*queued);
        }
    });
    let holder = pipe.acquire().await.unwrap();
    let served = Arc::new(Mutex::new(Vec::new()));
    let burst: Vec<_> = (0..9)
        .map(|n| {
            let (pipe, served) = (pipe.clone(), Arc::clone(&served));
            tokio::spawn(async move {
                let permit = pipe.acquire().await.unwrap();
                served.lock().unwrap().push(n);
                drop(permit);
            })
        })
        .collect();
    within(BOUND, "eight callers queued locally", async {
        while *most_queued.lock().unwrap() < 8 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    until_count(&url, &name, "queue", 1).await;
    assert_eq!(
        (zcard(&url, &name, "holders"), zcard(&url, &name, "queue")),
        (1, 1),
        "one holder and one waiter in Redis; the other eight wait in this process"
    );
    drop(holder);
    for call in burst {
        within(BOUND, "a call of the burst", call).await.unwrap();
    }
    assert_eq!(
        served.lock().unwrap().len(),
        9,
        "every caller of the burst was served"
    );
}
