//! Two `service` processes as replicas of one service: one PostgreSQL schema and one Redis
//! namespace between them.

use std::path::Path;
use std::time::Duration;

use examples::{HttpAnswer, HttpClient};
use hyper::{Method, StatusCode};

use crate::json;
use crate::postgres::Schema;
use crate::process::{ServiceProcess, spawn_service_at};
use nodebook_test_support::redis::{namespace, shared_redis};

const BOUND: Duration = Duration::from_secs(30);

/// Replicas of one service started for a test, each ready: one PostgreSQL schema between them,
/// and one Redis (in a namespace of the test's own on the machine's server).
pub(crate) struct Replicas {
    pub(crate) list: Vec<ServiceProcess>,
    pub(crate) client: HttpClient,
    pub(crate) schema: Schema,
    pub(crate) redis: String,
    pub(crate) namespace: Option<String>,
    dirs: Vec<tempfile::TempDir>,
}

impl Replicas {
    /// `count` replicas on the machine's Redis and PostgreSQL with `extra` flags; `None` (after
    /// saying why) where either is absent.
    pub(crate) async fn start(test: &str, count: usize, extra: &[&str]) -> Option<Self> {
        let extra: Vec<String> = extra.iter().map(ToString::to_string).collect();
        Self::start_with(test, count, |_| extra.clone()).await
    }

    /// As [`start`](Self::start), each replica with the extra flags `flags` gives for its data
    /// directory.
    pub(crate) async fn start_with(
        test: &str,
        count: usize,
        flags: impl Fn(&Path) -> Vec<String>,
    ) -> Option<Self> {
        let redis = shared_redis(test)?;
        Self::start_on(test, redis, Some(namespace(test)), count, flags).await
    }

    /// `count` replicas on the Redis at `redis` (in `namespace`, if given; a server of the
    /// test's own needs none), each with the extra flags `flags` gives for its data directory.
    pub(crate) async fn start_on(
        test: &str,
        redis: String,
        namespace: Option<String>,
        count: usize,
        flags: impl Fn(&Path) -> Vec<String>,
    ) -> Option<Self> {
        let schema = Schema::create(test).await?;
        let dirs: Vec<_> = (0..count).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut list = Vec::new();
        for dir in &dirs {
            let mut all = vec!["--database-url", &schema.url, "--redis", &redis];
            if let Some(namespace) = &namespace {
                all.extend(["--redis-namespace", namespace]);
            }
            let extra = flags(dir.path());
            all.extend(extra.iter().map(String::as_str));
            list.push(spawn_service_at(dir.path(), 1024, &all, "warn").await);
        }
        let client = HttpClient::new();
        for replica in &list {
            ready(&client, replica).await;
        }
        Some(Self {
            list,
            client,
            schema,
            redis,
            namespace,
            dirs,
        })
    }

    /// The first two replicas.
    pub(crate) fn pair(&self) -> (&ServiceProcess, &ServiceProcess) {
        (&self.list[0], &self.list[1])
    }

    /// The data directory of replica `i`.
    pub(crate) fn dir(&self, i: usize) -> &Path {
        self.dirs[i].path()
    }

    /// Stops every replica still in the list (TERM) and drops the schema.
    pub(crate) async fn stop(self) {
        for replica in &self.list {
            replica.signal("TERM").await;
        }
        drop(self.list);
        self.schema.drop_all().await;
    }
}

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

/// Writes article `id` with `title` on `replica`.
pub(crate) async fn put_article(
    client: &HttpClient,
    replica: &ServiceProcess,
    id: u64,
    title: &str,
) -> HttpAnswer {
    let body = serde_json::json!({ "title": title, "body": "b" }).to_string();
    client
        .send(
            Method::PUT,
            &format!("{}/articles/{id}", replica.url),
            body.into(),
        )
        .await
        .unwrap()
}

/// Tries `check` every 10 ms until it gives a value; fails after [`BOUND`] with what the last
/// try saw (for what another replica learns over Redis, in its own time).
pub(crate) async fn eventually<T>(mut check: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                tokio::time::Instant::now() < deadline,
                "not within {BOUND:?}: {seen}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
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
    let Some(replicas) = Replicas::start(test, 2, &[]).await else {
        return;
    };
    let ((a, b), client) = (replicas.pair(), &replicas.client);

    // A cold article read on one replica, then on the other: one query in all.
    let on_a = get_json(client, &format!("{}/articles/42", a.url)).await;
    let on_b = get_json(client, &format!("{}/articles/42", b.url)).await;
    assert_eq!(on_a, on_b);
    assert_eq!(queries(client, &[a, b]).await, 1);

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
    assert_eq!(queries(client, &[a, b]).await, 2);

    // A write on A reaches B, which had the old row cached.
    let put = put_article(client, a, 42, "Written on A").await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    // The invalidation travels over pub/sub; B drops its copy when the message arrives.
    let seen = eventually(async || {
        let seen = get_json(client, &format!("{}/articles/42", b.url)).await;
        if seen["title"] == "Written on A" {
            Ok(seen)
        } else {
            Err(format!("B still serves {seen} after A's write"))
        }
    })
    .await;
    assert_eq!(seen["version"], 2);

    // An absence remembered on both replicas ends on both when A creates the row.
    let before = queries(client, &[a, b]).await;
    for replica in [a, b] {
        let missing = client
            .get(&format!("{}/articles/7000", replica.url))
            .await
            .unwrap();
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        queries(client, &[a, b]).await,
        before + 1,
        "one query for the absence"
    );
    let created = put_article(client, a, 7000, "Created on A").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let seen = eventually(async || {
        let seen = client
            .get(&format!("{}/articles/7000", b.url))
            .await
            .unwrap();
        if seen.status == StatusCode::OK {
            Ok(json(&seen))
        } else {
            Err(format!(
                "B still answers {} after A created the row",
                seen.status
            ))
        }
    })
    .await;
    assert_eq!(seen["title"], "Created on A");

    let stats_b = get_json(client, &format!("{}/stats", b.url)).await;
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

    replicas.stop().await;
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
