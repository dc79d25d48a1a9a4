//! The service as replicas: starts a private `redis-server`, a fresh PostgreSQL schema and
//! three `service` processes sharing both, runs the load generator across them, and prints per
//! replica and in total what the shared parts promise, checking each:
//!
//! - one database query per cold article in total, however many replicas are asked for it;
//! - at most `--connections` database calls at once across every replica (the global limit),
//!   measured from the calls' own logged intervals (`--query-log`), not from the limiter;
//! - every update seen by the event (SSE) subscriber of every replica, whichever replica
//!   wrote it (the event bridge);
//! - every request and write answered.
//!
//! ```text
//! cargo build -p examples --bin service --bin cluster && cargo run -p examples --bin cluster
//! ```
//!
//! It runs the `service` binary found next to its own, so build both (as above). Exit status:
//! 0 when every check holds, 1 when one fails, 2 for bad arguments.

mod processes;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use examples::{Flags, HttpClient, LoadPlan, LoadReport, peak_concurrency, read_query_log};
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};

use processes::{RedisServer, Replica, Schema};

const USAGE: &str = "usage: cluster [flags]
  --database-url  PostgreSQL to use; a fresh schema is made in it and dropped at the end
                  (default postgres://postgres@127.0.0.1:5432/test)
  --replicas      service processes to start (default 3)
  --connections   the global database limit, shared by every replica (default 4)
  --db-latency    added to each database call, so the limit is reached (default 20ms)
  --articles      cold articles to read, each asked of every replica (default 200)
  --writes        PUTs spread over the replicas after the reads (default 30)
  --concurrency   requests in flight at once across the replicas (default 64)
Needs redis-server on PATH and the service binary next to this one
(cargo build -p examples --bin service --bin cluster).";

const KNOWN: [&str; 7] = [
    "--database-url",
    "--replicas",
    "--connections",
    "--db-latency",
    "--articles",
    "--writes",
    "--concurrency",
];

/// How long anything the cluster waits for (a start, a readiness, a stop) may take.
pub(crate) const BOUND: Duration = Duration::from_secs(30);

pub(crate) struct Settings {
    pub(crate) database_url: String,
    pub(crate) replicas: usize,
    pub(crate) connections: usize,
    pub(crate) db_latency: Duration,
    pub(crate) articles: usize,
    pub(crate) writes: usize,
    pub(crate) concurrency: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Flags::parse(std::env::args().skip(1), &KNOWN) {
        Ok(flags) if flags.help() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(flags) => settings(&flags),
        Err(err) => Err(err),
    };
    let settings = match settings {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("cluster: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&settings).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("cluster: {err}");
            ExitCode::FAILURE
        }
    }
}

fn settings(flags: &Flags) -> Result<Settings, examples::Error> {
    let at_least_one = |name: &str, default: usize| -> Result<usize, examples::Error> {
        match flags.value::<usize>(name)? {
            Some(0) => Err(examples::Error::Argument {
                name: name.to_owned(),
                reason: "must be at least 1".to_owned(),
            }),
            other => Ok(other.unwrap_or(default)),
        }
    };
    Ok(Settings {
        database_url: flags
            .value("--database-url")?
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
        replicas: at_least_one("--replicas", 3)?,
        connections: at_least_one("--connections", 4)?,
        db_latency: flags
            .duration("--db-latency")?
            .unwrap_or(Duration::from_millis(20)),
        articles: at_least_one("--articles", 200)?.min(examples::ARTICLE_COUNT as usize),
        writes: flags.value("--writes")?.unwrap_or(30),
        concurrency: at_least_one("--concurrency", 64)?,
    })
}

/// Sets everything up, runs, and takes everything down again whatever happened.
async fn run(settings: &Settings) -> Result<bool, String> {
    let service = std::env::current_exe()
        .map_err(|err| format!("cannot find this binary's folder: {err}"))?
        .with_file_name("service");
    if !service.exists() {
        return Err(format!(
            "no service binary at {}: build it first (cargo build -p examples --bin service)",
            service.display()
        ));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let run_name = format!("nbcluster_{}_{nanos}", std::process::id());
    let work = std::env::temp_dir().join(&run_name);
    std::fs::create_dir_all(&work)
        .map_err(|err| format!("cannot create {}: {err}", work.display()))?;
    let mut redis = RedisServer::start().await?;
    let outcome = match Schema::create(&settings.database_url, &run_name).await {
        Ok(schema) => {
            let outcome = with_backends(settings, &service, &work, &redis, &schema).await;
            if let Err(err) = schema.drop_all().await {
                eprintln!("cluster: {err}");
            }
            outcome
        }
        Err(err) => Err(err),
    };
    redis.stop().await;
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

async fn with_backends(
    settings: &Settings,
    service: &Path,
    work: &Path,
    redis: &RedisServer,
    schema: &Schema,
) -> Result<bool, String> {
    println!(
        "cluster: redis-server on {}, PostgreSQL schema {} at {}, {} replicas, global limit {}, \
         {:?} added to each database call",
        redis.url,
        schema.name,
        schema.shown,
        settings.replicas,
        settings.connections,
        settings.db_latency
    );
    let mut replicas = Vec::new();
    for n in 1..=settings.replicas {
        let dir = work.join(format!("r{n}"));
        let replica = Replica::start(service, &dir, n, settings, redis, schema).await;
        // Kept even when the start failed, so those already running are stopped below.
        match replica {
            Ok(replica) => replicas.push(replica),
            Err(err) => {
                stop_all(&mut replicas).await;
                return Err(err);
            }
        }
    }
    let outcome = measure(settings, &replicas).await;
    stop_all(&mut replicas).await;
    outcome
}

async fn stop_all(replicas: &mut [Replica]) {
    for replica in replicas {
        replica.stop().await;
    }
}

/// Loads the replicas and prints the figures; `Ok(false)` when a check failed.
async fn measure(settings: &Settings, replicas: &[Replica]) -> Result<bool, String> {
    let client = HttpClient::new();
    for replica in replicas {
        replica.ready(&client).await?;
    }
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let before = queries(&client, replicas).await?;
    let paths = (1..=settings.articles)
        .map(|id| format!("/articles/{id}"))
        .collect();
    let report = LoadPlan::new(&urls[0])
        .replicas(urls.clone())
        .paths(paths)
        .requests(settings.articles * replicas.len())
        .concurrency(settings.concurrency)
        .progress(true)
        .run()
        .await;
    let after = queries(&client, replicas).await?;
    let subscribers = Subscribers::open(&client, &urls, settings.writes).await?;
    let writes = write(&client, &urls, settings.writes).await;
    let seen = subscribers.seen().await;

    let mut all_intervals = Vec::new();
    println!();
    println!(
        "replica  url                        queries  per cold article  peak db calls  events seen"
    );
    let mut total_queries = 0;
    for (n, replica) in replicas.iter().enumerate() {
        let intervals = read_query_log(&replica.query_log).map_err(|err| err.to_string())?;
        let queries = after[n].saturating_sub(before[n]);
        total_queries += queries;
        println!(
            "r{:<7} {:<26} {:>7}  {:>16.2}  {:>13}  {:>11}",
            n + 1,
            replica.url,
            queries,
            ratio(queries, settings.articles),
            peak_concurrency(&intervals),
            seen[n]
        );
        all_intervals.extend(intervals);
    }
    let peak = peak_concurrency(&all_intervals);
    println!(
        "total    {:<26} {:>7}  {:>16.2}  {:>13}  {:>11}  (global limit {}, {} calls logged, \
         {} writes)",
        "",
        total_queries,
        ratio(total_queries, settings.articles),
        peak,
        seen.iter().sum::<usize>(),
        settings.connections,
        all_intervals.len(),
        settings.writes
    );
    println!();
    println!("load across the replicas:\n{report}");
    println!(
        "writes        {} of {} PUTs answered 2xx",
        writes.acknowledged, settings.writes
    );
    println!();
    let measured = Measured {
        report,
        writes,
        queries: total_queries as usize,
        peak,
        seen,
    };
    Ok(checks(settings, &measured))
}

/// What a run measured, for the checks.
struct Measured {
    report: LoadReport,
    writes: Writes,
    queries: usize,
    peak: usize,
    seen: Vec<usize>,
}

fn ratio(queries: u64, articles: usize) -> f64 {
    queries as f64 / articles as f64
}

/// Prints each check; true when all hold.
fn checks(settings: &Settings, measured: &Measured) -> bool {
    let Measured {
        report,
        writes,
        queries,
        peak,
        seen,
    } = measured;
    let (queries, peak) = (*queries, *peak);
    let results = [
        (
            queries == settings.articles,
            format!(
                "one database query per cold article in total: {queries} queries for {} articles",
                settings.articles
            ),
        ),
        (
            peak <= settings.connections,
            format!(
                "at most the global limit of {} database calls at once across the replicas: peak {peak}",
                settings.connections
            ),
        ),
        (
            seen.iter().all(|seen| *seen == settings.writes),
            format!(
                "every update reached the event subscriber of every replica: {} of {} each",
                seen.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                settings.writes
            ),
        ),
        (
            report.failed() == 0 && writes.acknowledged == settings.writes,
            format!(
                "every request answered: {} of {} reads failed, {} of {} writes failed",
                report.failed(),
                report.requests,
                settings.writes - writes.acknowledged,
                settings.writes
            ),
        ),
    ];
    println!("checks:");
    for (held, what) in &results {
        println!("  {}  {what}", if *held { "ok  " } else { "FAIL" });
    }
    results.iter().all(|(held, _)| *held)
}

/// Each replica's article reads so far, from `GET /stats`.
async fn queries(client: &HttpClient, replicas: &[Replica]) -> Result<Vec<u64>, String> {
    let mut all = Vec::new();
    for replica in replicas {
        let url = format!("{}/stats", replica.url);
        let answer = client.get(&url).await.map_err(|err| err.to_string())?;
        let stats: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|err| format!("{url} answered no JSON: {err}"))?;
        let count = stats["database"]["queries"]
            .as_u64()
            .ok_or_else(|| format!("{url} has no database.queries: {stats}"))?;
        all.push(count);
    }
    Ok(all)
}

struct Writes {
    acknowledged: usize,
}

/// `count` PUTs at once, each to its own article, spread over the replicas in turn.
async fn write(client: &HttpClient, urls: &[String], count: usize) -> Writes {
    let puts = (0..count).map(|n| {
        let url = format!("{}/articles/{}", urls[n % urls.len()], n + 1);
        let body = format!(r#"{{"title":"cluster write {n}","body":"written on replica {}"}}"#, n % urls.len() + 1);
        let client = client.clone();
        async move {
            let sent = client.send(Method::PUT, &url, body.into());
            matches!(tokio::time::timeout(BOUND, sent).await, Ok(Ok(answer)) if answer.status.is_success())
        }
    });
    let answered = futures::future::join_all(puts).await;
    Writes {
        acknowledged: answered.into_iter().filter(|ok| *ok).count(),
    }
}

/// One `GET /events` client per replica, each counting the updates it receives.
struct Subscribers {
    counting: Vec<tokio::task::JoinHandle<usize>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Subscribers {
    /// Subscribes on every replica; each counts until it has seen `expected` updates or is
    /// stopped. A subscription exists once its response headers arrived.
    async fn open(client: &HttpClient, urls: &[String], expected: usize) -> Result<Self, String> {
        let stop = tokio::sync::watch::Sender::new(false);
        let mut counting = Vec::new();
        for url in urls {
            let url = format!("{url}/events");
            let answer = client
                .open(Method::GET, &url, bytes::Bytes::new())
                .await
                .map_err(|err| err.to_string())?;
            if answer.status() != StatusCode::OK {
                return Err(format!("{url} answered {}", answer.status()));
            }
            let mut body = answer.into_body();
            let mut stopped = stop.subscribe();
            counting.push(tokio::spawn(async move {
                let mut received = String::new();
                let mut seen = 0;
                while seen < expected {
                    let frame = tokio::select! {
                        frame = body.frame() => frame,
                        _ = stopped.wait_for(|stop| *stop) => break,
                    };
                    let Some(Ok(frame)) = frame else { break };
                    if let Some(data) = frame.data_ref() {
                        received.push_str(&String::from_utf8_lossy(data));
                        seen = received.matches("event: article.updated\n").count();
                    }
                }
                seen
            }));
        }
        Ok(Self { counting, stop })
    }

    /// What each subscriber saw, waiting at most `BOUND` for the last updates to arrive.
    async fn seen(self) -> Vec<usize> {
        let stop = self.stop;
        let deadline = tokio::spawn(async move {
            tokio::time::sleep(BOUND).await;
            stop.send_replace(true);
        });
        let mut seen = Vec::new();
        for counting in self.counting {
            seen.push(counting.await.unwrap_or(0));
        }
        deadline.abort();
        seen
    }
}
