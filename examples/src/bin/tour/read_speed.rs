//! Scene 6: highWaterMark against read throughput, on a file in the page cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use nodebook_streams::{ReadOptions, ReadStream};
use tokio::time::Instant;

use crate::TourResult;
use crate::report::{claim, depends_on_machine, verdict};

const FILE_SIZE: usize = 64 << 20;

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        // Best effort: the file is in the temp dir either way.
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) async fn high_water_mark() -> TourResult {
    let path = std::env::temp_dir().join(format!("node-patterns-tour-{}.bin", std::process::id()));
    let guard = RemoveOnDrop(path.clone());
    let data: Vec<u8> = (0..FILE_SIZE).map(|i| (i * 31 % 251) as u8).collect();
    tokio::fs::write(&path, &data).await?;
    drop(data);
    claim(
        "a larger highWaterMark reads the same file in fewer, larger chunks, and faster: each chunk costs a read and a wakeup.",
    );
    depends_on_machine(
        "the file was written just now, so it is read from the page cache, not the disk; the speeds are this machine's memory, its core count (file reads run on tokio's blocking threads) and whatever else it runs.",
    );
    println!(
        "Reading a {} MiB file at several highWaterMark values:",
        FILE_SIZE >> 20
    );
    let bar = ProgressBar::new((FILE_SIZE * 5) as u64).with_style(
        ProgressStyle::with_template("  [{bar:40}] {bytes}/{total_bytes} {msg}")?
            .progress_chars("=> "),
    );
    let mut results = Vec::new();
    for high_water_mark in [1 << 10, 4 << 10, 16 << 10, 64 << 10, 1 << 20] {
        bar.set_message(format!("highWaterMark {}", size(high_water_mark)));
        let (bytes, chunks, elapsed) = read_all(&path, high_water_mark, &bar).await?;
        if bytes != FILE_SIZE as u64 {
            return Err(format!("read {bytes} bytes of {FILE_SIZE}").into());
        }
        results.push((high_water_mark, chunks, elapsed));
    }
    bar.finish_and_clear();
    let mut chunks_as_expected = true;
    let mut slower_steps = Vec::new();
    let mut previous: Option<(usize, f64)> = None;
    for (high_water_mark, chunks, elapsed) in results {
        let mib_per_s = (FILE_SIZE as f64 / (1 << 20) as f64) / elapsed.as_secs_f64();
        println!(
            "  highWaterMark {:>7}: {chunks:>6} chunks in {:>8.1?}  {mib_per_s:>7.0} MiB/s",
            size(high_water_mark),
            elapsed
        );
        chunks_as_expected &= chunks == FILE_SIZE.div_ceil(high_water_mark);
        if let Some((smaller, smaller_speed)) = previous
            && mib_per_s <= smaller_speed
        {
            slower_steps.push(format!(
                "{} ({mib_per_s:.0} MiB/s) was not faster than {} ({smaller_speed:.0} MiB/s)",
                size(high_water_mark),
                size(smaller)
            ));
        }
        previous = Some((high_water_mark, mib_per_s));
    }
    drop(guard);
    println!(
        "The temporary file {} is removed: {}",
        path.display(),
        !path.exists()
    );
    let speeds = if slower_steps.is_empty() {
        "and each larger highWaterMark read faster".to_owned()
    } else {
        format!("but {}", slower_steps.join("; "))
    };
    verdict(
        chunks_as_expected && slower_steps.is_empty(),
        &format!(
            "the chunk counts were {} the file size over the highWaterMark, {speeds}.",
            if chunks_as_expected { "exactly" } else { "not" }
        ),
    );
    Ok(())
}

async fn read_all(
    path: &Path,
    high_water_mark: usize,
    bar: &ProgressBar,
) -> Result<(u64, usize, Duration), Box<dyn std::error::Error>> {
    let clock = Instant::now();
    let mut stream =
        ReadStream::open(path, ReadOptions::new().high_water_mark(high_water_mark)).await?;
    let (mut bytes, mut chunks) = (0_u64, 0_usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        chunks += 1;
        bar.inc(chunk.len() as u64);
    }
    Ok((bytes, chunks, clock.elapsed()))
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}
