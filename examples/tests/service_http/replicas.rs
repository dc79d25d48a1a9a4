//! `service` processes as replicas under one database limit counted in Redis: the limit holds
//! across them, and a Redis outage follows the chosen policy.

use examples::{HttpClient, LimitOutage, peak_concurrency, read_query_log};
use hyper::StatusCode;

use crate::cluster::{get_json, ready, shared_redis};
use crate::json;
use crate::postgres::Schema;
use crate::process::spawn_service_at;

fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("nbtest:{test}:{}:{nanos}", std::process::id())
}

#[tokio::test]
async fn replicas_put_at_most_the_global_limit_on_the_database_together() {
    let test = "global_limit";
    let Some(redis) = shared_redis(test).await else {
        return;
    };
    let Some(schema) = Schema::create(test).await else {
        return;
    };
    let namespace = namespace(test);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let logs: Vec<_> = dirs.iter().map(|d| d.path().join("queries.log")).collect();
    let mut replicas = Vec::new();
    for (dir, log) in dirs.iter().zip(&logs) {
        let log = log.to_str().unwrap();
        let flags = [
            "--database-url",
            &schema.url,
            "--redis",
            &redis,
            "--redis-namespace",
            &namespace,
            "--connections",
            "2",
            "--db-latency",
            "50ms",
            "--query-log",
            log,
        ];
        replicas.push(spawn_service_at(dir.path(), 1024, &flags, "warn").await);
    }
    let client = HttpClient::new();
    for replica in &replicas {
        ready(&client, replica).await;
    }

    // 24 cold articles, half asked of each replica at once: each replica alone would run 2.
    let crowd = (1..=24).map(|id| {
        let replica = &replicas[id % 2].url;
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
    let stats = get_json(&client, &format!("{}/stats", replicas[0].url)).await;
    let global = &stats["global_limit"];
    assert_eq!(global["connected"], true, "{stats}");
    assert_eq!(global["outage"], "fallback");
    assert_eq!(global["held"], 0);
    assert_eq!(global["lease_lost"], 0);
    assert_eq!(stats["bagpipe"]["limit"], 2);
    assert_eq!(stats["bagpipe"]["admitted"], 12);
    let metrics = client
        .get(&format!("{}/metrics", replicas[1].url))
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

    for replica in &replicas {
        replica.signal("TERM").await;
    }
    drop(replicas);
    schema.drop_all().await;
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
