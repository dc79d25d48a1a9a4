//! Finding the machine's PostgreSQL for a test (or skipping, or failing under
//! `NODEBOOK_REQUIRE_POSTGRES=1`), in a schema of the test's own so that runs never collide.

use std::time::Duration;

use tokio_postgres::NoTls;

const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=2";

/// A schema of one test's own in the `test` database, and the URL whose connections use it.
pub(crate) struct Schema {
    pub(crate) url: String,
    name: String,
}

impl Schema {
    /// Creates a fresh schema for `test`; `None` (after saying why on stderr) when PostgreSQL
    /// does not answer, a panic instead when `NODEBOOK_REQUIRE_POSTGRES=1`.
    pub(crate) async fn create(test: &str) -> Option<Self> {
        let client = match admin().await {
            Ok(client) => client,
            Err(why) => return skip(test, &why),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("nbtest_{test}_{}_{nanos}", std::process::id());
        client
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .unwrap_or_else(|err| panic!("cannot create schema {name}: {err}"));
        let url =
            format!("postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3D{name}");
        Some(Self { url, name })
    }

    /// Drops the schema and everything in it.
    pub(crate) async fn drop_all(self) {
        let client = admin().await.expect("PostgreSQL answered a moment ago");
        client
            .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.name))
            .await
            .unwrap();
    }
}

async fn admin() -> Result<tokio_postgres::Client, String> {
    let connecting = tokio_postgres::connect(SERVER, NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| "no answer from 127.0.0.1:5432 within 5 s".to_owned())?
        .map_err(|err| format!("no PostgreSQL on 127.0.0.1:5432 ({err})"))?;
    tokio::spawn(connection);
    Ok(client)
}

fn skip<T>(test: &str, why: &str) -> Option<T> {
    assert!(
        std::env::var("NODEBOOK_REQUIRE_POSTGRES").as_deref() != Ok("1"),
        "{test}: {why}, and NODEBOOK_REQUIRE_POSTGRES=1 forbids skipping"
    );
    // Straight to stderr, past libtest's capture, so the skip shows in a passing run.
    let note = format!(
        "skipped {test} on PostgreSQL: {why} (set NODEBOOK_REQUIRE_POSTGRES=1 to make this a failure)\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
    None
}
