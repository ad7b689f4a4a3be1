//! Side-by-side rendering of several runs that differ in one parameter
//! (`--compare jitter=0,30`): one metric table with a column per variant, and
//! each series overlaid on a common scale (text sparklines here; SVG panels in
//! [`super::svg::comparison_svg`]; CSV in [`super::csv::comparison_csv`]).

use crate::sim::report::Comparison;

use super::fmt_si;
use super::text::{TextOptions, header_lines_except, metric_cell, sparkline, truncate};

/// A column heading in at most two rows of `w` characters: (top, bottom);
/// the top is empty when the value fits on one.
fn header_cell(value: &str, w: usize, ascii: bool) -> (String, String) {
    if value.chars().count() <= w {
        return (String::new(), value.to_string());
    }
    let split = value
        .char_indices()
        .filter(|&(_, ch)| ch == '-')
        .map(|(i, _)| i + 1)
        .rev()
        .find(|&i| value[..i].chars().count() <= w && value[i..].chars().count() <= w);
    match split {
        Some(i) => (value[..i].to_string(), value[i..].to_string()),
        None => (String::new(), truncate(value, w, ascii)),
    }
}

/// The comparison as plain text: parameters, a metric table with one column
/// per variant, and per-series sparklines on a shared scale.
pub fn comparison_text(c: &Comparison, opts: &TextOptions) -> String {
    let width = opts.width.max(60);
    let Some(first) = c.reports.first() else {
        return "nothing to compare\n".to_string();
    };
    let mut out = title_lines(c, first.seed, width);
    out.extend(
        header_lines_except(first, width, Some(&c.parameter))
            .into_iter()
            .skip(1),
    );
    out.push(String::new());

    // Metric table: one column per variant, headed by its value.
    let name_w = first
        .metrics
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(6);
    // Full cells when every column fits; otherwise compact numbers (30.7M) and
    // headers cut to the column.
    let fits = |w: usize| name_w + c.values.len() * (w + 2) <= width;
    let widest = |cell: &CellFn| {
        c.reports
            .iter()
            .flat_map(|r| {
                r.metrics
                    .iter()
                    .map(|m| cell(&m.name, m.value).chars().count())
            })
            .max()
            .unwrap_or(6)
            .max(6)
    };
    let longest_value = c
        .values
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(6);
    let full_w = widest(&metric_cell).max(longest_value);
    let (col_w, cell): (usize, &CellFn) = if fits(full_w) {
        (full_w, &metric_cell)
    } else {
        let compact_w = widest(&compact_cell);
        let w = if fits(compact_w.max(longest_value)) {
            compact_w.max(longest_value)
        } else {
            compact_w.max((width.saturating_sub(name_w) / c.values.len().max(1)).saturating_sub(2))
        };
        (w, &compact_cell)
    };
    let unit_w = first
        .metrics
        .iter()
        .map(|m| m.unit.len())
        .max()
        .unwrap_or(0);
    // Units are also in the metric names (_s, _ms); drop the column if it won't fit.
    let with_units = name_w + c.values.len() * (col_w + 2) + 2 + unit_w <= width;
    // A value too long for its column is split after a hyphen onto two header
    // rows ("drop-" over "oldest") before it is cut.
    let heads: Vec<(String, String)> = c
        .values
        .iter()
        .map(|v| header_cell(v, col_w, opts.ascii))
        .collect();
    if heads.iter().any(|(top, _)| !top.is_empty()) {
        let mut top = " ".repeat(name_w);
        for (t, _) in &heads {
            top.push_str(&format!("  {t:>col_w$}"));
        }
        out.push(top.trim_end().to_string());
    }
    let mut head = format!("{:name_w$}", c.parameter);
    for (_, v) in &heads {
        head.push_str(&format!("  {v:>col_w$}"));
    }
    if with_units {
        head.push_str("  unit");
    }
    out.push(head);
    for m in &first.metrics {
        let mut line = format!("{:name_w$}", m.name);
        for r in &c.reports {
            let v = r.metric(&m.name).and_then(|x| x.value);
            line.push_str(&format!("  {:>col_w$}", cell(&m.name, v)));
        }
        if with_units {
            line.push_str(&format!("  {}", m.unit));
        }
        out.push(line);
    }

    // Series on a common time axis and scale; a row ends where its run ended.
    let points = c.reports.iter().map(|r| r.points()).max().unwrap_or(0);
    let label_w = c
        .values
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(4)
        .min(16);
    let spark_w = width.saturating_sub(label_w + 3).min(64);
    let span_s = points as f64 * first.series_interval_s;
    for s0 in &first.series {
        let max = c
            .reports
            .iter()
            .filter_map(|r| r.series(&s0.name))
            .flat_map(|s| s.values.iter().copied())
            .fold(0.0, f64::max);
        out.push(String::new());
        out.push(truncate(
            &format!(
                "{} ({}), 0 to {} s, max {}",
                s0.label,
                s0.unit,
                fmt_si(span_s),
                fmt_si(max)
            ),
            width,
            opts.ascii,
        ));
        for (r, v) in c.reports.iter().zip(&c.values) {
            if let Some(s) = r.series(&s0.name) {
                let mut padded = s.values.clone();
                padded.resize(points, f64::NAN);
                out.push(format!(
                    "{:>label_w$} |{}",
                    truncate(v, label_w, opts.ascii),
                    sparkline(&padded, spark_w, max, opts.ascii).trim_end()
                ));
            }
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// Formats one metric cell.
type CellFn = dyn Fn(&str, Option<f64>) -> String;

/// "compare PARAM = A | B | C (same seed N)", wrapped at `width` between values.
fn title_lines(c: &Comparison, seed: u64, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = format!("compare {} = ", c.parameter);
    let indent = " ".repeat(line.chars().count());
    for (i, v) in c.values.iter().enumerate() {
        let piece = if i + 1 < c.values.len() {
            format!("{v} | ")
        } else {
            format!("{v} (same seed {seed})")
        };
        if line.chars().count() + piece.trim_end().chars().count() > width
            && line.trim().chars().count() > indent.trim().chars().count()
        {
            lines.push(line.trim_end().to_string());
            line = indent.clone();
        }
        line.push_str(&piece);
    }
    lines.push(line.trim_end().to_string());
    lines
}

/// A metric cell in few characters: large numbers with an SI suffix (30.7M),
/// others as in the full table.
fn compact_cell(name: &str, value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() && v.abs() >= 1e4 => fmt_si(v),
        Some(v) if v.is_finite() && v != 0.0 && v.abs() < 1e-3 => format!("{v:.1e}"),
        _ => metric_cell(name, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::runner::compare_herd;
    use crate::sim::scenarios::herd::HerdConfig;

    #[test]
    fn comparison_table_has_a_column_per_variant() {
        let base = HerdConfig {
            clients: 5_000,
            ..HerdConfig::default()
        };
        let c = compare_herd(&base, "jitter=0,1", 7, &mut |_, _, _| {}).expect("runs");
        let text = comparison_text(&c, &TextOptions::default());
        assert!(text.contains("compare jitter = 0 | 1"));
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("time_to_all_s"))
            .expect("metric row");
        assert_eq!(row.split_whitespace().count(), 4, "{row}");
        let svg = crate::output::svg::comparison_svg(&c).expect("draws");
        assert!(svg.contains("jitter=1"));
        let csv = crate::output::csv::comparison_csv(&c);
        assert!(csv.starts_with("t_s,jitter=0:connected,"));
    }

    #[test]
    fn long_headings_split_after_a_hyphen_before_they_are_cut() {
        assert_eq!(
            header_cell("unbounded", 9, false),
            (String::new(), "unbounded".into())
        );
        assert_eq!(
            header_cell("drop-oldest", 9, false),
            ("drop-".into(), "oldest".into())
        );
        assert_eq!(
            header_cell("full-jitter", 6, false),
            ("full-".into(), "jitter".into())
        );
        assert_eq!(
            header_cell("disconnect", 9, false),
            (String::new(), "disconne…".into())
        );
    }

    #[test]
    fn many_variants_still_fit_80_columns() {
        let spec = "backoff=none,exponential,full-jitter,decorrelated";
        let base = HerdConfig {
            clients: 3_000,
            ..HerdConfig::default()
        };
        let c = compare_herd(&base, spec, 7, &mut |_, _, _| {}).expect("runs");
        let text = comparison_text(&c, &TextOptions::default());
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        assert!(text.contains("decorrelated"));
        assert_eq!(compact_cell("x", Some(30_676_992.0)), "30.7M");
        assert_eq!(compact_cell("x", Some(0.7455)), "0.7455");
        assert_eq!(compact_cell("time_to_all_s", None), "not reached");
    }
}
