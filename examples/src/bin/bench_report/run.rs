//! Running the benches: each crate's `cargo bench`, and Node's decoder script.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use crate::results::{Paths, find_benchmark_files, read_bench};
use crate::{Settings, write};

/// Runs one crate's benches with every feature (a bench that needs one, such as the cache's
/// Redis bench, runs too), echoing their output, and records what they printed beside
/// criterion's lines and which groups they wrote.
///
/// With `--quick`, criterion takes 10 samples and the paired benches are told, through
/// `NODEBOOK_PAIRED_ROUNDS=5`, to run five rounds per pair.
pub(crate) fn run_benches(paths: &Paths, krate: &str, settings: Settings) -> Result<(), String> {
    let package = format!("nodebook-{krate}");
    println!("bench-report: cargo bench -p {package}");
    let started = SystemTime::now();
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command
        .current_dir(&paths.root)
        .args([
            "bench",
            "-p",
            &package,
            "--all-features",
            "--bench",
            "*",
            "--",
            "--warm-up-time",
        ])
        .arg(settings.warm_up.to_string())
        .arg("--measurement-time")
        .arg(settings.measurement.to_string())
        .stdout(Stdio::piped());
    if settings.quick {
        command
            .args(["--sample-size", "10"])
            .env("NODEBOOK_PAIRED_ROUNDS", "5");
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run cargo bench -p {package}: {e}"))?;
    let mut printed = String::new();
    if let Some(stdout) = child.stdout.take() {
        let mut timeline = None;
        let mut tables = crate::adaptive::Capture::default();
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("cannot read cargo bench's output: {e}"))?;
            println!("{line}");
            if let Some(series) = crate::timeline::capture(&line, &mut timeline) {
                printed.push_str(&series);
                printed.push('\n');
            } else if let Some(table) = crate::adaptive::capture(&line, &mut tables) {
                printed.push_str(&table);
                printed.push('\n');
            } else if is_printed_measurement(&line) {
                printed.push_str(&line);
                printed.push('\n');
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cargo bench -p {package}: {e}"))?;
    if !status.success() {
        return Err(format!("cargo bench -p {package} failed ({status})"));
    }
    let mut groups = BTreeSet::new();
    for file in find_benchmark_files(&paths.criterion) {
        let fresh = std::fs::metadata(&file)
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| modified >= started);
        if fresh && let Some(bench) = read_bench(&file) {
            groups.insert(bench.group);
        }
    }
    let groups: String = groups.into_iter().map(|g| g + "\n").collect();
    write(&paths.runs.join(format!("{krate}.groups")), &groups)?;
    write(&paths.runs.join(format!("{krate}.printed")), &printed)
}

/// A line a bench printed itself: not criterion's progress, results or outlier notes.
pub(crate) fn is_printed_measurement(line: &str) -> bool {
    let criterion_words = [
        "time:",
        "thrpt:",
        "change:",
        "Found ",
        "Benchmarking",
        "Performance has",
        "No change",
        "Change within",
        "Gnuplot",
        "Warning",
        "WARNING",
        "running ",
        "test result",
        "outliers",
    ];
    !line.trim().is_empty()
        && !line.starts_with(' ')
        && line.contains(':')
        && line.chars().any(|c| c.is_ascii_digit())
        && !criterion_words.iter().any(|word| line.contains(word))
}

pub(crate) fn run_node(paths: &Paths) {
    let script = paths.root.join("decoder/benches/node_string_decoder.js");
    if !script.exists() {
        return;
    }
    println!("bench-report: node {}", script.display());
    match Command::new("node").arg(&script).output() {
        Ok(out) if out.status.success() => {
            let version = Command::new("node")
                .arg("--version")
                .output()
                .map(|v| String::from_utf8_lossy(&v.stdout).trim().to_owned())
                .unwrap_or_default();
            let text = format!("node {version}\n{}", String::from_utf8_lossy(&out.stdout));
            print!("{text}");
            if let Err(err) = write(&paths.runs.join("node.printed"), &text) {
                eprintln!("bench-report: {err}");
            }
        }
        Ok(out) => eprintln!(
            "bench-report: node failed ({}); Node's figures are left out",
            out.status
        ),
        Err(err) => eprintln!("bench-report: no node ({err}); Node's figures are left out"),
    }
}
