//! `service` processes as replicas under one database limit counted in Redis: the limit holds
//! across them, a Redis outage follows the chosen policy, a replica killed under load loses no
//! acknowledged write while its permits come back within a lease, and the `cluster` binary
//! checks all of it on three replicas.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::{HttpClient, LimitOutage, peak_concurrency, read_query_log};
use hyper::{Method, StatusCode};

use crate::cluster::{Replicas, get_json, ready};
use crate::json;
use crate::postgres::Schema;
use crate::process::ServiceProcess;
use nodebook_test_support::redis::redis_server_on_path;

/// A failure bound, never a delay the tests wait out.
const BOUND: Duration = Duration::from_secs(30);

/// The slots of the global limit that Redis counts now: holders whose lease has not ended on
/// the server's clock (an ended one is removed by the next script any replica runs).
async fn held_in_redis(redis: &str, namespace: &str) -> u64 {
    let client = redis::Client::open(redis).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let script = redis::Script::new(
        "local t = redis.call('TIME') \
         local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
         return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')",
    );
    script
        .key(format!("bagpipe:{{{namespace}:db}}:holders"))
        .invoke_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn replicas_put_at_most_the_global_limit_on_the_database_together() {
    let Some(replicas) = Replicas::start_with("global_limit", 2, |dir| {
        let log = dir.join("queries.log").to_str().unwrap().to_owned();
        [
            "--connections",
            "2",
            "--db-latency",
            "50ms",
            "--query-log",
            &log,
        ]
        .map(str::to_owned)
        .to_vec()
    })
    .await
    else {
        return;
    };
    let client = &replicas.client;
    let logs: Vec<_> = (0..2)
        .map(|i| replicas.dir(i).join("queries.log"))
        .collect();

    // 24 cold articles, half asked of each replica at once: each replica alone would run 2.
    let crowd = (1..=24).map(|id| {
        let replica = &replicas.list[id % 2].url;
        let (client, url) = (client.clone(), format!("{replica}/articles/{id}"));
        async move { client.get(&url).await.unwrap().status }
    });
    let statuses = futures::future::join_all(crowd).await;

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let mut intervals = Vec::new();
    for log in &logs {
        intervals.extend(read_query_log(log).unwrap());
    }
    assert_eq!(intervals.len(), 24, "one query per cold article");
    assert_eq!(
        peak_concurrency(&intervals),
        2,
        "the two replicas together ran at most (and, queued, exactly) the limit at once"
    );
    let stats = get_json(client, &format!("{}/stats", replicas.list[0].url)).await;
    let global = &stats["global_limit"];
    assert_eq!(global["connected"], true, "{stats}");
    assert_eq!(global["outage"], "fallback");
    assert_eq!(global["held"], 0);
    assert_eq!(global["lease_lost"], 0);
    assert_eq!(stats["bagpipe"]["limit"], 2);
    assert_eq!(stats["bagpipe"]["admitted"], 12);
    let metrics = client
        .get(&format!("{}/metrics", replicas.list[1].url))
        .await
        .unwrap()
        .text();
    for series in [
        "bagpipe_global_connected 1",
        "bagpipe_global_held 0",
        "bagpipe_global_lease_lost_total 0",
        "bagpipe_global_grants_total{by=\"redis\"} 12",
        "bagpipe_global_grants_total{by=\"fallback\"} 0",
    ] {
        assert!(metrics.contains(series), "{series} missing in\n{metrics}");
    }

    replicas.stop().await;
}

#[tokio::test]
async fn with_redis_away_the_limit_follows_the_outage_policy() {
    // Nothing listens on port 1.
    let unreachable = Some("redis://127.0.0.1:1".to_owned());
    let fallback = crate::start(|config| {
        config.redis_url.clone_from(&unreachable);
        config.global_limit.replicas_expected = 4;
        config.store.connections = 8;
    })
    .await;
    let closed = crate::start(|config| {
        config.redis_url.clone_from(&unreachable);
        config.global_limit.outage = LimitOutage::Closed;
    })
    .await;

    let served = fallback.get("/articles/3").await;
    let refused = closed.get("/articles/3").await;

    assert_eq!(served.status, StatusCode::OK, "{}", served.text());
    let stats = json(&fallback.get("/stats").await);
    assert_eq!(stats["global_limit"]["connected"], false);
    assert_eq!(stats["global_limit"]["fallback_limit"], 2, "8 / 4 replicas");
    assert_eq!(stats["global_limit"]["fallback_grants"], 1);
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers.contains_key("retry-after"));
    assert!(
        refused.text().contains("database limit unavailable"),
        "{}",
        refused.text()
    );
    let stats = json(&closed.get("/stats").await);
    assert_eq!(stats["global_limit"]["unavailable"], 1);
    fallback.shut_down().await;
    closed.shut_down().await;
}

/// Acknowledged writes: the highest version a 2xx answer gave for each id.
#[derive(Default, Clone)]
struct Acknowledged(Arc<Mutex<HashMap<u64, u64>>>);

impl Acknowledged {
    fn record(&self, id: u64, version: u64) {
        let mut map = self.0.lock().unwrap();
        let seen = map.entry(id).or_default();
        *seen = (*seen).max(version);
    }

    fn all(&self) -> Vec<(u64, u64)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect()
    }
}

/// PUTs to `id` on `url` until `stop`, recording each acknowledged version; ends at the first
/// request without an answer (its replica was killed) and returns the answers it got.
async fn write_until(
    client: HttpClient,
    url: String,
    id: u64,
    acked: Acknowledged,
    stop: Arc<AtomicBool>,
) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let body = format!(r#"{{"title":"write {}","body":"b"}}"#, statuses.len());
        let target = format!("{url}/articles/{id}");
        let sent = client.send(Method::PUT, &target, body.into());
        let Ok(Ok(answer)) = tokio::time::timeout(BOUND, sent).await else {
            break;
        };
        if answer.status.is_success() {
            acked.record(id, json(&answer)["version"].as_u64().unwrap());
        }
        statuses.push(answer.status);
    }
    statuses
}

#[tokio::test]
async fn a_replica_killed_under_load_loses_no_acknowledged_write_and_its_permits_return() {
    let lease = Duration::from_secs(2);
    let Some(mut replicas) = Replicas::start(
        "kill_replica",
        3,
        &[
            "--connections",
            "4",
            "--replicas-expected",
            "3",
            "--global-lease",
            "2s",
            "--db-latency",
            "20ms",
            // Waiting out a dead replica's lease must not time out.
            "--queue-timeout",
            "20s",
            "--query-timeout",
            "20s",
        ],
    )
    .await
    else {
        return;
    };
    let client = replicas.client.clone();
    let (redis, namespace) = (replicas.redis.clone(), replicas.namespace.clone().unwrap());
    // The victim leaves the list, which ends with the survivors.
    let victim = replicas.list.remove(0);
    let survivors = &replicas.list;
    // Warm articles 1..=20 on the survivors: their reads need no permit from here on.
    for replica in survivors {
        for id in 1..=20 {
            get_json(&client, &format!("{}/articles/{id}", replica.url)).await;
        }
    }

    // The survivors serve cached reads throughout; the victim writes with more writers than
    // the limit, so it holds every permit it can.
    let stop_reads = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = survivors
        .iter()
        .map(|replica| {
            let (client, url, stop) = (client.clone(), replica.url.clone(), stop_reads.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let id = statuses.len() % 20 + 1;
                    let target = format!("{url}/articles/{id}");
                    let got = tokio::time::timeout(BOUND, client.get(&target));
                    statuses.push(got.await.map_or(StatusCode::GATEWAY_TIMEOUT, |a| {
                        a.map_or(StatusCode::BAD_GATEWAY, |a| a.status)
                    }));
                }
                statuses
            })
        })
        .collect();
    let acked = Acknowledged::default();
    let stop_victim = Arc::new(AtomicBool::new(false));
    let victim_writers: Vec<_> = (0..12)
        .map(|n| {
            let url = victim.url.clone();
            tokio::spawn(write_until(
                client.clone(),
                url,
                5000 + n,
                acked.clone(),
                stop_victim.clone(),
            ))
        })
        .collect();
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let stats = get_json(&client, &format!("{}/stats", victim.url)).await;
        if stats["global_limit"]["held"].as_u64().unwrap() >= 1 && acked.all().len() >= 6 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the victim never held a permit: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    victim.signal("KILL").await;
    let killed = tokio::time::Instant::now();
    let held_at_kill = held_in_redis(&redis, &namespace).await;
    for writer in victim_writers {
        writer.await.unwrap();
    }

    // Nobody else holds a permit, so what Redis counts is the dead replica's, until its
    // leases end.
    assert!(
        held_at_kill >= 1,
        "the victim's permits are counted at first"
    );
    let returned = loop {
        if held_in_redis(&redis, &namespace).await == 0 {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < BOUND,
            "the dead replica's permits never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        returned <= lease + Duration::from_secs(1),
        "the dead replica's permits came back after {returned:?}, more than a lease (2 s) + 1 s"
    );

    // The survivors use the whole limit again: writes and cold reads, all answered.
    let stop_writes = Arc::new(AtomicBool::new(false));
    let survivor_writers: Vec<_> = (0..8)
        .map(|n| {
            let url = survivors[(n % 2) as usize].url.clone();
            tokio::spawn(write_until(
                client.clone(),
                url,
                6000 + n,
                acked.clone(),
                stop_writes.clone(),
            ))
        })
        .collect();
    for id in 100..140 {
        let replica = &survivors[id % 2];
        get_json(&client, &format!("{}/articles/{id}", replica.url)).await;
    }
    stop_writes.store(true, Ordering::Relaxed);
    stop_reads.store(true, Ordering::Relaxed);
    for writer in survivor_writers {
        let statuses = writer.await.unwrap();
        assert!(!statuses.is_empty());
        assert!(statuses.iter().all(StatusCode::is_success), "{statuses:?}");
    }
    for reader in readers {
        let statuses = reader.await.unwrap();
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "a survivor failed a read: {statuses:?}"
        );
    }

    // Every acknowledged write is there, at its version or later, on every survivor.
    let written = acked.all();
    assert!(written.len() >= 6 + 8, "{written:?}");
    for replica in survivors {
        for (id, version) in &written {
            let row = get_json(&client, &format!("{}/articles/{id}", replica.url)).await;
            assert!(
                row["version"].as_u64().unwrap() >= *version,
                "article {id}: acknowledged version {version}, {} serves {row}",
                replica.url
            );
        }
        let stats = get_json(&client, &format!("{}/stats", replica.url)).await;
        assert_eq!(stats["global_limit"]["lease_lost"], 0, "{stats}");
    }
    drop(victim);
    replicas.stop().await;
}

#[tokio::test]
async fn the_cluster_binary_checks_queries_the_global_limit_and_bridged_events() {
    let test = "cluster_binary";
    if redis_server_on_path(test).is_none() {
        return;
    }
    // Only to learn whether PostgreSQL answers (or to skip); the binary makes its own schema.
    let Some(schema) = Schema::create(test).await else {
        return;
    };
    schema.drop_all().await;

    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_cluster"))
        .args(["--articles", "60", "--writes", "12", "--connections", "3"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run)
        .await
        .expect("the cluster run ends")
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);

    assert_eq!(output.status.code(), Some(0), "{printed}");
    for line in [
        "ok    one database query per cold article in total: 60 queries for 60 articles",
        "ok    at most the global limit of 3 database calls at once across the replicas",
        "ok    every update reached the event subscriber of every replica: 12, 12, 12 of 12 each",
        "ok    every request answered: 0 of 180 reads failed, 0 of 12 writes failed",
    ] {
        assert!(printed.contains(line), "{line:?} missing in\n{printed}");
    }
    let total = printed
        .lines()
        .find(|line| line.starts_with("total"))
        .unwrap_or_else(|| panic!("no total line in\n{printed}"));
    assert!(total.contains("1.00"), "{total}");
}

/// Polls `/readyz` until its status is `status`, and returns its body.
async fn readyz_until(client: &HttpClient, replica: &ServiceProcess, status: StatusCode) -> String {
    let url = format!("{}/readyz", replica.url);
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let answer = client.get(&url).await.unwrap();
        if answer.status == status {
            return answer.text();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} never answered {status}: {}",
            answer.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn redis_killed_and_restarted_the_limit_falls_back_then_counts_in_redis_again() {
    let test = "limit_outage";
    let Some(mut redis) = nodebook_test_support::redis::Server::start(test) else {
        return;
    };
    let flags = ["--connections", "4", "--replicas-expected", "2"].map(str::to_owned);
    let Some(replicas) = Replicas::start_on(test, redis.url(), None, 1, |_| flags.to_vec()).await
    else {
        return;
    };
    let (replica, client) = (&replicas.list[0], &replicas.client);
    get_json(client, &format!("{}/articles/1", replica.url)).await;

    redis.kill();
    // A cold read finds Redis gone: served under the fallback share (4 / 2).
    let served = get_json(client, &format!("{}/articles/2", replica.url)).await;
    assert_eq!(served["id"], 2);
    let stats = get_json(client, &format!("{}/stats", replica.url)).await;
    let global = &stats["global_limit"];
    assert_eq!(global["connected"], false, "{stats}");
    assert_eq!(global["fallback_limit"], 2);
    assert_eq!(global["fallback_grants"], 1, "{stats}");
    readyz_until(client, replica, StatusCode::SERVICE_UNAVAILABLE).await;

    redis.restart();
    ready(client, replica).await;
    get_json(client, &format!("{}/articles/3", replica.url)).await;
    let stats = get_json(client, &format!("{}/stats", replica.url)).await;
    let global = &stats["global_limit"];
    assert_eq!(global["connected"], true, "{stats}");
    assert_eq!(
        global["fallback_grants"], 1,
        "the third read was counted in Redis: {stats}"
    );
    assert_eq!(stats["bagpipe"]["admitted"], 3, "{stats}");

    replicas.stop().await;
}
