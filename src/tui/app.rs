//! The study reader's state and its update function (Elm style): every key, mouse and
//! resize event becomes an [`Action`], and [`App::update`] is the only place state
//! changes. Rendering lives in `tui::view`; key bindings in `tui::keys`.

use crate::content::layout::{Line, layout};
use crate::content::{Card, Catalog, Difficulty, search};
use crate::output::plain::card_lines;
use std::collections::HashSet;

/// Everything the user can ask the reader to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Leave the program.
    Quit,
    /// Move the selection (list) or scroll (reader) by this many lines; negative is up.
    Move(i32),
    /// Move or scroll by one page; negative is up.
    Page(i32),
    /// Jump to the first item or the top of the card.
    Top,
    /// Jump to the last item or the end of the card.
    Bottom,
    /// Open the selected card in the reader (or pick the highlighted tag).
    Open,
    /// Close the reader, an overlay, or clear the text filter.
    Back,
    /// Start typing a text filter.
    StartFilter,
    /// A character typed into the filter.
    FilterChar(char),
    /// Delete the last filter character.
    FilterBackspace,
    /// Stop typing and keep the filter.
    FilterDone,
    /// Cycle the difficulty filter: all, easy, medium, hard.
    CycleDifficulty,
    /// Open the tag picker.
    PickTag,
    /// Show or hide the key help.
    ToggleHelp,
    /// Toggle the read mark of the selected or open card.
    ToggleRead,
    /// Open the next (1) or previous (-1) card in the list.
    NextCard(i32),
    /// Clear every filter.
    ClearFilters,
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
}

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Reader,
}

/// A modal input on top of the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// Typing into the text filter.
    Filter,
    /// Choosing a tag; the index is into `tag_choices` (0 = any tag).
    Tags(usize),
}

/// The open card, laid out for the current width.
#[derive(Debug, Clone)]
pub struct Reader {
    pub card: usize,
    pub scroll: usize,
    pub width: usize,
    pub lines: Vec<Line>,
}

/// Reader state.
pub struct App<'a> {
    pub catalog: &'a Catalog,
    pub read: HashSet<String>,
    /// Cards whose read mark changed since the runner last saved (id, read).
    pub changed_marks: Vec<(String, bool)>,
    pub focus: Focus,
    pub overlay: Overlay,
    pub text_filter: String,
    pub tag_filter: Option<String>,
    pub difficulty_filter: Option<Difficulty>,
    /// Indices into `catalog.cards()` that pass the filters, in display order.
    pub visible: Vec<usize>,
    /// Index into `visible`.
    pub selected: usize,
    pub reader: Option<Reader>,
    pub size: (u16, u16),
    pub quit: bool,
}

/// Terminals at least this wide show the list and the reader side by side.
pub const SPLIT_MIN_WIDTH: u16 = 110;
/// Width of the list pane in split view.
pub const LIST_PANE_WIDTH: u16 = 46;

impl<'a> App<'a> {
    pub fn new(catalog: &'a Catalog, read: HashSet<String>, size: (u16, u16)) -> Self {
        let mut app = App {
            catalog,
            read,
            changed_marks: Vec::new(),
            focus: Focus::List,
            overlay: Overlay::None,
            text_filter: String::new(),
            tag_filter: None,
            difficulty_filter: None,
            visible: Vec::new(),
            selected: 0,
            reader: None,
            size,
            quit: false,
        };
        app.refilter();
        app
    }

    /// Opens a card by id (for `swelearn study ID`).
    pub fn open_id(&mut self, id: &str) {
        if let Some(i) = self.catalog.cards().iter().position(|c| c.id == id) {
            if let Some(pos) = self.visible.iter().position(|&v| v == i) {
                self.selected = pos;
            }
            self.open(i);
        }
    }

    pub fn split(&self) -> bool {
        self.size.0 >= SPLIT_MIN_WIDTH
    }

    pub fn cards(&self) -> &'a [Card] {
        self.catalog.cards()
    }

    pub fn selected_card(&self) -> Option<&'a Card> {
        self.visible.get(self.selected).map(|&i| &self.cards()[i])
    }

    /// Tags offered by the picker: `None` (any) first, then every tag.
    pub fn tag_choices(&self) -> Vec<(Option<String>, usize)> {
        let mut v = vec![(None, self.cards().len())];
        v.extend(self.catalog.tags().into_iter().map(|(t, n)| (Some(t), n)));
        v
    }

    /// Width available to the card text in the reader pane (inside borders and scrollbar).
    pub fn reader_text_width(&self) -> usize {
        let pane = if self.split() {
            self.size.0.saturating_sub(LIST_PANE_WIDTH)
        } else {
            self.size.0
        };
        usize::from(pane.saturating_sub(4)).max(20)
    }

    /// Rows of card text visible in the reader (inside the borders, minus title and footer bars).
    pub fn reader_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(4)).max(1)
    }

    /// Cards visible in the list (two rows each).
    fn list_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(4) / 2).max(1)
    }

    fn refilter(&mut self) {
        let current = self.visible.get(self.selected).copied();
        let terms = search::terms(&self.text_filter);
        let mut scored: Vec<(u32, usize)> = self
            .cards()
            .iter()
            .enumerate()
            .filter(|(_, c)| self.tag_filter.as_ref().is_none_or(|t| c.tags.contains(t)))
            .filter(|(_, c)| self.difficulty_filter.is_none_or(|d| c.difficulty == d))
            .filter_map(|(i, c)| {
                if terms.is_empty() {
                    Some((0, i))
                } else {
                    search::score(c, &terms).map(|h| (h.score, i))
                }
            })
            .collect();
        // Best text matches first; without a text filter, the study order.
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        self.visible = scored.into_iter().map(|(_, i)| i).collect();
        self.selected = current
            .and_then(|c| self.visible.iter().position(|&v| v == c))
            .unwrap_or(0);
    }

    fn open(&mut self, card: usize) {
        let width = self.reader_text_width();
        let lines = card_lines(&self.cards()[card], width);
        self.reader = Some(Reader {
            card,
            scroll: 0,
            width,
            lines,
        });
        self.focus = Focus::Reader;
        let id = self.cards()[card].id.clone();
        if self.read.insert(id.clone()) {
            self.changed_marks.push((id, true));
        }
    }

    fn relayout(&mut self) {
        let width = self.reader_text_width();
        let cards = self.catalog.cards();
        if let Some(r) = &mut self.reader
            && r.width != width
        {
            // Keep the reader near the same place in the text after a resize.
            let fraction = r.scroll as f64 / r.lines.len().max(1) as f64;
            r.lines = card_lines(&cards[r.card], width);
            r.width = width;
            r.scroll = (fraction * r.lines.len() as f64) as usize;
        }
        self.clamp_scroll();
    }

    fn clamp_scroll(&mut self) {
        let height = self.reader_height();
        if let Some(r) = &mut self.reader {
            let max = r.lines.len().saturating_sub(height);
            r.scroll = r.scroll.min(max);
        }
    }

    fn move_selection(&mut self, delta: i64) {
        if self.visible.is_empty() {
            self.selected = 0;
            return;
        }
        let last = self.visible.len() as i64 - 1;
        self.selected = (self.selected as i64 + delta).clamp(0, last) as usize;
    }

    fn scroll(&mut self, delta: i64) {
        if let Some(r) = &mut self.reader {
            r.scroll = (r.scroll as i64 + delta).max(0) as usize;
        }
        self.clamp_scroll();
    }

    /// Applies one action. Returns a follow-up action, if any.
    pub fn update(&mut self, action: Action) -> Option<Action> {
        match (&self.overlay, action) {
            (_, Action::Quit) => self.quit = true,
            (_, Action::Resize(w, h)) => {
                self.size = (w, h);
                self.relayout();
            }
            (Overlay::Help, Action::ToggleHelp | Action::Back) => self.overlay = Overlay::None,
            (Overlay::Help, _) => {}
            (Overlay::Filter, Action::FilterChar(c)) => {
                self.text_filter.push(c);
                self.refilter();
            }
            (Overlay::Filter, Action::FilterBackspace) => {
                self.text_filter.pop();
                self.refilter();
            }
            (Overlay::Filter, Action::FilterDone | Action::Open) => self.overlay = Overlay::None,
            (Overlay::Filter, Action::Back) => {
                self.text_filter.clear();
                self.overlay = Overlay::None;
                self.refilter();
            }
            (Overlay::Filter, Action::Move(d)) => self.move_selection(i64::from(d)),
            (Overlay::Filter, _) => {}
            (Overlay::Tags(i), Action::Move(d)) => {
                let n = self.tag_choices().len() as i64;
                self.overlay = Overlay::Tags((*i as i64 + i64::from(d)).rem_euclid(n) as usize);
            }
            (Overlay::Tags(i), Action::Open) => {
                let choice = self.tag_choices().get(*i).and_then(|(t, _)| t.clone());
                self.tag_filter = choice;
                self.overlay = Overlay::None;
                self.focus = Focus::List;
                self.refilter();
            }
            (Overlay::Tags(_), Action::Back | Action::PickTag) => self.overlay = Overlay::None,
            (Overlay::Tags(_), _) => {}
            (Overlay::None, action) => return self.update_panes(action),
        }
        None
    }

    fn update_panes(&mut self, action: Action) -> Option<Action> {
        let page = |h: usize| (h.saturating_sub(1)).max(1) as i64;
        match action {
            Action::Move(d) if self.focus == Focus::Reader => self.scroll(i64::from(d)),
            Action::Move(d) => self.move_selection(i64::from(d)),
            Action::Page(d) if self.focus == Focus::Reader => {
                self.scroll(i64::from(d) * page(self.reader_height()));
            }
            Action::Page(d) => self.move_selection(i64::from(d) * page(self.list_height())),
            Action::Top if self.focus == Focus::Reader => self.scroll(i64::MIN / 2),
            Action::Top => self.selected = 0,
            Action::Bottom if self.focus == Focus::Reader => self.scroll(i64::MAX / 2),
            Action::Bottom => self.selected = self.visible.len().saturating_sub(1),
            Action::Open => {
                if let Some(&i) = self.visible.get(self.selected) {
                    self.open(i);
                }
            }
            Action::Back if self.focus == Focus::Reader => {
                self.focus = Focus::List;
                if !self.split() {
                    self.reader = None;
                }
            }
            Action::Back if !self.text_filter.is_empty() => {
                self.text_filter.clear();
                self.refilter();
            }
            Action::Back => {}
            Action::StartFilter => {
                self.focus = Focus::List;
                self.overlay = Overlay::Filter;
            }
            Action::CycleDifficulty => {
                self.difficulty_filter = match self.difficulty_filter {
                    None => Some(Difficulty::Easy),
                    Some(Difficulty::Easy) => Some(Difficulty::Medium),
                    Some(Difficulty::Medium) => Some(Difficulty::Hard),
                    Some(Difficulty::Hard) => None,
                };
                self.refilter();
            }
            Action::PickTag => {
                let current = self
                    .tag_choices()
                    .iter()
                    .position(|(t, _)| *t == self.tag_filter)
                    .unwrap_or(0);
                self.overlay = Overlay::Tags(current);
            }
            Action::ToggleHelp => self.overlay = Overlay::Help,
            Action::ToggleRead => {
                let card = match (&self.reader, self.focus) {
                    (Some(r), Focus::Reader) => Some(&self.cards()[r.card]),
                    _ => self.selected_card(),
                };
                if let Some(card) = card {
                    let id = card.id.clone();
                    let now_read = !self.read.remove(&id);
                    if now_read {
                        self.read.insert(id.clone());
                    }
                    self.changed_marks.push((id, now_read));
                }
            }
            Action::NextCard(d) => {
                self.move_selection(i64::from(d));
                return Some(Action::Open);
            }
            Action::ClearFilters => {
                self.text_filter.clear();
                self.tag_filter = None;
                self.difficulty_filter = None;
                self.refilter();
            }
            Action::Quit
            | Action::Resize(..)
            | Action::FilterChar(_)
            | Action::FilterBackspace
            | Action::FilterDone => {}
        }
        None
    }
}

/// Lays out arbitrary markdown for a pane (used by the help overlay).
pub fn markdown_lines(md: &str, width: usize) -> Vec<Line> {
    layout(&crate::content::markdown::parse(md), width)
}
