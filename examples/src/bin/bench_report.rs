//! The one-command benchmark report: runs every crate's criterion benches, then regenerates
//! `BENCHMARKS.md` and the plots in `docs/bench/` from what criterion recorded.
//!
//! ```text
//! cargo run --release -p examples --bin bench-report              # run everything, then write
//! cargo run --release -p examples --bin bench-report -- --report-only   # rewrite from the last run
//! ```
//!
//! For each crate it runs
//! `cargo bench -p <crate> --bench '*' -- --warm-up-time W --measurement-time M` (1 s and 2 s
//! unless told otherwise), keeping what the benches print (hit ratios, bytes per queued call, …)
//! and which criterion groups the run wrote. Node's `StringDecoder` is measured
//! by `decoder/benches/node_string_decoder.js` when `node` is on the `PATH`. Then, from
//! `target/criterion/**/new/estimates.json` (the median of criterion's samples) it writes:
//!
//! - per group, the workload's benchmarks with their medians and throughputs and the ratio
//!   ours/peer from the same run;
//! - the targets of the crate issues with the measured figure and a plain verdict (for the ratio
//!   targets of `emitter` and `streams`, the median ratio that their `paired` bench prints: ours
//!   and the peer timed back to back in each round, so that the machine's drift between two
//!   criterion benchmarks does not land in the ratio);
//! - the machine (CPU model, cores), the date, rustc and the versions of the peers;
//! - SVG plots drawn by `plotters`.
//!
//! Hand-written prose is never lost: it lives in `benches-report/notes/<crate>.md` (and
//! `_intro.md`, `soak.md`), which the report copies into place. Edit those, not `BENCHMARKS.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::SystemTime;

use examples::Flags;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const USAGE: &str =
    "usage: bench-report [--warm-up S] [--measurement S] [--crates a,b] [--report-only]
  --warm-up      criterion warm-up seconds per benchmark (default 1)
  --measurement  criterion measurement seconds per benchmark (default 2)
  --crates       run only these crates' benches (default: all five); the report covers all
  --report-only  run nothing: rewrite BENCHMARKS.md and the plots from the last results
  --output       where to write the report (default: BENCHMARKS.md at the workspace root)";

const CRATES: [&str; 5] = ["emitter", "decoder", "bagpipe", "cache", "streams"];

/// Crates whose versions the report states: the peers, criterion and the runtime.
const VERSIONED: [&str; 13] = [
    "criterion",
    "tokio",
    "tokio-util",
    "futures-util",
    "tower",
    "async-broadcast",
    "moka",
    "quick_cache",
    "lru",
    "dashmap",
    "encoding_rs",
    "base64",
    "base64-simd",
];

/// How a target compares: the median time of ours over the median time of a peer (or of Node's
/// throughput over ours) must be at most `max`; or a figure must be at most `max` in its unit.
enum Check {
    /// `ours` and `peer` are (group, subject, parameter) of two criterion benchmarks.
    Ratio { ours: Id, peer: Id, max: f64 },
    /// A median time in nanoseconds.
    Nanos { ours: Id, max: f64 },
    /// Throughput of `ours` against the MB/s that Node's script printed on the line starting
    /// with `node_line`.
    Node {
        ours: Id,
        node_line: &'static str,
        max: f64,
    },
    /// A median ratio (ours over a peer, in time) printed by a paired bench: the number just
    /// before `x (median` on the last line of `krate`'s output that contains `line`.
    PairedRatio { line: &'static str, max: f64 },
    /// A number printed by a bench: on the last line of `krate`'s output that contains
    /// `line`, the number just before `unit`, less the number just before `minus` if given.
    Printed {
        line: &'static str,
        unit: &'static str,
        minus: Option<&'static str>,
        max: f64,
    },
}

type Id = (&'static str, &'static str, &'static str);

struct Target {
    krate: &'static str,
    text: &'static str,
    check: Check,
}

/// The targets of the crate issues (3 to 7), as the benches name their subjects.
fn targets() -> Vec<Target> {
    use Check::{Nanos, Node, PairedRatio, Printed, Ratio};
    let t = |krate, text, check| Target { krate, text, check };
    let mixed1 = "mixed_90get_10insert/threads_1";
    let mixed2 = "mixed_90get_10insert/threads_2";
    let get1 = "get_100/threads_1";
    let get2 = "get_100/threads_2";
    vec![
        t(
            "emitter",
            "emit to 10 listeners within 2x of the plain loop",
            PairedRatio {
                line: "paired emit_sync emitter/plain_vec_loop 10:",
                max: 2.0,
            },
        ),
        t(
            "emitter",
            "subscribe delivery by name (1 subscriber) at least as fast as tokio broadcast",
            PairedRatio {
                line: "paired subscribe_delivery emitter/tokio_broadcast 1:",
                max: 1.0,
            },
        ),
        t(
            "emitter",
            "subscribe delivery by name (10 subscribers) at least as fast as tokio broadcast",
            PairedRatio {
                line: "paired subscribe_delivery emitter/tokio_broadcast 10:",
                max: 1.0,
            },
        ),
        t(
            "emitter",
            "subscribe delivery through an `EventHandle` (1 subscriber) at least as fast as tokio broadcast",
            PairedRatio {
                line: "paired subscribe_delivery emitter_handle/tokio_broadcast 1:",
                max: 1.0,
            },
        ),
        t(
            "emitter",
            "subscribe delivery through an `EventHandle` (10 subscribers) at least as fast as tokio broadcast",
            PairedRatio {
                line: "paired subscribe_delivery emitter_handle/tokio_broadcast 10:",
                max: 1.0,
            },
        ),
        t(
            "bagpipe",
            "uncontended overhead at or below tokio Semaphore acquire+release",
            Ratio {
                ours: ("uncontended", "bagpipe run", ""),
                peer: ("uncontended", "tokio semaphore acquire+release", ""),
                max: 1.0,
            },
        ),
        t(
            "bagpipe",
            "uncontended overhead under 25 ns (aim)",
            Nanos {
                ours: ("uncontended", "bagpipe run", ""),
                max: 25.0,
            },
        ),
        t(
            "bagpipe",
            "permit acquire+drop at or below tokio Semaphore acquire+release",
            Ratio {
                ours: ("uncontended", "bagpipe acquire+drop", ""),
                peer: ("uncontended", "tokio semaphore acquire+release", ""),
                max: 1.0,
            },
        ),
        t(
            "bagpipe",
            "2*10^5 tasks at limit 100 within 10% of Semaphore+spawn awaiting its join handles",
            Ratio {
                ours: ("throughput 2e5 tasks at limit 100", "bagpipe push", ""),
                peer: (
                    "throughput 2e5 tasks at limit 100",
                    "tokio semaphore+spawn awaiting join handles",
                    "",
                ),
                max: 1.1,
            },
        ),
        t(
            "bagpipe",
            "under 200 bytes per queued call beyond the future itself (push), 10^6 queued",
            Printed {
                line: "bagpipe push",
                unit: " bytes per queued call",
                minus: Some(" bytes of it"),
                max: 200.0,
            },
        ),
        t(
            "bagpipe",
            "under 200 bytes per queued call beyond the future itself (run), 10^6 queued",
            Printed {
                line: "bagpipe run",
                unit: " bytes per queued call",
                minus: Some(" bytes of it"),
                max: 200.0,
            },
        ),
        t(
            "cache",
            "mixed, 1 thread: at least as fast as quick_cache (both with foldhash)",
            Ratio {
                ours: (mixed1, "ours_foldhash", ""),
                peer: (mixed1, "quick_cache", ""),
                max: 1.0,
            },
        ),
        t(
            "cache",
            "mixed, 2 threads: at least as fast as quick_cache (both with foldhash)",
            Ratio {
                ours: (mixed2, "ours_foldhash", ""),
                peer: (mixed2, "quick_cache", ""),
                max: 1.0,
            },
        ),
        t(
            "cache",
            "mixed, 1 thread: over 5x moka (both with std's hasher)",
            Ratio {
                ours: (mixed1, "ours", ""),
                peer: (mixed1, "moka", ""),
                max: 0.2,
            },
        ),
        t(
            "cache",
            "mixed, 2 threads: over 5x moka (both with std's hasher)",
            Ratio {
                ours: (mixed2, "ours", ""),
                peer: (mixed2, "moka", ""),
                max: 0.2,
            },
        ),
        t(
            "cache",
            "100% gets, 1 thread: within 10% of the unbounded DashMap (both with std's hasher)",
            Ratio {
                ours: (get1, "ours", ""),
                peer: (get1, "dashmap_unbounded", ""),
                max: 1.1,
            },
        ),
        t(
            "cache",
            "100% gets, 2 threads: within 10% of the unbounded DashMap (both with std's hasher)",
            Ratio {
                ours: (get2, "ours", ""),
                peer: (get2, "dashmap_unbounded", ""),
                max: 1.1,
            },
        ),
        t(
            "cache",
            "under 64 bytes of overhead per entry (largest map measured)",
            Printed {
                line: "memory ours n=",
                unit: " beyond the",
                minus: None,
                max: 64.0,
            },
        ),
        t(
            "decoder",
            "UTF-8 at 64 KiB within 10% of encoding_rs streaming",
            Ratio {
                ours: ("utf8_65536B_chunks", "ours_write_into", ""),
                peer: ("utf8_65536B_chunks", "encoding_rs_streaming_into", ""),
                max: 1.1,
            },
        ),
        t(
            "decoder",
            "UTF-8 in 11-byte chunks within 1.5x of encoding_rs",
            Ratio {
                ours: ("utf8_11B_chunks", "ours_write_into", ""),
                peer: ("utf8_11B_chunks", "encoding_rs_streaming_into", ""),
                max: 1.5,
            },
        ),
        t(
            "decoder",
            "base64 at 64 KiB at least as fast as Node's StringDecoder",
            Node {
                ours: ("bytes_as_text_65536B_chunks", "ours_write_into", "base64"),
                node_line: "base64\t65536B chunks",
                max: 1.0,
            },
        ),
        t(
            "decoder",
            "hex at 64 KiB at least as fast as Node's StringDecoder",
            Node {
                ours: ("bytes_as_text_65536B_chunks", "ours_write_into", "hex"),
                node_line: "hex\t65536B chunks",
                max: 1.0,
            },
        ),
        t(
            "streams",
            "64 KiB, multi-thread: within 20% of the std loop",
            PairedRatio {
                line: "paired read_stream/std_fs_file_loop 64KiB multi_thread:",
                max: 1.2,
            },
        ),
        t(
            "streams",
            "1 MiB, multi-thread: within 20% of the std loop",
            PairedRatio {
                line: "paired read_stream/std_fs_file_loop 1MiB multi_thread:",
                max: 1.2,
            },
        ),
        t(
            "streams",
            "64 KiB, current-thread: within 20% of the std loop",
            PairedRatio {
                line: "paired read_stream/std_fs_file_loop 64KiB current_thread:",
                max: 1.2,
            },
        ),
        t(
            "streams",
            "1 MiB, current-thread: within 20% of the std loop",
            PairedRatio {
                line: "paired read_stream/std_fs_file_loop 1MiB current_thread:",
                max: 1.2,
            },
        ),
        t(
            "streams",
            "64 KiB, multi-thread: at least 3x ReaderStream",
            PairedRatio {
                line: "paired read_stream/tokio_util_reader_stream 64KiB multi_thread:",
                max: 1.0 / 3.0,
            },
        ),
    ]
}

/// One benchmark as criterion recorded it.
#[derive(Debug, Clone)]
struct Bench {
    group: String,
    subject: String,
    param: String,
    /// Median time per iteration, in nanoseconds.
    median_ns: f64,
    /// Bytes processed per iteration, when the group declared it.
    bytes: Option<f64>,
    /// Elements processed per iteration, when the group declared it.
    elements: Option<f64>,
}

impl Bench {
    fn is_ours(&self, krate: &str) -> bool {
        self.subject.starts_with("ours")
            || self.subject.starts_with(krate)
            || self.subject == "read_stream"
    }

    /// Bytes per second (decimal GB/s), when the group declared bytes.
    fn gigabytes_per_second(&self) -> Option<f64> {
        self.bytes.map(|bytes| bytes / self.median_ns)
    }

    fn label(&self) -> String {
        if self.param.is_empty() {
            self.subject.clone()
        } else {
            format!("{}/{}", self.subject, self.param)
        }
    }
}

struct Paths {
    root: PathBuf,
    criterion: PathBuf,
    /// Where the report keeps what it captured from the last run, beside criterion's files.
    runs: PathBuf,
}

fn main() -> ExitCode {
    let known = ["--warm-up", "--measurement", "--crates", "--output"];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let report_only = args.iter().any(|arg| arg == "--report-only");
    let args = args.into_iter().filter(|arg| arg != "--report-only");
    let flags = match Flags::parse(args, &known) {
        Ok(flags) if flags.help() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(flags) => flags,
        Err(err) => {
            eprintln!("bench-report: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&flags, report_only) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-report: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(flags: &Flags, report_only: bool) -> Result<(), String> {
    let warm_up: f64 = flags
        .value("--warm-up")
        .map_err(|e| e.to_string())?
        .unwrap_or(1.0);
    let measurement: f64 = flags
        .value("--measurement")
        .map_err(|e| e.to_string())?
        .unwrap_or(2.0);
    let crates: Vec<String> = match flags
        .value::<String>("--crates")
        .map_err(|e| e.to_string())?
    {
        Some(list) => {
            let list: Vec<String> = list.split(',').map(str::trim).map(str::to_owned).collect();
            if let Some(unknown) = list.iter().find(|c| !CRATES.contains(&c.as_str())) {
                return Err(format!(
                    "unknown crate {unknown:?}; expected some of {CRATES:?}"
                ));
            }
            list
        }
        None => CRATES.iter().map(|c| (*c).to_owned()).collect(),
    };
    if !(warm_up > 0.0 && measurement > 0.0) {
        return Err("--warm-up and --measurement must be positive numbers of seconds".to_owned());
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the examples crate has no parent directory")?
        .to_path_buf();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let criterion = target.join("criterion");
    let runs = target.join("bench-report");
    let paths = Paths {
        root,
        criterion,
        runs,
    };
    std::fs::create_dir_all(&paths.runs)
        .map_err(|e| format!("cannot create {}: {e}", paths.runs.display()))?;

    if !report_only {
        let started = std::time::Instant::now();
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|e| format!("the clock is before 1970: {e}"))?;
        write(
            &paths.runs.join("started.txt"),
            &format!("{}\n", since_epoch.as_secs()),
        )?;
        for krate in &crates {
            run_benches(&paths, krate, warm_up, measurement)?;
        }
        run_node(&paths);
        let settings = format!(
            "{}\nwarm-up {warm_up} s, measurement {measurement} s per benchmark; whole run {:.1} min\n",
            utc_now(),
            started.elapsed().as_secs_f64() / 60.0
        );
        write(&paths.runs.join("settings.txt"), &settings)?;
    }
    let benches = load_benches(&paths)?;
    let report = render(&paths, &benches)?;
    let output = match flags
        .value::<PathBuf>("--output")
        .map_err(|e| e.to_string())?
    {
        Some(output) => output,
        None => paths.root.join("BENCHMARKS.md"),
    };
    write(&output, &report)?;
    println!(
        "bench-report: wrote {} and docs/bench/*.svg",
        output.display()
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Runs one crate's benches, echoing their output, and records what they printed beside
/// criterion's lines and which groups they wrote.
fn run_benches(paths: &Paths, krate: &str, warm_up: f64, measurement: f64) -> Result<(), String> {
    let package = format!("nodebook-{krate}");
    println!("bench-report: cargo bench -p {package}");
    let started = SystemTime::now();
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(&paths.root)
        .args([
            "bench",
            "-p",
            &package,
            "--bench",
            "*",
            "--",
            "--warm-up-time",
        ])
        .arg(warm_up.to_string())
        .arg("--measurement-time")
        .arg(measurement.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo bench -p {package}: {e}"))?;
    let mut printed = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("cannot read cargo bench's output: {e}"))?;
            println!("{line}");
            if is_printed_measurement(&line) {
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
fn is_printed_measurement(line: &str) -> bool {
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

fn run_node(paths: &Paths) {
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

fn find_benchmark_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "benchmark.json")
                && path
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|n| n == "new")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn read_bench(benchmark_json: &Path) -> Option<Bench> {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(benchmark_json).ok()?).ok()?;
    let estimates_path = benchmark_json.with_file_name("estimates.json");
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(estimates_path).ok()?).ok()?;
    let median_ns = estimates["median"]["point_estimate"].as_f64()?;
    let group = meta["group_id"].as_str()?.to_owned();
    let function = meta["function_id"].as_str();
    let value = meta["value_str"].as_str().unwrap_or_default();
    let (subject, param) = match function {
        Some(function) => (function.to_owned(), value.to_owned()),
        None => (value.to_owned(), String::new()),
    };
    let throughput = &meta["throughput"];
    Some(Bench {
        group,
        subject,
        param,
        median_ns,
        bytes: throughput["Bytes"]
            .as_f64()
            .or_else(|| throughput["BytesDecimal"].as_f64()),
        elements: throughput["Elements"].as_f64(),
    })
}

/// Every recorded benchmark, by crate. A group belongs to the crate whose last run wrote it and
/// whose bench sources name it; groups no run claimed are attributed by the sources alone.
fn load_benches(paths: &Paths) -> Result<BTreeMap<String, Vec<Bench>>, String> {
    let sources: Vec<(&str, String)> = CRATES
        .iter()
        .map(|krate| {
            let dir = paths.root.join(krate).join("benches");
            let text = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
                .map(|e| read_or_empty(&e.path()))
                .collect::<String>();
            (*krate, text)
        })
        .collect();
    // A run's list can hold groups that another process wrote meanwhile (the machine is
    // shared); a group is the crate's only if the crate's bench sources name it.
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (krate, source) in &sources {
        for group in read_or_empty(&paths.runs.join(format!("{krate}.groups"))).lines() {
            if names_group(source, group) {
                owner.insert(group.to_owned(), (*krate).to_owned());
            }
        }
    }
    // Results older than the last run (benchmarks since renamed or removed) are left out.
    let started = read_or_empty(&paths.runs.join("started.txt"))
        .trim()
        .parse::<u64>()
        .ok()
        .map(|secs| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    let mut by_crate: BTreeMap<String, Vec<Bench>> = BTreeMap::new();
    for file in find_benchmark_files(&paths.criterion) {
        let stale = started.is_some_and(|started| {
            std::fs::metadata(&file)
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified < started)
        });
        if stale {
            continue;
        }
        let Some(bench) = read_bench(&file) else {
            continue;
        };
        let krate = owner.get(&bench.group).cloned().or_else(|| {
            sources
                .iter()
                .find(|(_, text)| names_group(text, &bench.group))
                .map(|(krate, _)| (*krate).to_owned())
        });
        if let Some(krate) = krate {
            by_crate.entry(krate).or_default().push(bench);
        }
    }
    if by_crate.is_empty() {
        return Err(format!(
            "no criterion results under {}: run without --report-only first",
            paths.criterion.display()
        ));
    }
    for benches in by_crate.values_mut() {
        benches.sort_by(|a, b| {
            (&a.group, &a.subject, &a.param).cmp(&(&b.group, &b.subject, &b.param))
        });
    }
    Ok(by_crate)
}

/// Whether a string literal of `source` names `group`, exactly or as a `format!` pattern whose
/// `{..}` holes match anything (at least four fixed characters, so `"{}"` matches nothing).
fn names_group(source: &str, group: &str) -> bool {
    source.split('"').skip(1).step_by(2).any(|literal| {
        let mut fixed = Vec::new();
        let mut rest = literal;
        while let Some(open) = rest.find('{') {
            fixed.push(&rest[..open]);
            rest = rest[open..]
                .find('}')
                .map_or("", |close| &rest[open + close + 1..]);
        }
        fixed.push(rest);
        if fixed.iter().map(|part| part.len()).sum::<usize>() < 4 {
            return false;
        }
        let (first, last) = (fixed[0], fixed[fixed.len() - 1]);
        if fixed.len() == 1 {
            return group == first;
        }
        let Some(mut middle) = group.strip_prefix(first) else {
            return false;
        };
        for part in &fixed[1..fixed.len() - 1] {
            match middle.find(part) {
                Some(at) => middle = &middle[at + part.len()..],
                None => return false,
            }
        }
        middle.ends_with(last)
    })
}

fn find<'a>(benches: &'a BTreeMap<String, Vec<Bench>>, krate: &str, id: Id) -> Option<&'a Bench> {
    benches
        .get(krate)?
        .iter()
        .find(|b| b.group == id.0 && b.subject == id.1 && b.param == id.2)
}

fn first_number_after(text: &str, prefix: &str) -> Option<f64> {
    let line = text.lines().find(|line| line.contains(prefix))?;
    let rest = &line[line.find(prefix)? + prefix.len()..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let number: String = rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().ok()
}

/// The number that ends just before `unit` on `line`.
fn number_before(line: &str, unit: &str) -> Option<f64> {
    let head = &line[..line.find(unit)?];
    let start = head
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    head[start..].parse().ok()
}

fn time(ns: f64) -> String {
    let (divisor, unit) = time_unit(ns);
    let digits = if ns < 1e3 { 1 } else { 2 };
    format!("{:.digits$} {unit}", ns / divisor)
}

/// The unit to show `ns` nanoseconds in (ns, µs, ms or s) and the nanoseconds in one of it.
fn time_unit(ns: f64) -> (f64, &'static str) {
    match ns {
        ns if ns < 1e3 => (1.0, "ns"),
        ns if ns < 1e6 => (1e3, "µs"),
        ns if ns < 1e9 => (1e6, "ms"),
        _ => (1e9, "s"),
    }
}

fn throughput(bench: &Bench) -> String {
    if let Some(gbps) = bench.gigabytes_per_second() {
        format!("{gbps:.2} GB/s")
    } else if let Some(elements) = bench.elements {
        format!("{:.1} M/s", elements / bench.median_ns * 1e3)
    } else {
        String::new()
    }
}

/// Evaluates one target: the measured figure and whether it is met, or why it is not measured.
fn evaluate(
    target: &Target,
    benches: &BTreeMap<String, Vec<Bench>>,
    printed: &BTreeMap<String, String>,
) -> (String, Option<bool>) {
    // The last line that `target.krate`'s benches printed containing `line`.
    let last_printed = |line: &str| {
        printed
            .get(target.krate)
            .and_then(|text| text.lines().rfind(|l| l.contains(line)))
    };
    let missing = |id: Id| {
        format!(
            "not measured in this run (no benchmark `{}/{}/{}`)",
            id.0, id.1, id.2
        )
    };
    match &target.check {
        Check::Ratio { ours, peer, max } => {
            match (
                find(benches, target.krate, *ours),
                find(benches, target.krate, *peer),
            ) {
                (Some(o), Some(p)) => {
                    let ratio = o.median_ns / p.median_ns;
                    (
                        format!(
                            "ours/peer {ratio:.2} ({} against {}; target at most {max:.2})",
                            time(o.median_ns),
                            time(p.median_ns)
                        ),
                        Some(ratio <= *max),
                    )
                }
                (None, _) => (missing(*ours), None),
                (_, None) => (missing(*peer), None),
            }
        }
        Check::Nanos { ours, max } => match find(benches, target.krate, *ours) {
            Some(o) => (
                format!("{} (target under {max:.0} ns)", time(o.median_ns)),
                Some(o.median_ns <= *max),
            ),
            None => (missing(*ours), None),
        },
        Check::Node {
            ours,
            node_line,
            max,
        } => {
            let node = printed
                .get("node")
                .and_then(|text| first_number_after(text, node_line));
            match (
                find(benches, target.krate, *ours).and_then(Bench::gigabytes_per_second),
                node,
            ) {
                (Some(gbps), Some(node_mbps)) => {
                    let ours_mbps = gbps * 1e3;
                    let ratio = node_mbps / ours_mbps;
                    (
                        format!(
                            "ours/Node (time) {ratio:.2}: {ours_mbps:.0} MB/s against Node's {node_mbps:.0} MB/s"
                        ),
                        Some(ratio <= *max),
                    )
                }
                (None, _) => (missing(*ours), None),
                (_, None) => (
                    "not measured in this run (Node's script did not run)".to_owned(),
                    None,
                ),
            }
        }
        Check::PairedRatio { line, max } => {
            let value = last_printed(line).and_then(|found| number_before(found, "x (median"));
            match value {
                Some(ratio) => (
                    format!(
                        "ours/peer {ratio:.3}, median of paired rounds (target at most {max:.2})"
                    ),
                    Some(ratio <= *max),
                ),
                None => (
                    format!("not measured in this run (no printed line with `{line}`)"),
                    None,
                ),
            }
        }
        Check::Printed {
            line,
            unit,
            minus,
            max,
        } => {
            let value = last_printed(line).and_then(|found| {
                let less = match minus {
                    Some(minus) => number_before(found, minus)?,
                    None => 0.0,
                };
                Some(number_before(found, unit)? - less)
            });
            match value {
                Some(value) => (
                    format!("{value:.1} bytes (target under {max:.0})"),
                    Some(value < *max),
                ),
                None => (
                    format!("not measured in this run (no printed line with `{line}`)"),
                    None,
                ),
            }
        }
    }
}

fn machine() -> (String, usize) {
    let cpuinfo = read_or_empty(Path::new("/proc/cpuinfo"));
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .and_then(|rest| rest.split_once(':'))
        })
        .map_or_else(
            || "unknown CPU".to_owned(),
            |(_, model)| model.trim().to_owned(),
        );
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    (model, cores)
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn utc_now() -> String {
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    if date.is_empty() {
        "unknown date".to_owned()
    } else {
        date
    }
}

/// Versions from `Cargo.lock` of the crates the report names.
fn versions(root: &Path) -> Vec<(String, String)> {
    let lock = read_or_empty(&root.join("Cargo.lock"));
    let mut found = BTreeMap::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let Some(value) = line.strip_prefix("version = ")
            && let Some(n) = name.take()
            && VERSIONED.contains(&n.as_str())
        {
            found
                .entry(n)
                .or_insert_with(BTreeSet::new)
                .insert(value.trim_matches('"').to_owned());
        }
    }
    found
        .into_iter()
        .map(|(name, versions)| (name, versions.into_iter().collect::<Vec<_>>().join(", ")))
        .collect()
}

fn render(paths: &Paths, benches: &BTreeMap<String, Vec<Bench>>) -> Result<String, String> {
    let notes = paths.root.join("benches-report/notes");
    let mut printed: BTreeMap<String, String> = BTreeMap::new();
    for name in CRATES.iter().copied().chain(["node"]) {
        let text = read_or_empty(&paths.runs.join(format!("{name}.printed")));
        if !text.is_empty() {
            printed.insert(name.to_owned(), text);
        }
    }
    let plots = draw_plots(paths, benches, &printed)?;
    let (cpu, cores) = machine();
    let settings = read_or_empty(&paths.runs.join("settings.txt"));
    let mut settings = settings.lines();
    let date = settings
        .next()
        .unwrap_or("date of the run unknown")
        .to_owned();
    let how = settings
        .next()
        .unwrap_or("criterion settings unknown")
        .to_owned();

    let mut md = String::new();
    md.push_str(read_or_empty(&notes.join("_intro.md")).trim_end());
    let _ = write!(
        md,
        "\n\n_Generated by `cargo run --release -p examples --bin bench-report`; edit the prose in \
         `benches-report/notes/`, not here._\n\n\
         ## Machine, date, versions\n\n\
         - Machine: {cpu}, {cores} cores, shared with other work (the figures are noisy).\n\
         - Run: {date}; {how}. Each figure is the median of criterion's samples, except the \
         targets measured as a \"median of paired rounds\": the median of per-round ratios from a \
         bench that times ours and the peer back to back, round after round \
         (`benches/paired.rs`).\n\
         - Toolchain: {}.\n",
        command_output("rustc", &["-V"])
    );
    if let Some(node) = printed.get("node").and_then(|text| text.lines().next()) {
        let _ = writeln!(
            md,
            "- Node: {node} (for the decoder's comparison with Node's `StringDecoder`)."
        );
    }
    let versions: Vec<String> = versions(&paths.root)
        .into_iter()
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    let _ = writeln!(md, "- Crates: {}.", versions.join(", "));

    md.push_str("\n## Targets from the crate issues\n\nRatios are ours/peer in time per operation: under 1 is faster than the peer.\n\n");
    md.push_str("| crate | target | measured | verdict |\n|---|---|---|---|\n");
    for target in targets() {
        let (measured, met) = evaluate(&target, benches, &printed);
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {measured} | {verdict} |",
            target.krate, target.text
        );
    }

    if !plots.is_empty() {
        md.push_str("\n## Plots\n\n");
        for (title, file) in &plots {
            let _ = writeln!(md, "- [{title}](docs/bench/{file})");
        }
    }

    for krate in CRATES {
        let _ = write!(md, "\n## {krate}\n\n");
        let prose = read_or_empty(&notes.join(format!("{krate}.md")));
        let Some(list) = benches.get(krate) else {
            md.push_str("No criterion results for this crate in this run.\n");
            if !prose.trim().is_empty() {
                let _ = write!(md, "\n{}\n", prose.trim_end());
            }
            continue;
        };
        for (title, file) in plots.iter().filter(|(_, file)| file.starts_with(krate)) {
            let _ = writeln!(md, "![{title}](docs/bench/{file})\n");
        }
        let groups: BTreeSet<&str> = list.iter().map(|b| b.group.as_str()).collect();
        for group in groups {
            render_group(&mut md, krate, group, list, printed.get(krate));
        }
        if let Some(text) = printed.get(krate) {
            md.push_str("Printed by the benches in this run:\n\n```text\n");
            md.push_str(text.trim_end());
            md.push_str("\n```\n");
        }
        if krate == "decoder"
            && let Some(text) = printed.get("node")
        {
            md.push_str(
                "Node's `StringDecoder` on the same corpus in this run \
                 (`decoder/benches/node_string_decoder.js`, MB/s of input):\n\n```text\n",
            );
            md.push_str(text.trim_end());
            md.push_str("\n```\n");
        }
        if !prose.trim().is_empty() {
            let _ = write!(
                md,
                "\n### Notes from the crate's author\n\nHand-written; figures quoted here come from \
                 the author's own runs, the tables above from this one.\n\n{}\n",
                prose.trim_end()
            );
        }
    }
    let soak = read_or_empty(&notes.join("soak.md"));
    if !soak.trim().is_empty() {
        let _ = write!(md, "\n## Soak\n\n{}\n", soak.trim_end());
    }
    Ok(md)
}

fn render_group(
    md: &mut String,
    krate: &str,
    group: &str,
    list: &[Bench],
    printed: Option<&String>,
) {
    // Hit ratios printed by the cache benches as `hit ratio <group>/<subject>: <ratio>`.
    let hit_ratio = |bench: &Bench| -> Option<f64> {
        let prefix = format!("hit ratio {group}/{}: ", bench.label());
        printed?
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .and_then(|ratio| ratio.trim().parse().ok())
    };
    let rows: Vec<&Bench> = list.iter().filter(|b| b.group == group).collect();
    let ours: Vec<&str> = rows
        .iter()
        .filter(|b| b.is_ours(krate))
        .map(|b| b.subject.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let peers: BTreeSet<&str> = rows
        .iter()
        .filter(|b| !b.is_ours(krate))
        .map(|b| b.subject.as_str())
        .collect();
    let peers: Vec<&str> = peers.into_iter().collect();
    let _ = write!(
        md,
        "### `{group}`\n\n{}Ours: {}. Peers: {}.\n\n| benchmark | median |",
        workload(group).map_or_else(String::new, |text| format!("Workload: {text}. ")),
        code_list(&ours),
        code_list(&peers)
    );
    let with_throughput = rows.iter().any(|b| !throughput(b).is_empty());
    if with_throughput {
        md.push_str(" throughput |");
    }
    let with_hit_ratio = rows.iter().any(|b| hit_ratio(b).is_some());
    if with_hit_ratio {
        md.push_str(" hit ratio |");
    }
    for subject in &ours {
        let _ = write!(md, " `{subject}`/this |");
    }
    md.push_str("\n|---|---|");
    let extra = usize::from(with_throughput) + usize::from(with_hit_ratio);
    md.push_str(&"---|".repeat(ours.len() + extra));
    md.push('\n');
    let mut ordered = rows.clone();
    ordered.sort_by_key(|b| (param_order(&b.param), !b.is_ours(krate), b.subject.clone()));
    for bench in ordered {
        let _ = write!(md, "| {} | {} |", bench.label(), time(bench.median_ns));
        if with_throughput {
            let _ = write!(md, " {} |", throughput(bench));
        }
        if with_hit_ratio {
            match hit_ratio(bench) {
                Some(ratio) => {
                    let _ = write!(md, " {:.1} % |", ratio * 100.0);
                }
                None => md.push_str(" |"),
            }
        }
        for subject in &ours {
            let mine = rows
                .iter()
                .find(|b| b.subject == *subject && b.param == bench.param);
            match mine {
                Some(mine) if mine.subject != bench.subject => {
                    let _ = write!(md, " {:.2} |", mine.median_ns / bench.median_ns);
                }
                _ => md.push_str(" |"),
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

/// Sorts parameters by what they say: `current_thread/4KiB` before `current_thread/64KiB`
/// before `current_thread/1MiB`, `1` before `10`; anything else by its text.
fn param_order(param: &str) -> (String, u64, String) {
    let (head, last) = param.rsplit_once('/').unwrap_or(("", param));
    let digits = last
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(last.len());
    let number: Option<u64> = last[..digits].parse().ok();
    let factor = match &last[digits..] {
        "" => Some(1),
        "B" => Some(1),
        "KiB" => Some(1 << 10),
        "MiB" => Some(1 << 20),
        _ => None,
    };
    let size = number
        .zip(factor)
        .map_or(u64::MAX, |(n, f)| n.saturating_mul(f));
    (head.to_owned(), size, last.to_owned())
}

/// What a group measures, for the groups the crates' benches define today.
fn workload(group: &str) -> Option<&'static str> {
    let known: [(&str, &str); 15] = [
        (
            "emit_sync",
            "one `emit` of a `u64` to 1 or 10 sync listeners, each doing one relaxed `fetch_add`; the peers are a plain `Vec<Box<dyn Fn>>` loop (the floor) and a tokio broadcast send with one `try_recv` per receiver",
        ),
        (
            "on_off_churn",
            "adding and removing one listener while 4 others are registered",
        ),
        (
            "subscribe_delivery",
            "one emit delivered to 1 or 10 async subscribers, each polling its item; `emitter` emits by name (`Emitter::emit`), `emitter_handle` through an `EventHandle` (`Emitter::event`)",
        ),
        (
            "uncontended",
            "one call through the limiter with nothing else running (an empty future), or one permit taken and dropped around it",
        ),
        (
            "throughput",
            "2*10^5 tiny tasks through a limit of 100 on a 2-worker runtime, each caller getting its task's result",
        ),
        (
            "mixed_90get_10insert",
            "a Zipf(0.99) stream over 10^5 `u64` keys into a capacity of 10^4, 90% `get` and 10% `insert`; ns per operation (with 2 threads, the wall time of two operations done in parallel)",
        ),
        (
            "get_100",
            "100% `get` on a map prefilled with the 10^4 most popular keys of the Zipf(0.99) stream; ns per operation",
        ),
        (
            "stampede",
            "10,000 callers on one cold key whose loader sleeps 1 ms, joined at once, on a 2-worker runtime",
        ),
        (
            "utf8_65536B",
            "about 1 MiB of mixed ASCII prose, CJK and emoji in 64 KiB chunks",
        ),
        (
            "utf8_11B",
            "64 KiB of the same corpus in 11-byte chunks (a character split at most boundaries)",
        ),
        ("gbk_", "the corpus encoded in GBK, 64 KiB chunks"),
        (
            "bytes_as_text",
            "the corpus's bytes as base64 and hex text, 64 KiB chunks",
        ),
        (
            "read",
            "a 64 MiB page-cached file read to the end, open included, with 16 KiB, 64 KiB and 1 MiB buffers, on a current-thread and a 2-worker multi-thread runtime",
        ),
        (
            "hwm_sweep",
            "the same 64 MiB file at every power of four from 4 KiB to 4 MiB, on the multi-thread runtime",
        ),
        ("concat_", "joining 128 chunks of 64 KiB (8 MiB) in memory"),
    ];
    known
        .iter()
        .find(|(prefix, _)| group == *prefix || (*prefix != "read" && group.starts_with(prefix)))
        .map(|(_, text)| *text)
}

fn code_list(items: &[&str]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

type Plot = (String, String);

fn draw_plots(
    paths: &Paths,
    benches: &BTreeMap<String, Vec<Bench>>,
    printed: &BTreeMap<String, String>,
) -> Result<Vec<Plot>, String> {
    let dir = paths.root.join("docs/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut plots = Vec::new();
    let empty = Vec::new();
    let of = |krate: &str| benches.get(krate).unwrap_or(&empty);

    let sweep: Vec<&Bench> = of("streams")
        .iter()
        .filter(|b| b.group == "hwm_sweep")
        .collect();
    if !sweep.is_empty() {
        let file = "streams_hwm_sweep.svg";
        draw_sweep(&dir.join(file), &sweep).map_err(|e| format!("plotting {file}: {e}"))?;
        plots.push((
            "streams: read throughput against high_water_mark".to_owned(),
            file.to_owned(),
        ));
    }

    // A bar chart into `file`, listed in the report under `caption`.
    let mut bars = |file: &str, title: &str, rows: Vec<(String, f64, bool)>, caption: &str| {
        draw_bars(&dir.join(file), title, rows).map_err(|e| format!("plotting {file}: {e}"))?;
        plots.push((caption.to_owned(), file.to_owned()));
        Ok::<(), String>(())
    };

    let cache: Vec<&Bench> = of("cache")
        .iter()
        .filter(|b| !b.group.starts_with("stampede"))
        .collect();
    if !cache.is_empty() {
        let rows = cache
            .iter()
            .map(|b| {
                (
                    format!("{} · {}", b.group, b.label()),
                    1e3 / b.median_ns,
                    b.is_ours("cache"),
                )
            })
            .collect();
        bars(
            "cache_throughput.svg",
            "cache: operations per µs (higher is better)",
            rows,
            "cache: throughput per peer",
        )?;
    }
    if let Some(text) = printed.get("cache") {
        let rows: Vec<(String, f64, bool)> = text
            .lines()
            .filter_map(|line| line.strip_prefix("hit ratio "))
            .filter_map(|rest| rest.rsplit_once(": "))
            .filter_map(|(name, ratio)| {
                let subject = name.rsplit('/').next().unwrap_or(name);
                Some((
                    name.to_owned(),
                    ratio.trim().parse::<f64>().ok()? * 100.0,
                    subject.starts_with("ours"),
                ))
            })
            .collect();
        if !rows.is_empty() {
            bars(
                "cache_hit_ratio.svg",
                "cache: hit ratio in % (Zipf 0.99, 10^5 keys, 10^4 capacity)",
                rows,
                "cache: hit ratio per peer",
            )?;
        }
    }

    let bagpipe = of("bagpipe");
    let groups: BTreeSet<&str> = bagpipe.iter().map(|b| b.group.as_str()).collect();
    for (n, group) in groups.into_iter().enumerate() {
        let rows = bagpipe
            .iter()
            .filter(|b| b.group == group)
            .map(|b| (b.label(), b.median_ns, b.is_ours("bagpipe")))
            .collect::<Vec<_>>();
        let max = rows.iter().map(|row| row.1).fold(0.0_f64, f64::max);
        let (divisor, unit) = time_unit(max);
        let rows = rows
            .into_iter()
            .map(|(label, ns, ours)| (label, ns / divisor, ours))
            .collect();
        bars(
            &format!("bagpipe_{}.svg", n + 1),
            &format!("bagpipe, {group}: {unit} per iteration (lower is better)"),
            rows,
            &format!("bagpipe: {group}, per peer"),
        )?;
    }

    let mut decoder: Vec<(String, f64, bool)> = of("decoder")
        .iter()
        .filter_map(|b| {
            Some((
                format!("{} · {}", b.group, b.label()),
                b.gigabytes_per_second()?,
                b.is_ours("decoder"),
            ))
        })
        .collect();
    if let Some(node) = printed.get("node") {
        for line in node.lines().skip(1) {
            let fields: Vec<&str> = line.split('\t').collect();
            if let [encoding, chunks, speed] = fields[..]
                && let Some(mbps) = first_number_after(speed, "")
            {
                decoder.push((
                    format!("Node StringDecoder · {encoding}, {chunks}"),
                    mbps / 1e3,
                    false,
                ));
            }
        }
    }
    if !decoder.is_empty() {
        bars(
            "decoder_throughput.svg",
            "decoder: GB/s of input (higher is better)",
            decoder,
            "decoder: throughput per encoding",
        )?;
    }
    Ok(plots)
}

const OURS_COLOUR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const PEER_COLOUR: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);

/// A horizontal bar per row, ours in blue and peers in grey, each with its value written.
fn draw_bars(
    path: &Path,
    title: &str,
    rows: Vec<(String, f64, bool)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let height = 80 + 24 * u32::try_from(rows.len())?;
    let label_width = rows
        .iter()
        .map(|(label, ..)| label.chars().count())
        .max()
        .unwrap_or(10);
    let label_width = u32::try_from(label_width * 7 + 20)?;
    let max = rows
        .iter()
        .map(|(_, v, _)| *v)
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let root = SVGBackend::new(path, (label_width + 520, height)).into_drawing_area();
    // The first row at the top.
    let at = |i: usize| rows.len() - 1 - i;
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(label_width)
        .build_cartesian_2d(
            0.0..max * 1.2,
            (0..rows.len().saturating_sub(1).max(1)).into_segmented(),
        )?;
    let labels: Vec<String> = rows.iter().map(|(label, ..)| label.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .y_labels(rows.len())
        .y_label_formatter(&|value| match value {
            SegmentValue::CenterOf(i) if *i < labels.len() => labels[at(*i)].clone(),
            _ => String::new(),
        })
        .draw()?;
    // One rectangle per row, in row order, so that the same figures give the same file.
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, value, ours))| {
        let colour = if *ours { OURS_COLOUR } else { PEER_COLOUR };
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(at(i))),
                (*value, SegmentValue::Exact(at(i) + 1)),
            ],
            colour.filled(),
        );
        bar.set_margin(3, 3, 0, 0);
        bar
    }))?;
    let style =
        TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(rows.iter().enumerate().map(|(i, (_, value, _))| {
        Text::new(
            format!(" {}", figure(*value)),
            (*value, SegmentValue::CenterOf(at(i))),
            style.clone(),
        )
    }))?;
    root.present()?;
    Ok(())
}

fn figure(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// Throughput (GB/s) against `high_water_mark` on a log scale, one line per reader.
fn draw_sweep(path: &Path, sweep: &[&Bench]) -> Result<(), Box<dyn std::error::Error>> {
    let size = |param: &str| -> Option<f64> {
        let (number, unit) = param.split_at(param.find(|c: char| !c.is_ascii_digit())?);
        let factor = match unit {
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            _ => return None,
        };
        Some(number.parse::<f64>().ok()? * factor)
    };
    let mut series: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for bench in sweep {
        if let (Some(bytes), Some(gbps)) = (size(&bench.param), bench.gigabytes_per_second()) {
            series
                .entry(bench.subject.as_str())
                .or_default()
                .push((bytes.log2(), gbps));
        }
    }
    let max = series
        .values()
        .flatten()
        .map(|p| p.1)
        .fold(0.0_f64, f64::max);
    let (low, high) = series
        .values()
        .flatten()
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "read throughput against high_water_mark (64 MiB page-cached file)",
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(low - 0.3..high + 0.3, 0.0..max * 1.15)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("high_water_mark")
        .y_desc("GB/s")
        .x_labels(usize::try_from((high - low) as i64 / 2 + 1).unwrap_or(6))
        .x_label_formatter(&|x| {
            let bytes = x.exp2().round();
            if bytes >= 1024.0 * 1024.0 {
                format!("{:.0} MiB", bytes / 1024.0 / 1024.0)
            } else {
                format!("{:.0} KiB", bytes / 1024.0)
            }
        })
        .draw()?;
    let colours = [
        OURS_COLOUR,
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0xd6, 0x27, 0x28),
    ];
    for (n, (subject, mut points)) in series.into_iter().enumerate() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let colour = if subject == "read_stream" {
            OURS_COLOUR
        } else {
            colours[1 + n % 2]
        };
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(if subject == "read_stream" {
                "read_stream (ours)"
            } else {
                subject
            })
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}
