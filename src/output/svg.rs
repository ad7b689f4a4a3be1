//! SVG charts of a report's series, drawn with plotters' SVG backend: the picture
//! a person would paste into their notes. Written by `--plot FILE.svg`.
//!
//! One run: a titled figure with one panel per unit (series that share a unit,
//! such as `arrivals_per_s` and `refused_per_s`, share a panel and a legend),
//! each with labelled axes. A comparison: one panel per series with one line per
//! variant, overlaid on a common time axis. Output is deterministic (no
//! timestamps), so the same report always gives the same file.

use plotters::prelude::*;

use crate::sim::error::SimError;
use crate::sim::report::{Comparison, Report, Series};

use super::{fmt_named_param, fmt_si};

/// Figure width in pixels.
pub const WIDTH: u32 = 1000;

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

fn plot_err<E: std::fmt::Display>(e: E) -> SimError {
    SimError::Plot(e.to_string())
}

/// One panel: a title, a y-axis description and lines (legend name, points).
struct Panel {
    title: String,
    y_desc: String,
    lines: Vec<(String, Vec<(f64, f64)>)>,
}

fn points(s: &Series, interval: f64) -> Vec<(f64, f64)> {
    // Value i covers [i, i+1) intervals; plot it at the interval's end so a
    // running total reads "connected by then".
    std::iter::once((0.0, 0.0))
        .chain(
            s.values
                .iter()
                .enumerate()
                .map(|(i, &v)| ((i + 1) as f64 * interval, v)),
        )
        .collect()
}

fn unit_title(unit: &str) -> String {
    match unit {
        "1/s" => "per second".to_string(),
        "fraction" => "fraction (0..1)".to_string(),
        u => u.to_string(),
    }
}

fn draw(title: &str, subtitle: &str, panels: &[Panel], x_max: f64) -> Result<String, SimError> {
    let n = panels.len().max(1);
    let cols = if n == 1 { 1 } else { 2 };
    let rows = n.div_ceil(cols);
    let height = 90 + 300 * rows as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (head, body) = root.split_vertically(80);
        head.draw(&Text::new(
            title.to_string(),
            (20, 14),
            ("sans-serif", 24).into_font().color(&BLACK),
        ))
        .map_err(plot_err)?;
        for (i, line) in wrap_words(subtitle, 130).iter().take(2).enumerate() {
            head.draw(&Text::new(
                line.clone(),
                (20, 44 + 18 * i as i32),
                ("sans-serif", 14).into_font().color(&RGBColor(80, 80, 80)),
            ))
            .map_err(plot_err)?;
        }
        let areas = body.split_evenly((rows, cols));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            let y_max = panel
                .lines
                .iter()
                .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
                .fold(0.0, f64::max);
            let y_max = if y_max > 0.0 { y_max * 1.08 } else { 1.0 };
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(42)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..x_max.max(1e-9), 0.0..y_max)
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .x_desc("time (s)")
                .y_desc(panel.y_desc.as_str())
                .x_label_formatter(&|v| fmt_si(*v))
                .y_label_formatter(&|v| fmt_si(*v))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(plot_err)?;
            for (i, (name, pts)) in panel.lines.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(plot_err)?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(emptiest_corner(&panel.lines, x_max, y_max))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(buf)
}

/// Splits `text` at spaces into lines of at most about `width` characters.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.len() - 1;
        if !lines[last].is_empty() && lines[last].chars().count() + 1 + word.chars().count() > width
        {
            lines.push(word.to_string());
        } else {
            if !lines[last].is_empty() {
                lines[last].push(' ');
            }
            lines[last].push_str(word);
        }
    }
    lines
}

/// The legend corner that covers the fewest plotted points (each corner region
/// is the outer 35 % of the width and 30 % of the height).
fn emptiest_corner(
    lines: &[(String, Vec<(f64, f64)>)],
    x_max: f64,
    y_max: f64,
) -> SeriesLabelPosition {
    let corners = [
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let count = |right: bool, top: bool| {
        lines
            .iter()
            .flat_map(|(_, pts)| pts.iter())
            .filter(|(x, y)| {
                let fx = x / x_max.max(1e-12);
                let fy = y / y_max.max(1e-12);
                (if right { fx > 0.65 } else { fx < 0.35 })
                    && (if top { fy > 0.7 } else { fy < 0.3 })
            })
            .count()
    };
    let mut best = (SeriesLabelPosition::UpperRight, usize::MAX);
    for (pos, right, top) in corners {
        let n = count(right, top);
        if n < best.1 {
            best = (pos, n);
        }
    }
    best.0
}

fn subtitle(r: &Report, skip: Option<&str>) -> String {
    let params: Vec<String> = r
        .parameters
        .iter()
        .filter(|p| Some(p.name.as_str()) != skip)
        .map(fmt_named_param)
        .collect();
    format!(
        "{} · seed {} · {}",
        r.backend.as_str(),
        r.seed,
        params.join(", ")
    )
}

/// The report's series as an SVG document.
pub fn report_svg(r: &Report) -> Result<String, SimError> {
    let mut panels: Vec<Panel> = Vec::new();
    for s in &r.series {
        let pts = points(s, r.series_interval_s);
        match panels.iter_mut().find(|p| p.y_desc == s.unit) {
            Some(p) => {
                p.title = unit_title(&s.unit);
                p.lines.push((s.name.clone(), pts));
            }
            None => panels.push(Panel {
                title: s.label.clone(),
                y_desc: s.unit.clone(),
                lines: vec![(s.name.clone(), pts)],
            }),
        }
    }
    let x_max = r.points() as f64 * r.series_interval_s;
    let title = format!("{}: simulated run", r.scenario);
    draw(&title, &subtitle(r, None), &panels, x_max)
}

/// A comparison as an SVG document: one panel per series, one line per variant.
pub fn comparison_svg(c: &Comparison) -> Result<String, SimError> {
    let Some(first) = c.reports.first() else {
        return Err(SimError::Plot("nothing to compare".into()));
    };
    let names = c.variant_names();
    let panels: Vec<Panel> = first
        .series
        .iter()
        .map(|s0| Panel {
            title: s0.label.clone(),
            y_desc: s0.unit.clone(),
            lines: c
                .reports
                .iter()
                .zip(&names)
                .filter_map(|(r, n)| {
                    r.series(&s0.name)
                        .map(|s| (n.clone(), points(s, r.series_interval_s)))
                })
                .collect(),
        })
        .collect();
    let x_max = c
        .reports
        .iter()
        .map(|r| r.points() as f64 * r.series_interval_s)
        .fold(0.0, f64::max);
    let title = format!("{}: {} compared", first.scenario, c.parameter);
    let sub = format!(
        "{} = {} · {}",
        c.parameter,
        c.values.join(", "),
        subtitle(first, Some(&c.parameter))
    );
    draw(&title, &sub, &panels, x_max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::registry::run_by_name;

    #[test]
    fn svg_has_titles_axes_and_legends() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        let r = run_by_name("herd", &[p("clients", "5000"), p("jitter", "1")], 7).expect("runs");
        let svg = report_svg(&r).expect("draws");
        assert!(svg.starts_with("<svg"));
        for text in [
            "herd: simulated run",
            "time (s)",
            "per second",
            "refused_per_s",
            "clients connected",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
        // Deterministic.
        assert_eq!(svg, report_svg(&r).expect("draws"));
    }
}
