//! CSV output of a report's time series: a time column and one column per series.
//!
//! `t_s` is the start of each interval in seconds; rates are per second over the
//! interval, gauges are the interval's maximum and running totals are at its end
//! (see [`crate::sim::report::Series`]). A comparison gets one column per
//! (variant, series), named `jitter=30:connected`. Written by `--csv FILE`.

use std::fmt::Write as _;

use crate::sim::report::{Comparison, Report};

/// Quotes a field if it contains a comma, quote or newline (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_rows(out: &mut String, interval_s: f64, columns: &[&[f64]]) {
    let rows = columns.iter().map(|c| c.len()).max().unwrap_or(0);
    for i in 0..rows {
        // i * interval, printed exactly for nice intervals (0.02 * 3 -> 0.06).
        let t = (i as f64 * interval_s * 1e9).round() / 1e9;
        let _ = write!(out, "{t}");
        for c in columns {
            out.push(',');
            if let Some(v) = c.get(i) {
                let _ = write!(out, "{v}");
            }
        }
        out.push('\n');
    }
}

/// The report's series as CSV text.
pub fn report_csv(report: &Report) -> String {
    let mut out = String::from("t_s");
    for s in &report.series {
        out.push(',');
        out.push_str(&field(&s.name));
    }
    out.push('\n');
    let cols: Vec<&[f64]> = report.series.iter().map(|s| s.values.as_slice()).collect();
    write_rows(&mut out, report.series_interval_s, &cols);
    out
}

/// A comparison's series as CSV text: one column per variant and series; a
/// variant that ended earlier has empty cells after its end.
pub fn comparison_csv(cmp: &Comparison) -> String {
    let mut out = String::from("t_s");
    let mut cols: Vec<&[f64]> = Vec::new();
    let names = cmp.variant_names();
    for (variant, r) in names.iter().zip(&cmp.reports) {
        for s in &r.series {
            out.push(',');
            out.push_str(&field(&format!("{variant}:{}", s.name)));
            cols.push(&s.values);
        }
    }
    out.push('\n');
    let interval = cmp.reports.first().map_or(1.0, |r| r.series_interval_s);
    write_rows(&mut out, interval, &cols);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::registry::run_by_name;

    #[test]
    fn csv_has_a_time_column_and_one_column_per_series() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        let r = run_by_name("herd", &[p("clients", "1000")], 1).expect("runs");
        let csv = report_csv(&r);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some(
                "t_s,connected,arrivals_per_s,queue_depth,utilization,refused_per_s,timeouts_per_s"
            )
        );
        assert_eq!(csv.lines().count(), r.points() + 1);
        let second = csv.lines().nth(2).expect("two rows");
        assert!(second.starts_with(&format!("{}", r.series_interval_s)));
        assert_eq!(second.split(',').count(), 7);
        assert_eq!(field("a,b"), "\"a,b\"");
    }
}
