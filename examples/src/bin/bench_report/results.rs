//! What a run recorded: criterion's results, by crate, and the lines the benches printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::targets::Id;
use crate::{CRATES, read_or_empty};

/// Where the report reads and writes.
#[derive(Debug)]
pub(crate) struct Paths {
    pub(crate) root: PathBuf,
    /// criterion's results (`target/criterion`).
    pub(crate) criterion: PathBuf,
    /// Where the report keeps what it captured from the last run, beside criterion's files.
    pub(crate) runs: PathBuf,
}

/// One benchmark as criterion recorded it.
#[derive(Debug, Clone)]
pub(crate) struct Bench {
    pub(crate) group: String,
    pub(crate) subject: String,
    pub(crate) param: String,
    /// Median time per iteration, in nanoseconds.
    pub(crate) median_ns: f64,
    /// Bytes processed per iteration, when the group declared it.
    pub(crate) bytes: Option<f64>,
    /// Elements processed per iteration, when the group declared it.
    pub(crate) elements: Option<f64>,
}

impl Bench {
    pub(crate) fn is_ours(&self, krate: &str) -> bool {
        self.subject.starts_with("ours")
            || self.subject.starts_with(krate)
            || self.subject == "read_stream"
    }

    /// Bytes per second (decimal GB/s), when the group declared bytes.
    pub(crate) fn gigabytes_per_second(&self) -> Option<f64> {
        self.bytes.map(|bytes| bytes / self.median_ns)
    }

    pub(crate) fn label(&self) -> String {
        if self.param.is_empty() {
            self.subject.clone()
        } else {
            format!("{}/{}", self.subject, self.param)
        }
    }
}

pub(crate) fn find_benchmark_files(dir: &Path) -> Vec<PathBuf> {
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

pub(crate) fn read_bench(benchmark_json: &Path) -> Option<Bench> {
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
pub(crate) fn load_benches(paths: &Paths) -> Result<BTreeMap<String, Vec<Bench>>, String> {
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
pub(crate) fn names_group(source: &str, group: &str) -> bool {
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

pub(crate) fn find<'a>(
    benches: &'a BTreeMap<String, Vec<Bench>>,
    krate: &str,
    id: &Id,
) -> Option<&'a Bench> {
    benches
        .get(krate)?
        .iter()
        .find(|b| b.group == id[0] && b.subject == id[1] && b.param == id[2])
}

/// What each crate's benches (and Node's script, under `node`) printed in the last run.
pub(crate) fn load_printed(paths: &Paths) -> BTreeMap<String, String> {
    let mut printed = BTreeMap::new();
    for name in CRATES.iter().copied().chain(["node"]) {
        let text = read_or_empty(&paths.runs.join(format!("{name}.printed")));
        if !text.is_empty() {
            printed.insert(name.to_owned(), text);
        }
    }
    printed
}
