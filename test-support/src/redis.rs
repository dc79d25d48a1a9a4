//! Redis for the tests: the machine's server, or a private one to kill, pause and restart.
//!
//! A test that needs Redis asks for it with [`shared_redis`] or [`Server::start`]; where there
//! is none it gets `None` after a line on stderr saying that it was skipped and why, unless
//! `NODEBOOK_REQUIRE_REDIS=1` (CI), which turns the skip into a panic.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The address of the machine's Redis, if it answers; otherwise prints why the test is skipped
/// and returns `None`, or panics when `NODEBOOK_REQUIRE_REDIS=1` (CI).
/// # Panics
///
/// Without a server when `NODEBOOK_REQUIRE_REDIS=1`.
pub fn shared_redis(test: &str) -> Option<String> {
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
    // Straight to stderr, past libtest's capture of `eprintln!`, so the skip shows in a
    // passing run.
    let note =
        format!("skipped {test}: {why} (set NODEBOOK_REQUIRE_REDIS=1 to make this a failure)\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
    None
}

/// Whether the server at `url` answers `PING` within half a second, and why not.
pub fn ping(url: &str) -> Result<(), String> {
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
pub fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("nbtest:{test}:{}:{nanos}", std::process::id())
}

/// `Some` when `redis-server` is on `PATH` (for a test that starts its own, or has a program
/// start one); otherwise skips (see [`shared_redis`]).
pub fn redis_server_on_path(test: &str) -> Option<()> {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if found {
        Some(())
    } else {
        skip(test, "redis-server is not on PATH")
    }
}

/// A `redis-server` of this test's own, without persistence, on a free port.
#[derive(Debug)]
pub struct Server {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

impl Server {
    /// Starts one, or skips (see [`shared_redis`]) when `redis-server` is not on `PATH`.
    pub fn start(test: &str) -> Option<Self> {
        redis_server_on_path(test)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut server = Self { port, child: None };
        server.restart();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while ping(&self.url()).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer in 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill redis-server");
            child.wait().expect("reap redis-server");
        }
    }

    /// `CLIENT PAUSE millis ALL`: every client's commands wait until the pause ends.
    pub fn pause(&self, millis: u64) {
        let client = redis::Client::open(self.url()).expect("url");
        let mut conn = client.get_connection().expect("connect");
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(millis)
            .arg("ALL")
            .query::<()>(&mut conn)
            .expect("CLIENT PAUSE");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills every client connection of the ACL user `user` (`CLIENT KILL ID`); returns how many.
pub fn kill_clients(url: &str, user: &str) -> usize {
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
pub fn user_url(url: &str, port: u16, user: &str) -> String {
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
