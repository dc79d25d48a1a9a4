//! The one-command benchmark report: runs every crate's benches, then regenerates
//! `BENCHMARKS.md` and the plots in `docs/bench/` from what they recorded.
//!
//! ```text
//! cargo run --release -p examples --bin bench-report                  # everything (about 10 min)
//! cargo run --release -p examples --bin bench-report -- --quick       # a first look (about 2 min)
//! cargo run --release -p examples --bin bench-report -- --report-only # rewrite from the last run
//! ```
//!
//! For each crate it runs `cargo bench -p nodebook-<crate> --bench '*'` with criterion's warm-up
//! and measurement times (1 s and 2 s unless told otherwise), keeping what the benches print
//! (hit ratios, bytes per queued call, the median ratios of the `paired` benches) and which
//! criterion groups the run wrote. Node's `StringDecoder` is measured by
//! `decoder/benches/node_string_decoder.js` when `node` is on the `PATH`. Then, from
//! `target/criterion/**/new/estimates.json` (the median of criterion's samples), it writes the
//! machine and versions, the targets of `benches-report/report.toml` with the measured figure and
//! a plain verdict (rows at every side's default settings first), the plots, bagpipe's adaptive
//! simulation tables (paused and real clock) with the verdicts of that issue's targets, one table
//! per bench, and how to rerun. Every figure comes from the same run. The history of how a figure
//! was reached lives in `benches-report/notes/` and in commit messages, not in the report.

mod adaptive;
mod evaluate;
mod format;
mod instructions;
mod plots;
mod render;
mod results;
mod run;
mod targets;
#[cfg(test)]
mod tests;
mod timeline;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use examples::Flags;

use crate::results::Paths;
use crate::targets::ReportSpec;

const USAGE: &str = "usage: bench-report [--quick] [--warm-up S] [--measurement S] [--crates a,b] \
                     [--report-only] [--output FILE]
  --quick        a first look in about two minutes: short criterion runs (0.1 s warm-up, 0.3 s
                 measurement, 10 samples) and few paired rounds; the report says it is quick
  --warm-up      criterion warm-up seconds per benchmark (default 1)
  --measurement  criterion measurement seconds per benchmark (default 2)
  --crates       run only these crates' benches (default: all five); the report covers all
  --report-only  run nothing: rewrite BENCHMARKS.md and the plots from the last results
  --output       where to write the report (default: BENCHMARKS.md at the workspace root)";

/// The crates whose benches the report runs, by folder name.
pub(crate) const CRATES: [&str; 5] = ["emitter", "decoder", "bagpipe", "cache", "streams"];

/// How long criterion measures, and how many rounds the paired benches run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) warm_up: f64,
    pub(crate) measurement: f64,
    pub(crate) quick: bool,
}

fn main() -> ExitCode {
    let known = ["--warm-up", "--measurement", "--crates", "--output"];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let report_only = args.iter().any(|arg| arg == "--report-only");
    let quick = args.iter().any(|arg| arg == "--quick");
    let args = args
        .into_iter()
        .filter(|arg| arg != "--report-only" && arg != "--quick");
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
    match run(&flags, report_only, quick) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-report: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(flags: &Flags, report_only: bool, quick: bool) -> Result<(), String> {
    let (default_warm_up, default_measurement) = if quick { (0.1, 0.3) } else { (1.0, 2.0) };
    let settings = Settings {
        warm_up: flags
            .value("--warm-up")
            .map_err(|e| e.to_string())?
            .unwrap_or(default_warm_up),
        measurement: flags
            .value("--measurement")
            .map_err(|e| e.to_string())?
            .unwrap_or(default_measurement),
        quick,
    };
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
    if !(settings.warm_up > 0.0 && settings.measurement > 0.0) {
        return Err("--warm-up and --measurement must be positive numbers of seconds".to_owned());
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the examples crate has no parent directory")?
        .to_path_buf();
    let spec_path = root.join("benches-report/report.toml");
    let spec = ReportSpec::parse(&read(&spec_path)?)?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let paths = Paths {
        criterion: target.join("criterion"),
        runs: target.join("bench-report"),
        root,
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
            run::run_benches(&paths, krate, settings)?;
        }
        run::run_node(&paths);
        instructions::count(&paths, &spec, &crates)?;
        let how = format!(
            "{}\n{}warm-up {} s, measurement {} s per benchmark; whole run {:.1} min\n",
            render::utc_now(),
            if quick { "quick run (--quick): " } else { "" },
            settings.warm_up,
            settings.measurement,
            started.elapsed().as_secs_f64() / 60.0
        );
        write(&paths.runs.join("settings.txt"), &how)?;
    }
    let benches = results::load_benches(&paths)?;
    let printed = results::load_printed(&paths);
    let plots = plots::draw_plots(&paths, &benches, &printed)?;
    let counts = instructions::load(&paths);
    let report = render::render(&paths, &spec, &benches, &printed, &counts, &plots);
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

pub(crate) fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub(crate) fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
