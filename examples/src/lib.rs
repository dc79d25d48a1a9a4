//! The toolkit at work: a tour of every crate on the book's scenarios, a tokio service over an
//! embedded database, and integration tests against a mock database.
//!
//! **Under construction:** the tour, the service and the tests land with the examples issue.
#![doc(test(attr(deny(warnings))))]

mod article;
mod cli;
mod client;
mod error;
mod files;
mod load;
mod mock;
mod service;
mod shutdown;
mod source;
mod sqlite;
mod store;

pub use article::{ARTICLE_COUNT, Article, ArticleUpdate};
pub use cli::Flags;
pub use client::{HttpAnswer, HttpClient};
pub use error::Error;
pub use files::{BadFileName, POEM, check_file_name, files_dir, seed_files};
pub use load::{LoadPlan, LoadReport};
pub use mock::MockDatabase;
pub use service::{Service, ServiceConfig, status_of};
pub use shutdown::shutdown_signal;
pub use source::ArticleSource;
pub use sqlite::{DATABASE_FILE, SqliteDatabase};
pub use store::{
    ARTICLE_UPDATED, ArticleStore, CacheCounters, EventCounters, LimiterStats, StoreConfig,
    StoreStats,
};
