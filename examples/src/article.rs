//! The row that every database layer of the examples serves.

use serde::{Deserialize, Serialize};

/// The number of articles a fresh database is seeded with: ids `1..=ARTICLE_COUNT`.
pub const ARTICLE_COUNT: u64 = 1000;

/// One article: the row behind `GET /articles/{id}`.
///
/// `version` starts at 1 and grows by one with every update, so that a reader can tell an old row
/// from a new one.
///
/// # Examples
///
/// ```
/// use examples::Article;
///
/// let first = Article::seeded(1);
/// assert_eq!(first.id, 1);
/// assert_eq!(first.version, 1);
/// assert_eq!(first.title, "Article 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// The primary key, from 1.
    pub id: u64,
    /// The title.
    pub title: String,
    /// The text.
    pub body: String,
    /// How many times the row was written: 1 after seeding.
    pub version: u64,
}

impl Article {
    /// The row that seeding writes for `id`, before any update.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::Article;
    ///
    /// assert!(Article::seeded(7).body.contains("article 7"));
    /// ```
    #[must_use]
    pub fn seeded(id: u64) -> Self {
        Self {
            id,
            title: format!("Article {id}"),
            body: format!("The text of article {id}, as seeded on first start."),
            version: 1,
        }
    }
}

/// The fields a client sends with `PUT /articles/{id}`.
///
/// # Examples
///
/// ```
/// use examples::ArticleUpdate;
///
/// let update: ArticleUpdate = serde_json::from_str(r#"{"title":"New","body":"Text"}"#).unwrap();
/// assert_eq!(update.title, "New");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleUpdate {
    /// The new title.
    pub title: String,
    /// The new text.
    pub body: String,
}
