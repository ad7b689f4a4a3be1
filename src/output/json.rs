//! JSON output: the report (or comparison) as pretty JSON with stable field names.
//!
//! The shape is documented in [`crate::sim::report`]; `--json` prints it to
//! stdout, so `jq .metrics.time_to_all_s.value` works on a single run and
//! `jq '.reports[].metrics.time_to_all_s.value'` on a `--compare` run.

use crate::sim::error::SimError;
use crate::sim::report::{Comparison, Report};

/// Pretty JSON of one report, ending in a newline.
pub fn report_json(report: &Report) -> Result<String, SimError> {
    Ok(report.to_json()?)
}

/// Pretty JSON of a comparison, ending in a newline.
pub fn comparison_json(cmp: &Comparison) -> Result<String, SimError> {
    Ok(cmp.to_json()?)
}
