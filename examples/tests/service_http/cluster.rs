//! Two `service` processes as replicas of one service: one PostgreSQL schema and one Redis
//! namespace between them.

use std::time::Duration;

use examples::HttpClient;
use hyper::{Method, StatusCode};

use crate::json;
use crate::postgres::Schema;
use crate::process::{ServiceProcess, spawn_service_at};
use nodebook_test_support::redis::{namespace, shared_redis};

const BOUND: Duration = Duration::from_secs(30);

pub(crate) async fn get_json(client: &HttpClient, url: &str) -> serde_json::Value {
    let answer = client.get(url).await.unwrap();
    assert_eq!(answer.status, StatusCode::OK, "{url}: {}", answer.text());
    json(&answer)
}

/// Polls `/readyz` until it answers 200 (Redis subscribed, database reachable).
pub(crate) async fn ready(client: &HttpClient, replica: &ServiceProcess) {
    let url = format!("{}/readyz", replica.url);
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let answer = client.get(&url).await.unwrap();
        if answer.status == StatusCode::OK {
            let ready = json(&answer);
            for part in ["redis", "global_limit", "bridge"] {
                assert_eq!(ready[part], "ok", "{ready}");
            }
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never became ready: {}",
            replica.url,
            answer.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn queries(client: &HttpClient, replicas: &[&ServiceProcess]) -> u64 {
    let mut total = 0;
    for replica in replicas {
        let stats = get_json(client, &format!("{}/stats", replica.url)).await;
        total += stats["database"]["queries"].as_u64().unwrap();
    }
    total
}

#[tokio::test]
async fn two_replicas_query_a_cold_article_once_and_see_each_others_writes() {
    let test = "two_replicas";
    let Some(redis) = shared_redis(test) else {
        return;
    };
    let Some(schema) = Schema::create(test).await else {
        return;
    };
    let namespace = namespace(test);
    let flags = [
        "--database-url",
        &schema.url,
        "--redis",
        &redis,
        "--redis-namespace",
        &namespace,
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = spawn_service_at(dir_a.path(), 1024, &flags, "warn").await;
    let b = spawn_service_at(dir_b.path(), 1024, &flags, "warn").await;
    let client = HttpClient::new();
    ready(&client, &a).await;
    ready(&client, &b).await;

    // A cold article read on one replica, then on the other: one query in all.
    let on_a = get_json(&client, &format!("{}/articles/42", a.url)).await;
    let on_b = get_json(&client, &format!("{}/articles/42", b.url)).await;
    assert_eq!(on_a, on_b);
    assert_eq!(queries(&client, &[&a, &b]).await, 1);

    // A crowd on both replicas at once on another cold article: one more query in all.
    let crowd = (0..40).map(|n| {
        let replica = if n % 2 == 0 { &a.url } else { &b.url };
        let (client, url) = (client.clone(), format!("{replica}/articles/43"));
        async move { client.get(&url).await.unwrap().status }
    });
    let statuses = futures::future::join_all(crowd).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(queries(&client, &[&a, &b]).await, 2);

    // A write on A reaches B, which had the old row cached.
    let put = client
        .send(
            Method::PUT,
            &format!("{}/articles/42", a.url),
            r#"{"title":"Written on A","body":"b"}"#.into(),
        )
        .await
        .unwrap();
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    // The invalidation travels over pub/sub; B drops its copy when the message arrives.
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let seen = get_json(&client, &format!("{}/articles/42", b.url)).await;
        if seen["title"] == "Written on A" {
            assert_eq!(seen["version"], 2);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B still serves {seen} after A's write"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // An absence remembered on both replicas ends on both when A creates the row.
    let before = queries(&client, &[&a, &b]).await;
    for replica in [&a, &b] {
        let missing = client
            .get(&format!("{}/articles/7000", replica.url))
            .await
            .unwrap();
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        queries(&client, &[&a, &b]).await,
        before + 1,
        "one query for the absence"
    );
    let created = client
        .send(
            Method::PUT,
            &format!("{}/articles/7000", a.url),
            r#"{"title":"Created on A","body":"b"}"#.into(),
        )
        .await
        .unwrap();
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let seen = client
            .get(&format!("{}/articles/7000", b.url))
            .await
            .unwrap();
        if seen.status == StatusCode::OK {
            assert_eq!(json(&seen)["title"], "Created on A");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B still answers {} after A created the row",
            seen.status
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let stats_b = get_json(&client, &format!("{}/stats", b.url)).await;
    assert!(stats_b["redis"]["invalidations_received"].as_u64().unwrap() >= 1);
    let metrics = client
        .get(&format!("{}/metrics", b.url))
        .await
        .unwrap()
        .text();
    assert!(metrics.contains("cache_redis_connected 1"), "{metrics}");
    assert!(
        metrics.contains("cache_redis_reads_total{source=\"redis\"}"),
        "{metrics}"
    );

    a.signal("TERM").await;
    b.signal("TERM").await;
    drop((a, b));
    schema.drop_all().await;
}

#[tokio::test]
async fn with_redis_unreachable_readyz_says_so_and_articles_are_still_served() {
    // Nothing listens on port 1.
    let app =
        crate::start(|config| config.redis_url = Some("redis://127.0.0.1:1".to_owned())).await;

    let ready = app.get("/readyz").await;
    let article = app.get("/articles/3").await;

    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.text().contains("Redis is not reachable"),
        "{}",
        ready.text()
    );
    assert_eq!(article.status, StatusCode::OK, "{}", article.text());
    let stats = json(&app.get("/stats").await);
    assert_eq!(stats["redis"]["connected"], false);
    assert_eq!(stats["redis"]["degraded_loads"], 1);
    app.shut_down().await;
}
