//! The article service: axum over SQLite with every crate of the toolkit in the request path.
//!
//! ```text
//! cargo run --release -p examples --bin service -- --port 3000 --data-dir /tmp/articles
//! RUST_LOG=debug cargo run --release -p examples --bin service
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use examples::{Flags, Service, ServiceConfig, StoreConfig, shutdown_signals};

const USAGE: &str = "usage: service [flags]
  --bind              the address to listen on (default 127.0.0.1:3000)
  --port              the port on the --bind address (0 picks a free one)
  --data-dir          where the SQLite database and files/ live (default: under the temp dir)
  --database-url      keep articles in PostgreSQL (postgres://user@host:port/db) so replicas
                      share them (default: none, SQLite in --data-dir)
  --redis             run as one replica of several: the article cache's Redis tier at this
                      URL (redis://host:port), the database limit counted across replicas,
                      /readyz requires it (default: none, all local)
  --redis-namespace   the prefix of this service's keys in Redis, shared by its replicas,
                      which must share one --database-url too (default nodebook-service)
  --redis-outage      Redis away: closed (503), open (--connections per replica) or fallback
                      (--connections / --replicas-expected per replica) (default fallback)
  --replicas-expected the replicas sharing the limit, for the fallback share (default 2)
  --global-lease      how long a replica's permit stays counted without renewal: a killed
                      replica's permits return within it (default 10s)
  --connections       database connections, also the limiter's limit; with --redis, the
                      limit of every replica together (default 4)
  --queue-length      queries that may wait for a connection before 503 (default 64)
  --query-timeout     the longest a query may run before 504 (default 2s)
  --queue-timeout     the longest a query may wait for a connection before 504 (default 2s)
  --cache-ttl         how long a cached article stays fresh (default 60s)
  --cache-limit       articles the cache holds (default 1000)
  --negative-ttl      how long an absent id is remembered before it is queried again;
                      a PUT of that id ends it at once; 0 turns it off (default 5s)
  --max-connections   client connections served at once; more wait (default 512)
  --header-timeout    time for a request head, and the keep-alive idle time (default 10s)
  --body-timeout      the longest a request body may send nothing before 408 (default 10s)
  --request-timeout   the longest a handler may take before 408 (default 30s)
  --write-timeout     how long a client may read nothing of its answer before it is
                      disconnected (default 30s)
  --drain-timeout     how long a shutdown waits for open connections (default 10s)
  --import-limit      the largest POST /import body in bytes (default 1048576)
  --put-limit         the largest PUT /articles/{id} body in bytes (default 1048576)
  --max-subscribers   GET /events streams at once; more answer 503 (default 256)
  --event-limit       the most bytes one event carries; larger rows are sent as id and
                      version (default 65536)
  --db-latency        added to every database call, inside its slot, to see the limits at
                      work on a fast local database (default 0ms)
  --query-log         append each database call's start and end (microseconds) to this
                      file, for measuring concurrency across replicas (default: none)
Durations take ms, s or m (500ms, 10s, 2m). Logs go to stderr, filtered by RUST_LOG
(default info); the crates' decisions are debug events of the targets nodebook_bagpipe
(refusals, timeouts), nodebook_cache (loads, stale and negative answers; evictions at trace)
and nodebook_streams (size limits): RUST_LOG=info,nodebook_bagpipe=debug shows refusals. Ctrl-C or SIGTERM drains; a second one stops at once (exit status 130).";

const KNOWN: [&str; 28] = [
    "--bind",
    "--port",
    "--data-dir",
    "--database-url",
    "--redis",
    "--redis-namespace",
    "--redis-outage",
    "--replicas-expected",
    "--global-lease",
    "--connections",
    "--queue-length",
    "--query-timeout",
    "--queue-timeout",
    "--cache-ttl",
    "--cache-limit",
    "--negative-ttl",
    "--max-connections",
    "--header-timeout",
    "--body-timeout",
    "--request-timeout",
    "--write-timeout",
    "--drain-timeout",
    "--import-limit",
    "--put-limit",
    "--max-subscribers",
    "--event-limit",
    "--db-latency",
    "--query-log",
];

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match Flags::parse(std::env::args().skip(1), &KNOWN) {
        Ok(flags) if flags.help() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(flags) => flags,
        Err(err) => {
            eprintln!("service: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (address, config) = match settings(&flags) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("service: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    examples::install_log_subscriber("info");
    match run(address, config).await {
        Ok(report) if report.forced => ExitCode::from(130),
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("service: {err}");
            ExitCode::FAILURE
        }
    }
}

fn positive(flags: &Flags, name: &str) -> Result<Option<usize>, examples::Error> {
    match flags.value::<usize>(name)? {
        Some(0) => Err(examples::Error::Argument {
            name: name.to_owned(),
            reason: "must be at least 1".to_owned(),
        }),
        other => Ok(other),
    }
}

fn nonzero_duration(flags: &Flags, name: &str) -> Result<Option<Duration>, examples::Error> {
    match flags.duration(name)? {
        Some(duration) if duration.is_zero() => Err(examples::Error::Argument {
            name: name.to_owned(),
            reason: "must be longer than 0".to_owned(),
        }),
        other => Ok(other),
    }
}

fn settings(flags: &Flags) -> Result<(SocketAddr, ServiceConfig), examples::Error> {
    let mut address: SocketAddr = flags
        .value("--bind")?
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000)));
    if let Some(port) = flags.value::<u16>("--port")? {
        address.set_port(port);
    }
    let data_dir: PathBuf = flags
        .value("--data-dir")?
        .unwrap_or_else(ServiceConfig::default_data_dir);
    let mut config = ServiceConfig::new(&data_dir);
    config.database_url = flags.value("--database-url")?;
    config.redis_url = flags.value("--redis")?;
    set(
        &mut config.redis_namespace,
        flags.value("--redis-namespace")?,
    );
    set(
        &mut config.global_limit.outage,
        flags.value("--redis-outage")?,
    );
    set(
        &mut config.global_limit.replicas_expected,
        positive(flags, "--replicas-expected")?,
    );
    set(
        &mut config.global_limit.lease,
        nonzero_duration(flags, "--global-lease")?,
    );
    set(&mut config.db_latency, flags.duration("--db-latency")?);
    config.query_log = flags.value("--query-log")?;
    let store: &mut StoreConfig = &mut config.store;
    set(&mut store.connections, positive(flags, "--connections")?);
    set(&mut store.queue_length, flags.value("--queue-length")?);
    set(
        &mut store.query_timeout,
        nonzero_duration(flags, "--query-timeout")?,
    );
    set(
        &mut store.queue_timeout,
        nonzero_duration(flags, "--queue-timeout")?,
    );
    set(
        &mut store.time_to_live,
        nonzero_duration(flags, "--cache-ttl")?,
    );
    set(&mut store.cache_limit, positive(flags, "--cache-limit")?);
    set(&mut store.negative_ttl, flags.duration("--negative-ttl")?);
    set(
        &mut store.max_subscribers,
        flags.value("--max-subscribers")?,
    );
    set(
        &mut config.max_connections,
        positive(flags, "--max-connections")?,
    );
    set(
        &mut config.header_timeout,
        nonzero_duration(flags, "--header-timeout")?,
    );
    set(
        &mut config.body_timeout,
        nonzero_duration(flags, "--body-timeout")?,
    );
    set(
        &mut config.request_timeout,
        nonzero_duration(flags, "--request-timeout")?,
    );
    set(
        &mut config.drain_timeout,
        flags.duration("--drain-timeout")?,
    );
    set(&mut config.import_limit, flags.value("--import-limit")?);
    set(&mut config.put_limit, flags.value("--put-limit")?);
    set(&mut config.event_limit, positive(flags, "--event-limit")?);
    Ok((address, config))
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

async fn run(
    address: SocketAddr,
    config: ServiceConfig,
) -> Result<examples::ShutdownReport, examples::Error> {
    // Installed before serving, so a signal during start-up is not lost.
    let signals = shutdown_signals();
    let service = Service::open(config).await?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|err| examples::Error::Io {
            path: PathBuf::from(address.to_string()),
            source: err.into(),
        })?;
    let bound = listener
        .local_addr()
        .map_or_else(|_| address.to_string(), |a| a.to_string());
    println!("serving http://{bound} from {}", service.database());
    println!("  GET/PUT /articles/{{id}}   GET /events   POST /import?charset=gbk[&strict=true]");
    println!("  GET /files/poem.txt   GET /stats   GET /metrics   GET /healthz   GET /readyz");
    let report = service.serve_until(listener, signals).await?;
    if report.drained() {
        println!("stopped: every connection finished");
    } else {
        println!(
            "stopped: {} of {} connections cut ({})",
            report.cut,
            report.draining,
            if report.forced {
                "second signal"
            } else {
                "drain deadline"
            }
        );
    }
    Ok(report)
}
