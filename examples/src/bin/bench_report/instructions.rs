//! Instruction counts beside times, for the CPU-bound targets.
//!
//! A time ratio taken on a shared machine can be moved by whatever else runs; an instruction
//! count cannot. For each target of `report.toml` with `instructions = { bench, iters }`, the
//! report runs that bench binary under `valgrind --tool=callgrind` with `BENCH_COUNT` naming one
//! subject (`group/subject`, or `group/subject/param`) and `BENCH_COUNT_ITERS` the number of
//! iterations, once at `iters` and once at twice that. The bench runs the subject outside
//! criterion and exits; the difference of the two totals is the cost of `iters` iterations with
//! the setup cancelled out. The report prints the instruction ratio ours/peer beside the time
//! ratio and flags a row where the two disagree by more than 25%.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::results::Paths;
use crate::targets::{Id, ReportSpec};
use crate::{read_or_empty, write};

/// Where a row's time and instruction ratios disagree by more than this, the report flags it.
pub(crate) const DISAGREEMENT: f64 = 0.25;

const FILE: &str = "instructions.tsv";

/// Instructions per iteration, by crate and benchmark id, from the last counting run.
pub(crate) type Counts = BTreeMap<(String, String), f64>;

/// The `BENCH_COUNT` name of a benchmark.
pub(crate) fn count_name(id: &Id) -> String {
    if id[2].is_empty() {
        format!("{}/{}", id[0], id[1])
    } else {
        format!("{}/{}/{}", id[0], id[1], id[2])
    }
}

/// Counts every target of `crates` that asks for it; writes what it found for the report.
/// Without valgrind, says so and counts nothing.
pub(crate) fn count(paths: &Paths, spec: &ReportSpec, crates: &[String]) -> Result<(), String> {
    // The crates run now are counted again; the others keep their last counts.
    let mut counts = load(paths);
    counts.retain(|(krate, _), _| !crates.contains(krate));
    let wanted: Vec<_> = spec
        .targets
        .iter()
        .filter(|t| crates.contains(&t.krate))
        .filter_map(|t| t.counted().map(|(how, ids)| (t, ids, how)))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("bench-report: no valgrind on the PATH; instruction counts are left out");
        return Ok(());
    }
    let mut executables: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    for (target, ids, how) in wanted {
        let key = (target.krate.clone(), how.bench.clone());
        if !executables.contains_key(&key) {
            let exe = bench_executable(&paths.root, &target.krate, &how.bench)?;
            executables.insert(key.clone(), exe);
        }
        let exe = &executables[&key];
        for id in ids {
            let name = count_name(id);
            if counts.contains_key(&(target.krate.clone(), name.clone())) {
                continue;
            }
            println!(
                "bench-report: counting instructions of {}/{name}",
                target.krate
            );
            let once = collected(exe, &name, how.iters)?;
            let twice = collected(exe, &name, how.iters * 2)?;
            let per_iteration = twice.saturating_sub(once) as f64 / how.iters as f64;
            counts.insert((target.krate.clone(), name), per_iteration);
        }
    }
    let text: String = counts
        .iter()
        .map(|((krate, name), per)| format!("{krate}\t{name}\t{per}\n"))
        .collect();
    write(&paths.runs.join(FILE), &text)
}

/// The counts the last run wrote.
pub(crate) fn load(paths: &Paths) -> Counts {
    parse(&read_or_empty(&paths.runs.join(FILE)))
}

fn parse(text: &str) -> Counts {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let krate = fields.next()?.to_owned();
            let name = fields.next()?.to_owned();
            let per = fields.next()?.parse().ok()?;
            Some(((krate, name), per))
        })
        .collect()
}

/// The bench binary that `cargo bench` builds for `bench` of `krate`.
fn bench_executable(root: &Path, krate: &str, bench: &str) -> Result<PathBuf, String> {
    let package = format!("nodebook-{krate}");
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(root)
        .args([
            "bench",
            "-p",
            &package,
            "--all-features",
            "--bench",
            bench,
            "--no-run",
        ])
        .args(["--message-format", "json"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo bench --no-run for {package}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo bench -p {package} --bench {bench} --no-run failed ({})",
            output.status
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == bench)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo built no executable for {package}'s bench {bench}"))
}

/// The instructions callgrind collected over a whole run of `exe` counting `name`.
fn collected(exe: &Path, name: &str, iters: u64) -> Result<u64, String> {
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .env("BENCH_COUNT", name)
        .env("BENCH_COUNT_ITERS", iters.to_string())
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "counting {name} under callgrind failed ({}): {}",
            output.status,
            stderr.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
        ));
    }
    collected_total(&stderr).ok_or_else(|| format!("callgrind printed no total for {name}"))
}

/// The number on callgrind's `Collected : N` summary line.
pub(crate) fn collected_total(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|line| line.split_once("Collected :"))
        .and_then(|(_, rest)| rest.trim().parse().ok())
}
