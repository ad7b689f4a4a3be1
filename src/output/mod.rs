//! Renderers. Cards and tables: `plain` (ANSI or bare text) with colours from `theme`.
//! Simulation reports ([`crate::sim::report::Report`]) and compared variants
//! ([`crate::sim::report::Comparison`]): `text`, `json`, `csv` and `svg`, plus
//! `compare` for side-by-side runs. They only read plain data; nothing here runs a
//! simulation or touches the terminal state.

pub mod compare;
pub mod csv;
pub mod json;
pub mod plain;
pub mod svg;
pub mod text;
pub mod theme;

/// Formats a metric value for people: whole numbers with thousands separators,
/// other values with about four significant digits.
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return group_thousands(v as i64);
    }
    let mag = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    let prec = (3 - mag).clamp(0, 6) as usize;
    let s = format!("{v:.prec$}");
    if prec == 0 {
        // e.g. 110059.7 -> "110,060"
        s.parse::<i64>().map_or(s, group_thousands)
    } else {
        s
    }
}

/// `1234567` -> `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Short axis numbers: `950`, `12k`, `1.5M`, `0.25`.
pub fn fmt_si(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = if x.fract() == 0.0 || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{suffix}")
}

/// A parameter as people read it: `clients 1000`, `jitter 30 s`, `backoff
/// full-jitter` (the unit is left out when it repeats the name).
pub fn fmt_named_param(p: &crate::sim::report::Parameter) -> String {
    let unit = if p.unit == p.name {
        ""
    } else {
        p.unit.as_str()
    };
    format!("{} {}", p.name, fmt_param(&p.value, unit))
}

/// A parameter value as people read it: `30 s`, `4096 entries`, `full-jitter`.
pub fn fmt_param(value: &str, unit: &str) -> String {
    let is_number = value.parse::<f64>().is_ok();
    if unit.is_empty() || !is_number {
        value.to_string()
    } else {
        format!("{value} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_well() {
        assert_eq!(fmt_value(11_948_692.0), "11,948,692");
        assert_eq!(fmt_value(268.309288), "268.3");
        assert_eq!(fmt_value(0.8637), "0.8637");
        assert_eq!(fmt_value(110_059.69), "110,060");
        assert_eq!(fmt_value(-1234.0), "-1,234");
        assert_eq!(fmt_value(f64::NAN), "n/a");
        assert_eq!(fmt_si(66_000.0), "66k");
        assert_eq!(fmt_si(1_500_000.0), "1.5M");
        assert_eq!(fmt_si(0.25), "0.25");
        assert_eq!(fmt_si(950.0), "950");
        assert_eq!(fmt_param("30", "s"), "30 s");
        assert_eq!(fmt_param("unlimited", "entries"), "unlimited");
    }
}
