//! Numbers in and out: reading a figure off a printed line, writing times and throughputs.

use crate::results::Bench;

pub(crate) fn first_number_after(text: &str, prefix: &str) -> Option<f64> {
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
pub(crate) fn number_before(line: &str, unit: &str) -> Option<f64> {
    let head = &line[..line.find(unit)?];
    let start = head
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    head[start..].parse().ok()
}

pub(crate) fn time(ns: f64) -> String {
    let (divisor, unit) = time_unit(ns);
    let digits = if ns < 1e3 { 1 } else { 2 };
    format!("{:.digits$} {unit}", ns / divisor)
}

/// The unit to show `ns` nanoseconds in (ns, µs, ms or s) and the nanoseconds in one of it.
pub(crate) fn time_unit(ns: f64) -> (f64, &'static str) {
    match ns {
        ns if ns < 1e3 => (1.0, "ns"),
        ns if ns < 1e6 => (1e3, "µs"),
        ns if ns < 1e9 => (1e6, "ms"),
        _ => (1e9, "s"),
    }
}

pub(crate) fn throughput(bench: &Bench) -> String {
    if let Some(gbps) = bench.gigabytes_per_second() {
        format!("{gbps:.2} GB/s")
    } else if let Some(elements) = bench.elements {
        format!("{:.1} M/s", elements / bench.median_ns * 1e3)
    } else {
        String::new()
    }
}
