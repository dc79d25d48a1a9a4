use std::time::Duration;

use bytes::Bytes;
use examples::{LoadPlan, POEM};
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};

use crate::{Running, json, start};

#[tokio::test]
async fn get_article_answers_the_seeded_row_and_caches_it() {
    let app = start(|_| {}).await;

    let first = app.get("/articles/1000").await;
    let second = app.get("/articles/1000").await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(json(&first)["title"], "Article 1000");
    assert_eq!(json(&second), json(&first));
    let stats = json(&app.get("/stats").await);
    assert_eq!(stats["database"]["queries"], 1);
    assert_eq!(stats["cache"]["hits"], 1);
    app.shut_down().await;
}

#[tokio::test]
async fn get_article_refuses_bad_ids_and_reports_missing_ones() {
    let app = start(|_| {}).await;

    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999999"] {
        let answer = app.get(&format!("/articles/{bad}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            answer.text().contains("positive integer"),
            "{}",
            answer.text()
        );
    }
    let missing = app.get("/articles/1001").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(json(&missing)["error"], "article 1001 not found");
    app.shut_down().await;
}

#[tokio::test]
async fn put_article_writes_and_the_next_read_sees_the_new_row() {
    let app = start(|_| {}).await;
    assert_eq!(json(&app.get("/articles/5").await)["version"], 1);

    let put = app
        .send(
            Method::PUT,
            "/articles/5",
            r#"{"title":"Quiet Night","body":"moonlight"}"#,
        )
        .await;

    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(json(&put)["version"], 2);
    let read = json(&app.get("/articles/5").await);
    assert_eq!(
        (read["title"].as_str(), read["version"].as_u64()),
        (Some("Quiet Night"), Some(2))
    );
    app.shut_down().await;
}

#[tokio::test]
async fn put_article_refuses_bad_bodies_and_unknown_ids() {
    let app = start(|_| {}).await;

    let garbage = app.send(Method::PUT, "/articles/5", "{title").await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(garbage.text().contains("body must be JSON"));
    let missing_field = app
        .send(Method::PUT, "/articles/5", r#"{"title":"x"}"#)
        .await;
    assert_eq!(missing_field.status, StatusCode::BAD_REQUEST);
    assert!(missing_field.text().contains("missing field `body`"));
    let beyond = app
        .send(
            Method::PUT,
            "/articles/9223372036854775808",
            r#"{"title":"x","body":"y"}"#,
        )
        .await;
    assert_eq!(beyond.status, StatusCode::BAD_REQUEST);
    app.shut_down().await;
}

#[tokio::test]
async fn an_absent_article_costs_one_query_and_a_put_creates_it_at_once() {
    let app = start(|_| {}).await;

    for _ in 0..5 {
        assert_eq!(
            app.get("/articles/4242").await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(json(&app.get("/stats").await)["database"]["queries"], 1);

    let created = app
        .send(Method::PUT, "/articles/4242", r#"{"title":"x","body":"y"}"#)
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(json(&created)["version"], 1);
    // Within the negative time-to-live, the write ended the cached absence.
    let read = app.get("/articles/4242").await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(json(&read)["title"], "x");
    let replaced = app
        .send(Method::PUT, "/articles/4242", r#"{"title":"z","body":"y"}"#)
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(json(&replaced)["version"], 2);
    app.shut_down().await;
}

#[tokio::test]
async fn events_deliver_an_update_as_server_sent_event() {
    let app = start(|_| {}).await;
    let events = app
        .client
        .open(Method::GET, &format!("{}/events", app.url), Bytes::new())
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    // The subscription exists once the headers are out: the handler subscribes before answering.
    let put = app
        .send(
            Method::PUT,
            "/articles/12",
            r#"{"title":"Night","body":"frost"}"#,
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);

    let mut body = events.into_body();
    let mut received = String::new();
    let delivery = async {
        while !received.contains("\n\n") || !received.contains("event: article.updated") {
            let frame = body.frame().await.expect("stream open").expect("frame");
            if let Some(data) = frame.data_ref() {
                received.push_str(&String::from_utf8_lossy(data));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), delivery)
        .await
        .expect("the update arrives");
    assert!(received.contains("event: article.updated\n"), "{received}");
    assert!(received.contains("id: 12.2\n"), "{received}");
    assert!(received.contains(r#""title":"Night""#), "{received}");
    drop(body);
    app.shut_down().await;
}

#[tokio::test]
async fn import_decodes_gbk_and_stores_utf8() {
    let app = start(|_| {}).await;
    let (gbk, _, _) = encoding_rs::GBK.encode(POEM);

    let answer = app
        .send(Method::POST, "/import?charset=gbk", gbk.into_owned())
        .await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let created = json(&answer);
    assert_eq!(created["charset"], "GBK");
    assert_eq!(created["chars"], POEM.chars().count());
    let id = created["id"].as_i64().unwrap();
    let stored = app.service.database().import(id).await.unwrap();
    assert_eq!(stored.as_deref(), Some(POEM));
    app.shut_down().await;
}

#[tokio::test]
async fn import_defaults_to_utf8() {
    let app = start(|_| {}).await;

    let answer = app.send(Method::POST, "/import", POEM).await;

    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(json(&answer)["bytes"], POEM.len());
    app.shut_down().await;
}

#[tokio::test]
async fn import_refuses_an_unknown_charset() {
    let app = start(|_| {}).await;

    let answer = app.send(Method::POST, "/import?charset=klingon", "x").await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("klingon"), "{}", answer.text());
    app.shut_down().await;
}

#[tokio::test]
async fn import_refuses_a_body_over_the_limit() {
    let app = start(|config| config.import_limit = 64).await;

    let at_limit = app.send(Method::POST, "/import", vec![b'a'; 64]).await;
    let over = app.send(Method::POST, "/import", vec![b'a'; 65]).await;

    assert_eq!(at_limit.status, StatusCode::CREATED);
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(over.text().contains("64 bytes"), "{}", over.text());
    app.shut_down().await;
}

#[tokio::test]
async fn files_streams_a_file_from_the_data_directory() {
    let app = start(|config| config.high_water_mark = 11).await;

    let poem = app.get("/files/poem.txt").await;
    let gbk = app.get("/files/poem.gbk.txt").await;

    assert_eq!(poem.status, StatusCode::OK);
    assert_eq!(poem.text(), POEM);
    assert_eq!(gbk.body, encoding_rs::GBK.encode(POEM).0.into_owned());
    app.shut_down().await;
}

#[tokio::test]
async fn files_refuses_path_traversal_and_reports_missing_files() {
    let app = start(|_| {}).await;

    for bad in ["..%2FCargo.toml", "%2E%2E", "a%5Cb", "poem.txt%00", "."] {
        let answer = app.get(&format!("/files/{bad}")).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.text()
        );
    }
    let missing = app.get("/files/nothing-here.txt").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.shut_down().await;
}

#[tokio::test]
async fn stats_show_the_limiter_the_cache_the_emitter_and_the_database() {
    let app = start(|config| config.store.connections = 3).await;
    app.get("/articles/1").await;
    app.get("/articles/1").await;
    app.send(Method::PUT, "/articles/1", r#"{"title":"t","body":"b"}"#)
        .await;

    let stats = json(&app.get("/stats").await);

    assert_eq!(stats["bagpipe"]["limit"], 3);
    assert_eq!(stats["bagpipe"]["admitted"], 2, "one read and one write");
    assert_eq!(stats["cache"]["hits"], 1);
    assert_eq!(
        stats["cache"]["removed"], 1,
        "the write invalidated the row"
    );
    assert_eq!(stats["emitter"]["emitted"], 1);
    assert_eq!(stats["database"]["queries"], 1);
    app.shut_down().await;
}

#[tokio::test]
async fn a_refusal_under_overload_is_503_with_retry_after() {
    let app = start(|config| {
        config.store.connections = 1;
        config.store.queue_length = 0;
        config.retry_after = Duration::from_secs(2);
    })
    .await;
    let held = app.hold_a_connection();

    let refused = app.get("/articles/10").await;

    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers["retry-after"], "2");
    assert!(
        refused.text().contains("database busy"),
        "{}",
        refused.text()
    );
    held.release().await;
    assert_eq!(app.get("/articles/10").await.status, StatusCode::OK);
    assert_eq!(json(&app.get("/stats").await)["bagpipe"]["refused"], 1);
    app.shut_down().await;
}

#[tokio::test]
async fn waiting_past_the_queue_deadline_is_504() {
    let app = start(|config| {
        config.store.connections = 1;
        config.store.queue_length = 4;
        config.store.queue_timeout = Duration::from_millis(50);
    })
    .await;
    let held = app.hold_a_connection();

    let late = app.get("/articles/11").await;

    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        late.text().contains("timed out after 50ms"),
        "{}",
        late.text()
    );
    held.release().await;
    app.shut_down().await;
}

#[tokio::test]
async fn shutdown_lets_a_running_request_finish_and_ends_event_streams() {
    let app = start(|config| config.store.connections = 1).await;
    let events = app
        .client
        .open(Method::GET, &format!("{}/events", app.url), Bytes::new())
        .await
        .unwrap();
    let held = app.hold_a_connection();
    let waiting = tokio::spawn({
        let (client, url) = (app.client.clone(), format!("{}/articles/3", app.url));
        async move { client.get(&url).await }
    });
    while app.service.store().limiter().queued() == 0 {
        tokio::task::yield_now().await;
    }

    app.signal();
    let Running {
        server, service, ..
    } = app;
    held.release().await;

    let answer = waiting.await.unwrap().unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    let rest = events.into_body().collect().await;
    assert!(rest.is_ok(), "the event stream ended cleanly");
    server.await.unwrap().unwrap();
    assert_eq!(service.store().limiter().active(), 0);
}

#[tokio::test]
async fn the_load_plan_counts_every_answer_and_the_queries_they_cost() {
    let app = start(|_| {}).await;

    let report = LoadPlan::new(app.url.clone())
        .paths(vec!["/articles/5".to_owned(), "/articles/0".to_owned()])
        .requests(40)
        .concurrency(8)
        .run()
        .await;

    assert_eq!(report.requests, 40);
    assert_eq!(report.failures, 0, "{:?}", report.first_failure);
    assert_eq!(report.statuses, [(200, 20), (400, 20)].into());
    assert_eq!(report.sqlite_queries, Some(1), "one miss, then the cache");
    assert!(report.p50 <= report.p99 && report.p99 <= report.max);
    app.shut_down().await;
}
