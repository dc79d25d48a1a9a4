//! `concat` under any chunks and limit: the joined chunks or a limit error, never more of the
//! stream held than the limit, nothing pulled after the limit is hit, nothing leaked.
//!
//! Input layout: the limit (0 to 65535), an optional index of a chunk replaced by a read error,
//! up to 16 cut positions, then the bytes. Every chunk is a `Bytes` whose owner counts the live
//! bytes, and the stream checks that count each time `concat` asks for the next chunk.
#![no_main]

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use nodebook_streams::{Error, concat};
use toolkit_fuzz::{cuts, ready, split};

/// A chunk's storage; it counts itself in `live` until dropped.
struct Counted {
    bytes: Vec<u8>,
    live: Arc<AtomicUsize>,
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live.fetch_sub(self.bytes.len(), Ordering::SeqCst);
    }
}

struct Source {
    chunks: Vec<Vec<u8>>,
    fail_at: Option<usize>,
    next: usize,
    live: Arc<AtomicUsize>,
    limit: usize,
}

impl Stream for Source {
    type Item = std::result::Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let held = self.live.load(Ordering::SeqCst);
        assert!(
            held <= self.limit,
            "concat holds {held} bytes, limit {}",
            self.limit
        );
        let index = self.next;
        let Some(chunk) = self.chunks.get_mut(index) else {
            return Poll::Ready(None);
        };
        let bytes = std::mem::take(chunk);
        self.next += 1;
        if self.fail_at == Some(index) {
            let source = io::Error::other(format!("chunk {index} failed"));
            return Poll::Ready(Some(Err(Error::Read { source })));
        }
        self.live.fetch_add(bytes.len(), Ordering::SeqCst);
        let live = Arc::clone(&self.live);
        Poll::Ready(Some(Ok(Bytes::from_owner(Counted { bytes, live }))))
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = check(Unstructured::new(data));
});

fn check(mut u: Unstructured<'_>) -> Result<()> {
    let limit = usize::from(u.arbitrary::<u16>()?);
    let fail_at = u.arbitrary::<Option<u8>>()?.map(usize::from);
    let cuts = cuts(&mut u, 16)?;
    let bytes = u.take_rest();
    let chunks: Vec<Vec<u8>> = split(bytes.len(), &cuts, |_| true)
        .into_iter()
        .map(|(start, end)| bytes[start..end].to_vec())
        .collect();

    // The model: the first error or the first chunk over the limit ends it.
    let mut total = 0u64;
    let mut expected: std::result::Result<usize, (usize, Option<u64>)> = Ok(chunks.len());
    for (index, chunk) in chunks.iter().enumerate() {
        if fail_at == Some(index) {
            expected = Err((index, None));
            break;
        }
        total += chunk.len() as u64;
        if total > limit as u64 {
            expected = Err((index, Some(total)));
            break;
        }
    }

    let live = Arc::new(AtomicUsize::new(0));
    let mut source = Source {
        chunks: chunks.clone(),
        fail_at,
        next: 0,
        live: Arc::clone(&live),
        limit,
    };
    let result = ready(concat(&mut source, limit));
    match (&result, expected) {
        (Ok(joined), Ok(_)) => {
            assert_eq!(joined.as_ref(), bytes, "joined chunks");
            assert_eq!(source.next, chunks.len(), "every chunk was read");
        }
        (Err(Error::Read { .. }), Err((index, None))) => {
            assert_eq!(source.next, index + 1, "nothing read after the error");
        }
        (Err(Error::LimitExceeded { limit: l, at_least }), Err((index, Some(total)))) => {
            assert_eq!(*l, limit);
            assert_eq!(*at_least, total);
            assert_eq!(
                source.next,
                index + 1,
                "nothing read after the limit was hit"
            );
        }
        (got, want) => panic!("got {got:?}, want {want:?}, limit {limit}"),
    }
    drop(result);
    drop(source);
    assert_eq!(live.load(Ordering::SeqCst), 0, "a chunk outlived concat");
    Ok(())
}
