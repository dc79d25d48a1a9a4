//! A `redis-server` of one test's own, for tests that kill it or its clients.

use std::time::Duration;

/// A failure bound, never a delay the tests wait out.
const BOUND: Duration = Duration::from_secs(30);

/// A `redis-server` of one test's own (so that killing its clients disturbs no other test), on
/// a free port, without persistence; killed when dropped. `None` (or a panic under
/// `NODEBOOK_REQUIRE_REDIS=1`) when `redis-server` is not on `PATH`.
pub(crate) struct PrivateRedis {
    child: tokio::process::Child,
    port: u16,
    pub(crate) url: String,
}

impl PrivateRedis {
    pub(crate) async fn start(test: &str) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(test, port).await
    }

    async fn start_on(test: &str, port: u16) -> Option<Self> {
        let spawned = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let Ok(child) = spawned else {
            assert!(
                std::env::var("NODEBOOK_REQUIRE_REDIS").as_deref() != Ok("1"),
                "{test}: redis-server is not on PATH, and NODEBOOK_REQUIRE_REDIS=1 forbids skipping"
            );
            eprintln!("skipped {test}: redis-server is not on PATH");
            return None;
        };
        let server = Self {
            child,
            port,
            url: format!("redis://127.0.0.1:{port}"),
        };
        let client = redis::Client::open(server.url.as_str()).unwrap();
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return Some(server);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server never answered"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills the server (SIGKILL).
    pub(crate) async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// Starts a new, empty server on the same port.
    pub(crate) async fn restart(&mut self) {
        *self = Self::start_on("restart", self.port)
            .await
            .expect("redis-server was on PATH a moment ago");
    }

    /// Closes every pub/sub connection, as a Redis restart or a network cut would.
    pub(crate) async fn kill_subscribers(&self) {
        let client = redis::Client::open(self.url.as_str()).unwrap();
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
}
