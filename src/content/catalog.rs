//! The catalog: every card swelearn knows, from the embedded `content/` tree and the
//! user directories named in the configuration, merged by id (a user card replaces the
//! embedded card with the same id) and sorted in the suggested study order.
//!
//! Commands and the TUI read cards from here; the linter asks it for cross-card
//! problems (duplicate ids, unknown prerequisites, cycles).

use super::card::{Card, Origin, Problem, parse_card};
use include_dir::{Dir, include_dir};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use thiserror::Error;

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/content");

/// Failures that stop the catalog from loading at all.
#[derive(Debug, Error)]
pub enum ContentError {
    #[error("cannot read content directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no card with id `{id}`{hint} (see `swelearn list`)")]
    UnknownCard { id: String, hint: String },
}

/// A content file that is not a card: a quiz bank, kept as text for the quiz module.
#[derive(Debug, Clone)]
pub struct ContentFile {
    pub path: String,
    pub text: String,
    pub origin: Origin,
}

/// All cards, in suggested study order.
#[derive(Debug, Default)]
pub struct Catalog {
    cards: Vec<Card>,
    /// Problems found while loading: cards that failed to parse and cross-card ones.
    problems: Vec<Problem>,
    quiz_files: Vec<ContentFile>,
}

/// A card file before parsing.
struct Raw {
    path: String,
    text: String,
    origin: Origin,
}

impl Catalog {
    /// Loads the embedded cards and then each user directory in order.
    pub fn load(user_dirs: &[PathBuf]) -> Result<Catalog, ContentError> {
        let mut raws = Vec::new();
        collect_embedded(&EMBEDDED, &mut raws);
        for dir in user_dirs {
            collect_dir(dir, &mut raws)?;
        }
        Ok(Catalog::from_raw(raws))
    }

    /// Loads only the files in `dirs`, without the embedded cards (for `content lint DIR`
    /// and tests). Also returns the embedded ids, which prerequisites may still name.
    pub fn load_dirs(dirs: &[PathBuf]) -> Result<(Catalog, Vec<String>), ContentError> {
        let mut embedded = Vec::new();
        collect_embedded(&EMBEDDED, &mut embedded);
        let embedded_ids: Vec<String> = embedded
            .iter()
            .filter_map(|r| parse_card(&r.path, &r.text, r.origin.clone()).ok())
            .map(|c| c.id)
            .collect();
        let mut raws = Vec::new();
        for dir in dirs {
            collect_dir(dir, &mut raws)?;
        }
        Ok((Catalog::from_raw(raws), embedded_ids))
    }

    fn from_raw(raws: Vec<Raw>) -> Catalog {
        let mut catalog = Catalog::default();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for raw in raws {
            if raw.path.ends_with(".quiz.yaml") {
                catalog.quiz_files.push(ContentFile {
                    path: raw.path,
                    text: raw.text,
                    origin: raw.origin,
                });
                continue;
            }
            match parse_card(&raw.path, &raw.text, raw.origin) {
                Ok(card) => match by_id.get(&card.id) {
                    Some(&i) if catalog.cards[i].origin == card.origin => {
                        catalog.problems.push(Problem {
                            path: card.path.clone(),
                            line: card.key_lines.id,
                            message: format!(
                                "duplicate id `{}`: also used by {}",
                                card.id, catalog.cards[i].path
                            ),
                        });
                    }
                    // A user card replaces the embedded one.
                    Some(&i) => catalog.cards[i] = card,
                    None => {
                        by_id.insert(card.id.clone(), catalog.cards.len());
                        catalog.cards.push(card);
                    }
                },
                Err(problems) => catalog.problems.extend(problems),
            }
        }
        catalog.sort_and_check(&[]);
        catalog
    }

    /// Sorts the cards in study order (prerequisites first, then `order`, then title)
    /// and records unknown prerequisites and cycles. `extra_known` are ids that exist
    /// outside this catalog (embedded cards while linting a user directory).
    fn sort_and_check(&mut self, extra_known: &[String]) {
        let index: HashMap<&str, usize> = self
            .cards
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        let mut indegree = vec![0usize; self.cards.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); self.cards.len()];
        for (i, card) in self.cards.iter().enumerate() {
            for p in &card.prerequisites {
                match index.get(p.as_str()) {
                    Some(&j) => {
                        indegree[i] += 1;
                        dependents[j].push(i);
                    }
                    None if extra_known.contains(p) => {}
                    None => self.problems.push(Problem {
                        path: card.path.clone(),
                        line: card.key_lines.prerequisites,
                        message: format!("unknown prerequisite id `{p}`"),
                    }),
                }
            }
        }
        for card in &self.cards {
            for r in &card.related {
                if !index.contains_key(r.as_str()) && !extra_known.contains(r) {
                    self.problems.push(Problem {
                        path: card.path.clone(),
                        line: card.key_lines.related,
                        message: format!("unknown related id `{r}`"),
                    });
                }
            }
        }
        // Kahn's algorithm; the heap pops the smallest (order, title) first.
        let key = |c: &Card| {
            std::cmp::Reverse((
                c.order.unwrap_or(i64::MAX),
                c.title.to_lowercase(),
                c.id.clone(),
            ))
        };
        let mut ready: BinaryHeap<_> = (0..self.cards.len())
            .filter(|&i| indegree[i] == 0)
            .map(|i| (key(&self.cards[i]), i))
            .collect();
        let mut sorted = Vec::with_capacity(self.cards.len());
        while let Some((_, i)) = ready.pop() {
            sorted.push(i);
            for &d in &dependents[i] {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    ready.push((key(&self.cards[d]), d));
                }
            }
        }
        let mut in_cycle: Vec<usize> = (0..self.cards.len()).filter(|&i| indegree[i] > 0).collect();
        in_cycle.sort_by_key(|&i| key(&self.cards[i]).0);
        for &i in &in_cycle {
            let card = &self.cards[i];
            self.problems.push(Problem {
                path: card.path.clone(),
                line: card.key_lines.prerequisites,
                message: format!(
                    "prerequisite cycle: `{}` depends (directly or not) on itself",
                    card.id
                ),
            });
        }
        sorted.extend(in_cycle);
        let mut cards: Vec<Option<Card>> = std::mem::take(&mut self.cards)
            .into_iter()
            .map(Some)
            .collect();
        self.cards = sorted.into_iter().filter_map(|i| cards[i].take()).collect();
    }

    /// Cards in suggested study order.
    pub fn cards(&self) -> &[Card] {
        &self.cards
    }

    /// Problems found while loading (parse failures, duplicates, prerequisites).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Quiz bank files (`*.quiz.yaml`) found next to the cards.
    pub fn quiz_files(&self) -> &[ContentFile] {
        &self.quiz_files
    }

    pub fn get(&self, id: &str) -> Option<&Card> {
        self.cards.iter().find(|c| c.id == id)
    }

    /// The card with `id`, or an error that suggests the closest ids.
    pub fn require(&self, id: &str) -> Result<&Card, ContentError> {
        self.get(id).ok_or_else(|| {
            let needle = id.to_lowercase();
            let close: Vec<&str> = self
                .cards
                .iter()
                .filter(|c| c.id.contains(&needle) || needle.contains(c.id.as_str()))
                .map(|c| c.id.as_str())
                .take(3)
                .collect();
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", close.join(", "))
            };
            ContentError::UnknownCard {
                id: id.to_string(),
                hint,
            }
        })
    }

    /// Every tag with the number of cards carrying it, alphabetically.
    pub fn tags(&self) -> BTreeMap<String, usize> {
        let mut tags = BTreeMap::new();
        for card in &self.cards {
            for t in &card.tags {
                *tags.entry(t.clone()).or_insert(0) += 1;
            }
        }
        tags
    }

    /// Re-runs the cross-card checks with ids known from elsewhere (lint of a user dir).
    pub fn recheck_with(&mut self, extra_known: &[String]) {
        self.problems.retain(|p| {
            !p.message.starts_with("unknown related")
                && !p.message.starts_with("unknown prerequisite")
                && !p.message.starts_with("prerequisite cycle")
        });
        self.sort_and_check(extra_known);
    }
}

fn collect_embedded(dir: &'static Dir<'static>, out: &mut Vec<Raw>) {
    for file in dir.files() {
        let path = file.path();
        if !is_content_file(path) {
            continue;
        }
        out.push(Raw {
            path: format!("content/{}", path.display()),
            text: file.contents_utf8().unwrap_or_default().to_string(),
            origin: Origin::Embedded,
        });
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

fn is_content_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    (name.ends_with(".md") && !name.eq_ignore_ascii_case("README.md"))
        || name.ends_with(".quiz.yaml")
}

/// Reads the card and quiz files of a user directory and its subdirectories, in name order.
fn collect_dir(dir: &Path, out: &mut Vec<Raw>) -> Result<(), ContentError> {
    let dir_err = |source| ContentError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(dir_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(dir_err)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if is_content_file(&path) {
            let bytes = std::fs::read(&path).map_err(|source| ContentError::File {
                path: path.clone(),
                source,
            })?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            out.push(Raw {
                path: path.display().to_string(),
                text,
                origin: Origin::User,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id: &str, prereqs: &str, order: Option<i64>) -> String {
        let order = order.map(|o| format!("order: {o}\n")).unwrap_or_default();
        format!(
            "---\nid: {id}\ntitle: T {id}\ntags: [t]\ndifficulty: easy\nestimated_time: 5min\nprerequisites: [{prereqs}]\n{order}sources:\n  - S\n---\nBody of {id}.\n"
        )
    }

    fn raw(path: &str, text: String, origin: Origin) -> Raw {
        Raw {
            path: path.into(),
            text,
            origin,
        }
    }

    #[test]
    fn embedded_content_loads_clean() {
        let catalog = Catalog::load(&[]).expect("embedded content loads");
        assert!(catalog.cards().len() >= 3);
        let problems: Vec<String> = catalog.problems().iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn sorts_prerequisites_first_then_order() {
        let c = Catalog::from_raw(vec![
            raw("c.md", card("c", "a", Some(1)), Origin::Embedded),
            raw("b.md", card("b", "", Some(2)), Origin::Embedded),
            raw("a.md", card("a", "", Some(3)), Origin::Embedded),
        ]);
        let ids: Vec<&str> = c.cards().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "c"]);
        assert!(c.problems().is_empty());
    }

    #[test]
    fn user_cards_replace_embedded_ones_and_duplicates_are_reported() {
        let c = Catalog::from_raw(vec![
            raw("e/a.md", card("a", "", None), Origin::Embedded),
            raw(
                "u/a.md",
                card("a", "", None).replace("T a", "Mine"),
                Origin::User,
            ),
            raw("u/a2.md", card("a", "", None), Origin::User),
        ]);
        assert_eq!(c.cards().len(), 1);
        assert_eq!(c.cards()[0].title, "Mine");
        assert_eq!(c.problems().len(), 1);
        assert!(
            c.problems()[0]
                .to_string()
                .starts_with("u/a2.md:2: duplicate id `a`")
        );
    }

    #[test]
    fn unknown_prerequisites_and_cycles_are_problems() {
        let c = Catalog::from_raw(vec![
            raw("a.md", card("a", "b", None), Origin::User),
            raw("b.md", card("b", "a", None), Origin::User),
            raw("c.md", card("c", "nope", None), Origin::User),
        ]);
        let p: Vec<String> = c.problems().iter().map(ToString::to_string).collect();
        assert!(
            p.contains(&"c.md:7: unknown prerequisite id `nope`".to_string()),
            "{p:?}"
        );
        assert_eq!(
            p.iter()
                .filter(|m| m.contains("prerequisite cycle"))
                .count(),
            2,
            "{p:?}"
        );
        assert_eq!(c.cards().len(), 3, "cards in a cycle are still listed");
    }

    #[test]
    fn unknown_id_suggests_close_ones() {
        let c = Catalog::from_raw(vec![raw(
            "a.md",
            card("long-polling", "", None),
            Origin::User,
        )]);
        let err = c.require("polling").expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "no card with id `polling`; did you mean long-polling? (see `swelearn list`)"
        );
    }
}
