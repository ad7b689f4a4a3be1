//! Ranked search over the catalog: a card matches when every query word appears in
//! its title, id, tags or body; title and tag hits rank above body hits.
//!
//! Used by `swelearn search` and by the TUI's `/` filter.

use super::card::Card;
use super::catalog::Catalog;
use serde::Serialize;

/// Where the best match of a hit was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Tag,
    Id,
    Body,
}

/// One matching card.
#[derive(Debug, Clone, Serialize)]
pub struct Hit<'a> {
    #[serde(serialize_with = "card_id")]
    pub card: &'a Card,
    pub score: u32,
    pub field: Field,
    /// The first body line that matches (1-based line in the card file, and its text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

fn card_id<S: serde::Serializer>(card: &&Card, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&card.id)
}

/// Lowercased query words.
pub fn terms(query: &str) -> Vec<String> {
    query.split_whitespace().map(str::to_lowercase).collect()
}

/// Scores one card against the query terms; `None` when a term matches nowhere.
pub fn score<'a>(card: &'a Card, terms: &[String]) -> Option<Hit<'a>> {
    if terms.is_empty() {
        return None;
    }
    let title = card.title.to_lowercase();
    let tags: Vec<String> = card.tags.iter().map(|t| t.to_lowercase()).collect();
    let body = card.body.to_lowercase();
    let mut total = 0u32;
    let mut best = Field::Body;
    for term in terms {
        let (points, field) = if title.contains(term.as_str()) {
            (100, Field::Title)
        } else if tags.iter().any(|t| t == term) {
            (80, Field::Tag)
        } else if tags.iter().any(|t| t.contains(term.as_str())) {
            (50, Field::Tag)
        } else if card.id.contains(term.as_str()) {
            (40, Field::Id)
        } else {
            let n = body.matches(term.as_str()).count();
            if n == 0 {
                return None;
            }
            (n.min(20) as u32, Field::Body)
        };
        total += points;
        best = best_field(best, field);
    }
    let matched = card
        .body
        .lines()
        .enumerate()
        .map(|(i, l)| (i, l, l.to_lowercase()))
        .max_by_key(|(i, _, lower)| {
            let n = terms.iter().filter(|t| lower.contains(t.as_str())).count();
            (n, std::cmp::Reverse(*i))
        })
        .filter(|(_, _, lower)| terms.iter().any(|t| lower.contains(t.as_str())));
    let (line, excerpt) = match matched {
        Some((i, text, _)) => (Some(card.body_line + i), Some(excerpt(text, &terms[0]))),
        None => (None, None),
    };
    Some(Hit {
        card,
        score: total,
        field: best,
        line,
        excerpt,
    })
}

fn best_field(a: Field, b: Field) -> Field {
    let rank = |f| match f {
        Field::Title => 0,
        Field::Tag => 1,
        Field::Id => 2,
        Field::Body => 3,
    };
    if rank(b) < rank(a) { b } else { a }
}

/// The line around the first match, trimmed to about 100 characters.
fn excerpt(line: &str, term: &str) -> String {
    let line = line.trim();
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= 100 {
        return line.to_string();
    }
    let lower: Vec<char> = line.to_lowercase().chars().collect();
    let term: Vec<char> = term.chars().collect();
    let at = lower
        .windows(term.len().max(1))
        .position(|w| w == term.as_slice())
        .unwrap_or(0)
        .min(chars.len());
    let start = at.saturating_sub(40);
    let end = (start + 100).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}

/// All matching cards, best first; ties keep the study order.
pub fn search<'a>(catalog: &'a Catalog, query: &str) -> Vec<Hit<'a>> {
    let terms = terms(query);
    let mut hits: Vec<Hit<'a>> = catalog
        .cards()
        .iter()
        .filter_map(|c| score(c, &terms))
        .collect();
    hits.sort_by_key(|h| std::cmp::Reverse(h.score));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::card::{Origin, parse_card};

    fn card(id: &str, title: &str, tags: &str, body: &str) -> Card {
        let text = format!(
            "---\nid: {id}\ntitle: {title}\ntags: [{tags}]\ndifficulty: easy\nestimated_time: 5min\nprerequisites: []\nsources: [S]\n---\n{body}\n"
        );
        parse_card("x.md", &text, Origin::User).expect("card")
    }

    #[test]
    fn title_and_tag_hits_rank_above_body_hits() {
        let body_only = card("a", "Alpha", "x", "we talk about sse here\nand sse again");
        let tagged = card("b", "Beta", "sse", "nothing");
        let titled = card("c", "SSE streams", "y", "nothing");
        let terms = terms("SSE");
        let s = |c| score(c, &terms).map(|h| (h.score, h.field));
        assert_eq!(s(&body_only), Some((2, Field::Body)));
        assert_eq!(s(&tagged), Some((80, Field::Tag)));
        assert_eq!(s(&titled), Some((100, Field::Title)));
    }

    #[test]
    fn every_term_must_match_and_the_best_line_is_shown() {
        let c = card(
            "a",
            "Alpha",
            "x",
            "first line\nthe backoff has jitter\nonly backoff",
        );
        let hit = score(&c, &terms("backoff jitter")).expect("match");
        assert_eq!(hit.excerpt.as_deref(), Some("the backoff has jitter"));
        assert_eq!(hit.line, Some(c.body_line + 1));
        assert!(score(&c, &terms("backoff nonsense")).is_none());
    }
}
