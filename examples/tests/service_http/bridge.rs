//! `GET /events` across replicas: an update written on one replica reaches the event
//! subscribers of the others through the emitter's Redis bridge, and a lost subscription is
//! told to them.

use std::time::Duration;

use hyper::{Method, StatusCode};

use crate::cluster::{Replicas, eventually, get_json, put_article, ready};
use nodebook_test_support::redis::Server;

/// A failure bound, never a delay the tests wait out.
const BOUND: Duration = Duration::from_secs(30);

/// Reads server-sent events from `body` until one carries `id`, and returns everything read.
async fn read_events_until(body: &mut hyper::body::Incoming, id: &str) -> String {
    read_events_until_text(body, &format!("id: {id}\n")).await
}

/// Reads server-sent events from `body` until `wanted` and the end of its event arrived, and
/// returns everything read.
async fn read_events_until_text(body: &mut hyper::body::Incoming, wanted: &str) -> String {
    use http_body_util::BodyExt;
    let mut received = String::new();
    let delivery = async {
        while !received
            .find(wanted)
            .is_some_and(|at| received[at..].contains("\n\n"))
        {
            let frame = body.frame().await.expect("stream open").expect("frame");
            if let Some(data) = frame.data_ref() {
                received.push_str(&String::from_utf8_lossy(data));
            }
        }
    };
    tokio::time::timeout(BOUND, delivery)
        .await
        .unwrap_or_else(|_| panic!("no {wanted:?} within {BOUND:?}: {received}"));
    received
}

#[tokio::test]
async fn an_update_written_on_one_replica_reaches_event_subscribers_of_the_other() {
    // Ready means the bridge is subscribed on both.
    let Some(replicas) = Replicas::start("bridged_events", 2, &[]).await else {
        return;
    };
    let ((a, b), client) = (replicas.pair(), &replicas.client);
    let on_b = client
        .open(
            Method::GET,
            &format!("{}/events", b.url),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(on_b.status(), StatusCode::OK);
    let mut on_b = on_b.into_body();

    // The subscription exists once the headers are out.
    let put = put_article(client, a, 12, "Written on A").await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());

    let received = read_events_until(&mut on_b, "12.2").await;
    assert!(received.contains("event: article.updated\n"), "{received}");
    assert!(received.contains(r#""title":"Written on A""#), "{received}");
    // A counts its write once Redis answered it, which may be after B got the message.
    eventually(async || {
        let stats_a = get_json(client, &format!("{}/stats", a.url)).await;
        if stats_a["bridge"]["published"] == 1 {
            Ok(())
        } else {
            Err(format!("A's stats: {stats_a}"))
        }
    })
    .await;
    let stats_b = get_json(client, &format!("{}/stats", b.url)).await;
    assert_eq!(stats_b["bridge"]["received"], 1, "{stats_b}");
    assert_eq!(stats_b["bridge"]["connected"], true);
    assert_eq!(stats_b["emitter"]["emitted"], 0, "B wrote nothing itself");
    let metrics = client
        .get(&format!("{}/metrics", b.url))
        .await
        .unwrap()
        .text();
    assert!(
        metrics.contains("emitter_bridge_events_total{direction=\"received\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("emitter_bridge_connected 1"), "{metrics}");

    drop(on_b);
    replicas.stop().await;
}

#[tokio::test]
async fn a_lost_subscription_is_told_to_event_subscribers_and_the_bridge_comes_back() {
    let test = "bridge_gap";
    // A server of the test's own: killing its clients disturbs no other test.
    let Some(redis) = Server::start(test) else {
        return;
    };
    let Some(replicas) = Replicas::start_on(test, redis.url(), None, 2, |_| Vec::new()).await
    else {
        return;
    };
    let ((a, b), client) = (replicas.pair(), &replicas.client);
    let on_b = client
        .open(
            Method::GET,
            &format!("{}/events", b.url),
            Default::default(),
        )
        .await
        .unwrap();
    let mut on_b = on_b.into_body();

    kill_subscribers(&replicas.redis).await;

    let told = read_events_until_text(&mut on_b, "event: lagged\n").await;
    assert!(
        told.contains("updates of other replicas may have been lost"),
        "{told}"
    );
    // Back: ready again, and A's next update reaches the same stream on B.
    ready(client, a).await;
    ready(client, b).await;
    let put = put_article(client, a, 14, "After the gap").await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let received = read_events_until(&mut on_b, "14.2").await;
    assert!(received.contains("After the gap"), "{received}");
    let stats_b = get_json(client, &format!("{}/stats", b.url)).await;
    assert!(
        stats_b["bridge"]["gaps"].as_u64().unwrap() >= 1,
        "{stats_b}"
    );
    assert!(
        stats_b["bridge"]["reconnects"].as_u64().unwrap() >= 1,
        "{stats_b}"
    );

    drop(on_b);
    replicas.stop().await;
}

/// Closes every pub/sub connection of the server at `url`, as a Redis restart or a network cut
/// would.
async fn kill_subscribers(url: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(killed >= 2, "both replicas' bridges were subscribed");
}
