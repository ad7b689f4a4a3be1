//! One topic card: its frontmatter model and the parser that splits a card file into
//! frontmatter and markdown body, reporting every problem with the line it is on.
//!
//! The catalog calls [`parse_card`] for embedded and user files alike; the linter
//! collects the [`Problem`]s it returns.

use serde::Serialize;
use std::fmt;

/// How hard a card is; shown in lists and used by the `d` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard];

    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }

    pub fn parse(s: &str) -> Option<Difficulty> {
        Difficulty::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source the card's facts were checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Where a card came from: compiled into the binary or read from a user directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Embedded,
    User,
}

/// A parsed card. `path` is what messages name (a relative path for embedded cards).
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub id: String,
    pub title: String,
    pub tags: Vec<String>,
    pub difficulty: Difficulty,
    /// Estimated study time in minutes.
    pub estimated_minutes: u32,
    pub prerequisites: Vec<String>,
    /// Cards worth reading next to this one (not required first).
    pub related: Vec<String>,
    /// Suggested position in the study order (lower first); cards without one go last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    pub sources: Vec<Source>,
    #[serde(skip)]
    pub body: String,
    /// 1-based line in the file where the body starts, so body problems can be located.
    #[serde(skip)]
    pub body_line: usize,
    pub path: String,
    pub origin: Origin,
    /// Lines of the frontmatter keys, for problems found later (unknown prerequisite).
    #[serde(skip)]
    pub key_lines: KeyLines,
}

impl Card {
    /// `15min`, `1h`, `1h30min`: the form the frontmatter uses.
    pub fn estimated_time(&self) -> String {
        format_minutes(self.estimated_minutes)
    }
}

/// 1-based lines of the frontmatter keys in the card file.
#[derive(Debug, Clone, Default)]
pub struct KeyLines {
    pub id: usize,
    pub prerequisites: usize,
    pub related: usize,
}

/// One problem in a content file, reported as `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

const KNOWN_KEYS: [&str; 9] = [
    "id",
    "title",
    "tags",
    "difficulty",
    "estimated_time",
    "prerequisites",
    "related",
    "order",
    "sources",
];
/// Every known key but `related` and `order` is required.
fn required(key: &str) -> bool {
    !matches!(key, "related" | "order")
}

/// `15min` -> 15, `1h` -> 60, `1h30min` -> 90. `None` for anything else or zero.
pub fn parse_minutes(s: &str) -> Option<u32> {
    fn number(d: &str) -> Option<u32> {
        if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        d.parse().ok()
    }
    let s = s.trim();
    let (hours, rest) = match s.split_once('h') {
        Some((h, rest)) => (number(h)?, rest),
        None => (0, s),
    };
    let minutes = match rest {
        "" if s.contains('h') => 0,
        _ => number(rest.strip_suffix("min")?)?,
    };
    let total = hours.checked_mul(60)?.checked_add(minutes)?;
    (total > 0).then_some(total)
}

/// The inverse of [`parse_minutes`].
pub fn format_minutes(m: u32) -> String {
    match (m / 60, m % 60) {
        (0, min) => format!("{min}min"),
        (h, 0) => format!("{h}h"),
        (h, min) => format!("{h}h{min}min"),
    }
}

/// True for ids made of lowercase ASCII letters, digits and single inner dashes.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses a card file. On success the card may still carry problems that only the
/// catalog can see (duplicate ids, unknown prerequisites); those are checked there.
pub fn parse_card(path: &str, text: &str, origin: Origin) -> Result<Card, Vec<Problem>> {
    let problem = |line: usize, message: String| Problem {
        path: path.to_string(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.first().map(|l| l.trim_end()) != Some("---") {
        return Err(vec![problem(
            1,
            "missing frontmatter: a card starts with a line `---`, then YAML, then `---`".into(),
        )]);
    }
    let Some(end) = lines
        .iter()
        .skip(1)
        .position(|l| l.trim_end() == "---")
        .map(|i| i + 1)
    else {
        return Err(vec![problem(
            1,
            "unterminated frontmatter: no closing `---` line".into(),
        )]);
    };
    let yaml = lines[1..end].join("\n");
    // Frontmatter line k (0-based within the YAML) is file line k + 2.
    let first_yaml_line = 2;
    let value: serde_yaml_ng::Value = match serde_yaml_ng::from_str(&yaml) {
        Ok(v) => v,
        Err(e) => {
            let line = e
                .location()
                .map(|l| l.line() + first_yaml_line - 1)
                .unwrap_or(first_yaml_line);
            return Err(vec![problem(
                line,
                format!("malformed YAML in frontmatter: {}", strip_location(&e)),
            )]);
        }
    };
    let Some(map) = value.as_mapping() else {
        return Err(vec![problem(
            first_yaml_line,
            "frontmatter must be a YAML mapping of `key: value` lines".into(),
        )]);
    };

    // Top-level keys sit at column 0; their lines give field problems a location.
    let key_line = |key: &str| -> usize {
        lines[1..end]
            .iter()
            .position(|l| {
                l.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
            })
            .map(|i| i + first_yaml_line)
            .unwrap_or(first_yaml_line)
    };

    let mut problems = Vec::new();
    for k in map.keys() {
        match k.as_str() {
            Some(name) if KNOWN_KEYS.contains(&name) => {}
            Some(name) => problems.push(problem(
                key_line(name),
                format!(
                    "unknown field `{name}` (known fields: {})",
                    KNOWN_KEYS.join(", ")
                ),
            )),
            None => problems.push(problem(
                first_yaml_line,
                "frontmatter keys must be strings".into(),
            )),
        }
    }
    for key in KNOWN_KEYS.into_iter().filter(|k| required(k)) {
        if !map.contains_key(key) {
            problems.push(problem(first_yaml_line, format!("missing field `{key}`")));
        }
    }

    let get = |k: &str| map.get(k);
    let string_field = |key: &str, problems: &mut Vec<Problem>| -> Option<String> {
        match get(key)? {
            serde_yaml_ng::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
            _ => {
                problems.push(problem(
                    key_line(key),
                    format!("`{key}` must be a non-empty string"),
                ));
                None
            }
        }
    };
    let list_field = |key: &str, problems: &mut Vec<Problem>| -> Vec<String> {
        match get(key) {
            None | Some(serde_yaml_ng::Value::Null) => Vec::new(),
            Some(serde_yaml_ng::Value::Sequence(seq)) => {
                let mut out = Vec::new();
                for v in seq {
                    match v.as_str() {
                        Some(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                        _ => problems.push(problem(
                            key_line(key),
                            format!("`{key}` must be a list of non-empty strings"),
                        )),
                    }
                }
                out
            }
            Some(_) => {
                problems.push(problem(
                    key_line(key),
                    format!("`{key}` must be a list, e.g. `{key}: [a, b]`"),
                ));
                Vec::new()
            }
        }
    };

    let id = string_field("id", &mut problems);
    if let Some(id) = &id
        && !valid_id(id)
    {
        problems.push(problem(
            key_line("id"),
            format!("invalid id `{id}`: use lowercase letters, digits and single dashes"),
        ));
    }
    let title = string_field("title", &mut problems);
    let tags = list_field("tags", &mut problems);
    let prerequisites = list_field("prerequisites", &mut problems);
    let related = list_field("related", &mut problems);
    if let Some(id) = &id
        && prerequisites.contains(id)
    {
        problems.push(problem(
            key_line("prerequisites"),
            format!("card `{id}` lists itself as a prerequisite"),
        ));
    }
    let difficulty = string_field("difficulty", &mut problems).and_then(|d| {
        let parsed = Difficulty::parse(&d);
        if parsed.is_none() {
            problems.push(problem(
                key_line("difficulty"),
                format!("bad difficulty `{d}`: expected easy, medium or hard"),
            ));
        }
        parsed
    });
    let estimated_minutes = string_field("estimated_time", &mut problems).and_then(|t| {
        let parsed = parse_minutes(&t);
        if parsed.is_none() {
            problems.push(problem(
                key_line("estimated_time"),
                format!(
                    "bad estimated_time `{t}`: expected minutes like `15min`, `1h` or `1h30min`"
                ),
            ));
        }
        parsed
    });
    let order = match get("order") {
        None | Some(serde_yaml_ng::Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(o) => Some(o),
            None => {
                problems.push(problem(
                    key_line("order"),
                    "`order` must be an integer".into(),
                ));
                None
            }
        },
    };
    let sources = parse_sources(get("sources"), key_line("sources"), &problem, &mut problems);

    let body_line = end + 2;
    let body = lines[end + 1..].join("\n");
    if body.trim().is_empty() {
        problems.push(problem(
            body_line.min(lines.len()),
            "empty body: write the card's markdown after the closing `---`".into(),
        ));
    }

    match (id, title, difficulty, estimated_minutes) {
        (Some(id), Some(title), Some(difficulty), Some(estimated_minutes))
            if problems.is_empty() =>
        {
            Ok(Card {
                key_lines: KeyLines {
                    id: key_line("id"),
                    prerequisites: key_line("prerequisites"),
                    related: key_line("related"),
                },
                id,
                title,
                tags,
                difficulty,
                estimated_minutes,
                prerequisites,
                related,
                order,
                sources,
                body,
                body_line,
                path: path.to_string(),
                origin,
            })
        }
        _ => Err(problems),
    }
}

fn parse_sources(
    value: Option<&serde_yaml_ng::Value>,
    line: usize,
    problem: &dyn Fn(usize, String) -> Problem,
    problems: &mut Vec<Problem>,
) -> Vec<Source> {
    use serde_yaml_ng::Value;
    let Some(value) = value else {
        return Vec::new();
    };
    let Value::Sequence(seq) = value else {
        problems.push(problem(
            line,
            "`sources` must be a list of `- title: ...` entries (with optional `url:`)".into(),
        ));
        return Vec::new();
    };
    if seq.is_empty() {
        problems.push(problem(
            line,
            "`sources` is empty: name at least one source".into(),
        ));
    }
    let mut out = Vec::new();
    for entry in seq {
        match entry {
            Value::String(s) if !s.trim().is_empty() => out.push(Source {
                title: s.trim().to_string(),
                url: None,
            }),
            Value::Mapping(m) => {
                let title = m.get("title").and_then(Value::as_str).map(str::trim);
                let url = m
                    .get("url")
                    .and_then(Value::as_str)
                    .map(|u| u.trim().to_string());
                let unknown: Vec<_> = m
                    .keys()
                    .filter_map(Value::as_str)
                    .filter(|k| *k != "title" && *k != "url")
                    .collect();
                if !unknown.is_empty() {
                    problems.push(problem(
                        line,
                        format!(
                            "unknown field `{}` in a source (known: title, url)",
                            unknown[0]
                        ),
                    ));
                }
                match title {
                    Some(t) if !t.is_empty() => out.push(Source {
                        title: t.to_string(),
                        url,
                    }),
                    _ => problems.push(problem(line, "a source is missing its `title`".into())),
                }
            }
            _ => problems.push(problem(
                line,
                "a source must be a string or a `title:`/`url:` mapping".into(),
            )),
        }
    }
    out
}

/// serde_yaml_ng appends " at line L column C" to messages; we report the line ourselves.
fn strip_location(e: &serde_yaml_ng::Error) -> String {
    let msg = e.to_string();
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nid: a-card\ntitle: A Card\ntags: [x, y]\ndifficulty: easy\nestimated_time: 15min\nprerequisites: []\nsources:\n  - title: RFC 6455\n    url: https://www.rfc-editor.org/rfc/rfc6455\n  - MDN\n---\n\n## Overview\n\nText.\n";

    #[test]
    fn parses_a_good_card() {
        let card = parse_card("a-card.md", GOOD, Origin::Embedded).expect("valid card");
        assert_eq!(card.id, "a-card");
        assert_eq!(card.tags, ["x", "y"]);
        assert_eq!(card.difficulty, Difficulty::Easy);
        assert_eq!(card.estimated_minutes, 15);
        assert_eq!(card.sources.len(), 2);
        assert_eq!(card.sources[1].url, None);
        assert_eq!(card.body_line, 13);
        assert!(card.body.contains("## Overview"));
    }

    fn problems_of(text: &str) -> Vec<String> {
        parse_card("c.md", text, Origin::User)
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn reports_bad_fields_with_their_lines() {
        let bad = GOOD
            .replace("difficulty: easy", "difficulty: brutal")
            .replace("estimated_time: 15min", "estimated_time: soon")
            .replace("tags: [x, y]", "tags: [x, y]\ncolour: red");
        let p = problems_of(&bad);
        assert!(
            p.iter()
                .any(|m| m.starts_with("c.md:5: unknown field `colour`")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("c.md:6: bad difficulty `brutal`")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("c.md:7: bad estimated_time `soon`")),
            "{p:?}"
        );
    }

    #[test]
    fn reports_missing_fields_empty_body_and_yaml_errors() {
        let p = problems_of("---\nid: a\n---\n");
        assert!(p.iter().any(|m| m.contains("missing field `title`")));
        assert!(p.iter().any(|m| m.contains("empty body")));
        let p = problems_of("---\nid: a\ntitle: [unclosed\n---\nbody\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("c.md:"), "{p:?}");
        assert!(p[0].contains("malformed YAML"), "{p:?}");
        assert!(problems_of("no frontmatter")[0].starts_with("c.md:1: missing frontmatter"));
        assert!(problems_of("---\nid: a\n")[0].contains("unterminated"));
    }

    #[test]
    fn minutes_round_trip() {
        for (s, m) in [("15min", 15), ("1h", 60), ("1h30min", 90), ("90min", 90)] {
            assert_eq!(parse_minutes(s), Some(m), "{s}");
        }
        for s in ["", "0min", "15", "min", "h", "1h-5min", "soon", "1.5h"] {
            assert_eq!(parse_minutes(s), None, "{s}");
        }
        assert_eq!(format_minutes(90), "1h30min");
        assert_eq!(format_minutes(60), "1h");
        assert_eq!(format_minutes(5), "5min");
    }

    #[test]
    fn ids() {
        assert!(valid_id("web-socket-2"));
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a b"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
