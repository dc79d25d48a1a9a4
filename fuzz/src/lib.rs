//! Helpers shared by the fuzz targets: cutting an input into chunks and driving a future or
//! stream whose input is always ready.
//!
//! The targets live in `fuzz_targets/`; run them with `cargo fuzz run -s none <target>` (see
//! CONTRIBUTING.md).

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use libfuzzer_sys::arbitrary::{Result, Unstructured};

/// Reads up to `max` cut positions from `u`, for [`split`] to cut an input at (a repeated
/// position gives an empty chunk).
///
/// # Errors
///
/// When `u` cannot give the count of cuts.
pub fn cuts(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u16>> {
    let count = u.int_in_range(0..=max)?;
    let mut cuts = Vec::with_capacity(count);
    for _ in 0..count {
        cuts.push(u.arbitrary::<u16>()?);
    }
    Ok(cuts)
}

/// Splits `len` at the given cut positions (each taken modulo `len + 1`, then moved down to
/// satisfy `boundary`), returning the chunk ranges in order; empty chunks are kept.
pub fn split(len: usize, cuts: &[u16], boundary: impl Fn(usize) -> bool) -> Vec<(usize, usize)> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&cut| {
            let mut at = usize::from(cut) % (len + 1);
            while !boundary(at) {
                at -= 1;
            }
            at
        })
        .collect();
    points.sort_unstable();
    let mut ranges = Vec::with_capacity(points.len() + 1);
    let mut start = 0;
    for point in points {
        ranges.push((start, point));
        start = point;
    }
    ranges.push((start, len));
    ranges
}

/// Polls `future` to completion with a waker that does nothing.
///
/// # Panics
///
/// If the future is pending: every input of the targets is ready at once, so a pending poll is
/// a lost wakeup waiting to happen.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("pending although every input was ready"),
    }
}

/// Collects every item of `stream`, which must never be pending.
///
/// # Panics
///
/// If the stream is pending (see [`ready`]).
pub fn collect<S: Stream>(stream: S) -> Vec<S::Item> {
    let mut stream = pin!(stream);
    let mut cx = Context::from_waker(Waker::noop());
    let mut items = Vec::new();
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => items.push(item),
            Poll::Ready(None) => return items,
            Poll::Pending => panic!("pending although every input was ready"),
        }
    }
}

/// A stream that yields the items of a vector, always ready.
#[derive(Debug)]
pub struct Ready<T>(pub std::collections::VecDeque<T>);

impl<T: Unpin> Stream for Ready<T> {
    type Item = T;

    fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<T>> {
        Poll::Ready(self.0.pop_front())
    }
}
