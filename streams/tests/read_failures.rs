//! Failure cases: each is a clear error naming what failed, the stream ends, nothing hangs.

use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::StreamExt;
use nodebook_streams::{Error, ReadOptions, ReadStream, pipe};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[tokio::test]
async fn missing_file_is_an_open_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.txt");
    let err = ReadStream::open(&path, ReadOptions::new())
        .await
        .unwrap_err();
    match &err {
        Error::Open { path: p, source } => {
            assert_eq!(p, &path);
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("expected Error::Open, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("cannot open {}: ", path.display()))
    );
}

#[tokio::test]
async fn directory_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = ReadStream::open(dir.path(), ReadOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Open { path, source } if path == dir.path() && source.kind() == io::ErrorKind::IsADirectory),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("cannot open {}: is a directory", dir.path().display())
    );
}

#[tokio::test]
async fn unreadable_file_is_an_open_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.txt");
    std::fs::write(&path, b"secret").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&path).is_ok() {
        println!("skipped: running with privileges that ignore file permissions (root)");
        return;
    }
    let err = ReadStream::open(&path, ReadOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Open { source, .. } if source.kind() == io::ErrorKind::PermissionDenied),
        "{err:?}"
    );
}

/// Gives `good` bytes, then fails every read.
struct FailsAfter {
    good: usize,
}

impl Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.good);
        buf[..n].fill(b'x');
        self.good -= n;
        Ok(n)
    }
}

impl AsyncRead for FailsAfter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut tmp = vec![0; buf.remaining()];
        let n = Read::read(&mut *self, &mut tmp)?;
        buf.put_slice(&tmp[..n]);
        Poll::Ready(Ok(()))
    }
}

async fn assert_fails_mid_way(mut stream: ReadStream) {
    let mut good = 0;
    let err = loop {
        match stream
            .next()
            .await
            .expect("the stream must end with the error")
        {
            Ok(chunk) => good += chunk.len(),
            Err(err) => break err,
        }
    };
    assert_eq!(good, 25);
    assert!(
        matches!(&err, Error::Read { source } if source.to_string() == "disk on fire"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "cannot read from the reader: disk on fire");
    assert!(stream.next().await.is_none(), "the error ends the stream");
}

#[tokio::test]
async fn reader_erroring_mid_way_ends_the_stream_with_the_error() {
    let options = ReadOptions::new().high_water_mark(10);
    assert_fails_mid_way(ReadStream::from_reader(FailsAfter { good: 25 }, options).unwrap()).await;
    assert_fails_mid_way(
        ReadStream::from_blocking_reader(FailsAfter { good: 25 }, options).unwrap(),
    )
    .await;
}

#[tokio::test]
async fn pipe_returns_a_read_error_and_stops() {
    let stream = ReadStream::from_reader(
        FailsAfter { good: 25 },
        ReadOptions::new().high_water_mark(10),
    )
    .unwrap();
    let mut out = Vec::new();
    let err = pipe(stream, &mut out).await.unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
    assert_eq!(out.len(), 25, "everything before the error was written");
}

/// Accepts `room` bytes, then fails.
struct WriterFailsAfter {
    room: usize,
    fail_flush: bool,
}

impl AsyncWrite for WriterFailsAfter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.room == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "peer went away",
            )));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.fail_flush {
            return Poll::Ready(Err(io::Error::other("flush refused")));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn writer_erroring_mid_way_ends_the_pipe_and_stops_the_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    // Sparse: 1 GiB on paper, nothing on disk. The pipe must stop right after the error.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let stream = ReadStream::open(&path, ReadOptions::new()).await.unwrap();
    let err = pipe(
        stream,
        WriterFailsAfter {
            room: 100_000,
            fail_flush: false,
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Write { written: 100_000, source } if source.kind() == io::ErrorKind::BrokenPipe),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "cannot write to the destination after 100000 bytes: peer went away"
    );
}

#[tokio::test]
async fn flush_error_is_reported_with_the_byte_count() {
    let stream = ReadStream::from_reader(&b"0123456789"[..], ReadOptions::new()).unwrap();
    let err = pipe(
        stream,
        WriterFailsAfter {
            room: 100,
            fail_flush: true,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Flush { written: 10, .. }), "{err:?}");
}

#[tokio::test]
async fn a_writer_accepting_nothing_is_a_write_zero_error_not_a_hang() {
    let stream = ReadStream::from_reader(&b"data"[..], ReadOptions::new()).unwrap();
    let err = pipe(stream, FullWriter).await.unwrap_err();
    assert!(
        matches!(&err, Error::Write { written: 0, source } if source.kind() == io::ErrorKind::WriteZero),
        "{err:?}"
    );
}

#[tokio::test]
async fn stream_errors_pass_through_text_and_lines() {
    let stream = ReadStream::from_reader(
        FailsAfter { good: 25 },
        ReadOptions::new().high_water_mark(10),
    )
    .unwrap();
    let mut lines = stream.set_encoding("utf8").unwrap().lines(1000);
    let err = lines.next().await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
    assert!(lines.next().await.is_none());
}

#[tokio::test]
async fn concat_passes_a_stream_error_through() {
    let stream = ReadStream::from_reader(
        FailsAfter { good: 25 },
        ReadOptions::new().high_water_mark(10),
    )
    .unwrap();
    let err = nodebook_streams::concat(stream, 1000).await.unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
}

/// A writer whose buffer is full for good: every write accepts 0 bytes.
struct FullWriter;

impl AsyncWrite for FullWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(0))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Gives 10 bytes, then panics.
struct PanicsAfterOneRead {
    reads: usize,
}

impl Read for PanicsAfterOneRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        assert!(self.reads < 2, "reader bug on purpose");
        let n = buf.len().min(10);
        buf[..n].fill(b'p');
        Ok(n)
    }
}

#[tokio::test]
async fn a_panicking_blocking_reader_ends_the_stream_with_an_error_not_silently() {
    let mut stream =
        ReadStream::from_blocking_reader(PanicsAfterOneRead { reads: 0 }, ReadOptions::new())
            .unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), &b"pppppppppp"[..]);
    let err = stream
        .next()
        .await
        .expect("an error, not the end")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Read { source } if source.to_string().starts_with("reading stopped early")),
        "{err:?}"
    );
    assert!(stream.next().await.is_none());
}

#[test]
fn a_stream_that_outlives_its_runtime_reports_it_instead_of_ending_early() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, vec![1u8; 10_000]).unwrap();
    let first = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut stream = first.block_on(async {
        let mut stream = ReadStream::open(&path, ReadOptions::new().high_water_mark(1000))
            .await
            .unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap().len(), 1000);
        stream
    });
    // The stream's jobs run on the runtime it was created in: once that is shut down, the next
    // chunk cannot be read, and the stream says so instead of ending as if the file had.
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    second.block_on(async {
        let mut got = 1000;
        let err = loop {
            match stream.next().await.expect("an error, not a silent end") {
                Ok(chunk) => got += chunk.len(),
                Err(err) => break err,
            }
        };
        assert!(got < 10_000);
        assert!(
            matches!(&err, Error::ReadFile { path: p, .. } if p == &path),
            "{err:?}"
        );
        assert!(stream.next().await.is_none());
    });
}
