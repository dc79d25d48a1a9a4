//! The adaptive limiter's comparison tables: what bagpipe's `adaptive_sim` bench prints per clock
//! (a heading `<clock> clock (<why>): <scenario>`, then a `|`-separated table with one line per
//! strategy and phase), captured from its output, read back, rendered as one Markdown row per
//! strategy with the phases side by side, and judged against the targets.
//!
//! Rows are told apart by their names: `no limit`, `fixed <n>` (a candidate for the best fixed
//! limit in hindsight; `fixed <n> (<note>)` is shown but is no candidate), `tower-acc <name>`
//! (the peer of our `<name>`), and every other row is one of our adaptive strategies, with the
//! queue discipline when its name ends in ` + LIFO/CoDel`. Every figure comes from the table.

use std::fmt::Write as _;

use crate::format::{first_number_after, number_before};

/// The clock whose table is exact (simulated time): the targets on goodput, convergence and
/// tail latency are the for the simulation, so they are judged on it.
pub(crate) const EXACT_CLOCK: &str = "paused";

/// How the captured lines of a table start, before `<clock>: `.
const TABLE: &str = "adaptive table ";

/// The best fixed limit's goodput a strategy must reach in every phase.
const GOODPUT_SHARE: f64 = 0.9;
/// How long a strategy may take to find the new capacity after a change, in seconds.
const CONVERGE_WITHIN: f64 = 2.0;
/// The overload (offered calls over what the backend completes) from which the queue discipline
/// must keep the p99 under the client's deadline.
const OVERLOAD: f64 = 2.0;
/// The queue discipline's suffix on a strategy's name.
const DISCIPLINED: &str = " + LIFO/CoDel";

/// Where [`capture`] is in the bench's output: the clock of the last heading, and whether a
/// table is being read.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    clock: Option<String>,
    in_table: bool,
}

/// Keeps a heading line as it is and a table line as `adaptive table <clock>: <line>`; anything
/// else is not the tables' (`None`).
pub(crate) fn capture(line: &str, state: &mut Capture) -> Option<String> {
    if let Some(heading) = Heading::parse(line) {
        state.clock = Some(heading.clock.to_owned());
        state.in_table = false;
        return Some(line.to_owned());
    }
    let clock = state.clock.as_deref()?;
    let first_cell = line.split('|').next().unwrap_or_default().trim();
    if line.contains('|') && (state.in_table || first_cell == "strategy") {
        state.in_table = true;
        return Some(format!("{TABLE}{clock}: {line}"));
    }
    state.in_table = false;
    None
}

/// Whether a printed line is the tables' (captured, or the bench's note of the best fixed
/// limits, which the rendered tables show): the rest of the printed lines leave it out.
pub(crate) fn owns(line: &str) -> bool {
    line.starts_with(TABLE)
        || Heading::parse(line).is_some()
        || line.contains("best fixed in hindsight")
}

/// `<clock> clock (<why>): <scenario>`, the why optional.
#[derive(Debug, Clone, PartialEq)]
struct Heading<'a> {
    clock: &'a str,
    why: Option<&'a str>,
    scenario: &'a str,
}

impl<'a> Heading<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let (clock, rest) = line.split_once(" clock")?;
        if clock.is_empty() || !clock.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        let (why, scenario) = match rest.strip_prefix(" (") {
            Some(rest) => {
                let (why, scenario) = rest.split_once("): ")?;
                (Some(why), scenario)
            }
            None => (None, rest.strip_prefix(": ")?),
        };
        scenario.starts_with("capacity ").then_some(Self {
            clock,
            why,
            scenario,
        })
    }
}

/// One strategy's figures in one phase.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Phase {
    pub(crate) capacity: f64,
    pub(crate) goodput: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) timeouts: f64,
    /// Seconds from the phase's start until the limit settled, if it did.
    pub(crate) converged_s: Option<f64>,
    /// The mean limit over the phase's second half, if the row has a limit to read.
    pub(crate) limit: Option<f64>,
}

/// One row of a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Strategy {
    pub(crate) name: String,
    pub(crate) phases: Vec<Phase>,
}

/// What a row is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    NoLimit,
    /// `fixed <n>`: a candidate for the best fixed limit in hindsight.
    Fixed,
    /// `fixed <n> (<note>)`, such as the limit 4x too high.
    OtherFixed,
    /// `tower-acc <name>`: the peer of our `<name>`.
    Peer(&'a str),
    /// One of ours, with or without the queue discipline.
    Ours {
        disciplined: bool,
    },
}

impl Strategy {
    pub(crate) fn kind(&self) -> Kind<'_> {
        let name = self.name.as_str();
        if name == "no limit" {
            Kind::NoLimit
        } else if let Some(limit) = name.strip_prefix("fixed ") {
            if limit.parse::<u64>().is_ok() {
                Kind::Fixed
            } else {
                Kind::OtherFixed
            }
        } else if let Some(ours) = name.strip_prefix("tower-acc ") {
            Kind::Peer(ours)
        } else {
            Kind::Ours {
                disciplined: name.ends_with(DISCIPLINED),
            }
        }
    }
}

/// One clock's table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub(crate) clock: String,
    pub(crate) why: Option<String>,
    pub(crate) scenario: String,
    pub(crate) strategies: Vec<Strategy>,
}

impl Table {
    /// The client's deadline in milliseconds, from the scenario.
    pub(crate) fn deadline_ms(&self) -> Option<f64> {
        first_number_after(&self.scenario, "deadline ")
    }

    /// Offered calls over what the backend completes at full use, per phase, from the
    /// scenario's rate and mean service time and each phase's capacity.
    pub(crate) fn overload(&self) -> Option<Vec<f64>> {
        let rate = number_before(&self.scenario, " calls/s")?;
        let service_s = first_number_after(&self.scenario, "service ")? / 1e3;
        let first = self.strategies.first()?;
        Some(
            first
                .phases
                .iter()
                .map(|phase| rate * service_s / phase.capacity)
                .collect(),
        )
    }

    /// The best fixed candidate of each phase: its name and goodput.
    pub(crate) fn best_fixed(&self) -> Vec<Option<(&str, f64)>> {
        let phases = self.strategies.first().map_or(0, |s| s.phases.len());
        (0..phases)
            .map(|i| {
                self.strategies
                    .iter()
                    .filter(|s| s.kind() == Kind::Fixed)
                    .filter_map(|s| Some((s.name.as_str(), s.phases.get(i)?.goodput)))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
            })
            .collect()
    }
}

/// The tables among a crate's printed lines, in the order printed; a table that cannot be read
/// is an error naming its clock and what is wrong.
pub(crate) fn parse(printed: &str) -> Vec<Result<Table, String>> {
    let mut tables: Vec<(Heading<'_>, Vec<&str>)> = Vec::new();
    for line in printed.lines() {
        if let Some(heading) = Heading::parse(line) {
            tables.push((heading, Vec::new()));
        } else if let Some(rest) = line.strip_prefix(TABLE)
            && let Some((clock, row)) = rest.split_once(": ")
            && let Some((heading, rows)) = tables.last_mut()
            && heading.clock == clock
        {
            rows.push(row);
        }
    }
    tables
        .into_iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(heading, rows)| {
            read_table(&rows)
                .map(|strategies| Table {
                    clock: heading.clock.to_owned(),
                    why: heading.why.map(str::to_owned),
                    scenario: heading.scenario.to_owned(),
                    strategies,
                })
                .map_err(|err| format!("the {} clock's table: {err}", heading.clock))
        })
        .collect()
}

/// The rows of a table whose first line is its header.
fn read_table(lines: &[&str]) -> Result<Vec<Strategy>, String> {
    let cells = |line: &str| -> Vec<String> {
        line.split('|')
            .map(|cell| cell.trim().to_ascii_lowercase())
            .collect()
    };
    let header = cells(lines[0]);
    let column = |name: &str| {
        header
            .iter()
            .position(|cell| cell == name || cell.starts_with(&format!("{name} ")))
            .or_else(|| header.iter().position(|cell| cell.starts_with(name)))
            .ok_or_else(|| format!("no `{name}` column in its header `{}`", lines[0]))
    };
    let at = [
        column("c")?,
        column("goodput")?,
        column("p50")?,
        column("p99")?,
        column("timeouts")?,
        column("converge")?,
        column("limit")?,
    ];
    let mut strategies: Vec<Strategy> = Vec::new();
    for line in &lines[1..] {
        let row: Vec<&str> = line.split('|').map(str::trim).collect();
        let cell = |i: usize| row.get(i).copied().unwrap_or_default();
        let number = |i: usize| {
            cell(i)
                .trim_end_matches(" s")
                .parse::<f64>()
                .map_err(|_| format!("`{}` is not a number in the line `{line}`", cell(i)))
        };
        let optional = |i: usize| match cell(i) {
            "-" | "" => Ok(None),
            _ => number(i).map(Some),
        };
        let phase = Phase {
            capacity: number(at[0])?,
            goodput: number(at[1])?,
            p50_ms: number(at[2])?,
            p99_ms: number(at[3])?,
            timeouts: number(at[4])?,
            converged_s: optional(at[5])?,
            limit: optional(at[6])?,
        };
        match cell(0) {
            "" => strategies
                .last_mut()
                .ok_or_else(|| format!("the line `{line}` names no strategy"))?
                .phases
                .push(phase),
            name => strategies.push(Strategy {
                name: name.to_owned(),
                phases: vec![phase],
            }),
        }
    }
    let phases = strategies.first().map_or(0, |s| s.phases.len());
    if let Some(odd) = strategies.iter().find(|s| s.phases.len() != phases) {
        return Err(format!(
            "`{}` has {} phases where the first row has {phases}",
            odd.name,
            odd.phases.len()
        ));
    }
    Ok(strategies)
}

/// The tables as Markdown, then one line with the targets' verdicts; nothing when the crate
/// printed no table.
pub(crate) fn render(md: &mut String, printed: &str) {
    let parsed = parse(printed);
    if parsed.is_empty() {
        return;
    }
    let mut tables: Vec<Table> = Vec::new();
    for table in parsed {
        match table {
            Ok(table) => {
                render_table(md, &table, tables.is_empty());
                tables.push(table);
            }
            Err(err) => {
                let _ = write!(
                    md,
                    "The adaptive simulation's table was not read: {err}.\n\n"
                );
            }
        }
    }
    let _ = write!(md, "{}\n\n", verdicts(&tables));
}

/// One table with its caption; the `first` explains the columns.
fn render_table(md: &mut String, table: &Table, first: bool) {
    let mut clock = table.clock.clone();
    if let Some(first) = clock.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let why = table
        .why
        .as_deref()
        .map_or_else(String::new, |why| format!(" ({why})"));
    let fixed = table
        .strategies
        .iter()
        .filter(|s| s.kind() == Kind::Fixed)
        .count();
    let merged = fixed > 1;
    let _ = write!(md, "**{clock} clock**{why}: {}.", table.scenario);
    if first {
        md.push_str(
            " Per phase: goodput/s, p50/p99 ms of the served calls, timeouts (deadline passed or \
             refused), time to converge from the phase's start (mean limit over its second half).",
        );
    }
    if merged {
        let _ = write!(
            md,
            " `best fixed` is the best of {fixed} fixed limits in each phase."
        );
    }
    md.push_str("\n\n| strategy |");
    let phases = table.strategies.first().map_or(0, |s| s.phases.len());
    for phase in table.strategies.first().map_or(&[][..], |s| &s.phases) {
        let _ = write!(
            md,
            " C={}: goodput | p50/p99 | timeouts | converged |",
            phase.capacity
        );
    }
    let _ = write!(md, "\n|---|{}\n", "--:|".repeat(4 * phases));
    let best = table.best_fixed();
    let mut best_shown = false;
    for strategy in &table.strategies {
        if merged && strategy.kind() == Kind::Fixed {
            if best_shown {
                continue;
            }
            best_shown = true;
            md.push_str("| best fixed |");
            for (i, best) in best.iter().enumerate() {
                let row = best.and_then(|(name, _)| {
                    table
                        .strategies
                        .iter()
                        .find(|s| s.name == name)?
                        .phases
                        .get(i)
                });
                match (best, row) {
                    (Some((name, _)), Some(phase)) => {
                        let limit = name.trim_start_matches("fixed ");
                        cells(md, phase, &format!(" (at {limit})"));
                    }
                    _ => md.push_str(" | | | |"),
                }
            }
        } else {
            let _ = write!(md, "| {} |", strategy.name);
            for phase in &strategy.phases {
                cells(md, phase, "");
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

/// One phase's four cells.
fn cells(md: &mut String, phase: &Phase, note: &str) {
    let converged = match (phase.converged_s, phase.limit) {
        (Some(at), Some(limit)) => format!("{at:.2} s ({limit:.0})"),
        (None, Some(limit)) => format!("no ({limit:.0})"),
        (Some(at), None) => format!("{at:.2} s"),
        (None, None) => String::new(),
    };
    let _ = write!(
        md,
        " {:.0}{note} | {:.0}/{:.0} | {:.0} | {converged} |",
        phase.goodput, phase.p50_ms, phase.p99_ms, phase.timeouts
    );
}

/// A target's verdict: met, or missed where it was missed; not judged without the figures.
fn verdict(misses: &[String], judged: bool) -> String {
    match (judged, misses.is_empty()) {
        (false, _) => "not measured".to_owned(),
        (true, true) => "met".to_owned(),
        (true, false) => format!("**missed** ({})", misses.join(", ")),
    }
}

/// The targets, judged on the parsed figures: goodput against the best fixed limit,
/// convergence after each change and the disciplined p99 on the exact clock's table; goodput
/// and p99 against tower-acc on every table that has its rows.
pub(crate) fn verdicts(tables: &[Table]) -> String {
    let exact = tables.iter().find(|t| t.clock == EXACT_CLOCK);
    let mut goodput = Vec::new();
    let mut converge = Vec::new();
    let mut tail = Vec::new();
    let mut tail_phases = String::new();
    let mut deadline = None;
    if let Some(table) = exact {
        let best = table.best_fixed();
        deadline = table.deadline_ms();
        let overload = table.overload();
        for strategy in &table.strategies {
            let Kind::Ours { disciplined } = strategy.kind() else {
                continue;
            };
            for (i, phase) in strategy.phases.iter().enumerate() {
                let at = format!("{} C={}", strategy.name, phase.capacity);
                if let Some((_, best)) = best[i] {
                    let share = phase.goodput / best;
                    if share < GOODPUT_SHARE {
                        // To the tenth, rounded down: a miss never reads as 90%.
                        let percent = (share * 1000.0).floor() / 10.0;
                        goodput.push(format!("{at} {percent:.1}%"));
                    }
                }
                if i > 0 {
                    match phase.converged_s {
                        Some(s) if s <= CONVERGE_WITHIN => {}
                        Some(s) => converge.push(format!("{at} {s:.2} s")),
                        None => converge.push(format!("{at} never")),
                    }
                }
                let overloaded = overload
                    .as_ref()
                    .is_none_or(|o| o.get(i).is_some_and(|&o| o >= OVERLOAD - 1e-9));
                if disciplined
                    && overloaded
                    && let Some(deadline) = deadline
                    && phase.p99_ms >= deadline
                {
                    tail.push(format!("{at} {:.0} ms", phase.p99_ms));
                }
            }
        }
        tail_phases = match (&overload, table.strategies.first()) {
            (Some(overload), Some(first)) => {
                let phases: Vec<String> = first
                    .phases
                    .iter()
                    .zip(overload)
                    .filter(|(_, o)| **o >= OVERLOAD - 1e-9)
                    .map(|(p, o)| format!("C={} at {o:.1}x", p.capacity))
                    .collect();
                format!(" ({})", phases.join(", "))
            }
            _ => " (every phase: the overload is not in the scenario)".to_owned(),
        };
    }
    let judged = exact.is_some();
    let mut line = format!(
        "Targets of the issue, judged on these figures: goodput at least {:.0}% of the best \
         fixed limit's in every phase ({EXACT_CLOCK} clock): {}; converged within {CONVERGE_WITHIN} \
         s after each change: {}; with LIFO/CoDel, p99 under the {} deadline at {OVERLOAD}x \
         overload or more{tail_phases}: {}",
        GOODPUT_SHARE * 100.0,
        verdict(&goodput, judged),
        verdict(&converge, judged),
        deadline.map_or_else(|| "client's".to_owned(), |d| format!("{d:.0} ms")),
        verdict(&tail, judged && deadline.is_some()),
    );
    for table in tables {
        // Each of ours against the tower-acc algorithm of its name, FIFO and then with the
        // queue discipline tower-acc does not have, where the table has those rows.
        for suffix in ["", DISCIPLINED] {
            let mut misses = Vec::new();
            let mut pairs = Vec::new();
            for peer in &table.strategies {
                let Kind::Peer(name) = peer.kind() else {
                    continue;
                };
                let ours = format!("{name}{suffix}");
                let Some(mine) = table.strategies.iter().find(|s| s.name == ours) else {
                    continue;
                };
                pairs.push(ours.clone());
                for (o, t) in mine.phases.iter().zip(&peer.phases) {
                    let mut why = Vec::new();
                    if o.goodput < t.goodput {
                        why.push(format!("goodput {:.0} against {:.0}", o.goodput, t.goodput));
                    }
                    if o.p99_ms >= t.p99_ms {
                        why.push(format!("p99 {:.0} against {:.0} ms", o.p99_ms, t.p99_ms));
                    }
                    if !why.is_empty() {
                        misses.push(format!("{ours} C={}: {}", o.capacity, why.join(", ")));
                    }
                }
            }
            if !pairs.is_empty() {
                let _ = write!(
                    line,
                    "; {} against tower-acc's algorithm of the same name ({} clock), goodput at \
                     least theirs and p99 lower in every phase: {}",
                    pairs.join(", "),
                    table.clock,
                    verdict(&misses, true)
                );
            }
        }
    }
    line.push('.');
    line
}
