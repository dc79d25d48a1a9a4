//! `pipeline`, Node's `stream.pipeline`: an error in any stage or a drop ends every stage and
//! closes the writer, the first error is the one returned, and nothing stays open. Open
//! handles are counted: each stage and the writer hold one until they are dropped.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use nodebook_streams::{Error, ReadOptions, ReadStream, pipeline};
use tokio::io::AsyncWrite;

/// Open handles, and how many writers were shut down (Node's `end`) rather than destroyed.
#[derive(Default)]
struct Handles {
    open: AtomicUsize,
    shut_down: AtomicUsize,
}

struct Handle(Arc<Handles>);

impl Handle {
    fn open(handles: &Arc<Handles>) -> Self {
        handles.open.fetch_add(1, Ordering::SeqCst);
        Self(handles.clone())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stage (or source) holding a handle: passes `inner` through, failing at item `fail_at`.
struct Stage<S> {
    inner: S,
    fail_at: Option<usize>,
    seen: usize,
    name: &'static str,
    _handle: Handle,
}

fn stage<S>(
    handles: &Arc<Handles>,
    name: &'static str,
    fail_at: Option<usize>,
    inner: S,
) -> Stage<S> {
    Stage {
        inner,
        fail_at,
        seen: 0,
        name,
        _handle: Handle::open(handles),
    }
}

impl<S: Stream<Item = Result<Bytes, Error>> + Unpin> Stream for Stage<S> {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.fail_at == Some(self.seen) {
            self.seen += 1;
            let source = io::Error::other(format!("{} failed", self.name));
            return Poll::Ready(Some(Err(Error::Read { source })));
        }
        let item = std::task::ready!(self.inner.poll_next_unpin(cx));
        self.seen += 1;
        Poll::Ready(item)
    }
}

/// A writer holding a handle; every other poll is `Pending`; fails writes from byte
/// `fail_after` on.
struct Writer {
    data: Vec<u8>,
    turn: bool,
    max_write: usize,
    fail_after: Option<usize>,
    handles: Arc<Handles>,
    _handle: Handle,
}

fn writer(handles: &Arc<Handles>, max_write: usize, fail_after: Option<usize>) -> Writer {
    Writer {
        data: Vec::new(),
        turn: false,
        max_write,
        fail_after,
        handles: handles.clone(),
        _handle: Handle::open(handles),
    }
}

impl AsyncWrite for Writer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.turn = !self.turn;
        if self.turn {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.fail_after.is_some_and(|at| self.data.len() >= at) {
            return Poll::Ready(Err(io::Error::other("writer failed")));
        }
        let n = buf.len().min(self.max_write);
        self.data.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.handles.shut_down.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }
}

fn words() -> impl Stream<Item = Result<Bytes, Error>> + Unpin {
    futures::stream::iter(["one ", "two ", "three ", "four"].map(|w| Ok(Bytes::from(w))))
}

/// Four words of 20 KiB each: doubled, more than the default high-water mark of 64 KiB.
fn long_words() -> impl Stream<Item = Result<Bytes, Error>> + Unpin {
    futures::stream::iter((0..4u8).map(|i| Ok(Bytes::from(vec![b'a' + i; 20 * 1024]))))
}

/// Where a test makes the pipeline fail.
#[derive(Debug, Clone, Copy)]
enum FailIn {
    Nowhere,
    Source,
    Upper,
    Doubler,
    Writer,
}

/// source -> upper-casing stage -> doubling stage -> writer, each holding a handle.
async fn three_stage_pipeline(handles: &Arc<Handles>, fail: FailIn) -> Result<u64, Error> {
    three_stage_pipeline_of(handles, fail, words(), 7).await
}

async fn three_stage_pipeline_of(
    handles: &Arc<Handles>,
    fail: FailIn,
    words: impl Stream<Item = Result<Bytes, Error>> + Unpin,
    max_write: usize,
) -> Result<u64, Error> {
    let at = |which| matches!((fail, which), (a, b) if std::mem::discriminant(&a) == std::mem::discriminant(&b));
    let source = stage(handles, "source", at(FailIn::Source).then_some(2), words);
    let out = writer(handles, max_write, at(FailIn::Writer).then_some(5));
    let handles = handles.clone();
    pipeline(
        source,
        move |source| {
            let upper = stage(
                &handles,
                "upper",
                at(FailIn::Upper).then_some(1),
                source.map_ok(|w| Bytes::from(w.to_ascii_uppercase())),
            );
            stage(
                &handles,
                "doubler",
                at(FailIn::Doubler).then_some(3),
                upper.map_ok(|w| Bytes::from([&w[..], &w[..]].concat())),
            )
        },
        out,
    )
    .await
}

#[tokio::test]
async fn a_pipeline_that_succeeds_ends_the_writer_and_closes_everything() {
    let handles = Arc::new(Handles::default());
    let written = three_stage_pipeline(&handles, FailIn::Nowhere)
        .await
        .unwrap();
    assert_eq!(written, 2 * "ONE TWO THREE FOUR".len() as u64);
    assert_eq!(handles.open.load(Ordering::SeqCst), 0);
    assert_eq!(handles.shut_down.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_error_in_any_stage_closes_every_stage_and_returns_that_error() {
    for (fail, message) in [
        (FailIn::Source, "cannot read from the reader: source failed"),
        (FailIn::Upper, "cannot read from the reader: upper failed"),
        (
            FailIn::Doubler,
            "cannot read from the reader: doubler failed",
        ),
        (
            FailIn::Writer,
            "cannot write to the destination after 7 bytes: writer failed",
        ),
    ] {
        let handles = Arc::new(Handles::default());
        let err = three_stage_pipeline(&handles, fail).await.unwrap_err();
        assert_eq!(err.to_string(), message, "{fail:?}");
        assert_eq!(handles.open.load(Ordering::SeqCst), 0, "{fail:?}");
        // The writer was destroyed, not ended: no shutdown after an error.
        assert_eq!(handles.shut_down.load(Ordering::SeqCst), 0, "{fail:?}");
    }
}

/// Polls the pipeline k times and drops it, for k = 0, 1, 2, … until it completes: whenever
/// it is dropped, every stage and the writer are closed, and the writer was not ended.
fn drop_at_every_poll<F: Future<Output = Result<u64, Error>>>(
    pipeline: impl Fn(Arc<Handles>) -> F,
) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut k = 0;
    loop {
        let handles = Arc::new(Handles::default());
        let completed = rt.block_on(async {
            let mut task = tokio_test::task::spawn(pipeline(handles.clone()));
            for _ in 0..k {
                if task.poll().is_ready() {
                    return true;
                }
            }
            false
        });
        assert_eq!(handles.open.load(Ordering::SeqCst), 0, "k = {k}");
        if completed {
            assert_eq!(handles.shut_down.load(Ordering::SeqCst), 1);
            return k;
        }
        assert_eq!(handles.shut_down.load(Ordering::SeqCst), 0, "k = {k}");
        k += 1;
    }
}

#[test]
fn a_pipeline_dropped_at_any_poll_closes_every_stage_and_the_writer() {
    // Short words: every wait is in the final end().
    let polls = drop_at_every_poll(|handles| async move {
        three_stage_pipeline(&handles, FailIn::Nowhere).await
    });
    assert!(
        polls > 5,
        "the writer must have made the pipeline wait ({polls} polls)"
    );
    // Long words: the pipeline also waits for the writer to drain mid-way.
    let polls = drop_at_every_poll(|handles| async move {
        three_stage_pipeline_of(&handles, FailIn::Nowhere, long_words(), 8192).await
    });
    assert!(
        polls > 20,
        "the writer must have made the pipeline wait ({polls} polls)"
    );
}

#[tokio::test]
async fn a_file_pipeline_decodes_gbk_splits_lines_and_writes_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let verse = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/poem.gbk.txt"
    ))
    .unwrap();
    let poem = [&verse[..], b"\n", &verse, b"\r\n", &verse].concat();
    let (expected, _, _) = encoding_rs::GBK.decode(&poem);
    let src = dir.path().join("poem.gbk.txt");
    std::fs::write(&src, &poem).unwrap();
    let dst = dir.path().join("poem.utf8.txt");

    let source = ReadStream::open(&src, ReadOptions::new().high_water_mark(7))
        .await
        .unwrap();
    let out = tokio::fs::File::create(&dst).await.unwrap();
    let written = pipeline(
        source,
        |bytes| {
            bytes
                .set_encoding("gbk")
                .unwrap()
                .lines(1024)
                .map_ok(|line| Bytes::from(line + "\n"))
        },
        out,
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&dst).unwrap();
    let lines: Vec<&str> = expected.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        text,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    assert_eq!(written, text.len() as u64);
}
