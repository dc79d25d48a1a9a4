//! The shared limit when Redis goes away: each test starts a `redis-server` of its own (without
//! persistence), then kills, restarts or pauses it. Each outage policy does what it says, the
//! limiter goes back to Redis when it answers, and after a restart that lost the data no permit
//! is counted twice.
#![cfg(feature = "redis")]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use nodebook_bagpipe::redis::{
    GrantedBy, Health, OutagePolicy, RedisBagpipe, RedisBagpipeBuilder, RedisPermit,
};
use nodebook_bagpipe::{Error, Event};
use nodebook_test_support::{redis::Server, within};

const BOUND: Duration = Duration::from_secs(10);

/// A limiter of `limit` on `server`, with timings short enough for a test.
fn builder(server: &Server, limit: usize) -> RedisBagpipeBuilder {
    let client = redis::Client::open(server.url()).expect("url");
    RedisBagpipe::builder(client, "db", limit)
        .lease(Duration::from_secs(3))
        .redis_timeout(Duration::from_millis(500))
        .poll_interval(Duration::from_millis(100))
        .heartbeat(Duration::from_millis(100))
}

fn limiter(server: &Server, limit: usize, outage: OutagePolicy) -> RedisBagpipe {
    builder(server, limit)
        .outage(outage)
        .build()
        .expect("limiter")
}

/// Restarts `server`, waits for `pipe` to reconnect, and takes a permit that Redis counts.
async fn counted_in_redis_after_a_restart(server: &mut Server, pipe: &RedisBagpipe) -> RedisPermit {
    server.restart();
    health(pipe, Health::Connected).await;
    let permit = pipe.acquire().await.unwrap();
    assert_eq!(permit.granted_by(), GrantedBy::Redis);
    permit
}

/// Every slot of `pipe`, held.
async fn hold_all(pipe: &RedisBagpipe, limit: usize) -> Vec<RedisPermit> {
    futures::future::join_all((0..limit).map(|_| pipe.acquire()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// The fencing tokens Redis counts as holders now.
fn fences(server: &Server) -> BTreeSet<u64> {
    let values: Vec<u64> = redis::cmd("HVALS")
        .arg("bagpipe:{db}:fences")
        .query(&mut raw(server))
        .unwrap();
    values.into_iter().collect()
}

/// The holders Redis counts now.
fn holders(server: &Server) -> usize {
    redis::cmd("ZCARD")
        .arg("bagpipe:{db}:holders")
        .query(&mut raw(server))
        .unwrap()
}

async fn health(pipe: &RedisBagpipe, wanted: Health) {
    let mut health = pipe.health_changes();
    within(
        BOUND,
        &format!("{wanted:?}"),
        health.wait_for(|h| *h == wanted),
    )
    .await
    .expect("the limiter lives");
}

fn raw(server: &Server) -> redis::Connection {
    redis::Client::open(server.url())
        .expect("url")
        .get_connection()
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_refuses_while_redis_is_down_then_counts_in_redis_again() {
    let Some(mut server) = Server::start("fail_closed_refuses_while_redis_is_down") else {
        return;
    };
    let pipe = limiter(&server, 2, OutagePolicy::FailClosed);
    health(&pipe, Health::Connected).await;
    let before = pipe.acquire().await.unwrap();
    assert_eq!(before.granted_by(), GrantedBy::Redis);
    drop(before);

    server.kill();
    let err = pipe.acquire().await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("the shared limit is unavailable, and it fails closed: ")
    );
    assert_eq!(pipe.health(), Health::Degraded);
    let again = pipe.acquire().await.unwrap_err();
    assert!(
        matches!(again, Error::Unavailable { .. }),
        "refused at once while down"
    );

    let _counted = counted_in_redis_after_a_restart(&mut server, &pipe).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_grants_past_the_global_limit_while_redis_is_down() {
    let Some(mut server) = Server::start("fail_open_grants_past_the_global_limit") else {
        return;
    };
    let pipe = builder(&server, 2)
        .local_limit(5)
        .outage(OutagePolicy::FailOpen)
        .build()
        .unwrap();
    health(&pipe, Health::Connected).await;
    server.kill();
    let mut open = Vec::new();
    for _ in 0..5 {
        let permit = pipe.acquire().await.unwrap();
        assert_eq!(permit.granted_by(), GrantedBy::Open);
        assert_eq!(permit.fencing_token(), None);
        open.push(permit);
    }
    // The local queue in front still bounds this process.
    assert!(
        pipe.acquire().now_or_never().is_none(),
        "local_limit 5 holds"
    );

    drop(open);
    let _counted = counted_in_redis_after_a_restart(&mut server, &pipe).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_limit_counts_locally_while_redis_is_down() {
    let Some(mut server) = Server::start("the_fallback_limit_counts_locally") else {
        return;
    };
    let pipe = limiter(&server, 4, OutagePolicy::Fallback { limit: 2 });
    health(&pipe, Health::Connected).await;
    server.kill();
    let first = pipe.acquire().await.unwrap();
    let second = pipe.acquire().await.unwrap();
    assert_eq!(
        (first.granted_by(), second.granted_by()),
        (GrantedBy::Fallback, GrantedBy::Fallback)
    );
    let mut third = Box::pin(pipe.acquire());
    assert!(
        (&mut third).now_or_never().is_none(),
        "the fallback limit of 2 holds"
    );
    drop(first);
    let third = within(BOUND, "the third fallback permit", third)
        .await
        .unwrap();
    assert_eq!(third.granted_by(), GrantedBy::Fallback);

    let _counted = counted_in_redis_after_a_restart(&mut server, &pipe).await;
    assert_eq!(
        holders(&server),
        1,
        "fallback permits are not counted in Redis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_that_lost_the_data_no_permit_is_counted_twice() {
    let Some(mut server) = Server::start("after_a_restart_no_permit_is_counted_twice") else {
        return;
    };
    let limit = 3;
    let a = limiter(&server, limit, OutagePolicy::FailClosed);
    let b = builder(&server, limit)
        .queue_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    health(&a, Health::Connected).await;
    let held = hold_all(&a, limit).await;
    let before: BTreeSet<u64> = held.iter().map(|p| p.fencing_token().unwrap()).collect();
    assert_eq!(before.len(), limit);

    server.kill();
    server.restart();
    // Another replica asks for every slot while the first one's holders find their leases gone:
    // each holder either takes its slot back (a slot free, nobody waiting) or is told it lost it.
    health(&b, Health::Connected).await;
    let taken: Vec<Result<RedisPermit, Error>> =
        futures::future::join_all((0..limit).map(|_| b.acquire())).await;
    within(BOUND, "every holder's renewal after the restart", async {
        loop {
            let in_redis = fences(&server);
            if held
                .iter()
                .all(|p| p.lease_lost() || in_redis.contains(&p.fencing_token().unwrap()))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let mut granted_to_b = BTreeSet::new();
    for result in &taken {
        match result {
            Ok(permit) => {
                granted_to_b.insert(permit.fencing_token().unwrap());
            }
            Err(err) => assert!(matches!(err, Error::QueueTimeout { .. }), "{err}"),
        }
    }
    let kept: BTreeSet<u64> = held
        .iter()
        .filter(|p| !p.lease_lost())
        .map(|p| p.fencing_token().unwrap())
        .collect();
    let in_redis = fences(&server);
    let holders = holders(&server);
    eprintln!(
        "restart: {} re-registered, {} lost, {} granted anew",
        kept.len(),
        limit - kept.len(),
        granted_to_b.len()
    );
    assert_eq!(
        in_redis,
        kept.union(&granted_to_b).copied().collect(),
        "Redis counts exactly the kept and the new permits"
    );
    assert_eq!(holders, in_redis.len());
    assert!(holders <= limit, "{holders} slots counted at limit {limit}");
    assert_eq!(kept.len() + granted_to_b.len(), limit, "no slot stays free");
    assert!(
        granted_to_b
            .iter()
            .all(|&new| new > *before.last().unwrap()),
        "tokens keep growing across the restart: {before:?} then {granted_to_b:?}"
    );
    drop((held, taken));
    within(BOUND, "every slot released", async {
        while !fences(&server).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_cut_off_from_redis_for_a_whole_lease_learns_it_lost_the_lease() {
    let Some(server) = Server::start("a_holder_cut_off_for_a_whole_lease") else {
        return;
    };
    let client = redis::Client::open(server.url()).expect("url");
    let pipe = RedisBagpipe::builder(client, "db", 1)
        .lease(Duration::from_millis(900))
        .redis_timeout(Duration::from_millis(150))
        .poll_interval(Duration::from_millis(100))
        .heartbeat(Duration::from_millis(100))
        .build()
        .unwrap();
    let lost = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lost);
    pipe.events().on(Event::LEASE_LOST, move |event: &Event| {
        if let Event::LeaseLost { fencing_token } = event {
            sink.lock().unwrap().push(*fencing_token);
        }
    });
    let permit = pipe.acquire().await.unwrap();
    let token = permit.fencing_token().unwrap();
    // Every command waits 3 s: the renewals time out for more than a lease.
    server.pause(3_000);
    within(BOUND, "lease_lost", async {
        while !permit.lease_lost() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(*lost.lock().unwrap(), [token]);
    health(&pipe, Health::Connected).await;
    drop(permit);
    let next = within(BOUND, "the next permit", pipe.acquire())
        .await
        .unwrap();
    assert!(next.fencing_token().unwrap() > token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_holders_take_their_free_slots_back_once_each() {
    let Some(mut server) = Server::start("after_a_restart_holders_take_their_slots_back") else {
        return;
    };
    let limit = 3;
    let a = limiter(&server, limit, OutagePolicy::FailClosed);
    health(&a, Health::Connected).await;
    let held = hold_all(&a, limit).await;
    let before: BTreeSet<u64> = held.iter().map(|p| p.fencing_token().unwrap()).collect();

    server.kill();
    server.restart();
    // Nobody else asks: every holder's next renewal takes its slot back, under its own id.
    within(BOUND, "the holders' renewals", async {
        while fences(&server) != before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(held.iter().all(|p| !p.lease_lost()));
    assert_eq!(holders(&server), limit, "each holder counted once");

    let b = builder(&server, limit)
        .queue_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = b.acquire().await.unwrap_err();
    assert!(
        matches!(err, Error::QueueTimeout { .. }),
        "the limit is full: {err}"
    );
    let mut held = held;
    drop(held.pop());
    let next = within(BOUND, "the freed slot", async {
        loop {
            match b.acquire().await {
                Ok(permit) => break permit,
                Err(Error::QueueTimeout { .. }) => {}
                Err(other) => panic!("{other}"),
            }
        }
    })
    .await;
    assert!(next.fencing_token().unwrap() > *before.last().unwrap());
}
