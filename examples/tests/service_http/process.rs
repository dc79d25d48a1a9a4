use std::process::Stdio;
use std::time::Duration;

use examples::HttpClient;
use hyper::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStderr, Command};

use crate::{json, start};

const BOUND: Duration = Duration::from_secs(60);

/// The `service` binary, started under `ulimit -n files`, and the URL it printed.
pub(crate) struct ServiceProcess {
    child: Child,
    pub(crate) url: String,
    stderr: Lines<BufReader<ChildStderr>>,
    _dir: Option<tempfile::TempDir>,
}

async fn spawn_service(files: u32, flags: &[&str]) -> ServiceProcess {
    spawn_service_with_log(files, flags, "info").await
}

async fn spawn_service_with_log(files: u32, flags: &[&str], log: &str) -> ServiceProcess {
    let dir = tempfile::tempdir().unwrap();
    let mut service = spawn_service_at(dir.path(), files, flags, log).await;
    service._dir = Some(dir);
    service
}

/// The `service` binary on the data directory `dir`, which outlives it (for a restart).
pub(crate) async fn spawn_service_at(
    dir: &std::path::Path,
    files: u32,
    flags: &[&str],
    log: &str,
) -> ServiceProcess {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_service"))
        .args(["--port", "0", "--data-dir"])
        .arg(dir)
        .args(flags)
        .env("RUST_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(BOUND, stdout.next_line())
        .await
        .expect("the service starts")
        .unwrap()
        .expect("the service prints its address");
    let url = first
        .strip_prefix("serving ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    // Keep draining stdout so the service never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    ServiceProcess {
        child,
        url,
        stderr,
        _dir: None,
    }
}

impl ServiceProcess {
    fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    pub(crate) async fn signal(&self, name: &str) {
        let pid = self.child.id().unwrap().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
    }

    /// Reads the log until a line contains `text`.
    async fn wait_for_log(&mut self, text: &str) -> String {
        let found = async {
            while let Some(line) = self.stderr.next_line().await.unwrap() {
                if line.contains(text) {
                    return line;
                }
            }
            panic!("the log ended without {text:?}");
        };
        tokio::time::timeout(BOUND, found)
            .await
            .unwrap_or_else(|_| panic!("no log line with {text:?}"))
    }

    pub(crate) async fn exit_code(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(BOUND, self.child.wait())
            .await
            .expect("the service exits")
            .unwrap();
        status.code()
    }
}

#[tokio::test]
async fn idle_sockets_beyond_a_low_open_file_limit_do_not_take_the_service_down() {
    let mut service = spawn_service(
        64,
        &["--max-connections", "16", "--header-timeout", "500ms"],
    )
    .await;
    let mut idle = Vec::new();
    // More sockets than the service may have files: before the cap, every later request
    // waited for these to close.
    for _ in 0..100 {
        idle.push(TcpStream::connect(service.address()).await.unwrap());
    }

    let client = HttpClient::new();
    let answer = tokio::time::timeout(BOUND, client.get(&format!("{}/articles/1", service.url)))
        .await
        .expect("answered while the idle sockets are still open")
        .unwrap();

    assert_eq!(answer.status, StatusCode::OK);
    let stats = client.get(&format!("{}/stats", service.url)).await.unwrap();
    assert!(json(&stats)["http"]["connections"].as_u64().unwrap() <= 16);
    service.signal("TERM").await;
    assert_eq!(service.exit_code().await, Some(0));
    drop(idle);
}

#[tokio::test]
async fn sigint_drains_and_a_second_sigint_stops_a_stalled_shutdown() {
    let mut service = spawn_service(
        1024,
        &[
            "--drain-timeout",
            "10m",
            "--body-timeout",
            "10m",
            "--request-timeout",
            "10m",
        ],
    )
    .await;
    let mut stalled = TcpStream::connect(service.address()).await.unwrap();
    stalled
        .write_all(b"PUT /articles/2 HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\n{")
        .await
        .unwrap();
    let client = HttpClient::new();
    let stats_url = format!("{}/stats", service.url);
    let deadline = tokio::time::Instant::now() + BOUND;
    // The stalled PUT and this very stats request.
    while json(&client.get(&stats_url).await.unwrap())["http"]["requests"] != 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the PUT never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    service.signal("INT").await;
    let waiting = service.wait_for_log("shutting down: waiting up to").await;
    service.signal("INT").await;

    assert!(waiting.contains("1 requests running"), "{waiting}");
    assert_eq!(service.exit_code().await, Some(130));
    drop(stalled);
}

#[tokio::test]
async fn request_logs_carry_method_path_status_and_latency_and_follow_rust_log() {
    let mut service = spawn_service(1024, &[]).await;
    let client = HttpClient::new();
    let answer = client
        .get(&format!("{}/articles/9", service.url))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);

    let line = service.wait_for_log("finished processing request").await;

    for field in ["method=GET", "uri=/articles/9", "status=200", "latency="] {
        assert!(line.contains(field), "{field} missing in {line:?}");
    }
    service.signal("TERM").await;
    assert_eq!(service.exit_code().await, Some(0));

    let mut quiet = spawn_service_with_log(1024, &[], "warn").await;
    client
        .get(&format!("{}/articles/9", quiet.url))
        .await
        .unwrap();
    quiet.signal("TERM").await;
    assert_eq!(quiet.exit_code().await, Some(0));
    let mut logged = Vec::new();
    while let Some(line) = quiet.stderr.next_line().await.unwrap() {
        logged.push(line);
    }
    assert!(
        logged.iter().all(|line| !line.contains("INFO")),
        "{logged:?}"
    );
}

#[tokio::test]
async fn rust_log_shows_the_crates_decisions_as_debug_events() {
    let mut service = spawn_service_with_log(
        1024,
        &[],
        "warn,nodebook_cache=debug,nodebook_bagpipe=debug",
    )
    .await;
    let client = HttpClient::new();

    let missing = client
        .get(&format!("{}/articles/4242", service.url))
        .await
        .unwrap();
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let line = service.wait_for_log("cache load started").await;
    assert!(
        line.contains("DEBUG") && line.contains("nodebook_cache"),
        "{line}"
    );
    service.signal("TERM").await;
    assert_eq!(service.exit_code().await, Some(0));
}

#[tokio::test]
async fn help_lists_every_flag_with_its_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_service"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);

    assert!(output.status.success());
    for flag in [
        "--bind",
        "--max-connections",
        "--header-timeout",
        "--body-timeout",
        "--request-timeout",
        "--write-timeout",
        "--drain-timeout",
        "--import-limit",
        "--put-limit",
        "--queue-length",
        "--cache-ttl",
        "--negative-ttl",
        "--max-subscribers",
        "--event-limit",
        "--redis-outage",
        "--replicas-expected",
        "--global-lease",
        "--db-latency",
        "--query-log",
    ] {
        let line = help
            .lines()
            .find(|line| line.trim_start().starts_with(flag));
        let described = line.unwrap_or_else(|| panic!("{flag} missing in\n{help}"));
        let rest: String = help
            .lines()
            .skip_while(|l| *l != described)
            .take(2)
            .collect();
        assert!(rest.contains("default"), "{flag} has no default in\n{help}");
    }
}

async fn run_load(url: &str, flags: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_load"))
        .args(["--url", url])
        .args(flags)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, output)
        .await
        .expect("load ends")
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code(), printed)
}

#[tokio::test]
async fn load_exits_zero_only_when_every_request_succeeds() {
    let app = start(|_| {}).await;
    let (code, printed) = run_load(&app.url, &["--requests", "20"]).await;
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("20 succeeded"), "{printed}");
    assert!(printed.contains("0 failed"), "{printed}");
    app.shut_down().await;

    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    // Accepts and never answers: without a deadline, `load` waited forever.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let (code, printed) = run_load(
        &silent_url,
        &[
            "--requests",
            "4",
            "--concurrency",
            "2",
            "--timeout",
            "200ms",
        ],
    )
    .await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("0 succeeded (0 successful requests/s), 4 failed"),
        "{printed}"
    );
    assert!(printed.contains("timed out     4"), "{printed}");
    holder.abort();

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (code, printed) = run_load(&closed_url, &["--requests", "3"]).await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("no answer     3"), "{printed}");
}
