//! What must hold on either database, each test run once on SQLite and once on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use examples::{HttpClient, POEM};
use hyper::{Method, StatusCode};

use crate::process::spawn_service_at;
use crate::{json, start_on};

/// Runs `scenario` on SQLite and on a PostgreSQL schema of its own (skipped, with a note, when
/// PostgreSQL is absent, unless `NODEBOOK_REQUIRE_POSTGRES=1`).
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                super::$scenario(None).await;
            }

            #[tokio::test]
            async fn postgres() {
                let test = stringify!($scenario);
                if let Some(schema) = crate::postgres::Schema::create(test).await {
                    super::$scenario(Some(&schema.url)).await;
                    schema.drop_all().await;
                }
            }
        }
    )*};
}

on_both_backends!(
    reads_are_cached_and_writes_replace_and_create,
    an_absent_id_costs_one_query_until_it_is_written,
    imports_are_stored_and_read_back,
    a_kill_9_loses_no_acknowledged_write,
);

async fn reads_are_cached_and_writes_replace_and_create(url: Option<&str>) {
    let app = start_on(url, |_| {}).await;

    let first = app.get("/articles/7").await;
    let again = app.get("/articles/7").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(json(&first)["title"], "Article 7");
    assert_eq!(json(&again), json(&first));
    assert_eq!(json(&app.get("/stats").await)["database"]["queries"], 1);

    let replaced = app
        .send(
            Method::PUT,
            "/articles/7",
            r#"{"title":"Frost","body":"b"}"#,
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(json(&replaced)["version"], 2);
    assert_eq!(json(&app.get("/articles/7").await)["title"], "Frost");

    let created = app
        .send(
            Method::PUT,
            "/articles/5000",
            r#"{"title":"New","body":"b"}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(json(&created)["version"], 1);
    assert_eq!(json(&app.get("/articles/5000").await)["title"], "New");

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
    app.shut_down().await;
}

async fn an_absent_id_costs_one_query_until_it_is_written(url: Option<&str>) {
    let app = start_on(url, |_| {}).await;

    for _ in 0..5 {
        assert_eq!(
            app.get("/articles/6000").await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(json(&app.get("/stats").await)["database"]["queries"], 1);
    let created = app
        .send(
            Method::PUT,
            "/articles/6000",
            r#"{"title":"Here","body":"b"}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);

    let read = app.get("/articles/6000").await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(json(&read)["title"], "Here");
    app.shut_down().await;
}

async fn imports_are_stored_and_read_back(url: Option<&str>) {
    let app = start_on(url, |_| {}).await;
    let (gbk, _, _) = encoding_rs::GBK.encode(POEM);

    let answer = app
        .send(Method::POST, "/import?charset=gbk", gbk.into_owned())
        .await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let id = json(&answer)["id"].as_i64().unwrap();
    let stored = app.service.database().import(id).await.unwrap();
    assert_eq!(stored.as_deref(), Some(POEM));
    app.shut_down().await;
}

/// Writers keep writing while the process is killed with SIGKILL; after a restart on the same
/// database every write that was answered 200 or 201 is there, at its version or a later one.
async fn a_kill_9_loses_no_acknowledged_write(url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let flags: Vec<&str> = url.map_or_else(Vec::new, |url| vec!["--database-url", url]);
    let mut service = spawn_service_at(dir.path(), 1024, &flags, "warn").await;
    let acknowledged = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (1..=4_u64)
        .map(|writer| {
            let (client, base) = (HttpClient::new(), service.url.clone());
            let acknowledged = Arc::clone(&acknowledged);
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for round in 1.. {
                    let id = writer * 100 + round % 10;
                    let body = format!(r#"{{"title":"w{writer} r{round}","body":"b"}}"#);
                    let url = format!("{base}/articles/{id}");
                    match client.send(Method::PUT, &url, body.into()).await {
                        Ok(answer) if answer.status.is_success() => {
                            acked.push((id, round, json(&answer)["version"].as_u64().unwrap()));
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                        }
                        // The process is gone: the answer never came, nothing was promised.
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    crate::eventually("200 writes acknowledged", || {
        acknowledged.load(Ordering::SeqCst) >= 200
    })
    .await;

    service.signal("KILL").await;
    assert_eq!(service.exit_code().await, None, "killed by a signal");
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.unwrap());
    }
    let restarted = spawn_service_at(dir.path(), 1024, &flags, "warn").await;

    let client = HttpClient::new();
    // The last acknowledged write of each id is the one to find.
    let mut last = std::collections::HashMap::new();
    for (id, round, version) in &acked {
        last.insert(*id, (*round, *version));
    }
    assert!(last.len() >= 4, "{last:?}");
    for (id, (round, version)) in last {
        let row = client
            .get(&format!("{}/articles/{id}", restarted.url))
            .await
            .unwrap();
        assert_eq!(row.status, StatusCode::OK, "article {id}: {}", row.text());
        let row = json(&row);
        let writer = id / 100;
        assert!(
            row["version"].as_u64().unwrap() >= version,
            "article {id} lost version {version}: {row}"
        );
        // A write sent but never answered may have landed too: never an older one.
        let title = row["title"].as_str().unwrap();
        let seen_round: u64 = title
            .strip_prefix(&format!("w{writer} r"))
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("article {id} has a title no writer wrote: {title}"));
        assert!(
            seen_round >= round,
            "article {id}: {title} is older than r{round}"
        );
    }
    restarted.signal("TERM").await;
}
