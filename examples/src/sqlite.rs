//! The service's real database: SQLite through rusqlite, off the async threads.
//!
//! # Implementation details
//!
//! rusqlite is blocking, so every query runs in `spawn_blocking` on a connection taken from a small
//! pool. The pool holds at most `connections` idle connections; a query that finds it empty opens
//! one more (this only happens when the caller does not cap concurrency itself, since the service
//! puts a `Bagpipe` with `limit = connections` in front). The database runs in WAL mode so that
//! readers do not wait for the writer. Under a steady stream of readers the log would never be
//! reset (each checkpoint finds a reader still on it) and would grow without end, a gigabyte a
//! minute with large rows; so a write that leaves the log past its limit
//! ([`SqliteDatabase::set_wal_limit`], [`WAL_LIMIT`] by default) checkpoints it with `TRUNCATE`,
//! which waits for the readers of the old log (up to the busy timeout) and empties the file. Seeding happens in one transaction, only when the table is
//! empty, so a restart keeps every update.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::{ARTICLE_COUNT, Article, ArticleSource, ArticleUpdate, Error};

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "articles.sqlite3";

/// How large the write-ahead log may grow before a write empties it, by default (64 MiB).
pub const WAL_LIMIT: u64 = 64 << 20;

/// An SQLite database of articles and imports in a data directory, shared by clones.
///
/// [`open`](Self::open) creates the folder and the file on first use and seeds articles
/// `1..=1000`; later opens keep what is there.
///
/// # Examples
///
/// ```
/// use examples::{ArticleSource, SqliteDatabase};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let db = SqliteDatabase::open(dir.path(), 2).await?;
/// assert_eq!(db.article(1000).await?.unwrap().title, "Article 1000");
/// assert_eq!(db.article(1001).await?, None);
/// assert_eq!(db.queries(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The write-ahead log beside the database file.
    wal: PathBuf,
    wal_limit: AtomicU64,
    connections: usize,
    idle: Mutex<Vec<Connection>>,
    queries: AtomicU64,
}

impl std::fmt::Debug for SqliteDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDatabase")
            .field("path", &self.inner.path)
            .field("connections", &self.inner.connections)
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}

impl SqliteDatabase {
    /// Opens (creating and seeding when needed) the database in `data_dir`, keeping up to
    /// `connections` connections open (at least one).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the folder cannot be created, [`Error::Sqlite`] when SQLite cannot open
    /// or seed the file.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future lets the blocking setup finish in the background; nothing is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::SqliteDatabase;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = SqliteDatabase::open(dir.path(), 4).await?;
    /// assert!(db.path().ends_with("articles.sqlite3"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open(data_dir: impl AsRef<Path>, connections: usize) -> Result<Self, Error> {
        let dir = data_dir.as_ref().to_path_buf();
        let connections = connections.max(1);
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|err| Error::io(&dir, err))?;
            let path = dir.join(DATABASE_FILE);
            let mut first = connect(&path)?;
            create_and_seed(&mut first)?;
            Ok(Self {
                inner: Arc::new(Inner {
                    wal: dir.join(format!("{DATABASE_FILE}-wal")),
                    wal_limit: AtomicU64::new(WAL_LIMIT),
                    path,
                    connections,
                    idle: Mutex::new(vec![first]),
                    queries: AtomicU64::new(0),
                }),
            })
        })
        .await
        .map_err(|_| Error::WorkerGone)?
    }

    /// Sets how large the write-ahead log may grow before a write empties it ([`WAL_LIMIT`]
    /// by default).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = examples::SqliteDatabase::open(dir.path(), 2).await?;
    /// db.set_wal_limit(8 << 20);
    /// assert_eq!(db.wal_limit(), 8 << 20);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_wal_limit(&self, bytes: u64) {
        self.inner.wal_limit.store(bytes, Ordering::Relaxed);
    }

    /// How large the write-ahead log may grow before a write empties it.
    #[must_use]
    pub fn wal_limit(&self) -> u64 {
        self.inner.wal_limit.load(Ordering::Relaxed)
    }

    /// The size of the write-ahead log file now (0 when there is none).
    #[must_use]
    pub fn wal_bytes(&self) -> u64 {
        std::fs::metadata(&self.inner.wal).map_or(0, |meta| meta.len())
    }

    /// Runs `work`, a write, then empties the write-ahead log if the write left it past its
    /// limit. A checkpoint that cannot finish within the busy timeout (a reader held the old
    /// log that long) leaves it for the next write.
    async fn write<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let db = self.clone();
        self.with_connection(move |conn| {
            let answer = work(conn)?;
            if db.wal_bytes() > db.wal_limit() {
                let _busy: i64 =
                    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
            }
            Ok(answer)
        })
        .await
    }

    /// The database file.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = examples::SqliteDatabase::open(dir.path(), 1).await?;
    /// assert!(db.path().starts_with(dir.path()));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many connections the pool keeps: the right `limit` for a limiter in front of it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = examples::SqliteDatabase::open(dir.path(), 3).await?;
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
    /// [`Error::Sqlite`] when the insert fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not undo the insert if it already reached the database.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = examples::SqliteDatabase::open(dir.path(), 1).await?;
    /// let first = db.store_import("gbk", "静夜思".to_owned()).await?;
    /// assert_eq!(db.import(first).await?.as_deref(), Some("静夜思"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn store_import(&self, charset: &str, text: String) -> Result<i64, Error> {
        let charset = charset.to_owned();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO imports (charset, text) VALUES (?1, ?2)",
                params![charset, text],
            )?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    /// Reads an imported text back by its row id.
    ///
    /// # Errors
    ///
    /// [`Error::Sqlite`] when the query fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only abandons the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = examples::SqliteDatabase::open(dir.path(), 1).await?;
    /// assert_eq!(db.import(42).await?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn import(&self, id: i64) -> Result<Option<String>, Error> {
        self.with_connection(move |conn| {
            Ok(conn
                .query_row("SELECT text FROM imports WHERE id = ?1", [id], |row| {
                    row.get(0)
                })
                .optional()?)
        })
        .await
    }

    /// Runs `SELECT 1` on a pooled connection: whether the database answers at all (the
    /// service's `GET /readyz`).
    ///
    /// # Errors
    ///
    /// [`Error::Sqlite`] when SQLite cannot open or query the file; [`Error::WorkerGone`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the query is read-only.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = examples::SqliteDatabase::open(dir.path(), 1).await?;
    /// db.ping().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ping(&self) -> Result<(), Error> {
        self.with_connection(|conn| {
            conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }

    async fn with_connection<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => connect(&inner.path)?,
            };
            let answer = work(&mut conn);
            let mut idle = inner.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < inner.connections {
                idle.push(conn);
            }
            answer
        })
        .await
        .map_err(|_| Error::WorkerGone)?
    }
}

impl ArticleSource for SqliteDatabase {
    async fn article(&self, id: u64) -> Result<Option<Article>, Error> {
        self.inner.queries.fetch_add(1, Ordering::Relaxed);
        let Ok(key) = i64::try_from(id) else {
            return Ok(None);
        };
        self.with_connection(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT id, title, body, version FROM articles WHERE id = ?1",
                    [key],
                    row_to_article,
                )
                .optional()?)
        })
        .await
    }

    async fn put_article(&self, id: u64, update: ArticleUpdate) -> Result<Article, Error> {
        let key = storable_id(id)?;
        self.write(move |conn| {
            Ok(conn.query_row(
                "INSERT INTO articles (id, title, body, version) VALUES (?1, ?2, ?3, 1) \
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body, \
                 version = articles.version + 1 \
                 RETURNING id, title, body, version",
                params![key, update.title, update.body],
                row_to_article,
            )?)
        })
        .await
    }

    fn queries(&self) -> u64 {
        self.inner.queries.load(Ordering::Relaxed)
    }
}

/// An article id as the database stores it (`INTEGER`/`BIGINT`: at most `i64::MAX`).
pub(crate) fn storable_id(id: u64) -> Result<i64, Error> {
    i64::try_from(id).map_err(|_| {
        Error::argument(
            "article id",
            format!(
                "{id} is beyond the largest id the database stores, {}",
                i64::MAX
            ),
        )
    })
}

fn connect(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn create_and_seed(conn: &mut Connection) -> Result<(), Error> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS articles (
             id INTEGER PRIMARY KEY,
             title TEXT NOT NULL,
             body TEXT NOT NULL,
             version INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS imports (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             charset TEXT NOT NULL,
             text TEXT NOT NULL
         );",
    )?;
    let rows: i64 = tx.query_row("SELECT COUNT(*) FROM articles", [], |row| row.get(0))?;
    if rows == 0 {
        let mut insert =
            tx.prepare("INSERT INTO articles (id, title, body, version) VALUES (?1, ?2, ?3, ?4)")?;
        for id in 1..=ARTICLE_COUNT {
            let row = Article::seeded(id);
            insert.execute(params![
                i64::try_from(row.id).unwrap_or(i64::MAX),
                row.title,
                row.body,
                1_i64
            ])?;
        }
        drop(insert);
    }
    tx.commit()?;
    Ok(())
}

fn row_to_article(row: &rusqlite::Row<'_>) -> rusqlite::Result<Article> {
    let id: i64 = row.get(0)?;
    let version: i64 = row.get(3)?;
    Ok(Article {
        id: id.unsigned_abs(),
        title: row.get(1)?,
        body: row.get(2)?,
        version: version.unsigned_abs(),
    })
}
