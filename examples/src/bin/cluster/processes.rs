//! The processes and the schema a cluster run starts and takes down: the `service` replicas,
//! a `redis-server` of the run's own, and a PostgreSQL schema.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use examples::HttpClient;
use hyper::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{BOUND, Settings};

/// One `service` process.
pub(crate) struct Replica {
    child: Child,
    pub(crate) url: String,
    pub(crate) query_log: PathBuf,
}

impl Replica {
    pub(crate) async fn start(
        service: &Path,
        dir: &Path,
        n: usize,
        settings: &Settings,
        redis: &RedisServer,
        schema: &Schema,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        let query_log = dir.join("queries.log");
        let mut child = Command::new(service)
            .args(["--port", "0", "--data-dir"])
            .arg(dir)
            .args(["--database-url", &schema.url, "--redis", &redis.url])
            .args(["--redis-namespace", &schema.name])
            .args(["--connections", &settings.connections.to_string()])
            .args(["--replicas-expected", &settings.replicas.to_string()])
            .args([
                "--db-latency",
                &format!("{}ms", settings.db_latency.as_millis()),
            ])
            .arg("--query-log")
            .arg(&query_log)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| format!("cannot start {}: {err}", service.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let first = tokio::time::timeout(BOUND, stdout.next_line()).await;
        let Ok(Ok(Some(first))) = first else {
            return Err(format!("replica r{n} did not start within {BOUND:?}"));
        };
        let url = first
            .strip_prefix("serving ")
            .and_then(|rest| rest.split_whitespace().next())
            .ok_or_else(|| format!("replica r{n} printed {first:?} instead of its address"))?
            .to_owned();
        // Keep reading stdout so the replica never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Ok(Self {
            child,
            url,
            query_log,
        })
    }

    /// Waits until `/readyz` answers 200: the database, the cache's Redis tier and the
    /// global limit all reachable.
    pub(crate) async fn ready(&self, client: &HttpClient) -> Result<(), String> {
        let url = format!("{}/readyz", self.url);
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            let answer = client.get(&url).await.map_err(|err| err.to_string())?;
            if answer.status == StatusCode::OK {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{} not ready: {}", self.url, answer.text()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within the bound.
    pub(crate) async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(BOUND, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A `redis-server` of the cluster's own, without persistence, on a free port.
pub(crate) struct RedisServer {
    child: Child,
    pub(crate) url: String,
}

impl RedisServer {
    pub(crate) async fn start() -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|err| format!("no free port: {err}"))?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| format!("cannot start redis-server (is it on PATH?): {err}"))?;
        let url = format!("redis://127.0.0.1:{port}");
        let server = Self { child, url };
        let client = redis::Client::open(server.url.as_str()).map_err(|err| err.to_string())?;
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return Ok(server);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("redis-server on port {port} never answered"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// A schema of the run's own in the given database, and the URL whose connections use it.
pub(crate) struct Schema {
    admin: tokio_postgres::Client,
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) shown: String,
}

impl Schema {
    pub(crate) async fn create(base_url: &str, name: &str) -> Result<Self, String> {
        let connecting = tokio_postgres::connect(base_url, tokio_postgres::NoTls);
        let (admin, connection) = tokio::time::timeout(Duration::from_secs(5), connecting)
            .await
            .map_err(|_| format!("PostgreSQL at {base_url} did not answer within 5 s"))?
            .map_err(|err| format!("cannot connect to PostgreSQL at {base_url}: {err}"))?;
        tokio::spawn(connection);
        admin
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .map_err(|err| format!("cannot create schema {name}: {err}"))?;
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-c%20search_path%3D{name}");
        // Without credentials or options, for the report.
        let without_query = base_url.split('?').next().unwrap_or(base_url);
        let shown = match (
            without_query.split_once("://"),
            without_query.rsplit_once('@'),
        ) {
            (Some((scheme, _)), Some((_, host))) => format!("{scheme}://{host}"),
            _ => without_query.to_owned(),
        };
        Ok(Self {
            admin,
            name: name.to_owned(),
            url,
            shown,
        })
    }

    pub(crate) async fn drop_all(&self) -> Result<(), String> {
        self.admin
            .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.name))
            .await
            .map_err(|err| format!("cannot drop schema {}: {err}", self.name))
    }
}
