//! A target's verdict from the run's figures.

use std::collections::BTreeMap;

use crate::format::{first_number_after, number_before, time};
use crate::instructions::{Counts, count_name};
use crate::results::{Bench, find};
use crate::targets::{Check, Id, Target};

/// What a target came to in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Met,
    Missed,
    NotMeasured,
    /// A figure reported against a ceiling, not judged.
    Ceiling,
}

impl Verdict {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "**missed**",
            Self::NotMeasured => "not measured",
            Self::Ceiling => "the ceiling, not a target",
        }
    }
}

/// Evaluates one target: the measured figure and whether it is met, or why it is not measured.
pub(crate) fn evaluate(
    target: &Target,
    benches: &BTreeMap<String, Vec<Bench>>,
    printed: &BTreeMap<String, String>,
    counts: &Counts,
) -> (String, Verdict) {
    // The last line that `target.krate`'s benches printed containing `line`.
    let last_printed = |line: &str| {
        printed
            .get(target.krate.as_str())
            .and_then(|text| text.lines().rfind(|l| l.contains(line)))
    };
    let missing = |id: &Id| {
        format!(
            "not measured in this run (no benchmark `{}/{}/{}`)",
            id[0], id[1], id[2]
        )
    };
    match &target.check {
        Check::Ratio { ours, peer, max } => {
            match (
                find(benches, &target.krate, ours),
                find(benches, &target.krate, peer),
            ) {
                (Some(o), Some(p)) => {
                    let ratio = o.median_ns / p.median_ns;
                    (
                        format!(
                            "ours/peer {ratio:.2} ({} against {}; target at most {max:.2})",
                            time(o.median_ns),
                            time(p.median_ns)
                        ),
                        Verdict::from(ratio <= *max),
                    )
                }
                (None, _) => (missing(ours), Verdict::NotMeasured),
                (_, None) => (missing(peer), Verdict::NotMeasured),
            }
        }
        Check::Count { ours, max } => match counts.get(&(target.krate.clone(), count_name(ours))) {
            Some(&count) => (
                format!("{count:.1} instructions per call (target at most {max:.1})"),
                Verdict::from(count <= *max),
            ),
            None => (
                format!(
                    "not counted in this run (`{}`: needs valgrind)",
                    count_name(ours)
                ),
                Verdict::NotMeasured,
            ),
        },
        Check::Nanos { ours, max } => match find(benches, &target.krate, ours) {
            Some(o) => (
                format!("{} (target under {max:.0} ns)", time(o.median_ns)),
                Verdict::from(o.median_ns <= *max),
            ),
            None => (missing(ours), Verdict::NotMeasured),
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
                find(benches, &target.krate, ours).and_then(Bench::gigabytes_per_second),
                node,
            ) {
                (Some(gbps), Some(node_mbps)) => {
                    let ours_mbps = gbps * 1e3;
                    let ratio = node_mbps / ours_mbps;
                    (
                        format!(
                            "ours/Node (time) {ratio:.2}: {ours_mbps:.0} MB/s against Node's {node_mbps:.0} MB/s"
                        ),
                        Verdict::from(ratio <= *max),
                    )
                }
                (None, _) => (missing(ours), Verdict::NotMeasured),
                (_, None) => (
                    "not measured in this run (Node's script did not run)".to_owned(),
                    Verdict::NotMeasured,
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
                    Verdict::from(ratio <= *max),
                ),
                None => (
                    format!("not measured in this run (no printed line with `{line}`)"),
                    Verdict::NotMeasured,
                ),
            }
        }
        Check::Ceiling { line } => {
            match last_printed(line).and_then(|found| number_before(found, "x (median")) {
                Some(ratio) => (
                    format!("ours/ceiling {ratio:.3}, median of paired rounds"),
                    Verdict::Ceiling,
                ),
                None => (
                    format!("not measured in this run (no printed line with `{line}`)"),
                    Verdict::NotMeasured,
                ),
            }
        }
        Check::HitRatioGap {
            trace,
            ours,
            peers,
            max_points,
        } => {
            let ratio = |subject: &str| {
                last_printed(&format!("hit ratio trace {trace}/{subject}: "))
                    .and_then(|line| line.rsplit(": ").next())
                    .and_then(|ratio| ratio.trim().parse::<f64>().ok())
            };
            let best = peers
                .iter()
                .filter_map(|peer| ratio(peer).map(|r| (r, peer)))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match (ratio(ours), best) {
                (Some(mine), Some((theirs, peer))) => {
                    let gap = (theirs - mine) * 100.0;
                    let standing = if gap > 0.0 {
                        format!("{gap:.2} points behind")
                    } else {
                        format!("{:.2} points ahead", -gap)
                    };
                    (
                        format!(
                            "{:.2} % against {peer}'s {:.2} %: {standing} (target: at most \
                             {max_points:.1} behind)",
                            mine * 100.0,
                            theirs * 100.0
                        ),
                        Verdict::from(gap <= *max_points),
                    )
                }
                _ => (
                    format!("not measured in this run (no hit ratios for trace `{trace}`)"),
                    Verdict::NotMeasured,
                ),
            }
        }
        Check::Printed {
            line,
            unit,
            minus,
            max,
            counts,
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
                    format!("{value:.1} {counts} (target under {max:.0})"),
                    Verdict::from(value < *max),
                ),
                None => (
                    format!("not measured in this run (no printed line with `{line}`)"),
                    Verdict::NotMeasured,
                ),
            }
        }
    }
}

impl From<bool> for Verdict {
    fn from(met: bool) -> Self {
        if met { Self::Met } else { Self::Missed }
    }
}

/// The time ratio ours/peer of a ratio or paired target in this run, if it was measured.
pub(crate) fn time_ratio(
    target: &Target,
    benches: &BTreeMap<String, Vec<Bench>>,
    printed: &BTreeMap<String, String>,
) -> Option<f64> {
    match &target.check {
        Check::Ratio { ours, peer, .. } => {
            let ours = find(benches, &target.krate, ours)?;
            let peer = find(benches, &target.krate, peer)?;
            Some(ours.median_ns / peer.median_ns)
        }
        Check::PairedRatio { line, .. } => printed
            .get(target.krate.as_str())?
            .lines()
            .rfind(|l| l.contains(line.as_str()))
            .and_then(|found| number_before(found, "x (median")),
        _ => None,
    }
}
