//! The toolkit at work: a tour of every crate on the book's scenarios, a tokio service over an
//! embedded database, and integration tests against a mock database.
//!
//! **Under construction:** the tour, the service and the tests land with the examples issue.
#![doc(test(attr(deny(warnings))))]

mod article;
mod error;
mod mock;
mod source;
mod sqlite;

pub use article::{ARTICLE_COUNT, Article, ArticleUpdate};
pub use error::Error;
pub use mock::MockDatabase;
pub use source::ArticleSource;
pub use sqlite::{DATABASE_FILE, SqliteDatabase};
