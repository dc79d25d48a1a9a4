//! The adaptive limiter's timeline: each strategy's limit and goodput over simulated time, as
//! the bagpipe's `adaptive_sim` bench prints them, drawn as two line charts.

use std::path::Path;

use plotters::prelude::*;

/// One strategy's samples: (seconds, limit, goodput per second).
pub(crate) type Timeline = (String, Vec<(f64, f64, f64)>);

/// The header the simulation prints before each strategy's samples.
pub(crate) const HEADER: &str = " (t s, limit, goodput/s):";

/// Keeps a strategy's samples line (which starts with a space, like criterion's own output)
/// beside its header, as `series <name>: <samples>`: `pending` holds the header's name.
pub(crate) fn capture(line: &str, pending: &mut Option<String>) -> Option<String> {
    if let Some(name) = line.strip_suffix(HEADER) {
        *pending = Some(name.to_owned());
        return None;
    }
    let name = pending.take()?;
    line.starts_with(' ')
        .then(|| format!("series {name}:{line}"))
}

/// The timelines among a crate's printed lines.
pub(crate) fn parse(printed: &str) -> Vec<Timeline> {
    printed
        .lines()
        .filter_map(|line| line.strip_prefix("series "))
        .filter_map(|rest| {
            let (name, samples) = rest.split_once(": ")?;
            let points = samples
                .split_whitespace()
                .filter_map(|sample| {
                    let (at, rest) = sample.split_once(':')?;
                    let (limit, goodput) = rest.split_once('/')?;
                    Some((at.parse().ok()?, limit.parse().ok()?, goodput.parse().ok()?))
                })
                .collect::<Vec<_>>();
            (!points.is_empty()).then(|| (name.to_owned(), points))
        })
        .collect()
}

/// Which of a sample's two figures a chart shows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Figure {
    Limit,
    Goodput,
}

/// Draws one figure of every timeline against simulated time.
pub(crate) fn draw(
    path: &Path,
    timelines: &[Timeline],
    figure: Figure,
) -> Result<(), Box<dyn std::error::Error>> {
    let pick = |p: &(f64, f64, f64)| match figure {
        Figure::Limit => p.1,
        Figure::Goodput => p.2,
    };
    let end = timelines
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.0))
        .fold(0.0_f64, f64::max);
    let top = timelines
        .iter()
        .flat_map(|(_, points)| points.iter().map(pick))
        .fold(0.0_f64, f64::max);
    let (caption, unit) = match figure {
        Figure::Limit => (
            "bagpipe: the limit over time (capacity 50, then 20, then 80)",
            "limit",
        ),
        Figure::Goodput => (
            "bagpipe: goodput over time (calls done within the deadline)",
            "goodput / s",
        ),
    };
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end.max(1.0), 0.0..(top * 1.1).max(1.0))?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("simulated seconds")
        .y_desc(unit)
        .draw()?;
    for (n, (name, points)) in timelines.iter().enumerate() {
        let colour = Palette99::pick(n).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, pick(p))),
                colour.stroke_width(2),
            ))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}
