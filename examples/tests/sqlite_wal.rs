//! SQLite's write-ahead log stays bounded under readers that never stop: without a checkpoint
//! that waits for them, each finds a reader still on the log and it grows by every row written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use examples::{ArticleSource, ArticleUpdate, SqliteDatabase};

const ROW: usize = 256 * 1024;
const LIMIT: u64 = 4 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_emptied_once_past_its_limit_while_readers_keep_reading() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDatabase::open(dir.path(), 4).await.unwrap();
    db.set_wal_limit(LIMIT);
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for reader in 0..3_u64 {
        let (db, stop) = (db.clone(), Arc::clone(&stop));
        readers.push(tokio::spawn(async move {
            let mut reads = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let id = (reads + reader) % 8 + 1;
                assert!(db.article(id).await.unwrap().is_some());
                reads += 1;
            }
            reads
        }));
    }

    // 60 rows of 256 KiB: 15 MiB of log without a reset, almost four times the limit.
    let mut largest = 0;
    for n in 0..60_u64 {
        let update = ArticleUpdate {
            title: format!("row {n}"),
            body: "x".repeat(ROW),
        };
        db.put_article(n % 8 + 1, update).await.unwrap();
        largest = largest.max(db.wal_bytes());
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.unwrap() > 0, "every reader read");
    }

    // A write that crosses the limit empties the log before it answers: what a caller sees
    // afterwards is at most the limit plus the one row (and its pages' headers) that crossed it.
    assert!(
        largest <= LIMIT + 2 * ROW as u64,
        "the log reached {largest} bytes against a limit of {LIMIT}"
    );
    let body = db.article(8).await.unwrap().unwrap().body;
    assert_eq!(body.len(), ROW, "the last row written to id 8 is whole");
}
