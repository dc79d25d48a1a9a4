//! The service's shared database: PostgreSQL through tokio-postgres and a deadpool pool, so that
//! several replicas serve one set of articles.
//!
//! # Implementation details
//!
//! The pool keeps at most `connections` connections (the service puts a `Bagpipe` with the same
//! limit in front), each with its prepared statements cached. Taking a connection and opening
//! one are bounded by the connect timeout, so a database that went away answers an error
//! instead of a wait without end.
//!
//! Replicas may start at once against an empty database, so setup runs in one transaction
//! holding a transaction-level advisory lock: the tables are created if missing and the seed rows
//! inserted with `ON CONFLICT DO NOTHING`, which never touches a row already there. A restart
//! keeps every update. Tables live in the connection's `search_path`, so one database can hold
//! several independent sets (the tests give each its own schema through the URL's `options`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::sqlite::storable_id;
use crate::{ARTICLE_COUNT, Article, ArticleSource, ArticleUpdate, Error};

/// How long taking or opening a connection may take before it is an error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock key that serialises setup across replicas ("nodebook" in ASCII).
const SETUP_LOCK: i64 = 0x6e6f_6465_626f_6f6b;

/// A PostgreSQL database of articles and imports, shared by clones (and by replicas).
///
/// [`connect`](Self::connect) creates the tables on first use and seeds articles `1..=1000`;
/// later connects keep what is there. TLS is not offered: use it on a trusted network or
/// through a local proxy.
///
/// # Examples
///
/// ```no_run
/// use examples::{ArticleSource, PostgresDatabase};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// let db = PostgresDatabase::connect("postgres://postgres@127.0.0.1:5432/test", 4).await?;
/// assert_eq!(db.article(1000).await?.unwrap().title, "Article 1000");
/// assert_eq!(db.article(1001).await?, None);
/// assert_eq!(db.queries(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The URL without its password, for messages.
    shown: String,
    connections: usize,
    queries: AtomicU64,
}

impl std::fmt::Debug for PostgresDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDatabase")
            .field("url", &self.inner.shown)
            .field("connections", &self.inner.connections)
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}

impl PostgresDatabase {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?options]`) with
    /// up to `connections` connections (at least one), creating and seeding the tables when
    /// they are missing.
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] for a URL that does not parse; [`Error::Postgres`] when the server
    /// cannot be reached in time or refuses the setup.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future rolls back a setup in progress; the next connect does it again.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let err = examples::PostgresDatabase::connect("mysql://x", 1).await.unwrap_err();
    /// assert!(err.to_string().starts_with("bad argument --database-url"), "{err}");
    /// # }
    /// ```
    pub async fn connect(url: &str, connections: usize) -> Result<Self, Error> {
        let connections = connections.max(1);
        let config: tokio_postgres::Config = url.parse().map_err(|err| {
            Error::argument(
                "--database-url",
                format!("{err}; expected postgres://user@host:port/database"),
            )
        })?;
        let shown = without_password(url);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|err| Error::Internal {
                what: "the PostgreSQL pool",
                reason: err.to_string(),
            })?;
        let db = Self {
            inner: Arc::new(Inner {
                pool,
                shown,
                connections,
                queries: AtomicU64::new(0),
            }),
        };
        db.create_and_seed().await?;
        Ok(db)
    }

    /// The URL connected to, without its password.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let db = examples::PostgresDatabase::connect("postgres://postgres:secret@127.0.0.1/test", 1).await?;
    /// assert_eq!(db.url(), "postgres://postgres:***@127.0.0.1/test");
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn url(&self) -> &str {
        &self.inner.shown
    }

    /// How many connections the pool keeps at most: the right `limit` for a limiter in front.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let db = examples::PostgresDatabase::connect("postgres://postgres@127.0.0.1/test", 3).await?;
    /// assert_eq!(db.connections(), 3);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn connections(&self) -> usize {
        self.inner.connections
    }

    /// Stores an imported text and returns its row id.
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] when the insert fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not undo the insert if it already reached the database.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let db = examples::PostgresDatabase::connect("postgres://postgres@127.0.0.1/test", 1).await?;
    /// let id = db.store_import("gbk", "静夜思".to_owned()).await?;
    /// assert_eq!(db.import(id).await?.as_deref(), Some("静夜思"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn store_import(&self, charset: &str, text: String) -> Result<i64, Error> {
        let client = self.client().await?;
        let insert = client
            .prepare_cached("INSERT INTO imports (charset, text) VALUES ($1, $2) RETURNING id")
            .await?;
        let row = client.query_one(&insert, &[&charset, &text]).await?;
        Ok(row.try_get(0)?)
    }

    /// Reads an imported text back by its row id.
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] when the query fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only abandons the answer.
    ///
    /// # Examples
    ///
    /// See [`store_import`](Self::store_import).
    pub async fn import(&self, id: i64) -> Result<Option<String>, Error> {
        let client = self.client().await?;
        let select = client
            .prepare_cached("SELECT text FROM imports WHERE id = $1")
            .await?;
        let row = client.query_opt(&select, &[&id]).await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// Runs `SELECT 1`: whether the database answers at all (the service's `GET /readyz`).
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] when no connection can be had in time or the query fails.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the query is read-only.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let db = examples::PostgresDatabase::connect("postgres://postgres@127.0.0.1/test", 1).await?;
    /// db.ping().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ping(&self) -> Result<(), Error> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        self.inner.pool.get().await.map_err(|err| match err {
            deadpool_postgres::PoolError::Backend(err) => Error::from(err),
            other => Error::Postgres {
                reason: format!("no connection to {}: {other}", self.inner.shown),
                source: None,
            },
        })
    }

    async fn create_and_seed(&self) -> Result<(), Error> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS articles (
                 id BIGINT PRIMARY KEY,
                 title TEXT NOT NULL,
                 body TEXT NOT NULL,
                 version BIGINT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS imports (
                 id BIGSERIAL PRIMARY KEY,
                 charset TEXT NOT NULL,
                 text TEXT NOT NULL
             );",
        )
        .await?;
        let rows: Vec<Article> = (1..=ARTICLE_COUNT).map(Article::seeded).collect();
        let ids: Vec<i64> = rows
            .iter()
            .map(|row| storable_id(row.id))
            .collect::<Result<_, _>>()?;
        let titles: Vec<&str> = rows.iter().map(|row| row.title.as_str()).collect();
        let bodies: Vec<&str> = rows.iter().map(|row| row.body.as_str()).collect();
        tx.execute(
            "INSERT INTO articles (id, title, body, version) \
             SELECT id, title, body, 1 FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[]) \
                 AS seed (id, title, body) \
             ON CONFLICT (id) DO NOTHING",
            &[&ids, &titles, &bodies],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl ArticleSource for PostgresDatabase {
    async fn article(&self, id: u64) -> Result<Option<Article>, Error> {
        self.inner.queries.fetch_add(1, Ordering::Relaxed);
        let Ok(key) = i64::try_from(id) else {
            return Ok(None);
        };
        let client = self.client().await?;
        let select = client
            .prepare_cached("SELECT id, title, body, version FROM articles WHERE id = $1")
            .await?;
        let row = client.query_opt(&select, &[&key]).await?;
        row.as_ref().map(row_to_article).transpose()
    }

    async fn put_article(&self, id: u64, update: ArticleUpdate) -> Result<Article, Error> {
        let key = storable_id(id)?;
        let client = self.client().await?;
        let upsert = client
            .prepare_cached(
                "INSERT INTO articles (id, title, body, version) VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body, \
                 version = articles.version + 1 \
                 RETURNING id, title, body, version",
            )
            .await?;
        let row = client
            .query_one(&upsert, &[&key, &update.title, &update.body])
            .await?;
        row_to_article(&row)
    }

    fn queries(&self) -> u64 {
        self.inner.queries.load(Ordering::Relaxed)
    }
}

fn row_to_article(row: &tokio_postgres::Row) -> Result<Article, Error> {
    let id: i64 = row.try_get(0)?;
    let version: i64 = row.try_get(3)?;
    Ok(Article {
        id: id.unsigned_abs(),
        title: row.try_get(1)?,
        body: row.try_get(2)?,
        version: version.unsigned_abs(),
    })
}

/// `url` with any password replaced by `***`, for logs and messages.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}
