//! A finished stream's buffers serve the next stream: the second read of a file gets its
//! chunks in buffers the first one used, instead of allocating and zeroing new ones.
//!
//! Alone in its test binary, because the spare buffers are process-wide.

use std::collections::HashSet;

use futures::StreamExt;
use streams::{ReadOptions, ReadStream};

/// The address of each chunk's first byte, rounded down to the buffer's page: a buffer keeps
/// its address, and where a read starts within it depends only on the file offset.
async fn chunk_pages(path: &std::path::Path, options: ReadOptions) -> Vec<usize> {
    let mut stream = ReadStream::open(path, options).await.unwrap();
    let mut pages = Vec::new();
    while let Some(chunk) = stream.next().await {
        pages.push(chunk.unwrap().as_ptr().addr() / 4096);
    }
    pages
}

#[tokio::test]
async fn a_second_stream_reads_into_the_first_ones_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, vec![7u8; 10 * 48 * 1024]).unwrap();
    let options = ReadOptions::new().high_water_mark(48 * 1024);

    let first: HashSet<usize> = chunk_pages(&path, options).await.into_iter().collect();
    // Memory of the same size taken meanwhile, on the blocking pool like the stream's job: were
    // the buffers freed, the allocator would hand them out here.
    let taken =
        tokio::task::spawn_blocking(|| (0..16).map(|_| vec![1u8; 52 * 1024]).collect::<Vec<_>>())
            .await
            .unwrap();
    let second = chunk_pages(&path, options).await;
    drop(taken);

    assert_eq!(second.len(), 10);
    assert!(
        second.iter().all(|page| first.contains(page)),
        "second stream used new buffers: {second:?} against {first:?}"
    );
}
