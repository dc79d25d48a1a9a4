//! What the article store needs from a database, so that SQLite and the mock are interchangeable.

use std::future::Future;

use crate::{Article, ArticleUpdate, Error};

/// A database that can read and write articles.
///
/// Implemented by [`SqliteDatabase`](crate::SqliteDatabase) and
/// [`PostgresDatabase`](crate::PostgresDatabase) (behind [`Database`](crate::Database)) for the
/// service and by
/// [`MockDatabase`](crate::MockDatabase) for the tour and the tests, so that the service and the
/// tests run the same [`ArticleStore`](crate::ArticleStore) composition.
///
/// # Examples
///
/// ```
/// use examples::{ArticleSource, MockDatabase};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// let db = MockDatabase::new(Duration::from_millis(1));
/// let row = db.article(5).await?.expect("seeded");
/// assert_eq!(row.id, 5);
/// assert_eq!(db.queries(), 1);
/// # Ok(())
/// # }
/// ```
pub trait ArticleSource: Clone + Send + Sync + 'static {
    /// Reads one article; `Ok(None)` when no row has that id.
    ///
    /// # Errors
    ///
    /// Whatever the database reports.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the answer; the query itself may still run to its end.
    fn article(&self, id: u64) -> impl Future<Output = Result<Option<Article>, Error>> + Send;

    /// Writes the title and text of article `id` and returns the new row: an existing row gets
    /// the next version, an absent one is created with version 1 (HTTP `PUT`: create or
    /// replace).
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] for an id the database cannot store (beyond `i64::MAX`); whatever
    /// the database reports.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not undo the write if it already reached the database.
    fn put_article(
        &self,
        id: u64,
        update: ArticleUpdate,
    ) -> impl Future<Output = Result<Article, Error>> + Send;

    /// How many read queries ran so far.
    fn queries(&self) -> u64;
}
