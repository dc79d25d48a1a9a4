//! The report's SVG plots, drawn by `plotters`.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::format::first_number_after;
use crate::results::{Bench, Paths};

/// A plot: its caption and its file under `docs/bench/`.
pub(crate) type Plot = (String, String);

pub(crate) fn draw_plots(
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

    if let Some(text) = printed.get("bagpipe") {
        let timelines = crate::timeline::parse(text);
        if !timelines.is_empty() {
            for (file, figure, caption) in [
                (
                    "bagpipe_adaptive_limit.svg",
                    crate::timeline::Figure::Limit,
                    "bagpipe: each strategy's limit over simulated time",
                ),
                (
                    "bagpipe_adaptive_goodput.svg",
                    crate::timeline::Figure::Goodput,
                    "bagpipe: each strategy's goodput over simulated time",
                ),
            ] {
                crate::timeline::draw(&dir.join(file), &timelines, figure)
                    .map_err(|e| format!("plotting {file}: {e}"))?;
                plots.push((caption.to_owned(), file.to_owned()));
            }
        }
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
            .filter_map(|line| line.strip_prefix("hit ratio trace "))
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
                "cache: hit ratio in % per trace (10^4 capacity, every subject in one run)",
                rows,
                "cache: hit ratio per peer",
            )?;
        }
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
