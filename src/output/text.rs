//! Plain-text output: a summary table with units and small charts that fit 80
//! columns, for `--no-tui` or when stdout is not a terminal.
//!
//! Used by `crate::cli::simulate`; [`block_chart`], [`sparkline`] and
//! [`resample`] are public so the TUI and the compare renderer
//! ([`super::compare`]) draw the same way. Unicode block characters by default;
//! [`TextOptions::ascii`] falls back to plain ASCII.

use crate::sim::report::Report;

use super::{fmt_named_param, fmt_si, fmt_value};

/// How to draw text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Total width in columns (at least 60; 80 by default).
    pub width: usize,
    /// Draw with ASCII only (no block characters).
    pub ascii: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self {
            width: 80,
            ascii: false,
        }
    }
}

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const ASCII_SPARKS: [char; 8] = ['_', '.', ':', '-', '=', '+', '*', '#'];
const EIGHTHS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Shrinks `values` to `width` columns, each the maximum of the values it covers
/// (so peaks survive; a running total's maximum is its last value). Shorter
/// input is returned as is.
pub fn resample(values: &[f64], width: usize) -> Vec<f64> {
    if values.len() <= width || width == 0 {
        return values.to_vec();
    }
    (0..width)
        .map(|c| {
            let lo = c * values.len() / width;
            let hi = ((c + 1) * values.len() / width).max(lo + 1);
            values[lo..hi].iter().copied().fold(f64::MIN, f64::max)
        })
        .collect()
}

/// One line of `width` characters, each showing a value from 0 to `max`.
pub fn sparkline(values: &[f64], width: usize, max: f64, ascii: bool) -> String {
    let glyphs = if ascii { &ASCII_SPARKS } else { &SPARKS };
    resample(values, width)
        .iter()
        .map(|&v| {
            if v.is_nan() || v <= 0.0 || max.is_nan() || max <= 0.0 {
                ' '
            } else {
                // Rounded, so 9 of 10 reads lower than 10 of 10; any value above 0 shows.
                let i = ((v / max) * 8.0).round().clamp(1.0, 8.0) as usize - 1;
                glyphs[i]
            }
        })
        .collect()
}

/// A `height`-row bar chart of `values` (top row first) scaled to `max`, with
/// eighth-of-a-cell resolution in Unicode mode.
pub fn block_chart(
    values: &[f64],
    width: usize,
    height: usize,
    max: f64,
    ascii: bool,
) -> Vec<String> {
    let cols = resample(values, width);
    let eighths: Vec<usize> = cols
        .iter()
        .map(|&v| {
            if v > 0.0 && max > 0.0 {
                ((v / max) * (height * 8) as f64).round().max(1.0) as usize
            } else {
                0
            }
        })
        .collect();
    (0..height)
        .rev()
        .map(|row| {
            eighths
                .iter()
                .map(|&e| {
                    let filled = e.saturating_sub(row * 8).min(8);
                    if ascii {
                        match filled {
                            0 => ' ',
                            1..=3 => '.',
                            4..=7 => '+',
                            _ => '#',
                        }
                    } else {
                        EIGHTHS[filled]
                    }
                })
                .collect()
        })
        .collect()
}

/// Cuts `s` to at most `n` characters, marking the cut.
pub fn truncate(s: &str, n: usize, ascii: bool) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mark = if ascii { "..." } else { "…" };
    let keep = n.saturating_sub(mark.chars().count());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(mark);
    out
}

/// Wraps `items` (already formatted) into lines of at most `width` columns,
/// after `prefix` on the first line and indentation on the rest.
fn wrap(prefix: &str, items: &[String], width: usize) -> Vec<String> {
    let indent = " ".repeat(prefix.chars().count());
    let mut lines = Vec::new();
    let mut line = prefix.to_string();
    let mut empty = true;
    for it in items {
        let sep = if empty { "" } else { ", " };
        if !empty && line.chars().count() + sep.len() + it.chars().count() > width {
            line.push(',');
            lines.push(line);
            line = format!("{indent}{it}");
        } else {
            line.push_str(sep);
            line.push_str(it);
        }
        empty = false;
    }
    lines.push(line);
    lines
}

/// A metric value for the table; undefined times read "not reached".
pub fn metric_cell(name: &str, value: Option<f64>) -> String {
    match value {
        Some(v) => fmt_value(v),
        None if name.starts_with("time_to") => "not reached".to_string(),
        None => "n/a".to_string(),
    }
}

/// The header line and wrapped parameter list of a report.
pub fn header_lines(r: &Report, width: usize) -> Vec<String> {
    header_lines_except(r, width, None)
}

/// Like [`header_lines`], leaving out one parameter (the one a comparison varies).
pub fn header_lines_except(r: &Report, width: usize, skip: Option<&str>) -> Vec<String> {
    let head = format!(
        "{} ({}, seed {}): ended at {} s of a {} s horizon, {} events",
        r.scenario,
        r.backend.as_str(),
        r.seed,
        fmt_value(r.end_s),
        fmt_value(r.horizon_s),
        fmt_value(r.events_processed as f64)
    );
    let mut lines = vec![truncate(&head, width, true)];
    let params: Vec<String> = r
        .parameters
        .iter()
        .filter(|p| Some(p.name.as_str()) != skip)
        .map(fmt_named_param)
        .collect();
    lines.extend(wrap("parameters: ", &params, width));
    lines
}

/// The plain summary: header, metric table, a chart of the first series and a
/// sparkline for each other series.
pub fn render_report(r: &Report, opts: &TextOptions) -> String {
    let width = opts.width.max(60);
    let mut out: Vec<String> = header_lines(r, width);
    out.push(String::new());

    // Metric table: name, value, unit, then as much of the label as fits.
    let name_w = r
        .metrics
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let value_w = r
        .metrics
        .iter()
        .map(|m| metric_cell(&m.name, m.value).len())
        .max()
        .unwrap_or(5)
        .max(5);
    let unit_w = r
        .metrics
        .iter()
        .map(|m| m.unit.len())
        .max()
        .unwrap_or(4)
        .max(4);
    out.push(format!(
        "{:name_w$}  {:>value_w$}  {:unit_w$}  meaning",
        "metric", "value", "unit"
    ));
    let label_w = width.saturating_sub(name_w + value_w + unit_w + 6);
    for m in &r.metrics {
        let line = format!(
            "{:name_w$}  {:>value_w$}  {:unit_w$}  {}",
            m.name,
            metric_cell(&m.name, m.value),
            m.unit,
            truncate(&m.label, label_w, opts.ascii)
        );
        out.push(line.trim_end().to_string());
    }

    if let Some(first) = r.series.first() {
        out.push(String::new());
        out.extend(chart_lines(r, first, width, opts.ascii));
        out.push(String::new());
        let name_w = r
            .series
            .iter()
            .skip(1)
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0);
        let spark_w = width.saturating_sub(name_w + 22).min(60);
        for s in r.series.iter().skip(1) {
            let max = s.values.iter().copied().fold(0.0, f64::max);
            out.push(format!(
                "{:name_w$} {} max {} {}",
                s.name,
                pad(&sparkline(&s.values, spark_w, max, opts.ascii), spark_w),
                fmt_si(max),
                s.unit
            ));
        }
    }
    if let Some(w) = r.wall_time_s {
        out.push(String::new());
        out.push(format!(
            "engine wall time {:.3} s ({} events/s)",
            w,
            fmt_si((r.events_processed as f64 / w.max(1e-9)).round())
        ));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n >= w {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

/// An 8-row chart of one series with a y scale and a time axis.
pub fn chart_lines(
    r: &Report,
    s: &crate::sim::report::Series,
    width: usize,
    ascii: bool,
) -> Vec<String> {
    let max = s.values.iter().copied().fold(0.0, f64::max);
    let label_w = 7;
    let plot_w = width.saturating_sub(label_w + 2).clamp(10, 70);
    let height = 8;
    let mut lines = vec![format!("{} ({}), max {}", s.label, s.unit, fmt_value(max))];
    let rows = block_chart(&s.values, plot_w, height, max, ascii);
    let (vbar, corner, hbar) = if ascii {
        ('|', '+', '-')
    } else {
        ('│', '└', '─')
    };
    for (i, row) in rows.iter().enumerate() {
        let label = match i {
            0 => fmt_si(max),
            _ if i == height / 2 => fmt_si(max / 2.0),
            _ => String::new(),
        };
        lines.push(format!("{label:>label_w$} {vbar}{row}"));
    }
    let cols = resample(&s.values, plot_w).len();
    lines.push(format!(
        "{:>label_w$} {corner}{}",
        0,
        hbar.to_string().repeat(cols)
    ));
    let span = s.values.len() as f64 * r.series_interval_s;
    let left = "0 s";
    let right = format!("{} s", fmt_si(span));
    let mid = format!("{} s", fmt_si(span / 2.0));
    let inner = cols.saturating_sub(left.len() + right.len());
    let mid_pad = inner.saturating_sub(mid.len()) / 2;
    let axis = format!(
        "{}{}{}{}{}",
        left,
        " ".repeat(mid_pad),
        mid,
        " ".repeat(inner.saturating_sub(mid_pad + mid.len())),
        right
    );
    lines.push(format!("{:label_w$}  {axis}", ""));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::registry::run_by_name;

    #[test]
    fn charts_scale_and_resample() {
        assert_eq!(resample(&[1.0, 5.0, 2.0, 2.0], 2), vec![5.0, 2.0]);
        assert_eq!(sparkline(&[0.0, 4.0, 8.0], 3, 8.0, false), " ▄█");
        assert_eq!(sparkline(&[0.0, 4.0, 8.0], 3, 8.0, true), " -#");
        // 9 of 10 servers must read lower than 10 of 10; a tiny value still shows.
        assert_eq!(sparkline(&[10.0, 9.0, 0.1, 0.0], 4, 10.0, false), "█▇▁ ");
        let rows = block_chart(&[8.0, 4.0, 1.0], 3, 2, 8.0, false);
        assert_eq!(rows, vec!["█  ".to_string(), "██▂".to_string()]);
        assert_eq!(truncate("abcdef", 4, true), "a...");
    }

    #[test]
    fn the_summary_fits_80_columns_and_names_every_metric() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        let r = run_by_name("herd", &[p("clients", "20000"), p("jitter", "2")], 7).expect("runs");
        for ascii in [false, true] {
            let text = render_report(&r, &TextOptions { width: 80, ascii });
            for line in text.lines() {
                assert!(line.chars().count() <= 80, "too wide: {line:?}");
            }
            for m in &r.metrics {
                assert!(text.contains(&m.name));
            }
            assert!(text.contains("clients connected"));
            if ascii {
                assert!(text.is_ascii());
            }
        }
    }
}
