//! Markdown -> the document model shared by the TUI reader and plain output.
//!
//! pulldown-cmark does the parsing; this module folds its event stream into a small
//! tree of [`Block`]s and [`Inline`]s. Layout to a width lives in `content::layout`.
//! Anything the model has no block for (HTML, footnotes, images) is kept as text, so
//! nothing in a card is silently dropped.

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Inline style flags; several can apply to one run of text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct InlineStyle {
    pub emphasis: bool,
    pub strong: bool,
    pub code: bool,
    pub strike: bool,
    /// Text of a link (its URL follows as a separate [`Inline`] with `url` set).
    pub link: bool,
    /// A link's URL.
    pub url: bool,
}

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    pub text: String,
    pub style: InlineStyle,
}

/// Column alignment of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// A block of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading {
        level: u8,
        content: Vec<Inline>,
    },
    Paragraph(Vec<Inline>),
    /// `start` is `Some(n)` for an ordered list starting at n.
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
    Quote(Vec<Block>),
    /// Fenced or indented code, kept verbatim (trailing newline removed).
    Code {
        lang: String,
        text: String,
    },
    Table {
        align: Vec<Align>,
        header: Vec<Vec<Inline>>,
        rows: Vec<Vec<Vec<Inline>>>,
    },
    Rule,
}

/// Parses markdown into blocks.
pub fn parse(markdown: &str) -> Vec<Block> {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut builder = Builder::default();
    for event in Parser::new_ext(markdown, options) {
        builder.event(event);
    }
    builder.finish()
}

/// What is being built at one level of nesting.
#[derive(Debug)]
enum Frame {
    /// The document, a list item or a block quote: a container of blocks.
    Blocks(Vec<Block>),
    Heading(u8, Vec<Inline>),
    Paragraph(Vec<Inline>),
    /// Text directly inside a list item or quote (a tight list): an implicit paragraph,
    /// closed by the next block-level event.
    Tight(Vec<Inline>),
    List(Option<u64>, Vec<Vec<Block>>),
    Code(String, String),
    Table {
        align: Vec<Align>,
        header: Vec<Vec<Inline>>,
        rows: Vec<Vec<Vec<Inline>>>,
        in_head: bool,
    },
    Row(Vec<Vec<Inline>>),
    Cell(Vec<Inline>),
}

#[derive(Debug)]
struct Builder {
    stack: Vec<Frame>,
    style: InlineStyle,
    /// URLs of the links being built, innermost last.
    links: Vec<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            stack: vec![Frame::Blocks(Vec::new())],
            style: InlineStyle::default(),
            links: Vec::new(),
        }
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t, self.style),
            Event::Code(t) => {
                let style = InlineStyle {
                    code: true,
                    ..self.style
                };
                self.text(&t, style);
            }
            Event::SoftBreak => self.text(" ", self.style),
            Event::HardBreak => self.text("\n", self.style),
            Event::Rule => self.push_block(Block::Rule),
            Event::Html(t) | Event::InlineHtml(t) => self.text(&t, self.style),
            Event::FootnoteReference(t) => self.text(&format!("[^{t}]"), self.style),
            Event::TaskListMarker(done) => {
                self.text(if done { "[x] " } else { "[ ] " }, self.style)
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t, self.style),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        if is_block(&tag) {
            self.close_tight();
        }
        match tag {
            Tag::Paragraph => self.stack.push(Frame::Paragraph(Vec::new())),
            Tag::Heading { level, .. } => {
                let level = match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    HeadingLevel::H4 => 4,
                    HeadingLevel::H5 => 5,
                    HeadingLevel::H6 => 6,
                };
                self.stack.push(Frame::Heading(level, Vec::new()));
            }
            Tag::BlockQuote(_) => {
                self.stack.push(Frame::Blocks(Vec::new()));
            }
            Tag::CodeBlock(kind) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_string()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                self.stack.push(Frame::Code(lang, String::new()));
            }
            Tag::List(start) => self.stack.push(Frame::List(start, Vec::new())),
            Tag::Item => self.stack.push(Frame::Blocks(Vec::new())),
            Tag::Table(align) => self.stack.push(Frame::Table {
                align: align
                    .into_iter()
                    .map(|a| match a {
                        Alignment::Center => Align::Center,
                        Alignment::Right => Align::Right,
                        Alignment::Left | Alignment::None => Align::Left,
                    })
                    .collect(),
                header: Vec::new(),
                rows: Vec::new(),
                in_head: false,
            }),
            Tag::TableHead => {
                if let Some(Frame::Table { in_head, .. }) = self.stack.last_mut() {
                    *in_head = true;
                }
                self.stack.push(Frame::Row(Vec::new()));
            }
            Tag::TableRow => self.stack.push(Frame::Row(Vec::new())),
            Tag::TableCell => self.stack.push(Frame::Cell(Vec::new())),
            Tag::Emphasis => self.style.emphasis = true,
            Tag::Strong => self.style.strong = true,
            Tag::Strikethrough => self.style.strike = true,
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push(dest_url.to_string());
                self.style.link = true;
            }
            // Containers we have no special look for keep their content as blocks/text.
            Tag::FootnoteDefinition(_)
            | Tag::HtmlBlock
            | Tag::MetadataBlock(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        if matches!(tag, TagEnd::Item | TagEnd::BlockQuote(_)) {
            self.close_tight();
        }
        match tag {
            TagEnd::Paragraph => {
                if let Some(Frame::Paragraph(inl)) =
                    self.pop_if(|f| matches!(f, Frame::Paragraph(_)))
                {
                    self.push_block(Block::Paragraph(inl));
                }
            }
            TagEnd::Heading(_) => {
                if let Some(Frame::Heading(level, content)) =
                    self.pop_if(|f| matches!(f, Frame::Heading(..)))
                {
                    self.push_block(Block::Heading { level, content });
                }
            }
            TagEnd::BlockQuote(_) => {
                if let Some(Frame::Blocks(blocks)) = self.pop_if(|f| matches!(f, Frame::Blocks(_)))
                {
                    self.push_block(Block::Quote(blocks));
                }
            }
            TagEnd::CodeBlock => {
                if let Some(Frame::Code(lang, mut text)) =
                    self.pop_if(|f| matches!(f, Frame::Code(..)))
                {
                    if text.ends_with('\n') {
                        text.pop();
                    }
                    self.push_block(Block::Code { lang, text });
                }
            }
            TagEnd::List(_) => {
                if let Some(Frame::List(start, items)) =
                    self.pop_if(|f| matches!(f, Frame::List(..)))
                {
                    self.push_block(Block::List { start, items });
                }
            }
            TagEnd::Item => {
                if let Some(Frame::Blocks(mut blocks)) =
                    self.pop_if(|f| matches!(f, Frame::Blocks(_)))
                {
                    if blocks.is_empty() {
                        blocks.push(Block::Paragraph(Vec::new()));
                    }
                    if let Some(Frame::List(_, items)) = self.stack.last_mut() {
                        items.push(blocks);
                    }
                }
            }
            TagEnd::Table => {
                if let Some(Frame::Table {
                    align,
                    header,
                    rows,
                    ..
                }) = self.pop_if(|f| matches!(f, Frame::Table { .. }))
                {
                    self.push_block(Block::Table {
                        align,
                        header,
                        rows,
                    });
                }
            }
            TagEnd::TableHead | TagEnd::TableRow => {
                if let Some(Frame::Row(cells)) = self.pop_if(|f| matches!(f, Frame::Row(_)))
                    && let Some(Frame::Table {
                        header,
                        rows,
                        in_head,
                        ..
                    }) = self.stack.last_mut()
                {
                    if *in_head {
                        *header = cells;
                        *in_head = false;
                    } else {
                        rows.push(cells);
                    }
                }
            }
            TagEnd::TableCell => {
                if let Some(Frame::Cell(inl)) = self.pop_if(|f| matches!(f, Frame::Cell(_)))
                    && let Some(Frame::Row(cells)) = self.stack.last_mut()
                {
                    cells.push(inl);
                }
            }
            TagEnd::Emphasis => self.style.emphasis = false,
            TagEnd::Strong => self.style.strong = false,
            TagEnd::Strikethrough => self.style.strike = false,
            TagEnd::Link | TagEnd::Image => {
                let url = self.links.pop().unwrap_or_default();
                self.style.link = !self.links.is_empty();
                let shown = self.last_inline_text_ends_with(&url);
                if !url.is_empty() && !shown {
                    let style = InlineStyle {
                        url: true,
                        ..InlineStyle::default()
                    };
                    self.text(&format!(" <{url}>"), style);
                }
            }
            _ => {}
        }
    }

    /// True when the link's text is its URL (an autolink): no need to repeat it.
    fn last_inline_text_ends_with(&self, url: &str) -> bool {
        let inlines = match self.stack.last() {
            Some(Frame::Paragraph(i) | Frame::Tight(i) | Frame::Heading(_, i) | Frame::Cell(i)) => {
                i
            }
            _ => return false,
        };
        inlines.last().is_some_and(|i| {
            let t = i.text.trim();
            t == url || url.strip_prefix("mailto:") == Some(t)
        })
    }

    fn pop_if(&mut self, pred: impl Fn(&Frame) -> bool) -> Option<Frame> {
        // The document frame is never popped.
        if self.stack.len() > 1 && self.stack.last().is_some_and(pred) {
            self.stack.pop()
        } else {
            None
        }
    }

    fn text(&mut self, text: &str, style: InlineStyle) {
        match self.stack.last_mut() {
            Some(Frame::Code(_, buf)) => buf.push_str(text),
            Some(
                Frame::Paragraph(inl)
                | Frame::Tight(inl)
                | Frame::Heading(_, inl)
                | Frame::Cell(inl),
            ) => {
                push_inline(inl, text, style);
            }
            // Text directly inside a tight list item: open an implicit paragraph.
            _ => {
                let mut inl = Vec::new();
                push_inline(&mut inl, text, style);
                self.stack.push(Frame::Tight(inl));
            }
        }
    }

    fn close_tight(&mut self) {
        if let Some(Frame::Tight(inl)) = self.pop_if(|f| matches!(f, Frame::Tight(_))) {
            self.push_block(Block::Paragraph(inl));
        }
    }

    fn push_block(&mut self, block: Block) {
        self.close_tight();
        if let Some(Frame::Blocks(blocks)) = self.stack.last_mut() {
            blocks.push(block);
        }
    }

    fn finish(mut self) -> Vec<Block> {
        self.close_tight();
        match self.stack.into_iter().next() {
            Some(Frame::Blocks(blocks)) => blocks,
            _ => Vec::new(),
        }
    }
}

/// Block-level tags end an implicit (tight) paragraph; inline ones do not.
fn is_block(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Paragraph
            | Tag::Heading { .. }
            | Tag::BlockQuote(_)
            | Tag::CodeBlock(_)
            | Tag::List(_)
            | Tag::Item
            | Tag::Table(_)
            | Tag::HtmlBlock
            | Tag::FootnoteDefinition(_)
    )
}

fn push_inline(inlines: &mut Vec<Inline>, text: &str, style: InlineStyle) {
    match inlines.last_mut() {
        Some(last) if last.style == style => last.text.push_str(text),
        _ => inlines.push(Inline {
            text: text.to_string(),
            style,
        }),
    }
}
