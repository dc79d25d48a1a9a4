//! What the bridge's tests share: finding a Redis server (or skipping, or failing under
//! `NODEBOOK_REQUIRE_REDIS=1`), a private `redis-server` that a test may kill, unique
//! namespaces, and a bound for waits.

#![allow(dead_code, reason = "each test uses a part")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The address of the machine's Redis, if it answers; otherwise prints why the test is skipped
/// and returns `None`, or panics when `NODEBOOK_REQUIRE_REDIS=1` (CI).
pub(crate) fn shared_redis(test: &str) -> Option<String> {
    let url = "redis://127.0.0.1:6379".to_string();
    match ping(&url) {
        Ok(()) => Some(url),
        Err(why) => skip(test, &format!("no Redis on 127.0.0.1:6379 ({why})")),
    }
}

fn skip<T>(test: &str, why: &str) -> Option<T> {
    assert!(
        std::env::var("NODEBOOK_REQUIRE_REDIS").as_deref() != Ok("1"),
        "{test}: {why}, and NODEBOOK_REQUIRE_REDIS=1 forbids skipping"
    );
    // Straight to stderr, past libtest's capture, so the skip shows in a passing run.
    let note =
        format!("skipped {test}: {why} (set NODEBOOK_REQUIRE_REDIS=1 to make this a failure)\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
    None
}

pub(crate) fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .map_err(|e| e.to_string())?;
    redis::cmd("PING")
        .query::<String>(&mut conn)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A namespace no other test or run uses.
pub(crate) fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("nbtest:{test}:{}:{nanos}", std::process::id())
}

/// A `redis-server` of this test's own, without persistence, on a free port.
pub(crate) struct Server {
    pub(crate) port: u16,
    child: Option<Child>,
}

impl Server {
    /// Starts one, or skips (see [`shared_redis`]) when `redis-server` is not on `PATH`.
    pub(crate) fn start(test: &str) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            return skip(test, "redis-server is not on PATH");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Self {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while ping(&server.url()).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer in 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill redis-server");
            child.wait().expect("reap redis-server");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Awaits `f` for at most `bound` (a failure bound, not an ordering tool).
pub(crate) async fn within<T>(bound: Duration, what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(bound, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {bound:?}"))
}

/// Kills every client connection of the ACL user `user` (`CLIENT KILL ID`); returns how many.
pub(crate) fn kill_clients(url: &str, user: &str) -> usize {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_connection().expect("connect");
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut conn)
        .expect("CLIENT LIST");
    let needle = format!(" user={user} ");
    let ids: Vec<String> = list
        .lines()
        .filter(|line| format!("{line} ").contains(&needle))
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("id="))
                .map(str::to_string)
        })
        .collect();
    for id in &ids {
        let _: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query(&mut conn)
            .expect("CLIENT KILL");
    }
    ids.len()
}

/// Creates the ACL user `user` (any password, every command) on the server at `url`, and
/// returns a URL that logs in as it: a test finds that user's connections, and only those.
pub(crate) fn user_url(url: &str, port: u16, user: &str) -> String {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_connection().expect("connect");
    let _: String = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(user)
        .arg(&["on", "nopass", "~*", "&*", "+@all"])
        .query(&mut conn)
        .expect("ACL SETUSER");
    format!("redis://{user}:any@127.0.0.1:{port}")
}
