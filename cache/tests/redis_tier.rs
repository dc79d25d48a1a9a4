//! The Redis tier against a real Redis: two tiers, the lease and its fenced write, wake-ups,
//! invalidation across replicas, and Redis down, killed, restarted or paused. Each replica is a
//! `RedisCache` of its own (own local tier, once-queue, connections and subscription), as in
//! separate processes; the crowd across real processes is in `redis_crowd.rs`.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use nodebook_cache::Error;
use nodebook_cache::redis::{BuildError, Health, Reach, RedisCache, StrCodec};
use nodebook_test_support::{
    redis::{Server, namespace, shared_redis},
    within,
};
use tokio::sync::oneshot;

type Cache = RedisCache<String, StrCodec>;

const BOUND: Duration = Duration::from_secs(10);

/// A replica with a short heartbeat. Its Redis timeout is generous (a busy machine must not
/// degrade it) except where a test is about timeouts.
fn replica(url: &str, ns: &str, lease: Duration) -> Cache {
    replica_with_timeout(url, ns, lease, Duration::from_secs(2))
}

fn replica_with_timeout(url: &str, ns: &str, lease: Duration, timeout: Duration) -> Cache {
    let client = redis::Client::open(url).expect("url");
    RedisCache::builder(client, ns, StrCodec)
        .time_to_live(Duration::from_secs(60))
        .lease(lease)
        .timeout(timeout)
        .poll_interval(Duration::from_millis(50))
        .heartbeat(Duration::from_millis(100))
        .build()
        .expect("cache")
}

async fn connected(cache: &Cache) {
    let mut health = cache.health_changes();
    within(
        BOUND,
        "Health::Connected",
        health.wait_for(|h| *h == Health::Connected),
    )
    .await
    .expect("the cache lives");
}

async fn degraded(cache: &Cache) {
    let mut health = cache.health_changes();
    within(
        BOUND,
        "Health::Degraded",
        health.wait_for(|h| *h == Health::Degraded),
    )
    .await
    .expect("the cache lives");
}

/// A loader that counts its runs and answers `value` after `delay`.
fn counted(
    runs: &Arc<AtomicUsize>,
    delay: Duration,
    value: &str,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send>>
+ Send
+ 'static {
    let (runs, value) = (Arc::clone(runs), value.to_string());
    move || {
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            Ok(value)
        })
    }
}

fn raw_set(url: &str, key: &str, value: &[u8], ttl: Duration) {
    let mut conn = redis::Client::open(url)
        .expect("url")
        .get_connection()
        .expect("connect");
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("PX")
        .arg(u64::try_from(ttl.as_millis()).unwrap())
        .query::<()>(&mut conn)
        .expect("SET");
}

fn raw_get(url: &str, key: &str) -> Option<String> {
    let mut conn = redis::Client::open(url)
        .expect("url")
        .get_connection()
        .expect("connect");
    redis::cmd("GET").arg(key).query(&mut conn).expect("GET")
}

#[tokio::test]
async fn build_refuses_a_local_copy_that_outlives_redis() {
    let client = redis::Client::open("redis://127.0.0.1:1").expect("url");
    let err = Cache::builder(client.clone(), "ns", StrCodec)
        .time_to_live(Duration::from_secs(10))
        .local_time_to_live(Duration::from_secs(11))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, BuildError::LocalOutlivesRedis { .. }),
        "{err}"
    );
    let err = Cache::builder(client.clone(), "", StrCodec)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::EmptyNamespace));
    let err = Cache::builder(client, "ns", StrCodec)
        .lease(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::ZeroDuration { option: "lease" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_without_redis_serves_every_caller_with_one_load() {
    // Nothing listens on port 1: connections are refused at once.
    let client = redis::Client::open("redis://127.0.0.1:1").expect("url");
    let cache: Cache = RedisCache::builder(client, "down", StrCodec)
        .timeout(Duration::from_millis(100))
        .build()
        .expect("builds without Redis");
    let runs = Arc::new(AtomicUsize::new(0));
    let crowd =
        (0..500).map(|_| cache.get_or_load("k", counted(&runs, Duration::from_millis(20), "v")));
    let results = join_all(crowd).await;
    assert!(results.iter().all(|r| r.as_deref().ok() == Some("v")));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.health(), Health::Degraded);
    assert_eq!(cache.stats().degraded_loads, 1);
    assert_eq!(cache.invalidate("k").await, Reach::ThisReplica);
    assert!(!cache.contains_local("k"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_load_and_the_second_reads_redis() {
    let Some(url) = shared_redis("replicas_share_one_load_and_the_second_reads_redis") else {
        return;
    };
    let ns = namespace("share");
    let (a, b) = (replica(&url, &ns, BOUND), replica(&url, &ns, BOUND));
    connected(&a).await;
    connected(&b).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let crowd = (0..200).map(|i| {
        let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
        let load = counted(&runs, Duration::from_millis(50), "v1");
        async move { cache.get_or_load("k", load).await }
    });
    let results = join_all(crowd).await;
    assert!(results.iter().all(|r| r.as_deref().ok() == Some("v1")));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "one load across both replicas"
    );
    assert_eq!(raw_get(&url, &format!("{ns}:v:k")).as_deref(), Some("v1"));
    assert!(a.contains_local("k") && b.contains_local("k"));
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(sa.leases_acquired + sb.leases_acquired, 1);
    assert_eq!(sa.degraded_loads + sb.degraded_loads, 0);

    // A third replica starts cold and reads Redis: no load.
    let c = replica(&url, &ns, BOUND);
    connected(&c).await;
    assert_eq!(
        c.get_or_load("k", counted(&runs, Duration::ZERO, "other"))
            .await
            .as_deref()
            .ok(),
        Some("v1")
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(c.stats().redis_hits, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_copy_never_outlives_the_value_in_redis() {
    let Some(url) = shared_redis("a_local_copy_never_outlives_the_value_in_redis") else {
        return;
    };
    let ns = namespace("ttl");
    let cache = replica(&url, &ns, BOUND); // a local time-to-live of 60 s
    connected(&cache).await;
    // Another replica stored this value; 300 ms of it are left in Redis.
    raw_set(&url, &format!("{ns}:v:k"), b"v", Duration::from_millis(300));
    let runs = Arc::new(AtomicUsize::new(0));
    let read = cache
        .get_or_load("k", counted(&runs, Duration::ZERO, "loaded"))
        .await;
    assert_eq!(read.as_deref().ok(), Some("v"));
    assert!(cache.contains_local("k"));
    // Redis drops it after 300 ms; the local copy must be gone by then too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!cache.contains_local("k"));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_does_not_decode_is_loaded_again() {
    let Some(url) = shared_redis("a_value_that_does_not_decode_is_loaded_again") else {
        return;
    };
    let ns = namespace("decode");
    let cache = replica(&url, &ns, BOUND);
    connected(&cache).await;
    raw_set(
        &url,
        &format!("{ns}:v:k"),
        b"\xff\xfe",
        Duration::from_secs(60),
    );
    let runs = Arc::new(AtomicUsize::new(0));
    let read = cache
        .get_or_load("k", counted(&runs, Duration::ZERO, "fresh"))
        .await;
    assert_eq!(read.as_deref().ok(), Some("fresh"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().decode_errors, 1);
    assert_eq!(
        raw_get(&url, &format!("{ns}:v:k")).as_deref(),
        Some("fresh")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_subscription_survives_its_heartbeats() {
    let Some(url) = shared_redis("a_quiet_subscription_survives_its_heartbeats") else {
        return;
    };
    let cache = replica(&url, &namespace("quiet"), BOUND);
    connected(&cache).await;
    let runs = Arc::new(AtomicUsize::new(0));
    cache
        .get_or_load("k", counted(&runs, Duration::ZERO, "v"))
        .await
        .unwrap();
    // Ten heartbeats of 100 ms: each pings the subscription, none may drop it (a drop flushes
    // the local tier).
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let stats = cache.stats();
    assert_eq!(
        (stats.reconnects, stats.outages, stats.redis_errors),
        (0, 0, 0),
        "{stats:?}"
    );
    assert!(cache.contains_local("k"));
    assert_eq!(cache.health(), Health::Connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidation_drops_every_replicas_copy() {
    let Some(url) = shared_redis("invalidation_drops_every_replicas_copy") else {
        return;
    };
    let ns = namespace("inval");
    let (a, b) = (replica(&url, &ns, BOUND), replica(&url, &ns, BOUND));
    connected(&a).await;
    connected(&b).await;
    let runs = Arc::new(AtomicUsize::new(0));
    a.get_or_load("k", counted(&runs, Duration::ZERO, "old"))
        .await
        .unwrap();
    b.get_or_load("k", counted(&runs, Duration::ZERO, "old"))
        .await
        .unwrap();
    assert!(b.contains_local("k"));
    assert_eq!(a.invalidate("k").await, Reach::Everywhere);
    assert!(!a.contains_local("k"));
    assert_eq!(raw_get(&url, &format!("{ns}:v:k")), None);
    within(BOUND, "b drops its copy", async {
        while b.contains_local("k") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(b.stats().invalidations_received, 1);
    let fresh = b
        .get_or_load("k", counted(&runs, Duration::ZERO, "new"))
        .await;
    assert_eq!(fresh.as_deref().ok(), Some("new"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_writes_through_and_every_replica_reads_it() {
    let Some(url) = shared_redis("an_insert_writes_through_and_every_replica_reads_it") else {
        return;
    };
    let ns = namespace("insert");
    let (a, b) = (replica(&url, &ns, BOUND), replica(&url, &ns, BOUND));
    connected(&a).await;
    connected(&b).await;
    let runs = Arc::new(AtomicUsize::new(0));
    a.get_or_load("k", counted(&runs, Duration::ZERO, "old"))
        .await
        .unwrap();
    b.get_or_load("k", counted(&runs, Duration::ZERO, "old"))
        .await
        .unwrap();
    assert_eq!(a.insert("k", "new".to_string()).await, Reach::Everywhere);
    assert_eq!(raw_get(&url, &format!("{ns}:v:k")).as_deref(), Some("new"));
    within(BOUND, "b drops its older copy", async {
        while b.contains_local("k") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let read = b
        .get_or_load("k", counted(&runs, Duration::ZERO, "loaded"))
        .await;
    assert_eq!(read.as_deref().ok(), Some("new"));
    let local = a
        .get_or_load("k", counted(&runs, Duration::ZERO, "loaded"))
        .await;
    assert_eq!(local.as_deref().ok(), Some("new"));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "only the first load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_leader_write_is_fenced() {
    let Some(url) = shared_redis("a_stale_leader_write_is_fenced") else {
        return;
    };
    let ns = namespace("fence");
    let lease = Duration::from_millis(300);
    let (a, b) = (replica(&url, &ns, lease), replica(&url, &ns, lease));
    connected(&a).await;
    connected(&b).await;

    // A takes the lease and stalls past it.
    let (started_tx, started_rx) = oneshot::channel();
    let (resume_tx, resume_rx) = oneshot::channel::<()>();
    let stalled = {
        let a = a.clone();
        tokio::spawn(async move {
            a.get_or_load("k", move || async move {
                started_tx.send(()).unwrap();
                resume_rx.await.unwrap();
                Ok::<_, String>("old".to_string())
            })
            .await
        })
    };
    within(BOUND, "a's load starts", started_rx).await.unwrap();

    // B waits for the lease to expire, takes it, loads and writes the newer value.
    let began = Instant::now();
    let runs = Arc::new(AtomicUsize::new(0));
    let newer = within(
        BOUND,
        "b loads",
        b.get_or_load("k", counted(&runs, Duration::ZERO, "new")),
    )
    .await;
    assert_eq!(newer.as_deref().ok(), Some("new"));
    assert!(
        began.elapsed() < lease + Duration::from_secs(1),
        "b waited {:?}",
        began.elapsed()
    );
    assert_eq!(b.stats().leases_acquired, 1);

    // A wakes and writes: refused; A answers with the newer value.
    resume_tx.send(()).unwrap();
    let answered = within(BOUND, "a finishes", stalled).await.unwrap();
    assert_eq!(answered.as_deref().ok(), Some("new"));
    assert_eq!(a.stats().fenced_writes, 1);
    assert_eq!(raw_get(&url, &format!("{ns}:v:k")).as_deref(), Some("new"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_a_remote_load_fences_its_write() {
    let Some(url) = shared_redis("an_invalidation_during_a_remote_load_fences_its_write") else {
        return;
    };
    let ns = namespace("inval-load");
    let (a, b) = (replica(&url, &ns, BOUND), replica(&url, &ns, BOUND));
    connected(&a).await;
    connected(&b).await;
    let (started_tx, started_rx) = oneshot::channel();
    let (resume_tx, resume_rx) = oneshot::channel::<()>();
    let loading = {
        let a = a.clone();
        tokio::spawn(async move {
            a.get_or_load("k", move || async move {
                started_tx.send(()).unwrap();
                resume_rx.await.unwrap();
                Ok::<_, String>("read before the update".to_string())
            })
            .await
        })
    };
    within(BOUND, "a's load starts", started_rx).await.unwrap();
    assert_eq!(b.invalidate("k").await, Reach::Everywhere);
    resume_tx.send(()).unwrap();
    within(BOUND, "a finishes", loading).await.unwrap().unwrap();
    assert_eq!(a.stats().fenced_writes, 1);
    assert_eq!(
        raw_get(&url, &format!("{ns}:v:k")),
        None,
        "the older value was not stored"
    );
    assert!(
        !a.contains_local("k"),
        "nor kept by the replica that loaded it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_hands_the_lease_to_a_waiter_at_once() {
    let Some(url) = shared_redis("a_failed_load_hands_the_lease_to_a_waiter_at_once") else {
        return;
    };
    let ns = namespace("fail");
    let (a, b) = (replica(&url, &ns, BOUND), replica(&url, &ns, BOUND));
    connected(&a).await;
    connected(&b).await;
    let (started_tx, started_rx) = oneshot::channel();
    let (fail_tx, fail_rx) = oneshot::channel::<()>();
    let failing = {
        let a = a.clone();
        tokio::spawn(async move {
            a.get_or_load("k", move || async move {
                started_tx.send(()).unwrap();
                fail_rx.await.unwrap();
                Err::<String, _>("database down".to_string())
            })
            .await
        })
    };
    within(BOUND, "a's load starts", started_rx).await.unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let waiting = {
        let (b, load) = (b.clone(), counted(&runs, Duration::ZERO, "v"));
        tokio::spawn(async move { b.get_or_load("k", load).await })
    };
    within(BOUND, "b waits on a's lease", async {
        while b.stats().lease_waits == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // The lease is 10 s: b is served well before it ends only if a gives it back.
    fail_tx.send(()).unwrap();
    let failed = within(BOUND, "a fails", failing).await.unwrap();
    assert!(matches!(failed, Err(Error::Load(e)) if *e == "database down"));
    let served = within(Duration::from_secs(3), "b takes over", waiting)
        .await
        .unwrap();
    assert_eq!(served.as_deref().ok(), Some("v"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run() {
    let Some(mut server) = Server::start("redis_killed_and_restarted_mid_run") else {
        return;
    };
    let url = server.url();
    let ns = namespace("restart");
    let (a, b) = (replica(&url, &ns, BOUND), replica(&url, &ns, BOUND));
    connected(&a).await;
    connected(&b).await;
    let runs_a = Arc::new(AtomicUsize::new(0));
    a.get_or_load("before", counted(&runs_a, Duration::ZERO, "v"))
        .await
        .unwrap();
    assert!(a.contains_local("before"));

    server.kill();
    degraded(&a).await;
    degraded(&b).await;
    // Down: every caller is served, one load per key per replica.
    let runs_b = Arc::new(AtomicUsize::new(0));
    let crowd = (0..1_000).map(|i| {
        let (cache, runs) = if i % 2 == 0 {
            (a.clone(), &runs_a)
        } else {
            (b.clone(), &runs_b)
        };
        let load = counted(runs, Duration::from_millis(50), "during");
        async move { cache.get_or_load("k", load).await }
    });
    let results = join_all(crowd).await;
    assert!(
        results.iter().all(|r| r.as_deref().ok() == Some("during")),
        "no caller gets an error"
    );
    assert_eq!(
        runs_a.load(Ordering::SeqCst),
        2,
        "'before', then one load of 'k'"
    );
    assert_eq!(runs_b.load(Ordering::SeqCst), 1);
    assert_eq!(a.stats().outages, 1);

    server.restart();
    connected(&a).await;
    connected(&b).await;
    // The local tiers were flushed: invalidations may have been missed.
    assert!(!a.contains_local("before") && !a.contains_local("k") && !b.contains_local("k"));
    assert_eq!((a.stats().reconnects, b.stats().reconnects), (1, 1));

    // And invalidations reach every replica again.
    a.get_or_load("k2", counted(&runs_a, Duration::ZERO, "x"))
        .await
        .unwrap();
    b.get_or_load("k2", counted(&runs_b, Duration::ZERO, "x"))
        .await
        .unwrap();
    assert!(b.contains_local("k2"));
    assert_eq!(a.invalidate("k2").await, Reach::Everywhere);
    within(BOUND, "b drops its copy", async {
        while b.contains_local("k2") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_callers_are_served_within_the_timeout_plus_the_load() {
    let Some(server) =
        Server::start("redis_paused_callers_are_served_within_the_timeout_plus_the_load")
    else {
        return;
    };
    let url = server.url();
    let ns = namespace("pause");
    let (timeout, load) = (Duration::from_millis(200), Duration::from_millis(50));
    let cache = replica_with_timeout(&url, &ns, BOUND, timeout);
    connected(&cache).await;

    server.pause(3_000);
    let runs = Arc::new(AtomicUsize::new(0));
    let crowd = (0..500).map(|_| {
        let (cache, load) = (cache.clone(), counted(&runs, load, "v"));
        async move {
            let began = Instant::now();
            let result = cache.get_or_load("k", load).await;
            (result, began.elapsed())
        }
    });
    let results = join_all(crowd).await;
    let slowest = results.iter().map(|(_, t)| *t).max().unwrap();
    assert!(results.iter().all(|(r, _)| r.as_deref().ok() == Some("v")));
    // The scheduling margin covers a busy machine, far below the 3 s pause.
    assert!(
        slowest < timeout + load + Duration::from_millis(500),
        "slowest caller took {slowest:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.health(), Health::Degraded);
    assert!(cache.stats().timeouts >= 1);
    assert_eq!(cache.last_redis_error().as_deref(), Some("timed out"));
    // After the pause the tier comes back by itself.
    connected(&cache).await;
}
