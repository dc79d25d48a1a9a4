//! What the report checks and how it labels what it shows, read from
//! `benches-report/report.toml` (the file's header documents every field).

use serde::Deserialize;

/// A criterion benchmark: group, subject (function id) and parameter (empty if none).
pub(crate) type Id = [String; 3];

/// How a target compares: the median time of ours over the median time of a peer (or of Node's
/// throughput over ours) must be at most `max`; or a figure must be at most `max` in its unit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Check {
    /// `ours` and `peer` are two criterion benchmarks.
    Ratio { ours: Id, peer: Id, max: f64 },
    /// A median time in nanoseconds.
    Nanos { ours: Id, max: f64 },
    /// Instructions per iteration of one subject, counted under callgrind (the target's
    /// `instructions` say how).
    Count { ours: Id, max: f64 },
    /// Throughput of `ours` against the MB/s that Node's script printed on the line starting
    /// with `node_line`.
    Node {
        ours: Id,
        node_line: String,
        max: f64,
    },
    /// A median ratio (ours over a peer, in time) printed by a paired bench: the number just
    /// before `x (median` on the last line of the crate's output that contains `line`.
    PairedRatio { line: String, max: f64 },
    /// A median ratio printed by a paired bench against a ceiling (such as the std loop):
    /// reported, not judged.
    Ceiling { line: String },
    /// Hit ratios printed by a bench as `hit ratio trace <trace>/<subject>: <ratio>`: the best
    /// of `peers` less `ours`, in percentage points, must be at most `max_points`.
    HitRatioGap {
        trace: String,
        ours: String,
        peers: Vec<String>,
        max_points: f64,
    },
    /// A number printed by a bench: on the last line of the crate's output that contains
    /// `line`, the number just before `unit`, less the number just before `minus` if given.
    Printed {
        line: String,
        unit: String,
        minus: Option<String>,
        max: f64,
        counts: String,
    },
}

/// One target of a crate issue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) krate: String,
    pub(crate) text: String,
    /// What was chosen by hand, when a side does not run with its defaults.
    pub(crate) tuned: Option<String>,
    pub(crate) check: Check,
    /// Count instructions too (ratio targets only).
    pub(crate) instructions: Option<Instructions>,
}

/// How to count a target's instructions: which bench binary, how many iterations, and which
/// two subjects (a ratio target's own unless given; a paired target must name them).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Instructions {
    pub(crate) bench: String,
    pub(crate) iters: u64,
    pub(crate) ours: Option<Id>,
    pub(crate) peer: Option<Id>,
}

impl Target {
    /// The subjects whose instructions are counted, if the target asks for a count: ours and
    /// the peer's, or ours alone for a [`Check::Count`].
    pub(crate) fn counted(&self) -> Option<(&Instructions, Vec<&Id>)> {
        let how = self.instructions.as_ref()?;
        let ids = match (&how.ours, &how.peer, &self.check) {
            (Some(ours), Some(peer), _) => vec![ours, peer],
            (None, None, Check::Ratio { ours, peer, .. }) => vec![ours, peer],
            (None, None, Check::Count { ours, .. }) => vec![ours],
            _ => return None,
        };
        Some((how, ids))
    }
}

/// A bench subject that runs with settings chosen by hand.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tuned {
    #[serde(rename = "crate")]
    pub(crate) krate: String,
    pub(crate) subject: String,
    pub(crate) label: String,
}

/// What a criterion group measures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Workload {
    pub(crate) group: String,
    /// Only the group named `group`, not every group that starts with it.
    #[serde(default)]
    pub(crate) exact: bool,
    /// Where the group's figures are shown instead of a table of its own (a plot, or the
    /// paired rounds), when a table would only repeat them.
    #[serde(default)]
    pub(crate) instead: Option<String>,
    /// Every group starting with `group` (`get_100/threads_1`, `get_100/threads_2`) in one
    /// table, the rest of each group's name as a column.
    #[serde(default)]
    pub(crate) merge: bool,
    pub(crate) text: String,
}

/// Everything `report.toml` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ReportSpec {
    /// Targets with every side at its defaults first, then the tuned ones, each in file order.
    pub(crate) targets: Vec<Target>,
    pub(crate) tuned: Vec<Tuned>,
    pub(crate) workloads: Vec<Workload>,
}

impl ReportSpec {
    /// Parses the text of a `report.toml`; an error names the target and what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| format!("report.toml: {e}"))?;
        let mut targets = Vec::with_capacity(file.target.len());
        for (index, row) in file.target.into_iter().enumerate() {
            targets.push(
                row.into_target()
                    .map_err(|e| format!("report.toml: [[target]] number {}: {e}", index + 1))?,
            );
        }
        // Stable: file order within the default rows and within the tuned rows.
        targets.sort_by_key(|target| target.tuned.is_some());
        Ok(Self {
            targets,
            tuned: file.tuned,
            workloads: file.workload,
        })
    }

    /// The label of a tuned subject of `krate`, if it is one.
    pub(crate) fn tuned_label(&self, krate: &str, subject: &str) -> Option<&str> {
        self.tuned
            .iter()
            .find(|t| t.krate == krate && t.subject == subject)
            .map(|t| t.label.as_str())
    }

    /// What `group` measures, if the file says.
    /// The table a group's rows go to, and the column its name adds: `("get_100", "threads_1")`
    /// for `get_100/threads_1` when a workload merges `get_100`; otherwise the group itself.
    pub(crate) fn table_of<'a>(&self, group: &'a str) -> (&'a str, &'a str) {
        self.workloads
            .iter()
            .filter(|w| w.merge && group.len() > w.group.len())
            .find_map(|w| {
                let rest = group.strip_prefix(w.group.as_str())?;
                let table = &group[..w.group.len()];
                Some((table, rest.trim_start_matches(['/', '_'])))
            })
            .unwrap_or((group, ""))
    }

    /// The printed lines that targets judge (paired benches and ceilings).
    pub(crate) fn judged_lines(&self) -> Vec<&str> {
        self.targets
            .iter()
            .filter_map(|target| match &target.check {
                Check::PairedRatio { line, .. } | Check::Ceiling { line } => Some(line.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Where a group's figures are shown instead of its table, if not in one.
    pub(crate) fn shown_instead(&self, group: &str) -> Option<&str> {
        self.find_workload(group)?.instead.as_deref()
    }

    fn find_workload(&self, group: &str) -> Option<&Workload> {
        self.workloads
            .iter()
            .find(|w| group == w.group || (!w.exact && group.starts_with(&w.group)))
    }

    pub(crate) fn workload(&self, group: &str) -> Option<&str> {
        self.workloads
            .iter()
            .find(|w| group == w.group || (!w.exact && group.starts_with(&w.group)))
            .map(|w| w.text.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    target: Vec<TargetRow>,
    #[serde(default)]
    tuned: Vec<Tuned>,
    #[serde(default)]
    workload: Vec<Workload>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetRow {
    #[serde(rename = "crate")]
    krate: String,
    target: String,
    tuned: Option<String>,
    ratio: Option<RatioRow>,
    nanos: Option<NanosRow>,
    count: Option<NanosRow>,
    node: Option<NodeRow>,
    paired: Option<PairedRow>,
    ceiling: Option<CeilingRow>,
    hit_ratio_gap: Option<HitRatioGapRow>,
    printed: Option<PrintedRow>,
    instructions: Option<Instructions>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatioRow {
    ours: Id,
    peer: Id,
    max: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NanosRow {
    ours: Id,
    max: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeRow {
    ours: Id,
    node_line: String,
    max: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairedRow {
    line: String,
    max: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CeilingRow {
    line: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HitRatioGapRow {
    trace: String,
    ours: String,
    peers: Vec<String>,
    max_points: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrintedRow {
    line: String,
    unit: String,
    minus: Option<String>,
    max: f64,
    /// What the number counts, for the report ("bytes" unless said).
    counts: Option<String>,
}

impl TargetRow {
    fn into_target(self) -> Result<Target, String> {
        let mut checks = Vec::new();
        if let Some(r) = self.ratio {
            checks.push(Check::Ratio {
                ours: r.ours,
                peer: r.peer,
                max: r.max,
            });
        }
        if let Some(n) = self.nanos {
            checks.push(Check::Nanos {
                ours: n.ours,
                max: n.max,
            });
        }
        if let Some(n) = self.count {
            checks.push(Check::Count {
                ours: n.ours,
                max: n.max,
            });
        }
        if let Some(n) = self.node {
            checks.push(Check::Node {
                ours: n.ours,
                node_line: n.node_line,
                max: n.max,
            });
        }
        if let Some(p) = self.paired {
            checks.push(Check::PairedRatio {
                line: p.line,
                max: p.max,
            });
        }
        if let Some(c) = self.ceiling {
            checks.push(Check::Ceiling { line: c.line });
        }
        if let Some(h) = self.hit_ratio_gap {
            checks.push(Check::HitRatioGap {
                trace: h.trace,
                ours: h.ours,
                peers: h.peers,
                max_points: h.max_points,
            });
        }
        if let Some(p) = self.printed {
            checks.push(Check::Printed {
                line: p.line,
                unit: p.unit,
                minus: p.minus,
                max: p.max,
                counts: p.counts.unwrap_or_else(|| "bytes".to_owned()),
            });
        }
        if checks.len() != 1 {
            return Err(format!(
                "`{}` needs exactly one of ratio, nanos, count, node, paired, ceiling, hit_ratio_gap, printed; it has {}",
                self.target,
                checks.len()
            ));
        }
        let check = checks.remove(0);
        if let Some(how) = &self.instructions {
            let named = match (&how.ours, &how.peer) {
                (Some(_), Some(_)) => true,
                (None, None) => false,
                _ => {
                    return Err(format!(
                        "`{}`: instructions name both ours and peer, or neither",
                        self.target
                    ));
                }
            };
            let fits = match check {
                Check::Ratio { .. } => true,
                Check::Count { .. } => !named,
                Check::PairedRatio { .. } => named,
                _ => false,
            };
            if !fits {
                return Err(format!(
                    "`{}`: instructions are counted for ratio and count targets, and for paired \
                     targets that name ours and peer",
                    self.target
                ));
            }
        } else if matches!(check, Check::Count { .. }) {
            return Err(format!(
                "`{}`: a count target needs `instructions = {{ bench, iters }}`",
                self.target
            ));
        }
        if self.instructions.as_ref().is_some_and(|i| i.iters == 0) {
            return Err(format!(
                "`{}`: instructions.iters must be at least 1",
                self.target
            ));
        }
        Ok(Target {
            krate: self.krate,
            text: self.target,
            tuned: self.tuned,
            check,
            instructions: self.instructions,
        })
    }
}
