//! The service's database: SQLite in the data directory by default, or PostgreSQL so that
//! replicas share one. The one seam between the service and its storage.

use std::path::Path;

use crate::{Article, ArticleSource, ArticleUpdate, Error, PostgresDatabase, SqliteDatabase};

/// The database behind a [`Service`](crate::Service): the same articles and imports on either
/// backend, chosen by [`ServiceConfig::database_url`](crate::ServiceConfig::database_url).
///
/// # Examples
///
/// ```
/// use examples::{ArticleSource, Database};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path(), None, 2).await?;
/// assert!(matches!(db, Database::Sqlite(_)));
/// assert_eq!(db.article(7).await?.unwrap().id, 7);
/// assert!(db.to_string().starts_with("SQLite "));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Database {
    /// The embedded default: one file in the data directory, one process.
    Sqlite(SqliteDatabase),
    /// A PostgreSQL server, shared by every replica pointed at it.
    Postgres(PostgresDatabase),
}

impl Database {
    /// PostgreSQL at `url` when one is given, else SQLite in `data_dir`; either is created and
    /// seeded on first use, with up to `connections` connections.
    ///
    /// # Errors
    ///
    /// The errors of [`SqliteDatabase::open`] or [`PostgresDatabase::connect`].
    ///
    /// # Cancel safety
    ///
    /// As the backend's own open.
    ///
    /// # Examples
    ///
    /// See [`Database`].
    pub async fn open(
        data_dir: &Path,
        url: Option<&str>,
        connections: usize,
    ) -> Result<Self, Error> {
        match url {
            Some(url) => Ok(Self::Postgres(
                PostgresDatabase::connect(url, connections).await?,
            )),
            None => Ok(Self::Sqlite(
                SqliteDatabase::open(data_dir, connections).await?,
            )),
        }
    }

    /// Stores an imported text and returns its row id.
    ///
    /// # Errors
    ///
    /// The backend's errors.
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
    /// let db = examples::Database::open(dir.path(), None, 1).await?;
    /// let id = db.store_import("utf-8", "text".to_owned()).await?;
    /// assert_eq!(db.import(id).await?.as_deref(), Some("text"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn store_import(&self, charset: &str, text: String) -> Result<i64, Error> {
        match self {
            Self::Sqlite(db) => db.store_import(charset, text).await,
            Self::Postgres(db) => db.store_import(charset, text).await,
        }
    }

    /// Reads an imported text back by its row id.
    ///
    /// # Errors
    ///
    /// The backend's errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only abandons the answer.
    ///
    /// # Examples
    ///
    /// See [`store_import`](Self::store_import).
    pub async fn import(&self, id: i64) -> Result<Option<String>, Error> {
        match self {
            Self::Sqlite(db) => db.import(id).await,
            Self::Postgres(db) => db.import(id).await,
        }
    }

    /// Whether the database answers a trivial query (`GET /readyz`).
    ///
    /// # Errors
    ///
    /// The backend's errors.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let dir = tempfile::tempdir().unwrap();
    /// examples::Database::open(dir.path(), None, 1).await?.ping().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ping(&self) -> Result<(), Error> {
        match self {
            Self::Sqlite(db) => db.ping().await,
            Self::Postgres(db) => db.ping().await,
        }
    }
}

impl std::fmt::Display for Database {
    /// `SQLite <file>` or `PostgreSQL <url without password>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(db) => write!(f, "SQLite {}", db.path().display()),
            Self::Postgres(db) => write!(f, "PostgreSQL {}", db.url()),
        }
    }
}

impl ArticleSource for Database {
    async fn article(&self, id: u64) -> Result<Option<Article>, Error> {
        match self {
            Self::Sqlite(db) => db.article(id).await,
            Self::Postgres(db) => db.article(id).await,
        }
    }

    async fn put_article(&self, id: u64, update: ArticleUpdate) -> Result<Article, Error> {
        match self {
            Self::Sqlite(db) => db.put_article(id, update).await,
            Self::Postgres(db) => db.put_article(id, update).await,
        }
    }

    fn queries(&self) -> u64 {
        match self {
            Self::Sqlite(db) => db.queries(),
            Self::Postgres(db) => db.queries(),
        }
    }
}
