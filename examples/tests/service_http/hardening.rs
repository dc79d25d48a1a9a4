use std::time::Duration;

use bytes::Bytes;
use examples::{ArticleSource, HttpAnswer, POEM};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Running, eventually, json, start};

const BOUND: Duration = Duration::from_secs(60);

async fn connect(app: &Running) -> TcpStream {
    TcpStream::connect(app.url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; what it said before, if anything.
async fn read_to_close(socket: &mut TcpStream) -> String {
    let mut said = Vec::new();
    let closed = tokio::time::timeout(BOUND, socket.read_to_end(&mut said)).await;
    assert!(closed.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&said).into_owned()
}

/// A PUT whose head and first body bytes arrive, and then nothing.
async fn stalled_put(app: &Running) -> TcpStream {
    let mut socket = connect(app).await;
    let head = "PUT /articles/3 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                content-length: 100\r\n\r\n{\"title\":";
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
}

async fn open_events(app: &Running) -> hyper::Response<Incoming> {
    app.client
        .open(Method::GET, &format!("{}/events", app.url), Bytes::new())
        .await
        .unwrap()
}

/// Reads server-sent events until one whole `article.updated` event has arrived.
async fn next_update(body: &mut Incoming) -> String {
    let mut received = String::new();
    let arrival = async {
        loop {
            if let Some(start) = received.find("event: article.updated")
                && received[start..].contains("\n\n")
            {
                return;
            }
            let frame = body.frame().await.expect("stream open").expect("frame");
            if let Some(data) = frame.data_ref() {
                received.push_str(&String::from_utf8_lossy(data));
            }
        }
    };
    tokio::time::timeout(BOUND, arrival)
        .await
        .expect("the update arrives");
    received
}

fn assert_json_error(answer: &HttpAnswer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.text());
    assert_eq!(
        answer.headers["content-type"], "application/json",
        "{status}"
    );
    assert!(json(answer)["error"].is_string(), "{}", answer.text());
}

#[tokio::test]
async fn idle_and_slow_sockets_beyond_the_connection_cap_do_not_starve_a_real_client() {
    let app = start(|config| {
        config.max_connections = 4;
        config.header_timeout = Duration::from_millis(300);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(connect(&app).await);
    }
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut socket = connect(&app).await;
        socket
            .write_all(b"GET /articles/1 HTTP/1.1\r\nho")
            .await
            .unwrap();
        slow.push(socket);
    }

    let answer = tokio::time::timeout(BOUND, app.get("/articles/1"))
        .await
        .expect("a real client is served while the idle sockets stay open");

    assert_eq!(answer.status, StatusCode::OK);
    assert!(app.service.open_connections() <= 4);
    // The server, not the client, ended the idle and the slow ones.
    assert_eq!(read_to_close(&mut idle[0]).await, "");
    assert!(!read_to_close(&mut slow[0]).await.contains("200 OK"));
    app.shut_down().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_after_the_write_timeout() {
    let app = start(|config| config.write_timeout = Duration::from_millis(300)).await;
    // Larger than what the socket buffers of both ends can hold on loopback.
    let big = examples::files_dir(app.dir.path()).join("big.bin");
    std::fs::write(&big, vec![7_u8; 64 << 20]).unwrap();
    let mut deaf = connect(&app).await;
    deaf.write_all(b"GET /files/big.bin HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    eventually("the download started", || {
        app.service.open_connections() == 1
    })
    .await;

    eventually("the connection was cut", || {
        app.service.open_connections() == 0
    })
    .await;

    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    drop(deaf);
    app.shut_down().await;
}

#[tokio::test]
async fn a_stalled_body_answers_408_in_json() {
    let app = start(|config| config.body_timeout = Duration::from_millis(200)).await;
    let mut put = stalled_put(&app).await;
    let mut import = connect(&app).await;
    import
        .write_all(b"POST /import HTTP/1.1\r\nhost: x\r\ncontent-length: 90\r\n\r\nabc")
        .await
        .unwrap();

    for socket in [&mut put, &mut import] {
        let said = read_to_close(socket).await;
        assert!(said.starts_with("HTTP/1.1 408"), "{said}");
        assert!(said.contains("content-type: application/json"), "{said}");
        assert!(said.contains("the body stalled"), "{said}");
    }
    app.shut_down().await;
}

#[tokio::test]
async fn a_handler_past_the_request_timeout_answers_408_in_json() {
    let app = start(|config| {
        config.request_timeout = Duration::from_millis(100);
        config.store.connections = 1;
        config.store.queue_timeout = Duration::from_secs(60);
    })
    .await;
    let held = app.hold_a_connection();

    let late = app.get("/articles/2").await;

    assert_json_error(&late, StatusCode::REQUEST_TIMEOUT);
    assert!(late.text().contains("request timeout"), "{}", late.text());
    held.release().await;
    app.shut_down().await;
}

#[tokio::test]
async fn shutdown_with_a_stalled_client_ends_at_the_drain_deadline_and_keeps_acknowledged_writes() {
    let app = start(|config| {
        // Long enough for the connections that can end to end on a busy machine.
        config.drain_timeout = Duration::from_secs(2);
        config.body_timeout = Duration::from_secs(600);
        config.request_timeout = Duration::from_secs(600);
    })
    .await;
    let acknowledged = app
        .send(Method::PUT, "/articles/8", r#"{"title":"kept","body":"b"}"#)
        .await;
    assert_eq!(acknowledged.status, StatusCode::OK);
    let mut stalled = stalled_put(&app).await;
    let mut import = connect(&app).await;
    import
        .write_all(b"POST /import HTTP/1.1\r\nhost: x\r\ncontent-length: 90\r\n\r\nabc")
        .await
        .unwrap();
    let mut partial_head = connect(&app).await;
    partial_head
        .write_all(b"GET /articles/1 HTT")
        .await
        .unwrap();
    let mut deaf_reader = connect(&app).await;
    deaf_reader
        .write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    eventually("both stalled uploads run and the reader subscribed", || {
        app.service.running_requests() == 2 && app.service.store().stats().events.subscribers == 1
    })
    .await;

    let service = app.service.clone();
    let report = tokio::time::timeout(BOUND, app.shut_down())
        .await
        .expect("the drain deadline ends the shutdown");

    assert!(report.deadline_passed && !report.forced, "{report:?}");
    // The client's pooled connection and the event stream end at once (the stream's last bytes
    // fit in the socket buffers); the stalled uploads and the half-sent head are cut.
    assert_eq!(report.cut, 3, "{report:?}");
    for socket in [&mut stalled, &mut import, &mut partial_head] {
        assert!(!read_to_close(socket).await.contains("201"));
    }
    assert!(read_to_close(&mut deaf_reader).await.contains("200 OK"));
    let row = service.database().article(8).await.unwrap().unwrap();
    assert_eq!((row.title.as_str(), row.version), ("kept", 2));
}

#[tokio::test]
async fn a_second_signal_ends_the_drain_at_once() {
    let app = start(|config| {
        config.drain_timeout = Duration::from_secs(600);
        config.body_timeout = Duration::from_secs(600);
        config.request_timeout = Duration::from_secs(600);
    })
    .await;
    let _stalled = stalled_put(&app).await;
    eventually("the stalled PUT is running", || {
        app.service.running_requests() == 1
    })
    .await;

    app.signal();
    eventually("the drain began", || app.service.is_draining()).await;
    let report = tokio::time::timeout(BOUND, app.shut_down())
        .await
        .expect("the second signal ends the shutdown");

    assert!(report.forced && !report.deadline_passed, "{report:?}");
    assert_eq!(report.cut, 1);
}

#[tokio::test]
async fn the_subscriber_cap_answers_503_and_a_leaving_client_frees_its_place() {
    let app = start(|config| config.store.max_subscribers = 2).await;
    let first = open_events(&app).await;
    let second = open_events(&app).await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );

    let third = app.get("/events").await;

    assert_json_error(&third, StatusCode::SERVICE_UNAVAILABLE);
    assert!(third.headers.contains_key("retry-after"));
    assert!(
        third.text().contains("all 2 subscriptions"),
        "{}",
        third.text()
    );
    drop(first);
    let stats = || async { json(&app.get("/stats").await)["emitter"]["subscribers"].clone() };
    let deadline = tokio::time::Instant::now() + BOUND;
    // The server learns of the departure when it next writes to the closed connection.
    while stats().await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place was never freed"
        );
        app.send(Method::PUT, "/articles/4", r#"{"title":"t","body":"b"}"#)
            .await;
    }
    assert_eq!(open_events(&app).await.status(), StatusCode::OK);
    drop(second);
    app.shut_down().await;
}

#[tokio::test]
async fn an_event_never_carries_more_than_the_event_limit() {
    let app = start(|config| config.event_limit = 1024).await;
    let mut events = open_events(&app).await.into_body();

    let big = "x".repeat(4000);
    let put = app
        .send(
            Method::PUT,
            "/articles/6",
            format!(r#"{{"title":"big","body":"{big}"}}"#),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let received = next_update(&mut events).await;

    let data = received
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    assert!(data.len() <= 1024, "{} bytes", data.len());
    let announced: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(
        (announced["id"].as_u64(), announced["version"].as_u64()),
        (Some(6), Some(2))
    );
    assert!(
        announced["omitted"]
            .as_str()
            .unwrap()
            .contains("GET /articles/6")
    );
    drop(events);
    app.shut_down().await;
}

#[tokio::test]
async fn a_dozen_subscribers_give_no_leak_warning() {
    let app = start(|_| {}).await;
    let mut streams = Vec::new();
    for _ in 0..12 {
        let events = open_events(&app).await;
        assert_eq!(events.status(), StatusCode::OK);
        streams.push(events);
    }

    let stats = json(&app.get("/stats").await);

    assert_eq!(stats["emitter"]["subscribers"], 12);
    assert_eq!(stats["emitter"]["listeners"], 12);
    assert_eq!(stats["emitter"]["leak_warnings"], 0);
    drop(streams);
    app.shut_down().await;
}

#[tokio::test]
async fn files_refuses_links_fifos_directories_and_long_names_without_showing_paths() {
    let app = start(|_| {}).await;
    let files = examples::files_dir(app.dir.path());
    let database = app.dir.path().join(examples::DATABASE_FILE);
    std::os::unix::fs::symlink(&database, files.join("db-link")).unwrap();
    std::os::unix::fs::symlink("poem.txt", files.join("poem-link")).unwrap();
    std::fs::create_dir(files.join("folder")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(files.join("pipe"))
        .status()
        .unwrap();
    assert!(made.success());

    for name in ["db-link", "poem-link", "folder", "pipe"] {
        let answer = tokio::time::timeout(BOUND, app.get(&format!("/files/{name}")))
            .await
            .expect("no open waits for a writer");
        assert_json_error(&answer, StatusCode::NOT_FOUND);
        assert!(!answer.text().contains(&*app.dir.path().to_string_lossy()));
    }
    let long = app.get(&format!("/files/{}", "a".repeat(256))).await;
    assert_json_error(&long, StatusCode::BAD_REQUEST);
    assert!(!long.text().contains(&*app.dir.path().to_string_lossy()));
    assert!(long.text().contains("255 bytes"), "{}", long.text());
    let longest = app.get(&format!("/files/{}", "a".repeat(255))).await;
    assert_json_error(&longest, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/files/poem.txt").await.text(), POEM);
    app.shut_down().await;
}

#[tokio::test]
async fn every_error_answers_json() {
    let app = start(|config| {
        config.put_limit = 64;
        config.import_limit = 64;
    })
    .await;

    let unknown = app.get("/nowhere").await;
    let wrong_method = app.send(Method::POST, "/articles/1", "").await;
    let big_put = app.send(Method::PUT, "/articles/1", vec![b' '; 65]).await;
    let big_import = app.send(Method::POST, "/import", vec![b'a'; 65]).await;
    let bad_path = app.get("/articles/%FF").await;
    let bad_flag = app.send(Method::POST, "/import?strict=maybe", "a").await;

    assert_json_error(&unknown, StatusCode::NOT_FOUND);
    assert_json_error(&wrong_method, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        wrong_method.headers["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert_json_error(&big_put, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(big_put.text().contains("64 bytes"), "{}", big_put.text());
    assert_json_error(&big_import, StatusCode::PAYLOAD_TOO_LARGE);
    assert_json_error(&bad_path, StatusCode::BAD_REQUEST);
    assert_json_error(&bad_flag, StatusCode::BAD_REQUEST);
    app.shut_down().await;
}

#[tokio::test]
async fn import_honours_the_content_type_charset() {
    let app = start(|_| {}).await;
    let (gbk, _, _) = encoding_rs::GBK.encode(POEM);
    let url = format!("{}/import", app.url);
    let post = |content_type: &'static str, query: &'static str| {
        let request = hyper::Request::post(format!("{url}{query}"))
            .header("content-type", content_type)
            .body(http_body_util::Full::new(Bytes::from(gbk.to_vec())))
            .unwrap();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        async move {
            let answer = client.request(request).await.unwrap();
            let status = answer.status();
            let body = answer.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    };

    let (status, created) = post("text/plain; charset=GBK", "").await;
    let (agreeing, _) = post("text/plain; charset=\"gb2312\"", "?charset=gbk").await;
    let (conflict, refusal) = post("text/plain; charset=utf-8", "?charset=gbk").await;

    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["charset"], "GBK");
    let stored = app
        .service
        .database()
        .import(created["id"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some(POEM));
    assert_eq!(agreeing, StatusCode::CREATED);
    assert_eq!(conflict, StatusCode::BAD_REQUEST);
    assert!(
        refusal["error"].as_str().unwrap().contains("disagree"),
        "{refusal}"
    );
    app.shut_down().await;
}

#[tokio::test]
async fn strict_import_refuses_malformed_bytes_with_their_offset() {
    let app = start(|_| {}).await;
    let body = b"ok \xc3\xa9 \xff tail".to_vec();

    let strict = app
        .send(Method::POST, "/import?strict=true", body.clone())
        .await;
    let lenient = app.send(Method::POST, "/import", body).await;

    assert_eq!(
        strict.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        strict.text()
    );
    let refusal = json(&strict);
    assert_eq!(refusal["offset"], 6);
    assert_eq!(refusal["charset"], "utf8");
    assert!(
        refusal["error"].as_str().unwrap().contains("offset 6"),
        "{refusal}"
    );
    assert_eq!(lenient.status, StatusCode::CREATED);
    let id = json(&lenient)["id"].as_i64().unwrap();
    let stored = app.service.database().import(id).await.unwrap().unwrap();
    assert_eq!(stored, "ok é \u{fffd} tail");
    app.shut_down().await;
}

#[tokio::test]
async fn metrics_show_requests_the_limiter_the_cache_and_subscribers_in_prometheus_text() {
    let app = start(|config| config.store.connections = 3).await;
    app.get("/articles/1").await;
    app.get("/articles/1").await;
    let events = open_events(&app).await;

    let metrics = app.get("/metrics").await;

    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    for line in [
        "cache_hits_total 1",
        "cache_misses_total 1",
        "cache_loads_total{outcome=\"started\"} 1",
        "bagpipe_limit 3",
        "bagpipe_active 0",
        "bagpipe_refused_total 0",
        "sse_subscribers 1",
        "database_queries_total 1",
        "service_info{version=\"0.1.0\"} 1",
        "# TYPE http_request_duration_seconds histogram",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let ok_reads = "http_request_duration_seconds_count{route=\"/articles/{id}\",method=\"GET\",status=\"200\"} 2";
    assert!(text.lines().any(|l| l == ok_reads), "{text}");
    assert!(text.contains("http_connections_open "), "{text}");
    assert!(text.contains("process_uptime_seconds "), "{text}");
    drop(events);
    app.shut_down().await;
}

#[tokio::test]
async fn healthz_is_live_and_readyz_checks_the_database() {
    let app = start(|_| {}).await;

    let live = app.get("/healthz").await;
    let ready = app.get("/readyz").await;

    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(json(&live)["status"], "live");
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(json(&ready)["database"], "ok");
    app.shut_down().await;
}
